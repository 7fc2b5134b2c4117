import type {Interfaces} from '@oclif/core'

import {AuthError} from '../errors.js'
import {pickAccount} from '../store/account-index.js'
import {authContext} from './context.js'
import {ensureFresh} from './ensure-fresh.js'
import {isFresh} from './freshness.js'
import {dueForRefresh} from './refresh-ahead.js'
import {releaseRefreshAhead} from './start-refresh-ahead.js'

/**
 * The refresh ahead of time itself, once claimed (see claimRefreshAhead): in the detached process
 * the init hook starts (`auth refresh --ahead`), or inline in the hook. Lets go of the claim when the
 * account is fresh or needs nothing; after any failure the claim stays as a one-minute back-off, so
 * a keychain that does not answer or an issuer that refuses is not asked again by every command.
 * Never throws: refreshing ahead must not fail anything. Returns what happened, for debug output.
 */
export async function refreshAheadNow(config: Interfaces.Config, accountKey: string): Promise<string> {
  const {outcome, done} = await refreshIfDue(config, accountKey)
  if (done) await releaseRefreshAhead(config.dataDir, accountKey)
  return outcome
}

/**
 * Re-checks that the account is still due (another process may have refreshed since the hook
 * looked) and goes through ensureFresh, so it shares the account lock with every command: never a
 * second refresh.
 */
async function refreshIfDue(config: Interfaces.Config, accountKey: string): Promise<{outcome: string; done: boolean}> {
  try {
    // Nobody waits for a refresh ahead of time: an issuer that does not answer is not worth a line.
    const context = {...(await authContext(config)), notify: () => {}}
    const index = await context.store.readIndex()
    const account = pickAccount(index, accountKey)
    if (!account) return {outcome: 'the account is gone', done: true}
    const due = dueForRefresh({...index, defaultAccount: account.key}, context.now(), context.settings.refreshAheadWindowSeconds)
    if (!due) return {outcome: 'not due any more', done: true}
    const token = await ensureFresh(context, account, {
      skewSeconds: due.windowSeconds,
      tombstone: index.tombstones[account.key],
      refreshFailure: index.refreshFailures[account.key],
      foreground: false,
    })
    // ensureFresh hands back the current token when the issuer cannot be reached and it still works:
    // fine for a command, but for refreshing ahead it is a failure, and the back-off must hold.
    if (!isFresh(token.expiresAt, context.now(), due.windowSeconds)) return {outcome: 'the issuer could not be reached; still due', done: false}
    if (token.expiresAt) await context.store.recordExpiry(account, token.expiresAt)
    return {outcome: `fresh until ${token.expiresAt}`, done: true}
  } catch (error) {
    return {outcome: `failed: ${error instanceof AuthError ? `${error.code}: ${error.message}` : 'unexpected error'}`, done: false}
  }
}
