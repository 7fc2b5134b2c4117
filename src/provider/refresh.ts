import * as oidc from 'openid-client'

import type {IdentityClaims} from '../settings/parse.js'
import type {Secrets} from '../store/secrets.js'
import type {Issuer} from './connect.js'
import {endpointFailure} from './errors.js'
import {resourceParameters, signInOf, toSecrets, type Identity, type SignIn} from './tokens.js'

/**
 * One refresh_token grant (RFC 6749 §6), with the login's RFC 8707 resources again. The caller holds
 * the account lock and stores the result at once; `now` is its clock (AuthContext.now).
 */
export async function refreshTokens(issuer: Issuer, current: Secrets, options: {resource?: string[]; dpop?: oidc.DPoPHandle; now: () => number}): Promise<Secrets> {
  try {
    // RFC 9449 §5: a public client's refresh token is bound to the key too; without a proof it is refused.
    const response = await oidc.refreshTokenGrant(issuer.config, current.refreshToken!, resourceParameters(options.resource), {DPoP: options.dpop})
    return toSecrets(response, current, options.now(), `The issuer at ${issuer.issuer}`)
  } catch (error) {
    throw await endpointFailure(issuer, error, 'refresh', {dpop: Boolean(options.dpop)})
  }
}

/**
 * A refresh that also says whose login it is, as a sign-in does (signInOf): from the ID token the
 * answer carries, else from `known` (userinfo asked with the old access token before the refresh),
 * else from userinfo asked now, the one request left between this answer and its save. For a login
 * made elsewhere (the host's earlier code), of which we know only its tokens. The caller holds the
 * lock and stores the result at once.
 */
export async function refreshAsSignIn(issuer: Issuer, current: Secrets, options: {scopes: string[]; claims?: IdentityClaims; resource?: string[]; known?: Identity; now: () => number}): Promise<SignIn> {
  let response: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>
  try {
    response = await oidc.refreshTokenGrant(issuer.config, current.refreshToken!, resourceParameters(options.resource))
  } catch (error) {
    throw await endpointFailure(issuer, error, 'refresh')
  }
  // An issuer that does not rotate leaves the refresh token out of its answer: keep the one we sent.
  const secrets = toSecrets(response, current, options.now(), `The issuer at ${issuer.issuer}`)
  return signInOf(issuer, response, secrets, options.scopes, {claims: options.claims, known: options.known})
}

/**
 * Revoke a token (RFC 7009). RFC 9449 defines no proof for revocation, and openid-client sends none:
 * the issuers we know revoke a DPoP-bound refresh token the client presents as any other. Returns
 * false when the issuer offers no revocation endpoint; throws an
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
