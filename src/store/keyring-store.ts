import {createHash, randomBytes} from 'node:crypto'
import {statSync} from 'node:fs'
import {connect, type Socket} from 'node:net'

import {AuthError} from '../errors.js'
import type {CredentialStore, Secrets} from './credential-store.js'
import {parseSecrets} from './file-store.js'
import {ShapeError} from './stored-json.js'

/**
 * `storage=keyring`: one entry per account in the OS keychain through `@napi-rs/keyring` (macOS
 * Keychain, Windows Credential Manager, Linux Secret Service), service `<bin>-auth`, account
 * `<issuer>|<clientId>|<subject>` — both published names that never change.
 *
 * What we learned measuring @napi-rs/keyring 2.1.2 against gnome-keyring (see
 * test/keyring/keyring-store.test.ts, which runs against a real one):
 *
 * - The binding is imported lazily, so hooks that never touch the keychain never load it.
 * - On Linux every entry is pinned to the Secret Service (`{linux: {store: 'secret-service'}}`).
 *   Unpinned, an `AsyncEntry` whose Secret Service does not answer within 2 s silently falls back to
 *   the kernel keyutils store (in memory, gone after a reboot) — and `getPassword()` then answers
 *   `null` from that empty store: the "stopped keychain reads as no entry" seen earlier.
 * - The `AsyncEntry` *constructor* is synchronous and talks to D-Bus (it opens a Secret Service
 *   session): ~5 ms normally, ~2 s (then a throw) when the Secret Service daemon is stopped, and
 *   *forever* when the D-Bus daemon itself is stopped — blocking the event loop, so no timer can
 *   fire. The calls themselves run on a worker thread (a timer can race them) but cannot be
 *   cancelled: an AbortSignal does not stop a call in flight, and a pending call keeps the process
 *   alive — even `process.exit()` waits for it — until it ends: 2 s for a daemon that does not
 *   answer, ~25 s or longer (until someone answers the dialog) for an unlock prompt.
 * - Hence, on Linux, before any call we ask the bus ourselves, asynchronously and within the time
 *   box ({@link checkSecretService}): is there a session bus, does it answer, does a Secret Service
 *   answer, is its default keyring unlocked? Only then is the binding used. That turns a stopped or
 *   missing daemon into a clear error within the time box with nothing left running, and a locked
 *   keyring into a clear error instead of an unlock prompt we could not wait for.
 */
export interface KeyringCredentialStoreOptions {
  /** The keychain service, `<bin>-auth`, e.g. `acme-auth`. */
  service: string
  /** Time box of each keychain call (and of the Secret Service check before them), in ms. Default 3000. */
  timeoutMs?: number
  /**
   * Largest text stored in one keychain entry, in UTF-8 bytes; a longer bundle is split into
   * chunks. Default: 1280 on Windows (Credential Manager keeps at most 2560 bytes per entry and the
   * binding stores text as UTF-16), no limit elsewhere. At least 256.
   */
  maxEntryBytes?: number
  /** The next step shown with "unavailable" errors, e.g. "Set ACME_AUTH_STORAGE=file … instead." */
  switchHint?: string
  /** The next step shown when a stored entry is damaged, e.g. "Run `acme auth login` to sign in again." */
  nextStep?: string
}

export type KeyringProbeResult = {ok: true} | {ok: false; reason: string}

type Action = 'read' | 'save' | 'delete'

const WHAT: Record<Action, string> = {read: 'read the login from', save: 'save the login in', delete: 'delete the login from'}
const DEFAULT_TIMEOUT_MS = 3000
const MIN_ENTRY_BYTES = 256
const WINDOWS_ENTRY_BYTES = 1280
const DEFAULT_SWITCH_HINT = 'Unlock or start the OS keychain, or choose another storage.'
const DEFAULT_NEXT_STEP = 'Sign in again to replace it.'
const CHUNK_SETS = ['a', 'b'] as const
type ChunkSet = (typeof CHUNK_SETS)[number]

/** What the main entry holds when the bundle is split: chunks live under `<key>#<set><n>`, n = 1..count. */
interface ChunkHeader {
  chunked: 1
  count: number
  set: ChunkSet
  sha256: string
}

export class KeyringCredentialStore implements CredentialStore {
  readonly kind = 'keyring'
  readonly location: string
  readonly service: string
  readonly timeoutMs: number
  readonly maxEntryBytes: number | undefined
  private readonly switchHint: string
  private readonly nextStep: string
  private readonly backendName = keychainName()
  /** Entries already constructed (each construction is a synchronous D-Bus round trip on Linux). */
  private readonly entries = new Map<string, AsyncEntryLike>()

  constructor({service, timeoutMs, maxEntryBytes, switchHint, nextStep}: KeyringCredentialStoreOptions) {
    this.service = service
    this.timeoutMs = timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.maxEntryBytes = maxEntryBytes ?? (process.platform === 'win32' ? WINDOWS_ENTRY_BYTES : undefined)
    if (this.maxEntryBytes !== undefined && (!Number.isSafeInteger(this.maxEntryBytes) || this.maxEntryBytes < MIN_ENTRY_BYTES)) {
      throw new AuthError('CONFIG_INVALID', `The keychain entry limit must be a whole number of bytes, at least ${MIN_ENTRY_BYTES}; got ${maxEntryBytes}.`)
    }
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new AuthError('CONFIG_INVALID', `The keychain time box must be a positive number of milliseconds; got ${timeoutMs}.`)
    }
    this.switchHint = switchHint ?? DEFAULT_SWITCH_HINT
    this.nextStep = nextStep ?? DEFAULT_NEXT_STEP
    this.location = `OS keychain (${this.backendName}), service ${service}`
  }

  /** undefined: the keychain answered that there is no entry. Anything else it could not answer throws. */
  async get(accountKey: string): Promise<Secrets | undefined> {
    return this.operation('read', async (keychain) => {
      // A writer switches chunk sets by rewriting the header last, then removes the old set: a read
      // that raced it sees a header whose chunks are gone or changed. Read again once before judging.
      for (let attempt = 1; ; attempt++) {
        const main = await keychain.get(accountKey)
        if (main === null) return undefined
        const value = this.parseEntry(main)
        const header = chunkHeader(value)
        if (header === 'invalid') throw this.corrupt('its header for a login split into parts is not valid')
        if (!header) return this.parseSecretsEntry(value)
        const joined = await readChunks(keychain, accountKey, header)
        if (joined.ok) return this.parseSecretsEntry(this.parseEntry(joined.text))
        if (attempt >= 2) throw this.corrupt(`it is split into ${header.count} parts and ${joined.problem}`)
      }
    })
  }

  async set(accountKey: string, secrets: Secrets): Promise<void> {
    // Only the fields of Secrets, in a fixed order: nothing else a caller's object carries.
    const {accessToken, tokenType, refreshToken, idToken, expiresAt} = secrets
    const text = JSON.stringify({accessToken, tokenType, refreshToken, idToken, expiresAt})
    await this.operation('save', async (keychain) => {
      if (this.maxEntryBytes === undefined || Buffer.byteLength(text, 'utf8') <= this.maxEntryBytes) {
        await keychain.set(accountKey, text)
        await removeChunks(keychain, accountKey, {a: 0, b: 0})
        return
      }
      // Write the new parts under the chunk set the current header does not use, then the header
      // (the one write that switches), then remove the old set: interrupted anywhere, the previous
      // login stays whole and readable until the new one is.
      const current = await currentChunkSet(keychain, accountKey)
      const set: ChunkSet = current === 'a' ? 'b' : 'a'
      const chunks = splitUtf8(text, this.maxEntryBytes)
      for (const [index, chunk] of chunks.entries()) await keychain.set(chunkAccount(accountKey, set, index + 1), chunk)
      const header: ChunkHeader = {chunked: 1, count: chunks.length, set, sha256: sha256(text)}
      await keychain.set(accountKey, JSON.stringify(header))
      await removeChunks(keychain, accountKey, set === 'a' ? {a: chunks.length, b: 0} : {a: 0, b: chunks.length})
    })
  }

  /** Removes the entry and every chunk, also chunks left behind by an earlier, bigger or interrupted write. */
  async delete(accountKey: string): Promise<boolean> {
    return this.operation('delete', async (keychain) => {
      const existed = await keychain.delete(accountKey)
      const removed = await removeChunks(keychain, accountKey, {a: 0, b: 0})
      return existed || removed > 0
    })
  }

  /** One public operation: the Secret Service check, then the keychain calls, each in its time box. */
  private async operation<T>(action: Action, body: (keychain: Keychain) => Promise<T>): Promise<T> {
    const keychain = new Keychain(this.service, this.entries, this.timeoutMs)
    try {
      const problem = await keychain.preflight()
      if (problem) throw new KeychainProblem(problem)
      return await body(keychain)
    } catch (error) {
      if (error instanceof AuthError) throw error
      throw this.unavailable(action, error instanceof KeychainProblem ? error.reason : describeLibraryError(error), error)
    }
  }

  private parseEntry(text: string): unknown {
    try {
      return JSON.parse(text)
    } catch {
      // Never quote it: it may be a secret someone else put there.
      throw this.corrupt('it is not JSON')
    }
  }

  private parseSecretsEntry(value: unknown): Secrets {
    try {
      return parseSecrets(value, 'the entry')
    } catch (error) {
      if (error instanceof ShapeError) throw this.corrupt(error.message)
      throw error
    }
  }

  private unavailable(action: Action, reason: string, cause: unknown): AuthError {
    return new AuthError('STORE_UNAVAILABLE', `Could not ${WHAT[action]} the OS keychain (${this.backendName}, service ${this.service}): ${reason}.`, {
      suggestion: this.switchHint,
      cause,
    })
  }

  private corrupt(reason: string): AuthError {
    return new AuthError('STORE_CORRUPT', `The login kept in the OS keychain (${this.backendName}, service ${this.service}) is damaged: ${reason}.`, {
      suggestion: this.nextStep,
    })
  }
}

/**
 * For `storage=auto` at login: write, read back and delete a test entry, all within the time box.
 * `reason` is one short clause, e.g. "no Secret Service on D-Bus".
 */
export async function probeKeyring({service, timeoutMs = DEFAULT_TIMEOUT_MS}: {service: string; timeoutMs?: number}): Promise<KeyringProbeResult> {
  const keychain = new Keychain(service, new Map(), timeoutMs)
  const account = `probe-${process.pid}-${randomBytes(6).toString('hex')}`
  const value = `probe-${randomBytes(12).toString('hex')}`
  let written = false
  try {
    const problem = await keychain.preflight()
    if (problem) return {ok: false, reason: problem}
    await keychain.set(account, value)
    written = true
    const read = await keychain.get(account)
    if (read !== value) return {ok: false, reason: read === null ? 'the keychain lost a test entry right after saving it' : 'the keychain returned something else than the test entry saved'}
    if (!(await keychain.delete(account))) return {ok: false, reason: 'the keychain could not find a test entry to delete right after saving it'}
    written = false
    return {ok: true}
  } catch (error) {
    return {ok: false, reason: error instanceof KeychainProblem ? error.reason : describeLibraryError(error)}
  } finally {
    // Best effort, not awaited beyond the time box: a test entry must not stay behind.
    if (written) keychain.delete(account).catch(() => {})
  }
}

// --- keychain calls, time-boxed ----------------------------------------------------------------

/** The part of @napi-rs/keyring's AsyncEntry we use (UTF-8 text API). */
interface AsyncEntryLike {
  getPassword(signal?: AbortSignal | null): Promise<string | null>
  setPassword(password: string, signal?: AbortSignal | null): Promise<void>
  deletePassword(signal?: AbortSignal | null): Promise<boolean>
}

type KeyringModule = typeof import('@napi-rs/keyring')

let keyringModule: Promise<KeyringModule> | undefined

/** The native binding, loaded on first use only. */
function loadKeyring(): Promise<KeyringModule> {
  keyringModule ??= import('@napi-rs/keyring').catch((error: unknown) => {
    keyringModule = undefined
    throw new KeychainProblem(`the keychain library could not be loaded for ${process.platform}-${process.arch}`, error)
  })
  return keyringModule
}

/** A reason meant for the user, already phrased. */
class KeychainProblem extends Error {
  constructor(
    readonly reason: string,
    readonly original?: unknown,
  ) {
    super(reason)
  }
}

class KeychainTimeout extends KeychainProblem {}

/** Keychain calls, each in its own time box. */
class Keychain {
  constructor(
    private readonly service: string,
    private readonly entries: Map<string, AsyncEntryLike>,
    private readonly timeoutMs: number,
  ) {}

  async preflight(): Promise<string | undefined> {
    if (process.platform !== 'linux') return undefined
    return checkSecretService(this.timeoutMs)
  }

  get(account: string): Promise<string | null> {
    return this.call(account, (entry, signal) => entry.getPassword(signal))
  }

  set(account: string, text: string): Promise<void> {
    return this.call(account, (entry, signal) => entry.setPassword(text, signal))
  }

  delete(account: string): Promise<boolean> {
    return this.call(account, (entry, signal) => entry.deletePassword(signal))
  }

  private timeout(): KeychainTimeout {
    return new KeychainTimeout(`it did not answer within ${seconds(this.timeoutMs)}`)
  }

  private async call<T>(account: string, run: (entry: AsyncEntryLike, signal: AbortSignal) => Promise<T>): Promise<T> {
    const started = Date.now()
    const keyring = await withDeadline(loadKeyring(), this.timeoutMs, () => this.timeout())
    let entry = this.entries.get(account)
    if (!entry) {
      // Synchronous, and a D-Bus round trip on Linux: the preflight made sure someone answers.
      entry = new keyring.AsyncEntry(this.service, account, {linux: {store: 'secret-service'}}) as AsyncEntryLike
      this.entries.set(account, entry)
    }
    const left = this.timeoutMs - (Date.now() - started)
    if (left <= 0) throw this.timeout()
    const abort = new AbortController()
    // A call that loses the race keeps running (it cannot be cancelled once started); the abort
    // only keeps calls still queued behind busy worker threads from starting at all.
    return withDeadline(run(entry, abort.signal), left, () => {
      abort.abort()
      return this.timeout()
    })
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}

// --- chunks ------------------------------------------------------------------------------------

function chunkAccount(accountKey: string, set: ChunkSet, index: number): string {
  return `${accountKey}#${set}${index}`
}

/** The header when `value` is one, undefined when it is not, 'invalid' when it claims to be one but is not. */
function chunkHeader(value: unknown): ChunkHeader | 'invalid' | undefined {
  if (typeof value !== 'object' || value === null || !('chunked' in value)) return undefined
  const {chunked, count, set, sha256: hash} = value as Record<string, unknown>
  if (chunked !== 1) return 'invalid'
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1 || count > 10_000) return 'invalid'
  if (set !== 'a' && set !== 'b') return 'invalid'
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) return 'invalid'
  return {chunked: 1, count, set, sha256: hash}
}

async function readChunks(keychain: Keychain, accountKey: string, header: ChunkHeader): Promise<{ok: true; text: string} | {ok: false; problem: string}> {
  const parts: string[] = []
  for (let index = 1; index <= header.count; index++) {
    const part = await keychain.get(chunkAccount(accountKey, header.set, index))
    if (part === null) return {ok: false, problem: `part ${index} is missing`}
    parts.push(part)
  }
  const text = parts.join('')
  if (sha256(text) !== header.sha256) return {ok: false, problem: 'the parts do not add up to what was saved (checksum mismatch)'}
  return {ok: true, text}
}

async function currentChunkSet(keychain: Keychain, accountKey: string): Promise<ChunkSet | undefined> {
  const main = await keychain.get(accountKey)
  if (main === null) return undefined
  try {
    const header = chunkHeader(JSON.parse(main))
    return typeof header === 'object' ? header.set : undefined
  } catch {
    return undefined
  }
}

/**
 * Remove the chunks of both sets above `keep[set]`. Chunks are written bottom-up and removed
 * top-down, so the chunks present always form a run 1..n: probe upward to find its top, then delete
 * downward. Returns how many were removed.
 */
async function removeChunks(keychain: Keychain, accountKey: string, keep: Record<ChunkSet, number>): Promise<number> {
  let removed = 0
  for (const set of CHUNK_SETS) {
    let top = keep[set]
    while ((await keychain.get(chunkAccount(accountKey, set, top + 1))) !== null) top++
    for (let index = top; index > keep[set]; index--) {
      if (await keychain.delete(chunkAccount(accountKey, set, index))) removed++
    }
  }
  return removed
}

/** Split text into parts of at most `maxBytes` UTF-8 bytes each, never inside a character. */
export function splitUtf8(text: string, maxBytes: number): string[] {
  const parts: string[] = []
  let current = ''
  let bytes = 0
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8')
    if (bytes + size > maxBytes && current !== '') {
      parts.push(current)
      current = ''
      bytes = 0
    }
    current += char
    bytes += size
  }
  if (current !== '') parts.push(current)
  return parts
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}

// --- messages ----------------------------------------------------------------------------------

function keychainName(): string {
  switch (process.platform) {
    case 'darwin':
      return 'macOS Keychain'
    case 'win32':
      return 'Windows Credential Manager'
    default:
      return 'Secret Service'
  }
}

function seconds(ms: number): string {
  const value = ms / 1000
  return `${Number.isInteger(value) ? value : value.toFixed(1)} s`
}

/**
 * One short clause for an error of the binding. Its messages name the platform failure, never a
 * secret; still, only known shapes are rephrased and the rest is clipped to one line.
 */
function describeLibraryError(error: unknown): string {
  if (error instanceof KeychainProblem) return error.reason
  const message = error instanceof Error ? error.message : String(error)
  if (/Did not receive a reply|timed? ?out|NoReply/i.test(message)) return 'it did not answer (D-Bus gave up waiting for its reply)'
  if (/prompt was dismissed|object locked|IsLocked|is locked/i.test(message)) return 'the keychain is locked'
  if (/Failed to connect to socket|autolaunch|DBUS_SESSION_BUS_ADDRESS|No DBus session/i.test(message)) return 'no D-Bus session bus'
  if (/ServiceUnknown|NameHasNoOwner|Secret Service provider/i.test(message)) return 'no Secret Service on D-Bus'
  if (/Secret Service: no result found/i.test(message)) return 'the Secret Service has no default keyring'
  if (/Ambiguous/i.test(message)) return 'several keychain entries match this account (another program wrote one)'
  if (/TooLong|too long/i.test(message)) return 'the entry is too large for this keychain (lower the keychain entry limit)'
  const line = message.split(/\r?\n/)[0]!.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 160)
  return `the keychain reported: ${line || 'an unknown error'}`
}

// --- Secret Service preflight: a few D-Bus messages of our own, asynchronous and time-boxed -----

const SECRETS_NAME = 'org.freedesktop.secrets'
const DEFAULT_COLLECTION = '/org/freedesktop/secrets/aliases/default'

/**
 * Ask the session bus, without blocking the event loop and within `timeoutMs`, whether a Secret Service
 * answers and whether its default keyring is unlocked. Returns a reason when the keychain cannot be
 * used, undefined when it can (or when the bus address is of a kind we do not speak: then the
 * binding decides). Leaves nothing running: the socket is closed whatever happens.
 */
export async function checkSecretService(timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const addresses = sessionBusAddresses(env)
  if (typeof addresses === 'string') return addresses
  if (addresses.length === 0) return undefined
  const deadline = Date.now() + timeoutMs
  let lastProblem = 'no D-Bus session bus'
  for (const path of addresses) {
    const left = deadline - Date.now()
    if (left <= 0) return `the D-Bus session bus did not answer within ${seconds(timeoutMs)}`
    const result = await askSecretService(path, left, timeoutMs)
    if (result.kind === 'answer') return result.problem
    lastProblem = result.problem
  }
  return lastProblem
}

/** Unix socket paths to try, in order (abstract ones start with NUL); a string is a reason to give up; [] means "not ours to check". */
function sessionBusAddresses(env: NodeJS.ProcessEnv): string[] | string {
  const raw = env.DBUS_SESSION_BUS_ADDRESS
  if (raw === undefined || raw === '') {
    // libdbus's own fallback when the variable is not set.
    const runtime = env.XDG_RUNTIME_DIR
    const fallback = runtime ? `${runtime}/bus` : undefined
    if (fallback && isSocket(fallback)) return [fallback]
    return 'no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)'
  }
  const paths: string[] = []
  for (const address of raw.split(';')) {
    if (address.trim() === '') continue
    const colon = address.indexOf(':')
    const transport = address.slice(0, colon)
    const params = new Map<string, string>()
    for (const pair of address.slice(colon + 1).split(',')) {
      const eq = pair.indexOf('=')
      if (eq > 0) params.set(pair.slice(0, eq), unescapeAddress(pair.slice(eq + 1)))
    }
    if (transport !== 'unix') return [] // tcp:, unixexec:, systemd:, … — let the binding handle it
    const path = params.get('path')
    const abstract = params.get('abstract')
    if (path) paths.push(path)
    else if (abstract) paths.push(`\0${abstract}`)
    else return []
  }
  return paths.length > 0 ? paths : 'no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is empty)'
}

function unescapeAddress(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket()
  } catch {
    return false
  }
}

type BusResult = {kind: 'answer'; problem: string | undefined} | {kind: 'no-bus'; problem: string}

function askSecretService(path: string, ms: number, timeoutMs: number): Promise<BusResult> {
  return new Promise<BusResult>((resolve) => {
    const shown = path.startsWith('\0') ? `@${path.slice(1)}` : path
    let stage: 'connect' | 'auth' | 'hello' | 'secrets' = 'connect'
    let buffer = Buffer.alloc(0)
    let done = false
    const socket: Socket = connect({path})
    const finish = (result: BusResult) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => {
      const who = stage === 'secrets' ? 'the Secret Service' : 'the D-Bus session bus'
      finish({kind: 'answer', problem: `${who} did not answer within ${seconds(timeoutMs)}`})
    }, ms)
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (stage === 'connect') finish({kind: 'no-bus', problem: `no D-Bus session bus at ${shown} (${error.code ?? error.message})`})
      else finish({kind: 'answer', problem: `the D-Bus session bus closed the connection (${error.code ?? error.message})`})
    })
    socket.on('close', () => finish({kind: 'answer', problem: 'the D-Bus session bus closed the connection'}))
    socket.on('connect', () => {
      stage = 'auth'
      const uid = process.getuid?.() ?? 0
      socket.write(`\0AUTH EXTERNAL ${Buffer.from(String(uid)).toString('hex')}\r\n`)
    })
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data])
      if (stage === 'auth') {
        const end = buffer.indexOf('\r\n')
        if (end < 0) return
        const line = buffer.subarray(0, end).toString('latin1')
        buffer = buffer.subarray(end + 2)
        if (!line.startsWith('OK ')) return finish({kind: 'answer', problem: 'the D-Bus session bus refused to let us in'})
        stage = 'hello'
        socket.write(
          Buffer.concat([
            Buffer.from('BEGIN\r\n'),
            methodCall(1, {destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', iface: 'org.freedesktop.DBus', member: 'Hello'}),
            methodCall(2, {
              destination: SECRETS_NAME,
              path: DEFAULT_COLLECTION,
              iface: 'org.freedesktop.DBus.Properties',
              member: 'Get',
              args: ['org.freedesktop.Secret.Collection', 'Locked'],
            }),
          ]),
        )
        if (buffer.length === 0) return
      }
      for (;;) {
        let message: BusMessage | undefined
        try {
          const parsed = readMessage(buffer)
          if (!parsed) return
          message = parsed.message
          buffer = buffer.subarray(parsed.size)
        } catch {
          return finish({kind: 'answer', problem: 'the D-Bus session bus sent something we could not read'})
        }
        if (message.replySerial === 1) {
          if (message.type === ERROR) return finish({kind: 'answer', problem: `the D-Bus session bus refused us (${message.errorName})`})
          stage = 'secrets'
        } else if (message.replySerial === 2) {
          return finish({kind: 'answer', problem: judgeLockedReply(message)})
        }
      }
    })
  })
}

/** The answer to Properties.Get(Collection, Locked) on the default keyring, as a reason or undefined. */
function judgeLockedReply(message: BusMessage): string | undefined {
  if (message.type === ERROR) {
    const name = message.errorName ?? ''
    if (/ServiceUnknown|NameHasNoOwner|Spawn\./.test(name)) return 'no Secret Service on D-Bus'
    if (/NoReply|Timeout|TimedOut/.test(name)) return 'the Secret Service did not answer'
    if (/AccessDenied/.test(name)) return 'D-Bus does not let us talk to the Secret Service'
    // No default keyring (NoSuchObject / UnknownObject …) or no such property: it answered, so let
    // the binding go on and say precisely what it can or cannot do.
    return undefined
  }
  if (message.type === METHOD_RETURN && message.lockedValue === true) return 'the keychain is locked'
  return undefined
}

const METHOD_RETURN = 2
const ERROR = 3

interface BusMessage {
  type: number
  replySerial?: number
  errorName?: string
  /** For a reply whose body is a variant holding a boolean: its value. */
  lockedValue?: boolean
}

/** Build a little-endian METHOD_CALL with string arguments. */
function methodCall(serial: number, call: {destination: string; path: string; iface: string; member: string; args?: string[]}): Buffer {
  const body = new Writer()
  for (const arg of call.args ?? []) body.string(arg)
  const out = new Writer()
  out.byte(0x6c) // 'l'
  out.byte(1) // METHOD_CALL
  out.byte(0) // flags: reply expected, auto-start allowed
  out.byte(1) // protocol version
  out.uint32(body.length)
  out.uint32(serial)
  const arrayLengthAt = out.length
  out.uint32(0)
  const arrayStart = out.length // 16, already 8-aligned
  const field = (code: number, signature: 'o' | 's' | 'g', value: string) => {
    out.align(8)
    out.byte(code)
    out.signature(signature)
    if (signature === 'g') out.signature(value)
    else out.string(value)
  }
  field(1, 'o', call.path)
  field(2, 's', call.iface)
  field(3, 's', call.member)
  field(6, 's', call.destination)
  if (call.args?.length) field(8, 'g', 's'.repeat(call.args.length))
  out.setUint32(arrayLengthAt, out.length - arrayStart)
  out.align(8)
  return Buffer.concat([out.toBuffer(), body.toBuffer()])
}

class Writer {
  private bytes: number[] = []

  get length(): number {
    return this.bytes.length
  }

  align(n: number): void {
    while (this.bytes.length % n !== 0) this.bytes.push(0)
  }

  byte(value: number): void {
    this.bytes.push(value & 0xff)
  }

  uint32(value: number): void {
    this.align(4)
    this.bytes.push(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff)
  }

  setUint32(at: number, value: number): void {
    this.bytes.splice(at, 4, value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff)
  }

  string(value: string): void {
    const data = Buffer.from(value, 'utf8')
    this.uint32(data.length)
    this.bytes.push(...data, 0)
  }

  signature(value: string): void {
    this.bytes.push(value.length, ...Buffer.from(value, 'latin1'), 0)
  }

  toBuffer(): Buffer {
    return Buffer.from(this.bytes)
  }
}

/** Read one whole message from the front of `buffer`, or undefined when more bytes are needed. */
function readMessage(buffer: Buffer): {message: BusMessage; size: number} | undefined {
  if (buffer.length < 16) return undefined
  const little = buffer[0] === 0x6c
  if (!little && buffer[0] !== 0x42) throw new Error('bad endianness')
  const u32 = (at: number) => (little ? buffer.readUInt32LE(at) : buffer.readUInt32BE(at))
  const bodyLength = u32(4)
  const fieldsLength = u32(12)
  const bodyStart = align(16 + fieldsLength, 8)
  const size = bodyStart + bodyLength
  if (size > 64 * 1024 * 1024) throw new Error('message too large')
  if (buffer.length < size) return undefined
  const message: BusMessage = {type: buffer[1]!}
  let at = 16
  const fieldsEnd = 16 + fieldsLength
  while (at < fieldsEnd) {
    at = align(at, 8)
    const code = buffer[at]!
    const sigLength = buffer[at + 1]!
    const signature = buffer.toString('latin1', at + 2, at + 2 + sigLength)
    at += 2 + sigLength + 1
    if (signature === 's' || signature === 'o') {
      at = align(at, 4)
      const length = u32(at)
      const value = buffer.toString('utf8', at + 4, at + 4 + length)
      at += 4 + length + 1
      if (code === 4) message.errorName = value
    } else if (signature === 'g') {
      at += 1 + buffer[at]! + 1
    } else if (signature === 'u' || signature === 'h') {
      at = align(at, 4)
      if (code === 5) message.replySerial = u32(at)
      at += 4
    } else {
      throw new Error(`unexpected header field type ${signature}`)
    }
  }
  if (message.type === METHOD_RETURN && bodyLength >= 8) {
    // Body of Properties.Get: a variant, signature length 1, "b", NUL, then a 4-aligned uint32.
    const body = bodyStart
    if (buffer[body] === 1 && buffer[body + 1] === 0x62 && buffer[body + 2] === 0) message.lockedValue = u32(align(body + 3, 4)) !== 0
  }
  return {message, size}
}

function align(at: number, n: number): number {
  return Math.ceil(at / n) * n
}
