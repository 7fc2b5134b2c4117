import {getLogger} from '@oclif/core'
import type {Agent} from 'node:http'
import * as http from 'node:http'
import type * as https from 'node:https'
import {Readable} from 'node:stream'

import {hostUnreachable, proxyRefused, proxyUnreachable, tlsFailure, type FailureWords} from './failures.js'
import {chooseProxy, type ProxyChoice} from './proxy-choice.js'
import {trustedRoots, type CaFileSetting} from './trusted-roots.js'

/**
 * The one way every request of the plugin leaves the process, and `authFetch`'s for the host: a
 * `fetch` on node:http/node:https. Node 20's own fetch ignores the proxy variables and compiles
 * undici's WebAssembly HTTP parser on its first request (~0.2 s of CPU, paid by every command that
 * refreshes); node:http's parser is built in. It takes the proxy from the command's environment
 * (proxy-choice.ts), trusts the caFile setting's authorities besides Node's, and hands back a
 * standard `Response`, which is all openid-client (`customFetch`) and a host need.
 */

export interface TransportSettings extends FailureWords {
  caFile?: CaFileSetting
  /** The variables the command runs with (run-environment.ts), where the proxy variables are read; default process.env. */
  env?: NodeJS.ProcessEnv
}

export interface TransportOptions extends TransportSettings {
  /** Answers larger than this are refused with `tooLarge` (the issuer's); none: streamed (a host's API). */
  limit?: {bytes: number; tooLarge: (url: string) => Error}
  /**
   * The request goes to the issuer, never answered with a gateway error by a proxy in the way: a
   * proxy's 502/503/504 then says the proxy could not get there, not what the issuer said.
   */
  toIssuer?: boolean
  /** A failure to get any answer is the plugin's AuthError (a host's request) instead of fetch's TypeError. */
  hostErrors?: boolean
}

export type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

const debug = getLogger('@tokenwise/plugin-auth:transport').debug

const MAX_REDIRECTS = 20
/** As fetch's (undici's) connect timeout: a host or proxy that drops packets is a failure in 10 s, not the kernel's two minutes. */
const CONNECT_TIMEOUT_MS = 10_000
/** Headers that must not follow a redirect to another origin (as fetch does). */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization']

export function transportFetch(options: TransportOptions): Fetch {
  return async (input, init) => {
    const request = new Request(input, init)
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined
    let url = new URL(request.url)
    let method = request.method
    let payload = body
    const headers = new Headers(request.headers)
    for (let redirects = 0; ; redirects++) {
      const incoming = await send(url, method, headers, payload, request.signal, options)
      const status = incoming.statusCode ?? 0
      const location = incoming.headers.location
      if (!(status >= 300 && status < 400 && location && status !== 304) || request.redirect === 'manual') {
        return toResponse(incoming, url, method, request.signal, options)
      }
      incoming.resume()
      if (request.redirect === 'error' || redirects >= MAX_REDIRECTS) {
        throw new TypeError('fetch failed', {cause: new Error(request.redirect === 'error' ? 'unexpected redirect' : 'redirect count exceeded')})
      }
      const next = new URL(location, url)
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new TypeError('fetch failed', {cause: new Error('URL scheme must be a HTTP(S) scheme')})
      if (next.origin !== url.origin) for (const name of CREDENTIAL_HEADERS) headers.delete(name)
      // Fetch's rules: 303 turns into GET, and so do 301/302 after a POST; the body goes with it.
      if ((status === 303 && method !== 'HEAD') || ((status === 301 || status === 302) && method === 'POST')) {
        method = 'GET'
        payload = undefined
        for (const name of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']) headers.delete(name)
      }
      url = next
    }
  }
}

/** One request, one answer's head; every failure to get one said in the plugin's words where it can be. */
async function send(url: URL, method: string, headers: Headers, body: Buffer | undefined, signal: AbortSignal, options: TransportOptions): Promise<http.IncomingMessage> {
  signal.throwIfAborted()
  const proxy = chooseProxy(url, options.env)
  logRoute(url, proxy)
  const secure = url.protocol === 'https:'
  const outgoing: Record<string, string> = {accept: '*/*', 'accept-encoding': 'gzip, deflate', 'user-agent': 'node'}
  headers.forEach((value, name) => {
    outgoing[name] = value
  })
  if (body) outgoing['content-length'] = String(body.byteLength)
  else if (!['GET', 'HEAD'].includes(method)) outgoing['content-length'] = '0'
  const ca = secure && options.caFile ? trustedRoots(options.caFile) : undefined

  let requestOptions: https.RequestOptions
  let forwarded = false
  if (proxy && !secure) {
    // Plain http through a proxy is a request for the absolute URL sent to the proxy: no tunnel.
    forwarded = true
    if (proxy.authorization) outgoing['proxy-authorization'] = proxy.authorization
    outgoing.host = url.host
    requestOptions = {protocol: proxy.url.protocol, hostname: proxy.url.hostname.replace(/^\[|\]$/g, ''), port: proxy.url.port || undefined, path: url.href, method, headers: outgoing, agent: await directAgent(proxy.url.protocol)}
  } else {
    const hostname = url.hostname.replace(/^\[|\]$/g, '')
    requestOptions = {protocol: url.protocol, hostname, port: url.port || undefined, path: `${url.pathname}${url.search}`, method, headers: outgoing, agent: proxy ? await tunnelAgent(proxy) : await directAgent(url.protocol), ca}
    // Inside a tunnel TLS is told no host name when the target is an IP address (SNI allows none),
    // and would check the certificate against the wrong one: check it against the target's.
    if (proxy && secure) {
      const {checkServerIdentity} = await import('node:tls')
      requestOptions.checkServerIdentity = (_host, certificate) => checkServerIdentity(hostname, certificate)
    }
  }
  // node:https (and TLS) only for https: a loopback issuer on plain http never loads it.
  const client = requestOptions.protocol === 'https:' ? await import('node:https') : http

  return new Promise((resolve, reject) => {
    const request = client.request(requestOptions)
    // Whether the proxy answered the CONNECT with 200: until it has, a failure is the proxy's.
    let tunnel: number | undefined
    request.on('proxyConnect', (answer: {statusCode: number}) => {
      tunnel = answer.statusCode
    })
    const onAbort = () => request.destroy(signal.reason)
    signal.addEventListener('abort', onAbort, {once: true})
    const connectTimer = setTimeout(() => request.destroy(Object.assign(new Error('connect timed out'), {code: 'ETIMEDOUT'})), CONNECT_TIMEOUT_MS)
    // A tunnel's socket is handed over once the proxy has answered: connected by then.
    request.on('socket', (socket) => {
      if (!socket.connecting) clearTimeout(connectTimer)
      else socket.once('connect', () => clearTimeout(connectTimer))
    })
    request.once('close', () => clearTimeout(connectTimer))
    request.on('response', (incoming) => {
      signal.removeEventListener('abort', onAbort)
      const status = incoming.statusCode ?? 0
      const fromProxy = proxy && ((tunnel !== undefined && tunnel !== 200) || (forwarded && (status === 407 || (options.toIssuer && [502, 503, 504].includes(status)))))
      if (proxy && fromProxy) {
        incoming.resume()
        reject(proxyRefused(proxy, url, status))
        return
      }
      resolve(incoming)
    })
    request.on('error', (error: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort)
      if (signal.aborted) return reject(signal.reason)
      reject(failure(error, url, proxy, proxy !== undefined && (forwarded || tunnel === undefined) && !request.reusedSocket, options))
    })
    request.end(body)
  })
}

function failure(error: NodeJS.ErrnoException, url: URL, proxy: ProxyChoice | undefined, beforeProxyAnswered: boolean, options: TransportOptions): Error {
  const code = error.code
  // A TLS failure before a tunnel answered is with an https:// proxy itself.
  const tls = tlsFailure(beforeProxyAnswered && proxy ? proxy.url.origin : url.origin, code, options, error)
  if (tls) return tls
  if (proxy && beforeProxyAnswered) return proxyUnreachable(proxy, url, code)
  return options.hostErrors ? hostUnreachable(url, code, error) : new TypeError('fetch failed', {cause: error})
}

function toResponse(incoming: http.IncomingMessage, url: URL, method: string, signal: AbortSignal, options: TransportOptions): Promise<Response> | Response {
  const status = incoming.statusCode ?? 0
  const headers = new Headers()
  for (let i = 0; i + 1 < incoming.rawHeaders.length; i += 2) {
    try {
      headers.append(incoming.rawHeaders[i], incoming.rawHeaders[i + 1])
    } catch {
      // A header value fetch would refuse is left out, as a browser leaves it out.
    }
  }
  if (status < 200 || status > 599) {
    incoming.resume()
    throw new TypeError('fetch failed', {cause: new Error(`invalid status ${status}`)})
  }
  const nullBody = method === 'HEAD' || [204, 205, 304].includes(status)
  const make = (body: ConstructorParameters<typeof Response>[0]) => {
    const response = new Response(body, {status, statusText: incoming.statusMessage, headers})
    // Response has no constructor argument for its URL; callers (and a host's logs) may read it.
    Object.defineProperty(response, 'url', {value: url.href})
    return response
  }
  if (nullBody) {
    incoming.resume()
    return make(null)
  }
  return decode(incoming).then((decoded) => readBody(decoded, incoming, url, signal, options).then(make))
}

function readBody(decoded: Readable, incoming: http.IncomingMessage, url: URL, signal: AbortSignal, options: TransportOptions): Promise<ReadableStream<Uint8Array> | Buffer> {
  const onAbort = () => decoded.destroy(signal.reason)
  signal.addEventListener('abort', onAbort, {once: true})
  decoded.once('close', () => signal.removeEventListener('abort', onAbort))
  if (!options.limit) return Promise.resolve(Readable.toWeb(decoded) as ReadableStream<Uint8Array>)
  return readLimited(decoded, url, incoming.headers['content-length'], options.limit)
}

/** Unpack what the server compressed, as fetch does (we asked for gzip and deflate). */
async function decode(incoming: http.IncomingMessage): Promise<Readable> {
  const encoding = String(incoming.headers['content-encoding'] ?? '').trim().toLowerCase()
  if (!['gzip', 'x-gzip', 'deflate', 'br'].includes(encoding)) return incoming
  const zlib = await import('node:zlib')
  const decoder = encoding === 'deflate' ? zlib.createInflate() : encoding === 'br' ? zlib.createBrotliDecompress() : zlib.createGunzip()
  incoming.on('error', (error) => decoder.destroy(error))
  return incoming.pipe(decoder)
}

async function readLimited(body: Readable, url: URL, declared: string | undefined, limit: NonNullable<TransportOptions['limit']>): Promise<Buffer> {
  if (declared !== undefined && Number(declared) > limit.bytes) {
    body.destroy()
    throw limit.tooLarge(url.href)
  }
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).byteLength
    if (size > limit.bytes) {
      body.destroy()
      throw limit.tooLarge(url.href)
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

// Kept alive between the requests of one command (discovery, then token, then userinfo); idle
// sockets do not keep the process running.
const httpAgent = new http.Agent({keepAlive: true})
let httpsAgent: https.Agent | undefined
const tunnelAgents = new Map<string, Agent>()

async function directAgent(protocol: string): Promise<Agent> {
  if (protocol !== 'https:') return httpAgent
  httpsAgent ??= new (await import('node:https')).Agent({keepAlive: true})
  return httpsAgent
}

/**
 * https through a proxy: a CONNECT tunnel (https-proxy-agent), TLS to the target inside it. The
 * agent gets the proxy without its user name and password and the Basic header on its own, so that
 * its debug output (DEBUG=*) shows the address only.
 */
async function tunnelAgent(proxy: ProxyChoice): Promise<Agent> {
  const key = `${proxy.url.href} ${proxy.authorization ?? ''}`
  let agent = tunnelAgents.get(key)
  if (!agent) {
    // Loaded only behind a proxy: most commands never need it.
    const {HttpsProxyAgent} = await import('https-proxy-agent')
    agent = new HttpsProxyAgent(proxy.url.href, {keepAlive: true, headers: proxy.authorization ? {'Proxy-Authorization': proxy.authorization} : {}})
    tunnelAgents.set(key, agent)
  }
  return agent
}

const logged = new Set<string>()

function logRoute(url: URL, proxy: ProxyChoice | undefined): void {
  const line = proxy ? `requests to ${url.host} go through the proxy ${proxy.shown} (from ${proxy.variable})` : `requests to ${url.host} go direct`
  if (logged.has(line)) return
  logged.add(line)
  debug(line)
}
