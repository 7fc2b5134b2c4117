import {AuthError} from '../errors.js'
import type {CredentialStore} from './credential-store.js'
import {parseSecrets, storableSecrets, type Secrets} from './secrets.js'
import {readTextIfExists, writeFileAtomic} from './atomic-file.js'
import {ShapeError, expectObject, expectVersion1, readStoredJson} from './stored-json.js'

interface CredentialsFile {
  version: 1
  /** Entries stay as read until asked for: one damaged entry must not cost the others. */
  accounts: Record<string, unknown>
}

/**
 * Secrets in one 0600 JSON file: what headless Linux, containers, WSL and CI use. Writers hold the
 * store lock (see store/lock.ts), so a read-modify-write of the whole file loses nothing.
 */
export class FileCredentialStore implements CredentialStore {
  readonly kind = 'file'

  constructor(
    readonly location: string,
    /** Told when a damaged file was set aside to save a new login in a fresh one. */
    private readonly notify: (message: string) => void = () => {},
  ) {}

  async get(accountKey: string): Promise<Secrets | undefined> {
    const entry = (await this.read()).accounts[accountKey]
    if (entry === undefined) return undefined
    try {
      return parseSecrets(entry, 'the entry')
    } catch (error) {
      if (!(error instanceof ShapeError)) throw error
      // Left in place, untouched: only a new login for this account replaces it.
      throw new AuthError('STORE_CORRUPT', `The stored login for ${accountKey} in ${this.location} is damaged (${error.message}); other accounts are unaffected.`, {
        next: 'sign-in-again',
      })
    }
  }

  /**
   * A damaged file does not stop a save: a login the user just completed is worth more than the
   * bytes of one we cannot read, which readStoredJson has moved aside (never deleted). Only when it
   * could not be moved is the save refused, so those bytes are never overwritten.
   */
  async set(accountKey: string, secrets: Secrets): Promise<void> {
    let file: CredentialsFile
    try {
      file = await this.read()
    } catch (error) {
      if (!(error instanceof AuthError) || error.code !== 'STORE_CORRUPT' || (await readTextIfExists(this.location).catch(() => '')) !== undefined) throw error
      this.notify(`${error.message} The new login is saved in a fresh file.`)
      file = {version: 1, accounts: {}}
    }
    file.accounts[accountKey] = storableSecrets(secrets)
    await this.write(file)
  }

  async delete(accountKey: string): Promise<boolean> {
    const file = await this.read()
    if (!(accountKey in file.accounts)) return false
    delete file.accounts[accountKey]
    await this.write(file)
    return true
  }

  private async read(): Promise<CredentialsFile> {
    return (await readStoredJson(this.location, parseCredentialsFile, 'sign-in-again')) ?? {version: 1, accounts: {}}
  }

  private async write(file: CredentialsFile): Promise<void> {
    await writeFileAtomic(this.location, `${JSON.stringify(file, null, 2)}\n`)
  }
}

export function parseCredentialsFile(data: unknown, path = 'the credentials file'): CredentialsFile {
  const file = expectObject(data, 'the file')
  expectVersion1(file, path)
  return {version: 1, accounts: {...expectObject(file.accounts, 'accounts')}}
}
