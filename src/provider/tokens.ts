import * as oidc from 'openid-client'

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
  let identity: Identity | undefined = claims
    ? {subject: claims.sub, name: stringClaim(claims.name), email: stringClaim(claims.email)}
    : undefined
  if (!identity?.name || !identity.email) identity = {...identity, ...(await fetchIdentity(issuer, response.access_token, identity?.subject))}
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
    throw toAuthError({error: 'unsupported'}, {issuer: issuer.issuer, doing: 'find out who the token belongs to (no userinfo endpoint)'})
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
