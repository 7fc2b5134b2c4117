// DPoP (RFC 9449, issue 24): tokens bound to a key the login holds, so a token copied off the machine
// is useless. A real oidc-provider with clients registered as DPoP-bound, an API in this process that
// verifies every proof with jose (test/helpers/dpop-api.ts), the example host, the file backend and a
// credential helper, and a migration between them.
// Spawned: the provider keeps the DPoP nonces an issuer or API sent per process, and these tests count
// the nonce retries a fresh process makes.

import {expect} from 'chai'
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {calculateJwkThumbprint, type JWK} from 'jose'

import {DPOP, DPOP_CLIENTS, startIssuer} from '../fixtures/issuer.js'
import {startDPoPApi, type DPoPApi} from '../helpers/dpop-api.js'
import {
  discoveryOf,
  errorMessage,
  issuerEnv,
  makeTempHome,
  readCredentialsFile,
  refreshAtIssuer,
  runAcme,
  runAcmeExpecting,
  statusJson,
  storeSnapshot,
  userinfo,
  warningMessages,
  type TempHome,
} from '../helpers/acme.js'
import type {Issuer} from '../helpers/signed-in.js'

const FILE_VAULT = fileURLToPath(new URL('../../examples/credential-helper/file-vault.js', import.meta.url))
const DIST_URL = new URL('../../dist/', import.meta.url).href
const MODULE_RECORDER = new URL('../fixtures/module-recorder.mjs', import.meta.url).href

interface StoredDPoPSecrets {
  accessToken: string
  tokenType: string
  refreshToken?: string
  dpopKey?: string
}

/** The one login in credentials.json, with its key. */
async function storedLogin(home: TempHome): Promise<StoredDPoPSecrets> {
  const entries = Object.values((await readCredentialsFile(home)).accounts) as StoredDPoPSecrets[]
  expect(entries, 'logins in credentials.json').to.have.length(1)
  return entries[0]
}

async function thumbprintOf(keyText: string): Promise<string> {
  const {kty, crv, x, y} = JSON.parse(keyText) as JWK
  return calculateJwkThumbprint({kty, crv, x, y})
}

describe('e2e: DPoP-bound tokens (RFC 9449)', function () {
  this.timeout(180_000)
  let issuer: Issuer
  let api: DPoPApi
  let home: TempHome
  let env: Record<string, string | undefined>

  before(async () => {
    issuer = await startIssuer({clients: DPOP_CLIENTS})
    api = await startDPoPApi(issuer)
  })
  after(async () => {
    await api?.close()
    await issuer?.close()
  })
  beforeEach(async () => {
    home = await makeTempHome()
    env = issuerEnv(issuer, {ACME_AUTH_CLIENT_ID: DPOP.cliClient, ACME_AUTH_DPOP: 'on', ACME_AUTH_REFRESH_AHEAD: 'off'})
    issuer.resetCounts()
    api.requests.length = 0
  })
  afterEach(() => home?.cleanup())

  it('with dpop off, a client the issuer binds gets one line naming the setting, and nothing is stored', async () => {
    const result = await runAcmeExpecting(1, ['auth', 'login'], {home, env: {...env, ACME_AUTH_DPOP: undefined}})
    const message = errorMessage(result.stderr)
    // oidc-provider answers a bare invalid_grant (its reason stays in its logs); it does list DPoP.
    expect(message).to.include('invalid_grant').and.include("if client 'acme-cli-dpop' is registered for DPoP-bound tokens")
    expect(message).to.include('dpop is off by default').and.include('ACME_AUTH_DPOP=auto').and.include(join(home.configDir, 'auth.json'))
    expect(await storeSnapshot(home)).to.deep.equal({index: undefined, credentials: undefined})
  })

  it('browser sign-in: the key is kept with the tokens (not in the index), every request carries a proof, and the tokens are useless without one', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    const stored = await storedLogin(home)
    expect(stored.tokenType).to.equal('DPoP')
    const key = JSON.parse(stored.dpopKey!) as JWK
    expect(key).to.include({kty: 'EC', crv: 'P-256'}).and.have.property('d')
    const index = await readFile(join(home.authDir, 'accounts.json'), 'utf8')
    expect(index).to.not.include(key.d!).and.not.include(stored.dpopKey!)
    // The issuer saw the key's thumbprint on the authorization request (the code is bound to it).
    const jkt = await thumbprintOf(stored.dpopKey!)
    expect(issuer.requests.find((request) => request.route === 'pushed_authorization_request')?.params.dpop_jkt).to.deep.equal([jkt])

    const [account] = (await statusJson(home, env)).accounts
    expect(account).to.include({tokenType: 'DPoP', jkt})
    const status = await runAcmeExpecting(0, ['auth', 'status', '--json'], {home, env})
    expect(status.stdout).to.not.include(key.d!)
    // --verify shows the token to the issuer's userinfo, with a proof as every request needs.
    const verified = JSON.parse((await runAcmeExpecting(0, ['auth', 'status', '--verify', '--json'], {home, env})).stdout) as {accounts: Array<{verified?: boolean}>}
    expect(verified.accounts[0].verified).to.equal(true)
    const text = await runAcmeExpecting(0, ['auth', 'status'], {home, env})
    expect(text.stdout).to.include(`Bound to key:  ${jkt} (DPoP: every request needs a proof)`).and.not.include(key.d!)

    // Through authFetch: Authorization: DPoP and a proof the API verified (htm, htu, ath, the key).
    const call = await runAcmeExpecting(0, ['api', `${api.url}/me`, '--method', 'POST'], {home, env})
    expect(call.stdout).to.equal('200 {"sub":"alice","bound":true}\n')
    expect(api.requests).to.deep.equal([{method: 'POST', path: '/me', scheme: 'DPoP', proof: true, status: 200}])
    // A host that builds its own request: getDPoPProof's two headers.
    const own = await runAcmeExpecting(0, ['api', `${api.url}/deployments`, '--method', 'PUT', '--own-request'], {home, env})
    expect(own.stdout).to.equal('200 {"sub":"alice","bound":true}\n')
    expect(api.requests.at(-1)).to.deep.equal({method: 'PUT', path: '/deployments', scheme: 'DPoP', proof: true, status: 200})

    // The point of it all: the stored tokens, copied off the machine, get nowhere.
    const asBearer = await fetch(`${api.url}/me`, {headers: {authorization: `Bearer ${stored.accessToken}`}})
    expect(asBearer.status, 'the API refuses the access token as a Bearer token').to.equal(401)
    expect((await userinfo(issuer, stored.accessToken)).status, "the issuer's userinfo refuses it too").to.equal(401)
    const refresh = await refreshAtIssuer(issuer, stored.refreshToken!)
    expect(refresh.status, 'the refresh token without a proof').to.equal(400)
    expect(refresh.body.error).to.equal('invalid_grant')
    expect(issuer.counts.refresh).to.equal(0)
  })

  it('refresh (rotated) with a proof, auth token says a proof is needed, --proof prints the two headers for one request, logout revokes and removes the key', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    const before = await storedLogin(home)

    await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
    expect(issuer.counts.refresh).to.equal(1)
    const after = await storedLogin(home)
    expect(after.refreshToken, 'rotated').to.not.equal(before.refreshToken)
    expect(after.accessToken).to.not.equal(before.accessToken)
    expect(after.dpopKey, 'the same key').to.equal(before.dpopKey)
    expect(after.tokenType).to.equal('DPoP')

    const token = await runAcmeExpecting(0, ['auth', 'token'], {home, env})
    expect(token.stdout).to.equal(`${after.accessToken}\n`)
    expect(warningMessages(token.stderr).join(' ')).to.include('DPoP-bound').and.include('acme auth token --proof METHOD URL')

    const url = `${api.url}/deployments`
    const proof = await runAcmeExpecting(0, ['auth', 'token', '--proof', 'get', url], {home, env})
    const lines = proof.stdout.trimEnd().split('\n')
    expect(lines).to.have.length(2)
    expect(lines[0]).to.equal(`Authorization: DPoP ${after.accessToken}`)
    expect(lines[1]).to.match(/^DPoP: [\w-]+\.[\w-]+\.[\w-]+$/)
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]))
    expect((await fetch(url, {headers})).status, 'the printed headers work once').to.equal(200)
    expect((await fetch(url, {headers})).status, 'and only once (the proof is used up)').to.equal(401)
    expect((await fetch(`${api.url}/other`, {headers})).status, 'and only for that URL').to.equal(401)

    await runAcmeExpecting(0, ['auth', 'logout'], {home, env})
    expect(issuer.counts.revocations).to.equal(1)
    expect((await refreshAtIssuer(issuer, after.refreshToken!)).status).to.equal(400)
    expect(await readCredentialsFile(home).catch(() => ({accounts: {}}))).to.have.property('accounts').that.deep.equals({})

    // The next sign-in makes a new key.
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    const again = await storedLogin(home)
    expect(await thumbprintOf(again.dpopKey!)).to.not.equal(await thumbprintOf(after.dpopKey!))
  })

  it('device sign-in kept in the file, then moved to a credential helper: the key moves with the tokens and works from there', async () => {
    await runAcmeExpecting(0, ['auth', 'login', '--device'], {home, env})
    expect(issuer.counts.deviceCode).to.equal(1)
    const inFile = await storedLogin(home)
    expect(inFile.tokenType).to.equal('DPoP')
    const [before] = (await statusJson(home, env)).accounts
    expect(before.jkt).to.equal(await thumbprintOf(inFile.dpopKey!))

    // Migration: storage names the helper now; the next command moves the login, key and all.
    const vault = join(home.root, 'vault.json')
    const vaultEnv = {...env, ACME_AUTH_STORAGE: `exec:${FILE_VAULT}`, FILE_VAULT_PATH: vault}
    expect((await runAcmeExpecting(0, ['api', `${api.url}/me`], {home, env: vaultEnv})).stdout).to.equal('200 {"sub":"alice","bound":true}\n')
    expect((await statusJson(home, vaultEnv)).accounts[0]).to.include({storage: `exec:${FILE_VAULT}`, tokenType: 'DPoP', jkt: before.jkt})
    const vaultText = await readFile(vault, 'utf8')
    expect(vaultText, 'the key is in the helper with the tokens').to.include(inFile.accessToken).and.include(JSON.parse(inFile.dpopKey!).d)
    for (const name of ['accounts.json', 'credentials.json']) {
      const text = await readFile(join(home.authDir, name), 'utf8').catch(() => '')
      expect(text, name).to.not.include(inFile.accessToken).and.not.include(JSON.parse(inFile.dpopKey!).d)
    }
    expect(issuer.counts.refresh, 'moving is not refreshing').to.equal(0)

    // From the helper: a refresh with a proof, then logout removes the key from it.
    await runAcmeExpecting(0, ['auth', 'refresh'], {home, env: vaultEnv})
    expect(issuer.counts.refresh).to.equal(1)
    expect((await runAcmeExpecting(0, ['api', `${api.url}/me`], {home, env: vaultEnv})).stdout).to.equal('200 {"sub":"alice","bound":true}\n')
    await runAcmeExpecting(0, ['auth', 'logout'], {home, env: vaultEnv})
    expect(JSON.parse(await readFile(vault, 'utf8'))['acme-auth']).to.deep.equal({})
  })

  it('a machine (client credentials) gets DPoP-bound tokens too, and a new one with a proof', async () => {
    const machine = {ACME_AUTH_ISSUER: issuer.issuer, ACME_AUTH_SCOPES: 'deploy', ACME_AUTH_REFRESH_AHEAD: 'off', ACME_AUTH_DPOP: 'auto', ACME_AUTH_CLIENT_ID: DPOP.machineClient, ACME_AUTH_CLIENT_SECRET: DPOP.machineSecret}
    await runAcmeExpecting(0, ['auth', 'login', '--client-credentials'], {home, env: machine})
    expect((await statusJson(home, machine)).accounts[0]).to.include({kind: 'client', tokenType: 'DPoP'})
    expect((await runAcmeExpecting(0, ['api', `${api.url}/me`], {home, env: machine})).stdout).to.equal(`200 {"sub":"${DPOP.machineClient}","bound":true}\n`)
    await runAcmeExpecting(0, ['auth', 'refresh'], {home, env: machine})
    expect(issuer.counts.clientCredentials).to.equal(2)
    expect((await runAcmeExpecting(0, ['api', `${api.url}/me`], {home, env: machine})).stdout).to.equal(`200 {"sub":"${DPOP.machineClient}","bound":true}\n`)
  })

  it('a signed-in command with nothing due loads no DPoP code and no openid-client; one that calls an API through authFetch does', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    const loaded = async (args: string[]) => {
      const list = join(home.root, `modules-${args[0]}.txt`)
      const result = await runAcmeExpecting(0, args, {home, env: {...env, NODE_OPTIONS: `--import=${MODULE_RECORDER}`, RECORD_MODULES: list}})
      const urls = (await readFile(list, 'utf8')).split('\n')
      return {result, ours: urls.filter((url) => url.startsWith(DIST_URL)).map((url) => url.slice(DIST_URL.length)), openidClient: urls.some((url) => url.includes('/openid-client/'))}
    }
    for (const command of ['hello', 'env']) {
      const {ours, openidClient} = await loaded([command])
      expect(ours.filter((file) => file.includes('dpop')), `${command}: DPoP files loaded`).to.deep.equal([])
      expect(openidClient, `${command}: openid-client loaded`).to.equal(false)
    }
    // whoami asks the issuer's userinfo through authFetch: with a proof, which oidc-provider checks.
    const whoami = await loaded(['whoami'])
    expect(whoami.result.stdout).to.equal('alice (Alice)\n')
    expect(whoami.ours).to.include('session/dpop-request.js')
    expect(issuer.counts.tokenRequests, 'nothing was due').to.equal(1)
  })

  it('authFetch keeps its one refresh after a 401: the API turns the (revoked) token away, the refresh and the retry carry proofs', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    const {accessToken} = await storedLogin(home)
    await (await issuer.provider.AccessToken.find(accessToken))!.destroy()
    const call = await runAcmeExpecting(0, ['api', `${api.url}/me`], {home, env})
    expect(call.stdout).to.equal('200 {"sub":"alice","bound":true}\n')
    expect(issuer.counts.refresh).to.equal(1)
    expect(api.requests.map((request) => [request.scheme, request.proof, request.status])).to.deep.equal([
      ['DPoP', true, 401],
      ['DPoP', true, 200],
    ])
    expect((await storedLogin(home)).accessToken).to.not.equal(accessToken)
  })

  it('a damaged stored key: one line saying so and what to do, no stack trace, and the stored login left as it was', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    const file = join(home.authDir, 'credentials.json')
    const damaged = (await readFile(file, 'utf8')).replace(/\\"crv\\":\\"P-256\\"/, '\\"crv\\":\\"P-999\\"')
    expect(damaged).to.include('P-999')
    await writeFile(file, damaged, {mode: 0o600})
    for (const args of [['api', `${api.url}/me`], ['auth', 'refresh'], ['auth', 'token', '--proof', 'GET', `${api.url}/me`]]) {
      const result = await runAcmeExpecting(1, args, {home, env})
      expect(errorMessage(result.stderr), args.join(' ')).to.include('The DPoP key stored with this login is damaged').and.include('Sign in again')
    }
    expect(await readFile(file, 'utf8'), 'nothing deleted').to.equal(damaged)
    expect(api.requests, 'no request went out with it').to.deep.equal([])
  })

  it('ACME_TOKEN stays a bearer token: no proof is made for it', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    const {accessToken} = await storedLogin(home)
    const result = await runAcme(['api', `${api.url}/me`], {home, env: {...env, ACME_TOKEN: accessToken}})
    expect(result.stdout).to.match(/^401 /)
    expect(api.requests.at(-1)).to.include({scheme: 'Bearer', proof: false, status: 401})
    // getDPoPProof gives a bearer token its Authorization header alone.
    expect((await runAcme(['api', `${api.url}/me`, '--own-request'], {home, env: {...env, ACME_TOKEN: accessToken}})).stdout).to.match(/^401 /)
    expect(api.requests.at(-1)).to.include({scheme: 'Bearer', proof: false, status: 401})
  })
})

describe('e2e: dpop on and auto at an issuer that does not offer DPoP', function () {
  this.timeout(120_000)
  let issuer: Issuer
  let home: TempHome

  before(async () => {
    issuer = await startIssuer({
      metadata: {
        openid: (document: Record<string, unknown>) => {
          delete document.dpop_signing_alg_values_supported
          return document
        },
      },
    })
  })
  after(() => issuer?.close())
  afterEach(() => home?.cleanup())

  it('on: one clear line before anything is sent; auto: a bearer login', async () => {
    home = await makeTempHome()
    const refused = await runAcmeExpecting(2, ['auth', 'login'], {home, env: issuerEnv(issuer, {ACME_AUTH_DPOP: 'on'})})
    expect(errorMessage(refused.stderr)).to.include('dpop is on (ACME_AUTH_DPOP)').and.include('lists no dpop_signing_alg_values_supported').and.include('ACME_AUTH_DPOP=auto')
    expect(issuer.requests, 'nothing was sent to sign in').to.deep.equal([])
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: issuerEnv(issuer, {ACME_AUTH_DPOP: 'auto'})})
    expect((await statusJson(home)).accounts[0]).to.include({tokenType: 'Bearer', jkt: null})
    expect(await storedLogin(home)).to.not.have.property('dpopKey')
  })
})

describe('e2e: DPoP with server nonces (use_dpop_nonce)', function () {
  this.timeout(180_000)
  let issuer: Issuer
  let api: DPoPApi
  let home: TempHome

  before(async () => {
    issuer = await startIssuer({clients: DPOP_CLIENTS, dpop: {requireNonce: true}})
    api = await startDPoPApi(issuer, {requireNonce: true})
  })
  after(async () => {
    await api?.close()
    await issuer?.close()
  })
  afterEach(() => home?.cleanup())

  it('sign-in, refresh and an API call each retry once with the nonce they are handed', async () => {
    home = await makeTempHome()
    const env = issuerEnv(issuer, {ACME_AUTH_CLIENT_ID: DPOP.cliClient, ACME_AUTH_DPOP: 'auto', ACME_AUTH_REFRESH_AHEAD: 'off'})
    const metadata = await discoveryOf(issuer)
    expect(metadata).to.have.property('dpop_signing_alg_values_supported')
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    const answers = () => issuer.requests.map((request) => [request.route, request.status])
    // The first request with a proof (the pushed authorization request) is told to use a nonce, and
    // retried with it; the token request after it already carries the nonce it learned.
    expect(answers()).to.deep.equal([
      ['pushed_authorization_request', 400],
      ['pushed_authorization_request', 201],
      ['authorization', 303],
      ['token', 200],
    ])
    expect((await statusJson(home, env)).accounts[0]).to.include({tokenType: 'DPoP', name: 'Alice'})

    issuer.resetCounts()
    await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
    expect(issuer.counts.refresh).to.equal(1)
    expect(answers(), 'a new process learns the nonce anew').to.deep.equal([
      ['token', 400],
      ['token', 200],
    ])

    const call = await runAcmeExpecting(0, ['api', `${api.url}/me`], {home, env})
    expect(call.stdout).to.equal('200 {"sub":"alice","bound":true}\n')
    expect(api.requests.map((request) => [request.status, request.problem])).to.deep.equal([
      [401, 'no nonce'],
      [200, undefined],
    ])
  })

  it('device sign-in polls with proofs and the nonce it is handed', async () => {
    home = await makeTempHome()
    const env = issuerEnv(issuer, {ACME_AUTH_CLIENT_ID: DPOP.cliClient, ACME_AUTH_DPOP: 'on', ACME_AUTH_REFRESH_AHEAD: 'off'})
    issuer.resetCounts()
    await runAcmeExpecting(0, ['auth', 'login', '--device'], {home, env})
    expect(issuer.counts.deviceCode).to.equal(1)
    expect((await statusJson(home, env)).accounts[0]).to.include({tokenType: 'DPoP', name: 'Alice'})
    expect((await runAcmeExpecting(0, ['api', `${api.url}/me`], {home, env})).stdout).to.equal('200 {"sub":"alice","bound":true}\n')
  })
})
