import {formatDuration} from '../durations.js'
import {checkSecretService} from './secret-service-check.js'

/*
 * Keychain calls through @napi-rs/keyring, each in its own time box, and the words for what went
 * wrong. See keyring-store.ts for what we measured and why each call is guarded this way.
 */

/** The part of @napi-rs/keyring's AsyncEntry we use (UTF-8 text API). */
export interface AsyncEntryLike {
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
export class KeychainProblem extends Error {
  constructor(
    readonly reason: string,
    readonly original?: unknown,
  ) {
    super(reason)
  }
}

class KeychainTimeout extends KeychainProblem {}

/** Keychain calls, each in its own time box. */
export class Keychain {
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
    return new KeychainTimeout(`it did not answer within ${formatDuration(this.timeoutMs)}`)
  }

  private async call<T>(account: string, run: (entry: AsyncEntryLike, signal: AbortSignal) => Promise<T>): Promise<T> {
    // Elapsed time, not token time: the monotonic clock, which a wall-clock step cannot stretch or cut.
    const started = performance.now()
    try {
      return await this.callOnce(account, run, started)
    } catch (error) {
      // The keychain daemon died while it had our request, or since our entry opened its session
      // (gnome-keyring aborts when another client vanishes mid-handshake, its #196). D-Bus starts it
      // again on the next call, as a desktop session does: one more try with a new entry, within the
      // same time box. Every call here may be repeated: a read, an overwrite, a delete.
      if (!daemonRestarted(error)) throw error
      this.entries.delete(account)
      return this.callOnce(account, run, started)
    }
  }

  private async callOnce<T>(account: string, run: (entry: AsyncEntryLike, signal: AbortSignal) => Promise<T>, started: number): Promise<T> {
    const keyring = await withDeadline(loadKeyring(), this.timeoutMs, () => this.timeout())
    let entry = this.entries.get(account)
    if (!entry) {
      // Synchronous, and a D-Bus round trip on Linux: the preflight made sure someone answers.
      entry = new keyring.AsyncEntry(this.service, account, {linux: {store: 'secret-service'}}) as AsyncEntryLike
      this.entries.set(account, entry)
    }
    const left = this.timeoutMs - (performance.now() - started)
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

/**
 * The Secret Service exited while our call waited for its reply, or since our entry opened its
 * session with it (the new daemon knows no such session): D-Bus's words for either.
 */
export function daemonRestarted(error: unknown): boolean {
  return error instanceof Error && /disconnected from message bus without replying|session\b.*\bdoes not exist/i.test(error.message)
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

export function keychainName(): string {
  switch (process.platform) {
    case 'darwin':
      return 'macOS Keychain'
    case 'win32':
      return 'Windows Credential Manager'
    default:
      return 'Secret Service'
  }
}

/**
 * One short clause for an error of the binding. Its messages name the platform failure, never a
 * secret; still, only known shapes are rephrased and the rest is clipped to one line.
 */
export function describeLibraryError(error: unknown): string {
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
