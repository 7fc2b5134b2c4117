import {AuthError} from '../errors.js'
import type {AccountIndex, AccountRecord} from '../store/account-index.js'
import type {AuthContext} from './context.js'
import {ensureFresh} from './ensure-fresh.js'
import {accountClient, accountSettings, connectOptions} from './issuer-client.js'

/** What the issuer said about one stored login; `problem` says why not, in one line, when it is not verified. */
export interface Verification {
  verified: boolean
  problem?: string
}

/**
 * `auth status --verify`, the live check gh's `auth status` makes: ask the issuer whether the stored
 * login works. The token is refreshed first when it is due, under the rules of any refresh, then
 * shown to userinfo (or the configured profile endpoint). A 401 there is the answer, not a reason to
 * refresh and ask again: a token the issuer has just issued and already turns away is what the user
 * needs to see. An issuer that does not answer throws (TRANSIENT, exit 75): it says nothing about
 * the login.
 */
export async function verifyLogin(context: AuthContext, account: AccountRecord, index: AccountIndex): Promise<Verification> {
  let accessToken: string
  let dpopKey: string | undefined
  try {
    ;({accessToken, dpopKey} = await ensureFresh(context, account, {tombstone: index.tombstones[account.key], refreshFailure: index.refreshFailures[account.key]}))
  } catch (error) {
    if (error instanceof AuthError && error.code === 'REAUTH_REQUIRED') return {verified: false, problem: error.message}
    throw error
  }
  // A machine's token comes from its own credentials whenever it is due, and userinfo has no user
  // to describe for it: the issuer handing out (or having handed out) a valid token is the check.
  if (account.clientAuth) return {verified: true}
  const provider = await context.provider()
  const issuer = await provider.connect(accountClient(context, account), connectOptions(context))
  // A DPoP-bound token is shown with a proof of the login's key, as every request must (RFC 9449).
  const dpop = dpopKey ? await provider.dpopHandle(issuer.config, dpopKey) : undefined
  const accepted = await provider.acceptsAccessToken(issuer, accessToken, {claims: accountSettings(context, account).usable.identityClaims, dpop})
  if (accepted) return {verified: true}
  return {verified: false, problem: `The issuer at ${account.issuer} does not accept the stored access token (revoked, or expired early).`}
}
