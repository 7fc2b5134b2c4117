import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import type {Interfaces} from '@oclif/core'

import {AuthError} from '../errors.js'
import {SETTING_SPECS, layerFromFileBlock, resolveSettings, type SettingsLayer} from './resolve.js'
import type {AuthSettings, SettingKey} from './settings.js'

/** Settings a command may take as flags; named as the flags are. */
export interface SettingFlags {
  issuer?: string
  'client-id'?: string
  scopes?: string
  storage?: string
}

/** The user's own settings file, beside the host's other config (honours `ACME_CONFIG_DIR`). */
export function userSettingsPath(config: Interfaces.Config): string {
  return join(config.configDir, 'auth.json')
}

/** flags > env > user settings file > host package.json > defaults (DESIGN.md, Settings). */
export async function loadSettings(config: Interfaces.Config, flags: SettingFlags = {}): Promise<AuthSettings> {
  return resolveSettings([
    flagLayer(flags),
    envLayer(config),
    await userFileLayer(config),
    hostLayer(config),
  ])
}

function flagLayer(flags: SettingFlags): SettingsLayer {
  const values: Partial<Record<SettingKey, unknown>> = {}
  for (const [key, spec] of Object.entries(SETTING_SPECS) as [SettingKey, (typeof SETTING_SPECS)[SettingKey]][]) {
    if (spec.flag) values[key] = flags[spec.flag as keyof SettingFlags]
  }
  return {kind: 'flag', values, describe: (key) => `--${SETTING_SPECS[key].flag}`}
}

function envLayer(config: Interfaces.Config): SettingsLayer {
  const values: Partial<Record<SettingKey, unknown>> = {}
  const names: Partial<Record<SettingKey, string>> = {}
  for (const [key, spec] of Object.entries(SETTING_SPECS) as [SettingKey, (typeof SETTING_SPECS)[SettingKey]][]) {
    if (!spec.env) continue
    const candidates = config.scopedEnvVarKeys(spec.env)
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
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new AuthError('CONFIG_INVALID', `Could not read the settings file ${path}: ${(error as Error).message}.`)
    }
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
  const pjsonPath = join(config.root, 'package.json')
  const block = (config.pjson.oclif as {auth?: unknown}).auth
  return layerFromFileBlock('host', block, (key) => `oclif.auth.${key} in ${pjsonPath}`, `oclif.auth in ${pjsonPath}`)
}
