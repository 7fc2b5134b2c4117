// Issue 20, the binding rule: a client secret, a private key, a federated token file or command, and
// a set of endpoints belong to the issuer and client they were configured with. Each test sets one
// of them up for issuer Y and then runs an operation at issuer X, a scripted issuer that takes
// whatever it is sent and records it: X must never see Y's secret or JWT, nothing of Y's may be
// stored with X's login, and tokens must never come from Y's endpoints to be recorded "at X".

import {expect} from 'chai'
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {BROWSER, describeRun, errorMessage, makeHostVariant, makeTempHome, storeSnapshot, type HostVariant, type TempHome} from '../helpers/acme.js'
import {runAcme, runAcmeExpecting} from '../helpers/in-process.js'
import {fakeToken} from '../helpers/hostile.js'
import {startScriptedIssuer, type ScriptedIssuer, type ScriptedRequest} from '../helpers/scripted-issuer.js'

/** A compact JWT as a CI system issues one: three base64url parts, recognisable by `label`. */
function fakeJwt(label: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({alg: 'ES256', kid: label})}.${part({iss: `https://ci.example/${label}`, sub: 'job', jti: fakeToken(label)})}.${fakeToken('sig')}`
}

/**
 * An issuer that signs in anyone: its authorization endpoint sends a code straight back, its token
 * endpoint answers every grant, its userinfo names `subject`. It never checks who the client is, so
 * whatever a client sends it is recorded and nothing is refused for want of it.
 */
async function permissiveIssuer(subject: string): Promise<ScriptedIssuer> {
  const issuer = await startScriptedIssuer({metadata: {token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'private_key_jwt']}})
  issuer.route('/authorize', (request) => {
    const back = new URL(request.query.get('redirect_uri')!)
    back.search = new URLSearchParams({code: fakeToken(`${subject}-code`), state: request.query.get('state')!}).toString()
    return {status: 302, headers: {location: back.href}}
  })
  issuer.route('/token', (request) => ({
    body: {
      access_token: fakeToken(`${subject}-access`),
      token_type: 'Bearer',
      expires_in: 3600,
      ...(request.form.get('grant_type') === 'client_credentials' ? {} : {refresh_token: fakeToken(`${subject}-refresh`)}),
    },
  }))
  issuer.route('/userinfo', {body: {sub: subject}})
  issuer.route('/revoke', {body: ''})
  issuer.route('/device', {status: 404, body: ''})
  return issuer
}

/**
 * Everything the requests carried that could hold a credential: each Authorization header (a Basic
 * one decoded, as `client:secret`) and every form value.
 */
function carried(requests: ScriptedRequest[]): string {
  return requests.map((request) => [decodedAuthorization(request.headers.authorization), ...request.form.values()].join('\n')).join('\n')
}

function decodedAuthorization(header: string | undefined): string {
  const basic = /^Basic (.+)$/i.exec(header ?? '')?.[1]
  if (!basic) return header ?? ''
  // RFC 6749 §2.3.1: each half is form-urlencoded before the base64.
  return Buffer.from(basic, 'base64').toString('utf8').split(':').map((part) => decodeURIComponent(part.replaceAll('+', ' '))).join(':')
}

describe('e2e: every secret and endpoint stays with its issuer and client (issue 20)', function () {
  this.timeout(90_000)
  let home: TempHome
  let x: ScriptedIssuer
  let y: ScriptedIssuer
  /** No refresh ahead (every request comes from the command under test), the scripted browser, no ID token. */
  const base = {ACME_AUTH_REFRESH_AHEAD: 'off', ACME_BROWSER: BROWSER, ACME_AUTH_SCOPES: 'profile offline_access'}

  before(async () => {
    x = await permissiveIssuer('xavier')
    y = await permissiveIssuer('yolanda')
  })
  after(async () => {
    await x?.close()
    await y?.close()
  })
  beforeEach(async () => {
    home = await makeTempHome()
    x.requests.length = 0
    y.requests.length = 0
  })
  afterEach(() => home?.cleanup())

  describe('1. a federated token for Y, in a job that renews or revokes a machine login at X', () => {
    it('renewal: exit 2 naming both issuers, X never sees the JWT; logout revokes at X without an assertion', async () => {
      const xJwt = fakeJwt('for-x')
      const yJwt = fakeJwt('for-y')
      const xFile = join(home.root, 'x.jwt')
      const yFile = join(home.root, 'y.jwt')
      await writeFile(xFile, xJwt)
      await writeFile(yFile, yJwt)
      const atX = {...base, ACME_AUTH_ISSUER: x.issuer, ACME_AUTH_CLIENT_ID: 'svc', ACME_AUTH_FEDERATED_TOKEN_FILE: xFile}
      await runAcmeExpecting(0, ['auth', 'login', '--client-credentials'], {home, env: atX})
      expect(x.requests.filter((request) => request.path === '/token').map((request) => request.form.get('client_assertion'))).to.deep.equal([xJwt])
      x.requests.length = 0

      // The job's settings are Y's: its issuer, the same client id, a JWT its CI system made for Y.
      const jobForY = {...base, ACME_AUTH_ISSUER: y.issuer, ACME_AUTH_CLIENT_ID: 'svc', ACME_AUTH_FEDERATED_TOKEN_FILE: yFile}
      const before = await storeSnapshot(home)
      const renewal = await runAcme(['auth', 'refresh'], {home, env: jobForY})
      expect(renewal.code, describeRun(['auth', 'refresh'], renewal)).to.equal(2)
      expect(errorMessage(renewal.stderr)).to.include('ACME_AUTH_FEDERATED_TOKEN_FILE').and.include(x.issuer).and.include(y.issuer)
      expect(renewal.stdout + renewal.stderr).to.not.include(yJwt)
      expect(carried(x.requests), 'what X received').to.not.include(yJwt)
      expect(await storeSnapshot(home), 'the store after the refusal').to.deep.equal(before)

      const logout = await runAcmeExpecting(0, ['auth', 'logout'], {home, env: jobForY})
      expect(logout.stdout + logout.stderr).to.not.include(yJwt)
      const revocations = x.requests.filter((request) => request.path === '/revoke')
      expect(revocations, 'X was asked to revoke its own token').to.have.length(1)
      expect(revocations[0].form.get('client_assertion'), 'the revocation carries no assertion').to.equal(null)
      expect(carried(x.requests), 'what X received').to.not.include(yJwt)
      expect(y.requests, 'what Y received').to.deep.equal([])
      const index = JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8'))
      expect(index.accounts, 'the login at X is gone').to.deep.equal([])
    })

    it('the same with a federated token command', async () => {
      const yJwt = fakeJwt('cmd-for-y')
      const xFile = join(home.root, 'x.jwt')
      await writeFile(xFile, fakeJwt('for-x'))
      await runAcmeExpecting(0, ['auth', 'login', '--client-credentials'], {home, env: {...base, ACME_AUTH_ISSUER: x.issuer, ACME_AUTH_CLIENT_ID: 'svc', ACME_AUTH_FEDERATED_TOKEN_FILE: xFile}})
      x.requests.length = 0
      const jobForY = {...base, ACME_AUTH_ISSUER: y.issuer, ACME_AUTH_CLIENT_ID: 'svc', ACME_AUTH_FEDERATED_TOKEN_COMMAND: `printf ${yJwt}`}
      const renewal = await runAcme(['auth', 'refresh'], {home, env: jobForY})
      expect(renewal.code, describeRun(['auth', 'refresh'], renewal)).to.equal(2)
      expect(errorMessage(renewal.stderr)).to.include('ACME_AUTH_FEDERATED_TOKEN_COMMAND')
      expect(carried(x.requests), 'what X received').to.not.include(yJwt)
    })
  })

  describe('2. a client secret from the environment, set for Y', () => {
    const secret = 'y-secret-9fQ2mZr7Lw'

    for (const [what, args, extra] of [
      ['--issuer X', ['--issuer', 'X'], {}],
      ['--client-id of another client at the same issuer', ['--client-id', 'other-cli'], {ySelf: true}],
      ['--client-credentials --issuer X', ['--client-credentials', '--client-id', 'svc', '--issuer', 'X'], {}],
    ] as const) {
      it(`auth login ${what}: exit 2 naming the secret's setting, nothing sent, nothing stored`, async () => {
        // The environment configures Y (or, for --client-id, X itself with another client) and its secret.
        const configured = 'ySelf' in extra ? x.issuer : y.issuer
        const env = {...base, ACME_AUTH_ISSUER: configured, ACME_AUTH_CLIENT_SECRET: secret}
        const argv = ['auth', 'login', ...args.map((arg) => (arg === 'X' ? x.issuer : arg))]
        const login = await runAcme(argv, {home, env})
        expect(login.code, describeRun(argv, login)).to.equal(2)
        const message = errorMessage(login.stderr)
        expect(message).to.include('ACME_AUTH_CLIENT_SECRET')
        expect(message).to.include(argv.includes('--issuer') ? '--issuer' : '--client-id')
        expect(login.stdout + login.stderr).to.not.include(secret)
        expect(carried(x.requests), 'what X received').to.not.include(secret)
        expect(x.requests.filter((request) => request.path === '/token'), 'token requests at X').to.deep.equal([])
        expect(await storeSnapshot(home), 'the store').to.deep.equal({index: undefined, credentials: undefined})
      })
    }

    it('the host\'s secret for Y, with ACME_AUTH_ISSUER=X: the sign-in and its refresh at X go without it, and it is not stored', async () => {
      const host = await makeHostVariant((auth) => ({...auth, issuer: y.issuer, clientSecret: secret}))
      try {
        const env = {...base, ACME_AUTH_ISSUER: x.issuer}
        await runAcmeExpecting(0, ['auth', 'login'], {home, env, bin: host.bin})
        await runAcmeExpecting(0, ['auth', 'refresh'], {home, env, bin: host.bin})
        const tokens = x.requests.filter((request) => request.path === '/token')
        expect(tokens.map((request) => request.form.get('grant_type'))).to.deep.equal(['authorization_code', 'refresh_token'])
        expect(carried(x.requests), 'what X received').to.not.include(secret)
        expect(await readFile(join(home.authDir, 'credentials.json'), 'utf8')).to.not.include(secret)
        expect(y.requests, 'what Y received').to.deep.equal([])
      } finally {
        await host.cleanup()
      }
    })
  })

  describe("3. the host's endpoints for Y", () => {
    let host: HostVariant
    before(async () => {
      const at = (path: string) => `${y.issuer}${path}`
      host = await makeHostVariant((auth) => ({
        ...auth,
        issuer: y.issuer,
        endpoints: {authorization: at('/authorize'), token: at('/token'), userinfo: at('/userinfo'), revocation: at('/revoke')},
      }))
    })
    after(() => host?.cleanup())

    for (const [what, args, extra] of [
      ['auth login --issuer X', ['--issuer'], {}],
      ['ACME_AUTH_ISSUER=X', [], {viaEnv: true}],
    ] as const) {
      it(`${what}: the sign-in, refresh and logout use X's own endpoints; Y sees nothing`, async () => {
        const env = {...base, ...('viaEnv' in extra ? {ACME_AUTH_ISSUER: x.issuer} : {})}
        const argv = ['auth', 'login', ...args.flatMap((arg) => [arg, x.issuer]), '--json']
        const login = await runAcmeExpecting(0, argv, {home, env, bin: host.bin})
        expect(JSON.parse(login.stdout).account).to.include({issuer: x.issuer, subject: 'xavier'})
        await runAcmeExpecting(0, ['auth', 'refresh'], {home, env, bin: host.bin})
        await runAcmeExpecting(0, ['auth', 'logout'], {home, env, bin: host.bin})
        expect(y.requests.map((request) => `${request.method} ${request.path}`), 'what Y received').to.deep.equal([])
        expect(x.requests.filter((request) => request.path === '/token').map((request) => request.form.get('grant_type'))).to.deep.equal(['authorization_code', 'refresh_token'])
        expect(x.requests.filter((request) => request.path === '/revoke')).to.have.length(1)
      })
    }

    it('at Y itself, as the host configures it: the endpoints are used and recorded with the login', async () => {
      // At Y, as the host configures it: the endpoints are recorded with the login and used.
      await runAcmeExpecting(0, ['auth', 'login'], {home, env: base, bin: host.bin})
      const index = JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8'))
      expect(index.accounts[0]).to.include({issuer: y.issuer})
      expect(index.accounts[0].endpoints).to.include({token: `${y.issuer}/token`})
      expect(y.requests.filter((request) => request.path === '/token')).to.have.length(1)
    })

    it('endpoints from your settings file for Y, with --issuer X: exit 2 naming both, nothing sent', async () => {
      const at = (path: string) => `${y.issuer}${path}`
      await writeFile(join(home.configDir, 'auth.json'), JSON.stringify({issuer: y.issuer, endpoints: {authorization: at('/authorize'), token: at('/token')}}), {mode: 0o600})
      const argv = ['auth', 'login', '--issuer', x.issuer]
      const login = await runAcme(argv, {home, env: base})
      expect(login.code, describeRun(argv, login)).to.equal(2)
      expect(errorMessage(login.stderr)).to.include('endpoints').and.include(y.issuer).and.include(x.issuer).and.include('--issuer')
      expect([...x.requests, ...y.requests], 'requests').to.deep.equal([])
    })
  })
})
