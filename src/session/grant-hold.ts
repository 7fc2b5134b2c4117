/**
 * The two promises around every grant (DESIGN.md, Lifecycle): once the request has left, the process
 * is not ended before its answer is saved (interrupts.ts), and the answer is saved somewhere even
 * when the login's own store cannot take it (the rescue file, AccountStore.keepSecrets), with one line
 * saying where.
 */
import {holdInterrupts, withInterruptsHeld, type HoldOptions, type InterruptHold} from './interrupts.js'
import {describeAccount, type AccountRecord} from '../store/account-index.js'
import type {SaveOutcome} from '../store/rescued-login.js'
import type {AuthContext} from './context.js'

/**
 * Hold interrupts from now until the answer is saved: long enough for the request to time out and
 * for a save that waits on a keychain's time box, twice (its store, then the rescue file), and no
 * longer.
 */
export function holdWhileGranting(context: AuthContext): InterruptHold {
  return holdInterrupts(grantHold(context))
}

/** Run a grant and the save of its answer with interrupts held (holdWhileGranting). */
export function untilSaved<T>(context: AuthContext, work: () => Promise<T>): Promise<T> {
  return withInterruptsHeld(grantHold(context), work)
}

function grantHold(context: AuthContext): HoldOptions {
  const {requestTimeoutSeconds, keyringTimeoutSeconds} = context.settings
  return {limitMs: (requestTimeoutSeconds + 2 * keyringTimeoutSeconds + 5) * 1000}
}

/** Say where a login went when its own store could not take it; nothing when it could. */
export function tellIfRescued(context: AuthContext, account: AccountRecord, outcome: SaveOutcome): void {
  if (!outcome.rescued) return
  const {path, failure} = outcome.rescued
  context.notify(
    `The login of ${describeAccount(account)} could not be saved where it is kept (${failure.message.replace(/\.$/, '')}), so it is kept in ${path} (readable only by you) until that store answers again; the next command moves it back.`,
  )
}

/**
 * A login rescued earlier goes back to its own store once that answers, under the account's lock
 * (a refresh of the same account must not interleave with the move).
 */
export async function restoreRescuedLogin(context: AuthContext, account: AccountRecord): Promise<void> {
  if (!(await context.store.hasRescued(account))) return
  const restored = await context.store.withAccountLock(account, () => context.store.restoreRescued(account))
  // The index may lag the rescued answer (the store lock was not to be had then).
  if (restored?.expiresAt) await context.store.recordExpiry(account, restored.expiresAt).catch(() => {})
}
