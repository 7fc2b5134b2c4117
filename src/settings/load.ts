import {dirname, join} from 'node:path'

import type {Interfaces} from '@oclif/core'

import {AuthError} from '../errors.js'
import {runEnvironment} from '../run-environment.js'
import {checkPrivateFolder, OversizedFileError, readPrivateFile, UnsafePathError} from '../private-files.js'
import {HOOK_SETTING_SPECS, type HookSettingKey} from './hook-specs.js'
import {layerFromBlockRows, layerFromFileBlock, resolveKeys, resolveSettings, type SettingsLayer} from './resolve.js'
import type {AuthSettings, SettingKey} from './settings.js'
import {SETTING_KEYS, SETTING_SPECS, type SettingSpec} from './specs.js'

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
  return resolveSettings([flagLayer(flags), envLayer(config, SETTING_KEYS, SETTING_SPECS), await userFileLayer(config), hostLayer(config)])
}

/**
 * The hooks' settings, resolved by the same table and parsers as every other setting (the table's
 * rows for these keys, HOOK_SETTING_SPECS) but from the environment and the host's package.json
 * only: these keys are host-only or environment-only, so the user's file cannot hold them, and the
 * hooks never read a file for them. Throws CONFIG_INVALID for a bad value; a typo elsewhere in
 * `oclif.auth` is left to the commands that read it all.
 */
export function loadHookSettings<K extends HookSettingKey>(config: Interfaces.Config, keys: readonly K[]): Pick<AuthSettings, K | 'sources'> {
  const {block, describeKey, describeBlock} = hostSource(config)
  const host = layerFromBlockRows('host', block, HOOK_SETTING_SPECS, describeKey, describeBlock)
  return resolveKeys([envLayer(config, keys, HOOK_SETTING_SPECS), host], keys, HOOK_SETTING_SPECS)
}

function flagLayer(flags: SettingFlags): SettingsLayer {
  const values: Partial<Record<SettingKey, unknown>> = {}
  for (const key of SETTING_KEYS) {
    const {flag} = SETTING_SPECS[key]
    if (flag) values[key] = flags[flag as keyof SettingFlags]
  }
  return {kind: 'flag', values, describe: (key) => `--${SETTING_SPECS[key].flag}`}
}

function envLayer<K extends SettingKey>(config: Interfaces.Config, keys: readonly K[], specs: Record<K, SettingSpec>): SettingsLayer {
  const values: Partial<Record<SettingKey, unknown>> = {}
  const names: Partial<Record<SettingKey, string>> = {}
  const variables = runEnvironment(config).env
  for (const key of keys) {
    const {env} = specs[key]
    if (!env) continue
    const candidates = config.scopedEnvVarKeys(env)
    const name = candidates.find((candidate) => variables[candidate] !== undefined && variables[candidate] !== '')
    names[key] = name ?? candidates[0]
    if (name) values[key] = variables[name]
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
    if (error instanceof UnsafePathError || error instanceof OversizedFileError) throw error
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

function hostLayer(config: Interfaces.Config): SettingsLayer {
  const {block, describeKey, describeBlock} = hostSource(config)
  return layerFromFileBlock('host', block, describeKey, describeBlock)
}

/** The host's `oclif.auth` block as its author wrote it in package.json, and how to name it and its keys. */
function hostSource(config: Interfaces.Config): {block: unknown; describeKey: (fileKey: string) => string; describeBlock: string} {
  const pjsonPath = join(config.root, 'package.json')
  return {
    block: (config.pjson.oclif as {auth?: unknown}).auth,
    describeKey: (fileKey) => `oclif.auth.${fileKey} in ${pjsonPath}`,
    describeBlock: `oclif.auth in ${pjsonPath}`,
  }
}
