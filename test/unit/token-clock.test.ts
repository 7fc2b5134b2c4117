// One clock (issue 21): the session's injected clock, not the machine's, says when a token was
// obtained and when it expires. The real session and provider code (openid-client, over HTTP to a
// server on 127.0.0.1) run under a fake clock set years away from the machine's, so an expiry
// counted from Date.now() anywhere on the way would show.

import {expect} from 'chai'

import type {AuthContext} from '../../src/session/context.js'
import {currentToken} from '../../src/session/ensure-fresh.js'
import {accountKey, type AccountRecord} from '../../src/store/account-index.js'
import type {Secrets} from '../../src/store/secrets.js'
import {startScriptedIssuer, type ScriptedIssuer} from '../helpers/scripted-issuer.js'
import {CLIENT_ID, fakeClock, scriptedIssuer, sessionContext, type FakeClock} from '../helpers/session.js'

/** Far from any machine's clock: a result counted from Date.now() cannot match by chance. */
const FAKE_NOW = Date.parse('2031-05-01T08:00:00.000Z')

/** A session on the fake clock whose provider is the real one, talking to `server`. */
function realProviderContext(server: ScriptedIssuer, clock: FakeClock): AuthContext {
  const context = sessionContext({issuer: scriptedIssuer(() => expect.fail('the real provider answers')), clock, settings: {issuer: server.issuer, allowInsecureIssuer: true}})
  return {...context, provider: () => import('../../src/provider/api.js')}
}

async function storeAccount(context: AuthContext, server: ScriptedIssuer, secrets: Secrets, extra: Partial<AccountRecord> = {}): Promise<AccountRecord> {
  const subject = extra.clientAuth ? CLIENT_ID : 'alice'
  const record: AccountRecord = {
    key: accountKey(server.issuer, CLIENT_ID, subject),
    issuer: server.issuer,
    clientId: CLIENT_ID,
    subject,
    scopes: ['openid', 'offline_access'],
    expiresAt: secrets.expiresAt ?? null,
    hasRefreshToken: Boolean(secrets.refreshToken),
    storage: 'memory',
    updatedAt: new Date(context.now()).toISOString(),
    ...extra,
  }
  await context.store.saveLogin(record, secrets, {makeDefault: true})
  return record
}

describe('one clock: the session clock decides a new token\'s obtainedAt and expiresAt (real provider, fake clock)', () => {
  let server: ScriptedIssuer
  beforeEach(async () => {
    server = await startScriptedIssuer()
    server.route('/token', {body: {access_token: 'at-new', refresh_token: 'rt-new', token_type: 'Bearer', expires_in: 600}})
  })
  afterEach(() => server.close())

  it('a refresh: obtainedAt is the fake now, expiresAt the fake now plus expires_in; the index says the same', async () => {
    const clock = fakeClock(FAKE_NOW)
    const context = realProviderContext(server, clock)
    const account = await storeAccount(context, server, {accessToken: 'at-old', refreshToken: 'rt-old', tokenType: 'Bearer', expiresAt: new Date(FAKE_NOW - 1000).toISOString()})
    const token = await currentToken(context)
    expect(token).to.include({accessToken: 'at-new', obtainedAt: '2031-05-01T08:00:00.000Z', expiresAt: '2031-05-01T08:10:00.000Z'})
    expect(await context.store.readSecrets(account)).to.include({obtainedAt: '2031-05-01T08:00:00.000Z', expiresAt: '2031-05-01T08:10:00.000Z'})
    expect((await context.store.readIndex()).accounts[0].expiresAt).to.equal('2031-05-01T08:10:00.000Z')
    expect(server.requests.filter((request) => request.path === '/token').map((request) => request.form.get('refresh_token'))).to.deep.equal(['rt-old'])
  })

  it('the same token is fresh or due by the fake clock alone: used until the clock reaches its last quarter, then refreshed', async () => {
    const clock = fakeClock(FAKE_NOW)
    const context = realProviderContext(server, clock)
    await storeAccount(context, server, {accessToken: 'at-old', refreshToken: 'rt-old', tokenType: 'Bearer', obtainedAt: new Date(FAKE_NOW).toISOString(), expiresAt: new Date(FAKE_NOW + 600_000).toISOString()})
    expect((await currentToken(context)).accessToken).to.equal('at-old')
    clock.advance(590)
    const refreshed = await currentToken(context)
    expect(refreshed).to.include({accessToken: 'at-new', obtainedAt: '2031-05-01T08:09:50.000Z', expiresAt: '2031-05-01T08:19:50.000Z'})
  })

  it("a machine's client_credentials grant counts from the fake clock too", async () => {
    const clock = fakeClock(FAKE_NOW)
    const context = realProviderContext(server, clock)
    server.route('/token', {body: {access_token: 'at-machine', token_type: 'Bearer', expires_in: 300}})
    await storeAccount(context, server, {accessToken: 'at-old', tokenType: 'Bearer', clientSecret: 'machine-secret', expiresAt: new Date(FAKE_NOW - 1000).toISOString()}, {clientAuth: 'client_secret', scopes: []})
    const token = await currentToken(context)
    expect(token).to.include({accessToken: 'at-machine', obtainedAt: '2031-05-01T08:00:00.000Z', expiresAt: '2031-05-01T08:05:00.000Z'})
    expect(server.requests.find((request) => request.path === '/token')?.form.get('grant_type')).to.equal('client_credentials')
  })
})
