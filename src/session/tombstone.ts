/*
 * The tombstone policy of the lifecycle (DESIGN.md, step 5): a refresh token the issuer rejected is
 * not sent again, in the background or not, for a cool-down; the stored login is kept, and the
 * user is asked to sign in again.
 */
import {AuthError} from '../errors.js'
import {describeAccount, type AccountRecord, type Tombstone} from '../store/account-index.js'
import {hashToken} from '../store/account-store.js'
import type {Secrets} from '../store/secrets.js'
import type {AuthContext} from './context.js'
import {fromStore, type FreshToken} from './fresh-token.js'
import {isExpired} from './freshness.js'

/** A rejected refresh token is not sent again (in the background or not) for this long. */
export const TOMBSTONE_COOLDOWN_MS = 10 * 60 * 1000

export function isTombstoned(tombstone: Tombstone | undefined, refreshToken: string, now: number): boolean {
  return Boolean(tombstone && tombstone.refreshTokenHash === hashToken(refreshToken) && Date.parse(tombstone.until) > now)
}

/** Remember the rejected refresh token, keep the stored login, and say that a sign-in is needed. */
export async function tombstoneRejected(context: AuthContext, account: AccountRecord, sent: Secrets, rejection: AuthError): Promise<never> {
  if (sent.refreshToken) await context.store.tombstone(account, sent.refreshToken, new Date(context.now() + TOMBSTONE_COOLDOWN_MS))
  throw reauthRequired(context, account, rejection)
}

export function reauthRequired(context: AuthContext, account: AccountRecord, cause?: AuthError): AuthError {
  if (account.clientAuth) {
    return new AuthError('REAUTH_REQUIRED', `${cause?.message ?? `The issuer no longer accepts client '${account.clientId}'.`} The stored login was kept.`, {
      cause,
      suggestion: cause?.suggestion ?? `Sign the client in again: \`${context.commands.auth('login')} --client-credentials\` with its secret, key or federated token.`,
    })
  }
  return new AuthError('REAUTH_REQUIRED', `The issuer no longer accepts the stored login of ${describeAccount(account)}; the stored credentials were kept.`, {
    cause,
    suggestion: context.commands.signInAgain(),
  })
}

/** A login the issuer gave no refresh token: usable until it expires, then only a sign-in helps. */
export function withoutRefreshToken(context: AuthContext, account: AccountRecord, secrets: Secrets, force: boolean | undefined): FreshToken {
  if (!force && !isExpired(secrets.expiresAt, context.now())) return fromStore(account, secrets)
  const why = force ? 'cannot be refreshed: the issuer gave no refresh token' : 'has expired and there is no refresh token to renew it'
  throw new AuthError('REAUTH_REQUIRED', `The login of ${describeAccount(account)} ${why}.`, {
    suggestion: context.commands.signInAgain(),
  })
}
