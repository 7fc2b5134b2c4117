import {rememberSecret} from '../safe-text.js'
import {ShapeError, expectObject, expectString, optionalString} from './stored-json.js'

/**
 * The secrets of one account. Everything else about an account lives in the metadata index,
 * which never holds a secret.
 */
export interface Secrets {
  accessToken: string
  tokenType: string
  refreshToken?: string
  idToken?: string
  /** ISO-8601; absent when the issuer did not say when the access token expires. */
  expiresAt?: string
  /** When the access token was issued (ISO-8601): with expiresAt, its lifetime. */
  obtainedAt?: string
  /** The client secret this login was made with, when it came from the environment or stdin: refreshes need it too. */
  clientSecret?: string
  /** A machine's private key (PEM or JWK text), when it was given on stdin and kept here. */
  clientAssertionKey?: string
  /** Where a machine's private key file is: read again for every new token. */
  clientAssertionKeyPath?: string
}

/** Read secrets as a backend stored them; a ShapeError names the field, never its value. */
export function parseSecrets(value: unknown, what: string): Secrets {
  const entry = expectObject(value, what)
  const secrets: Secrets = {
    accessToken: expectString(entry.accessToken, `${what}: accessToken`),
    tokenType: expectString(entry.tokenType, `${what}: tokenType`),
  }
  const refreshToken = optionalString(entry.refreshToken, `${what}: refreshToken`)
  const idToken = optionalString(entry.idToken, `${what}: idToken`)
  const expiresAt = optionalString(entry.expiresAt, `${what}: expiresAt`)
  const clientSecret = optionalString(entry.clientSecret, `${what}: clientSecret`)
  const obtainedAt = optionalString(entry.obtainedAt, `${what}: obtainedAt`)
  const clientAssertionKey = optionalString(entry.clientAssertionKey, `${what}: clientAssertionKey`)
  const clientAssertionKeyPath = optionalString(entry.clientAssertionKeyPath, `${what}: clientAssertionKeyPath`)
  if (clientAssertionKey) secrets.clientAssertionKey = clientAssertionKey
  if (clientAssertionKeyPath) secrets.clientAssertionKeyPath = clientAssertionKeyPath
  if (obtainedAt && !Number.isNaN(Date.parse(obtainedAt))) secrets.obtainedAt = obtainedAt
  if (clientSecret) secrets.clientSecret = clientSecret
  if (refreshToken) secrets.refreshToken = refreshToken
  if (idToken) secrets.idToken = idToken
  if (expiresAt) {
    if (Number.isNaN(Date.parse(expiresAt))) throw new ShapeError(`${what}: expiresAt is not a date`)
    secrets.expiresAt = expiresAt
  }
  rememberSecrets(secrets)
  return secrets
}

/** Every secret of a bundle, kept out of any message this process shows (see safe-text.ts). */
export function rememberSecrets(secrets: Partial<Secrets>): void {
  for (const value of [secrets.accessToken, secrets.refreshToken, secrets.idToken, secrets.clientSecret, secrets.clientAssertionKey]) rememberSecret(value)
}
