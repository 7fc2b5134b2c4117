// The DPoP parts below the session (issue 24), against a scripted issuer through the real
// openid-client: the key and its thumbprint, one retry with the issuer's nonce (never two), and
// which refusals mean "this client must use DPoP".

import {expect} from 'chai'

import {calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, type JWK} from 'jose'

import {connect, demandsDPoP, dpopHandle, dpopThumbprint, newDPoPKey, refreshTokens} from '../../src/provider/api.js'
import {redactSecrets} from '../../src/safe-text.js'
import {authErrorFrom} from '../helpers/errors.js'
import {startScriptedIssuer, type ScriptedIssuer} from '../helpers/scripted-issuer.js'

const OPTIONS = {requestTimeoutSeconds: 2, allowInsecureIssuer: false}
const SECRETS = {accessToken: 'at-secret-1', refreshToken: 'rt-secret-1', tokenType: 'DPoP'}
const TOKENS = {access_token: 'at-secret-2', refresh_token: 'rt-secret-2', token_type: 'DPoP', expires_in: 300}

describe('provider: DPoP', () => {
  let server: ScriptedIssuer
  beforeEach(async () => {
    server = await startScriptedIssuer()
  })
  afterEach(() => server.close())

  it('a new key is a P-256 private JWK; its thumbprint is RFC 7638 (as jose computes it); its private part is never shown', async () => {
    const text = await newDPoPKey()
    const jwk = JSON.parse(text) as JWK
    expect(jwk).to.include({kty: 'EC', crv: 'P-256'}).and.have.all.keys('kty', 'crv', 'x', 'y', 'd')
    expect(dpopThumbprint(text)).to.equal(await calculateJwkThumbprint({kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y}))
    expect(redactSecrets(`the key ${jwk.d} and ${text}`)).to.not.include(jwk.d)
    expect(await newDPoPKey()).to.not.equal(text)
  })

  it('a refresh carries a proof of the key; told use_dpop_nonce, it retries once with the nonce, and not twice', async () => {
    const key = await newDPoPKey()
    const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli'}, OPTIONS)
    let answered = 0
    server.route('/token', () => (answered++ === 0 ? {status: 400, headers: {'dpop-nonce': 'nonce-1'}, body: {error: 'use_dpop_nonce'}} : {status: 200, body: TOKENS}))
    const secrets = await refreshTokens(issuer, {...SECRETS, dpopKey: key}, {dpop: await dpopHandle(issuer.config, key), now: Date.now})
    expect(secrets).to.include({accessToken: 'at-secret-2', tokenType: 'DPoP', dpopKey: key})
    const proofs = server.requests.filter((request) => request.path === '/token').map((request) => String(request.headers.dpop))
    expect(proofs).to.have.length(2)
    const header = decodeProtectedHeader(proofs[1])
    expect(header).to.include({typ: 'dpop+jwt', alg: 'ES256'})
    expect(await calculateJwkThumbprint(header.jwk as JWK)).to.equal(dpopThumbprint(key))
    expect(decodeJwt(proofs[0]).nonce).to.equal(undefined)
    expect(decodeJwt(proofs[1])).to.include({htm: 'POST', htu: `${server.issuer}/token`, nonce: 'nonce-1'})

    server.requests.length = 0
    server.route('/token', {status: 400, headers: {'dpop-nonce': 'nonce-2'}, body: {error: 'use_dpop_nonce'}})
    const refused = await authErrorFrom(async () => refreshTokens(issuer, {...SECRETS, dpopKey: key}, {dpop: await dpopHandle(issuer.config, key), now: Date.now}))
    expect(server.requests.filter((request) => request.path === '/token'), 'one retry, not more').to.have.length(2)
    expect(refused.message).to.include('use_dpop_nonce')
    expect(demandsDPoP(refused), 'we did send proofs').to.equal(undefined)
  })

  it('without a proof: the DPoP error codes mean the client must use DPoP; a bare invalid_grant on a refresh means nothing of the kind', async () => {
    const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli'}, OPTIONS)
    for (const error of ['invalid_dpop_proof', 'use_dpop_nonce']) {
      server.route('/token', {status: 400, body: {error}})
      const failure = await authErrorFrom(() => refreshTokens(issuer, SECRETS, {now: Date.now}))
      expect(failure.code).to.equal('CONFIG_INVALID')
      expect(failure.message).to.include("requires DPoP-bound tokens (RFC 9449) for client 'acme-cli'")
      expect(demandsDPoP(failure)).to.equal('certain')
    }
    server.route('/token', {status: 400, body: {error: 'invalid_grant', error_description: 'DPoP proof JWT not provided'}})
    expect(demandsDPoP(await authErrorFrom(() => refreshTokens(issuer, SECRETS, {now: Date.now})))).to.equal('certain')
    server.route('/token', {status: 400, body: {error: 'invalid_grant', error_description: 'grant request is invalid'}})
    const expired = await authErrorFrom(() => refreshTokens(issuer, SECRETS, {now: Date.now}))
    expect(expired.code).to.equal('REAUTH_REQUIRED')
    expect(demandsDPoP(expired)).to.equal(undefined)
  })
})
