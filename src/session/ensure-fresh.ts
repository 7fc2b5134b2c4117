/**
 * The token lifecycle of DESIGN.md, read top to bottom: read → fresh? → lock → re-read → decide →
 * refresh → save → unlock. The policies it calls are small and named, each in its own file: the
 * tombstone (tombstone.ts), the outage back-off (outage.ts) and the background hand-off
 * (background-hand-off.ts). One clock, the injected context.now(); decisions by error code.
 */
import {AuthError} from '../errors.js'
import type {AccountRecord, RefreshFailure, Tombstone} from '../store/account-index.js'
import type {Secrets} from '../store/secrets.js'
import {checkpoint} from '../store/checkpoint.js'
import {LOCK_NOT_HAD} from '../store/lock.js'
import {notSignedIn, requestedAccount} from './accounts.js'
import {handOffToBackground} from './background-hand-off.js'
import {environmentToken, type AuthContext, type ProviderApi} from './context.js'
import {changedSince, fromStore, type FreshToken} from './fresh-token.js'
import {isExpired, isFresh, refreshMarginSeconds} from './freshness.js'
import {holdWhileGranting, restoreRescuedLogin, tellIfRescued} from './grant-hold.js'
import type {InterruptHold} from './interrupts.js'
import {accountClient, connectOptions} from './issuer-client.js'
import {machineCredential} from './machine.js'
import {currentTokenDuringOutage, isBackingOff, isUnreachable, outageReason, rememberOutage} from './outage.js'
import {migrateAccounts} from './storage-choice.js'
import {isTombstoned, reauthRequired, tombstoneRejected, withoutRefreshToken} from './tombstone.js'

export type {FreshToken} from './fresh-token.js'
export {isTombstoned, TOMBSTONE_COOLDOWN_MS} from './tombstone.js'

export interface TokenRequest {
  /** Account key or subject; the default account when absent. */
  account?: string
  /** Refresh even when the token looks fresh (the API said 401, or `auth refresh`). */
  force?: boolean
}

/** The token a command should use: `ACME_TOKEN` if set, else the stored account's, refreshed as needed. */
export async function currentToken(context: AuthContext, request: TokenRequest = {}): Promise<FreshToken> {
  const fromEnv = environmentToken(context)
  if (fromEnv) {
    if (request.force) {
      throw new AuthError('USAGE', `The token comes from ${context.envNames.token}, which cannot be refreshed.`, {
        suggestion: `Set a new ${context.envNames.token}, or unset it to use the stored login.`,
      })
    }
    return {accessToken: fromEnv, tokenType: 'Bearer', expiresAt: null, obtainedAt: null, source: 'env'}
  }
  const stored = await context.store.readIndex()
  const picked = requestedAccount(context, stored, request.account)
  if (!picked) throw notSignedIn(context)
  const index = await migrateAccounts(context, stored, picked.key)
  const account = index.accounts.find((entry) => entry.key === picked.key) ?? picked
  await restoreRescuedLogin(context, account)
  return ensureFresh(context, account, {force: request.force, tombstone: index.tombstones[account.key], refreshFailure: index.refreshFailures[account.key]})
}

export interface EnsureFreshOptions {
  /** Refresh even when the token looks fresh (the API said 401, or `auth refresh`): no fallback to it then. */
  force?: boolean
  /** Refresh when it expires within this long, instead of the margin its lifetime gives. */
  skewSeconds?: number
  tombstone?: Tombstone
  /** The issuer did not answer lately (session/outage.ts): a still-valid token is used without asking it. */
  refreshFailure?: RefreshFailure
  /**
   * A command waits for the issuer only briefly while its token still works (default). The refresh
   * ahead of time, which no one waits for, gives the issuer its full request time instead.
   */
  foreground?: boolean
}

/** What to do with the tokens in hand: use them as they are, or ask the issuer for new ones. */
type Decision = {use: FreshToken} | 'refresh'

/**
 * DESIGN.md, Lifecycle. The lock and the re-read are what make N parallel commands cost one
 * refresh, and what keeps a process holding a stale refresh token from wiping the fresh one another
 * process just stored.
 */
export async function ensureFresh(context: AuthContext, account: AccountRecord, options: EnsureFreshOptions = {}): Promise<FreshToken> {
  // 1. Read, and decide without a lock or the network when we can.
  const seen = await context.store.readSecrets(account)
  const early = await decideBeforeLock(context, account, seen, options)
  if (early !== 'refresh') return early.use
  await checkpoint('refresh:read')
  // 2. Lock the account (never across accounts) ...
  return context.store.withAccountLock(account, async () => {
    // 3. ... re-read, and decide again: someone may have refreshed, or found the issuer down.
    const current = await context.store.readSecrets(account)
    const decision = await decideUnderLock(context, account, seen, current, options)
    if (decision !== 'refresh') return decision.use
    // 4-6. Refresh, save, and turn a failure into what its code says.
    return refreshAndSave(context, await context.provider(), account, current, options)
  }).catch((error: unknown) => {
    // Another process refreshes this account for longer than we wait (a slow issuer): a token that
    // still works beats an error.
    if (error instanceof AuthError && error.reason === LOCK_NOT_HAD && !options.force && !isExpired(seen.expiresAt, context.now())) return fromStore(account, seen)
    throw error
  })
}

/** Step 1: the stored token as it is, a policy's answer, or 'refresh'. */
async function decideBeforeLock(context: AuthContext, account: AccountRecord, seen: Secrets, options: EnsureFreshOptions): Promise<Decision> {
  const now = context.now()
  const margin = options.skewSeconds ?? refreshMarginSeconds(seen.obtainedAt, seen.expiresAt)
  if (!options.force && isFresh(seen.expiresAt, now, margin)) return {use: fromStore(account, seen)}
  // A machine (client_credentials) renews with its own credentials; anyone else needs a refresh token.
  if (!seen.refreshToken && !account.clientAuth) return {use: withoutRefreshToken(context, account, seen, options.force)}
  const stillValid = !options.force && Boolean(seen.expiresAt) && !isExpired(seen.expiresAt, now)
  if (seen.refreshToken && isTombstoned(options.tombstone, seen.refreshToken, now)) {
    // The issuer rejected this very token minutes ago: asking again would only add to its count.
    if (!options.force && !isExpired(seen.expiresAt, now)) return {use: fromStore(account, seen)}
    throw reauthRequired(context, account)
  }
  if (stillValid && isBackingOff(options.refreshFailure, now)) return {use: currentTokenDuringOutage(context, account, seen, options.refreshFailure!.reason)}
  if (stillValid && options.foreground !== false) {
    const handedOff = await handOffToBackground(context, account, seen, options.refreshFailure)
    if (handedOff) return {use: handedOff}
  }
  return 'refresh'
}

/** Step 3: after the lock, with what is stored now. */
async function decideUnderLock(context: AuthContext, account: AccountRecord, seen: Secrets, current: Secrets, options: EnsureFreshOptions): Promise<Decision> {
  const now = context.now()
  // Someone refreshed while we waited: theirs is as new as a token gets, even when the issuer
  // hands out tokens that live shorter than our skew window.
  if (changedSince(seen, current) && !isExpired(current.expiresAt, now)) return {use: fromStore(account, current)}
  // A new login without a refresh token replaced the one we read.
  if (!current.refreshToken && !account.clientAuth) return {use: withoutRefreshToken(context, account, current, options.force)}
  if (options.force || isExpired(current.expiresAt, now)) return 'refresh'
  // The process we waited for may just have found the issuer down: do not ask it again at once.
  const failure = (await context.store.readIndex()).refreshFailures[account.key]
  if (isBackingOff(failure, now)) return {use: currentTokenDuringOutage(context, account, current, failure!.reason)}
  return 'refresh'
}

/**
 * Steps 4-6, under the account lock: refresh through the provider and save the answer at once;
 * a rejection goes to the tombstone policy, an issuer out of reach to the outage back-off.
 */
async function refreshAndSave(context: AuthContext, provider: ProviderApi, account: AccountRecord, current: Secrets, options: EnsureFreshOptions, attempt = 1): Promise<FreshToken> {
  try {
    const saved = await grantAndSave(context, provider, account, current)
    return fromStore(saved.account, saved.secrets)
  } catch (caught) {
    const error = caught as AuthError
    if (error.code === 'REAUTH_REQUIRED') {
      // Lesson 1 of DESIGN.md: a rejected refresh proves nothing about what is stored now. A
      // process that does not take our lock (an older version, another tool) may have rotated the
      // token while we asked: use its tokens, or try its refresh token once.
      const stored = await context.store.readSecrets(account)
      if (changedSince(current, stored)) {
        if (!isExpired(stored.expiresAt, context.now())) return fromStore(account, stored)
        if (attempt === 1 && stored.refreshToken) return refreshAndSave(context, provider, account, stored, options, attempt + 1)
      }
      return tombstoneRejected(context, account, current, error)
    }
    // Network, 5xx, timeouts, a certificate this network does not trust, a store lock held longer
    // than we wait: nothing was changed. Later commands should not wait for it too, and a token
    // that still works beats an error.
    if (!isUnreachable(error)) throw error
    const reason = outageReason(error)
    await rememberOutage(context, account, reason)
    if (!options.force && !isExpired(current.expiresAt, context.now())) return currentTokenDuringOutage(context, account, current, reason)
    throw error
  }
}

/** One grant (refresh, or client credentials for a machine) and the save of its answer. */
async function grantAndSave(context: AuthContext, provider: ProviderApi, account: AccountRecord, sent: Secrets): Promise<{account: AccountRecord; secrets: Secrets}> {
  const client = accountClient(context, account, sent)
  if (account.clientAuth) client.credential = await machineCredential(context, account, sent)
  const issuer = await provider.connect(client, connectOptions(context))
  // A DPoP-bound login proves every grant with its own key, the refresh token's too (RFC 9449 §5).
  const dpop = sent.dpopKey ? await provider.dpopHandle(issuer.config, sent.dpopKey) : undefined
  const renew = account.clientAuth
    ? () => provider.clientCredentialsGrant(issuer, {scopes: account.scopes, resource: account.resource, dpop, now: context.now}, sent)
    : () => provider.refreshTokens(issuer, sent, {resource: account.resource, dpop, now: context.now})
  // From the moment the request leaves, the old refresh token may be spent: nothing that can wait
  // ends this process before the answer is saved (grant-hold.ts). Until then an interrupt ends it
  // at once, and nothing was spent.
  let hold: InterruptHold | undefined
  try {
    const result = await context.store.refreshAndSave(account, () => {
      hold = holdWhileGranting(context)
      return renew()
    })
    tellIfRescued(context, result.account, result)
    return result
  } finally {
    hold?.release()
  }
}
