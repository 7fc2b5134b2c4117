/**
 * When to refresh ahead of time, decided from the metadata index alone: the init hook runs before
 * every command, so this file imports nothing and reads one small file.
 */
import {open, readFile, stat, unlink} from 'node:fs/promises'

import {accountsNamed} from '../store/account-match.js'
import {storePaths} from '../store/paths.js'
import {DEFAULT_SKEW_SECONDS} from './freshness.js'

/** The fields of the index this decision needs; see store/account-index.ts for the whole shape. */
interface IndexView {
  defaultAccount?: string | null
  accounts?: Array<{key: string; subject?: string; email?: string; name?: string; expiresAt: string | null; hasRefreshToken: boolean; updatedAt: string}>
  tombstones?: Record<string, {until: string}>
}

const MAX_WINDOW_SECONDS = 300

/**
 * How long before expiry to refresh in the background: a quarter of the token's lifetime, at least
 * the skew (or the command would refresh inline first) and at most five minutes.
 */
export function refreshAheadWindowSeconds(obtainedAt: string, expiresAt: string, skewSeconds = DEFAULT_SKEW_SECONDS): number {
  const lifetime = (Date.parse(expiresAt) - Date.parse(obtainedAt)) / 1000
  return Math.min(MAX_WINDOW_SECONDS, Math.max(skewSeconds, lifetime / 4))
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
    return JSON.parse(await readFile(storePaths(dataDir).index, 'utf8')) as IndexView
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
export async function claimRefreshAhead(dataDir: string, accountKey: string): Promise<boolean> {
  const {refreshAheadMarkerPath} = await import('../store/account-files.js')
  const marker = refreshAheadMarkerPath(storePaths(dataDir), accountKey)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await (await open(marker, 'wx', 0o600)).close()
      return true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return false
      const age = Date.now() - ((await stat(marker).catch(() => undefined))?.mtimeMs ?? Date.now())
      if (age < MARKER_STALE_MS) return false
      await unlink(marker).catch(() => {})
    }
  }
  return false
}

/** The background process lets go of its claim once the refresh succeeded or can never succeed. */
export async function releaseRefreshAhead(dataDir: string, accountKey: string): Promise<void> {
  const {refreshAheadMarkerPath} = await import('../store/account-files.js')
  await unlink(refreshAheadMarkerPath(storePaths(dataDir), accountKey)).catch(() => {})
}
