/**
 * Expiry arithmetic, kept pure so it can be tested with a fake clock. "Fresh" means usable for the
 * next `skewSeconds` at least: a token that expires while a request is in flight is no use.
 */
export const DEFAULT_SKEW_SECONDS = 60

export function isFresh(expiresAt: string | null | undefined, now: number, skewSeconds = DEFAULT_SKEW_SECONDS): boolean {
  // No expiry given: we cannot refresh ahead, only when the server says 401.
  if (!expiresAt) return true
  return Date.parse(expiresAt) - now > skewSeconds * 1000
}

export function isExpired(expiresAt: string | null | undefined, now: number): boolean {
  return expiresAt ? Date.parse(expiresAt) <= now : false
}
