/**
 * Refresh ahead of time, from the init hook before every command of the host: decided from the
 * metadata index alone (one small file), with node built-ins and a few small modules of ours;
 * everything that talks to the issuer or the keychain is loaded only when a refresh is due.
 */
import type {Interfaces} from '@oclif/core'
import {realpathSync} from 'node:fs'
import {open, stat, unlink} from 'node:fs/promises'

import {checkPrivateFolder, readPrivateFile} from '../private-files.js'
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
export async function refreshAheadBeforeCommand(config: Interfaces.Config, commandId: string | undefined, debug: (message: string) => void): Promise<void> {
  // The auth commands manage the login themselves; a refresh racing `auth logout` helps nobody.
  if (commandId?.startsWith('auth:')) return
  try {
    await refreshAheadIfDue(config, debug)
  } catch (error) {
    debug(`refresh ahead skipped: ${(error as Error).message}`)
  }
}

async function refreshAheadIfDue(config: Interfaces.Config, debug: (message: string) => void): Promise<void> {
  // A bad value stops here (and the commands that need a token report it, exit 2).
  const settings = loadHookSettings(config, ['refreshAhead', 'refreshAheadWindowSeconds', 'account'])
  if (settings.refreshAhead === 'off' || config.scopedEnvVarKeys('TOKEN').some((name) => process.env[name])) return
  const index = (await readIndexQuietly(config.dataDir)) ?? {}
  const due = dueForRefresh(index, Date.now(), settings.refreshAheadWindowSeconds, settings.account)
  if (!due) return
  if (settings.refreshAhead === 'inline') {
    // A claim left after a failure is the back-off that keeps every later command from trying again at once.
    if (!(await claimRefreshAhead(config.dataDir, due.account)).claimed) return
    const {refreshAheadNow} = await import('./refresh-if-due.js')
    debug(`refresh ahead: ${await refreshAheadNow(config, due.account)}`)
    return
  }
  await startBackgroundRefresh(config, due.account, debug)
}

/**
 * Refresh an account in a detached process of the host (`auth refresh --ahead`), unless one runs
 * already: it outlives this command if it has to (a slow issuer), and so a refresh request, once
 * sent, is always seen through and its answer saved; abandoning one could lose a rotated refresh
 * token. Only when we know the host's entry point (not a test runner that loaded the host
 * in-process); undefined then. Otherwise when the refresh that is running now started.
 */
export async function startBackgroundRefresh(config: Interfaces.Config, accountKey: string, debug: (message: string) => void): Promise<{since: number} | undefined> {
  const entry = hostEntryPoint(config.root)
  if (!entry) return undefined
  const claim = await claimRefreshAhead(config.dataDir, accountKey)
  if (!claim.claimed) return claim.since === undefined ? undefined : {since: claim.since}
  const {spawn} = await import('node:child_process')
  // Not process.execArgv: a parent started with --inspect-brk would leave a detached child waiting.
  const child = spawn(process.execPath, [entry, 'auth:refresh', '--ahead', '--account', accountKey], {
    detached: true,
    stdio: 'ignore',
    env: {...process.env, [config.scopedEnvVarKey('AUTH_REFRESH_AHEAD')]: 'off'},
  })
  child.on('error', (error) => debug(`refresh ahead could not start: ${error.message}`))
  child.unref()
  debug(`refreshing ${accountKey} in the background in process ${child.pid}`)
  return {since: Date.now()}
}

function hostEntryPoint(root: string): string | undefined {
  try {
    const entry = realpathSync(process.argv[1])
    return entry.startsWith(realpathSync(root)) ? entry : undefined
  } catch {
    return undefined
  }
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

/** Read the index without judging it: a damaged file is the next real command's business. */
export async function readIndexQuietly(dataDir: string): Promise<IndexView | undefined> {
  try {
    // A folder or file that is not the user's own is not read (the next real command reports it).
    const paths = storePaths(dataDir)
    if ((await checkPrivateFolder(paths.dir)) === 'missing') return undefined
    return JSON.parse((await readPrivateFile(paths.index)) ?? 'null') ?? undefined
  } catch {
    return undefined
  }
}

/** A started background refresh that has not finished within this long has died. */
const MARKER_STALE_MS = 60_000

/**
 * Claim the right to start the background refresh of an account: the first of N commands that
 * start together wins, the others leave it be. A claim that is not released (the refresh failed
 * for a reason that may pass, or the process died) expires after a minute: a back-off, so an issuer
 * that is down is not asked again by every command. Any failure just means "do not start one".
 */
export async function claimRefreshAhead(dataDir: string, accountKey: string): Promise<{claimed: true} | {claimed: false; since?: number}> {
  const {refreshAheadMarkerPath} = await import('../store/account-files.js')
  const marker = refreshAheadMarkerPath(storePaths(dataDir), accountKey)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await (await open(marker, 'wx', 0o600)).close()
      return {claimed: true}
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return {claimed: false}
      const since = (await stat(marker).catch(() => undefined))?.mtimeMs
      // A marker dated in the future (a clock that jumped, a planted file) proves nothing: stale.
      if (since !== undefined && since <= Date.now() + 1000 && Date.now() - since < MARKER_STALE_MS) return {claimed: false, since}
      await unlink(marker).catch(() => {})
    }
  }
  return {claimed: false}
}

/** The background process lets go of its claim once the refresh succeeded or can never succeed. */
export async function releaseRefreshAhead(dataDir: string, accountKey: string): Promise<void> {
  const {refreshAheadMarkerPath} = await import('../store/account-files.js')
  await unlink(refreshAheadMarkerPath(storePaths(dataDir), accountKey)).catch(() => {})
}
