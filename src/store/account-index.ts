import {AuthError, type NextStep} from '../errors.js'
import {oneLineSafe} from '../safe-text.js'
import {accountsNamed} from './account-match.js'
import {writeFileAtomic} from './atomic-file.js'
import {ShapeError, expectObject, expectString, expectVersion1, optionalString, readStoredJson} from './stored-json.js'

/** What we know about a signed-in account, without its secrets. */
export interface AccountRecord {
  /** `<issuer>|<clientId>|<subject>`: also the keychain account name, so it never changes. */
  key: string
  issuer: string
  clientId: string
  subject: string
  name?: string
  email?: string
  scopes: string[]
  /** When the stored access token expires (ISO-8601), or null when the issuer did not say. */
  expiresAt: string | null
  hasRefreshToken: boolean
  /** The backend that holds this account's secrets. */
  storage: string
  /** Set while a migration has copied the secrets but not yet removed them from this backend. */
  migratingFrom?: string
  /** Chosen with `auth login --storage`: a change of the configured storage does not move it. */
  storagePinned?: boolean
  updatedAt: string
  /** Endpoints set by hand at sign-in (an issuer without metadata): refreshes and logout use them. */
  endpoints?: Record<string, string>
  /** RFC 8707 resources the login was made for: sent again with every refresh. */
  resource?: string[]
  /** A machine signed in as the client itself (client_credentials), and how it authenticates. */
  clientAuth?: 'client_secret' | 'private_key_jwt' | 'federated'
  /**
   * The RFC 7638 thumbprint of the login's DPoP key, when its tokens are bound to one (RFC 9449):
   * public, as the issuer writes it in the token's `cnf.jkt`. The key itself is a secret.
   */
  dpopJkt?: string
}

/** A refresh token the issuer rejected: not to be tried again in the background until `until`. */
export interface Tombstone {
  refreshTokenHash: string
  until: string
}

/** A refresh that failed because the issuer could not be reached: later commands skip it until `until`. */
export interface RefreshFailure {
  /** The first failure of this run of them (ISO-8601). */
  since: string
  until: string
  failures: number
  /** One short clause: "connection refused", "no answer in 2.5 s". */
  reason: string
}

/**
 * The metadata index, `dataDir/auth/accounts.json`. Small and secret-free, so the hooks can decide
 * from it alone whether there is work to do before every command.
 */
export interface AccountIndex {
  version: 1
  /** Bumped on every write: a count for people reading the file. Processes tell that someone else refreshed by comparing the secrets (see ensureFresh). */
  gen: number
  defaultAccount: string | null
  accounts: AccountRecord[]
  tombstones: Record<string, Tombstone>
  /** Accounts whose issuer did not answer lately (session/outage.ts). */
  refreshFailures: Record<string, RefreshFailure>
  /**
   * How far taking over the host's earlier login went (session/adopt-login.ts); absent until it
   * starts. Optional, so an index written before it existed still reads.
   */
  adoption?: Adoption
}

/**
 * `waiting`: it failed before anything was saved (the issuer did not answer, say); nothing was changed,
 * and no command tries again before `until`.
 * `clear`: the login is saved here, or there was nothing usable to take over, and only the host's
 * old copy is left to clear (its refresh token may be spent: it is never read or sent again).
 * `done`: nothing is left to do, and the host's `read()` is not called again.
 */
export interface Adoption {
  state: 'waiting' | 'clear' | 'done'
  /** When it reached this state (ISO-8601). */
  since: string
  /** `waiting` only: the earliest time to try again (ISO-8601). */
  until?: string
}

export function accountKey(issuer: string, clientId: string, subject: string): string {
  return `${issuer}|${clientId}|${subject}`
}

/** An account as messages name it: `Alice (alice) at https://id.example.com`, or `client 'acme-ci' at …` for a machine. */
export function describeAccount(account: AccountRecord): string {
  // Every part came from an issuer or the index file: each on one line, so none forges a line of ours.
  const issuer = oneLineSafe(account.issuer)
  // A machine signs in as its client: its subject is whatever the issuer put in the token, its name is none.
  if (account.clientAuth) return `client '${oneLineSafe(account.clientId)}' at ${issuer}`
  const subject = oneLineSafe(account.subject)
  const who = account.name ? `${oneLineSafe(account.name)} (${subject})` : subject
  return `${who} at ${issuer}`
}

export function emptyIndex(): AccountIndex {
  return {version: 1, gen: 0, defaultAccount: null, accounts: [], tombstones: {}, refreshFailures: {}}
}

export async function readIndex(path: string, next: NextStep): Promise<AccountIndex> {
  return (await readStoredJson(path, parseIndex, next)) ?? emptyIndex()
}

export async function writeIndex(path: string, index: AccountIndex): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(index, null, 2)}\n`)
}

/**
 * The account a command acts on: the one asked for (by key, subject, email or name), else the
 * default. A name that fits several accounts is an error, never a guess.
 */
export function pickAccount(index: AccountIndex, wanted?: string): AccountRecord | undefined {
  if (!wanted) return index.accounts.find((account) => account.key === index.defaultAccount) ?? index.accounts[0]
  const matches = accountsNamed(index.accounts, wanted)
  if (matches.length > 1) {
    throw new AuthError('USAGE', `'${wanted}' matches ${matches.length} accounts: ${matches.map((account) => account.key).join(', ')}.`, {
      suggestion: 'Name it by one of these full keys (issuer|clientId|subject).',
    })
  }
  return matches[0]
}

export function parseIndex(data: unknown, path = 'the index'): AccountIndex {
  const file = expectObject(data, 'the index')
  expectVersion1(file, path)
  if (typeof file.gen !== 'number' || !Number.isSafeInteger(file.gen) || file.gen < 0) throw new ShapeError('gen is not a counter')
  if (!Array.isArray(file.accounts)) throw new ShapeError('accounts is not a list')
  const accounts = file.accounts.map((entry, i) => parseAccount(entry, `accounts[${i}]`))
  const defaultAccount = file.defaultAccount === null ? null : expectString(file.defaultAccount, 'defaultAccount')
  const tombstones: Record<string, Tombstone> = {}
  for (const [key, value] of Object.entries(expectObject(file.tombstones ?? {}, 'tombstones'))) {
    const entry = expectObject(value, `tombstone ${key}`)
    tombstones[key] = {
      refreshTokenHash: expectString(entry.refreshTokenHash, `tombstone ${key}`),
      until: expectDate(entry.until, `tombstone ${key}: until`),
    }
  }
  const refreshFailures: Record<string, RefreshFailure> = {}
  for (const [key, value] of Object.entries(expectObject(file.refreshFailures ?? {}, 'refreshFailures'))) {
    const entry = expectObject(value, `refreshFailures ${key}`)
    if (typeof entry.failures !== 'number' || !Number.isSafeInteger(entry.failures) || entry.failures < 1) throw new ShapeError(`refreshFailures ${key}: failures is not a count`)
    refreshFailures[key] = {
      since: expectDate(entry.since, `refreshFailures ${key}: since`),
      until: expectDate(entry.until, `refreshFailures ${key}: until`),
      failures: entry.failures,
      reason: expectString(entry.reason, `refreshFailures ${key}: reason`).slice(0, 200),
    }
  }
  const index: AccountIndex = {version: 1, gen: file.gen, defaultAccount, accounts, tombstones, refreshFailures}
  // A note this version cannot read (a later version's) is left out, not a reason to set the whole
  // index aside: at worst the old copy is looked at once more, which finds nothing or only clears it.
  const adoption = file.adoption as {state?: unknown; since?: unknown; until?: unknown} | undefined
  const isDate = (value: unknown): value is string => typeof value === 'string' && !Number.isNaN(Date.parse(value))
  if ((adoption?.state === 'clear' || adoption?.state === 'done') && isDate(adoption.since)) index.adoption = {state: adoption.state, since: adoption.since}
  if (adoption?.state === 'waiting' && isDate(adoption.since) && isDate(adoption.until)) index.adoption = {state: 'waiting', since: adoption.since, until: adoption.until}
  return index
}

function parseAccount(value: unknown, what: string): AccountRecord {
  const entry = expectObject(value, what)
  const scopes = entry.scopes
  if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string')) throw new ShapeError(`${what}: scopes is not a list`)
  if (typeof entry.hasRefreshToken !== 'boolean') throw new ShapeError(`${what}: hasRefreshToken is not a boolean`)
  const record: AccountRecord = {
    key: expectString(entry.key, `${what}: key`),
    issuer: expectString(entry.issuer, `${what}: issuer`),
    clientId: expectString(entry.clientId, `${what}: clientId`),
    subject: expectString(entry.subject, `${what}: subject`),
    scopes: scopes as string[],
    expiresAt: entry.expiresAt === null ? null : expectDate(entry.expiresAt, `${what}: expiresAt`),
    hasRefreshToken: entry.hasRefreshToken,
    storage: expectString(entry.storage, `${what}: storage`),
    updatedAt: expectDate(entry.updatedAt, `${what}: updatedAt`),
  }
  const migratingFrom = optionalString(entry.migratingFrom, `${what}: migratingFrom`)
  if (migratingFrom) record.migratingFrom = migratingFrom
  if (entry.storagePinned !== undefined && typeof entry.storagePinned !== 'boolean') throw new ShapeError(`${what}: storagePinned is not a boolean`)
  if (entry.storagePinned) record.storagePinned = true
  const name = optionalString(entry.name, `${what}: name`)
  const email = optionalString(entry.email, `${what}: email`)
  if (name) record.name = name
  if (email) record.email = email
  if (entry.endpoints !== undefined) {
    const endpoints = expectObject(entry.endpoints, `${what}: endpoints`)
    for (const [name, url] of Object.entries(endpoints)) expectString(url, `${what}: endpoints.${name}`)
    record.endpoints = endpoints as Record<string, string>
  }
  if (entry.clientAuth !== undefined) {
    if (!['client_secret', 'private_key_jwt', 'federated'].includes(entry.clientAuth as string)) throw new ShapeError(`${what}: clientAuth is not known`)
    record.clientAuth = entry.clientAuth as AccountRecord['clientAuth']
  }
  if (entry.resource !== undefined) {
    if (!Array.isArray(entry.resource) || entry.resource.some((item) => typeof item !== 'string')) throw new ShapeError(`${what}: resource is not a list`)
    record.resource = entry.resource as string[]
  }
  const dpopJkt = optionalString(entry.dpopJkt, `${what}: dpopJkt`)
  if (dpopJkt) {
    if (!/^[\w-]{43}$/.test(dpopJkt)) throw new ShapeError(`${what}: dpopJkt is not a key thumbprint`)
    record.dpopJkt = dpopJkt
  }
  if (record.key !== accountKey(record.issuer, record.clientId, record.subject)) throw new ShapeError(`${what}: key does not match`)
  return record
}

function expectDate(value: unknown, what: string): string {
  const text = expectString(value, what)
  if (Number.isNaN(Date.parse(text))) throw new ShapeError(`${what} is not a date`)
  return text
}

