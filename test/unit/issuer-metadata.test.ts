// How the plugin finds an issuer's endpoints and talks to them, through the real openid-client
// against a server that publishes what each test says: OpenID discovery, RFC 8414, both, or
// nothing; the metadata cache; client secrets; what a hostile issuer's metadata may not do.

import {expect} from 'chai'
import {mkdtemp, readdir, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {clientCredentialsGrant, connect, fetchIdentity, refreshTokens, revokeToken} from '../../src/provider/api.js'
import {MetadataCache} from '../../src/store/metadata-cache.js'
import {storePaths} from '../../src/store/paths.js'
import {authErrorFrom} from '../helpers/errors.js'
import {startScriptedIssuer, type ScriptedIssuer} from '../helpers/scripted-issuer.js'

const OPTIONS = {requestTimeoutSeconds: 2, allowInsecureIssuer: false, transport: {caFileVariable: 'ACME_AUTH_CA_FILE'}}
const SECRETS = {accessToken: 'at-secret-1', refreshToken: 'rt-secret-1', tokenType: 'Bearer'}
const TOKENS = {access_token: 'at-2', refresh_token: 'rt-2', token_type: 'Bearer', expires_in: 20}

describe('issuer metadata: OpenID discovery, RFC 8414, endpoints by hand, the cache', () => {
  const servers: ScriptedIssuer[] = []
  let dir: string
  const start = async (options: Parameters<typeof startScriptedIssuer>[0] = {}) => {
    const server = await startScriptedIssuer(options)
    servers.push(server)
    return server
  }
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plugin-auth-metadata-'))
  })
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()))
    await rm(dir, {recursive: true, force: true})
  })

  it('an issuer that publishes only RFC 8414 metadata (path-inserted, §3.1) is usable', async () => {
    const server = await start({path: '/tenant-a', publishes: ['rfc8414']})
    server.route('/token', {body: TOKENS})
    const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli'}, OPTIONS)
    expect((await refreshTokens(issuer, SECRETS, {now: Date.now})).accessToken).to.equal('at-2')
    expect(server.requests.map((request) => `${request.method} ${request.path}`)).to.deep.equal([
      'GET /tenant-a/.well-known/openid-configuration',
      'GET /.well-known/oauth-authorization-server/tenant-a',
      'POST /token',
    ])
  })

  it('endpoints OpenID discovery leaves out are taken from the RFC 8414 document: revocation is found', async () => {
    const server = await start({metadata: {revocation_endpoint: undefined}})
    const openid = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>
    expect(openid).to.not.have.property('revocation_endpoint')
    server.route('/.well-known/oauth-authorization-server', {body: {...openid, revocation_endpoint: `${server.issuer}/revoke`}})
    server.route('/revoke', {status: 200})
    const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli'}, OPTIONS)
    expect(issuer.config.serverMetadata().revocation_endpoint).to.equal(`${server.issuer}/revoke`)
    expect(await revokeToken(issuer, 'rt-secret-1', 'refresh_token')).to.equal(true)
  })

  it('an issuer with no metadata at all: a clear CONFIG_INVALID naming the endpoints setting', async () => {
    const server = await start({publishes: []})
    const error = await authErrorFrom(() => connect({issuer: server.issuer, clientId: 'acme-cli'}, OPTIONS))
    expect(error.code).to.equal('CONFIG_INVALID')
    expect(error.message).to.include('publishes no metadata')
    expect(error.suggestion).to.include('endpoints')
  })

  it('endpoints set by hand are used without any discovery request', async () => {
    const server = await start({publishes: []})
    server.route('/oauth/access_token', {body: TOKENS})
    const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli', endpoints: {authorization: `${server.issuer}/oauth/authorize`, token: `${server.issuer}/oauth/access_token`}}, OPTIONS)
    await refreshTokens(issuer, SECRETS, {now: Date.now})
    expect(server.requests.map((request) => request.path)).to.deep.equal(['/oauth/access_token'])
  })

  it("a profile endpoint of the issuer's own design (GitHub's /user) names the account through claims", async () => {
    const server = await start({publishes: []})
    server.route('/user', (request) => ({body: request.headers.authorization === 'Bearer gho_token-1' ? {id: 4242, login: 'octocat', email: null} : {}}))
    const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli', endpoints: {authorization: `${server.issuer}/authorize`, token: `${server.issuer}/token`, userinfo: `${server.issuer}/user`}}, OPTIONS)
    const identity = await fetchIdentity(issuer, 'gho_token-1', {claims: {subject: 'id', name: 'login', email: 'email'}})
    expect(identity).to.deep.equal({subject: '4242', name: 'octocat', email: undefined})
    const missing = await authErrorFrom(() => fetchIdentity(issuer, 'gho_token-1', {claims: {subject: 'uuid'}}))
    expect(missing.message).to.include("did not answer with a 'uuid'")
  })

  it('the metadata cache: the second connect makes no discovery request; no-store is not kept; a day at most', async () => {
    const cache = new MetadataCache(storePaths(dir))
    const server = await start()
    server.route('/token', {body: TOKENS})
    await connect({issuer: server.issuer, clientId: 'acme-cli'}, {...OPTIONS, cache})
    const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli'}, {...OPTIONS, cache})
    expect(issuer.fromCache).to.equal(true)
    await refreshTokens(issuer, SECRETS, {now: Date.now})
    expect(server.requests.filter((request) => request.path.includes('.well-known'))).to.have.length(1)
    expect(await readdir(storePaths(dir).issuers)).to.have.length(1)

    const later = new MetadataCache(storePaths(dir), () => Date.now() + 24 * 3600 * 1000 + 1000)
    expect(await later.read(server.issuer), 'kept a day at most').to.equal(undefined)

    const noStore = await start()
    const metadata = await (await fetch(`${noStore.issuer}/.well-known/openid-configuration`)).json()
    noStore.route('/.well-known/openid-configuration', {headers: {'cache-control': 'no-store'}, body: metadata})
    await connect({issuer: noStore.issuer, clientId: 'acme-cli'}, {...OPTIONS, cache})
    expect(await cache.read(noStore.issuer)).to.equal(undefined)
  })

  it('an endpoint that fails other than with an OAuth answer drops the cached metadata; an OAuth error keeps it', async () => {
    const cache = new MetadataCache(storePaths(dir))
    const server = await start()
    await connect({issuer: server.issuer, clientId: 'acme-cli'}, {...OPTIONS, cache})
    server.route('/token', {status: 400, body: {error: 'invalid_grant'}})
    await authErrorFrom(async () => refreshTokens(await connect({issuer: server.issuer, clientId: 'acme-cli'}, {...OPTIONS, cache}), SECRETS, {now: Date.now}))
    expect(await cache.read(server.issuer), 'an OAuth answer: the endpoint is right').to.not.equal(undefined)
    server.route('/token', {status: 404, body: 'Not Found'})
    await authErrorFrom(async () => refreshTokens(await connect({issuer: server.issuer, clientId: 'acme-cli'}, {...OPTIONS, cache}), SECRETS, {now: Date.now}))
    expect(await cache.read(server.issuer), 'moved: ask again next time').to.equal(undefined)
  })

  it("a machine's token request that fails other than with an OAuth answer drops the cached metadata too", async () => {
    const cache = new MetadataCache(storePaths(dir))
    const server = await start()
    const machine = {issuer: server.issuer, clientId: 'machine', credential: {kind: 'client_secret' as const, secret: 'machine-secret-1'}}
    await connect(machine, {...OPTIONS, cache})
    server.route('/token', {status: 401, body: {error: 'invalid_client'}})
    await authErrorFrom(async () => clientCredentialsGrant(await connect(machine, {...OPTIONS, cache}), {now: Date.now}))
    expect(await cache.read(server.issuer), 'an OAuth answer: the endpoint is right').to.not.equal(undefined)
    server.route('/token', {status: 404, body: 'Not Found'})
    await authErrorFrom(async () => clientCredentialsGrant(await connect(machine, {...OPTIONS, cache}), {now: Date.now}))
    expect(await cache.read(server.issuer), 'moved: ask again next time').to.equal(undefined)
  })

  it('a cached document whose endpoints are less safe than the issuer (a tampered file) is not used: the issuer is asked again', async () => {
    const cache = new MetadataCache(storePaths(dir))
    const server = await start()
    server.route('/token', {body: TOKENS})
    const metadata = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as {issuer: string; token_endpoint: string}
    // A loopback http issuer whose cached token endpoint is plain http off this machine.
    await cache.write(server.issuer, {...metadata, token_endpoint: 'http://192.0.2.1/token'}, 3600)
    server.requests.length = 0
    const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli'}, {...OPTIONS, cache})
    expect(issuer.fromCache).to.equal(false)
    await refreshTokens(issuer, SECRETS, {now: Date.now})
    expect(server.requests.map((request) => request.path)).to.deep.equal(['/.well-known/openid-configuration', '/token'])
    expect((await cache.read(server.issuer))?.token_endpoint, 'the cache holds what the issuer said').to.equal(metadata.token_endpoint)
  })

  it('endpoints by hand (or recorded with a login) get the same check: http off this machine for a loopback issuer is refused, nothing sent', async () => {
    const server = await start({publishes: []})
    const error = await authErrorFrom(() => connect({issuer: server.issuer, clientId: 'acme-cli', endpoints: {authorization: `${server.issuer}/authorize`, token: 'http://192.0.2.1/token'}}, OPTIONS))
    expect(error.message).to.include('http://192.0.2.1/token').and.include('nothing was sent there')
    expect(server.requests).to.deep.equal([])
  })

  it('a fresh connect (sign-in) asks the issuer even with a cached document', async () => {
    const cache = new MetadataCache(storePaths(dir))
    const server = await start()
    await connect({issuer: server.issuer, clientId: 'acme-cli'}, {...OPTIONS, cache})
    await connect({issuer: server.issuer, clientId: 'acme-cli'}, {...OPTIONS, cache, fresh: true})
    expect(server.requests.filter((request) => request.path.includes('.well-known'))).to.have.length(2)
  })

  it('a client secret goes in a Basic header by default, in the body when the issuer lists only client_secret_post', async () => {
    for (const [methods, expectBasic] of [[undefined, true], [['client_secret_basic', 'client_secret_post'], true], [['client_secret_post'], false]] as const) {
      const server = await start({metadata: {token_endpoint_auth_methods_supported: methods}})
      server.route('/token', {body: TOKENS})
      const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli', clientSecret: 'installed-app-secret'}, OPTIONS)
      await refreshTokens(issuer, SECRETS, {now: Date.now})
      const request = server.requests.find((candidate) => candidate.path === '/token')!
      if (expectBasic) {
        // RFC 6749 §2.3.1: both parts form-encoded before base64.
        const [id, secret] = Buffer.from(request.headers.authorization!.replace(/^Basic /, ''), 'base64').toString('utf8').split(':').map(decodeURIComponent)
        expect([id, secret]).to.deep.equal(['acme-cli', 'installed-app-secret'])
        expect(request.form.has('client_secret')).to.equal(false)
      } else {
        expect(request.headers.authorization).to.equal(undefined)
        expect(request.form.get('client_secret')).to.equal('installed-app-secret')
      }
    }
  })

  it('RFC 8707: the resources of the login go again with every refresh', async () => {
    const server = await start()
    server.route('/token', {body: TOKENS})
    const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli'}, OPTIONS)
    await refreshTokens(issuer, SECRETS, {resource: ['https://api.example.com/', 'https://files.example.com/'], now: Date.now})
    expect(server.requests.find((request) => request.path === '/token')!.form.getAll('resource')).to.deep.equal(['https://api.example.com/', 'https://files.example.com/'])
  })

  it('a refresh refused with a bare 400 or 401 (no OAuth error body) means the refresh token is dead: REAUTH_REQUIRED, exit 4', async () => {
    for (const status of [400, 401]) {
      const server = await start()
      server.route('/token', {status, body: ''})
      const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli'}, OPTIONS)
      const error = await authErrorFrom(() => refreshTokens(issuer, SECRETS, {now: Date.now}))
      expect(error).to.include({code: 'REAUTH_REQUIRED', exitCode: 4})
      expect(error.message).to.include(`HTTP ${status} without an OAuth error`)
    }
  })

  it('the issuer-supplied lifetime sets when a token is due: obtainedAt is kept beside expiresAt', async () => {
    const server = await start()
    server.route('/token', {body: TOKENS})
    const issuer = await connect({issuer: server.issuer, clientId: 'acme-cli'}, OPTIONS)
    const refreshed = await refreshTokens(issuer, SECRETS, {now: Date.now})
    expect(Date.parse(refreshed.expiresAt!) - Date.parse(refreshed.obtainedAt!)).to.equal(20_000)
  })
})
