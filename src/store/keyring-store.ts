import {randomBytes} from 'node:crypto'

import {AuthError} from '../errors.js'
import type {CredentialStore} from './credential-store.js'
import {Keychain, KeychainProblem, describeLibraryError, keychainName, type AsyncEntryLike} from './keychain.js'
import {chunkHeader, readChunks, removeChunks, writeChunked} from './keyring-chunks.js'
import {parseSecrets, storableSecrets, type Secrets} from './secrets.js'
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
}

export type KeyringProbeResult = {ok: true} | {ok: false; reason: string}

type Action = 'read' | 'save' | 'delete'

const WHAT: Record<Action, string> = {read: 'read the login from', save: 'save the login in', delete: 'delete the login from'}
const DEFAULT_TIMEOUT_MS = 3000
const MIN_ENTRY_BYTES = 256
const WINDOWS_ENTRY_BYTES = 1280


export class KeyringCredentialStore implements CredentialStore {
  readonly kind = 'keyring'
  readonly location: string
  readonly service: string
  readonly timeoutMs: number
  readonly maxEntryBytes: number | undefined
  private readonly backendName = keychainName()
  /** Entries already constructed (each construction is a synchronous D-Bus round trip on Linux). */
  private readonly entries = new Map<string, AsyncEntryLike>()

  constructor({service, timeoutMs, maxEntryBytes}: KeyringCredentialStoreOptions) {
    this.service = service
    this.timeoutMs = timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.maxEntryBytes = maxEntryBytes ?? (process.platform === 'win32' ? WINDOWS_ENTRY_BYTES : undefined)
    if (this.maxEntryBytes !== undefined && (!Number.isSafeInteger(this.maxEntryBytes) || this.maxEntryBytes < MIN_ENTRY_BYTES)) {
      throw new AuthError('CONFIG_INVALID', `The keychain entry limit must be a whole number of bytes, at least ${MIN_ENTRY_BYTES}; got ${maxEntryBytes}.`)
    }
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new AuthError('CONFIG_INVALID', `The keychain time box must be a positive number of milliseconds; got ${timeoutMs}.`)
    }
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
    const text = JSON.stringify(storableSecrets(secrets))
    await this.operation('save', async (keychain) => {
      if (this.maxEntryBytes === undefined || Buffer.byteLength(text, 'utf8') <= this.maxEntryBytes) {
        await keychain.set(accountKey, text)
        await removeChunks(keychain, accountKey, {a: 0, b: 0})
        return
      }
      await writeChunked(keychain, accountKey, text, this.maxEntryBytes)
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
      next: 'keep-in-file',
      cause,
    })
  }

  private corrupt(reason: string): AuthError {
    return new AuthError('STORE_CORRUPT', `The login kept in the OS keychain (${this.backendName}, service ${this.service}) is damaged: ${reason}.`, {
      next: 'sign-in-again',
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
