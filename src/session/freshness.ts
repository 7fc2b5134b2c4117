/**
 * Expiry arithmetic, kept pure so it can be tested with a fake clock. "Fresh" means usable for the
 * next `skewSeconds` at least: a token that expires while a request is in flight is no use.
 */
export const DEFAULT_SKEW_SECONDS = 60

/**
 * How long before expiry a token counts as due: a minute, or a quarter of its lifetime when it lives
 * less than four minutes. A fixed minute would make a 20 s token due from the moment it is issued,
 * and every use of it (prerun, getAccessToken, authFetch) would refresh again. Unknown lifetime: a minute.
 */
export function refreshMarginSeconds(obtainedAt: string | null | undefined, expiresAt: string | null | undefined): number {
  if (!obtainedAt || !expiresAt) return DEFAULT_SKEW_SECONDS
  const lifetime = (Date.parse(expiresAt) - Date.parse(obtainedAt)) / 1000
  if (!Number.isFinite(lifetime) || lifetime <= 0) return DEFAULT_SKEW_SECONDS
  return Math.min(DEFAULT_SKEW_SECONDS, lifetime / 4)
}

export function isFresh(expiresAt: string | null | undefined, now: number, skewSeconds = DEFAULT_SKEW_SECONDS): boolean {
  // No expiry given: we cannot refresh ahead, only when the server says 401.
  if (!expiresAt) return true
  return Date.parse(expiresAt) - now > skewSeconds * 1000
}

export function isExpired(expiresAt: string | null | undefined, now: number): boolean {
  return expiresAt ? Date.parse(expiresAt) <= now : false
}
