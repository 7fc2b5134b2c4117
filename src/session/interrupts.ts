/**
 * Interrupts held while a grant is in flight. From the moment a request leaves that spends something
 * the issuer will not give back (a refresh token it rotates, an authorization code, a device code,
 * a client-credentials grant) until its answer is durably saved, ending the process would lose the
 * login: the issuer has replaced what is stored, and the replacement exists only in memory. So
 * SIGINT, SIGTERM and SIGHUP are noted there and acted on once the answer is saved, with the exit
 * status a shell expects (130, 143, 129). SIGKILL cannot be held; docs/security.md says what that
 * window costs.
 *
 * Before a hold starts nothing here is installed: an interrupt then ends the command at once, and
 * nothing was spent.
 */

const HELD_SIGNALS = {SIGHUP: 1, SIGINT: 2, SIGTERM: 15} as const
type HeldSignal = keyof typeof HELD_SIGNALS

export interface InterruptHold {
  /** The answer is saved (or the grant failed): act on an interrupt that came meanwhile. Idempotent. */
  release(): void
}

export interface HoldOptions {
  /**
   * How long an interrupt may wait once it came: the request's timeout and a save. Past it the
   * interrupt wins, saved or not: a hold must never make a command impossible to stop.
   */
  limitMs: number
  /** Said once, when the person presses Ctrl-C a second time while the answer is being saved. */
  tell?: (line: string) => void
}

/** What a second Ctrl-C is told while a hold lasts. */
export const SAVING_NOTICE = 'Saving your new login, one moment; the command stops as soon as it is saved.'

interface HoldState {
  holds: number
  pending?: HeldSignal
  told: boolean
  /** The listeners others had installed, set aside while we hold, given back afterwards. */
  displaced: Map<HeldSignal, Array<(...args: unknown[]) => void>>
  limit?: NodeJS.Timeout
  options: HoldOptions
}

let state: HoldState | undefined

/**
 * Start holding interrupts; every hold must be released (in a `finally`). Holds nest: interrupts are
 * acted on when the last one ends.
 */
export function holdInterrupts(options: HoldOptions): InterruptHold {
  if (state) {
    state.holds++
    state.options = {...options, limitMs: Math.max(options.limitMs, state.options.limitMs)}
  } else {
    state = {holds: 1, told: false, displaced: new Map(), options}
    for (const signal of Object.keys(HELD_SIGNALS) as HeldSignal[]) {
      // A host's own handler would end or clean up the process now: it runs afterwards instead.
      state.displaced.set(signal, process.listeners(signal) as Array<(...args: unknown[]) => void>)
      process.removeAllListeners(signal)
      process.on(signal, noteInterrupt)
    }
  }
  let released = false
  return {
    release() {
      if (released) return
      released = true
      endHold()
    },
  }
}

/** Run `work` with interrupts held, and act on one that came once it is done, whatever its outcome. */
export async function withInterruptsHeld<T>(options: HoldOptions, work: () => Promise<T>): Promise<T> {
  const hold = holdInterrupts(options)
  try {
    return await work()
  } finally {
    hold.release()
  }
}

/**
 * Ctrl-C pressed at a question: readline, reading the terminal key by key, takes it as a key and no
 * signal is sent. The person meant the same: held while a grant's answer is being saved, else acted
 * on at once (the host's own handler, or exit 130).
 */
export function interruptFromKeyboard(): void {
  if (state) noteInterrupt('SIGINT')
  else actOn('SIGINT', process.listenerCount('SIGINT') > 0)
}

function noteInterrupt(signal: HeldSignal): void {
  if (!state) return
  if (!state.pending) {
    state.pending = signal
    const {limitMs} = state.options
    state.limit = setTimeout(() => actOn(signal, false), limitMs)
    state.limit.unref()
    return
  }
  // A closed terminal (SIGHUP) has nobody to tell, and writing to it could fail.
  if (signal === 'SIGINT' && !state.told) {
    state.told = true
    try {
      ;(state.options.tell ?? ((line) => process.stderr.write(`${line}\n`)))(SAVING_NOTICE)
    } catch {
      // Nowhere to say it: the save goes on all the same.
    }
  }
}

function endHold(): void {
  if (!state) return
  state.holds--
  if (state.holds > 0) return
  const {pending, displaced, limit} = state
  clearTimeout(limit)
  for (const signal of Object.keys(HELD_SIGNALS) as HeldSignal[]) {
    process.off(signal, noteInterrupt)
    for (const listener of displaced.get(signal) ?? []) process.on(signal, listener)
  }
  state = undefined
  if (pending) actOn(pending, displaced.get(pending)?.length !== 0)
}

/**
 * The interrupt's turn: a host that handles it itself gets it now, as if it had just come;
 * otherwise the process ends as that signal's default would have, with its conventional status.
 */
function actOn(signal: HeldSignal, toHostHandlers: boolean): void {
  if (toHostHandlers) {
    process.emit(signal, signal)
    return
  }
  process.exit(128 + HELD_SIGNALS[signal])
}
