// An API (a resource server, RFC 9449 §7) that takes the test issuer's access tokens the way a real
// one must: a token bound to a key (its `jkt`) only with `Authorization: DPoP` and a proof signed by
// that key for this very request (htm, htu, ath, a fresh iat, an unused jti), verified with jose.
// With `requireNonce`, it also hands out nonces (401 use_dpop_nonce + DPoP-Nonce) and wants them back.

import {createHash, randomBytes} from 'node:crypto'
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http'

import {EmbeddedJWK, calculateJwkThumbprint, jwtVerify, type JWK} from 'jose'

import type {Issuer} from './signed-in.js'

export interface ApiRequest {
  method: string
  path: string
  scheme: string | undefined
  /** Whether a DPoP proof came with it, and what was wrong, if anything. */
  proof: boolean
  status: number
  problem?: string
}

export interface DPoPApi {
  url: string
  requests: ApiRequest[]
  close(): Promise<void>
}

export async function startDPoPApi(issuer: Issuer, options: {requireNonce?: boolean} = {}): Promise<DPoPApi> {
  const requests: ApiRequest[] = []
  const seenJti = new Set<string>()
  const nonce = randomBytes(16).toString('base64url')
  let origin = ''

  const refuse = (response: ServerResponse, record: ApiRequest, problem: string, error = 'invalid_token', extra: Record<string, string> = {}) => {
    record.status = 401
    record.problem = problem
    response.writeHead(401, {'www-authenticate': `DPoP error="${error}", algs="ES256"`, 'cache-control': 'no-store', ...extra}).end(JSON.stringify({error}))
  }

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', origin).pathname
    const [scheme, token] = (request.headers.authorization ?? '').split(' ', 2)
    const proof = request.headers.dpop
    const record: ApiRequest = {method: request.method ?? '', path, scheme, proof: typeof proof === 'string', status: 0}
    requests.push(record)
    const found = token ? ((await issuer.provider.AccessToken.find(token)) ?? (await issuer.provider.ClientCredentials.find(token))) : undefined
    if (!found || found.isExpired) return refuse(response, record, 'unknown or expired token')
    const jkt = (found as unknown as {jkt?: string}).jkt
    if (!jkt) {
      if (scheme !== 'Bearer') return refuse(response, record, 'a bearer token with another scheme')
    } else {
      // RFC 9449 §7.1: a bound token as a plain Bearer token is refused, whatever else comes with it.
      if (scheme !== 'DPoP') return refuse(response, record, 'DPoP-bound token sent as Bearer')
      if (typeof proof !== 'string') return refuse(response, record, 'no DPoP proof', 'invalid_dpop_proof')
      let payload
      let header
      try {
        ;({payload, protectedHeader: header} = await jwtVerify(proof, EmbeddedJWK, {typ: 'dpop+jwt', algorithms: ['ES256'], maxTokenAge: '60s'}))
      } catch (error) {
        return refuse(response, record, `proof does not verify: ${(error as Error).message}`, 'invalid_dpop_proof')
      }
      const ath = createHash('sha256').update(token).digest('base64url')
      const problems = [
        payload.htm === request.method ? undefined : `htm ${payload.htm}`,
        payload.htu === `${origin}${path}` ? undefined : `htu ${payload.htu}`,
        payload.ath === ath ? undefined : 'ath',
        (await calculateJwkThumbprint(header.jwk as JWK)) === jkt ? undefined : 'key is not the one the token is bound to',
        typeof payload.jti === 'string' && !seenJti.has(payload.jti) ? undefined : 'jti reused',
      ].filter(Boolean)
      if (problems.length > 0) return refuse(response, record, problems.join(', '), 'invalid_dpop_proof')
      seenJti.add(payload.jti as string)
      if (options.requireNonce && payload.nonce !== nonce) return refuse(response, record, 'no nonce', 'use_dpop_nonce', {'dpop-nonce': nonce})
    }
    record.status = 200
    response.writeHead(200, {'content-type': 'application/json', ...(options.requireNonce ? {'dpop-nonce': nonce} : {})}).end(JSON.stringify({sub: found.accountId ?? found.clientId, bound: Boolean(jkt)}))
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500).end(String(error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as {port: number}).port}`
  return {
    url: origin,
    requests,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
