import {AuthError} from '../errors.js'
import type {AccountRecord} from '../store/account-index.js'
import {requestedAccount} from './accounts.js'
import {refuseWhileEnvironmentToken, type AuthContext} from './context.js'
import {accountClient, connectOptions} from './issuer-client.js'
import {machineCredential} from './machine.js'

export interface LogoutResult {
  account: AccountRecord
  /** 'revoked', 'unsupported' (the issuer has no revocation endpoint) or 'failed'. */
  revocation: 'revoked' | 'unsupported' | 'failed'
  /** Why revocation failed; the local removal happened anyway. */
  revocationError?: AuthError
  /** Why the secrets could not be deleted from their store (the account is forgotten all the same). */
  leftBehind?: string
}

/** What `auth logout --all` did with an index it could not read. */
export interface IndexReset {
  /** The index, and where its bytes went. */
  path: string
  movedTo: string
  /** "too large (9000000 bytes)", "damaged (not valid JSON)". */
  reason: string
  /** The credentials file was removed (it held the secrets no index names any more). */
  credentialsRemoved?: string
}

/** Sign out one account (the default or `account`), or every account with `all`. */
export async function logout(context: AuthContext, request: {account?: string; all?: boolean} = {}): Promise<{results: LogoutResult[]; reset?: IndexReset}> {
  refuseWhileEnvironmentToken(context, 'sign out of the stored logins')
  if (request.all) {
    // The way out of any state of the store: an index that cannot be read is set aside, not in the way.
    const {index, setAside} = await context.store.readIndexForReset()
    const results: LogoutResult[] = []
    for (const account of index.accounts) results.push(await logoutAccount(context, account))
    // `--all` means nothing stays behind, not even entries no listed account owns.
    const removed = await context.store.clearCredentialsFile()
    if (!setAside) return {results}
    return {results, reset: {...setAside, ...(removed ? {credentialsRemoved: context.store.paths.credentials} : {})}}
  }
  const index = await context.store.readIndex()
  const account = requestedAccount(context, index, request.account)
  // Signed out already: the state asked for holds, so this is no error (scripts run it to be sure).
  if (!account) return {results: []}
  return {results: [await logoutAccount(context, account)]}
}

/**
 * Revoke at the issuer (RFC 7009) and forget locally. The refresh token is the one worth revoking:
 * for most issuers that ends the whole grant. A failed revocation does not keep the user signed in:
 * they asked to be signed out here. Under the account's lock, so a refresh in flight either
 * finishes first (and we revoke its new refresh token) or finds the account gone.
 */
async function logoutAccount(context: AuthContext, account: AccountRecord): Promise<LogoutResult> {
  return context.store.withAccountLock(account, async () => {
    let result: LogoutResult
    try {
      const secrets = await context.store.readSecrets(account)
      const provider = await context.provider()
      const client = accountClient(context, account, secrets)
      // A confidential client authenticates its revocation request too (RFC 7009 §2.1), with its own
      // credential only: one the settings hold for another issuer or client is left out, and the
      // issuer may still take the revocation without it.
      if (account.clientAuth) client.credential = await machineCredential(context, account, secrets, 'omit')
      const issuer = await provider.connect(client, connectOptions(context))
      const revoked = secrets.refreshToken
        ? await provider.revokeToken(issuer, secrets.refreshToken, 'refresh_token')
        : await provider.revokeToken(issuer, secrets.accessToken, 'access_token')
      result = {account, revocation: revoked ? 'revoked' : 'unsupported'}
    } catch (error) {
      if (!(error instanceof AuthError)) throw error
      result = {account, revocation: 'failed', revocationError: error}
    }
    // Every backend that may hold a copy: the recorded one, the file, and the configured one.
    const configured = context.settings.storage
    const alsoIn = ['file', ...(configured === 'auto' || configured === 'memory' ? [] : [configured])]
    const leftBehind = await context.store.remove(account, alsoIn)
    return leftBehind ? {...result, leftBehind} : result
  })
}
