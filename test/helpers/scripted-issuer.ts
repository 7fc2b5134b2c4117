// A small HTTP server on 127.0.0.1 that answers as the test says: for what real issuers get wrong
// or a hostile one does on purpose (a bare 400, an error text echoing a token, a 2 MB token, escape
// sequences in claims). Where a test needs an issuer that follows the standards, it uses the real
// oidc-provider (test/fixtures/issuer.js) instead.

import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

export interface ScriptedRequest {
  method: string
  path: string
  /** The query string, parsed (the authorization request's parameters). */
  query: URLSearchParams
  headers: IncomingMessage['headers']
  /** The form body of a POST, parsed. */
  form: URLSearchParams
}

export interface ScriptedAnswer {
  status?: number
  headers?: Record<string, string>
  /** An object is sent as JSON; a string as is. */
  body?: unknown
}

export type Route = (request: ScriptedRequest) => ScriptedAnswer | Promise<ScriptedAnswer>

export interface ScriptedIssuer {
  issuer: string
  /** Every request, in order: `POST /token`. */
  requests: ScriptedRequest[]
  /** Set or replace what a path answers. */
  route(path: string, answer: Route | ScriptedAnswer): void
  close(): Promise<void>
}

/**
 * Start a server whose `/.well-known/openid-configuration` names its own `/token`, `/revoke`,
 * `/userinfo`, `/device` and `/authorize` (override any of it with `metadata`). Paths without a
 * route answer 404.
 */
export async function startScriptedIssuer(
  options: {
    metadata?: Record<string, unknown>
    path?: string
    /** Which metadata documents it publishes: OpenID discovery (default), RFC 8414 (path-inserted, §3.1), or both. */
    publishes?: Array<'openid' | 'rfc8414'>
    /** The RFC 8414 document, when it should differ from the OpenID one. */
    rfc8414Metadata?: Record<string, unknown>
  } = {},
): Promise<ScriptedIssuer> {
  const routes = new Map<string, Route>()
  const requests: ScriptedRequest[] = []
  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    const scripted: ScriptedRequest = {method: request.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: request.headers, form: new URLSearchParams(Buffer.concat(chunks).toString('utf8'))}
    requests.push(scripted)
    const route = routes.get(url.pathname)
    const answer = route ? await route(scripted) : {status: 404, body: ''}
    const body = typeof answer.body === 'string' || answer.body === undefined ? (answer.body ?? '') : JSON.stringify(answer.body)
    const json = typeof answer.body === 'object' && answer.body !== null
    // Token answers are not to be cached (RFC 6749 §5.1); metadata says nothing unless the test does.
    const noStore = scripted.method === 'POST' ? {'cache-control': 'no-store'} : {}
    response.writeHead(answer.status ?? 200, {...(json ? {'content-type': 'application/json'} : {}), ...noStore, ...answer.headers})
    response.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const issuer = `${base}${options.path ?? ''}`
  const metadata = {
    issuer,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    revocation_endpoint: `${base}/revoke`,
    userinfo_endpoint: `${base}/userinfo`,
    device_authorization_endpoint: `${base}/device`,
    jwks_uri: `${base}/jwks`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: ['none'],
    code_challenge_methods_supported: ['S256'],
    ...options.metadata,
  }
  const routeOf = (answer: Route | ScriptedAnswer): Route => (typeof answer === 'function' ? answer : () => answer)
  const publishes = options.publishes ?? ['openid']
  if (publishes.includes('openid')) routes.set(`${options.path ?? ''}/.well-known/openid-configuration`, () => ({body: metadata}))
  if (publishes.includes('rfc8414')) routes.set(`/.well-known/oauth-authorization-server${options.path ?? ''}`, () => ({body: {...metadata, ...options.rfc8414Metadata}}))
  routes.set('/jwks', () => ({body: {keys: []}}))
  return {
    issuer,
    requests,
    route(path, answer) {
      routes.set(path, routeOf(answer))
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
