/**
 * The library API for commands of a host CLI that bundles or installs `@tokenwise/plugin-auth`.
 *
 * Mark a command as needing auth and the prerun hook signs it in before `run()`:
 *
 * @example
 * ```ts
 * import {Command} from '@oclif/core'
 * import {authFetch} from '@tokenwise/plugin-auth'
 *
 * export default class Deploy extends Command {
 *   static auth = 'required'
 *   async run() {
 *     const response = await authFetch('https://api.example.com/deployments', {method: 'POST'})
 *     this.log(`deployment ${response.status}`)
 *   }
 * }
 * ```
 */
import {ux, type Interfaces} from '@oclif/core'

import {AuthCommandError} from './command-error.js'
import {AuthError} from './errors.js'
import type {AdoptionOutcome, LegacyLoginSource} from './session/adopt-login.js'
import {adoptionFinished} from './session/adoption-marker.js'
import type {FreshToken} from './session/ensure-fresh.js'
import {isFresh, refreshMarginSeconds} from './session/freshness.js'
import {inHostWords} from './session/store-messages.js'
import {tokenHolder} from './session/token-holder.js'

export {AuthCommandError} from './command-error.js'
export {AuthError, EXIT_CODES, type AuthErrorCode} from './errors.js'
export type {AuthRequirement} from './session/requirement.js'
export type {AdoptionOutcome, LegacyLogin, LegacyLoginSource} from './session/adopt-login.js'

export interface TokenOptions {
  /** Account subject or key; the default account when omitted. */
  account?: string
  /** Refresh even if the token looks fresh (the API answered 401). */
  force?: boolean
}

/**
 * A fresh access token for the running command: `ACME_TOKEN` if set, else the stored login,
 * refreshed when it is within 60 s of expiry (a quarter of its lifetime for tokens that live less
 * than four minutes). Rejects with an {@link AuthCommandError}: left
 * uncaught, oclif prints its one line (what happened, what to do) and exits with the documented
 * code (4: sign in, 75: temporary, …); {@link authErrorOf} gives its {@link AuthError} and `code`.
 *
 * A DPoP-bound token (the `dpop` setting) is refused without a proof for each request: use
 * {@link authFetch}, or {@link getDPoPProof} for the headers of a request you build yourself.
 *
 * @example
 * ```ts
 * const token = await getAccessToken()
 * await fetch(url, {headers: {authorization: `Bearer ${token}`}})
 *
 * // Or handle "not signed in" yourself:
 * try {
 *   await getAccessToken()
 * } catch (error) {
 *   if (authErrorOf(error)?.code !== 'NOT_LOGGED_IN') throw error
 *   this.log('Sign in first: acme auth login')
 * }
 * ```
 */
export async function getAccessToken(options: TokenOptions = {}): Promise<string> {
  return (await resolveToken(options)).accessToken
}

/** Whose token getAccessToken() gives, and which issuer it is for. No secrets. */
export interface SignedInAccount {
  issuer: string
  clientId: string
  subject: string
  name: string | null
  email: string | null
}

/**
 * The account behind the token, for a host that talks to more than one issuer or shows who is
 * signed in (`static auth = 'optional'` commands too); `null` when nobody is signed in, or when the
 * token comes from `ACME_TOKEN` (nothing is known about it). Otherwise rejects like
 * {@link getAccessToken}.
 */
export async function getSignedInAccount(options: Omit<TokenOptions, 'force'> = {}): Promise<SignedInAccount | null> {
  let token: FreshToken
  try {
    token = await resolveToken(options)
  } catch (error) {
    if (authErrorOf(error)?.code === 'NOT_LOGGED_IN') return null
    throw error
  }
  const {account} = token
  if (!account) return null
  return {issuer: account.issuer, clientId: account.clientId, subject: account.subject, name: account.name ?? null, email: account.email ?? null}
}

/** The AuthError behind a rejection of getAccessToken() or authFetch(), if that is what it was. */
export function authErrorOf(error: unknown): AuthError | undefined {
  if (error instanceof AuthCommandError) return error.authError
  return error instanceof AuthError ? error : undefined
}

/**
 * `fetch` with the user's access token (rejects like {@link getAccessToken}). When the API answers 401, it refreshes once and retries,
 * since the server may have revoked the token early (DESIGN.md: the reactive trigger).
 *
 * The request goes through the plugin's own transport, as its requests to the issuer do: the proxy
 * from `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`, the certificate authorities of the caFile setting
 * (`ACME_AUTH_CA_FILE`) besides Node's, and a standard `Response` back. A request that gets no
 * answer (host down, proxy refusing, certificate not trusted) rejects with an
 * {@link AuthCommandError}: one line naming the host or the proxy, exit 75 (1 for a certificate,
 * 2 for a proxy that refuses the password). The global `fetch` and its dispatcher are left alone.
 *
 * With a DPoP-bound token (the `dpop` setting, RFC 9449) it sends `Authorization: DPoP …` and a
 * fresh `DPoP` proof for this method and URL, follows the nonce the API asks for (one retry on
 * `use_dpop_nonce`), and does not follow redirects with the token (each URL needs its own proof).
 *
 * @example
 * ```ts
 * const response = await authFetch('https://api.example.com/me')
 * const me = await response.json()
 * ```
 */
export async function authFetch(input: string | URL | Request, init: RequestInit = {}, options: Omit<TokenOptions, 'force'> = {}): Promise<Response> {
  const token = await resolveToken(options)
  const response = await send(input, init, token)
  // A stream body cannot be sent twice; an environment token cannot be refreshed.
  const replayable = !(init.body instanceof ReadableStream) && !(input instanceof Request && input.bodyUsed)
  if (response.status !== 401 || token.source === 'env' || !replayable) return response
  await response.body?.cancel()
  const renewed = await resolveToken({...options, force: true})
  return send(input, init, renewed)
}

/**
 * `fetch` without a token, through the same transport as {@link authFetch} (proxy, caFile, one-line
 * errors): for the requests of a host command that need no sign-in (an issuer's discovery document,
 * a public API, a download), so that they work on the same networks as the sign-in does.
 *
 * @example
 * ```ts
 * import {plainFetch} from '@tokenwise/plugin-auth'
 *
 * const response = await plainFetch('https://id.example.com/.well-known/openid-configuration')
 * const {userinfo_endpoint} = await response.json()
 * ```
 */
export async function plainFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  return (await hostFetch())(input, init)
}

async function send(input: string | URL | Request, init: RequestInit, token: FreshToken): Promise<Response> {
  const transport = await hostFetch()
  if (!token.dpopKey) return transport(input, withAuthorization(input, init, token))
  // Loaded only for a DPoP-bound login: a bearer host never pays for signing proofs.
  const {fetchWithProof} = await import('./session/dpop-request.js')
  return fetchWithProof(token, input, init, transport as typeof fetch).catch(asCommandError)
}

/** The plugin's transport for the host's requests, its failures as AuthCommandErrors (what oclif prints as one line). */
async function hostFetch(): Promise<(input: string | URL | Request, init?: RequestInit) => Promise<Response>> {
  const {hostTransport} = await import('./session/host-transport.js')
  const transport = await hostTransport(tokenHolder().config).catch(asCommandError)
  return (input, init) => transport(input, init).catch(asCommandError)
}

/** A request that got no answer, or a stored key that cannot sign (damaged), stops the command with its one line, like any failure of ours. */
function asCommandError(error: unknown): never {
  throw error instanceof AuthError ? commandError(error) : error
}

/** What a host command meets: the AuthError with its next step in the host's words, as oclif prints it. */
function commandError(error: AuthError): AuthCommandError {
  const {config} = tokenHolder()
  return new AuthCommandError(config ? inHostWords(error, config) : error)
}

/** The Authorization header, and with a DPoP-bound token the proof, for one request. */
export interface RequestAuthorization {
  /** `Bearer <token>` or `DPoP <token>`: the value of the Authorization header. */
  authorization: string
  /** The value of the `DPoP` header (RFC 9449 §4): a proof for exactly this method and URL, used once. Absent for a bearer token. */
  dpop?: string
}

/**
 * The headers one request needs, for a host that builds its own requests instead of using
 * {@link authFetch}: `Authorization`, and for a DPoP-bound token (the `dpop` setting) a fresh `DPoP`
 * proof for this method and URL (query and fragment are not part of it). A proof is good for one
 * request: ask for a new one for each. An API that answers 401 with `error="use_dpop_nonce"` wants
 * its nonce in the proof, which only {@link authFetch} follows. Rejects like {@link getAccessToken}.
 *
 * @param method The request's HTTP method, e.g. `POST`.
 * @param url The request's URL.
 *
 * @example
 * ```ts
 * const url = 'https://api.example.com/deployments'
 * const {authorization, dpop} = await getDPoPProof('POST', url)
 * const headers: Record<string, string> = {authorization}
 * if (dpop) headers.dpop = dpop
 * await fetch(url, {method: 'POST', headers})
 * ```
 */
export async function getDPoPProof(method: string, url: string | URL, options: Omit<TokenOptions, 'force'> = {}): Promise<RequestAuthorization> {
  const token = await resolveToken(options)
  if (!token.dpopKey) return {authorization: `${token.tokenType} ${token.accessToken}`}
  const {proofFor} = await import('./session/dpop-request.js')
  return proofFor(token, method, url).catch(asCommandError)
}

/**
 * Take over the login your CLI's earlier code kept (its own config file, in plain text), once: your
 * users stay signed in, and the plaintext copy is gone. Call it from your CLI's own `init` hook.
 *
 * - `read()` returns the old login or undefined: an access token, optionally a refresh token, its
 *   expiry, an ID token, and the issuer and client it was issued to (the configured ones by default).
 * - `clear()` removes it from your file. It is called only once the login is saved in the configured
 *   store (keychain or file, chosen as for `auth login`), or once the issuer has said it is dead.
 *
 * With a refresh token the login is refreshed once, which tells whose it is and until when. A login
 * made since with `auth login` is never overwritten. Parallel commands adopt once; a process killed
 * at any step loses nothing, and the next command finishes. Once done, the index notes it, and this
 * costs one small file read: neither `read()` nor the code behind it is loaded again. It never
 * rejects: what stops it is said in one line on stderr, and the next command tries again.
 *
 * @param config the oclif `Config` your hook receives
 * @param source how to read and clear the old login, and where it is (`location`, named in messages)
 * @returns what happened (see {@link AdoptionOutcome})
 *
 * @example
 * ```ts
 * // src/hooks/adopt-login.ts; in package.json: "oclif": {"hooks": {"init": "./dist/hooks/adopt-login.js"}}
 * import type {Hook} from '@oclif/core'
 * import {existsSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
 * import {join} from 'node:path'
 *
 * // The old code kept {"token": "…", "refreshToken": "…", …other settings} in <configDir>/config.json.
 * const hook: Hook<'init'> = async function ({config}) {
 *   const file = join(config.configDir, 'config.json')
 *   const settings = () => JSON.parse(readFileSync(file, 'utf8')) as {token?: string; refreshToken?: string}
 *   // Before every command: nothing to adopt costs one small read, and loads no plugin code.
 *   if (!existsSync(file) || !settings().token) return
 *   const {adoptLogin} = await import('@tokenwise/plugin-auth')
 *   await adoptLogin(config, {
 *     location: file,
 *     read: () => {
 *       const {token, refreshToken} = settings()
 *       return token ? {accessToken: token, refreshToken} : undefined
 *     },
 *     clear: () => {
 *       const rest = settings()
 *       delete rest.token
 *       delete rest.refreshToken
 *       writeFileSync(`${file}.tmp`, JSON.stringify(rest, null, 2), {mode: 0o600})
 *       renameSync(`${file}.tmp`, file)
 *     },
 *   })
 * }
 * export default hook
 * ```
 */
export async function adoptLogin(config: Interfaces.Config, source: LegacyLoginSource): Promise<AdoptionOutcome> {
  if (adoptionFinished(config.dataDir)) return 'nothing'
  try {
    const {adoptLegacyLogin} = await import('./session/adopt-login.js')
    return await adoptLegacyLogin(config, source)
  } catch (error) {
    // A hook that throws is ignored by oclif anyway; a damaged install is the commands' to report.
    ux.warn(`Could not take over the earlier login: ${(error as Error)?.message ?? error}`)
    return 'later'
  }
}

async function resolveToken(options: TokenOptions): Promise<FreshToken> {
  try {
    return await findToken(options)
  } catch (error) {
    throw error instanceof AuthError ? commandError(error) : error
  }
}

async function findToken(options: TokenOptions): Promise<FreshToken> {
  const holder = tokenHolder()
  const held = holder.token
  // Judged on the clock of the session that gave it; a token without one (put there by an older copy of
  // this module) is looked up again.
  if (held && holder.now && !options.force && !options.account && isFresh(held.expiresAt, holder.now(), refreshMarginSeconds(held.obtainedAt, held.expiresAt))) return held
  if (!holder.config) {
    throw new AuthError('UNEXPECTED', 'No oclif command is running with @tokenwise/plugin-auth loaded, so there is no login to use.', {
      suggestion: 'Call getAccessToken() from a command of a CLI that lists @tokenwise/plugin-auth in oclif.plugins.',
    })
  }
  // Loaded only now: a host command that imports this module pays for none of it until it asks.
  const [{currentToken}, {authContext}] = await Promise.all([import('./session/ensure-fresh.js'), import('./session/context.js')])
  const context = await authContext(holder.config)
  const token = await currentToken(context, options)
  if (!options.account) {
    Object.assign(holder, {token, now: context.now})
    // Child processes started from now on get the new token too, unless the host keeps it from them.
    if (context.settings.exportToken) context.env[context.envNames.accessToken] = token.accessToken
  }
  return token
}

function withAuthorization(input: string | URL | Request, init: RequestInit, token: FreshToken): RequestInit {
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined))
  headers.set('authorization', `${token.tokenType} ${token.accessToken}`)
  return {...init, headers}
}
