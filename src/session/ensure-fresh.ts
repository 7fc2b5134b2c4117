import {AuthError} from '../errors.js'
import {formatDuration} from '../durations.js'
import {describeAccount, type AccountRecord, type RefreshFailure, type Tombstone} from '../store/account-index.js'
import {hashToken} from '../store/account-store.js'
import type {Secrets} from '../store/secrets.js'
import {checkpoint} from '../store/checkpoint.js'
import {notSignedIn, requestedAccount} from './accounts.js'
import {environmentToken, type AuthContext} from './context.js'
import {accountClient, connectOptions} from './issuer-client.js'
import {machineCredential} from './machine.js'
import {foregroundDeadlineMs, isBackingOff, nextRefreshFailure, usingCurrentToken} from './outage.js'
import {isExpired, isFresh, refreshMarginSeconds} from './freshness.js'
import type {InterruptHold} from './interrupts.js'
import {holdWhileGranting, restoreRescuedLogin, tellIfRescued} from './grant-hold.js'
import {migrateAccounts} from './storage-choice.js'

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

/**
 * DESIGN.md, Lifecycle: read → fresh? return → lock → re-read → refresh → save → unlock. The lock
 * and the re-read are what make N parallel commands cost one refresh, and what keeps a process
 * holding a stale refresh token from wiping the fresh one another process just stored.
 */
export async function ensureFresh(context: AuthContext, account: AccountRecord, options: EnsureFreshOptions = {}): Promise<FreshToken> {
  const {now} = context
  const seen = await context.store.readSecrets(account)
  const margin = options.skewSeconds ?? refreshMarginSeconds(seen.obtainedAt, seen.expiresAt)
  if (!options.force && isFresh(seen.expiresAt, now(), margin)) return fromStore(account, seen)
  // A machine (client_credentials) renews with its own credentials; anyone else needs a refresh token.
  if (!seen.refreshToken && !account.clientAuth) return withoutRefreshToken(context, account, seen, {force: options.force, now: now()})
  if (seen.refreshToken && isTombstoned(options.tombstone, seen.refreshToken, now())) {
    // The issuer rejected this very token minutes ago: asking again would only add to its count.
    if (!options.force && !isExpired(seen.expiresAt, now())) return fromStore(account, seen)
    throw reauthRequired(context, account)
  }
  const stillValid = !options.force && Boolean(seen.expiresAt) && !isExpired(seen.expiresAt, now())
  if (stillValid && isBackingOff(options.refreshFailure, now())) return currentTokenDuringOutage(context, account, seen, options.refreshFailure!.reason)
  // With a token that still works, a command waits for the issuer only briefly. The refresh itself
  // runs in a process of its own, which sees it through however long the issuer takes: a request
  // abandoned after the issuer rotated the refresh token would lose the login.
  if (stillValid && options.foreground !== false && context.refreshElsewhere) {
    const running = await context.refreshElsewhere(account.key)
    if (running) return waitForBackgroundRefresh(context, account, seen, running.since, options.refreshFailure)
  }

  await checkpoint('refresh:read')
  return context.store.withAccountLock(account, async () => {
    let current = await context.store.readSecrets(account)
    // Someone refreshed while we waited: theirs is as new as a token gets, even when the issuer
    // hands out tokens that live shorter than our skew window.
    if (changedSince(seen, current) && !isExpired(current.expiresAt, now())) return fromStore(account, current)
    // A new login without a refresh token replaced the one we read.
    if (!current.refreshToken && !account.clientAuth) return withoutRefreshToken(context, account, current, {force: options.force, now: now()})
    // The process we waited for may just have found the issuer down: do not ask it again at once.
    const failure = options.force ? undefined : (await context.store.readIndex()).refreshFailures[account.key]
    if (!options.force && !isExpired(current.expiresAt, now()) && isBackingOff(failure, now())) return currentTokenDuringOutage(context, account, current, failure!.reason)

    const provider = await context.provider()
    for (let attempt = 1; ; attempt++) {
      let saved: {account: AccountRecord; secrets: Secrets}
      try {
        const client = accountClient(context, account, current)
        if (account.clientAuth) client.credential = await machineCredential(context, account, current)
        const issuer = await provider.connect(client, connectOptions(context))
        const sent = current
        // A DPoP-bound login proves every grant with its own key, the refresh token's too (RFC 9449 §5).
        const dpop = sent.dpopKey ? await provider.dpopHandle(issuer.config, sent.dpopKey) : undefined
        const renew = account.clientAuth
          ? () => provider.clientCredentialsGrant(issuer, {scopes: account.scopes, resource: account.resource, dpop}, sent)
          : () => provider.refreshTokens(issuer, sent, {resource: account.resource, dpop})
        // From the moment the request leaves, the old refresh token may be spent: nothing that can
        // wait ends this process before the answer is saved (grant-hold.ts). Until then an interrupt
        // ends it at once, and nothing was spent.
        let hold: InterruptHold | undefined
        try {
          const result = await context.store.refreshAndSave(account, () => {
            hold = holdWhileGranting(context)
            return renew()
          })
          tellIfRescued(context, result.account, result)
          saved = result
        } finally {
          hold?.release()
        }
      } catch (caught) {
        const error = caught as AuthError
        if (error.code === 'REAUTH_REQUIRED') {
          // Lesson 1 of DESIGN.md: a rejected refresh proves nothing about what is stored now.
          // A process that does not take our lock (an older version, another tool) may have
          // rotated the token while we asked: use its tokens, or try its refresh token once.
          const stored = await context.store.readSecrets(account)
          if (changedSince(current, stored)) {
            if (!isExpired(stored.expiresAt, now())) return fromStore(account, stored)
            if (attempt === 1 && stored.refreshToken) {
              current = stored
              continue
            }
          }
          if (current.refreshToken) await context.store.tombstone(account, current.refreshToken, new Date(now() + TOMBSTONE_COOLDOWN_MS))
          throw reauthRequired(context, account, error)
        }
        // Network, 5xx, timeouts, a certificate this network does not trust, a store lock held
        // longer than we wait: nothing was changed. Later commands should not wait for it too, and a
        // token that still works beats an error.
        const unreachable = error.code === 'TRANSIENT' || error.code === 'TLS_FAILED'
        if (!unreachable) throw error
        const reason = outageReason(error)
        await context.store.recordRefreshFailure(account, (previous) => nextRefreshFailure(previous, reason, now())).catch(() => {})
        if (!options.force && !isExpired(current.expiresAt, now())) return currentTokenDuringOutage(context, account, current, reason)
        throw error
      }
      return fromStore(saved.account, saved.secrets)
    }
  })
}

/** The valid token we have, with the one line that says why it was not renewed. */
function currentTokenDuringOutage(context: AuthContext, account: AccountRecord, secrets: Secrets, reason: string): FreshToken {
  if (secrets.expiresAt) context.notify(usingCurrentToken(account.issuer, reason, secrets.expiresAt, context.now()))
  return fromStore(account, secrets)
}

/**
 * Wait a moment for the refresh running in the background: its new token if it comes in time (the
 * usual case: a refresh takes a fraction of a second), else the current one with a line saying why.
 */
async function waitForBackgroundRefresh(context: AuthContext, account: AccountRecord, seen: Secrets, since: number, failureBefore: RefreshFailure | undefined): Promise<FreshToken> {
  const deadline = since + foregroundDeadlineMs(seen.expiresAt!, since)
  for (;;) {
    const index = await context.store.readIndex()
    const entry = index.accounts.find((candidate) => candidate.key === account.key)
    if (!entry) throw notSignedIn(context)
    if (entry.updatedAt !== account.updatedAt || entry.expiresAt !== account.expiresAt) {
      const current = await context.store.readSecrets(entry)
      if (changedSince(seen, current)) return fromStore(entry, current)
    }
    const failure = index.refreshFailures[account.key]
    if (failure && failure.until !== failureBefore?.until) return currentTokenDuringOutage(context, account, seen, failure.reason)
    if (Date.now() >= deadline || isExpired(seen.expiresAt, context.now())) {
      const waited = formatDuration(Math.max(0, Math.round((Date.now() - since) / 100) * 100))
      return currentTokenDuringOutage(context, account, seen, `not within ${waited}; the refresh goes on in the background`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** A short clause for the back-off record and the warning line: the raiser's reason, never taken from the message. */
function outageReason(error: AuthError): string {
  return error.reason ?? error.code.toLowerCase()
}

/** A rejected refresh token is not sent again (in the background or not) for this long. */
export const TOMBSTONE_COOLDOWN_MS = 10 * 60 * 1000

export function isTombstoned(tombstone: Tombstone | undefined, refreshToken: string, now: number): boolean {
  return Boolean(tombstone && tombstone.refreshTokenHash === hashToken(refreshToken) && Date.parse(tombstone.until) > now)
}

function reauthRequired(context: AuthContext, account: AccountRecord, cause?: AuthError): AuthError {
  if (account.clientAuth) {
    return new AuthError('REAUTH_REQUIRED', `${cause?.message ?? `The issuer no longer accepts client '${account.clientId}'.`} The stored login was kept.`, {
      cause,
      suggestion: cause?.suggestion ?? `Sign the client in again: \`${context.commands.auth('login')} --client-credentials\` with its secret, key or federated token.`,
    })
  }
  return new AuthError('REAUTH_REQUIRED', `The issuer no longer accepts the stored login of ${describeAccount(account)}; the stored credentials were kept.`, {
    cause,
    suggestion: context.commands.signInAgain(),
  })
}

function withoutRefreshToken(
  context: AuthContext,
  account: AccountRecord,
  secrets: Secrets,
  options: {force?: boolean; now: number},
): FreshToken {
  if (!options.force && !isExpired(secrets.expiresAt, options.now)) return fromStore(account, secrets)
  const why = options.force ? 'cannot be refreshed: the issuer gave no refresh token' : 'has expired and there is no refresh token to renew it'
  throw new AuthError('REAUTH_REQUIRED', `The login of ${describeAccount(account)} ${why}.`, {
    suggestion: context.commands.signInAgain(),
  })
}

function changedSince(before: Secrets, after: Secrets): boolean {
  return before.accessToken !== after.accessToken || before.refreshToken !== after.refreshToken
}

function fromStore(account: AccountRecord, secrets: Secrets): FreshToken {
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
