import * as oidc from 'openid-client'

import type {Secrets} from '../store/secrets.js'
import type {Issuer} from './connect.js'
import {endpointFailure} from './errors.js'
import {resourceParameters, toSecrets} from './tokens.js'

/**
 * One refresh_token grant (RFC 6749 §6), with the login's RFC 8707 resources again. The caller holds
 * the account lock and stores the result at once.
 */
export async function refreshTokens(issuer: Issuer, current: Secrets, options: {resource?: string[]; dpop?: oidc.DPoPHandle} = {}): Promise<Secrets> {
  try {
    // RFC 9449 §5: a public client's refresh token is bound to the key too; without a proof it is refused.
    const response = await oidc.refreshTokenGrant(issuer.config, current.refreshToken!, resourceParameters(options.resource), {DPoP: options.dpop})
    return toSecrets(response, current, Date.now(), `The issuer at ${issuer.issuer}`)
  } catch (error) {
    throw await endpointFailure(issuer, error, 'refresh', {dpop: Boolean(options.dpop)})
  }
}

/**
 * Revoke a token (RFC 7009). RFC 9449 defines no proof for revocation, and openid-client sends none:
 * the issuers we know revoke a DPoP-bound refresh token the client presents as any other. Returns false when the issuer offers no revocation endpoint; throws an
 * AuthError when it does and the request failed.
 */
export async function revokeToken(issuer: Issuer, token: string, hint: 'refresh_token' | 'access_token'): Promise<boolean> {
  if (!issuer.config.serverMetadata().revocation_endpoint) return false
  try {
    await oidc.tokenRevocation(issuer.config, token, {token_type_hint: hint})
    return true
  } catch (error) {
    throw await endpointFailure(issuer, error, 'revocation')
  }
}
