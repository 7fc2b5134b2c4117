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
  /**
   * The login's DPoP key (RFC 9449), a private JWK as text: its tokens are bound to it, so it lives
   * and dies with them (stored, moved and removed with the login, never in the index).
   */
  dpopKey?: string
}

/** Every field of a bundle, in the order backends write them. */
const FIELDS = [
  'accessToken',
  'tokenType',
  'refreshToken',
  'idToken',
  'expiresAt',
  'obtainedAt',
  'clientSecret',
  'clientAssertionKey',
  'clientAssertionKeyPath',
  'dpopKey',
] as const satisfies ReadonlyArray<keyof Secrets>

// A field added to Secrets and not to FIELDS would be dropped on every save: make that a type error.
const everyFieldListed: Exclude<keyof Secrets, (typeof FIELDS)[number]> extends never ? true : never = true
void everyFieldListed

/** The fields that are secret: none of them may appear in any message (safe-text.ts). */
const SECRET_FIELDS = ['accessToken', 'refreshToken', 'idToken', 'clientSecret', 'clientAssertionKey', 'dpopKey'] as const satisfies ReadonlyArray<keyof Secrets>

/** Optional text fields taken as they are (the two dates are checked on their own). */
const OPTIONAL_TEXT = ['refreshToken', 'idToken', 'clientSecret', 'clientAssertionKey', 'clientAssertionKeyPath', 'dpopKey'] as const

/** Read secrets as a backend stored them; a ShapeError names the field, never its value. */
export function parseSecrets(value: unknown, what: string): Secrets {
  const entry = expectObject(value, what)
  const secrets: Secrets = {
    accessToken: expectString(entry.accessToken, `${what}: accessToken`),
    tokenType: expectString(entry.tokenType, `${what}: tokenType`),
  }
  for (const field of OPTIONAL_TEXT) {
    const text = optionalString(entry[field], `${what}: ${field}`)
    if (text) secrets[field] = text
  }
  const obtainedAt = optionalString(entry.obtainedAt, `${what}: obtainedAt`)
  if (obtainedAt && !Number.isNaN(Date.parse(obtainedAt))) secrets.obtainedAt = obtainedAt
  const expiresAt = optionalString(entry.expiresAt, `${what}: expiresAt`)
  if (expiresAt) {
    if (Number.isNaN(Date.parse(expiresAt))) throw new ShapeError(`${what}: expiresAt is not a date`)
    secrets.expiresAt = expiresAt
  }
  rememberSecrets(secrets)
  return secrets
}

/** Only the fields of Secrets, in a fixed order: nothing else a caller's object carries is stored. */
export function storableSecrets(secrets: Secrets): Secrets {
  const storable: Record<string, string | undefined> = {}
  for (const field of FIELDS) storable[field] = secrets[field]
  return storable as unknown as Secrets
}

/** Every secret of a bundle, kept out of any message this process shows (see safe-text.ts). */
export function rememberSecrets(secrets: Partial<Secrets>): void {
  for (const field of SECRET_FIELDS) rememberSecret(secrets[field])
  // The key's private part on its own too: a message could quote the JWK's `d` without the rest.
  if (secrets.dpopKey) rememberSecret(/"d":"([\w-]+)"/.exec(secrets.dpopKey)?.[1])
}
