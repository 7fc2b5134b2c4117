import {AuthError} from '../errors.js'
import {bindingsOf} from './binding.js'
import {ParseProblem, isLoopbackHost} from './parse.js'
import type {AuthSettings, SettingKey} from './settings.js'
import {SETTING_KEYS, SETTING_SPECS, type SettingSpec} from './specs.js'

/** One place settings come from. Earlier layers win. */
export interface SettingsLayer {
  kind: 'flag' | 'env' | 'user-file' | 'host'
  /** Raw values keyed by setting; a missing or undefined value means "not set here". */
  values: Partial<Record<SettingKey, unknown>>
  /** How to name a key of this layer in a message, e.g. `ACME_AUTH_STORAGE` or `--storage`. */
  describe: (key: SettingKey) => string
}

/**
 * Merge the layers (first wins) and validate every value that is set, so a typo anywhere is
 * reported even when a higher layer overrides it: a broken config file should not lie in wait.
 */
export function resolveSettings(layers: SettingsLayer[]): AuthSettings {
  const result = resolveKeys(layers, SETTING_KEYS, SETTING_SPECS) as AuthSettings
  if (result.issuer) checkTransport(result)
  result.bindings = bindingsOf(layers)
  return result
}

/**
 * The same merge for some keys only, by their rows of the table (`specs`: SETTING_SPECS, or the
 * hooks' HOOK_SETTING_SPECS): what the hooks need, without reading what they do not.
 */
export function resolveKeys<K extends SettingKey>(layers: SettingsLayer[], keys: readonly K[], specs: Record<K, SettingSpec>): Pick<AuthSettings, K | 'sources'> {
  const settings: Record<string, unknown> = {sources: {}}
  const sources = settings.sources as Record<string, string>
  for (const key of keys) {
    const spec = specs[key]
    for (const layer of [...layers].reverse()) {
      const raw = layer.values[key]
      if (raw === undefined) continue
      settings[key] = parseOrExplain(spec, raw, layer.describe(key))
      sources[key] = layer.describe(key)
    }
    if (settings[key] === undefined && spec.fallback !== undefined) {
      settings[key] = structuredClone(spec.fallback)
      sources[key] = 'default'
    }
  }
  return settings as Pick<AuthSettings, K | 'sources'>
}

function parseOrExplain(spec: SettingSpec, raw: unknown, where: string): unknown {
  try {
    return spec.parse(raw)
  } catch (error) {
    if (error instanceof ParseProblem) {
      throw new AuthError('CONFIG_INVALID', `Invalid ${where}: ${error.message}.`)
    }
    throw error
  }
}

function checkTransport(settings: AuthSettings): void {
  const url = new URL(settings.issuer!)
  if (url.protocol === 'https:' || settings.allowInsecureIssuer) return
  if (isLoopbackHost(url.hostname)) return
  throw new AuthError(
    'CONFIG_INVALID',
    `Invalid ${settings.sources.issuer}: the issuer must use https (plain http is only allowed for a loopback address).`,
    {suggestion: 'Use an https issuer URL, or set allowInsecureIssuer in the host\'s oclif.auth for a test server.'},
  )
}

/**
 * Read a block of settings written by a person (host package.json or user file): unknown keys are
 * errors too, because a misspelt `clientID` silently ignored costs an afternoon.
 */
export function layerFromFileBlock(
  kind: 'user-file' | 'host',
  block: unknown,
  describeKey: (fileKey: string) => string,
  describeBlock: string,
): SettingsLayer {
  const layer = layerFromBlockRows(kind, block, SETTING_SPECS, describeKey, describeBlock)
  // By now the block is an object, or null or undefined (an empty layer): anything else has thrown.
  if (block) checkUnknownKeys(block as Record<string, unknown>, fileKeysOf(SETTING_SPECS, kind), describeBlock)
  return layer
}

/**
 * The values of a settings block for the rows `specs` names, without judging the rest of the
 * block: the hooks read their few rows of the host's block this way, and leave a typo elsewhere to
 * the commands, which read it all.
 */
export function layerFromBlockRows<K extends SettingKey>(
  kind: 'user-file' | 'host',
  block: unknown,
  specs: Record<K, SettingSpec>,
  describeKey: (fileKey: string) => string,
  describeBlock: string,
): SettingsLayer {
  const values: Partial<Record<SettingKey, unknown>> = {}
  const describe = (key: SettingKey) => describeKey(specs[key as K].fileKey)
  if (block === undefined || block === null) return {kind, values, describe}
  if (typeof block !== 'object' || Array.isArray(block)) {
    throw new AuthError('CONFIG_INVALID', `Invalid ${describeBlock}: expected an object of auth settings.`)
  }
  for (const key of fileKeysOf(specs, kind)) {
    const value = specs[key].fileKey
      .split('.')
      .reduce<unknown>((node, part) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined), block)
    if (value !== undefined) values[key] = value
  }
  return {kind, values, describe}
}

/** The keys a block of this kind may set: a user's file no host-only key, no block an environment-only one. */
function fileKeysOf<K extends SettingKey>(specs: Record<K, SettingSpec>, kind: 'user-file' | 'host'): K[] {
  return (Object.keys(specs) as K[]).filter((key) => !specs[key].envOnly && (kind === 'host' || !specs[key].hostOnly))
}

function checkUnknownKeys(block: Record<string, unknown>, keys: SettingKey[], describeBlock: string): void {
  const known = new Set(keys.map((key) => SETTING_SPECS[key].fileKey.split('.')[0]))
  for (const name of Object.keys(block)) {
    if (!known.has(name)) {
      throw new AuthError('CONFIG_INVALID', `Invalid ${describeBlock}: unknown setting '${name}'.`, {
        suggestion: `Known settings: ${[...known].join(', ')}.`,
      })
    }
  }
  checkNestedKeys(block, describeBlock)
}

/** Nested blocks (`commands: {require}`) get the same typo check as the top level. */
function checkNestedKeys(block: Record<string, unknown>, describeBlock: string): void {
  const nested = new Map<string, Set<string>>()
  for (const key of SETTING_KEYS) {
    const [parent, child] = SETTING_SPECS[key].fileKey.split('.')
    if (child) nested.set(parent, (nested.get(parent) ?? new Set()).add(child))
  }
  for (const [parent, children] of nested) {
    const value = block[parent]
    if (value === undefined) continue
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new AuthError('CONFIG_INVALID', `Invalid ${describeBlock}: '${parent}' must be an object with ${[...children].join(', ')}.`)
    }
    for (const name of Object.keys(value)) {
      if (!children.has(name)) {
        throw new AuthError('CONFIG_INVALID', `Invalid ${describeBlock}: unknown setting '${parent}.${name}'.`, {
          suggestion: `Known settings under ${parent}: ${[...children].join(', ')}.`,
        })
      }
    }
  }
}
