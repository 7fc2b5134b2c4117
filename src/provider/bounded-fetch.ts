import {AuthError} from '../errors.js'
import {MAX_RESPONSE_BYTES} from './limits.js'


/**
 * `fetch` for openid-client (`config[customFetch]`): the same request, but the answer is read with
 * a size limit, and what `onResponse` wants to know of the headers (Cache-Control of the metadata)
 * is handed over before openid-client reads the body.
 */
export function boundedFetch(issuer: string, onResponse?: (url: string, response: Response) => void) {
  return async (url: string, options: RequestInit): Promise<Response> => {
    const response = await fetch(url, options)
    onResponse?.(url, response)
    const declared = Number(response.headers.get('content-length'))
    if (Number.isFinite(declared) && declared > MAX_RESPONSE_BYTES) {
      await response.body?.cancel()
      throw tooLarge(issuer, url)
    }
    if (!response.body) return response
    const reader = response.body.getReader()
    const chunks: Uint8Array[] = []
    let size = 0
    for (;;) {
      const {done, value} = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > MAX_RESPONSE_BYTES) {
        await reader.cancel()
        throw tooLarge(issuer, url)
      }
      chunks.push(value)
    }
    const body = Buffer.concat(chunks)
    const bounded = new Response(body, {status: response.status, statusText: response.statusText, headers: response.headers})
    // An error answer stays readable after openid-client gave up on it (a 401 with a Basic challenge
    // carries its OAuth error in the body, which the library never reads).
    if (!response.ok) ERROR_BODIES.set(bounded, body.toString('utf8'))
    return bounded
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
