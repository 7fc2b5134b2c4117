import {createHash, webcrypto} from 'node:crypto'
import * as oidc from 'openid-client'

import {AuthError} from '../errors.js'
import {rememberSecret} from '../safe-text.js'

/**
 * DPoP (RFC 9449): the tokens of a login are bound to a key only this login holds, so a token copied
 * off the machine is useless without it. openid-client does the protocol work (proofs, `ath`, server
 * nonces and the one retry they call for); this file makes, reads and names the key.
 */

export type DPoPHandle = oidc.DPoPHandle

/** ES256: what every DPoP issuer we know accepts, and small enough for any keychain entry. */
export const DPOP_ALGORITHM = 'ES256'

/** Whether an issuer takes ES256 proofs, by its metadata's `dpop_signing_alg_values_supported`. */
export function dpopSupport(metadata: oidc.ServerMetadata): 'supported' | 'not-listed' | 'other-algorithms' {
  const algorithms = metadata.dpop_signing_alg_values_supported
  if (!Array.isArray(algorithms) || algorithms.length === 0) return 'not-listed'
  return algorithms.includes(DPOP_ALGORITHM) ? 'supported' : 'other-algorithms'
}

/** A new key for one login: its private JWK as text, kept with the login's other secrets. */
export async function newDPoPKey(): Promise<string> {
  const pair = await oidc.randomDPoPKeyPair(DPOP_ALGORITHM, {extractable: true})
  const {kty, crv, x, y, d} = await webcrypto.subtle.exportKey('jwk', pair.privateKey)
  rememberSecret(d)
  const text = JSON.stringify({kty, crv, x, y, d})
  rememberSecret(text)
  return text
}

/** The handle openid-client signs proofs with and keeps the issuer's (or an API's) nonces in. */
export async function dpopHandle(config: oidc.Configuration, keyText: string): Promise<oidc.DPoPHandle> {
  return oidc.getDPoPHandle(config, await keyPair(keyText))
}

/** The key's RFC 7638 thumbprint (`jkt`), as the issuer puts it in the token's `cnf`: public, shown by status. */
export function dpopThumbprint(keyText: string): string {
  const {crv, kty, x, y} = parseKey(keyText)
  // RFC 7638 §3.2: the required members only, in lexicographic order, no spaces.
  return createHash('sha256').update(JSON.stringify({crv, kty, x, y})).digest('base64url')
}

async function keyPair(keyText: string): Promise<webcrypto.CryptoKeyPair> {
  const {kty, crv, x, y, d} = parseKey(keyText)
  const algorithm = {name: 'ECDSA', namedCurve: 'P-256'}
  try {
    const privateKey = await webcrypto.subtle.importKey('jwk', {kty, crv, x, y, d}, algorithm, false, ['sign'])
    // openid-client puts the public half in every proof's header, so it must be extractable.
    const publicKey = await webcrypto.subtle.importKey('jwk', {kty, crv, x, y}, algorithm, true, ['verify'])
    return {privateKey, publicKey}
  } catch {
    throw damagedKey()
  }
}

function parseKey(keyText: string): {kty: string; crv: string; x: string; y: string; d: string} {
  let jwk: Record<string, unknown> | undefined
  try {
    jwk = JSON.parse(keyText) as Record<string, unknown>
  } catch {}
  const fields = ['x', 'y', 'd'] as const
  if (!jwk || jwk.kty !== 'EC' || jwk.crv !== 'P-256' || fields.some((field) => typeof jwk![field] !== 'string')) throw damagedKey()
  rememberSecret(jwk.d as string)
  return jwk as {kty: string; crv: string; x: string; y: string; d: string}
}

/** Never quoted: it is a private key. */
function damagedKey(): AuthError {
  return new AuthError('STORE_CORRUPT', "The DPoP key stored with this login is damaged, so its tokens cannot be used (they are bound to that key).", {
    suggestion: 'Sign in again: a new login gets a new key.',
  })
}

/**
 * One handle per key for the life of the process: it keeps the nonces APIs hand out (the
 * `DPoP-Nonce` header), so a command's second request to an API that wants one needs no retry.
 */
const resourceHandles = new Map<string, Promise<oidc.DPoPHandle>>()

/** What a request to an API gets from us: its headers, with the two DPoP ones set. */
export type SendRequest = (headers: Record<string, string>) => Promise<Response>

/**
 * A request to an API (a resource server, RFC 9449 §7) with a DPoP-bound access token: openid-client
 * signs a fresh proof for the method and URL (`htm`, `htu`, and `ath`, the token's hash), sets
 * `Authorization: DPoP …`, keeps the nonce the API sends and, when it answers `use_dpop_nonce`,
 * retries once with it. `send` makes the request itself, so the caller keeps its own transport.
 * An answer with a challenge (401 and WWW-Authenticate) is returned, not thrown: the caller decides.
 */
export async function requestWithProof(keyText: string, accessToken: string, url: URL, method: string, headers: Headers, send: SendRequest): Promise<Response> {
  let pending = resourceHandles.get(keyText)
  if (!pending) {
    pending = dpopHandle(resourceConfiguration(), keyText)
    resourceHandles.set(keyText, pending)
  }
  const handle = await pending.catch((error: unknown) => {
    resourceHandles.delete(keyText)
    throw error
  })
  // A Configuration per request (its fetch is this request's): the handle, and its nonces, are shared.
  const config = resourceConfiguration()
  let answered: Response | undefined
  config[oidc.customFetch] = async (_url, options) => {
    // The answer that asked for a nonce is not read: let its connection go before the retry.
    await answered?.body?.cancel().catch(() => {})
    answered = await send(options.headers as Record<string, string>)
    return answered
  }
  try {
    return await oidc.fetchProtectedResource(config, accessToken, url, method, undefined, headers, {DPoP: handle})
  } catch (error) {
    if (error instanceof oidc.WWWAuthenticateChallengeError) return error.response
    throw error
  }
}

/**
 * openid-client wants an issuer's Configuration even for an API request; nothing of it is used but
 * the fetch. Plain http is the host's choice here, as it is for its bearer requests.
 */
function resourceConfiguration(): oidc.Configuration {
  const config = new oidc.Configuration({issuer: 'urn:tokenwise:resource-server'}, 'tokenwise')
  oidc.allowInsecureRequests(config)
  return config
}
