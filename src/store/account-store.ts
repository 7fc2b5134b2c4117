import {rm} from 'node:fs/promises'

import {AuthError} from '../errors.js'
import type {BackendKind} from '../settings/settings.js'
import {describeAccount, emptyIndex, type AccountIndex, type AccountRecord, type RefreshFailure} from './account-index.js'
import type {CredentialStore} from './credential-store.js'
import type {Secrets} from './secrets.js'
import {BackendRegistry, type BackendRegistryOptions} from './backend-registry.js'
import {sha256Hex} from './hash.js'
import {removeLeftoverTemps} from './atomic-file.js'
import {DamagedFileError} from './stored-json.js'
import {MetadataCache} from './metadata-cache.js'
import {FileIndexRepository, MemoryIndexRepository, type IndexChange, type IndexRepository} from './index-repository.js'
import {storePaths, type StorePaths} from './paths.js'
import {RescuedLogin, type SaveOutcome} from './rescued-login.js'
import {checkpoint} from './checkpoint.js'

export interface AccountStoreOptions extends Omit<BackendRegistryOptions, 'credentialsPath' | 'service'> {
  dataDir: string
  /** The host's bin: the keychain service is `<bin>-auth`. */
  bin: string
  /** `storage=memory`: nothing is persisted, the index included. */
  inMemory?: boolean
  /** The variable that moves the data folder (`ACME_DATA_DIR`), named when the folder is not the user's own. */
  dataDirVariable?: string
  /** How long to wait for another process's lock (the lock's default, 30 s, when absent). */
  lockWaitMs?: number
}

/**
 * The metadata index plus the secrets backends, kept consistent: secrets first and index last, so a
 * reader never sees an index entry whose secrets were not written yet. Index changes are
 * read-modify-writes under the store lock, held briefly and never over the network.
 */
export class AccountStore {
  readonly paths: StorePaths
  private readonly backends: BackendRegistry
  /** Issuers' discovery documents between commands; none when nothing is persisted. */
  readonly metadataCache?: MetadataCache
  private readonly index: IndexRepository

  constructor(private readonly options: AccountStoreOptions) {
    this.paths = storePaths(options.dataDir)
    this.backends = new BackendRegistry({...options, credentialsPath: this.paths.credentials, service: this.service})
    if (options.inMemory) this.index = new MemoryIndexRepository()
    else {
      this.index = new FileIndexRepository(this.paths, {dataDirVariable: options.dataDirVariable, lockWaitMs: options.lockWaitMs})
      this.metadataCache = new MetadataCache(this.paths)
    }
  }

  /** The keychain service name: a published constant, since users' stored logins depend on it. */
  get service(): string {
    return `${this.options.bin}-auth`
  }

  /** The backend of this kind (file, keyring, memory, a configured credential helper): see BackendRegistry. */
  backend(kind: string): CredentialStore {
    return this.backends.backend(kind)
  }

  /**
   * Check the folders a sign-in will write to before the person signs in: one that is not theirs
   * would throw the sign-in away afterwards.
   */
  async checkFolders(): Promise<void> {
    await this.index.checkFolders()
  }

  readIndex(): Promise<AccountIndex> {
    return this.index.read()
  }

  /**
   * The index for `auth logout --all`, which must work whatever state the index is in: one too large
   * to read or damaged is moved aside (where a damaged one already went) and an empty one stands in.
   * `setAside` says what was moved where; undefined when the index was fine.
   */
  async readIndexForReset(): Promise<{index: AccountIndex; setAside?: {path: string; reason: string; movedTo: string}}> {
    try {
      return {index: await this.readIndex()}
    } catch (error) {
      if (!(error instanceof DamagedFileError)) throw error
      const {path, reason, keptAt} = error
      const movedTo = keptAt ?? (await this.index.setAside(path))
      return {index: emptyIndex(), setAside: {path, reason, movedTo}}
    }
  }

  /**
   * The secrets of an account the index knows. Missing secrets are a broken store, not "signed
   * out": the index says they were written. (A stopped keychain answers "no entry" too.)
   */
  async readSecrets(account: AccountRecord): Promise<Secrets> {
    // A rescued answer is the newest there is (RescuedLogin): a replaced refresh token is never sent.
    const rescued = await this.rescueOf(account.key)?.read()
    if (rescued) return rescued
    const backend = this.backend(account.storage)
    const secrets = await backend.get(account.key)
    if (!secrets && account.storage === 'file') {
      throw new AuthError('STORE_UNAVAILABLE', `The login of ${describeAccount(account)} is missing from ${backend.location}: the file was removed, moved aside or edited.`, {
        next: 'sign-in-again',
      })
    }
    if (!secrets) {
      throw new AuthError('STORE_UNAVAILABLE', `The login of ${describeAccount(account)} is missing from where it was stored (${backend.location}); that store may be locked, stopped or emptied.`, {
        next: 'unlock-or-sign-in-again',
      })
    }
    return secrets
  }

  /** Add or replace an account after a sign-in (the caller holds its lock): secrets first, rescued if need be, then the index. */
  async saveLogin(record: AccountRecord, secrets: Secrets, options: {makeDefault: boolean}): Promise<SaveOutcome> {
    // The credentials file holds every account: its read-modify-write goes under the store lock.
    const sharedFile = record.storage === 'file'
    let outcome = sharedFile ? {} : await this.keepSecrets(record, secrets)
    await this.update(async (index) => {
      if (sharedFile) outcome = await this.keepSecrets(record, secrets)
      const previous = index.accounts.find((account) => account.key === record.key)
      index.accounts = [...index.accounts.filter((account) => account.key !== record.key), record]
      if (options.makeDefault || !index.defaultAccount) index.defaultAccount = record.key
      delete index.tombstones[record.key]
      delete index.refreshFailures[record.key]
      // A new login in another backend must not leave the old copy behind. A store that does not
      // answer now keeps it noted, the way a migration does, and a later command removes it.
      const oldCopies = [...new Set([previous?.storage, previous?.migratingFrom])].filter((kind): kind is string => Boolean(kind) && kind !== record.storage)
      for (const kind of oldCopies) {
        const removed = await Promise.resolve().then(() => this.backend(kind).delete(record.key)).then(() => true, () => false)
        if (!removed) index.accounts = index.accounts.map((entry) => (entry.key === record.key ? {...entry, migratingFrom: kind} : entry))
      }
    })
    return outcome
  }

  /** Refresh and save (saveRefreshed) under the caller's account lock alone: no lock other accounts need is held meanwhile. */
  async refreshAndSave(account: AccountRecord, refresh: () => Promise<Secrets>): Promise<{account: AccountRecord; secrets: Secrets} & SaveOutcome> {
    if (!(await this.readIndex()).accounts.some((entry) => entry.key === account.key)) throw new AuthError('NOT_LOGGED_IN', `${describeAccount(account)} was signed out meanwhile.`, {next: 'sign-in-again'})
    return this.saveRefreshed(account, await refresh())
  }

  /**
   * Save a refresh's answer under the caller's account lock: the secrets, then the index in a short
   * hold of the store lock. A login signed out meanwhile keeps no secrets; an index not written catches
   * up later (recordExpiry); a store lock not had in time sends the secrets to the rescue file.
   */
  async saveRefreshed(account: AccountRecord, secrets: Secrets): Promise<{account: AccountRecord; secrets: Secrets} & SaveOutcome> {
    let saved = account
    let outcome: SaveOutcome | undefined
    let signedOut = false
    const recordInIndex = async (index: AccountIndex) => {
      const current = index.accounts.find((entry) => entry.key === account.key)
      if (!current) return void (signedOut = true)
      // One file holds every account's secrets: its read-modify-write needs this lock anyway.
      if (current.storage === 'file') outcome = await this.keepSecrets(current, secrets)
      saved = {...current, expiresAt: secrets.expiresAt ?? null, hasRefreshToken: Boolean(secrets.refreshToken), updatedAt: new Date().toISOString()}
      index.accounts = index.accounts.map((entry) => (entry.key === account.key ? saved : entry))
      delete index.tombstones[account.key]
      delete index.refreshFailures[account.key]
    }
    try {
      if (account.storage !== 'file') outcome = await this.keepSecrets(account, secrets)
      await this.update(recordInIndex, {purpose: 'saving a refreshed login'}).catch(async (error: unknown) => {
        if (outcome || !(error instanceof AuthError)) return
        outcome = (await this.rescueOf(account.key)?.keep(() => Promise.reject(error), secrets)) ?? {}
        if (!outcome.rescued) throw error
      })
    } catch (error) {
      if (!(error instanceof AuthError)) throw error
      // Not "nothing was lost": the issuer has already replaced the stored refresh token.
      throw new AuthError(error.code, `The issuer renewed the login of ${describeAccount(account)}, but it could not be saved: ${error.message}`, {
        cause: error,
        next: 'retry-or-sign-in-again',
      })
    }
    if (signedOut) {
      // Secrets the index no longer names would outlive every logout (the shared file was not written).
      if (account.storage !== 'file') await this.backend(account.storage).delete(account.key).catch(() => false)
      await this.rescueOf(account.key)?.remove()
      throw new AuthError('NOT_LOGGED_IN', `${describeAccount(account)} was signed out meanwhile.`, {next: 'sign-in-again'})
    }
    return {account: saved, secrets, ...outcome}
  }

  /** Save a login's secrets in its own store, or in its rescue file (RescuedLogin). The caller holds the account's lock, or the account is new. */
  async keepSecrets(record: AccountRecord, secrets: Secrets): Promise<SaveOutcome> {
    const backend = this.backend(record.storage)
    const rescue = this.rescueOf(record.key)
    if (!rescue) return backend.set(record.key, secrets).then(() => ({}))
    return rescue.keep((kept) => backend.set(record.key, kept), secrets)
  }

  /** Whether a rescued login of this account waits to go back to its own store (restoreRescued). */
  async hasRescued(account: AccountRecord): Promise<boolean> {
    return (await this.rescueOf(account.key)?.exists()) ?? false
  }

  /** Move a rescued login back into its own store (the shared file under the store lock); what was moved. Under the account's lock. */
  async restoreRescued(account: AccountRecord): Promise<Secrets | undefined> {
    const rescue = this.rescueOf(account.key)
    if (!rescue) return undefined
    const backend = this.backend(account.storage)
    const store = (secrets: Secrets) => (account.storage === 'file' ? this.update(async () => backend.set(account.key, secrets)) : backend.set(account.key, secrets))
    return rescue.restore(store, backend)
  }

  /** The rescue file of an account; none when nothing is persisted. */
  private rescueOf(accountKey: string): RescuedLogin | undefined {
    return this.index.persisted ? new RescuedLogin(this.paths, accountKey) : undefined
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

  /**
   * Add the name and email userinfo gave for a login already saved (its ID token named only the
   * account): the index alone, nothing secret, in a short hold of the store lock. Only what the
   * entry lacks is added; an account signed out meanwhile is left out. Returns the entry as it is now.
   */
  async recordProfile(account: AccountRecord, profile: Pick<AccountRecord, 'name' | 'email'>): Promise<AccountRecord | undefined> {
    let recorded: AccountRecord | undefined
    await this.update(async (index) => {
      const current = index.accounts.find((entry) => entry.key === account.key)
      if (!current) return
      recorded = {...current}
      if (!current.name && profile.name) recorded.name = profile.name
      if (!current.email && profile.email) recorded.email = profile.email
      index.accounts = index.accounts.map((entry) => (entry.key === account.key ? recorded! : entry))
    }, {purpose: 'noting the name of a login'})
    return recorded
  }

  /** Remember that the issuer could not be reached, so later commands with a valid token do not wait for it again. */
  async recordRefreshFailure(account: AccountRecord, next: (previous: RefreshFailure | undefined) => RefreshFailure): Promise<void> {
    await this.update(async (index) => {
      if (!index.accounts.some((entry) => entry.key === account.key)) return
      index.refreshFailures[account.key] = next(index.refreshFailures[account.key])
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
        throw new AuthError('NOT_LOGGED_IN', `${describeAccount(account)} was signed out meanwhile.`, {next: 'sign-in-again'})
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
      await this.rescueOf(account.key)?.remove()
      index.accounts = index.accounts.filter((entry) => entry.key !== account.key)
      delete index.tombstones[account.key]
      delete index.refreshFailures[account.key]
      if (index.defaultAccount === account.key) index.defaultAccount = index.accounts[0]?.key ?? null
    })
    return leftBehind
  }

  /**
   * After every account was signed out: drop whatever the credentials file still holds (entries of
   * no listed account, say after a damaged index was set aside), under the lock like every write.
   */
  async clearCredentialsFile(): Promise<boolean> {
    if (!this.index.persisted) return false
    let removed = false
    await this.update(async (index) => {
      // Under the store lock no write of the file is in progress: every temp file left is a leftover.
      await removeLeftoverTemps(this.paths.credentials)
      if (index.accounts.some((account) => account.storage === 'file')) return
      removed = await rm(this.paths.credentials).then(() => true, (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return false
        throw error
      })
    })
    return removed
  }

  /**
   * Move an account's secrets into another backend (the configured storage changed). Each step
   * leaves a state the next run can finish from: copy and verify, then switch the index (noting
   * where the old copy is), then delete the old copy and clear the note. Returns the new record.
   */
  async migrate(account: AccountRecord, to: BackendKind): Promise<AccountRecord> {
    let result = account
    await this.update(async (index, writeNow) => {
      const current = index.accounts.find((entry) => entry.key === account.key)
      if (!current) return
      result = current
      if (current.storage === to && !current.migratingFrom) return
      await checkpoint('migrate:locked')
      if (current.storage !== to) {
        const secrets = await this.readSecrets(current)
        const target = this.backend(to)
        await target.set(current.key, secrets)
        const copy = await target.get(current.key)
        if (!copy || copy.accessToken !== secrets.accessToken || copy.refreshToken !== secrets.refreshToken) {
          throw new AuthError('STORE_UNAVAILABLE', `Moving the login of ${describeAccount(current)} to the ${target.location} failed: it did not read back what was written. Nothing was lost; it is still in the ${this.backend(current.storage).location}.`)
        }
        await checkpoint('migrate:copied')
        result = {...current, storage: to, migratingFrom: current.storage}
        index.accounts = index.accounts.map((entry) => (entry.key === current.key ? result : entry))
        await writeNow()
        await checkpoint('migrate:switched')
      }
      try {
        await this.backend(result.migratingFrom!).delete(result.key)
      } catch {
        return // The old copy stays noted in the index; the next run removes it.
      }
      await checkpoint('migrate:deleted')
      const {migratingFrom: _, ...done} = result
      result = done
      index.accounts = index.accounts.map((entry) => (entry.key === current.key ? result : entry))
    })
    return result
  }

  /** Run `fn` on the account's refresh lock, so only one process refreshes it at a time. */
  withAccountLock<T>(account: AccountRecord, fn: () => Promise<T>): Promise<T> {
    return this.index.withAccountLock(account, fn)
  }

  /** A read-modify-write of the index under the store lock; `gen` counts the writes. */
  update(change: IndexChange, lock: {purpose?: string} = {}): Promise<void> {
    return this.index.update(change, lock)
  }
}

/** Tombstones name a refresh token without holding it. */
export const hashToken = sha256Hex
