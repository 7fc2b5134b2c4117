import {randomBytes} from 'node:crypto'
import {link, lstat, open, unlink, utimes} from 'node:fs/promises'
import {hostname} from 'node:os'
import {dirname} from 'node:path'

import {formatDuration} from '../durations.js'
import {AuthError} from '../errors.js'
import {ensurePrivateDir, readPrivateFile} from '../private-files.js'
import {bootId, processStartTime, processUid} from './process-identity.js'

export interface LockOptions {
  /** Give up after this long (DESIGN.md: bounded wait). */
  waitMs?: number
  /**
   * A lock whose heartbeat a waiter has watched stand still for this long is abandoned, unless its
   * holder is a live process on this host (see liveHolderMs).
   */
  staleMs?: number
  /**
   * A live process on this host keeps its lock even when its heartbeat stops (Ctrl-Z, a debugger, a
   * suspended laptop): breaking it would let a second process send the refresh token the first one
   * may already have rotated, and the issuer would revoke the grant. Only a lock untouched this long
   * is taken from a live pid: the process is stopped for good, or the pid was reused.
   */
  liveHolderMs?: number
  /** How often the holder touches the lock to show it is alive. */
  heartbeatMs?: number
  /** What the lock protects, for the timeout message. */
  purpose?: string
}

interface LockOwner {
  pid: number
  host: string
  /** Linux's boot id: a pid recorded before a reboot means nothing after it. */
  boot?: string
  /** Linux: the holder's start time (see process-identity.ts): a reused or planted pid does not match it. */
  start?: string
  nonce: string
  since: string
}

/** The locks this process holds now: a lock with our pid and another nonce is a previous life's. */
const heldHere = new Set<string>()

/** AuthError.reason when the lock was not had within the wait: another process holds it. */
export const LOCK_NOT_HAD = 'another process held the lock'

const DEFAULTS = {waitMs: 30_000, staleMs: 10_000, liveHolderMs: 10 * 60_000, heartbeatMs: 2000}

/**
 * Run `fn` while holding a cross-process lock: a file created with O_EXCL (kubelogin #1144: never
 * lock the data file itself). A holder that died on this host is noticed at once through its pid; one
 * elsewhere (a shared home folder) once its heartbeat stops. Only the holder whose nonce is in the
 * file releases it.
 *
 * "Stopped" is judged by watching: the waiter notes when the file's mtime last changed on its own
 * monotonic clock, so another host's clock, a clock change or a suspend never makes a lock look old.
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const settings = {...DEFAULTS, ...options}
  const owner = newOwner()
  // Known as ours before the file exists: a waiter in this process must never take it for a dead one's.
  heldHere.add(owner.nonce)
  try {
    await acquire(path, owner, settings)
  } catch (error) {
    heldHere.delete(owner.nonce)
    throw error
  }
  const heartbeat = setInterval(() => {
    const now = new Date()
    utimes(path, now, now).catch(() => {})
  }, settings.heartbeatMs)
  heartbeat.unref()
  try {
    return await fn()
  } finally {
    clearInterval(heartbeat)
    await release(path, owner)
    heldHere.delete(owner.nonce)
  }
}

async function acquire(path: string, owner: LockOwner, settings: typeof DEFAULTS & LockOptions): Promise<void> {
  await ensurePrivateDir(dirname(path))
  // Elapsed time, not token time: the monotonic clock, which a wall-clock step cannot stretch or cut.
  const deadline = performance.now() + settings.waitMs
  const watch: Watch = {}
  let backoff = 10
  for (;;) {
    if (await tryCreate(path, owner)) return
    await breakIfStale(path, settings, watch)
    if (performance.now() >= deadline) {
      const holder = watch.owner ? ` (pid ${watch.owner.pid}${watch.owner.host === hostname() ? '' : ` on ${watch.owner.host}`})` : ''
      throw new AuthError('TRANSIENT', `Timed out after ${formatDuration(settings.waitMs)} waiting for another process${holder} to finish ${settings.purpose ?? 'with the login store'} (lock ${path}).`, {
        suggestion: 'This is temporary and nothing was lost: retry. If no such process runs any more, delete the lock file.',
        reason: LOCK_NOT_HAD,
      })
    }
    // Jitter keeps N waiters from stampeding in lockstep when the holder lets go.
    await sleep(backoff / 2 + Math.random() * backoff)
    backoff = Math.min(backoff * 2, 200)
  }
}

async function tryCreate(path: string, owner: LockOwner): Promise<boolean> {
  let handle
  try {
    handle = await open(path, 'wx', 0o600)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
  try {
    await handle.writeFile(JSON.stringify(owner))
  } finally {
    await handle.close()
  }
  return true
}

/** What a waiter has seen of the lock file: who holds it, and when its heartbeat last moved. */
interface Watch {
  owner?: LockOwner
  mtimeMs?: number
  /** performance.now() when the mtime or owner last changed. */
  movedAt?: number
}

/**
 * Remove the lock if its holder is gone. Two waiters may both judge the same lock stale; a "breaker"
 * lock lets only one of them remove it, and it checks the nonce again so that it never removes a
 * fresh lock someone took in between.
 */
async function breakIfStale(path: string, settings: typeof DEFAULTS, watch: Watch): Promise<void> {
  if (!(await isStale(path, settings, watch))) return
  const seenNonce = watch.owner?.nonce
  const breaker = `${path}.break`
  const breakerOwner: LockOwner = newOwner()
  if (!(await tryCreate(breaker, breakerOwner))) {
    // A breaker that died mid-break would block everyone: breaking takes milliseconds, so an old one
    // is dead, and so is one dated in the future (a clock that jumped, or a planted file).
    const info = await lstat(breaker).catch(() => undefined)
    const age = info ? Date.now() - info.mtimeMs : 0
    if (info && (age > settings.staleMs || age < -FUTURE_TOLERANCE_MS)) await unlink(breaker).catch(() => {})
    return
  }
  try {
    if ((await isStale(path, settings, watch)) && watch.owner?.nonce === seenNonce) await unlink(path).catch(() => {})
  } finally {
    await unlink(breaker).catch(() => {})
  }
}

async function isStale(path: string, settings: typeof DEFAULTS, watch: Watch): Promise<boolean> {
  let text: string | undefined
  let mtimeMs: number
  try {
    ;[text, {mtimeMs}] = await Promise.all([readPrivateFile(path), lstat(path)])
  } catch (error) {
    // Not ours (another user's, a symlink): no lock of ours; let the caller's next write report it.
    if (error instanceof AuthError) throw error
    return false // gone: the next try takes it
  }
  if (text === undefined) return false
  const owner = parseOwner(text)
  const now = performance.now()
  if (watch.movedAt === undefined || mtimeMs !== watch.mtimeMs || owner?.nonce !== watch.owner?.nonce) {
    Object.assign(watch, {owner, mtimeMs, movedAt: now})
  }
  const watched = now - watch.movedAt!
  const holder = owner && owner.host === hostname() ? holderState(owner) : 'unverified'
  if (holder === 'dead') return true
  if (holder === 'alive') {
    // An mtime in the future says nothing about how long the holder has been still: only our own
    // watch counts then (a planted far-future mtime must not keep a lock forever).
    const age = mtimeMs > Date.now() + FUTURE_TOLERANCE_MS ? watched : Math.max(watched, Date.now() - mtimeMs)
    return watched >= settings.staleMs && age > settings.liveHolderMs
  }
  // Another host (its pid means nothing here), a holder we cannot verify, or a lock file still being
  // written: its heartbeat decides.
  return watched >= settings.staleMs
}

/**
 * The try-lock variant of withLock, for a claim that outlives its taker: the same O_EXCL file and
 * owner record, taken at once or not at all, never waited for. The taker hands the work on (a
 * detached process) and whoever finishes it removes the file (releaseClaim); so its holder's pid
 * proves nothing and there is no heartbeat: a claim lapses `holdMs` after the `since` it records,
 * on the caller's injected clock. One dated ahead of that clock (a clock that jumped, a planted
 * file) has lapsed too. An unreadable claim, or a failure to create one, means "not claimed".
 */
export async function tryClaim(path: string, options: {holdMs: number; now: () => number}): Promise<{claimed: true} | {claimed: false; since?: number}> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const now = options.now()
    try {
      if (await createWhole(path, newOwner(now))) return {claimed: true}
    } catch {
      return {claimed: false}
    }
    const text = await readPrivateFile(path).catch(() => undefined)
    if (text === undefined) continue // gone meanwhile: try again
    const owner = parseOwner(text)
    const since = owner ? Date.parse(owner.since) : Number.NaN
    if (since <= now + CLAIM_CLOCK_TOLERANCE_MS && now - since < options.holdMs) return {claimed: false, since}
    if (!(await removeClaimOf(path, owner?.nonce))) return {claimed: false}
  }
  return {claimed: false}
}

/** Let go of a claim (tryClaim), whoever took it: the work it guarded is done. */
export async function releaseClaim(path: string): Promise<void> {
  await unlink(path).catch(() => {})
}

/** Two processes taking a claim within this of each other's clocks are not "ahead" of each other. */
const CLAIM_CLOCK_TOLERANCE_MS = 1000

/**
 * Create `path` holding the owner record in one step (written to a file of our own, then linked):
 * a claim seen without its record would have to be judged by its mtime.
 */
async function createWhole(path: string, owner: LockOwner): Promise<boolean> {
  const own = `${path}.${owner.nonce}`
  if (!(await tryCreate(own, owner))) return false
  try {
    await link(own, path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  } finally {
    await unlink(own).catch(() => {})
  }
}

/**
 * Remove a lapsed claim, only if it is still the one judged (`nonce`): under the same "breaker" as
 * breakIfStale, so that of two processes judging it one removes it and neither removes the fresh
 * claim the other took meanwhile. False when another process is doing it now.
 */
async function removeClaimOf(path: string, nonce: string | undefined): Promise<boolean> {
  const breaker = `${path}.break`
  if (!(await tryCreate(breaker, newOwner()))) return false
  try {
    const text = await readPrivateFile(path).catch(() => undefined)
    if (text !== undefined && parseOwner(text)?.nonce === nonce) await unlink(path).catch(() => {})
    return true
  } finally {
    await unlink(breaker).catch(() => {})
  }
}

/** Clocks of hosts sharing a home folder differ a little; more than this ahead is not a heartbeat. */
const FUTURE_TOLERANCE_MS = 60_000

async function release(path: string, owner: LockOwner): Promise<void> {
  const text = (await readPrivateFile(path).catch(() => undefined)) ?? ''
  if (parseOwner(text)?.nonce === owner.nonce) await unlink(path).catch(() => {})
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as LockOwner
    return typeof value?.nonce === 'string' && typeof value.pid === 'number' ? value : undefined
  } catch {
    return undefined
  }
}

function newOwner(now = Date.now()): LockOwner {
  const boot = bootId()
  const start = ownStartTime()
  return {pid: process.pid, host: hostname(), ...(boot ? {boot} : {}), ...(start ? {start} : {}), nonce: randomBytes(12).toString('hex'), since: new Date(now).toISOString()}
}

let cachedStart: string | null | undefined

function ownStartTime(): string | undefined {
  cachedStart ??= processStartTime(process.pid) ?? null
  return cachedStart ?? undefined
}

/**
 * Is the holder, recorded on this host, still running? Its pid may have been reused: after a
 * reboot (then the boot id differs), by this very process (a container's pid 1 after a restart), or
 * by any other process since (then its start time differs). 'unverified': a live pid whose lock
 * carries no start time (an older version of ours, or a planted file naming pid 1): not trusted to
 * hold the lock for long, its heartbeat decides.
 */
function holderState(owner: LockOwner): 'alive' | 'dead' | 'unverified' {
  const boot = bootId()
  if (owner.boot && boot && owner.boot !== boot) return 'dead'
  if (owner.pid === process.pid) return heldHere.has(owner.nonce) ? 'alive' : 'dead'
  if (boot) {
    const start = processStartTime(owner.pid)
    if (start === undefined) return 'dead'
    if (owner.start === undefined) return 'unverified'
    if (owner.start !== start) return 'dead'
    // Another user's process never holds a lock in our private folder.
    const uid = processUid(owner.pid)
    return uid === undefined || uid === process.getuid?.() ? 'alive' : 'dead'
  }
  try {
    process.kill(owner.pid, 0)
    return 'alive'
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? 'alive' : 'dead'
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
