import {AuthError} from '../errors.js'
import type {CredentialStore} from './credential-store.js'
import {ExecCredentialStore} from './exec-store.js'
import {FileCredentialStore} from './file-store.js'
import {KeyringCredentialStore} from './keyring-store.js'
import {MemoryCredentialStore} from './memory-store.js'

export interface BackendRegistryOptions {
  credentialsPath: string
  /** The keychain service, `<bin>-auth`. */
  service: string
  keyringTimeoutMs: number
  keyringEntryLimit?: number
  /**
   * The storage the settings name (flag, environment, the user's file, the host). Only a credential
   * helper named there is ever run: one an index names is data, and whoever can write the index
   * must not choose a program for us.
   */
  configuredStorage?: string
  /** Where the configured storage was set, for the message when an index names another helper. */
  configuredStorageSource?: string
  /** One line for the person at the terminal that does not stop the command. */
  notify?: (message: string) => void
  /** What a credential helper's process inherits (process.env when absent). */
  env?: NodeJS.ProcessEnv
}

/**
 * The secrets backends by the name an index records (`file`, `keyring`, `memory`, `exec:<command>`),
 * each made once, and the helper policy: a credential helper runs only when the settings name it.
 */
export class BackendRegistry {
  private readonly made = new Map<string, CredentialStore>()

  constructor(private readonly options: BackendRegistryOptions) {}

  backend(kind: string): CredentialStore {
    let backend = this.made.get(kind)
    if (!backend) {
      backend = this.create(kind)
      this.made.set(kind, backend)
    }
    return backend
  }

  private create(kind: string): CredentialStore {
    const {options} = this
    if (kind === 'file') return new FileCredentialStore(options.credentialsPath, options.notify)
    if (kind === 'memory') return new MemoryCredentialStore()
    if (kind === 'keyring') {
      return new KeyringCredentialStore({
        service: options.service,
        timeoutMs: options.keyringTimeoutMs,
        maxEntryBytes: options.keyringEntryLimit,
      })
    }
    if (kind.startsWith('exec:')) {
      if (kind !== options.configuredStorage) throw this.helperNotConfigured(kind)
      return new ExecCredentialStore({command: kind.slice(5), service: options.service, env: options.env})
    }
    throw new AuthError('STORE_UNAVAILABLE', `The login is kept in the '${kind}' store, which this version of the plugin does not know.`, {
      next: 'sign-in-again',
    })
  }

  private helperNotConfigured(kind: string): AuthError {
    const {options} = this
    const now = options.configuredStorageSource ? ` (${options.configuredStorageSource} says '${options.configuredStorage}')` : ''
    return new HelperNotConfiguredError('STORE_UNAVAILABLE', `The login is kept by the credential helper '${kind.slice(5)}', which no setting of yours names${now}, so it is not run: the store's index is data, and a program named in data is never started.`, {
      next: {helperNotConfigured: kind},
    })
  }
}

/** An index names a credential helper no setting names: said as it is, whatever the store was doing. */
export class HelperNotConfiguredError extends AuthError {}
