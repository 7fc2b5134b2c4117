import {AuthError} from '../errors.js'
import {transportFetch, type TransportSettings} from '../transport/transport-fetch.js'
import {MAX_RESPONSE_BYTES} from './limits.js'

/**
 * `fetch` for openid-client (`config[customFetch]`): the request through the plugin's one transport
 * (proxy, certificate authorities, timeouts via openid-client's signal), its answer read with a size
 * limit, and what `onResponse` wants to know of the headers (Cache-Control of the metadata) handed
 * over before openid-client reads the body.
 */
export function boundedFetch(issuer: string, transport: TransportSettings, onResponse?: (url: string, response: Response) => void) {
  const send = transportFetch({...transport, toIssuer: true, limit: {bytes: MAX_RESPONSE_BYTES, tooLarge: (url) => tooLarge(issuer, url)}})
  return async (url: string, options: RequestInit): Promise<Response> => {
    const response = await send(url, options)
    onResponse?.(url, response)
    if (response.ok) return response
    // An error answer stays readable after openid-client gave up on it (a 401 with a Basic challenge
    // carries its OAuth error in the body, which the library never reads). The transport has read
    // it whole already, within the limit.
    const body = await response.arrayBuffer()
    const kept = new Response(body, {status: response.status, statusText: response.statusText, headers: response.headers})
    ERROR_BODIES.set(kept, Buffer.from(body).toString('utf8'))
    return kept
  }
}

const ERROR_BODIES = new WeakMap<Response, string>()

/** The body of an error answer that came through boundedFetch, whether or not it was read since. */
export function bufferedBody(response: Response): string | undefined {
  return ERROR_BODIES.get(response)
}

function tooLarge(issuer: string, url: string): AuthError {
  const path = new URL(url).pathname
  return new AuthError('LOGIN_FAILED', `The issuer at ${issuer} answered ${path} with more than ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB; nothing of it was used or stored.`, {
    suggestion: "Tell the issuer's administrators: no OAuth answer is that large.",
  })
}
