import {requestWithProof} from '../provider/dpop.js'
import type {FreshToken} from './ensure-fresh.js'

/**
 * Requests with a DPoP-bound token (RFC 9449 §7), loaded only when a login has one: a fresh proof
 * for each request, from the login's key. openid-client does the proof and the API's nonces; the
 * request itself goes out through the caller's own fetch.
 */

/** `fetch(input, init)` with `Authorization: DPoP …` and a `DPoP` proof for its method and URL. */
export async function fetchWithProof(token: FreshToken, input: string | URL | Request, init: RequestInit, send: typeof fetch = fetch): Promise<Response> {
  const url = new URL(input instanceof Request ? input.url : input)
  const method = (init.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase()
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined))
  const ownUserAgent = headers.has('user-agent')
  return requestWithProof(token.dpopKey!, token.accessToken, url, method, headers, (withProof) => {
    // openid-client names itself as the user agent; the host's request keeps what fetch would send.
    if (!ownUserAgent) delete withProof['user-agent']
    return send(input, {...init, headers: withProof})
  })
}

/** The two header values one request needs, without sending it (`getDPoPProof`, `auth token --proof`). */
export async function proofFor(token: FreshToken, method: string, url: string | URL): Promise<{authorization: string; dpop: string}> {
  let captured: Record<string, string> = {}
  await requestWithProof(token.dpopKey!, token.accessToken, new URL(url), method.toUpperCase(), new Headers(), async (headers) => {
    captured = headers
    return new Response(null, {status: 204})
  })
  return {authorization: captured.authorization, dpop: captured.dpop}
}
