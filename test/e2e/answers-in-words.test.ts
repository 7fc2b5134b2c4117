// Issue 20, items 7 and 8: every answer an issuer gives reaches the user in words, with the exit
// status that says what to do — never a library code alone. Each answer comes from an issuer made to
// answer that way: the real oidc-provider where it can (a mistyped issuer it answers anyway, a refused
// refresh), a scripted one for what django-oauth-toolkit and LemonLDAP::NG answer and oidc-provider
// does not (a Basic challenge with the error in the body, 401 for an unknown path, consent_required,
// an error page instead of a redirect, discovery marked no-store without an RFC 8414 document).

import {expect} from 'chai'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {startIssuer} from '../fixtures/issuer.js'
import {
  describeRun,
  errorMessage,
  issuerEnv,
  makeTempHome,
  storeSnapshot,
  type RunResult,
  type TempHome,
} from '../helpers/acme.js'
import {runAcme, runAcmeExpecting} from '../helpers/in-process.js'
import {fakeToken, writeLogin} from '../helpers/hostile.js'
import {startScriptedIssuer, type ScriptedIssuer, type ScriptedRequest, type ScriptedAnswer} from '../helpers/scripted-issuer.js'
import {copyOfHome, issuerWithLogin} from '../helpers/signed-in.js'

/** The one error line of a failed command, with the exit status expected; no library code alone. */
function failed(result: RunResult, args: string[], exit: number): string {
  expect(result.code, describeRun(args, result)).to.equal(exit)
  const message = errorMessage(result.stderr)
  // A code may follow words, in brackets; it is never what the message is made of.
  expect(message.replace(/\s*\(OAUTH_[A-Z_]+\)/g, '').length, message).to.be.greaterThan(40)
  return message
}

/** acme pointed at a scripted issuer, with the scripted browser; its client id is acme-cli unless `extra` says. */
function scriptedEnv(scripted: ScriptedIssuer, extra: Record<string, string> = {}): Record<string, string | undefined> {
  return issuerEnv({issuer: scripted.issuer, clientId: 'acme-cli'}, extra)
}

/** The authorization endpoint of an issuer that sends the browser straight back with `params`. */
function redirectBack(params: Record<string, string>) {
  return (request: ScriptedRequest): ScriptedAnswer => {
    const target = new URL(request.query.get('redirect_uri') ?? 'http://127.0.0.1/')
    target.searchParams.set('state', request.query.get('state') ?? '')
    for (const [name, value] of Object.entries(params)) target.searchParams.set(name, value)
    return {status: 302, headers: {location: target.href}}
  }
}

describe('e2e: every answer said in words (issue 20)', function () {
  this.timeout(60_000)
  let home: TempHome
  beforeEach(async () => {
    home = await makeTempHome()
  })
  afterEach(() => home?.cleanup())

  describe('scripted issuers: answers oidc-provider never gives', () => {
    let scripted: ScriptedIssuer
    afterEach(() => scripted?.close())

    it('a wrong client secret answered 401 with WWW-Authenticate: Basic and invalid_client in the body: exit 2 naming the client and the secret setting', async () => {
      scripted = await startScriptedIssuer({metadata: {token_endpoint_auth_methods_supported: ['client_secret_basic']}})
      scripted.route('/authorize', redirectBack({code: 'scripted-code-1234567890'}))
      scripted.route('/token', {status: 401, headers: {'www-authenticate': 'Basic realm="oauth2"'}, body: {error: 'invalid_client'}})
      const args = ['auth', 'login']
      const login = await runAcme(args, {home, env: scriptedEnv(scripted, {ACME_AUTH_CLIENT_ID: 'acme-app', ACME_AUTH_CLIENT_SECRET: 'a-wrong-secret-0123456789'})})
      const message = failed(login, args, 2)
      expect(message).to.include(`does not accept the client secret sent for client 'acme-app'`).and.include('(invalid_client)').and.include('clientSecret')
      expect(message).not.to.include('OAUTH_WWW_AUTHENTICATE_CHALLENGE').and.not.include('a-wrong-secret')
      const exchange = scripted.requests.find((request) => request.path === '/token')
      expect(exchange?.headers.authorization, 'the secret went as Basic').to.match(/^Basic /)
    })

    it('a discovery document answered 401 (every unknown path, as LemonLDAP::NG): exit 2, "not here", pointing at the issuer setting', async () => {
      scripted = await startScriptedIssuer({publishes: []})
      for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) scripted.route(path, {status: 401, body: 'Unauthorized'})
      const args = ['auth', 'login']
      const message = failed(await runAcme(args, {home, env: scriptedEnv(scripted)}), args, 2)
      expect(message).to.include(`The issuer at ${scripted.issuer} publishes no metadata`).and.include('answered 401 and 401').and.include('Check the issuer setting')
    })

    it('consent_required: the user declined; exit 1, nothing stored', async () => {
      scripted = await startScriptedIssuer()
      scripted.route('/authorize', redirectBack({error: 'consent_required', error_description: 'The user did not consent'}))
      const args = ['auth', 'login']
      const message = failed(await runAcme(args, {home, env: scriptedEnv(scripted)}), args, 1)
      expect(message).to.include('needs your consent, and it was declined or not given (consent_required: The user did not consent)')
      expect((await storeSnapshot(home)).credentials).to.equal(undefined)
    })

    it('an issuer that shows an error page instead of redirecting: after a while one line on stderr says the usual causes and that Ctrl-C is safe', async () => {
      scripted = await startScriptedIssuer()
      scripted.route('/authorize', {status: 400, headers: {'content-type': 'text/html'}, body: '<title>Error</title><p>Invalid redirect_uri</p>'})
      // The line comes after 20 s, or after half the wait when loginTimeout is shorter than 40 s.
      const args = ['auth', 'login']
      const login = await runAcme(args, {home, env: scriptedEnv(scripted, {ACME_AUTH_LOGIN_TIMEOUT: '4', ACME_AUTH_CLIENT_ID: 'acme-typo'})})
      expect(failed(login, args, 1)).to.include('Timed out after')
      const hints = login.stderr.split('\n').filter((line) => line.includes('Still no answer from the browser'))
      expect(hints, login.stderr).to.have.length(1)
      expect(hints[0]).to.match(/does not accept the redirect to http:\/\/127\.0\.0\.1:\d+\/callback for client 'acme-typo'/)
      expect(hints[0]).to.include('redirectPort').and.include("does not know the client id 'acme-typo'").and.include('Ctrl-C stops the sign-in safely')
    })

    it('discovery marked no-store and no RFC 8414 document: the missing document is asked for once in a day, not on every command', async () => {
      scripted = await startScriptedIssuer({publishes: []})
      const base = scripted.issuer
      const metadata = {issuer: base, authorization_endpoint: `${base}/authorize`, token_endpoint: `${base}/token`, jwks_uri: `${base}/jwks`, response_types_supported: ['code']}
      scripted.route('/.well-known/openid-configuration', {headers: {'cache-control': 'no-store'}, body: metadata})
      scripted.route('/token', (request) => ({body: {access_token: fakeToken('at'), token_type: 'Bearer', expires_in: 3600, refresh_token: request.form.get('refresh_token') ?? ''}}))
      await writeLogin(home.authDir, {issuer: base, subject: 'alice', accessToken: fakeToken('at'), refreshToken: fakeToken('rt'), expiresIn: 3600})
      for (let i = 0; i < 4; i++) await runAcmeExpecting(0, ['auth', 'refresh'], {home, env: {ACME_AUTH_ISSUER: base}})
      const asked = (path: string) => scripted.requests.filter((request) => request.path === path).length
      expect(asked('/token'), 'refreshes').to.equal(4)
      // The OpenID document says no-store: asked each time, as it says.
      expect(asked('/.well-known/openid-configuration'), 'OpenID discovery').to.equal(4)
      expect(asked('/.well-known/oauth-authorization-server'), 'RFC 8414').to.equal(1)
    })
  })

  describe('the real issuer', () => {
    const shared = issuerWithLogin(runAcmeExpecting)

    it('a refresh refused with invalid_request (LemonLDAP::NG once its offline session ended): exit 4 "sign in again", the login kept and the refresh token tombstoned', async () => {
      const {issuer, env, signedIn} = shared
      await home.cleanup()
      home = await copyOfHome(signedIn)
      const before = await storeSnapshot(home)
      issuer.setTokenFailure(400)
      try {
        const args = ['auth', 'refresh']
        const message = failed(await runAcme(args, {home, env}), args, 4)
        expect(message).to.include('no longer accepts the stored login of Alice (alice)').and.include('the stored credentials were kept').and.include('auth login')
        // The refused refresh token is not sent again: the next command says the same without asking.
        const tokenRequests = issuer.counts.tokenRequests
        failed(await runAcme(args, {home, env}), args, 4)
        expect(issuer.counts.tokenRequests, 'token requests after the tombstone').to.equal(tokenRequests)
      } finally {
        issuer.setTokenFailure(null)
      }
      expect((await storeSnapshot(home)).credentials, 'credentials.json').to.equal(before.credentials)
      const index = JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8')) as {accounts: Array<{key: string}>; tombstones: Record<string, unknown>}
      expect(Object.keys(index.tombstones)).to.deep.equal([index.accounts[0].key])
    })
  })

  describe('an ID token from another issuer: a mistyped issuer setting that a server answers anyway', () => {
    for (const responseIss of [false, true]) {
      it(`names the issuer the server calls itself and the one configured, exit 2 (${responseIss ? 'the authorization response names it too (RFC 9207)' : 'the ID token alone names it'})`, async () => {
        // As django-oauth-toolkit's RFC 8414 endpoint: any path after the well-known name is echoed as the issuer.
        const typo = '/o/typo'
        const issuer = await startIssuer({
          authorizationResponseIss: responseIss,
          metadata: {extra: {[`${typo}/.well-known/openid-configuration`]: ({authorization_response_iss_parameter_supported: _, ...doc}: Record<string, unknown>) => ({...doc, issuer: `${doc.issuer}${typo}`, ...(responseIss ? {authorization_response_iss_parameter_supported: true} : {})})}},
        })
        try {
          const configured = `${issuer.issuer}${typo}`
          const args = ['auth', 'login']
          const message = failed(await runAcme(args, {home, env: issuerEnv(issuer, {ACME_AUTH_ISSUER: configured})}), args, 2)
          expect(message).to.include(`names the issuer ${issuer.issuer}, but the issuer setting is ${configured}`)
          expect(message).to.include(`Set the issuer to ${issuer.issuer}`).and.not.include('OAUTH_JWT_CLAIM_COMPARISON_FAILED')
          expect((await storeSnapshot(home)).credentials).to.equal(undefined)
        } finally {
          await issuer.close()
        }
      })
    }
  })
})
