import type {Interfaces} from '@oclif/core'

import {AuthError} from '../errors.js'
import {pickAccount} from '../store/account-index.js'
import {authContext} from './context.js'
import {ensureFresh} from './ensure-fresh.js'
import {isFresh} from './freshness.js'
import {dueForRefresh} from './refresh-ahead.js'

export interface RefreshAheadOutcome {
  /** What happened, for debug output only. */
  outcome: string
  /** The account is fresh now, or needs nothing; false after any failure. */
  done: boolean
}

/**
 * The refresh-ahead itself, in the background process or inline in the init hook. It re-checks
 * that the account is still due (another process may have refreshed since the hook looked) and goes
 * through ensureFresh, so it shares the account lock with every command: never a second refresh.
 * It never throws: refreshing ahead must not fail anything.
 */
export async function refreshIfDue(config: Interfaces.Config, accountKey: string): Promise<RefreshAheadOutcome> {
  try {
    const context = await authContext(config)
    const index = await context.store.readIndex()
    const account = pickAccount(index, accountKey)
    if (!account) return {outcome: 'the account is gone', done: true}
    const due = dueForRefresh({...index, defaultAccount: account.key}, Date.now(), context.settings.refreshAheadWindowSeconds)
    if (!due) return {outcome: 'not due any more', done: true}
    const token = await ensureFresh(context, account, {skewSeconds: due.windowSeconds, tombstone: index.tombstones[account.key]})
    // ensureFresh hands back the current token when the issuer cannot be reached and it still works:
    // fine for a command, but for refreshing ahead it is a failure, and the back-off must hold.
    if (!isFresh(token.expiresAt, Date.now(), due.windowSeconds)) return {outcome: 'the issuer could not be reached; still due', done: false}
    if (token.expiresAt) await context.store.recordExpiry(account, token.expiresAt)
    return {outcome: `fresh until ${token.expiresAt}`, done: true}
  } catch (error) {
    return {outcome: `failed: ${error instanceof AuthError ? `${error.code}: ${error.message}` : 'unexpected error'}`, done: false}
  }
}
