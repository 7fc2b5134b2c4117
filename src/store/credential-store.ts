import type {Secrets} from './secrets.js'

/**
 * A place that keeps secrets, keyed by account key. Backends differ in where the bytes go (a 0600
 * file, the OS keychain, a company vault) but all answer the same three questions, and all keep
 * "there is nothing" (undefined) apart from "I could not look" (a thrown STORE_UNAVAILABLE).
 */
export interface CredentialStore {
  readonly kind: string
  /** Human-readable location for `auth status`, e.g. the file path. */
  readonly location: string
  get(accountKey: string): Promise<Secrets | undefined>
  set(accountKey: string, secrets: Secrets): Promise<void>
  /** Returns whether there was something to delete. */
  delete(accountKey: string): Promise<boolean>
}
