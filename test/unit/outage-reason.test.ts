// An outage's reason is said by whoever raised it (AuthError.reason), so the back-off record and the
// "using the current token" line never depend on how a message is worded. Driven through the real
// openid-client against a scripted server, as provider-errors.test.ts is.

import {expect} from 'chai'

import {connect, refreshTokens} from '../../src/provider/api.js'
import {authErrorFrom} from '../helpers/errors.js'
import {startScriptedIssuer, type ScriptedIssuer} from '../helpers/scripted-issuer.js'

const OPTIONS = {requestTimeoutSeconds: 1, allowInsecureIssuer: false}
const SECRETS = {accessToken: 'at-secret-1', refreshToken: 'rt-secret-1', tokenType: 'Bearer'}

describe('outage reasons come with the error, not from its words', () => {
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
