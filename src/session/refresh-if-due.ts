import type {Interfaces} from '@oclif/core'

import {pickAccount} from '../store/account-index.js'
import {authContext} from './context.js'
import {ensureFresh} from './ensure-fresh.js'
import {dueForRefresh, releaseRefreshAhead} from './refresh-ahead.js'

/**
 * The refresh-ahead itself, in the background process or inline in the init hook. It re-checks
 * that the account is still due (another process may have refreshed since the hook looked) and goes
 * through ensureFresh, so it shares the account lock with every command: never a second refresh.
 * Returns what happened, for debug output only.
 */
export async function refreshIfDue(config: Interfaces.Config, accountKey: string): Promise<string> {
  try {
    return await refreshIfStillDue(config, accountKey)
  } finally {
    await releaseRefreshAhead(config.dataDir, accountKey)
  }
}

async function refreshIfStillDue(config: Interfaces.Config, accountKey: string): Promise<string> {
  const context = await authContext(config)
  const index = await context.store.readIndex()
  const account = pickAccount(index, accountKey)
  if (!account) return 'the account is gone'
  const due = dueForRefresh({...index, defaultAccount: account.key}, Date.now())
  if (!due) return 'not due any more'
  const token = await ensureFresh(context, account, {skewSeconds: due.windowSeconds})
  return `fresh until ${token.expiresAt}`
}
