/*
 * The background hand-off policy of the lifecycle: a command whose token still works does not wait
 * for the issuer. The refresh runs in a process of its own (start-refresh-ahead.ts), which sees it
 * through however long the issuer takes: a request abandoned after the issuer rotated the refresh
 * token would lose the login. The command waits a moment for its answer, on the injected clock.
 */
import {formatDuration} from '../durations.js'
import type {AccountRecord, RefreshFailure} from '../store/account-index.js'
import type {Secrets} from '../store/secrets.js'
import {notSignedIn} from './accounts.js'
import type {AuthContext} from './context.js'
import {changedSince, fromStore, type FreshToken} from './fresh-token.js'
import {isExpired} from './freshness.js'
import {currentTokenDuringOutage, foregroundDeadlineMs} from './outage.js'

/** How often a waiting command looks at the index for the background refresh's answer. */
const POLL_MS = 100

/**
 * Hand the refresh to a background process, if one runs or can be started, and wait a moment for
 * it: its new token if it comes in time (the usual case: a refresh takes a fraction of a second),
 * else the current one with a line saying why. Undefined when there is no one to hand it to.
 */
export async function handOffToBackground(context: AuthContext, account: AccountRecord, seen: Secrets, failureBefore: RefreshFailure | undefined): Promise<FreshToken | undefined> {
  const running = await context.refreshElsewhere?.(account.key)
  if (!running) return undefined
  return waitForBackgroundRefresh(context, account, seen, running.since, failureBefore)
}

async function waitForBackgroundRefresh(context: AuthContext, account: AccountRecord, seen: Secrets, since: number, failureBefore: RefreshFailure | undefined): Promise<FreshToken> {
  const deadline = since + foregroundDeadlineMs(seen.expiresAt!, since)
  for (;;) {
    const index = await context.store.readIndex()
    const entry = index.accounts.find((candidate) => candidate.key === account.key)
    if (!entry) throw notSignedIn(context)
    if (entry.updatedAt !== account.updatedAt || entry.expiresAt !== account.expiresAt) {
      const current = await context.store.readSecrets(entry)
      if (changedSince(seen, current)) return fromStore(entry, current)
    }
    const failure = index.refreshFailures[account.key]
    if (failure && failure.until !== failureBefore?.until) return currentTokenDuringOutage(context, account, seen, failure.reason)
    const now = context.now()
    if (now >= deadline || isExpired(seen.expiresAt, now)) {
      const waited = formatDuration(Math.max(0, Math.round((now - since) / 100) * 100))
      return currentTokenDuringOutage(context, account, seen, `not within ${waited}; the refresh goes on in the background`)
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}
