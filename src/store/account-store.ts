import {createHash} from 'node:crypto'
import {join} from 'node:path'

import {AuthError} from '../errors.js'
import {readIndex, writeIndex, type AccountIndex, type AccountRecord} from './account-index.js'
import type {CredentialStore, Secrets} from './credential-store.js'
import {FileCredentialStore} from './file-store.js'
import {withLock} from './lock.js'
import {storePaths, type StorePaths} from './paths.js'

/**
 * The metadata index plus the secrets backends, kept consistent. Every change is a read-modify-write
 * under the store lock, secrets first and index last, so a reader never sees an index entry whose
 * secrets were not written yet.
 */
export class AccountStore {
  readonly paths: StorePaths

  constructor(
    dataDir: string,
    /** The host's bin, for messages: "Run `acme auth login`". */
    readonly bin: string,
  ) {
    this.paths = storePaths(dataDir)
  }

  get loginHint(): string {
    return `Run \`${this.bin} auth login\` to sign in again.`
  }

  /** The backend of the given kind. Only `file` exists yet; others come with their own issue. */
  backend(kind: string): CredentialStore {
    if (kind === 'file') return new FileCredentialStore(this.paths.credentials, this.loginHint)
    throw new AuthError('STORE_UNAVAILABLE', `The login is kept in the '${kind}' store, which this version of the plugin does not support.`, {
      suggestion: this.loginHint,
    })
  }

  async readIndex(): Promise<AccountIndex> {
    return readIndex(this.paths.index, this.loginHint)
  }

  /**
   * The secrets of an account the index knows. Missing secrets are a broken store, not "signed out":
   * the index says they were written.
   */
  async readSecrets(account: AccountRecord): Promise<Secrets> {
    const backend = this.backend(account.storage)
    const secrets = await backend.get(account.key)
    if (!secrets) {
      throw new AuthError('STORE_UNAVAILABLE', `The ${backend.kind} store (${backend.location}) has no credentials for ${describeAccount(account)}, though the index lists them.`, {
        suggestion: this.loginHint,
      })
    }
    return secrets
  }

  /** Add or replace an account after a sign-in. */
  async saveLogin(record: AccountRecord, secrets: Secrets, options: {makeDefault: boolean}): Promise<void> {
    await this.update(async (index) => {
      await this.backend(record.storage).set(record.key, secrets)
      index.accounts = [...index.accounts.filter((account) => account.key !== record.key), record]
      if (options.makeDefault || !index.defaultAccount) index.defaultAccount = record.key
      delete index.tombstones[record.key]
    })
  }

  /** Store a refreshed bundle at once: a rotated refresh token exists nowhere else. */
  async saveRefreshed(account: AccountRecord, secrets: Secrets): Promise<AccountRecord> {
    let saved = account
    await this.update(async (index) => {
      const current = index.accounts.find((entry) => entry.key === account.key)
      // Signed out while the refresh was in flight: do not bring the secrets back.
      if (!current) throw new AuthError('NOT_LOGGED_IN', `${describeAccount(account)} was signed out meanwhile.`, {suggestion: this.loginHint})
      await this.backend(account.storage).set(account.key, secrets)
      saved = {
        ...current,
        expiresAt: secrets.expiresAt ?? null,
        hasRefreshToken: Boolean(secrets.refreshToken),
        updatedAt: new Date().toISOString(),
      }
      index.accounts = index.accounts.map((entry) => (entry.key === account.key ? saved : entry))
      delete index.tombstones[account.key]
    })
    return saved
  }

  /** Remember that the issuer rejected this refresh token, so background refresh leaves it alone. */
  async tombstone(account: AccountRecord, refreshToken: string, until: Date): Promise<void> {
    await this.update(async (index) => {
      index.tombstones[account.key] = {refreshTokenHash: hashToken(refreshToken), until: until.toISOString()}
    })
  }

  /** Forget an account: its secrets first, then its index entry. */
  async remove(account: AccountRecord): Promise<void> {
    await this.update(async (index) => {
      await this.backend(account.storage).delete(account.key)
      index.accounts = index.accounts.filter((entry) => entry.key !== account.key)
      delete index.tombstones[account.key]
      if (index.defaultAccount === account.key) index.defaultAccount = index.accounts[0]?.key ?? null
    })
  }

  /** Run `fn` on the account's refresh lock, so only one process refreshes it at a time. */
  async withAccountLock<T>(account: AccountRecord, fn: () => Promise<T>): Promise<T> {
    return withLock(join(this.paths.locks, `${hashToken(account.key).slice(0, 32)}.lock`), fn, {
      purpose: `refreshing the login of ${describeAccount(account)}`,
    })
  }

  private async update(change: (index: AccountIndex) => Promise<void>): Promise<void> {
    await withLock(join(this.paths.locks, 'store.lock'), async () => {
      const index = await this.readIndex()
      await change(index)
      index.gen += 1
      await writeIndex(this.paths.index, index)
    }, {purpose: 'writing the login store'})
  }
}

/** Tombstones and lock names need a stable name for a secret without holding the secret. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

export function describeAccount(account: AccountRecord): string {
  const who = account.name ? `${account.name} (${account.subject})` : account.subject
  return `${who} at ${account.issuer}`
}
