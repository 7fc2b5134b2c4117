import {createPrivateKey, webcrypto} from 'node:crypto'
import * as oidc from 'openid-client'

import {AuthError} from '../errors.js'
import {rememberSecret} from '../safe-text.js'
import type {Secrets} from '../store/secrets.js'
import type {Issuer} from './connect.js'
import {endpointFailure} from './errors.js'
import {resourceParameters, toSecrets} from './tokens.js'

/**
 * How a machine proves it is the client (RFC 6749 §2.3): a client secret, a private key that signs
 * a JWT (RFC 7523 §2.2, `private_key_jwt`), or a JWT another issuer made for it (workload identity
 * federation: a CI system's token, sent as the client assertion the same way).
 */
export type ClientCredential =
  | {kind: 'client_secret'; secret: string}
  | {kind: 'private_key_jwt'; key: string}
  | {kind: 'federated'; assertion: string}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** The openid-client authentication for a machine's credential. */
export async function machineAuthentication(credential: ClientCredential): Promise<oidc.ClientAuth> {
  switch (credential.kind) {
    case 'client_secret':
      rememberSecret(credential.secret)
      return secretAuthentication(credential.secret)
    case 'private_key_jwt':
      return oidc.PrivateKeyJwt(await signingKey(credential.key))
    case 'federated':
      rememberSecret(credential.assertion)
      return (_as, client, body) => {
        body.set('client_id', client.client_id)
        body.set('client_assertion_type', JWT_BEARER)
        body.set('client_assertion', credential.assertion)
      }
  }
}

/** A client secret (RFC 8414 §2): client_secret_basic unless the issuer lists only client_secret_post. */
export function secretAuthentication(secret: string): oidc.ClientAuth {
  const basic = oidc.ClientSecretBasic(secret)
  const post = oidc.ClientSecretPost(secret)
  return (as, client, body, headers) => {
    const methods = as.token_endpoint_auth_methods_supported
    const chosen = !methods || methods.includes('client_secret_basic') || !methods.includes('client_secret_post') ? basic : post
    chosen(as, client, body, headers)
  }
}

/** A private key as PEM (PKCS #8, PKCS #1, SEC1) or JWK, with the JWK's `kid` when it has one. */
async function signingKey(text: string): Promise<oidc.PrivateKey> {
  let jwk: webcrypto.JsonWebKey & {kid?: string}
  try {
    const trimmed = text.trim()
    const parsed = trimmed.startsWith('{') ? (JSON.parse(trimmed) as webcrypto.JsonWebKey & {kid?: string}) : undefined
    const key = parsed ? createPrivateKey({key: parsed as never, format: 'jwk'}) : createPrivateKey(trimmed)
    jwk = {...(key.export({format: 'jwk'}) as webcrypto.JsonWebKey), ...(parsed?.kid ? {kid: parsed.kid} : {})}
  } catch {
    // Never quote it: it is a private key.
    throw new AuthError('CONFIG_INVALID', 'The client assertion key is not a private key in PEM or JWK form.', {
      suggestion: 'Give the file of an RSA, EC (P-256, P-384) or Ed25519 private key.',
    })
  }
  const algorithm = jwk.kty === 'RSA' ? {name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256'} : jwk.kty === 'EC' ? {name: 'ECDSA', namedCurve: jwk.crv!} : {name: 'Ed25519'}
  const {kid, ...material} = jwk
  const key = await webcrypto.subtle.importKey('jwk', material, algorithm, false, ['sign'])
  return kid ? {key, kid} : {key}
}

/** One client_credentials grant (RFC 6749 §4.4): the machine's own access token, no refresh token. `now` is the session's clock. */
export async function clientCredentialsGrant(issuer: Issuer, options: {scopes?: string[]; resource?: string[]; audience?: string; dpop?: oidc.DPoPHandle; now: () => number}, previous?: Secrets): Promise<Secrets> {
  const parameters = resourceParameters(options.resource) ?? new URLSearchParams()
  if (options.scopes?.length) parameters.set('scope', options.scopes.join(' '))
  if (options.audience) parameters.set('audience', options.audience)
  try {
    const response = await oidc.clientCredentialsGrant(issuer.config, parameters, {DPoP: options.dpop})
    return toSecrets(response, previous, options.now(), `The issuer at ${issuer.issuer}`)
  } catch (error) {
    throw await endpointFailure(issuer, error, 'client-credentials', {dpop: Boolean(options.dpop)})
  }
}
