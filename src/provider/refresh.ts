import * as oidc from 'openid-client'

import type {Secrets} from '../store/credential-store.js'
import type {Issuer} from './connect.js'
import {REFRESHING, toAuthError} from './errors.js'
import {toSecrets} from './tokens.js'

/** One refresh_token grant (RFC 6749 §6). The caller holds the account lock and stores the result at once. */
export async function refreshTokens(issuer: Issuer, current: Secrets): Promise<Secrets> {
  try {
    const response = await oidc.refreshTokenGrant(issuer.config, current.refreshToken!)
    return toSecrets(response, current)
  } catch (error) {
    throw toAuthError(error, {issuer: issuer.issuer, clientId: issuer.clientId, doing: REFRESHING})
  }
}

/**
 * Revoke a token (RFC 7009). Returns false when the issuer offers no revocation endpoint; throws an
 * AuthError when it does and the request failed.
 */
export async function revokeToken(issuer: Issuer, token: string, hint: 'refresh_token' | 'access_token'): Promise<boolean> {
  if (!issuer.config.serverMetadata().revocation_endpoint) return false
  try {
    await oidc.tokenRevocation(issuer.config, token, {token_type_hint: hint})
    return true
  } catch (error) {
    throw toAuthError(error, {issuer: issuer.issuer, clientId: issuer.clientId, doing: 'revoke the token'})
  }
}
