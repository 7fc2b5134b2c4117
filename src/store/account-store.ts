import {readdir, rm} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import {AuthError} from '../errors.js'
import type {BackendKind} from '../settings/settings.js'
import {emptyIndex, readIndex, writeIndex, type AccountIndex, type AccountRecord} from './account-index.js'
import type {CredentialStore, Secrets} from './credential-store.js'
import {ExecCredentialStore} from './exec-store.js'
import {FileCredentialStore} from './file-store.js'
import {sha256Hex} from './hash.js'
import {KeyringCredentialStore} from './keyring-store.js'
import {withLock} from './lock.js'
import {MemoryCredentialStore} from './memory-store.js'
import {accountLockPath} from './account-files.js'
import {storePaths, type StorePaths} from './paths.js'
import {pauseHereInTests} from './test-pause.js'

export interface AccountStoreOptions {
  dataDir: string
  /** The host's bin: the keychain service is `<bin>-auth`. */
  bin: string
  /** How the host spells its auth commands, up to the subcommand: `acme auth ` (or `acme auth:`). */
  authCommandPrefix: string
  /** The variable that chooses the storage (`ACME_AUTH_STORAGE`), for "choose another" hints. */
  storageVariable: string
  keyringTimeoutMs: number
  keyringEntryLimit?: number
  /** `storage=memory`: nothing is persisted, the index included. */
  inMemory?: boolean
  /** How long to wait for another process's lock (the lock's default, 30 s, when absent). */
  lockWaitMs?: number
}

/**
 * The metadata index plus the secrets backends, kept consistent. Every change is a read-modify-write
 * under the store lock, secrets first and index last, so a reader never sees an index entry whose
 * secrets were not written yet.
 */
export class AccountStore {
  readonly paths: StorePaths
  private readonly backends = new Map<string, CredentialStore>()
  private memoryIndex?: AccountIndex

  constructor(private readonly options: AccountStoreOptions) {
    this.paths = storePaths(options.dataDir)
    if (options.inMemory) this.memoryIndex = emptyIndex()
  }

  get loginHint(): string {
    return `Run \`${this.options.authCommandPrefix}login\` to sign in again.`
  }

  /** The keychain service name: a published constant, since users' stored logins depend on it. */
  get service(): string {
    return `${this.options.bin}-auth`
  }

  backend(kind: string): CredentialStore {
    let backend = this.backends.get(kind)
    if (!backend) {
      backend = this.createBackend(kind)
      this.backends.set(kind, backend)
    }
    return backend
  }

  private createBackend(kind: string): CredentialStore {
    // Not "set storage=file": moving a login out of a store that does not answer means reading it first.
    const switchHint = `Retry once it answers, or keep the login in a file: sign in again with \`${this.options.authCommandPrefix}login --storage file\` (${this.options.storageVariable}=file does it for every new login).`
    if (kind === 'file') return new FileCredentialStore(this.paths.credentials, this.loginHint)
    if (kind === 'memory') return new MemoryCredentialStore()
    if (kind === 'keyring') {
      return new KeyringCredentialStore({
        service: this.service,
        timeoutMs: this.options.keyringTimeoutMs,
        maxEntryBytes: this.options.keyringEntryLimit,
        switchHint,
        nextStep: this.loginHint,
      })
    }
    if (kind.startsWith('exec:')) return new ExecCredentialStore({command: kind.slice(5), service: this.service, switchHint})
    throw new AuthError('STORE_UNAVAILABLE', `The login is kept in the '${kind}' store, which this version of the plugin does not know.`, {
      suggestion: this.loginHint,
    })
  }

  async readIndex(): Promise<AccountIndex> {
    if (this.memoryIndex) return structuredClone(this.memoryIndex)
    return readIndex(this.paths.index, `${this.loginHint} (\`${this.options.authCommandPrefix}logout --all\` clears what is left.)`)
  }

  /**
   * The secrets of an account the index knows. Missing secrets are a broken store, not "signed
   * out": the index says they were written. (A stopped keychain answers "no entry" too.)
   */
  async readSecrets(account: AccountRecord): Promise<Secrets> {
    const backend = this.backend(account.storage)
    const secrets = await backend.get(account.key)
    if (!secrets && account.storage === 'file') {
      throw new AuthError('STORE_UNAVAILABLE', `The login of ${describeAccount(account)} is missing from ${backend.location}: the file was removed, moved aside or edited.`, {
        suggestion: `Run \`${this.options.authCommandPrefix}login\` to sign in again.`,
      })
    }
    if (!secrets) {
      throw new AuthError('STORE_UNAVAILABLE', `The login of ${describeAccount(account)} is missing from where it was stored (${backend.location}); that store may be locked, stopped or emptied.`, {
        suggestion: `If it is locked or stopped, unlock or start it and retry; else run \`${this.options.authCommandPrefix}login\` to sign in again.`,
      })
    }
    return secrets
  }

  /** Add or replace an account after a sign-in. */
  async saveLogin(record: AccountRecord, secrets: Secrets, options: {makeDefault: boolean}): Promise<void> {
    await this.update(async (index) => {
      const previous = index.accounts.find((account) => account.key === record.key)
      await this.backend(record.storage).set(record.key, secrets)
      index.accounts = [...index.accounts.filter((account) => account.key !== record.key), record]
      if (options.makeDefault || !index.defaultAccount) index.defaultAccount = record.key
      delete index.tombstones[record.key]
      // A new login in another backend must not leave the old copy behind.
      if (previous && previous.storage !== record.storage) await this.backend(previous.storage).delete(record.key).catch(() => {})
    })
  }

  /**
   * Store a refreshed bundle at once: a rotated refresh token exists nowhere else, so this waits
   * longer than other writes for the store lock (its holder heartbeats; giving up loses the login).
   */
  async saveRefreshed(account: AccountRecord, secrets: Secrets): Promise<AccountRecord> {
    let saved = account
    await this.update(async (index) => {
      const current = index.accounts.find((entry) => entry.key === account.key)
      // Signed out while the refresh was in flight: do not bring the secrets back.
      if (!current) throw new AuthError('NOT_LOGGED_IN', `${describeAccount(account)} was signed out meanwhile.`, {suggestion: this.loginHint})
      await this.backend(current.storage).set(account.key, secrets)
      saved = {
        ...current,
        expiresAt: secrets.expiresAt ?? null,
        hasRefreshToken: Boolean(secrets.refreshToken),
        updatedAt: new Date().toISOString(),
      }
      index.accounts = index.accounts.map((entry) => (entry.key === account.key ? saved : entry))
      delete index.tombstones[account.key]
    }, {waitMs: SAVE_REFRESHED_WAIT_MS, purpose: 'saving a refreshed login'}).catch((error: unknown) => {
      if (!(error instanceof AuthError) || error.code === 'NOT_LOGGED_IN') throw error
      // Not "nothing was lost": the issuer has already replaced the stored refresh token.
      throw new AuthError(error.code, `The issuer renewed the login of ${describeAccount(account)}, but it could not be saved: ${error.message}`, {
        cause: error,
        suggestion: `Retry; if the issuer then no longer accepts the login, run \`${this.options.authCommandPrefix}login\`.`,
      })
    })
    return saved
  }

  /**
   * When the index says the token expires earlier than the stored secrets do (a process died between
   * writing the secrets and the index), bring the index in line, or the init hook would keep
   * starting refreshes that find nothing to do. Only ever forward, and no write when nothing lags.
   */
  async recordExpiry(account: AccountRecord, expiresAt: string): Promise<void> {
    const lags = (entry: AccountRecord | undefined) => entry && (!entry.expiresAt || Date.parse(entry.expiresAt) < Date.parse(expiresAt))
    if (!lags((await this.readIndex()).accounts.find((entry) => entry.key === account.key))) return
    await this.update(async (index) => {
      index.accounts = index.accounts.map((entry) => (entry.key === account.key && lags(entry) ? {...entry, expiresAt} : entry))
    })
  }

  /** Remember that the issuer rejected this refresh token, so background refresh leaves it alone. */
  async tombstone(account: AccountRecord, refreshToken: string, until: Date): Promise<void> {
    await this.update(async (index) => {
      index.tombstones[account.key] = {refreshTokenHash: hashToken(refreshToken), until: until.toISOString()}
    })
  }

  async setDefault(account: AccountRecord): Promise<void> {
    await this.update(async (index) => {
      if (!index.accounts.some((entry) => entry.key === account.key)) {
        throw new AuthError('NOT_LOGGED_IN', `${describeAccount(account)} was signed out meanwhile.`, {suggestion: this.loginHint})
      }
      index.defaultAccount = account.key
    })
  }

  /**
   * Forget an account: its secrets in every backend we know held them (the recorded one, one left
   * over from an unfinished migration, and any extra the caller names), then its index entry.
   * Returns the message of a failure to delete from the recorded backend: the user asked to be
   * signed out, so a keychain that does not answer is reported, not a reason to stay signed in.
   */
  async remove(account: AccountRecord, alsoIn: string[] = []): Promise<string | undefined> {
    let leftBehind: string | undefined
    await this.update(async (index) => {
      const current = index.accounts.find((entry) => entry.key === account.key) ?? account
      const kinds = new Set([current.storage, ...(current.migratingFrom ? [current.migratingFrom] : []), ...alsoIn])
      for (const kind of kinds) {
        try {
          await this.backend(kind).delete(account.key)
        } catch (error) {
          // Only the recorded backend is known to hold a copy; the others are a clean-up.
          if (kind === current.storage) leftBehind = error instanceof AuthError ? error.message : String(error)
        }
      }
      index.accounts = index.accounts.filter((entry) => entry.key !== account.key)
      delete index.tombstones[account.key]
      if (index.defaultAccount === account.key) index.defaultAccount = index.accounts[0]?.key ?? null
    })
    return leftBehind
  }

  /**
   * After every account was signed out: drop whatever the credentials file still holds (entries of
   * no listed account, say after a damaged index was set aside), under the lock like every write.
   */
  async clearCredentialsFile(): Promise<void> {
    if (this.memoryIndex) return
    await this.update(async (index) => {
      // Temp files of a writer killed before its rename hold a copy of the file; under the store
      // lock no write is in progress, so every one left is such a leftover.
      const prefix = `${basename(this.paths.credentials)}.`
      const names = await readdir(dirname(this.paths.credentials)).catch(() => [] as string[])
      for (const name of names) if (name.startsWith(prefix) && name.endsWith('.tmp')) await rm(join(dirname(this.paths.credentials), name), {force: true})
      if (index.accounts.some((account) => account.storage === 'file')) return
      await rm(this.paths.credentials, {force: true})
    })
  }

  /**
   * Move an account's secrets into another backend (the configured storage changed). Each step
   * leaves a state the next run can finish from: copy and verify, then switch the index (noting
   * where the old copy is), then delete the old copy and clear the note. Returns the new record.
   */
  async migrate(account: AccountRecord, to: BackendKind): Promise<AccountRecord> {
    let result = account
    await this.update(async (index) => {
      const current = index.accounts.find((entry) => entry.key === account.key)
      if (!current) return
      result = current
      if (current.storage === to && !current.migratingFrom) return
      await pauseHereInTests('migrate:locked')
      if (current.storage !== to) {
        const secrets = await this.readSecrets(current)
        const target = this.backend(to)
        await target.set(current.key, secrets)
        const copy = await target.get(current.key)
        if (!copy || copy.accessToken !== secrets.accessToken || copy.refreshToken !== secrets.refreshToken) {
          throw new AuthError('STORE_UNAVAILABLE', `Moving the login of ${describeAccount(current)} to the ${target.location} failed: it did not read back what was written. Nothing was lost; it is still in the ${this.backend(current.storage).location}.`)
        }
        await pauseHereInTests('migrate:copied')
        result = {...current, storage: to, migratingFrom: current.storage}
        index.accounts = index.accounts.map((entry) => (entry.key === current.key ? result : entry))
        await this.writeIndexNow(index)
        await pauseHereInTests('migrate:switched')
      }
      try {
        await this.backend(result.migratingFrom!).delete(result.key)
      } catch {
        return // The old copy stays noted in the index; the next run removes it.
      }
      await pauseHereInTests('migrate:deleted')
      const {migratingFrom: _, ...done} = result
      result = done
      index.accounts = index.accounts.map((entry) => (entry.key === current.key ? result : entry))
    })
    return result
  }

  /** Run `fn` on the account's refresh lock, so only one process refreshes it at a time. */
  async withAccountLock<T>(account: AccountRecord, fn: () => Promise<T>): Promise<T> {
    if (this.memoryIndex) return fn()
    return withLock(accountLockPath(this.paths, account.key), fn, {
      ...this.lockWait,
      purpose: `refreshing the login of ${describeAccount(account)}`,
    })
  }

  /** A read-modify-write of the index under the store lock; `gen` counts the writes. */
  async update(change: (index: AccountIndex) => Promise<void>, lock: {waitMs?: number; purpose?: string} = {}): Promise<void> {
    if (this.memoryIndex) {
      const index = structuredClone(this.memoryIndex)
      await change(index)
      index.gen += 1
      this.memoryIndex = index
      return
    }
    await withLock(join(this.paths.locks, 'store.lock'), async () => {
      const index = await this.readIndex()
      await change(index)
      await this.writeIndexNow(index)
    }, {...this.lockWait, purpose: 'writing the login store', ...lock})
  }

  /** The configured lock wait, if any (an undefined waitMs would override the lock's default). */
  private get lockWait(): {waitMs?: number} {
    return this.options.lockWaitMs === undefined ? {} : {waitMs: this.options.lockWaitMs}
  }

  private async writeIndexNow(index: AccountIndex): Promise<void> {
    index.gen += 1
    if (this.memoryIndex) this.memoryIndex = structuredClone(index)
    else await writeIndex(this.paths.index, index)
  }
}

/** How long saving a refreshed login waits for the store lock (other writes: 30 s). */
const SAVE_REFRESHED_WAIT_MS = 2 * 60_000

/** Tombstones name a refresh token without holding it. */
export const hashToken = sha256Hex

export function describeAccount(account: AccountRecord): string {
  const who = account.name ? `${account.name} (${account.subject})` : account.subject
  return `${who} at ${account.issuer}`
}
