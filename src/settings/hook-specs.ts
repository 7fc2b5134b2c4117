import {parsePatterns, parseRefreshAhead, parseSeconds, parseText} from './parse.js'
import type {SettingSpec} from './specs.js'

/** What the hooks read before every command: settings only the environment or the host can set. */
export type HookSettingKey = 'refreshAhead' | 'refreshAheadWindowSeconds' | 'account' | 'requireAuth'

/**
 * The rows of the settings table (specs.ts) that the hooks read. They live here so that the hooks,
 * which run before every command of the host, carry these four rows and their parsers and not the
 * whole table: the build bundles the hooks with only what they use (scripts/bundle.js).
 */
export const HOOK_SETTING_SPECS: Record<HookSettingKey, SettingSpec> = {
  requireAuth: {parse: parsePatterns, fallback: [], fileKey: 'commands.require', hostOnly: true},
  refreshAhead: {parse: parseRefreshAhead, fallback: 'background', env: 'AUTH_REFRESH_AHEAD', fileKey: 'refreshAhead', hostOnly: true},
  refreshAheadWindowSeconds: {parse: parseSeconds, env: 'AUTH_REFRESH_AHEAD_WINDOW', fileKey: 'refreshAheadWindow', hostOnly: true},
  account: {parse: parseText, env: 'AUTH_ACCOUNT', fileKey: 'account', envOnly: true},
}
