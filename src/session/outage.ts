import {formatDuration} from '../durations.js'
import type {AuthError} from '../errors.js'
import type {AccountRecord, RefreshFailure} from '../store/account-index.js'
import type {Secrets} from '../store/secrets.js'
import type {AuthContext} from './context.js'
import {fromStore, type FreshToken} from './fresh-token.js'

/*
 * An issuer that does not answer while the stored token still works must not make every command
 * hang: a command that still holds a valid token waits for the issuer only briefly, and a failure is
 * remembered in the index for every later command, which then uses its valid token at once. The
 * back-off grows with each failure and ends when any process refreshes.
 */

/** How long a command that still holds a valid token waits for the issuer. */
export const FOREGROUND_DEADLINE_MS = 2500

const FIRST_BACKOFF_MS = 30_000
const MAX_BACKOFF_MS = 10 * 60_000

/** The record after one more failure: 30 s, then 1, 2, 4, 8 minutes, and 10 at most. */
export function nextRefreshFailure(previous: RefreshFailure | undefined, reason: string, now: number): RefreshFailure {
  const failures = (previous?.failures ?? 0) + 1
  const delay = Math.min(FIRST_BACKOFF_MS * 2 ** (failures - 1), MAX_BACKOFF_MS)
  return {since: previous?.since ?? new Date(now).toISOString(), until: new Date(now + delay).toISOString(), failures, reason}
}

export function isBackingOff(failure: RefreshFailure | undefined, now: number): boolean {
  return Boolean(failure && Date.parse(failure.until) > now)
}

/** How long a command waits for the issuer before it uses the token it has: briefly, and never past its expiry. */
export function foregroundDeadlineMs(expiresAt: string, now: number): number {
  return Math.max(0, Math.min(FOREGROUND_DEADLINE_MS, Date.parse(expiresAt) - now))
}

/** The one line a command prints when it goes on with its current token. */
export function usingCurrentToken(issuer: string, reason: string, expiresAt: string, now: number): string {
  return `The issuer at ${issuer} did not answer (${reason}); using the current token, valid for ${formatDuration(Math.round((Date.parse(expiresAt) - now) / 1000) * 1000)} more.`
}

/** Did the refresh fail because the issuer could not be reached (nothing was changed), by its code? */
export function isUnreachable(error: AuthError): boolean {
  return error.code === 'TRANSIENT' || error.code === 'TLS_FAILED'
}

/** A short clause for the back-off record and the warning line: the raiser's reason, never taken from the message. */
export function outageReason(error: AuthError): string {
  return error.reason ?? error.code.toLowerCase()
}

/** Remember the failure so that later commands do not wait for the issuer too. Best effort: the command goes on. */
export async function rememberOutage(context: AuthContext, account: AccountRecord, reason: string): Promise<void> {
  await context.store.recordRefreshFailure(account, (previous) => nextRefreshFailure(previous, reason, context.now())).catch(() => {})
}

/** The valid token we have, with the one line that says why it was not renewed. */
export function currentTokenDuringOutage(context: AuthContext, account: AccountRecord, secrets: Secrets, reason: string): FreshToken {
  if (secrets.expiresAt) context.notify(usingCurrentToken(account.issuer, reason, secrets.expiresAt, context.now()))
  return fromStore(account, secrets)
}
