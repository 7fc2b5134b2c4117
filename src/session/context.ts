import type {Interfaces} from '@oclif/core'

import {AuthError} from '../errors.js'
import {loadSettings, type SettingFlags} from '../settings/load.js'
import {ParseProblem, parseSeconds} from '../settings/parse.js'
import type {AuthSettings} from '../settings/settings.js'
import {AccountStore} from '../store/account-store.js'

/** What the session layer needs to know about the host it runs in. */
export interface AuthContext {
  config: Interfaces.Config
  settings: AuthSettings
  /** The host's command name, for suggestions: `acme auth login`. */
  bin: string
  store: AccountStore
  /** The host's scoped variables: `ACME_TOKEN`, `ACME_BROWSER`, `ACME_ACCESS_TOKEN`, `ACME_AUTH_STORAGE`. */
  envNames: {token: string; browser: string; accessToken: string; storage: string}
}

/** Settings resolved and validated once, and the store they describe. */
export async function authContext(config: Interfaces.Config, flags: SettingFlags = {}): Promise<AuthContext> {
  const settings = await loadSettings(config, flags)
  const envNames = {
    token: config.scopedEnvVarKey('TOKEN'),
    browser: config.scopedEnvVarKey('BROWSER'),
    accessToken: config.scopedEnvVarKey('ACCESS_TOKEN'),
    storage: config.scopedEnvVarKey('AUTH_STORAGE'),
  }
  const store = new AccountStore({
    dataDir: config.dataDir,
    bin: config.bin,
    authCommandPrefix: hostAuthCommand(config, ''),
    storageVariable: envNames.storage,
    keyringTimeoutMs: settings.keyringTimeoutSeconds * 1000,
    keyringEntryLimit: settings.keyringEntryLimit,
    inMemory: settings.storage === 'memory',
    lockWaitMs: lockWaitMs(config),
  })
  return {config, settings, bin: config.bin, store, envNames}
}

/**
 * How long a command waits for another process's store or refresh lock: `ACME_AUTH_LOCK_WAIT` seconds,
 * else the lock's default (30 s). Hidden on purpose, not one of the documented settings: it lets the
 * tests of "waits, then gives up with exit 75" take seconds instead of 30 s each. Saving a refreshed
 * login keeps its own, longer wait.
 */
function lockWaitMs(config: Interfaces.Config): number | undefined {
  const variable = config.scopedEnvVarKey('AUTH_LOCK_WAIT')
  const raw = process.env[variable]
  if (raw === undefined || raw === '') return undefined
  try {
    return parseSeconds(raw) * 1000
  } catch (error) {
    if (error instanceof ParseProblem) throw new AuthError('CONFIG_INVALID', `Invalid ${variable}: ${error.message}.`)
    throw error
  }
}

/** CI's way in (DESIGN.md, Lifecycle): a token in `ACME_TOKEN` wins and nothing else is consulted. */
export function environmentToken(context: AuthContext): string | undefined {
  const value = process.env[context.envNames.token]?.trim()
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

/** How the host spells one of our commands: `acme auth login`, or `acme auth:login` with oclif's default separator. */
export function hostAuthCommand(config: Interfaces.Config, subcommand: string): string {
  return `${config.bin} auth${config.topicSeparator}${subcommand}`
}

export function loginCommand(context: AuthContext): string {
  return hostAuthCommand(context.config, 'login')
}
