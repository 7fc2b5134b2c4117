/**
 * When to refresh ahead of time, decided from the metadata index alone: the init hook runs before
 * every command, so this file imports nothing and reads one small file.
 */
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {DEFAULT_SKEW_SECONDS} from './freshness.js'

/** The fields of the index this decision needs; see store/account-index.ts for the whole shape. */
interface IndexView {
  defaultAccount?: string | null
  accounts?: Array<{key: string; expiresAt: string | null; hasRefreshToken: boolean; updatedAt: string}>
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

/** The default account's key and window if it is due for a refresh ahead of time, else undefined. */
export function dueForRefresh(index: IndexView, now: number): {account: string; windowSeconds: number} | undefined {
  const account = index.accounts?.find((entry) => entry.key === index.defaultAccount) ?? index.accounts?.[0]
  if (!account?.expiresAt || !account.hasRefreshToken) return undefined
  const tombstone = index.tombstones?.[account.key]
  // The issuer rejected this refresh token not long ago: leave it alone until the user signs in.
  if (tombstone && Date.parse(tombstone.until) > now) return undefined
  const windowSeconds = refreshAheadWindowSeconds(account.updatedAt, account.expiresAt)
  const left = (Date.parse(account.expiresAt) - now) / 1000
  return left <= windowSeconds ? {account: account.key, windowSeconds} : undefined
}

/** Read the index without judging it: a damaged file is the next real command's business. */
export async function readIndexQuietly(dataDir: string): Promise<IndexView | undefined> {
  try {
    return JSON.parse(await readFile(join(dataDir, 'auth', 'accounts.json'), 'utf8')) as IndexView
  } catch {
    return undefined
  }
}
