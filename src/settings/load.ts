import {dirname, join} from 'node:path'

import type {Interfaces} from '@oclif/core'

import {AuthError} from '../errors.js'
import {checkPrivateFolder, readPrivateFile, UnsafePathError} from '../private-files.js'
import {layerFromFileBlock, resolveKeys, resolveSettings, type SettingsLayer} from './resolve.js'
import type {AuthSettings, SettingKey} from './settings.js'
import {SETTING_KEYS, SETTING_SPECS} from './specs.js'

/** Settings a command may take as flags; named as the flags are. */
export interface SettingFlags {
  issuer?: string
  'client-id'?: string
  scopes?: string
  storage?: string
  'client-assertion-key'?: string
}

/** The user's own settings file, beside the host's other config (honours `ACME_CONFIG_DIR`). */
export function userSettingsPath(config: Interfaces.Config): string {
  return join(config.configDir, 'auth.json')
}

/** flags > env > user settings file > host package.json > defaults (DESIGN.md, Settings). */
export async function loadSettings(config: Interfaces.Config, flags: SettingFlags = {}): Promise<AuthSettings> {
  return resolveSettings([flagLayer(flags), envLayer(config, SETTING_KEYS), await userFileLayer(config), hostLayer(config, {checkUnknownKeys: true})])
}

/** What the hooks read before every command: settings only the environment or the host can set. */
export type HookSettingKey = 'refreshAhead' | 'refreshAheadWindowSeconds' | 'account' | 'requireAuth'

/**
 * The hooks' settings, resolved by the same table and parsers as every other setting but from the
 * environment and the host's package.json only: these keys are host-only or environment-only, so
 * the user's file cannot hold them, and the hooks never read a file for them. Throws CONFIG_INVALID
 * for a bad value; a typo elsewhere in `oclif.auth` is left to the commands that read it all.
 */
export function loadHookSettings<K extends HookSettingKey>(config: Interfaces.Config, keys: readonly K[]): Pick<AuthSettings, K | 'sources'> {
  return resolveKeys([envLayer(config, keys), hostLayer(config, {checkUnknownKeys: false})], keys)
}

function flagLayer(flags: SettingFlags): SettingsLayer {
  const values: Partial<Record<SettingKey, unknown>> = {}
  for (const key of SETTING_KEYS) {
    const {flag} = SETTING_SPECS[key]
    if (flag) values[key] = flags[flag as keyof SettingFlags]
  }
  return {kind: 'flag', values, describe: (key) => `--${SETTING_SPECS[key].flag}`}
}

function envLayer(config: Interfaces.Config, keys: readonly SettingKey[]): SettingsLayer {
  const values: Partial<Record<SettingKey, unknown>> = {}
  const names: Partial<Record<SettingKey, string>> = {}
  for (const key of keys) {
    const {env} = SETTING_SPECS[key]
    if (!env) continue
    const candidates = config.scopedEnvVarKeys(env)
    const name = candidates.find((candidate) => process.env[candidate] !== undefined && process.env[candidate] !== '')
    names[key] = name ?? candidates[0]
    if (name) values[key] = process.env[name]
  }
  return {kind: 'env', values, describe: (key) => names[key] ?? key}
}

async function userFileLayer(config: Interfaces.Config): Promise<SettingsLayer> {
  const path = userSettingsPath(config)
  let text: string | undefined
  try {
    // The user's settings name the issuer and the credential helper to run: only a file the user
    // owns, that nobody else can write, is read (ACME_CONFIG_DIR=/tmp/x made by another user is not).
    const variable = config.scopedEnvVarKey('CONFIG_DIR')
    if ((await checkPrivateFolder(dirname(path), variable)) === 'ok') text = await readPrivateFile(path, variable)
  } catch (error) {
    if (error instanceof UnsafePathError) throw error
    throw new AuthError('CONFIG_INVALID', `Could not read the settings file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`)
  }
  let block: unknown
  if (text !== undefined) {
    try {
      block = JSON.parse(text)
    } catch {
      throw new AuthError('CONFIG_INVALID', `Invalid settings file ${path}: it is not valid JSON.`, {
        suggestion: 'Fix or delete the file.',
      })
    }
  }
  return layerFromFileBlock('user-file', block, (key) => `${key} in ${path}`, `settings file ${path}`)
}

function hostLayer(config: Interfaces.Config, options: {checkUnknownKeys: boolean}): SettingsLayer {
  const pjsonPath = join(config.root, 'package.json')
  const block = (config.pjson.oclif as {auth?: unknown}).auth
  return layerFromFileBlock('host', block, (key) => `oclif.auth.${key} in ${pjsonPath}`, `oclif.auth in ${pjsonPath}`, options)
}
