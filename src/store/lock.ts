import {randomBytes} from 'node:crypto'
import {open, readFile, stat, unlink, utimes} from 'node:fs/promises'
import {hostname} from 'node:os'
import {dirname} from 'node:path'

import {AuthError} from '../errors.js'
import {ensurePrivateDir} from './atomic-file.js'

export interface LockOptions {
  /** Give up after this long (DESIGN.md: bounded wait). */
  waitMs?: number
  /** A lock untouched for this long is abandoned, whoever holds it. */
  staleMs?: number
  /** How often the holder touches the lock to show it is alive. */
  heartbeatMs?: number
  /** What the lock protects, for the timeout message. */
  purpose?: string
}

interface LockOwner {
  pid: number
  host: string
  nonce: string
  since: string
}

const DEFAULTS = {waitMs: 30_000, staleMs: 10_000, heartbeatMs: 2000}

/**
 * Run `fn` while holding a cross-process lock: a file created with O_EXCL (kubelogin #1144: never
 * lock the data file itself). A holder that died on this host is noticed at once through its pid; one
 * elsewhere (a shared home folder) once its heartbeat stops. Only the holder whose nonce is in the
 * file releases it.
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const settings = {...DEFAULTS, ...options}
  const owner = await acquire(path, settings)
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
  }
}

async function acquire(path: string, settings: typeof DEFAULTS & LockOptions): Promise<LockOwner> {
  await ensurePrivateDir(dirname(path))
  const owner: LockOwner = {pid: process.pid, host: hostname(), nonce: randomBytes(12).toString('hex'), since: new Date().toISOString()}
  const deadline = Date.now() + settings.waitMs
  let backoff = 10
  for (;;) {
    if (await tryCreate(path, owner)) return owner
    await breakIfStale(path, settings.staleMs)
    if (Date.now() >= deadline) {
      throw new AuthError('TRANSIENT', `Timed out after ${Math.round(settings.waitMs / 1000)} s waiting for another process to finish ${settings.purpose ?? 'with the login store'} (lock ${path}).`, {
        suggestion: 'This is temporary and nothing was lost: retry.',
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

/**
 * Remove the lock if its holder is gone. Two waiters may both judge the same lock stale; a "breaker"
 * lock lets only one of them remove it, and it checks the nonce again so that it never removes a
 * fresh lock someone took in between.
 */
async function breakIfStale(path: string, staleMs: number): Promise<void> {
  const seen = await inspect(path, staleMs)
  if (!seen?.stale) return
  const breaker = `${path}.break`
  const breakerOwner: LockOwner = {pid: process.pid, host: hostname(), nonce: randomBytes(12).toString('hex'), since: new Date().toISOString()}
  if (!(await tryCreate(breaker, breakerOwner))) {
    // A breaker that died mid-break would block everyone: breaking takes milliseconds, so an old one is dead.
    const info = await stat(breaker).catch(() => undefined)
    if (info && Date.now() - info.mtimeMs > staleMs) await unlink(breaker).catch(() => {})
    return
  }
  try {
    const again = await inspect(path, staleMs)
    if (again?.stale && again.nonce === seen.nonce) await unlink(path).catch(() => {})
  } finally {
    await unlink(breaker).catch(() => {})
  }
}

async function inspect(path: string, staleMs: number): Promise<{stale: boolean; nonce: string | undefined} | undefined> {
  let text: string
  let mtimeMs: number
  try {
    ;[text, {mtimeMs}] = await Promise.all([readFile(path, 'utf8'), stat(path)])
  } catch {
    return undefined
  }
  const owner = parseOwner(text)
  const untouched = Date.now() - mtimeMs > staleMs
  // A lock file still being written (empty) is fresh unless it is old.
  if (!owner) return {stale: untouched, nonce: undefined}
  const deadHere = owner.host === hostname() && !isAlive(owner.pid)
  return {stale: deadHere || untouched, nonce: owner.nonce}
}

async function release(path: string, owner: LockOwner): Promise<void> {
  const text = await readFile(path, 'utf8').catch(() => '')
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
