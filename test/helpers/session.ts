// An AuthContext for in-process tests of the session layer: the memory store, a clock the test
// moves, and the issuer side given by the test (its refresh grant as a function the test scripts).
// What is under test is the session's story (lock, re-read, tombstone, back-off), not the issuer.

import {AuthError} from '../../src/errors.js'
import {HostCommands} from '../../src/host-commands.js'
import type {AuthContext, ProviderApi} from '../../src/session/context.js'
import {resolveSettings} from '../../src/settings/resolve.js'
import type {SettingKey} from '../../src/settings/settings.js'
import {accountKey, type AccountRecord} from '../../src/store/account-index.js'
import {AccountStore} from '../../src/store/account-store.js'
import type {Secrets} from '../../src/store/secrets.js'

export const ISSUER = 'https://id.example.com'
export const CLIENT_ID = 'acme-cli'
export const T0 = Date.parse('2026-11-23T12:00:00.000Z')

/** A clock that stands still until the test moves it. */
export interface FakeClock {
  now: () => number
  advance(seconds: number): void
}

export function fakeClock(start = T0): FakeClock {
  let time = start
  return {now: () => time, advance: (seconds) => (time += seconds * 1000)}
}

/** The issuer side as the test scripts it; every refresh grant is counted and sees the token sent. */
export interface ScriptedIssuer {
  /** Answer one refresh grant: return the new secrets (or throw an AuthError). */
  refresh: (sent: Secrets, attempt: number) => Promise<Secrets> | Secrets
  /**
   * Runs when the session connects to the issuer, before it sends the grant:
   * where another process's save can still land (the window the re-read after a rejection covers).
   */
  onConnect?: (connection: number) => Promise<void> | void
  connections: number
  /** The refresh tokens sent, in order. */
  sent: string[]
  /** How often the session loaded the provider at all. */
  loads: number
}

export function scriptedIssuer(refresh: ScriptedIssuer['refresh'], onConnect?: ScriptedIssuer['onConnect']): ScriptedIssuer {
  return {refresh, onConnect, sent: [], loads: 0, connections: 0}
}

export interface SessionContextOptions {
  issuer: ScriptedIssuer
  clock: FakeClock
  settings?: Partial<Record<SettingKey, unknown>>
  notices?: string[]
  /**
   * Keep the store in this data folder, as a command does (index, lock files, rescue files), with the
   * storage the settings name (`file` unless they name one); nothing persisted (memory) when absent.
   */
  dataDir?: string
}

export function sessionContext(options: SessionContextOptions): AuthContext {
  const {dataDir} = options
  const storage = dataDir ? 'file' : 'memory'
  const settings = resolveSettings([{kind: 'host', values: {issuer: ISSUER, clientId: CLIENT_ID, storage, ...options.settings}, describe: (key) => key}])
  const commands = new HostCommands('acme')
  const store = dataDir
    ? new AccountStore({dataDir, bin: 'acme', keyringTimeoutMs: 1000, configuredStorage: settings.storage, lockWaitMs: settings.lockWaitSeconds * 1000})
    : new AccountStore({dataDir: '/nonexistent', bin: 'acme', keyringTimeoutMs: 1000, inMemory: true})
  const {issuer} = options
  const provider = {
    async connect(client: {issuer: string; clientId: string}) {
      await issuer.onConnect?.(++issuer.connections)
      return {...client, config: undefined, fromCache: false, forgetMetadata: async () => {}}
    },
    async refreshTokens(_issuer: unknown, current: Secrets) {
      issuer.sent.push(current.refreshToken!)
      return issuer.refresh(current, issuer.sent.length)
    },
  } as unknown as ProviderApi
  return {
    settings,
    commands,
    store,
    env: process.env,
    envNames: {token: 'ACME_TOKEN', browser: 'ACME_BROWSER', accessToken: 'ACME_ACCESS_TOKEN', storage: 'ACME_AUTH_STORAGE', issuer: 'ACME_AUTH_ISSUER', clientId: 'ACME_AUTH_CLIENT_ID', clientSecret: 'ACME_AUTH_CLIENT_SECRET', federatedTokenFile: 'ACME_AUTH_FEDERATED_TOKEN_FILE', federatedTokenCommand: 'ACME_AUTH_FEDERATED_TOKEN_COMMAND', dpop: 'ACME_AUTH_DPOP', caFile: 'ACME_AUTH_CA_FILE'},
    settingsFile: '/nonexistent/auth.json',
    async provider() {
      issuer.loads++
      return provider
    },
    now: options.clock.now,
    notify: (message) => options.notices?.push(message),
  }
}

/** Sign `subject` in directly through the store, with tokens that expire `expiresIn` seconds from now. */
export async function storeLogin(context: AuthContext, secrets: {accessToken: string; refreshToken?: string; expiresIn?: number}, subject = 'alice'): Promise<AccountRecord> {
  const expiresAt = secrets.expiresIn === undefined ? undefined : new Date(context.now() + secrets.expiresIn * 1000).toISOString()
  const record: AccountRecord = {
    key: accountKey(ISSUER, CLIENT_ID, subject),
    issuer: ISSUER,
    clientId: CLIENT_ID,
    subject,
    scopes: ['openid', 'offline_access'],
    expiresAt: expiresAt ?? null,
    hasRefreshToken: Boolean(secrets.refreshToken),
    storage: context.settings.storage === 'auto' ? 'file' : context.settings.storage,
    updatedAt: new Date(context.now()).toISOString(),
  }
  const stored: Secrets = {accessToken: secrets.accessToken, tokenType: 'Bearer'}
  if (secrets.refreshToken) stored.refreshToken = secrets.refreshToken
  if (expiresAt) stored.expiresAt = expiresAt
  await context.store.saveLogin(record, stored, {makeDefault: true})
  return record
}

/** Tokens as an issuer hands them out: `lifetime` seconds from the clock's now. */
export function issued(clock: FakeClock, name: string, lifetime = 3600, rotate = true): Secrets {
  return {
    accessToken: `at-${name}`,
    tokenType: 'Bearer',
    ...(rotate ? {refreshToken: `rt-${name}`} : {}),
    expiresAt: new Date(clock.now() + lifetime * 1000).toISOString(),
  }
}

export const rejected = () => new AuthError('REAUTH_REQUIRED', 'The issuer rejected the stored refresh token (invalid_grant).')
export const unreachable = () => new AuthError('TRANSIENT', 'Could not reach the issuer (connection refused).', {reason: 'connection refused'})

/** What another process does when it refreshes and saves: the store as it would leave it. */
export async function savedElsewhere(context: AuthContext, account: AccountRecord, secrets: Secrets): Promise<void> {
  await context.store.refreshAndSave(account, async () => secrets)
}
