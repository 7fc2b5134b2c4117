import {join} from 'node:path'

import {checkPrivateFolder} from '../private-files.js'
import {describeAccount, emptyIndex, readIndex, writeIndex, type AccountIndex, type AccountRecord} from './account-index.js'
import {accountLockPath} from './account-files.js'
import {moveAside} from './atomic-file.js'
import {withLock} from './lock.js'
import {DamagedFileError} from './stored-json.js'
import type {StorePaths} from './paths.js'

/** A change of the index; `writeNow` makes what it changed so far durable before it goes on (a migration's steps). */
export type IndexChange = (index: AccountIndex, writeNow: () => Promise<void>) => Promise<void>

/**
 * Where the metadata index lives and how its writers take turns: a file under the store lock, or
 * this process's memory (`storage=memory`). The transactions (AccountStore) are the same over both.
 */
export interface IndexRepository {
  /** Whether anything is kept on disk: rescue files, the credentials file, the issuers' cache. */
  readonly persisted: boolean
  /** Refuse folders that are not the user's own before a sign-in writes to them. */
  checkFolders(): Promise<void>
  /** The index as stored. */
  read(): Promise<AccountIndex>
  /** A read-modify-write, one writer at a time; `gen` counts the writes. */
  update(change: IndexChange, options?: {purpose?: string}): Promise<void>
  /** Move a damaged index aside under the store lock; where it went. */
  setAside(path: string): Promise<string>
  /** Run `fn` on the account's refresh lock, so only one refresh of it runs at a time. */
  withAccountLock<T>(account: AccountRecord, fn: () => Promise<T>): Promise<T>
}

export interface FileIndexRepositoryOptions {
  /** The variable that moves the data folder (`ACME_DATA_DIR`), named when the folder is not the user's own. */
  dataDirVariable?: string
  /** How long to wait for another process's lock (the lock's default, 30 s, when absent). */
  lockWaitMs?: number
}

/** The index in `<dataDir>/auth/accounts.json`, changed under the store lock, each account refreshed under its own lock file. */
export class FileIndexRepository implements IndexRepository {
  readonly persisted = true

  constructor(
    private readonly paths: StorePaths,
    private readonly options: FileIndexRepositoryOptions,
  ) {}

  async checkFolders(): Promise<void> {
    for (const dir of [this.paths.dir, this.paths.locks, this.paths.issuers]) await checkPrivateFolder(dir, this.options.dataDirVariable)
  }

  async read(): Promise<AccountIndex> {
    // Nothing is read from a folder someone else prepared or can write (see private-files.ts).
    await checkPrivateFolder(this.paths.dir, this.options.dataDirVariable)
    return readIndex(this.paths.index, 'damaged-index-moved').catch((error: unknown) => {
      // Not moved aside (too large to judge): nothing works until it is, sign-in included.
      if (!(error instanceof DamagedFileError) || error.keptAt) throw error
      throw new DamagedFileError(error.path, error.reason, undefined, error.message, 'damaged-index-too-large')
    })
  }

  async update(change: IndexChange, {purpose}: {purpose?: string} = {}): Promise<void> {
    await withLock(this.storeLock, async () => {
      const index = await this.read()
      const writeNow = () => this.write(index)
      await change(index, writeNow)
      await writeNow()
    }, {...this.lockWait, purpose: purpose ?? 'writing the login store'})
  }

  setAside(path: string): Promise<string> {
    // Under the store lock, as every change of the index: no writer is halfway through it.
    return withLock(this.storeLock, () => moveAside(path), {...this.lockWait, purpose: 'setting the damaged index aside'})
  }

  withAccountLock<T>(account: AccountRecord, fn: () => Promise<T>): Promise<T> {
    return withLock(accountLockPath(this.paths, account.key), fn, {...this.lockWait, purpose: `refreshing the login of ${describeAccount(account)}`})
  }

  private get storeLock(): string {
    return join(this.paths.locks, 'store.lock')
  }

  /** The configured lock wait, if any (an undefined waitMs would override the lock's default). */
  private get lockWait(): {waitMs?: number} {
    return this.options.lockWaitMs === undefined ? {} : {waitMs: this.options.lockWaitMs}
  }

  private async write(index: AccountIndex): Promise<void> {
    index.gen += 1
    await writeIndex(this.paths.index, index)
  }
}

/** Nothing persisted (`storage=memory`): the index is this process's, and so are the account locks. */
export class MemoryIndexRepository implements IndexRepository {
  readonly persisted = false
  private index = emptyIndex()
  /** The tail of each account's queue. */
  private readonly accountLocks = new Map<string, Promise<unknown>>()

  async checkFolders(): Promise<void> {}

  async read(): Promise<AccountIndex> {
    return structuredClone(this.index)
  }

  async update(change: IndexChange): Promise<void> {
    const index = structuredClone(this.index)
    const writeNow = async () => {
      index.gen += 1
      this.index = structuredClone(index)
    }
    await change(index, writeNow)
    await writeNow()
  }

  async setAside(path: string): Promise<string> {
    return path // Nothing on disk can be damaged.
  }

  withAccountLock<T>(account: AccountRecord, fn: () => Promise<T>): Promise<T> {
    const previous = this.accountLocks.get(account.key) ?? Promise.resolve()
    const run = previous.then(fn, fn)
    this.accountLocks.set(account.key, run.catch(() => {}))
    return run
  }
}
