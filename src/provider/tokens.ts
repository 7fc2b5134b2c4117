import * as oidc from 'openid-client'

import {AuthError} from '../errors.js'
import type {Secrets} from '../store/credential-store.js'
import type {Issuer} from './connect.js'
import {toAuthError} from './errors.js'

/** Who signed in, from the ID token and, where it says little, the userinfo endpoint. */
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
}

type TokenResponse = oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers

export function toSecrets(response: TokenResponse, previous?: Secrets, now = Date.now()): Secrets {
  const secrets: Secrets = {
    accessToken: response.access_token,
    // RFC 6750 names the scheme "Bearer"; some servers answer "bearer".
    tokenType: response.token_type?.toLowerCase() === 'bearer' ? 'Bearer' : (response.token_type ?? 'Bearer'),
  }
  // Servers that do not rotate refresh tokens omit it from the refresh answer: keep the one we have.
  const refreshToken = response.refresh_token ?? previous?.refreshToken
  if (refreshToken) secrets.refreshToken = refreshToken
  const idToken = response.id_token ?? previous?.idToken
  if (idToken) secrets.idToken = idToken
  if (typeof response.expires_in === 'number') secrets.expiresAt = new Date(now + response.expires_in * 1000).toISOString()
  return secrets
}

export async function completeSignIn(issuer: Issuer, response: TokenResponse, requestedScopes: string[]): Promise<SignIn> {
  const claims = response.claims()
  let identity: Identity
  if (claims) {
    identity = {subject: claims.sub, name: stringClaim(claims.name), email: stringClaim(claims.email)}
    // Name and email are nice to have: a userinfo endpoint that fails must not fail the sign-in.
    if (!identity.name || !identity.email) {
      const more = await fetchIdentity(issuer, response.access_token, identity.subject).catch(() => undefined)
      identity = {subject: identity.subject, name: identity.name ?? more?.name, email: identity.email ?? more?.email}
    }
  } else {
    // No ID token (no `openid` scope): userinfo is the only way to know whose login this is.
    identity = await fetchIdentity(issuer, response.access_token)
  }
  return {
    secrets: toSecrets(response),
    identity,
    scopes: response.scope ? response.scope.split(' ').filter(Boolean) : requestedScopes,
  }
}

/** Ask the userinfo endpoint who holds this access token. */
export async function fetchIdentity(issuer: Issuer, accessToken: string, expectedSubject?: string): Promise<Identity> {
  if (!issuer.config.serverMetadata().userinfo_endpoint) {
    if (expectedSubject) return {subject: expectedSubject}
    throw new AuthError('LOGIN_FAILED', `The issuer at ${issuer.issuer} has no userinfo endpoint, so there is no way to tell whose token this is.`, {
      suggestion: 'Request the openid scope, or sign in with the browser or --device.',
    })
  }
  try {
    const info = await oidc.fetchUserInfo(issuer.config, accessToken, expectedSubject ?? oidc.skipSubjectCheck)
    return {subject: info.sub, name: stringClaim(info.name), email: stringClaim(info.email)}
  } catch (error) {
    throw toAuthError(error, {issuer: issuer.issuer, clientId: issuer.clientId, doing: 'read the signed-in user from userinfo'})
  }
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}
