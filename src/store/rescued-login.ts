import {rm} from 'node:fs/promises'

import {AuthError} from '../errors.js'
import {rescuedLoginPath} from './account-files.js'
import type {CredentialStore} from './credential-store.js'
import {FileCredentialStore} from './file-store.js'
import type {StorePaths} from './paths.js'
import type {Secrets} from './secrets.js'

/** Where a grant's answer went when the login's own store could not take it. */
export interface SaveOutcome {
  rescued?: {path: string; failure: AuthError}
}

/**
 * The rescue file of one account: where a grant's answer goes when the store that holds the login
 * cannot take it (a keychain locked, stopped or timing out, a helper failing, a disk error), since a
 * rotated refresh token that exists only in memory is a lost login. Private (0600, in the data
 * folder), one per account, and touched only under that account's lock. While it exists it holds the
 * newest answer, and reads look there first.
 */
export class RescuedLogin {
  private readonly file: FileCredentialStore

  constructor(
    paths: StorePaths,
    private readonly accountKey: string,
  ) {
    this.file = new FileCredentialStore(rescuedLoginPath(paths, accountKey))
  }

  get location(): string {
    return this.file.location
  }

  /** The rescued answer, if any. */
  read(): Promise<Secrets | undefined> {
    return this.file.get(this.accountKey)
  }

  async exists(): Promise<boolean> {
    return (await this.read().catch(() => undefined)) !== undefined
  }

  /**
   * Save secrets in `store`, or here when it cannot take them. While a rescued answer exists, a new
   * one goes here first, then into the store, and only then is this file removed: a crash at any
   * step leaves the newest answer where reads look first.
   */
  async keep(store: (secrets: Secrets) => Promise<void>, secrets: Secrets): Promise<SaveOutcome> {
    const rescuing = await this.exists()
    if (rescuing) await this.file.set(this.accountKey, secrets)
    try {
      await store(secrets)
    } catch (error) {
      if (!(error instanceof AuthError)) throw error
      if (!rescuing) {
        await this.file.set(this.accountKey, secrets).catch(() => {
          throw error
        })
      }
      return {rescued: {path: this.location, failure: error}}
    }
    if (rescuing) await this.remove()
    return {}
  }

  /**
   * Move the rescued answer back into its own store once that answers again: copy, read back, then
   * remove this file; a crash between leaves two equal copies. Returns what was moved: nothing when
   * there was nothing to move or the store still does not take it.
   */
  async restore(store: (secrets: Secrets) => Promise<void>, backend: CredentialStore): Promise<Secrets | undefined> {
    const rescued = await this.read()
    if (!rescued) return undefined
    try {
      await store(rescued)
      const copy = await backend.get(this.accountKey)
      if (copy?.accessToken !== rescued.accessToken || copy.refreshToken !== rescued.refreshToken) return undefined
    } catch {
      return undefined
    }
    await this.remove()
    return rescued
  }

  async remove(): Promise<void> {
    await rm(this.location, {force: true})
  }
}
