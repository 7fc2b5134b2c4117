// What each way an issuer can fail becomes for the user: code, exit code, one-line message. Driven
// through the real openid-client against a scripted server, so each case is the error the library
// really throws for that answer; provider/errors.ts is the one place that maps them.

import {expect} from 'chai'
import * as oidc from 'openid-client'

import {connect, fetchIdentity, refreshTokens, revokeToken} from '../../src/provider/api.js'
import {toAuthError} from '../../src/provider/errors.js'
import {authErrorFrom} from '../helpers/errors.js'
import {closedPort} from '../helpers/acme.js'
import {startScriptedIssuer, type ScriptedIssuer} from '../helpers/scripted-issuer.js'

const OPTIONS = {requestTimeoutSeconds: 2, allowInsecureIssuer: false, transport: {caFileVariable: 'ACME_AUTH_CA_FILE'}}
const SECRETS = {accessToken: 'at-secret-1', refreshToken: 'rt-secret-1', tokenType: 'Bearer'}

describe('provider errors: what an issuer answer means for the user', () => {
  let server: ScriptedIssuer
  beforeEach(async () => {
    server = await startScriptedIssuer()
  })
  afterEach(async () => {
    await server.close()
  })

  async function refreshFails(answer: Parameters<ScriptedIssuer['route']>[1]) {
    server.route('/token', answer)
    const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli'}, OPTIONS)
    return authErrorFrom(() => refreshTokens(issuer, SECRETS, {now: Date.now}))
  }

  it('invalid_grant on a refresh is REAUTH_REQUIRED (exit 4)', async () => {
    const error = await refreshFails({status: 400, body: {error: 'invalid_grant', error_description: 'grant expired'}})
    expect(error).to.include({code: 'REAUTH_REQUIRED', exitCode: 4})
  })

  // An outage's reason is said by whoever raised it (AuthError.reason), so the back-off record and the
  // "using the current token" line never depend on how a message is worded.
  describe('outage reasons come with the error, not from its words', () => {
    it('a server error, too many requests', async () => {
      expect(await refreshFails({status: 502, body: 'Bad Gateway'})).to.include({code: 'TRANSIENT', reason: 'a server error (502)'})
      expect(await refreshFails({status: 503, body: {error: 'server_error'}})).to.include({code: 'TRANSIENT', reason: 'a server error (503)'})
      expect(await refreshFails({status: 429, body: {error: 'slow_down'}})).to.include({code: 'TRANSIENT', reason: 'too many requests (429)'})
    })

    it('a refused connection', async () => {
      const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli'}, OPTIONS)
      await server.close()
      const error = await authErrorFrom(() => refreshTokens(issuer, SECRETS, {now: Date.now}))
      // Refused, or reset when the transport had kept a connection open: either way the network's words.
      expect(error.code).to.equal('TRANSIENT')
      expect(error.reason).to.match(/^connection (refused|reset)$/)
      expect(error.message).to.include(`(${error.reason})`)
      server = await startScriptedIssuer()
    })
  })

  it('5xx and 429, with or without an OAuth body, are TRANSIENT (exit 75)', async () => {
    for (const answer of [{status: 503, body: {error: 'temporarily_unavailable'}}, {status: 502, body: 'Bad Gateway'}, {status: 429, body: {error: 'slow_down'}}, {status: 500}]) {
      const error = await refreshFails(answer)
      expect(error.code, JSON.stringify(answer)).to.equal('TRANSIENT')
      expect(error.exitCode).to.equal(75)
      expect(error.suggestion).to.include('nothing was lost')
    }
  })

  it('invalid_client, in the body or in a Basic challenge, is CONFIG_INVALID naming the client id (exit 2)', async () => {
    for (const answer of [
      {status: 401, body: {error: 'invalid_client'}},
      {status: 401, headers: {'www-authenticate': 'Basic realm="x", error="invalid_client"'}, body: {error: 'invalid_client'}},
    ]) {
      const error = await refreshFails(answer)
      expect(error.code).to.equal('CONFIG_INVALID')
      expect(error.message).to.include("client id 'acme-cli'")
    }
  })

  it('another OAuth error refusing a refresh is REAUTH_REQUIRED (issue 20: sign in again) with its code and a clipped one-line description', async () => {
    const error = await refreshFails({status: 400, body: {error: 'invalid_scope', error_description: `line one\nline two ${'x'.repeat(400)}`}})
    expect(error.code).to.equal('REAUTH_REQUIRED')
    expect(error.message).to.include('(invalid_scope: line one line two').and.not.match(/\n/)
    expect(error.message.length).to.be.below(320)
  })

  it('a refused connection and a server that does not answer in time are TRANSIENT', async () => {
    const port = await closedPort()
    const refused = await authErrorFrom(() => connect({issuer: `http://127.0.0.1:${port}`, clientId: 'acme-cli'}, OPTIONS))
    expect(refused).to.include({code: 'TRANSIENT'})
    expect(refused.message).to.include('connection refused')
    server.route('/token', () => new Promise(() => {}))
    const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli'}, {...OPTIONS, requestTimeoutSeconds: 0.3})
    const slow = await authErrorFrom(() => refreshTokens(issuer, SECRETS, {now: Date.now}))
    expect(slow.code).to.equal('TRANSIENT')
    expect(slow.message).to.include('did not answer in time while trying to refresh the access token')
  })

  it('discovery: 404 says what the issuer setting is; an issuer reporting another identifier names it', async () => {
    const missing = await authErrorFrom(() => connect({issuer: `${server.issuer}/nothing-here`, clientId: 'acme-cli'}, OPTIONS))
    expect(missing.code).to.equal('CONFIG_INVALID')
    const other = await startScriptedIssuer({metadata: {issuer: 'https://elsewhere.example.com'}})
    try {
      const error = await authErrorFrom(() => connect({issuer: other.issuer, clientId: 'acme-cli'}, OPTIONS))
      expect(error.code).to.equal('CONFIG_INVALID')
      expect(error.message).to.include('https://elsewhere.example.com')
    } finally {
      await other.close()
    }
  })

  it('userinfo refusing the access token is LOGIN_FAILED (expired, revoked or from another issuer)', async () => {
    server.route('/userinfo', {status: 401, headers: {'www-authenticate': 'Bearer error="invalid_token"'}})
    const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli'}, OPTIONS)
    const error = await authErrorFrom(() => fetchIdentity(issuer, 'at-secret-1'))
    expect(error.code).to.equal('LOGIN_FAILED')
    expect(error.message).to.include('did not accept the access token')
  })

  it('revocation: a refusal is an error to report; no endpoint is "unsupported" (false)', async () => {
    server.route('/revoke', {status: 400, body: {error: 'unsupported_token_type'}})
    const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli'}, OPTIONS)
    expect((await authErrorFrom(() => revokeToken(issuer, 'rt-secret-1', 'refresh_token'))).code).to.equal('LOGIN_FAILED')
    server.route('/revoke', {status: 200})
    expect(await revokeToken(issuer, 'rt-secret-1', 'refresh_token')).to.equal(true)
  })

  it('invalid_grant anywhere but a refresh (a code exchange) is a failed sign-in, not "sign in again"', async () => {
    const error = toAuthError(new oidc.ResponseBodyError('x', {cause: {error: 'invalid_grant'}, response: new Response(null, {status: 400})}), {issuer: server.issuer, operation: 'code-exchange'})
    expect(error.code).to.equal('LOGIN_FAILED')
    expect(error.message).to.include('refused to complete the sign-in (invalid_grant)')
  })

  it('errors of the authorization redirect: access_denied is ACCESS_DENIED; expired_token is LOGIN_TIMEOUT', async () => {
    const denied = new oidc.AuthorizationResponseError('x', {cause: new URLSearchParams({error: 'access_denied', error_description: 'user said no'})})
    expect(toAuthError(denied, {issuer: server.issuer, operation: 'code-exchange'})).to.include({code: 'ACCESS_DENIED'})
    const expired = new oidc.ResponseBodyError('x', {cause: {error: 'expired_token'}, response: new Response(null, {status: 400})})
    expect(toAuthError(expired, {issuer: server.issuer, operation: 'device-poll'})).to.include({code: 'LOGIN_TIMEOUT'})
  })

  it('the meaning follows the operation, not the wording: only a refresh turns invalid_grant into exit 4', () => {
    const body = () => new oidc.ResponseBodyError('x', {cause: {error: 'invalid_grant'}, response: new Response(null, {status: 400})})
    const operations = ['discovery', 'authorization', 'code-exchange', 'device-authorization', 'device-poll', 'refresh', 'revocation', 'userinfo'] as const
    const codes = operations.map((operation) => toAuthError(body(), {issuer: server.issuer, operation}).code)
    expect(codes).to.deep.equal(['LOGIN_FAILED', 'LOGIN_FAILED', 'LOGIN_FAILED', 'LOGIN_FAILED', 'LOGIN_FAILED', 'REAUTH_REQUIRED', 'LOGIN_FAILED', 'LOGIN_FAILED'])
  })
})
