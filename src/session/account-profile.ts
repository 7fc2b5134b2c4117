import type {DPoPHandle, Issuer, SignIn} from '../provider/api.js'
import type {IdentityClaims} from '../settings/parse.js'
import type {AccountRecord} from '../store/account-index.js'
import {RECORD_LIMITS} from '../store/record-limits.js'
import type {AuthContext, ProviderApi} from './context.js'

/*
 * A login's name and email, when its ID token named only the account (oidc-provider, and issuers
 * that put profile claims in userinfo alone). They are nice to have, and userinfo can be slow or
 * hang: so it is asked only once the login is saved (DESIGN.md, Lifecycle: nothing slow between a
 * grant's answer and its save). A failure changes nothing; the login works without a name.
 */

export interface ProfileRequest {
  /** Claim names of a profile endpoint that is not OpenID userinfo. */
  claims?: IdentityClaims
  /** A DPoP-bound access token needs a proof at userinfo too. */
  dpop?: DPoPHandle
}

/**
 * The name and email userinfo gives for `record`'s subject that the record lacks, within the caps
 * of the index (record-limits.ts: a value over them is left out, not a reason to fail); empty when
 * it says nothing new, answers for another subject, or does not answer.
 */
export async function missingProfile(provider: ProviderApi, issuer: Issuer, record: AccountRecord, accessToken: string, request: ProfileRequest): Promise<Pick<AccountRecord, 'name' | 'email'>> {
  const found = await provider.fetchIdentity(issuer, accessToken, {...request, expectedSubject: record.subject}).catch(() => undefined)
  // openid-client checks the subject of OpenID userinfo; a profile endpoint of the issuer's own design is checked here.
  if (!found || found.subject !== record.subject) return {}
  const fits = (value: string | undefined) => (value !== undefined && value.length <= RECORD_LIMITS.claimChars ? value : undefined)
  const profile: Pick<AccountRecord, 'name' | 'email'> = {}
  const name = record.name ? undefined : fits(found.name)
  const email = record.email ? undefined : fits(found.email)
  if (name) profile.name = name
  if (email) profile.email = email
  return profile
}

/**
 * After the save: ask userinfo for what the ID token left out and note it in the index. Returns the
 * record as it is now (the one given when nothing was added).
 */
export async function fillInProfile(context: AuthContext, provider: ProviderApi, issuer: Issuer, record: AccountRecord, signIn: SignIn, request: ProfileRequest): Promise<AccountRecord> {
  if (!signIn.profileMissing) return record
  const profile = await missingProfile(provider, issuer, record, signIn.secrets.accessToken, request)
  if (!profile.name && !profile.email) return record
  return (await context.store.recordProfile(record, profile).catch(() => undefined)) ?? record
}
