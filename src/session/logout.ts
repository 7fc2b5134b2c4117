import {AuthError} from '../errors.js'
import {loadSettings} from '../settings/load.js'
import {pickAccount, type AccountRecord} from '../store/account-index.js'
import {loginCommand, type AuthContext} from './context.js'

export interface LogoutResult {
  account: AccountRecord
  /** 'revoked', 'unsupported' (the issuer has no revocation endpoint) or 'failed'. */
  revocation: 'revoked' | 'unsupported' | 'failed'
  /** Why revocation failed; the local removal happened anyway. */
  revocationError?: AuthError
}

/**
 * Revoke at the issuer (RFC 7009) and forget locally. The refresh token is the one worth revoking:
 * for most issuers that ends the whole grant. A failed revocation does not keep the user signed in:
 * they asked to be signed out here.
 */
export async function logout(context: AuthContext, request: {account?: string} = {}): Promise<LogoutResult> {
  const index = await context.store.readIndex()
  const account = pickAccount(index, request.account)
  if (!account) {
    throw new AuthError('NOT_LOGGED_IN', request.account ? `No stored login matches '${request.account}'.` : 'You are not signed in.', {
      suggestion: `Run \`${loginCommand(context)}\` to sign in.`,
    })
  }
  // Under the account's lock: a refresh in flight either finishes first (and we revoke its new
  // refresh token) or finds the account gone.
  return context.store.withAccountLock(account, async () => {
    let result: LogoutResult
    try {
      const secrets = await context.store.readSecrets(account)
      const settings = await loadSettings(context.config)
      const {connect} = await import('../provider/connect.js')
      const {revokeToken} = await import('../provider/refresh.js')
      const issuer = await connect(account.issuer, account.clientId, settings)
      const revoked = secrets.refreshToken
        ? await revokeToken(issuer, secrets.refreshToken, 'refresh_token')
        : await revokeToken(issuer, secrets.accessToken, 'access_token')
      result = {account, revocation: revoked ? 'revoked' : 'unsupported'}
    } catch (error) {
      if (!(error instanceof AuthError)) throw error
      result = {account, revocation: 'failed', revocationError: error}
    }
    await context.store.remove(account)
    return result
  })
}
