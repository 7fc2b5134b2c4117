import type {SignIn} from '../provider/api.js'
import {accountKey, type AccountRecord} from '../store/account-index.js'

/**
 * The index record of a login the issuer just vouched for: a sign-in, or a host's old login taken
 * over. The account belongs to the issuer the ID token names when it names one (Entra ID's
 * `/common`: the user's tenant), else to the issuer asked. Callers add what only they know, then
 * check it against the caps (record-limits.ts) before it is shown or kept.
 */
export function signInRecord(signIn: SignIn, askedIssuer: string, clientId: string, storage: string): AccountRecord {
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
  return record
}
