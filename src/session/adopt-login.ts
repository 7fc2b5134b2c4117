import type {Interfaces} from '@oclif/core'
import {join} from 'node:path'

import {AuthError} from '../errors.js'
import {MAX_TOKEN_BYTES} from '../provider/limits.js'
import {rememberSecret} from '../safe-text.js'
import type {Identity, Issuer, SignIn} from '../provider/api.js'
import type {AccountRecord} from '../store/account-index.js'
import {markAdoption, postponeAdoption, saveAdoptedLogin} from '../store/adoption-store.js'
import {withLock} from '../store/lock.js'
import type {Secrets} from '../store/secrets.js'
import {checkpoint} from '../store/checkpoint.js'
import {authContext, type AuthContext, type ProviderApi} from './context.js'
import type {IdentityClaims} from '../settings/parse.js'
import {checkRecordFits} from '../store/record-limits.js'
import {accountSettings, connectOptions} from './issuer-client.js'
import {signInRecord, withUserClientSecret} from './sign-in-record.js'
import {fillInProfile} from './account-profile.js'
import {chooseBackend} from './storage-choice.js'
import {holdWhileGranting, tellIfRescued} from './grant-hold.js'
import type {InterruptHold} from './interrupts.js'

/** A login the host's earlier code kept (in its own config file, say), as the host's `read()` returns it. */
export interface LegacyLogin {
  /** Optional when there is a refresh token: one of the two is needed. */
  accessToken?: string
  /** With one, the login is refreshed once to learn whose it is and until when it is valid. */
  refreshToken?: string
  /** When the access token expires (a Date, ISO-8601 text or milliseconds since 1970); unknown when absent. */
  expiresAt?: Date | string | number
  idToken?: string
  /** The issuer it was issued by: the configured one when absent. */
  issuer?: string
  /** The client it was issued to: the configured one when absent. */
  clientId?: string
}

/** Where the host's earlier code kept its login, and how to read and remove it. */
export interface LegacyLoginSource {
  /** The login, or undefined when there is none. Called once at most per command, and no more once the adoption is finished. */
  read(): LegacyLogin | undefined | Promise<LegacyLogin | undefined>
  /** Remove the login from where the host kept it; called only once it is safe here, or proven dead. A throw is retried on the next command. */
  clear(): void | Promise<void>
  /** Where it is kept, for messages (`~/.config/acme/config.json`). */
  location?: string
}

/**
 * What adoptLogin() did:
 * - `adopted`: the login is kept here now and the host's copy was cleared;
 * - `kept-newer`: a login made since with the plugin was kept, and the host's stale copy cleared;
 * - `rejected`: the issuer no longer accepts the old login: cleared, and the user told to sign in;
 * - `cleared`: an earlier command saved the login; this one cleared the host's copy;
 * - `nothing`: nothing to take over (none, or all done before);
 * - `later`: not now (the issuer does not answer, the copy could not be cleared…): nothing was lost, the next command tries again.
 */
export type AdoptionOutcome = 'adopted' | 'kept-newer' | 'rejected' | 'cleared' | 'nothing' | 'later'

/**
 * The named steps a test can stop a command at (store/checkpoint.ts), in order, kept here so that
 * the code and the tests that kill it mid-way name them alike.
 */
export const ADOPTION_STEPS = {
  /** Under the adoption lock, the old login read; nothing sent, nothing saved. */
  read: 'adopt:read',
  /** The login saved here (and the index notes that only clearing is left); the old copy not yet cleared. */
  saved: 'adopt:saved',
  /** The host's clear() has returned; the index does not say "done" yet. */
  cleared: 'adopt:cleared',
} as const

/** adoptLogin() from src/index.ts, once the cheap check found the adoption not finished. */
export async function adoptLegacyLogin(config: Interfaces.Config, source: LegacyLoginSource): Promise<AdoptionOutcome> {
  let context: AuthContext
  try {
    context = await authContext(config)
  } catch {
    // Settings that do not parse are reported by every command that needs a login; not here too.
    return 'later'
  }
  return adoptLogin(context, source)
}

/**
 * DESIGN.md, story 3: take over the plaintext login of the host's earlier code once, under a lock of
 * its own (parallel commands adopt once; the store lock is taken for each write), durably before
 * destructively (saved here before `clear()`), and never over a login made since. Every step
 * leaves a state the next command finishes from. Never throws: what stops it is said in one line,
 * and the next command tries again.
 */
export async function adoptLogin(context: AuthContext, source: LegacyLoginSource): Promise<AdoptionOutcome> {
  const where = source.location ?? "the CLI's earlier login file"
  // Nothing would be kept: clearing the old copy would lose the only one.
  if (context.settings.storage === 'memory') return 'later'
  try {
    await context.store.checkFolders()
    return await withLock(join(context.store.paths.locks, 'adoption.lock'), () => adoptUnderLock(context, source, where), {purpose: `taking over the login kept in ${where}`})
  } catch (error) {
    const reason = (error instanceof AuthError ? error.message : `${(error as Error)?.message ?? error}`).replace(/\.?$/, '.')
    if (error instanceof AuthError && error.reason === RENEWED_NOT_SAVED) {
      // Nothing to try again: the old copy's refresh token is spent. Said as it is, once; the next
      // command clears the old copy.
      await markAdoption(context.store, 'clear').catch(() => {})
      context.notify(`${reason} ${context.commands.signInAgain()}`)
      return 'later'
    }
    // Every command runs this first: with the issuer down (or a setting wrong) they should neither
    // each wait for it nor each say so. Nothing was saved, so a pause loses nothing.
    const postponed = await postponeAdoption(context.store, new Date(context.now() + ADOPTION_RETRY_MS)).catch(() => false)
    context.notify(`Could not take over the login kept in ${where} now: ${reason} Nothing was changed; ${postponed ? `a command tries again in ${ADOPTION_RETRY_MS / 60_000} minute` : 'the next command tries again'}.`)
    return 'later'
  }
}

/** AuthError.reason of a refresh the issuer answered whose answer could be saved neither in its store nor in the rescue file. */
const RENEWED_NOT_SAVED = 'renewed, not saved'

/** After a failure (the issuer down, say), how long commands leave the adoption alone before trying again. */
const ADOPTION_RETRY_MS = 60_000

async function adoptUnderLock(context: AuthContext, source: LegacyLoginSource, where: string): Promise<AdoptionOutcome> {
  const {store, settings} = context
  const index = await store.readIndex()
  // Another command finished it, or got as far as saving, while this one waited for the lock.
  if (index.adoption?.state === 'done') return 'nothing'
  if (index.adoption?.state === 'clear') return clearOldCopy(context, source, where, 'cleared')
  // The issuer did not answer a moment ago: said then, and tried again once the pause is over.
  if (index.adoption?.state === 'waiting' && Date.parse(index.adoption.until!) > context.now()) return 'later'

  const legacy = await readLegacy(source, where)
  if (!legacy) {
    await markAdoption(store, 'done')
    return 'nothing'
  }
  if (typeof legacy === 'string') {
    context.notify(`The login kept in ${where} is not one that can be taken over (${legacy}); it was left as it is. ${context.commands.signIn()}`)
    await markAdoption(store, 'done')
    return 'nothing'
  }
  await checkpoint(ADOPTION_STEPS.read)
  const issuerUrl = legacy.issuer ?? settings.issuer
  const clientId = legacy.clientId ?? settings.clientId
  if (!issuerUrl || !clientId) throw new AuthError('CONFIG_INVALID', 'No issuer and client id are configured, and the old login does not name them.')
  // The host's earlier code never wrote here: a login here for the same issuer and client was made
  // since, so it is newer than the old copy, which only needs clearing.
  if (index.accounts.some((account) => account.issuer === issuerUrl && account.clientId === clientId)) {
    await markAdoption(store, 'clear')
    return clearOldCopy(context, source, where, 'kept-newer')
  }

  // Where it goes is settled before a refresh token is sent: a store that does not answer must be
  // found while the old copy still works, not with a rotated refresh token in hand.
  const {backend: storage, why: storageWhy} = await chooseBackend(context, {warn: context.notify})
  const provider = await context.provider()
  // As for any stored login: only what the settings configure for this issuer and client (binding.ts).
  const {usable: bound} = accountSettings(context, {issuer: issuerUrl, clientId})
  const issuer = await provider.connect({issuer: issuerUrl, clientId, clientSecret: bound.clientSecret, endpoints: bound.endpoints}, connectOptions(context))
  // From the moment the refresh leaves until its answer is saved, an interrupt waits (grant-hold.ts):
  // the old refresh token is spent, and the new one exists only in this process.
  let hold: InterruptHold | undefined
  let saved: Awaited<ReturnType<typeof saveAdoptedLogin>>
  let signIn: SignIn
  let record: AccountRecord
  try {
    try {
      signIn = await learnWhoItIs(context, provider, issuer, legacy, {source, where, resource: bound.resource, claims: bound.identityClaims, beforeGrant: () => void (hold ??= holdWhileGranting(context))})
    } catch (error) {
      if (!(error instanceof AuthError) || !(error.code === 'REAUTH_REQUIRED' || provider.accessTokenRefused(error))) throw error
      // Nothing to take over: said once, since from here on only the clearing is left to do.
      await markAdoption(store, 'clear')
      context.notify(`The issuer at ${issuerUrl} no longer accepts the login kept in ${where}, so it was not taken over. ${context.commands.signInAgain()}`)
      return await clearOldCopy(context, source, where, 'rejected')
    }
    record = signInRecord(signIn, issuer.issuer, clientId, storage, bound)
    checkRecordFits(record)
    saved = await saveAdoptedLogin(store, record, withUserClientSecret(signIn.secrets, bound, settings)).catch((error: unknown) => {
      if (!hold || !(error instanceof AuthError)) throw error
      // Not "nothing was changed": the issuer has replaced the refresh token the old copy holds.
      throw new AuthError(error.code, `The issuer renewed the login kept in ${where}, but it could not be saved here: ${error.message}`, {cause: error, reason: RENEWED_NOT_SAVED})
    })
    tellIfRescued(context, record, saved)
  } finally {
    hold?.release()
  }
  if (saved.saved && storageWhy) context.notify(storageWhy)
  await checkpoint(ADOPTION_STEPS.saved)
  const outcome = await clearOldCopy(context, source, where, saved.saved ? 'adopted' : 'kept-newer')
  // Saved (and the old copy cleared, or left for the next command to clear): only now may a slow
  // userinfo be asked what the ID token left out.
  if (saved.saved) await fillInProfile(context, provider, issuer, record, signIn, {claims: bound.identityClaims})
  return outcome
}

/**
 * Whose login it is and until when, as a sign-in learns it. With a refresh token: one refresh,
 * under the rules of every refresh (a rejected one is read again once, in case the host's own code
 * rotated it meanwhile). With an access token only: userinfo, and an unknown expiry; the first 401
 * an API gives then ends in "sign in again".
 */
async function learnWhoItIs(
  context: AuthContext,
  provider: ProviderApi,
  issuer: Awaited<ReturnType<ProviderApi['connect']>>,
  legacy: LegacyLogin,
  {source, where, resource, claims, beforeGrant}: {source: LegacyLoginSource; where: string; resource?: string[]; claims?: IdentityClaims; beforeGrant: () => void},
): Promise<SignIn> {
  if (!legacy.refreshToken) {
    const accessToken = legacy.accessToken!
    const identity = await provider.fetchIdentity(issuer, accessToken, {claims})
    const secrets: Secrets = {accessToken, tokenType: 'Bearer'}
    const expiresAt = isoDate(legacy.expiresAt)
    if (expiresAt) secrets.expiresAt = expiresAt
    if (legacy.idToken) secrets.idToken = legacy.idToken
    return {secrets, identity, scopes: []}
  }
  // Whose login it is, asked while the old access token may still work and before anything is
  // spent: should the refresh answer carry no ID token, no userinfo request then stands between
  // the rotated tokens and their save. A token already expired, or refused, leaves that one request.
  const known = await identityBeforeRefresh(context, provider, issuer, legacy, claims)
  let sent = legacy
  for (let attempt = 1; ; attempt++) {
    try {
      beforeGrant()
      return await provider.refreshAsSignIn(issuer, {accessToken: sent.accessToken ?? '', tokenType: 'Bearer', refreshToken: sent.refreshToken, idToken: sent.idToken}, {
        scopes: context.settings.scopes,
        claims,
        resource,
        known,
        now: context.now,
      })
    } catch (error) {
      if (attempt > 1 || !(error instanceof AuthError) || error.code !== 'REAUTH_REQUIRED') throw error
      const again = await readLegacy(source, where)
      if (!again || typeof again === 'string' || !again.refreshToken || again.refreshToken === sent.refreshToken) throw error
      sent = again
    }
  }
}

/** Userinfo's answer for the old login's access token, unless it has none, it has expired, or userinfo does not take it. */
async function identityBeforeRefresh(context: AuthContext, provider: ProviderApi, issuer: Issuer, legacy: LegacyLogin, claims: IdentityClaims | undefined): Promise<Identity | undefined> {
  if (!legacy.accessToken) return undefined
  const expiresAt = isoDate(legacy.expiresAt)
  if (expiresAt && Date.parse(expiresAt) <= context.now()) return undefined
  // Nothing depends on it: the refresh still says whose login it is, by its ID token or by userinfo.
  return provider.fetchIdentity(issuer, legacy.accessToken, {claims}).catch(() => undefined)
}

/** Clear the host's copy, then note that all is done; a failure is said, and retried by the next command. */
async function clearOldCopy(context: AuthContext, source: LegacyLoginSource, where: string, outcome: AdoptionOutcome): Promise<AdoptionOutcome> {
  try {
    await source.clear()
  } catch (error) {
    context.notify(`Could not remove the old login from ${where} (${(error as Error)?.message ?? error}); the next command tries again. Your login is not affected.`)
    return 'later'
  }
  await checkpoint(ADOPTION_STEPS.cleared)
  await markAdoption(context.store, 'done')
  return outcome
}

/** The host's login, checked as any token we would store and send is; a string says why it is not usable. */
async function readLegacy(source: LegacyLoginSource, where: string): Promise<LegacyLogin | string | undefined> {
  let found: LegacyLogin | undefined
  try {
    found = await source.read()
  } catch (error) {
    throw new AuthError('STORE_UNAVAILABLE', `Reading ${where} failed (${(error as Error)?.message ?? error}).`)
  }
  if (!found || (found.accessToken === undefined && found.refreshToken === undefined)) return undefined
  for (const [what, value] of [['access token', found.accessToken], ['refresh token', found.refreshToken], ['ID token', found.idToken]] as const) {
    if (value === undefined) continue
    if (typeof value !== 'string' || value === '') return `its ${what} is not text`
    rememberSecret(value)
    if (Buffer.byteLength(value, 'utf8') > MAX_TOKEN_BYTES) return `its ${what} is larger than ${MAX_TOKEN_BYTES / 1024} KiB`
    // eslint-disable-next-line no-control-regex
    if (/[\s\u0000-\u001f\u007f]/.test(value)) return `its ${what} holds spaces or control characters`
  }
  for (const [what, value] of [['issuer', found.issuer], ['clientId', found.clientId]] as const) {
    if (value !== undefined && (typeof value !== 'string' || value === '')) return `its ${what} is not text`
  }
  return found
}

function isoDate(value: LegacyLogin['expiresAt']): string | undefined {
  if (value === undefined) return undefined
  const date = value instanceof Date ? value : new Date(value)
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString()
}
