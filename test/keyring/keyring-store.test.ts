// The OS keychain backend against a REAL Secret Service (gnome-keyring), as CI runs it:
//
//   dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null;
//                              exec npx mocha --no-config --node-option import=tsx test/keyring/keyring-store.test.ts'
//
// (with private XDG_RUNTIME_DIR / XDG_DATA_HOME folders, 0700). Outside such a session these tests
// FAIL on purpose, saying how to run them: a keychain test that skips itself proves nothing.
//
// Covered: round trips, a 16 KB token split into chunks under a forced small entry limit (and the
// keychain really holding several entries), no stale chunks after overwrites or interrupted writes,
// delete, damaged entries, the probe, a stopped keychain daemon and a stopped D-Bus daemon (a clear
// error within the time box, never a hang), no D-Bus at all, a locked keychain, and that the native
// binding is loaded only when the keychain is used.

import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chmod, mkdir, mkdtemp, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

import {AuthError} from '../../src/errors.js'
import {pidOf, whileStopped} from '../helpers/keyring.js'
import type {Secrets} from '../../src/store/secrets.js'
import {splitUtf8} from '../../src/store/keyring-chunks.js'
import {KeyringCredentialStore, probeKeyring, type KeyringCredentialStoreOptions} from '../../src/store/keyring-store.js'
import {daemonRestarted} from '../../src/store/keychain.js'

const HOW_TO_RUN =
  'These tests need a real Secret Service on a D-Bus session bus. Run them as CI does, with private XDG dirs: ' +
  "dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; " +
  "exec npx mocha --no-config --node-option import=tsx test/keyring/keyring-store.test.ts' " +
  '(Debian: apt-get install gnome-keyring dbus-x11).'

const SERVICE = `acme-auth-test-${process.pid}-${randomBytes(3).toString('hex')}`
const KEY = 'https://id.example.com|acme-cli|alice'
const CHILD = resolve('test/keyring/keyring-child.ts')

const SECRETS: Secrets = {
  accessToken: 'at-9f8e7d6c5b4a-secret',
  tokenType: 'Bearer',
  refreshToken: 'rt-0a1b2c3d4e5f-secret',
  idToken: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.',
  expiresAt: '2030-01-01T00:00:00.000Z',
}

/** A 16 KB JWT-like access token with a few multi-byte characters, so chunk borders meet them. */
function bigSecrets(tag: string): Secrets {
  const filler = 'é✓😀' + randomBytes(8 * 1024).toString('hex')
  return {...SECRETS, accessToken: `at-big-${tag}-${filler}`.slice(0, 16 * 1024), idToken: `id-${tag}-${randomBytes(600).toString('base64url')}`}
}

/**
 * A store on the test service. Its keychain wait is 20 s, not the 3 s users get: a big bundle is a
 * dozen keychain writes, and beside the rest of the suite on two busy cores gnome-keyring has taken
 * longer than 3 s for them. These tests are about what is stored; the wait itself has tests of its own
 * (they pass `timeoutMs`).
 */
function store(options: Partial<KeyringCredentialStoreOptions> = {}): KeyringCredentialStore {
  return new KeyringCredentialStore({service: SERVICE, timeoutMs: 20_000, ...options})
}

type KeyringModule = typeof import('@napi-rs/keyring')
let keyring: KeyringModule

/**
 * Every entry the keychain holds for our service, straight from the library. Asked once more when
 * gnome-keyring died under the question (its #196, which the suites' kills can set off): D-Bus starts
 * it again, with the entries it had saved. What is stored is the question here, not the daemon.
 */
async function entries(service = SERVICE): Promise<Array<{account: string; password: string}>> {
  return keyring.findCredentialsAsync(service).catch((error: unknown) => {
    if (!daemonRestarted(error)) throw error
    return keyring.findCredentialsAsync(service)
  })
}

/** An entry straight from the library, whose calls are made once more the same way as entries(). */
function rawEntry(account: string) {
  const entry = () => new keyring.Entry(SERVICE, account, {linux: {store: 'secret-service'}})
  const again = <T>(call: (e: ReturnType<typeof entry>) => T): T => {
    try {
      return call(entry())
    } catch (error) {
      if (!daemonRestarted(error)) throw error
      return call(entry())
    }
  }
  return {
    setPassword: (password: string) => again((e) => e.setPassword(password)),
    deletePassword: () => again((e) => e.deletePassword()),
  }
}


async function failure(promise: Promise<unknown>): Promise<{error: AuthError; ms: number}> {
  const started = performance.now()
  try {
    await promise
  } catch (error) {
    const ms = performance.now() - started
    expect(error, String(error)).to.be.instanceOf(AuthError)
    return {error: error as AuthError, ms}
  }
  throw new Error('expected the call to fail')
}

function expectNoSecretIn(text: string, secrets: Secrets) {
  for (const value of [secrets.accessToken, secrets.refreshToken, secrets.idToken]) {
    if (value) expect(text).not.to.include(value.slice(0, 24))
  }
}

interface ChildResult {
  loadedAtStart: boolean
  loadedAtEnd: boolean
  probe?: {ms: number; value?: {ok: boolean; reason?: string}; code?: string}
  get?: {ms: number; value?: string; code?: string; message?: string}
  set?: {ms: number; code?: string; message?: string}
}

/** Run keyring-child.ts with `env` (optionally through `wrap`, e.g. a dbus-run-session), time it, parse its line. */
function runChild(mode: string, env: NodeJS.ProcessEnv, wrap?: (argv: string[]) => string[]): Promise<{result: ChildResult; ms: number; stderr: string}> {
  const argv = [process.execPath, '--import', 'tsx', CHILD, mode]
  const [command, ...args] = wrap ? wrap(argv) : argv
  const started = performance.now()
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command!, args, {env: {...env, KEYRING_TEST_SERVICE: SERVICE}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (data) => (stdout += data))
    child.stderr.on('data', (data) => (stderr += data))
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      const ms = performance.now() - started
      const line = stdout.trim().split('\n').pop() ?? ''
      try {
        resolvePromise({result: JSON.parse(line) as ChildResult, ms, stderr})
      } catch {
        reject(new Error(`child exited ${code} without a result; stdout: ${stdout} stderr: ${stderr}`))
      }
    })
  })
}

/** The environment without any desktop: no prompter window may open on a developer's screen. */
function headlessEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = {...process.env, ...extra}
  delete env.DISPLAY
  delete env.WAYLAND_DISPLAY
  return env
}

describe('keyring store (real Secret Service)', function () {
  this.timeout(60_000)

  before(async function () {
    if (process.platform !== 'linux') throw new Error(`${HOW_TO_RUN} (this is ${process.platform})`)
    if (!process.env.DBUS_SESSION_BUS_ADDRESS) throw new Error(`${HOW_TO_RUN} (DBUS_SESSION_BUS_ADDRESS is not set)`)
    keyring = await import('@napi-rs/keyring')
    // gnome-keyring-daemon --unlock claims its bus name a moment after it returns.
    let probe = await probeKeyring({service: SERVICE, timeoutMs: 3000})
    for (let tries = 0; !probe.ok && tries < 10 && pidOf('org.freedesktop.secrets') === undefined; tries++) {
      await new Promise((r) => setTimeout(r, 200))
      probe = await probeKeyring({service: SERVICE, timeoutMs: 3000})
    }
    if (!probe.ok) throw new Error(`${HOW_TO_RUN} (the keychain probe failed: ${probe.reason})`)
  })

  afterEach(async function () {
    for (const {account} of await entries()) rawEntry(account).deletePassword()
  })

  it('says where the login is kept', function () {
    expect(store().kind).to.equal('keyring')
    expect(store().location).to.equal(`OS keychain (Secret Service), service ${SERVICE}`)
  })

  it('round-trips a bundle, in one entry named by the account key', async function () {
    const s = store()
    await s.set(KEY, SECRETS)
    expect(await s.get(KEY)).to.deep.equal(SECRETS)
    // A fresh instance (a later process) reads the same.
    expect(await store().get(KEY)).to.deep.equal(SECRETS)
    const stored = await entries()
    expect(stored.map((e) => e.account)).to.deep.equal([KEY])
    expect(JSON.parse(stored[0]!.password)).to.deep.equal(SECRETS)
  })

  it('round-trips a minimal bundle and non-ASCII text', async function () {
    const minimal: Secrets = {accessToken: 'tøken-✓-😀', tokenType: 'DPoP'}
    await store().set(KEY, minimal)
    expect(await store().get(KEY)).to.deep.equal(minimal)
  })

  it('answers undefined for an account that has no entry', async function () {
    expect(await store().get('https://id.example.com|acme-cli|nobody')).to.equal(undefined)
    expect(await store({maxEntryBytes: 1000}).get('https://id.example.com|acme-cli|nobody')).to.equal(undefined)
  })

  it('keeps several accounts apart', async function () {
    const bob: Secrets = {accessToken: 'at-bob', tokenType: 'Bearer'}
    await store().set(KEY, SECRETS)
    await store().set('https://id.example.com|acme-cli|bob', bob)
    expect(await store().get(KEY)).to.deep.equal(SECRETS)
    expect(await store().get('https://id.example.com|acme-cli|bob')).to.deep.equal(bob)
    expect(await store().delete('https://id.example.com|acme-cli|bob')).to.equal(true)
    expect(await store().get(KEY)).to.deep.equal(SECRETS)
  })

  it('splits a 16 KB token into chunks under a small entry limit, and joins them on read', async function () {
    const big = bigSecrets('one')
    const s = store({maxEntryBytes: 1000})
    await s.set(KEY, big)
    expect(await s.get(KEY)).to.deep.equal(big)
    expect(await store({maxEntryBytes: 1000}).get(KEY)).to.deep.equal(big)
    // The limit only decides how to write: any instance reads a split entry.
    expect(await store().get(KEY)).to.deep.equal(big)

    const stored = await entries()
    const total = Buffer.byteLength(JSON.stringify(big))
    expect(stored.length, 'entries in the keychain').to.be.at.least(Math.ceil(total / 1000) + 1)
    for (const entry of stored) {
      expect(Buffer.byteLength(entry.password), entry.account).to.be.at.most(1000)
      expect(entry.account.startsWith(KEY)).to.equal(true)
    }
    const main = stored.find((e) => e.account === KEY)!
    expect(JSON.parse(main.password)).to.include({chunked: 1, count: stored.length - 1})
    expectNoSecretIn(main.password, big)
    // Nothing truncated: the parts hold every byte.
    expect(stored.reduce((sum, e) => sum + (e.account === KEY ? 0 : Buffer.byteLength(e.password)), 0)).to.equal(total)
  })

  it('leaves no stale chunks when a big bundle is replaced by a small one, or by another big one', async function () {
    const s = store({maxEntryBytes: 1000})
    await s.set(KEY, bigSecrets('first'))
    const first = (await entries()).length
    const second = bigSecrets('second')
    await s.set(KEY, second)
    expect(await s.get(KEY)).to.deep.equal(second)
    expect((await entries()).length).to.equal(first)

    await s.set(KEY, SECRETS)
    expect(await s.get(KEY)).to.deep.equal(SECRETS)
    expect((await entries()).map((e) => e.account)).to.deep.equal([KEY])
  })

  it('removes chunks an interrupted earlier write left behind', async function () {
    // A write that died after some chunks and before its header: entries no header points at.
    for (let i = 1; i <= 4; i++) {
      rawEntry(`${KEY}#a${i}`).setPassword(`orphan-${i}`)
      rawEntry(`${KEY}#b${i}`).setPassword(`orphan-${i}`)
    }
    const medium: Secrets = {...SECRETS, accessToken: `at-${'m'.repeat(1500)}`}
    await store({maxEntryBytes: 1000}).set(KEY, medium)
    expect(await store().get(KEY)).to.deep.equal(medium)
    const stored = await entries()
    expect(stored.length).to.equal(3) // header + 2 chunks
    expect(stored.some((e) => e.password.startsWith('orphan'))).to.equal(false)
  })

  it('deletes the entry and all its chunks, and says whether there was anything', async function () {
    const s = store({maxEntryBytes: 1000})
    await s.set(KEY, bigSecrets('del'))
    expect((await entries()).length).to.be.greaterThan(2)
    expect(await s.delete(KEY)).to.equal(true)
    expect(await entries()).to.deep.equal([])
    expect(await s.get(KEY)).to.equal(undefined)
    expect(await s.delete(KEY)).to.equal(false)

    await store().set(KEY, SECRETS)
    expect(await store().delete(KEY)).to.equal(true)
    expect(await entries()).to.deep.equal([])
  })

  it('reports a damaged split entry as STORE_CORRUPT, never a partial token, never the token', async function () {
    const big = bigSecrets('tamper')
    await store({maxEntryBytes: 1000}).set(KEY, big)
    const chunk = (await entries()).find((e) => e.account === `${KEY}#a2`)!
    rawEntry(chunk.account).setPassword(`${chunk.password.slice(0, -1)}X`)
    const changed = await failure(store().get(KEY))
    expect(changed.error.code).to.equal('STORE_CORRUPT')
    expect(changed.error.message).to.match(/damaged.*checksum/)
    expectNoSecretIn(changed.error.userMessage, big)

    rawEntry(`${KEY}#a3`).deletePassword()
    const missing = await failure(store().get(KEY))
    expect(missing.error.code).to.equal('STORE_CORRUPT')
    expect(missing.error.message).to.match(/part 3 is missing/)
  })

  it('reports an entry that is not a saved login as STORE_CORRUPT without quoting it', async function () {
    rawEntry(KEY).setPassword('not-json-but-maybe-a-secret-7c6b')
    const notJson = await failure(store().get(KEY))
    expect(notJson.error.code).to.equal('STORE_CORRUPT')
    expect(notJson.error.userMessage).not.to.include('7c6b')

    rawEntry(KEY).setPassword(JSON.stringify({accessToken: 'at-wrong-shape-2e1d', tokenType: 7}))
    const shape = await failure(store().get(KEY))
    expect(shape.error.code).to.equal('STORE_CORRUPT')
    expect(shape.error.message).to.include('tokenType')
    expect(shape.error.userMessage).not.to.include('2e1d')

    rawEntry(KEY).setPassword(JSON.stringify({chunked: 1, count: 'many', set: 'a', sha256: 'x'}))
    const header = await failure(store().get(KEY))
    expect(header.error.code).to.equal('STORE_CORRUPT')
    expect(header.error.message).to.include('header')
  })

  it('probes by writing, reading back and deleting a test entry, leaving nothing behind', async function () {
    const started = performance.now()
    expect(await probeKeyring({service: SERVICE, timeoutMs: 3000})).to.deep.equal({ok: true})
    expect(performance.now() - started).to.be.below(1000)
    expect(await entries()).to.deep.equal([])
  })

  it('gives STORE_UNAVAILABLE within the time box when the keychain daemon is stopped (SIGSTOP)', async function () {
    const pid = pidOf('org.freedesktop.secrets')
    expect(pid, 'pid of the Secret Service on this bus').to.be.a('number')
    const timeoutMs = 1000
    const s = store({timeoutMs, maxEntryBytes: 1000})
    await s.set(KEY, SECRETS) // entries constructed and cached before the stop, as in a long-lived process
    await whileStopped(pid!, async () => {
      for (const [name, call] of [
        ['get', () => s.get(KEY)],
        ['get (fresh instance)', () => store({timeoutMs}).get(KEY)],
        ['set', () => s.set(KEY, SECRETS)],
        ['delete', () => s.delete(KEY)],
      ] as const) {
        const {error, ms} = await failure(call())
        expect(error.code, name).to.equal('STORE_UNAVAILABLE')
        expect(ms, `${name} took ${ms} ms`).to.be.below(timeoutMs + 1500)
        expect(error.message).to.include('OS keychain (Secret Service')
        expect(error.message).to.include('did not answer within 1 s')
        expect(error.next).to.equal('keep-in-file')
        expectNoSecretIn(error.userMessage, SECRETS)
      }
      const started = performance.now()
      const probe = await probeKeyring({service: SERVICE, timeoutMs})
      expect(probe).to.deep.equal({ok: false, reason: 'the Secret Service did not answer within 1 s'})
      expect(performance.now() - started).to.be.below(timeoutMs + 1500)
    })
    // And it answers again once the daemon goes on: nothing was lost.
    expect(await s.get(KEY)).to.deep.equal(SECRETS)
  })

  it('a keychain daemon that dies with a call in hand is started again by D-Bus, and the call is made once more', async function () {
    // As gnome-keyring does when another client vanishes mid-handshake (its #196): scripts/test.sh
    // registers it for D-Bus activation, as a desktop session does, so the next call starts it again.
    const s = store()
    await s.set(KEY, SECRETS)
    const pid = pidOf('org.freedesktop.secrets')
    expect(pid, 'pid of the Secret Service on this bus').to.be.a('number')
    process.kill(pid!, 'SIGSTOP')
    let pending: Promise<Secrets | undefined>
    try {
      pending = s.get(KEY)
      // The request is on the bus, waiting for the stopped daemon's reply.
      await new Promise((resolve) => setTimeout(resolve, 300))
    } finally {
      process.kill(pid!, 'SIGKILL')
    }
    expect(await pending).to.deep.equal(SECRETS)
    expect(pidOf('org.freedesktop.secrets'), 'a new daemon').to.be.a('number').and.not.equal(pid)
  })

  it('gives STORE_UNAVAILABLE within the time box when the D-Bus daemon itself is stopped', async function () {
    // The binding would block the event loop for as long as the bus is stopped (its entry
    // constructor is synchronous); the store asks the bus first, asynchronously.
    const pid = pidOf('org.freedesktop.DBus')
    expect(pid, 'pid of the session bus').to.be.a('number')
    const timeoutMs = 1000
    const fresh = `${KEY}-fresh-${randomBytes(3).toString('hex')}`
    await whileStopped(pid!, async () => {
      const {error, ms} = await failure(store({timeoutMs}).get(fresh))
      expect(error.code).to.equal('STORE_UNAVAILABLE')
      expect(error.message).to.include('the D-Bus session bus did not answer within 1 s')
      expect(ms).to.be.below(timeoutMs + 1500)
      const probe = await probeKeyring({service: SERVICE, timeoutMs})
      expect(probe.ok).to.equal(false)
    })
    expect(await store().get(fresh)).to.equal(undefined)
  })

  it('without D-Bus: the probe says why, quickly, and the store fails clearly (child process)', async function () {
    const {result, ms, stderr} = await runChild('read', headlessEnv({DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/dbus-test-socket'}))
    expect(result.probe!.value, stderr).to.deep.equal({ok: false, reason: 'no D-Bus session bus at /nonexistent/dbus-test-socket (ENOENT)'})
    expect(result.probe!.ms).to.be.below(500)
    expect(result.get!.code).to.equal('STORE_UNAVAILABLE')
    expect(result.get!.message).to.include('no D-Bus session bus')
    expect(result.get!.message).to.include('ACME_AUTH_STORAGE=file')
    expect(result.set!.code).to.equal('STORE_UNAVAILABLE')
    // Nothing keeps the process alive, and the native binding was never needed.
    expect(result.loadedAtEnd).to.equal(false)
    expect(ms).to.be.below(15_000)

    const runtime = await mkdtemp(join(tmpdir(), 'keyring-nobus-'))
    try {
      const unset = headlessEnv({XDG_RUNTIME_DIR: runtime})
      delete unset.DBUS_SESSION_BUS_ADDRESS
      const {result: noVariable} = await runChild('read', unset)
      expect(noVariable.probe!.value).to.deep.equal({ok: false, reason: 'no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)'})
    } finally {
      await rm(runtime, {recursive: true, force: true})
    }
  })

  it('loads the native binding only when the keychain is used (child process)', async function () {
    const {result, stderr} = await runChild('read', process.env)
    expect(result.loadedAtStart, 'loaded by importing the store module').to.equal(false)
    expect(result.probe!.value, stderr).to.deep.equal({ok: true})
    expect(result.get!.value).to.equal('none')
    expect(result.loadedAtEnd).to.equal(true)
  })

  it('a locked keychain is STORE_UNAVAILABLE, and no unlock prompt is started (own D-Bus session)', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'keyring-locked-'))
    try {
      const xdg = {XDG_RUNTIME_DIR: join(dir, 'run'), XDG_DATA_HOME: join(dir, 'data')}
      for (const folder of Object.values(xdg)) {
        await mkdir(folder, {recursive: true})
        await chmod(folder, 0o700)
      }
      const env = headlessEnv(xdg)
      delete env.DBUS_SESSION_BUS_ADDRESS
      const session = (daemon: string) => (argv: string[]) => ['dbus-run-session', '--', 'sh', '-c', `${daemon} >/dev/null; exec "$@"`, 'sh', ...argv]
      // 1. A password-protected login keyring holding one entry.
      const first = await runChild('write', env, session('printf pw | gnome-keyring-daemon --unlock --components=secrets'))
      expect(first.result.set!.code, first.stderr).to.equal(undefined)
      expect((await stat(join(xdg.XDG_DATA_HOME, 'keyrings', 'login.keyring'))).isFile()).to.equal(true)
      // 2. The same keyring in a new session, not unlocked.
      const {result, stderr} = await runChild('read', env, session('gnome-keyring-daemon --start --components=secrets'))
      expect(result.probe!.value, stderr).to.deep.equal({ok: false, reason: 'the keychain is locked'})
      expect(result.get!.code).to.equal('STORE_UNAVAILABLE')
      expect(result.get!.message).to.include('the keychain is locked')
      expect(result.set!.code).to.equal('STORE_UNAVAILABLE')
      expect(stderr).not.to.include('SystemPrompter')
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})

describe('keyring store: splitting text', function () {
  it('never splits inside a character and never exceeds the limit', function () {
    const text = `${'a'.repeat(997)}😀é✓${'b'.repeat(10)}`
    const parts = splitUtf8(text, 1000)
    expect(parts.join('')).to.equal(text)
    for (const part of parts) expect(Buffer.byteLength(part)).to.be.at.most(1000)
    expect(parts[0]).to.equal('a'.repeat(997)) // the 4-byte emoji did not fit
  })

  it('refuses an entry limit too small for the chunk header', function () {
    expect(() => store({maxEntryBytes: 100})).to.throw(AuthError, /at least 256/)
  })
})
