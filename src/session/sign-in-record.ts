import type {SignIn} from '../provider/api.js'
import type {BoundSettings} from '../settings/binding.js'
import type {AuthSettings} from '../settings/settings.js'
import {accountKey, type AccountRecord} from '../store/account-index.js'
import type {Secrets} from '../store/secrets.js'

/**
 * The index record of a login the issuer just vouched for: a sign-in, or a host's old login taken
 * over. The account belongs to the issuer the ID token names when it names one (Entra ID's
 * `/common`: the user's tenant), else to the issuer asked; the endpoints and resource bound to that
 * issuer are recorded with it (settings/binding.ts). Callers add what only they know, then check it
 * against the caps (record-limits.ts) before it is shown or kept.
 */
export function signInRecord(signIn: SignIn, askedIssuer: string, clientId: string, storage: string, bound: BoundSettings): AccountRecord {
  const issuer = signIn.issuedBy ?? askedIssuer
  const record: AccountRecord = {
    key: accountKey(issuer, clientId, signIn.identity.subject),
    issuer,
    clientId,
    subject: signIn.identity.subject,
    scopes: signIn.scopes,
    expiresAt: signIn.secrets.expiresAt ?? null,
    hasRefreshToken: Boolean(signIn.secrets.refreshToken),
    storage,
    updatedAt: new Date().toISOString(),
  }
  if (signIn.identity.name) record.name = signIn.identity.name
  if (signIn.identity.email) record.email = signIn.identity.email
  if (bound.endpoints) record.endpoints = {...bound.endpoints}
  if (bound.resource) record.resource = bound.resource
  return record
}

/**
 * The secrets to keep with such a login: a client secret given for this user (environment, user
 * file) is needed by every refresh too; the host's own is in its package.json whenever the CLI runs.
 */
export function withUserClientSecret(secrets: Secrets, bound: BoundSettings, settings: AuthSettings): Secrets {
  return bound.clientSecret && settings.bindings?.clientSecret?.layer !== 'host' ? {...secrets, clientSecret: bound.clientSecret} : secrets
}
