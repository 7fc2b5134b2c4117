/**
 * Refresh ahead of time, from the init hook before every command of the host: decided from the
 * metadata index alone (one small file), with node built-ins and a few small modules of ours;
 * starting the refresh, and everything that talks to the issuer or the keychain, is loaded only when
 * a refresh is due (start-refresh-ahead.ts).
 */
import type {Interfaces} from '@oclif/core'

import {readPrivateFileSync} from '../private-files.js'
import {runEnvironment} from '../run-environment.js'
import {loadHookSettings} from '../settings/load.js'
import {accountsNamed} from '../store/account-match.js'
import {storePaths} from '../store/paths.js'
import {refreshMarginSeconds} from './freshness.js'

/**
 * The init hook's work. When the account commands use (`ACME_AUTH_ACCOUNT`, else the default) is
 * inside its refresh-ahead window, refresh it ahead of time: in a detached process by default, so
 * no command waits (`refreshAhead: background`), or before the command (`inline`). Of N commands
 * that start together one refreshes. Never throws, prints nothing: `debug` is for DEBUG output.
 */
export async function refreshAheadBeforeCommand(config: Interfaces.Config, commandId: string | undefined, debug: (message: string) => void, now: () => number = Date.now): Promise<void> {
  // The auth commands manage the login themselves; a refresh racing `auth logout` helps nobody.
  if (commandId?.startsWith('auth:')) return
  try {
    await refreshAheadIfDue(config, debug, now)
  } catch (error) {
    debug(`refresh ahead skipped: ${(error as Error).message}`)
  }
}

async function refreshAheadIfDue(config: Interfaces.Config, debug: (message: string) => void, now: () => number): Promise<void> {
  // A bad value stops here (and the commands that need a token report it, exit 2).
  const settings = loadHookSettings(config, ['refreshAhead', 'refreshAheadWindowSeconds', 'account'])
  if (settings.refreshAhead === 'off' || config.scopedEnvVarKeys('TOKEN').some((name) => runEnvironment(config).env[name])) return
  const index = readIndexQuietly(config.dataDir) ?? {}
  const due = dueForRefresh(index, now(), settings.refreshAheadWindowSeconds, settings.account)
  if (!due) return
  const {startRefreshAhead} = await import('./start-refresh-ahead.js')
  await startRefreshAhead(config, due.account, settings.refreshAhead, debug, now)
}

/** The fields of the index this decision needs; see store/account-index.ts for the whole shape. */
interface IndexView {
  defaultAccount?: string | null
  accounts?: Array<{key: string; subject?: string; email?: string; name?: string; expiresAt: string | null; hasRefreshToken: boolean; updatedAt: string}>
  tombstones?: Record<string, {until: string}>
  refreshFailures?: Record<string, {until: string}>
}

const MAX_WINDOW_SECONDS = 300

/**
 * How long before expiry to refresh in the background: a quarter of the token's lifetime, at least
 * the margin a command would refresh inside (or the command would refresh first) and at most five
 * minutes. A 20 s token is due in its last 5 s, not always.
 */
export function refreshAheadWindowSeconds(obtainedAt: string, expiresAt: string): number {
  const lifetime = (Date.parse(expiresAt) - Date.parse(obtainedAt)) / 1000
  return Math.min(MAX_WINDOW_SECONDS, Math.max(refreshMarginSeconds(obtainedAt, expiresAt), lifetime / 4))
}

/**
 * The key and window of the account commands use (`wanted`, as `ACME_AUTH_ACCOUNT` names it, else
 * the default) if it is due for a refresh ahead of time, else undefined. `windowSeconds` (the
 * `refreshAheadWindow` setting) replaces the window derived from the lifetime.
 */
export function dueForRefresh(index: IndexView, now: number, windowSeconds?: number, wanted?: string): {account: string; windowSeconds: number} | undefined {
  const account = wanted ? onlyMatch(index, wanted) : (index.accounts?.find((entry) => entry.key === index.defaultAccount) ?? index.accounts?.[0])
  if (!account?.expiresAt || !account.hasRefreshToken) return undefined
  const tombstone = index.tombstones?.[account.key]
  // The issuer rejected this refresh token not long ago: leave it alone until the user signs in.
  if (tombstone && Date.parse(tombstone.until) > now) return undefined
  // The issuer did not answer lately: no process to start until the back-off ends (outage.ts).
  const failure = index.refreshFailures?.[account.key]
  if (failure && Date.parse(failure.until) > now) return undefined
  const window = windowSeconds ?? refreshAheadWindowSeconds(account.updatedAt, account.expiresAt)
  const left = (Date.parse(account.expiresAt) - now) / 1000
  return left <= window ? {account: account.key, windowSeconds: window} : undefined
}

/** The account `wanted` names, if exactly one: a name that fits none or several is left to the command to report. */
function onlyMatch(index: IndexView, wanted: string): NonNullable<IndexView['accounts']>[number] | undefined {
  const matches = accountsNamed(index.accounts ?? [], wanted)
  return matches.length === 1 ? matches[0] : undefined
}

/**
 * Read the index without judging it: a damaged file is the next real command's business.
 * Synchronous, with the checks readPrivateFile makes (readPrivateFileSync): before every command
 * of the host, one small file is cheaper read at once than through the thread pool.
 */
export function readIndexQuietly(dataDir: string): IndexView | undefined {
  try {
    // A folder or file that is not the user's own is not read (the next real command reports it).
    const paths = storePaths(dataDir)
    return JSON.parse(readPrivateFileSync(paths.dir, paths.index) ?? 'null') ?? undefined
  } catch {
    return undefined
  }
}
