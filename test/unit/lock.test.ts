// Unit tests for the cross-process lock (DESIGN.md, Lifecycle step 2): mutual exclusion in one
// process and across real processes, breaking locks of dead holders and stale locks, never
// breaking a live holder's lock, bounded wait, and release only by the owner.

import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile} from 'node:fs/promises'
import {hostname, tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {AuthError} from '../../src/errors.js'
import {withLock} from '../../src/store/lock.js'
import {processStartTime} from '../../src/store/process-identity.js'
import {authErrorFrom} from '../helpers/errors.js'

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const LOCK_MODULE = pathToFileURL(join(REPO_ROOT, 'src', 'store', 'lock.ts')).href

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

/** Run a child process to completion; resolve with its pid, exit code and output. */
function run(args: string[], options: {cwd?: string} = {}) {
  return new Promise<{pid: number; code: number | null; stdout: string; stderr: string}>((resolve, reject) => {
    const child = spawn(process.execPath, args, {cwd: options.cwd ?? REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({pid: child.pid!, code, stdout, stderr}))
  })
}

/** The pid of a process that has exited (and so is not alive). */
async function deadPid(): Promise<number> {
  const {pid} = await run(['-e', ''])
  // Make sure the kernel agrees it is gone (it is reaped once 'close' fired).
  expect(() => process.kill(pid, 0)).to.throw()
  return pid
}

/** A process that stays alive until the test ends: a holder that is running, but not us; `start` as its lock would record it. */
function livePid(): {pid: number; start?: string; stop(): void} {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], {stdio: 'ignore'})
  return {pid: child.pid!, start: processStartTime(child.pid!), stop: () => child.kill('SIGKILL')}
}

async function writeOwner(path: string, owner: Record<string, unknown>, mtime?: Date): Promise<void> {
  await mkdir(dirname(path), {recursive: true})
  await writeFile(path, JSON.stringify(owner))
  if (mtime) await utimes(path, mtime, mtime)
}

describe('store/lock withLock', () => {
  let dir: string
  let lockPath: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plugin-auth-lock-'))
    lockPath = join(dir, 'locks', 'test.lock')
  })

  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it('runs fn, returns its value, and removes the lock afterwards', async () => {
    const value = await withLock(lockPath, async () => {
      const owner = JSON.parse(await readFile(lockPath, 'utf8'))
      expect(owner.pid).to.equal(process.pid)
      expect(owner.host).to.equal(hostname())
      expect(owner.nonce).to.be.a('string').with.length.greaterThan(8)
      expect(Number.isNaN(Date.parse(owner.since))).to.equal(false)
      expect((await stat(lockPath)).mode & 0o777).to.equal(0o600)
      expect((await stat(dirname(lockPath))).mode & 0o777).to.equal(0o700)
      return 42
    })
    expect(value).to.equal(42)
    expect(await readdir(dirname(lockPath))).to.deep.equal([])
  })

  it('releases the lock when fn throws, and passes the error on', async () => {
    const boom = new Error('boom')
    let caught: unknown
    try {
      await withLock(lockPath, async () => {
        throw boom
      })
    } catch (error) {
      caught = error
    }
    expect(caught).to.equal(boom)
    expect(await exists(lockPath)).to.equal(false)
  })

  it('many concurrent calls in one process never overlap', async () => {
    let inside = 0
    let maxInside = 0
    let done = 0
    const order: number[] = []
    await Promise.all(
      Array.from({length: 12}, (_, i) =>
        withLock(lockPath, async () => {
          inside++
          maxInside = Math.max(maxInside, inside)
          order.push(i)
          await sleep(2)
          inside--
          done++
        }),
      ),
    )
    expect(maxInside).to.equal(1)
    expect(done).to.equal(12)
    expect(order).to.have.members(Array.from({length: 12}, (_, i) => i))
    expect(await exists(lockPath)).to.equal(false)
  })

  it('across 8 real processes, 25 read-modify-write increments each give exactly 200', async function () {
    this.timeout(120_000)
    const counter = join(dir, 'counter.txt')
    const inside = join(dir, 'inside.marker')
    await writeFile(counter, '0')
    const worker = join(dir, 'worker.mjs')
    await writeFile(
      worker,
      `
import {open, readFile, rm, writeFile} from 'node:fs/promises'
import {withLock} from ${JSON.stringify(LOCK_MODULE)}
const [lockPath, counter, inside, times] = process.argv.slice(2)
let overlaps = 0
for (let i = 0; i < Number(times); i++) {
  await withLock(lockPath, async () => {
    // A marker created with O_EXCL: if it exists, someone else is inside too.
    try { await (await open(inside, 'wx')).close() } catch { overlaps++ }
    const value = Number(await readFile(counter, 'utf8'))
    await new Promise((resolve) => setImmediate(resolve))
    await writeFile(counter, String(value + 1))
    await rm(inside, {force: true})
  }, {waitMs: 25000})
}
process.stdout.write(JSON.stringify({overlaps}))
`,
    )
    const results = await Promise.all(
      Array.from({length: 8}, () => run(['--import', 'tsx', worker, lockPath, counter, inside, '25'])),
    )
    for (const result of results) {
      expect(result.code, result.stderr).to.equal(0)
      expect(JSON.parse(result.stdout).overlaps).to.equal(0)
    }
    expect(Number(await readFile(counter, 'utf8'))).to.equal(200)
    expect(await readdir(dirname(lockPath))).to.deep.equal([])
  })

  it('breaks a lock left by a dead process on this host promptly', async () => {
    const pid = await deadPid()
    await writeOwner(lockPath, {pid, host: hostname(), nonce: 'x', since: new Date().toISOString()})
    const started = Date.now()
    const ran = await withLock(lockPath, async () => JSON.parse(await readFile(lockPath, 'utf8')), {staleMs: 10_000, waitMs: 5000})
    const took = Date.now() - started
    expect(ran.pid).to.equal(process.pid)
    expect(ran.nonce).to.not.equal('x')
    expect(took, `took ${took} ms`).to.be.below(1000)
    expect(await readdir(dirname(lockPath))).to.deep.equal([])
  })

  it('does not judge a dead pid recorded by another host (it cannot see that host)', async () => {
    const pid = await deadPid()
    await writeOwner(lockPath, {pid, host: `not-${hostname()}`, nonce: 'x', since: new Date().toISOString()})
    const error = await authErrorFrom(() => withLock(lockPath, async () => 1, {staleMs: 10_000, waitMs: 200}))
    expect(error.code).to.equal('TRANSIENT')
    expect(JSON.parse(await readFile(lockPath, 'utf8')).nonce).to.equal('x')
  })

  it('keeps a live holder on this host even when its heartbeat stopped (Ctrl-Z, a debugger), until liveHolderMs', async () => {
    const holder = livePid()
    try {
      // Untouched for a minute, far past staleMs: breaking it would let a second refresh through.
      const minuteAgo = new Date(Date.now() - 60_000)
      await writeOwner(lockPath, {pid: holder.pid, host: hostname(), start: holder.start, nonce: 'x', since: minuteAgo.toISOString()}, minuteAgo)
      const error = await authErrorFrom(() => withLock(lockPath, async () => 1, {staleMs: 100, waitMs: 500}))
      expect(error.code).to.equal('TRANSIENT')
      expect(error.message).to.include(`pid ${holder.pid}`)
      expect(JSON.parse(await readFile(lockPath, 'utf8')).nonce).to.equal('x')
    } finally {
      holder.stop()
    }
  })

  it('takes the lock of a live pid untouched for longer than liveHolderMs (stopped for good, or the pid was reused)', async () => {
    const holder = livePid()
    try {
      const old = new Date(Date.now() - 60_000)
      await writeOwner(lockPath, {pid: holder.pid, host: hostname(), start: holder.start, nonce: 'x', since: old.toISOString()}, old)
      const started = Date.now()
      await withLock(lockPath, async () => {
        expect(JSON.parse(await readFile(lockPath, 'utf8')).nonce).to.not.equal('x')
      }, {staleMs: 300, liveHolderMs: 30_000, waitMs: 5000})
      const took = Date.now() - started
      // It still watches the heartbeat for staleMs first: a resumed holder would have touched it.
      expect(took, `took ${took} ms`).to.be.at.least(250)
      expect(took, `took ${took} ms`).to.be.below(2000)
      expect(await exists(lockPath)).to.equal(false)
    } finally {
      holder.stop()
    }
  })

  it('a lock with our own pid that this process does not hold is a previous life\'s (a container restarted as pid 1): taken at once', async () => {
    await writeOwner(lockPath, {pid: process.pid, host: hostname(), nonce: 'x', since: new Date().toISOString()})
    const started = Date.now()
    expect(await withLock(lockPath, async () => 5, {staleMs: 10_000, waitMs: 5000})).to.equal(5)
    expect(Date.now() - started).to.be.below(1000)
  })

  it('a lock from before a reboot (another boot id, Linux) is taken at once, even if its pid now runs something else', async () => {
    const holder = livePid()
    try {
      await writeOwner(lockPath, {pid: holder.pid, host: hostname(), boot: 'an-earlier-boot', nonce: 'x', since: new Date().toISOString()})
      const started = Date.now()
      expect(await withLock(lockPath, async () => 6, {staleMs: 10_000, waitMs: 5000})).to.equal(6)
      expect(Date.now() - started).to.be.below(1000)
    } finally {
      holder.stop()
    }
  })

  it("a lock from another host is broken once its heartbeat is seen standing still for staleMs, not before", async () => {
    await writeOwner(lockPath, {pid: 1, host: `not-${hostname()}`, nonce: 'x', since: new Date().toISOString()})
    const started = Date.now()
    await withLock(lockPath, async () => {}, {staleMs: 300, waitMs: 5000})
    const took = Date.now() - started
    expect(took, `took ${took} ms`).to.be.at.least(250)
    expect(took, `took ${took} ms`).to.be.below(2000)
  })

  it("another host's clock does not matter: an mtime far in the past still needs staleMs of watching", async () => {
    const skewed = new Date(Date.now() - 3_600_000)
    await writeOwner(lockPath, {pid: 1, host: `not-${hostname()}`, nonce: 'x', since: skewed.toISOString()}, skewed)
    const error = await authErrorFrom(() => withLock(lockPath, async () => 1, {staleMs: 10_000, waitMs: 300}))
    expect(error.code).to.equal('TRANSIENT')
    expect(error.message).to.include(`on not-${hostname()}`)
    expect(JSON.parse(await readFile(lockPath, 'utf8')).nonce).to.equal('x')
  })

  it('an empty lock file (holder still writing it) is broken only once it stays unchanged for staleMs', async () => {
    await mkdir(dirname(lockPath), {recursive: true})
    await writeFile(lockPath, '')
    const error = await authErrorFrom(() => withLock(lockPath, async () => 1, {staleMs: 10_000, waitMs: 200}))
    expect(error.code).to.equal('TRANSIENT')
    expect(await exists(lockPath)).to.equal(true)

    expect(await withLock(lockPath, async () => 2, {staleMs: 300, waitMs: 3000})).to.equal(2)
  })

  it('a planted lock naming a live pid it does not describe (pid 1, no start time, far-future mtime) does not block: its heartbeat decides', async () => {
    const future = new Date(Date.now() + 365 * 24 * 3600 * 1000)
    await writeOwner(lockPath, {pid: 1, host: hostname(), nonce: 'planted', since: future.toISOString()}, future)
    const started = Date.now()
    expect(await withLock(lockPath, async () => 7, {staleMs: 300, waitMs: 5000})).to.equal(7)
    expect(Date.now() - started, 'broken after staleMs of watching, not after waitMs').to.be.below(3000)
  })

  it('a lock whose pid is alive but started at another time (the pid was reused, or the file planted) is taken at once', async () => {
    const holder = livePid()
    try {
      await writeOwner(lockPath, {pid: holder.pid, host: hostname(), start: '1', nonce: 'x', since: new Date().toISOString()})
      const started = Date.now()
      expect(await withLock(lockPath, async () => 8, {staleMs: 10_000, waitMs: 5000})).to.equal(8)
      expect(Date.now() - started).to.be.below(1000)
    } finally {
      holder.stop()
    }
  })

  it('a breaker file dated in the future (a planted one) does not block forever', async () => {
    const pid = await deadPid()
    await writeOwner(lockPath, {pid, host: hostname(), nonce: 'x', since: new Date().toISOString()})
    const future = new Date(Date.now() + 3600_000)
    await writeOwner(`${lockPath}.break`, {pid: 1, host: hostname(), nonce: 'y', since: future.toISOString()}, future)
    expect(await withLock(lockPath, async () => 9, {staleMs: 2000, waitMs: 3000})).to.equal(9)
  })

  it('a leftover breaker file from a dead breaker does not block forever', async () => {
    const pid = await deadPid()
    await writeOwner(lockPath, {pid, host: hostname(), nonce: 'x', since: new Date().toISOString()})
    const old = new Date(Date.now() - 60_000)
    await writeOwner(`${lockPath}.break`, {pid, host: hostname(), nonce: 'y', since: old.toISOString()}, old)
    expect(await withLock(lockPath, async () => 3, {staleMs: 2000, waitMs: 3000})).to.equal(3)
    expect(await readdir(dirname(lockPath))).to.deep.equal([])
  })

  it("a live holder's lock is not broken before staleMs; the waiter gives up after waitMs with TRANSIENT (75)", async () => {
    let holderNonceAtStart: string | undefined
    let holderNonceAtEnd: string | undefined
    let waiterError: AuthError | undefined
    let waiterTook = 0
    const holder = withLock(lockPath, async () => {
      holderNonceAtStart = JSON.parse(await readFile(lockPath, 'utf8')).nonce
      const started = Date.now()
      waiterError = await authErrorFrom(() =>
        withLock(lockPath, async () => {
          throw new Error('the waiter must never get in')
        }, {staleMs: 300, waitMs: 600, purpose: 'testing the lock'}),
      )
      waiterTook = Date.now() - started
      holderNonceAtEnd = JSON.parse(await readFile(lockPath, 'utf8')).nonce
    }, {heartbeatMs: 50, staleMs: 300})
    await holder
    expect(waiterError!.code).to.equal('TRANSIENT')
    expect(waiterError!.exitCode).to.equal(75)
    expect(waiterError!.message).to.include(lockPath)
    expect(waiterError!.message).to.include('testing the lock')
    expect(waiterTook, `waited ${waiterTook} ms`).to.be.at.least(550)
    expect(waiterTook, `waited ${waiterTook} ms`).to.be.below(2000)
    expect(holderNonceAtEnd).to.equal(holderNonceAtStart)
    expect(await exists(lockPath)).to.equal(false)
  })

  it("a live holder in another process is not broken, and the waiter times out with TRANSIENT", async function () {
    this.timeout(60_000)
    const worker = join(dir, 'holder.mjs')
    const ready = join(dir, 'ready')
    const done = join(dir, 'done')
    // The holder keeps the lock until told to let go (the file done), however long the waiter takes.
    await writeFile(
      worker,
      `
import {access, writeFile} from 'node:fs/promises'
import {withLock} from ${JSON.stringify(LOCK_MODULE)}
const [lockPath, ready, done] = process.argv.slice(2)
await withLock(lockPath, async () => {
  await writeFile(ready, 'yes')
  while (!(await access(done).then(() => true, () => false))) await new Promise((resolve) => setTimeout(resolve, 20))
}, {heartbeatMs: 100})
`,
    )
    const holder = run(['--import', 'tsx', worker, lockPath, ready, done])
    try {
      const deadline = Date.now() + 30_000
      while (!(await exists(ready))) {
        if (Date.now() > deadline) throw new Error(`holder did not start: ${(await holder).stderr}`)
        await sleep(20)
      }
      const holderNonce = JSON.parse(await readFile(lockPath, 'utf8')).nonce
      const error = await authErrorFrom(() => withLock(lockPath, async () => 1, {staleMs: 300, waitMs: 600}))
      expect(error.code).to.equal('TRANSIENT')
      expect(error.exitCode).to.equal(75)
      expect(JSON.parse(await readFile(lockPath, 'utf8')).nonce).to.equal(holderNonce)
    } finally {
      await writeFile(done, 'yes')
    }
    const result = await holder
    expect(result.code, result.stderr).to.equal(0)
    expect(await exists(lockPath)).to.equal(false)
  })

  it('release removes the lock only if the nonce is ours', async () => {
    const intruder = {pid: process.pid, host: hostname(), nonce: 'someone-else', since: new Date().toISOString()}
    await withLock(lockPath, async () => {
      // Our lock was (wrongly) broken and someone else took it meanwhile.
      await writeFile(lockPath, JSON.stringify(intruder))
    })
    expect(JSON.parse(await readFile(lockPath, 'utf8'))).to.deep.equal(intruder)
  })

  it('release does not fail when the lock file is already gone', async () => {
    expect(
      await withLock(lockPath, async () => {
        await rm(lockPath)
        return 'ok'
      }),
    ).to.equal('ok')
    expect(await exists(lockPath)).to.equal(false)
  })
})
