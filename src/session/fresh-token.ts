import type {AccountRecord} from '../store/account-index.js'
import type {Secrets} from '../store/secrets.js'

/** An access token ready to use, and where it came from. */
export interface FreshToken {
  accessToken: string
  tokenType: string
  expiresAt: string | null
  /** When it was issued, where known: with expiresAt, how early it counts as due (see freshness.ts). */
  obtainedAt: string | null
  source: 'env' | 'store'
  account?: AccountRecord
  /** The login's DPoP key (a private JWK as text) when the token is bound to it: every request needs a proof. */
  dpopKey?: string
}

/** Did another process (or login) store other tokens since `before` was read? */
export function changedSince(before: Secrets, after: Secrets): boolean {
  return before.accessToken !== after.accessToken || before.refreshToken !== after.refreshToken
}

export function fromStore(account: AccountRecord, secrets: Secrets): FreshToken {
  return {
    accessToken: secrets.accessToken,
    tokenType: secrets.tokenType,
    expiresAt: secrets.expiresAt ?? null,
    obtainedAt: secrets.obtainedAt ?? null,
    source: 'store',
    account,
    ...(secrets.dpopKey ? {dpopKey: secrets.dpopKey} : {}),
  }
}
