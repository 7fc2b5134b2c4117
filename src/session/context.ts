import {ux, type Interfaces} from '@oclif/core'

import {AuthError} from '../errors.js'
import {runEnvironment} from '../run-environment.js'
import {displaySafe, rememberSecret} from '../safe-text.js'
import {HostCommands} from '../host-commands.js'
import {loadSettings, userSettingsPath, type SettingFlags} from '../settings/load.js'
import type {AuthSettings} from '../settings/settings.js'
import {AccountStore} from '../store/account-store.js'
import type {TransportSettings} from '../transport/transport-fetch.js'
import {startBackgroundRefresh} from './start-refresh-ahead.js'

/** What the session asks of the issuer: provider/api.ts. */
export type ProviderApi = typeof import('../provider/api.js')

/** The host's scoped variables: `ACME_TOKEN`, `ACME_BROWSER`, `ACME_ACCESS_TOKEN`, `ACME_AUTH_STORAGE`. */
export interface EnvNames {
  token: string
  browser: string
  accessToken: string
  storage: string
  issuer: string
  clientId: string
  clientSecret: string
  federatedTokenFile: string
  federatedTokenCommand: string
  caFile: string
  dpop: string
}

/** What the session layer works with: settings, the store, the issuer, the clock. */
export interface AuthContext {
  settings: AuthSettings
  /** How the host spells our commands, for suggestions: `acme auth login`. */
  commands: HostCommands
  store: AccountStore
  envNames: EnvNames
  /** The variables this command runs with (run-environment.ts): settings, ACME_TOKEN, what child processes inherit. */
  env: NodeJS.ProcessEnv
  /** The user's settings file, `<configDir>/auth.json`, named in messages about settings. */
  settingsFile: string
  /** The issuer side, loaded on first use: a command whose token is fresh never loads openid-client. */
  provider: () => Promise<ProviderApi>
  /** The token lifecycle's clock (ms since the epoch); tests pass a fake one. */
  now: () => number
  /** One line for the person at the terminal that does not stop the command (on stderr, never in --json output). */
  notify: (message: string) => void
  /**
   * Refresh this account in a detached process (see startBackgroundRefresh): when it started, or
   * undefined when no such process can be started here (then the refresh runs in this one).
   */
  refreshElsewhere?: (accountKey: string) => Promise<{since: number} | undefined>
}

/** Settings resolved and validated once, and the store they describe. */
export async function authContext(config: Interfaces.Config, flags: SettingFlags = {}): Promise<AuthContext> {
  const settings = await loadSettings(config, flags)
  const envNames = hostEnvNames(config)
  const {env} = runEnvironment(config)
  const commands = new HostCommands(config.bin, config.topicSeparator)
  const notify = (message: string) => ux.warn(displaySafe(message))
  const store = new AccountStore({
    dataDir: config.dataDir,
    bin: config.bin,
    keyringTimeoutMs: settings.keyringTimeoutSeconds * 1000,
    keyringEntryLimit: settings.keyringEntryLimit,
    inMemory: settings.storage === 'memory',
    configuredStorage: settings.storage,
    configuredStorageSource: settings.sources.storage,
    dataDirVariable: config.scopedEnvVarKey('DATA_DIR'),
    notify,
    lockWaitMs: settings.lockWaitSeconds * 1000,
    env,
  })
  // One clock for the whole lifecycle: the background hand-off's deadline is measured on it too.
  const now = Date.now
  const refreshElsewhere = (accountKey: string) => startBackgroundRefresh(config, accountKey, () => {}, now)
  return {settings, commands, store, envNames, env, settingsFile: userSettingsPath(config), provider: loadProvider, now, notify, refreshElsewhere}
}

export function hostEnvNames(config: Interfaces.Config): EnvNames {
  return {
    token: config.scopedEnvVarKey('TOKEN'),
    browser: config.scopedEnvVarKey('BROWSER'),
    accessToken: config.scopedEnvVarKey('ACCESS_TOKEN'),
    storage: config.scopedEnvVarKey('AUTH_STORAGE'),
    issuer: config.scopedEnvVarKey('AUTH_ISSUER'),
    clientId: config.scopedEnvVarKey('AUTH_CLIENT_ID'),
    clientSecret: config.scopedEnvVarKey('AUTH_CLIENT_SECRET'),
    federatedTokenFile: config.scopedEnvVarKey('AUTH_FEDERATED_TOKEN_FILE'),
    federatedTokenCommand: config.scopedEnvVarKey('AUTH_FEDERATED_TOKEN_COMMAND'),
    caFile: config.scopedEnvVarKey('AUTH_CA_FILE'),
    dpop: config.scopedEnvVarKey('AUTH_DPOP'),
  }
}

/** How requests leave the process (transport/transport-fetch.ts): the caFile setting, and how this host spells it. */
export function transportSettings(context: AuthContext): TransportSettings {
  const {caFile, sources} = context.settings
  return {caFile: caFile ? {path: caFile, source: sources.caFile ?? 'caFile'} : undefined, caFileVariable: context.envNames.caFile, env: context.env}
}

function loadProvider(): Promise<ProviderApi> {
  return import('../provider/api.js')
}

/** CI's way in (DESIGN.md, Lifecycle): a token in `ACME_TOKEN` wins and nothing else is consulted. */
export function environmentToken(context: AuthContext): string | undefined {
  const value = context.env[context.envNames.token]?.trim()
  rememberSecret(value)
  return value ? value : undefined
}

/**
 * `auth login`, `logout` and `switch` act on stored logins, which nothing uses while `ACME_TOKEN` is
 * set: refuse rather than let the user believe the change affects what commands use (gh does too).
 */
export function refuseWhileEnvironmentToken(context: AuthContext, doing: string): void {
  if (!environmentToken(context)) return
  throw new AuthError('USAGE', `${context.envNames.token} is set, so commands use it and no stored login.`, {
    suggestion: `Unset ${context.envNames.token} to ${doing}.`,
  })
}
