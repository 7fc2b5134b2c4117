import * as oidc from 'openid-client'

import {AuthError} from '../errors.js'
import type {IdentityClaims} from '../settings/parse.js'
import {rememberSecrets, type Secrets} from '../store/secrets.js'
import type {Issuer} from './connect.js'
import {MAX_TOKEN_BYTES} from './limits.js'
import {toAuthError} from './errors.js'

/** Who signed in, from the ID token and, where it says little or there is none, the userinfo endpoint. */
export interface Identity {
  subject: string
  name?: string
  email?: string
}

/** The outcome of any sign-in flow. */
export interface SignIn {
  secrets: Secrets
  identity: Identity
  /** The scopes the issuer granted (or those we asked for, when it does not say). */
  scopes: string[]
  /**
   * The issuer the ID token names, checked by openid-client: the configured one, except for a
   * multi-tenant issuer (Entra ID's `/common`), where it is the user's own tenant. The account is
   * kept under this one, and refreshed there.
   */
  issuedBy?: string
  /**
   * The ID token named the account but left out its name or email, and the issuer has a userinfo
   * endpoint: the session asks it once the login is saved (session/account-profile.ts).
   */
  profileMissing?: boolean
}

type TokenResponse = oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers

/**
 * What a token answer gives us to keep. `now` is the session's clock (AuthContext.now), read as the
 * answer arrived: expiresAt and obtainedAt count from it, so one clock decides every token's age.
 */
export function toSecrets(response: TokenResponse, previous: Secrets | undefined, now: number, issuer: string): Secrets {
  rememberSecrets({accessToken: response.access_token, refreshToken: response.refresh_token, idToken: response.id_token})
  for (const [what, value] of [['access token', response.access_token], ['refresh token', response.refresh_token], ['ID token', response.id_token]] as const) {
    checkToken(issuer, what, value)
  }
  const secrets: Secrets = {
    accessToken: response.access_token,
    tokenType: tokenTypeOf(response.token_type),
  }
  // Servers that do not rotate refresh tokens omit it from the refresh answer: keep the one we have.
  const refreshToken = response.refresh_token ?? previous?.refreshToken
  if (refreshToken) secrets.refreshToken = refreshToken
  const idToken = response.id_token ?? previous?.idToken
  if (idToken) secrets.idToken = idToken
  if (typeof response.expires_in === 'number') {
    secrets.expiresAt = new Date(now + response.expires_in * 1000).toISOString()
    secrets.obtainedAt = new Date(now).toISOString()
  }
  // What a login keeps besides tokens (a client secret, a key or its path) outlives every refresh.
  if (previous?.clientSecret) secrets.clientSecret = previous.clientSecret
  if (previous?.clientAssertionKey) secrets.clientAssertionKey = previous.clientAssertionKey
  if (previous?.clientAssertionKeyPath) secrets.clientAssertionKeyPath = previous.clientAssertionKeyPath
  if (previous?.dpopKey) secrets.dpopKey = previous.dpopKey
  return secrets
}

/** The Authorization scheme: RFC 6750's "Bearer", RFC 9449's "DPoP"; servers (and openid-client) send either case. */
function tokenTypeOf(type: string | undefined): string {
  const lower = type?.toLowerCase()
  if (lower === undefined || lower === 'bearer') return 'Bearer'
  return lower === 'dpop' ? 'DPoP' : type!
}

/** A token we would store and export: bounded, and nothing a header or an environment variable cannot hold. */
function checkToken(issuer: string, what: string, value: unknown): void {
  if (value === undefined) return
  if (typeof value !== 'string' || value === '') throw new AuthError('LOGIN_FAILED', `${issuer} sent an ${what} that is not a string; nothing was stored.`)
  if (Buffer.byteLength(value, 'utf8') > MAX_TOKEN_BYTES) {
    throw new AuthError('LOGIN_FAILED', `${issuer} sent an ${what} of ${Buffer.byteLength(value, 'utf8')} bytes, more than the ${MAX_TOKEN_BYTES / 1024} KiB any real token needs; nothing was stored.`, {
      suggestion: "Tell the issuer's administrators (a token that large is broken), or ask them to issue smaller tokens.",
    })
  }
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(value)) throw new AuthError('LOGIN_FAILED', `${issuer} sent an ${what} with spaces or control characters, which no token holds; nothing was stored.`)
}

export interface IdentityOptions {
  /** Claim names of a profile endpoint that is not OpenID userinfo (GitHub's /user: {subject: 'id', name: 'login'}). */
  claims?: IdentityClaims
  /** A DPoP-bound access token needs a proof at userinfo too. */
  dpop?: oidc.DPoPHandle
}

/** What a sign-in needs besides the answer: the session's clock, and what it may already know of the account. */
export interface SignInOptions extends IdentityOptions {
  /** The session's clock (AuthContext.now): the new tokens' expiresAt and obtainedAt count from it. */
  now: () => number
  /** Who userinfo said holds the login, asked before the grant (a login taken over): used for the same subject. */
  known?: Identity
}

export async function completeSignIn(issuer: Issuer, response: TokenResponse, requestedScopes: string[], options: SignInOptions): Promise<SignIn> {
  const secrets = toSecrets(response, undefined, options.now(), `The issuer at ${issuer.issuer}`)
  return signInOf(issuer, response, secrets, requestedScopes, options)
}

/**
 * Whose login a grant's answer is. From the ID token alone when the answer carries one: a name or
 * email it leaves out is asked of userinfo only once the login is saved (`profileMissing`), so that
 * nothing slow stands between the answer and its save. Without an ID token, userinfo is the only
 * way to name the account, and it is asked here (docs/security.md, "Lifecycle").
 */
export async function signInOf(issuer: Issuer, response: TokenResponse, secrets: Secrets, requestedScopes: string[], options: Omit<SignInOptions, 'now'>): Promise<SignIn> {
  const claims = response.claims()
  const scopes = response.scope ? response.scope.split(' ').filter(Boolean) : requestedScopes
  if (!claims) {
    // No ID token (no `openid` scope, or an OAuth-only issuer).
    const identity = options.known ?? (await fetchIdentity(issuer, response.access_token, options))
    return {secrets, identity, scopes}
  }
  const known = options.known?.subject === claims.sub ? options.known : undefined
  const identity: Identity = {subject: claims.sub, name: stringClaim(claims.name) ?? known?.name, email: stringClaim(claims.email) ?? known?.email}
  const signIn: SignIn = {secrets, identity, scopes, issuedBy: typeof claims.iss === 'string' ? claims.iss : undefined}
  // Userinfo asked before the grant said all it knows; else it may know what the ID token left out.
  if (!known && (!identity.name || !identity.email) && issuer.config.serverMetadata().userinfo_endpoint) signIn.profileMissing = true
  return signIn
}

/**
 * Ask the userinfo endpoint who holds this access token: OpenID userinfo, or, with `claims`, a
 * profile endpoint of the issuer's own design (the answer's `claims.subject` names the account).
 */
export async function fetchIdentity(issuer: Issuer, accessToken: string, options: IdentityOptions & {expectedSubject?: string} = {}): Promise<Identity> {
  const endpoint = issuer.config.serverMetadata().userinfo_endpoint
  if (!endpoint) {
    if (options.expectedSubject) return {subject: options.expectedSubject}
    throw new AuthError('LOGIN_FAILED', `The issuer at ${issuer.issuer} has no userinfo endpoint, so there is no way to tell whose token this is.`, {
      suggestion: 'Request the openid scope, sign in with the browser or --device, or set endpoints.userinfo (and claims) to its profile URL.',
    })
  }
  try {
    if (options.claims) return await fetchProfile(issuer, accessToken, new URL(endpoint), options.claims, options.dpop)
    const info = await oidc.fetchUserInfo(issuer.config, accessToken, options.expectedSubject ?? oidc.skipSubjectCheck, {DPoP: options.dpop})
    return {subject: info.sub, name: stringClaim(info.name), email: stringClaim(info.email)}
  } catch (error) {
    throw toAuthError(error, {issuer: issuer.issuer, clientId: issuer.clientId, operation: 'userinfo'})
  }
}

/**
 * Whether the issuer takes this access token: userinfo (or the configured profile endpoint) asked
 * with it. False when it is turned away (401); what says nothing about the token (no answer, a
 * server error) is thrown as the AuthError it is.
 */
export async function acceptsAccessToken(issuer: Issuer, accessToken: string, options: IdentityOptions = {}): Promise<boolean> {
  try {
    await fetchIdentity(issuer, accessToken, options)
    return true
  } catch (error) {
    if (accessTokenRefused(error)) return false
    throw error
  }
}

/** A resource server (userinfo, a profile endpoint) said 401 to the access token: expired, revoked or not its own. */
export function accessTokenRefused(error: unknown): boolean {
  const cause = (error instanceof AuthError ? error.debugCause : (error as {cause?: unknown} | undefined)?.cause) as {code?: unknown; status?: unknown; cause?: unknown} | undefined
  if (!cause) return false
  if (cause.status === 401 || (cause.code === 'OAUTH_WWW_AUTHENTICATE_CHALLENGE' && cause.status !== 403)) return true
  return cause.cause instanceof Response && cause.cause.status === 401
}

async function fetchProfile(issuer: Issuer, accessToken: string, endpoint: URL, claims: IdentityClaims, dpop: oidc.DPoPHandle | undefined): Promise<Identity> {
  const response = await oidc.fetchProtectedResource(issuer.config, accessToken, endpoint, 'GET', undefined, new Headers({accept: 'application/json'}), {DPoP: dpop})
  if (!response.ok) throw Object.assign(new Error('profile request failed'), {cause: response})
  const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined
  const subject = body?.[claims.subject]
  if ((typeof subject !== 'string' && typeof subject !== 'number') || subject === '') {
    throw new AuthError('LOGIN_FAILED', `The issuer's profile endpoint ${endpoint.href} did not answer with a '${claims.subject}' (the claims.subject setting) that names the account.`, {
      suggestion: 'Check endpoints.userinfo and claims.subject against what that endpoint returns.',
    })
  }
  return {
    subject: String(subject),
    name: claims.name ? stringClaim(body?.[claims.name]) : undefined,
    email: claims.email ? stringClaim(body?.[claims.email]) : undefined,
  }
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** RFC 8707 §2.2: the resources again on the token request, one `resource` parameter each. */
export function resourceParameters(resource: string[] | undefined): URLSearchParams | undefined {
  if (!resource?.length) return undefined
  const parameters = new URLSearchParams()
  for (const item of resource) parameters.append('resource', item)
  return parameters
}
