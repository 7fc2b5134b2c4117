// Issuers differ (issue 9), and each difference is met here end to end: examples/acme run as a user
// runs it, against the real oidc-provider configured to behave that way. Where an issuer publishes
// other metadata than oidc-provider does, or answers an error without a body, a shim in the issuer
// fixture (test/fixtures/issuer.js: metadata, bareErrors) rewrites, hides or strips what
// oidc-provider says; the tokens always come from oidc-provider's own token endpoint. Each group
// checks what the user sees (exit codes, one-line messages, `auth status --json`, files) and what the
// issuer saw (its counts, and the parameters of every authorization, token and revocation request).

import {expect} from 'chai'
import {readdir, readFile, writeFile} from 'node:fs/promises'
import {createServer, type Server} from 'node:net'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {exactRedirectClient, startIssuer} from '../fixtures/issuer.js'
import {
  BROWSER,
  closedPort,
  discoveryOf,
  errorMessage,
  issuerEnv,
  makeHostVariant,
  makeTempHome,
  onlyStoredSecrets,
  readCredentialsFile,
  refreshAtIssuer,
  runAcmeExpecting as spawnAcmeExpecting,
  statusJson,
  storeSnapshot,
  type AccountStatus,
  type HostVariant,
  type RunResult,
  type TempHome,
} from '../helpers/acme.js'
import {runAcmeExpecting} from '../helpers/in-process.js'
import {startGitHubStyle} from '../helpers/github-style.js'
import {waitFor} from '../helpers/wait.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>
type Env = Record<string, string | undefined>

const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code'
const ROUTE_ORIGIN = fileURLToPath(new URL('../fixtures/route-origin.js', import.meta.url))

/**
 * The parameters of each authorization request the issuer received: pushed (RFC 9126, which
 * oidc-provider offers and the plugin then uses) or in the query of the authorization endpoint.
 */
function authorizationRequests(issuer: Issuer): Array<Record<string, string[]>> {
  return issuer.requests
    .filter((request) => request.route === 'pushed_authorization_request' || (request.route === 'authorization' && !request.params.request_uri))
    .map((request) => request.params)
}

function tokenRequests(issuer: Issuer, grantType: string) {
  return issuer.requests.filter((request) => request.route === 'token' && request.params.grant_type?.[0] === grantType)
}

function jwtPayload(token: string): Record<string, unknown> {
  const parts = token.split('.')
  expect(parts, 'a JWT access token').to.have.length(3)
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'))
}

/** Values from `secrets` found in any of the outputs, named by where they were found. */
function leaks(secrets: Iterable<string>, outputs: Record<string, string>): string[] {
  const found: string[] = []
  for (const secret of secrets) {
    for (const [where, text] of Object.entries(outputs)) if (text.includes(secret)) found.push(`${secret.slice(0, 6)}… in ${where}`)
  }
  return found
}

async function readIndex(home: TempHome): Promise<{accounts: Array<{key: string} & Record<string, unknown>>; tombstones: Record<string, {refreshTokenHash: string; until: string}>}> {
  return JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8'))
}

/**
 * The account `auth login --json` reported (the `auth status --json` account shape), once the index
 * is seen to hold that one account with the same values: what a later `auth status --json` would
 * list, read from the file it reads, so a sign-in needs no second command to show what it kept.
 */
async function reportedAndKept(login: RunResult, where: TempHome): Promise<AccountStatus> {
  const {account} = JSON.parse(login.stdout) as {account: AccountStatus}
  const [kept, ...others] = (await readIndex(where)).accounts
  expect(others, 'other accounts in the index').to.deep.equal([])
  for (const key of ['issuer', 'clientId', 'subject', 'name', 'email', 'scopes', 'expiresAt', 'hasRefreshToken'] as const) {
    expect(kept[key] ?? null, `${key} in the index`).to.deep.equal(account[key])
  }
  return account
}

describe('e2e: issuers that differ (issue 9)', function () {
  this.timeout(60_000)

  let home: TempHome
  beforeEach(async () => {
    home = await makeTempHome()
  })
  afterEach(async () => {
    await home?.cleanup()
  })

  describe('20 s access tokens', () => {
    let issuer: Issuer
    before(async () => {
      issuer = await startIssuer({accessTokenTTL: 20})
    })
    after(() => issuer?.close())

    it('no refresh right after sign-in (whoami, auth token); once due, one refresh per command, with or without refresh ahead', async () => {
      // Due: inside the last quarter of its lifetime (5 s). The real clock, not a shifted file.
      const dueAt = (secrets: {expiresAt?: string}) => Date.parse(secrets.expiresAt!) - 5000
      // Fresh for 15 s more: prerun, getSignedInAccount() and authFetch() each look, none refreshes.
      // ACME_AUTH_REFRESH_AHEAD is read by the init hook alone, which skips the auth commands: `auth
      // token` is the same command in either home, so it runs in one; whoami runs in the home as
      // shipped, where it passes the init hook as well as everything it passes with refresh ahead off.
      const signInAndUse = async (where: TempHome, env: Env, command: 'auth token' | 'whoami') => {
        await runAcmeExpecting(0, ['auth', 'login'], {home: where, env})
        const secrets = await onlyStoredSecrets(where)
        const before = issuer.counts.tokenRequests
        if (command === 'auth token') {
          const token = await runAcmeExpecting(0, ['auth', 'token'], {home: where, env})
          expect(token.stdout).to.equal(`${secrets.accessToken}\n`)
        } else {
          expect((await runAcmeExpecting(0, ['whoami'], {home: where, env})).stdout).to.equal('alice (Alice)\n')
        }
        expect(Date.now(), `${command} ran before the token was due (else this machine is too slow to tell)`).to.be.below(dueAt(secrets))
        expect(issuer.counts.tokenRequests - before, 'token requests right after sign-in').to.equal(0)
        return secrets
      }
      // Two homes: one refreshes only in the command (refreshAhead off), the other as users have it
      // (in the background, started by the init hook, and in the command).
      const background = await makeTempHome()
      try {
        const onlyInCommand = issuerEnv(issuer, {ACME_AUTH_REFRESH_AHEAD: 'off'})
        const asShipped = issuerEnv(issuer)
        const signedIn = await signInAndUse(home, onlyInCommand, 'auth token')
        const signedInToo = await signInAndUse(background, asShipped, 'whoami')
        issuer.resetCounts()

        await waitFor(() => Date.now() > dueAt(signedIn) + 100, 20_000, 'the 20 s token to be due')
        await runAcmeExpecting(0, ['whoami'], {home, env: onlyInCommand})
        expect(issuer.counts.refresh, 'refreshes for one whoami when due').to.equal(1)
        const refreshed = await onlyStoredSecrets(home)
        expect(refreshed.accessToken).to.not.equal(signedIn.accessToken)
        // One command after the refresh shows the new token fresh: every command decides from the same stored expiry.
        const again = await runAcmeExpecting(0, ['auth', 'token'], {home, env: onlyInCommand})
        expect(again.stdout).to.equal(`${refreshed.accessToken}\n`)
        expect(issuer.counts.refresh, 'the refreshed token is fresh again').to.equal(1)

        // As shipped: the init hook starts a background refresh and the command's prerun wants one;
        // the account lock makes them one. Wait for the background process to let go of its claim.
        await waitFor(() => Date.now() > dueAt(signedInToo) + 100, 20_000, "the other home's token to be due")
        await runAcmeExpecting(0, ['whoami'], {home: background, env: asShipped})
        const locks = join(background.authDir, 'locks')
        const busy = () => readdir(locks).then((names) => names.some((name) => name.endsWith('.ahead') || (name.endsWith('.lock') && name !== 'store.lock')), () => false)
        await waitFor(async () => !(await busy()), 10_000, 'the background refresh to finish')
        expect(issuer.counts.refresh, 'refreshes for one whoami when due, refreshing ahead in the background').to.equal(2)
        expect(issuer.counts.refreshReuse).to.equal(0)
      } finally {
        await background.cleanup()
      }
    })
  })

  describe('only RFC 8414 metadata', () => {
    it('a path-mounted issuer without OpenID discovery: login, refresh, logout with revocation', async () => {
      const issuer = await startIssuer({path: '/realms/acme', metadata: {openid: false, oauth: true}})
      try {
        const origin = new URL(issuer.issuer).origin
        expect((await fetch(`${issuer.issuer}/.well-known/openid-configuration`)).status, 'OpenID discovery').to.equal(404)
        const rfc8414 = await fetch(`${origin}/.well-known/oauth-authorization-server/realms/acme`)
        expect(rfc8414.status, 'RFC 8414 metadata').to.equal(200)
        expect(((await rfc8414.json()) as {issuer: string}).issuer).to.equal(issuer.issuer)

        const env = issuerEnv(issuer)
        const account = await reportedAndKept(await runAcmeExpecting(0, ['auth', 'login', '--json'], {home, env}), home)
        expect(account).to.include({issuer: issuer.issuer, subject: 'alice', hasRefreshToken: true})
        await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
        expect(issuer.counts).to.include({authorizationCode: 1, refresh: 1})
        const logout = await runAcmeExpecting(0, ['auth', 'logout'], {home, env})
        expect(logout.stdout).to.include('revoked at the issuer')
        expect(issuer.counts.revocations).to.equal(1)
        // Forgotten here too: `auth status` reports loggedIn from the index's accounts, and no file holds one now.
        expect((await readIndex(home)).accounts, 'accounts in the index').to.deep.equal([])
        expect((await readCredentialsFile(home)).accounts, 'accounts in credentials.json').to.deep.equal({})
      } finally {
        await issuer.close()
      }
    })

    it('OpenID discovery without revocation_endpoint, RFC 8414 metadata with it: logout revokes', async () => {
      const issuer = await startIssuer({
        metadata: {openid: ({revocation_endpoint: _, ...rest}: Record<string, unknown>) => rest, oauth: true},
      })
      try {
        expect(await discoveryOf(issuer)).to.not.have.property('revocation_endpoint')
        const env = issuerEnv(issuer)
        await runAcmeExpecting(0, ['auth', 'login'], {home, env})
        const logout = await runAcmeExpecting(0, ['auth', 'logout'], {home, env})
        expect(logout.stdout).to.include('revoked at the issuer')
        expect(issuer.counts.revocations).to.equal(1)
        expect(issuer.requests.filter((request) => request.route === 'revocation')).to.have.length(1)
      } finally {
        await issuer.close()
      }
    })
  })

  describe('no metadata at all: endpoints set by hand', () => {
    let issuer: Issuer
    let endpoints: Record<string, string>
    before(async () => {
      issuer = await startIssuer({path: '/realms/acme', metadata: {openid: false, oauth: false}})
      // oidc-provider's own routes, as an administrator would copy them from the issuer's documentation.
      const at = (path: string) => `${issuer.issuer}${path}`
      endpoints = {authorization: at('/auth'), token: at('/token'), deviceAuthorization: at('/device/auth'), revocation: at('/token/revocation'), userinfo: at('/me'), jwks: at('/jwks')}
    })
    after(() => issuer?.close())
    beforeEach(() => issuer.resetCounts())

    it('without them: exit 2, "publishes no metadata", naming the endpoints setting; nothing stored', async () => {
      const env = issuerEnv(issuer)
      const login = await runAcmeExpecting(2, ['auth', 'login'], {home, env})
      const message = errorMessage(login.stderr)
      expect(message).to.include(`The issuer at ${issuer.issuer} publishes no metadata`)
      expect(message).to.include('endpoints setting')
      expect(await storeSnapshot(home), 'files in the store').to.deep.equal({index: undefined, credentials: undefined})
      expect(issuer.requests, 'requests to OAuth endpoints').to.deep.equal([])
    })

    it('in the user settings file (auth.json): browser login; the login keeps them for a refresh and logout in later commands', async () => {
      const settingsFile = join(home.configDir, 'auth.json')
      // Beside the issuer they belong to: endpoints set for another issuer are never used (issue 20).
      await writeFile(settingsFile, JSON.stringify({issuer: issuer.issuer, endpoints}))
      const env = issuerEnv(issuer)
      const account = await reportedAndKept(await runAcmeExpecting(0, ['auth', 'login', '--json'], {home, env}), home)
      expect(account).to.include({issuer: issuer.issuer, subject: 'alice', name: 'Alice', hasRefreshToken: true})
      // No pushed authorization endpoint was named: the parameters went in the authorization URL.
      expect(authorizationRequests(issuer)).to.have.length(1)
      await writeFile(settingsFile, '{}')
      await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
      expect(issuer.counts).to.include({authorizationCode: 1, refresh: 1})
      await runAcmeExpecting(0, ['auth', 'logout'], {home, env})
      expect(issuer.counts.revocations).to.equal(1)
    })

    it("in the host's package.json: device login, a refresh in a later command, logout with revocation", async () => {
      const host = await makeHostVariant((auth) => ({...auth, issuer: issuer.issuer, endpoints}))
      try {
        const env = issuerEnv(issuer)
        const login = await runAcmeExpecting(0, ['auth', 'login', '--device', '--json'], {home, env, bin: host.bin})
        expect(issuer.counts.deviceCode).to.equal(1)
        expect(await reportedAndKept(login, home)).to.include({issuer: issuer.issuer, subject: 'alice', hasRefreshToken: true})
        await runAcmeExpecting(0, ['auth', 'refresh'], {home, env, bin: host.bin})
        await runAcmeExpecting(0, ['auth', 'logout'], {home, env, bin: host.bin})
        expect(issuer.counts).to.include({refresh: 1, revocations: 1})
      } finally {
        await host.cleanup()
      }
    })
  })

  describe('a GitHub-style OAuth app: no metadata, no ID token, a profile endpoint of its own, tokens with no lifetime', () => {
    let issuer: Issuer
    let host: HostVariant
    before(async () => {
      ;({issuer, host} = await startGitHubStyle())
    })
    after(async () => {
      await host?.cleanup()
      await issuer?.close()
    })

    it('signs in and names the account from the profile endpoint; the token is never refreshed; once the issuer stops taking it, exit 4 to sign in again', async () => {
      const env = issuerEnv(issuer)
      const run = {home, env, bin: host.bin}
      const account = await reportedAndKept(await runAcmeExpecting(0, ['auth', 'login', '--json'], run), home)
      // GitHub's numeric id names the account, its login is the name.
      expect(account).to.include({subject: String(account.subject), name: 'alice', email: 'alice@example.com', hasRefreshToken: false, expiresAt: null})
      expect(account.subject).to.match(/^\d+$/)
      expect(authorizationRequests(issuer)[0].scope, 'no openid scope, so no ID token').to.deep.equal(['profile email'])
      const {accessToken} = await onlyStoredSecrets(home)

      // A token with no lifetime is fresh until an API says otherwise: nothing asks the token endpoint,
      // neither for `auth token` nor for the command after it.
      issuer.resetCounts()
      expect((await runAcmeExpecting(0, ['auth', 'token'], run)).stdout).to.equal(`${accessToken}\n`)
      const profile = await runAcmeExpecting(0, ['api', `${issuer.issuer}/user`], run)
      expect(profile.stdout).to.include('"login":"alice"')
      expect(issuer.counts.tokenRequests, 'token requests').to.equal(0)

      // Revoked (on GitHub: the app's authorization withdrawn): the API answers 401, there is no
      // refresh token to try, so the command says to sign in again, and the login stays stored.
      await (await issuer.provider.AccessToken.find(accessToken))?.destroy()
      const refused = await runAcmeExpecting(4, ['api', `${issuer.issuer}/user`], run)
      expect(errorMessage(refused.stderr)).to.include('acme auth login')
      expect(issuer.counts.tokenRequests, 'token requests').to.equal(0)
      expect((await onlyStoredSecrets(home)).accessToken, 'the login is kept').to.equal(accessToken)
    })
  })

  describe('an installed app with a client secret', () => {
    const client = (id: string, secret: string, method: string) => ({
      client_id: id,
      client_secret: secret,
      application_type: 'native',
      token_endpoint_auth_method: method,
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token', DEVICE_CODE],
      response_types: ['code'],
    })

    // Spawned: DEBUG=* must reach the debug module as a process starting with it in its environment reads it.
    it('client_secret_basic required: login with ACME_AUTH_CLIENT_SECRET, later commands without it; the secret is never shown', async () => {
      const secret = 'installed-app-secret-7Qm2vX9kLp4sT8wZ'
      const issuer = await startIssuer({clients: [client('acme-installed', secret, 'client_secret_basic')]})
      const outputs: Record<string, string> = {}
      const run = async (code: number, step: string, args: string[], env: Env): Promise<RunResult> => {
        const result = await spawnAcmeExpecting(code, args, {home, env: {...issuerEnv(issuer, {ACME_AUTH_CLIENT_ID: 'acme-installed', DEBUG: '*'}), ...env}})
        outputs[`stdout of ${step}`] = result.stdout
        outputs[`stderr of ${step}`] = result.stderr
        return result
      }
      try {
        await run(0, 'login', ['auth', 'login'], {ACME_AUTH_CLIENT_SECRET: secret})
        expect(issuer.requests.filter((request) => request.route !== 'authorization').map((request) => `${request.route} ${request.clientAuthentication} ${request.status}`)).to.deep.equal([
          'pushed_authorization_request client_secret_basic 201',
          'token client_secret_basic 200',
        ])
        // The issuer really wants it: a refresh without client authentication is refused.
        const stored = await onlyStoredSecrets(home)
        expect((await refreshAtIssuer({issuer: issuer.issuer, clientId: 'acme-installed'}, stored.refreshToken!)).status, 'a refresh without the secret').to.equal(401)
        issuer.resetCounts()

        await run(0, 'status --json', ['auth', 'status', '--json'], {})
        await run(0, 'refresh', ['auth', 'refresh'], {})
        await run(0, 'refresh --json', ['auth', 'refresh', '--json'], {})
        await run(0, 'whoami', ['whoami'], {})
        expect(issuer.counts.refresh).to.equal(2)
        expect(issuer.requests.map((request) => `${request.route} ${request.params.grant_type} ${request.clientAuthentication} ${request.status}`)).to.deep.equal([
          'token refresh_token client_secret_basic 200',
          'token refresh_token client_secret_basic 200',
        ])

        // Kept with the login, in the secrets file only.
        expect((await onlyStoredSecrets(home)) as unknown as {clientSecret?: string}).to.have.property('clientSecret', secret)
        const files = await storeSnapshot(home)
        outputs['the index file'] = files.index!

        await run(0, 'logout', ['auth', 'logout'], {})
        expect(issuer.counts.revocations).to.equal(1)
        expect(issuer.requests.at(-1)).to.include({route: 'revocation', clientAuthentication: 'client_secret_basic'})
        outputs['the secrets file after logout'] = (await storeSnapshot(home)).credentials ?? ''

        expect(outputs['stderr of login'], 'DEBUG=* was in effect').to.match(/oclif:/)
        const tokens = [...issuer.issuedSecrets].filter((value) => value !== secret)
        expect(leaks([secret], outputs), 'the client secret').to.deep.equal([])
        expect(leaks(tokens, outputs), 'tokens, codes, verifiers').to.deep.equal([])
      } finally {
        await issuer.close()
      }
    })

    it('client_secret_post only (from auth.json): the secret goes in the body, and later refreshes still work without it', async () => {
      const secret = 'installed-app-secret-Zr5nW2cY8uQ3hJ6e'
      const issuer = await startIssuer({clientAuthMethods: ['none', 'client_secret_post'], clients: [client('acme-post', secret, 'client_secret_post')]})
      try {
        expect((await discoveryOf(issuer)) as {token_endpoint_auth_methods_supported?: string[]}).to.have.deep.property('token_endpoint_auth_methods_supported', ['none', 'client_secret_post'])
        const env = issuerEnv(issuer, {ACME_AUTH_CLIENT_ID: 'acme-post'})
        const settingsFile = join(home.configDir, 'auth.json')
        // With the issuer and client it is for: a secret is never sent to another (issue 20).
        await writeFile(settingsFile, JSON.stringify({issuer: issuer.issuer, clientId: 'acme-post', clientSecret: secret}))
        await runAcmeExpecting(0, ['auth', 'login', '--device'], {home, env})
        await writeFile(settingsFile, '{}')
        await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
        expect(issuer.counts).to.include({deviceCode: 1, refresh: 1})
        // The device authorization request, each poll of the token endpoint, and the refresh.
        const routes = new Set(issuer.requests.map((request) => `${request.route} ${request.params.grant_type ?? ''}`.trim()))
        expect(routes).to.deep.equal(new Set(['device_authorization', `token ${DEVICE_CODE}`, 'token refresh_token']))
        expect(new Set(issuer.requests.map((request) => request.clientAuthentication))).to.deep.equal(new Set(['client_secret_post']))
        expect((await storeSnapshot(home)).index).to.not.include(secret)
      } finally {
        await issuer.close()
      }
    })
  })

  describe('RFC 8707 resource indicators', () => {
    const resource = 'https://api.acme.example/'
    let issuer: Issuer
    before(async () => {
      issuer = await startIssuer({resourceServers: {[resource]: {scope: 'api:read', accessTokenFormat: 'jwt'}}})
    })
    after(() => issuer?.close())

    it('ACME_AUTH_RESOURCE goes on the authorization request, the code exchange and every refresh; the access token is for it', async () => {
      const env = issuerEnv(issuer, {ACME_AUTH_SCOPES: 'openid profile email offline_access api:read'})
      await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, ACME_AUTH_RESOURCE: resource}})
      const [authorization] = authorizationRequests(issuer)
      expect(authorization.resource, 'authorization request').to.deep.equal([resource])
      expect(tokenRequests(issuer, 'authorization_code').map((request) => request.params.resource)).to.deep.equal([[resource]])
      const signedIn = await onlyStoredSecrets(home)
      expect(jwtPayload(signedIn.accessToken)).to.include({aud: resource, scope: 'api:read', sub: 'alice'})

      // The login remembers it: later commands send it without the variable.
      await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
      await runAcmeExpecting(0, ['auth', 'refresh'], {home, env: {...env, ACME_AUTH_RESOURCE: resource}})
      const refreshes = tokenRequests(issuer, 'refresh_token')
      expect(refreshes.map((request) => request.status)).to.deep.equal([200, 200])
      expect(refreshes.map((request) => request.params.resource)).to.deep.equal([[resource], [resource]])
      const refreshed = await onlyStoredSecrets(home)
      expect(refreshed.accessToken).to.not.equal(signedIn.accessToken)
      expect(jwtPayload(refreshed.accessToken)).to.include({aud: resource, sub: 'alice'})
    })
  })

  describe('audience and authorizationParams', () => {
    const audience = 'https://api.acme.example'
    let issuer: Issuer
    let host: HostVariant
    before(async () => {
      issuer = await startIssuer()
      host = await makeHostVariant((auth) => ({...auth, issuer: issuer.issuer, authorizationParams: {access_type: 'offline', ui_locales: 'de'}}))
    })
    after(async () => {
      await issuer?.close()
      await host?.cleanup()
    })
    beforeEach(() => issuer.resetCounts())

    it("ACME_AUTH_AUDIENCE and the host's authorizationParams are on the authorization request, beside the plugin's own", async () => {
      const login = await runAcmeExpecting(0, ['auth', 'login', '--json'], {home, env: issuerEnv(issuer, {ACME_AUTH_AUDIENCE: audience}), bin: host.bin})
      const [authorization] = authorizationRequests(issuer)
      expect(authorization).to.deep.include({audience: [audience], access_type: ['offline'], ui_locales: ['de'], prompt: ['consent'], code_challenge_method: ['S256']})
      expect(await reportedAndKept(login, home)).to.include({subject: 'alice', hasRefreshToken: true})
    })

    it('ACME_AUTH_AUDIENCE is on the device authorization request with --device', async () => {
      await runAcmeExpecting(0, ['auth', 'login', '--device'], {home, env: issuerEnv(issuer, {ACME_AUTH_AUDIENCE: audience})})
      const devices = issuer.requests.filter((request) => request.route === 'device_authorization')
      expect(devices.map((request) => request.params.audience)).to.deep.equal([[audience]])
      expect(issuer.counts.deviceCode).to.equal(1)
    })

    it('a parameter the plugin sets itself (state) in authorizationParams: exit 2 naming the setting, before anything is sent', async () => {
      const broken = await makeHostVariant((auth) => ({...auth, issuer: issuer.issuer, authorizationParams: {state: 'fixed'}}))
      try {
        const login = await runAcmeExpecting(2, ['auth', 'login'], {home, env: issuerEnv(issuer), bin: broken.bin})
        const message = errorMessage(login.stderr)
        expect(message).to.include('authorizationParams')
        expect(message).to.include("'state' is set by the plugin itself")
        expect(issuer.requests).to.deep.equal([])
      } finally {
        await broken.cleanup()
      }
    })
  })

  describe('an issuer that accepts only the exact redirect URI, port included', () => {
    let port: number
    let issuer: Issuer
    let env: Env
    before(async () => {
      port = await closedPort()
      issuer = await startIssuer({clients: [exactRedirectClient(port)]})
      env = issuerEnv(issuer, {ACME_AUTH_CLIENT_ID: 'acme-exact'})
    })
    after(() => issuer?.close())
    beforeEach(() => issuer.resetCounts())

    it('with ACME_AUTH_REDIRECT_PORT the sign-in works; ACME_AUTH_REDIRECT_HOST=localhost too', async () => {
      await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, ACME_AUTH_REDIRECT_PORT: String(port)}})
      await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, ACME_AUTH_REDIRECT_PORT: String(port), ACME_AUTH_REDIRECT_HOST: 'localhost'}})
      expect(authorizationRequests(issuer).map((params) => params.redirect_uri)).to.deep.equal([[`http://127.0.0.1:${port}/callback`], [`http://localhost:${port}/callback`]])
      expect(tokenRequests(issuer, 'authorization_code').map((request) => request.status)).to.deep.equal([200, 200])
      await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
      // The second sign-in replaced the first: `auth status` lists the index's accounts, and it holds one.
      expect((await readIndex(home)).accounts, 'accounts in the index').to.have.length(1)
      expect(Object.keys((await readCredentialsFile(home)).accounts), 'accounts in credentials.json').to.have.length(1)
    })

    it('without it the issuer refuses the sign-in: exit 1, nothing stored', async () => {
      const login = await runAcmeExpecting(1, ['auth', 'login'], {home, env})
      expect(errorMessage(login.stderr)).to.include("refused to start the sign-in (invalid_request: redirect_uri did not match any of the client's registered redirect_uris)")
      expect(issuer.requests.map((request) => `${request.route} ${request.status}`)).to.deep.equal(['pushed_authorization_request 400'])
      expect((await storeSnapshot(home)).credentials, 'credentials.json').to.equal(undefined)
    })

    it('an issuer that refuses it with a bare 403: the message names the redirect URI and the setting', async () => {
      const bare = await startIssuer({bareErrors: {pushed_authorization_request: 403}, clients: [{client_id: 'acme-exact', application_type: 'web', token_endpoint_auth_method: 'none', redirect_uris: [`http://127.0.0.1:${port}/callback`], grant_types: ['authorization_code'], response_types: ['code']}]})
      try {
        const login = await runAcmeExpecting(1, ['auth', 'login'], {home, env: issuerEnv(bare, {ACME_AUTH_CLIENT_ID: 'acme-exact'})})
        const message = errorMessage(login.stderr)
        const sent = authorizationRequests(bare)[0].redirect_uri[0]
        expect(sent).to.match(/^http:\/\/127\.0\.0\.1:\d+\/callback$/).and.not.equal(`http://127.0.0.1:${port}/callback`)
        expect(message).to.include('(HTTP 403)').and.include(`the redirect URI ${sent} is not registered for client 'acme-exact'`).and.include('redirectPort')
      } finally {
        await bare.close()
      }
    })

    it('the port in use by another program: exit 1, one line that says so and names ACME_AUTH_REDIRECT_PORT', async () => {
      const squatter: Server = createServer()
      await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve))
      try {
        const login = await runAcmeExpecting(1, ['auth', 'login'], {home, env: {...env, ACME_AUTH_REDIRECT_PORT: String(port)}})
        const message = errorMessage(login.stderr)
        expect(message).to.include(`port ${port} on 127.0.0.1`).and.include('in use by another program').and.include('ACME_AUTH_REDIRECT_PORT')
        expect(issuer.requests).to.deep.equal([])
      } finally {
        await new Promise<void>((resolve) => squatter.close(() => resolve()))
      }
    })
  })

  describe('a refresh refused with a bare 400 (no OAuth error body)', () => {
    it('exit 4 with the sign-in suggestion; credentials kept byte for byte; the refresh token tombstoned', async () => {
      const issuer = await startIssuer({bareErrors: {token: 400}})
      try {
        const env = issuerEnv(issuer)
        await runAcmeExpecting(0, ['auth', 'login'], {home, env})
        // Another client rotates the grant's refresh token: the stored one is now a reused one,
        // which oidc-provider answers with invalid_grant, and the shim with a bare 400.
        const stored = await onlyStoredSecrets(home)
        expect((await refreshAtIssuer(issuer, stored.refreshToken!)).status).to.equal(200)
        const bareAnswer = await fetch((await discoveryOf(issuer)).token_endpoint, {method: 'POST', headers: {'content-type': 'application/x-www-form-urlencoded'}, body: new URLSearchParams({grant_type: 'refresh_token', refresh_token: 'unknown', client_id: issuer.clientId})})
        expect([bareAnswer.status, await bareAnswer.text()], "the shim's answer to invalid_grant").to.deep.equal([400, ''])
        const before = await storeSnapshot(home)
        issuer.resetCounts()

        const refresh = await runAcmeExpecting(4, ['auth', 'refresh'], {home, env})
        expect(tokenRequests(issuer, 'refresh_token').map((request) => request.status)).to.deep.equal([400])
        expect(errorMessage(refresh.stderr)).to.include('the stored credentials were kept').and.include('acme auth login')
        expect((await storeSnapshot(home)).credentials, 'credentials.json').to.equal(before.credentials)
        const index = await readIndex(home)
        const tombstone = index.tombstones[index.accounts[0].key]
        expect(tombstone, 'tombstone').to.have.keys('refreshTokenHash', 'until')
        expect(Date.parse(tombstone.until)).to.be.greaterThan(Date.now() + 5 * 60_000)

        // The access token still works until it expires; the tombstoned refresh token is not sent again.
        const token = await runAcmeExpecting(0, ['auth', 'token'], {home, env})
        expect(token.stdout).to.equal(`${stored.accessToken}\n`)
        await runAcmeExpecting(4, ['auth', 'refresh'], {home, env})
        expect(issuer.counts.tokenRequests).to.equal(1)
      } finally {
        await issuer.close()
      }
    })
  })

  // Spawned: NODE_OPTIONS loads route-origin.js, which reroutes the process's own connections.
  describe("a multi-tenant issuer (Entra ID's /common)", () => {
    // A made-up tenant. The issuer runs as https://login.microsoftonline.com/<tenant>/v2.0 (the
    // origin for which openid-client accepts a `{tenantid}` issuer template); the CLI, and the
    // scripted browser it starts, reach it through test/fixtures/route-origin.js.
    const tenant = '4f1c2a7e-93b5-4d0e-8a61-c2d7e5b09f34'
    const entra = 'https://login.microsoftonline.com'
    const withoutIss = ({authorization_response_iss_parameter_supported: _, ...doc}: Record<string, unknown>) => doc
    let issuer: Issuer
    let env: Env
    before(async () => {
      issuer = await startIssuer({
        publicOrigin: entra,
        path: `/${tenant}/v2.0`,
        extraClaims: {tid: tenant},
        // Entra ID does not implement RFC 9207: its authorization responses carry no `iss`, which
        // could not match a templated issuer anyway.
        authorizationResponseIss: false,
        metadata: {
          openid: withoutIss,
          extra: {'/common/v2.0/.well-known/openid-configuration': (doc: Record<string, unknown>) => ({...withoutIss(doc), issuer: `${entra}/{tenantid}/v2.0`})},
        },
      })
      env = {
        ACME_AUTH_ISSUER: `${entra}/common/v2.0`,
        ACME_BROWSER: BROWSER,
        NODE_OPTIONS: `--import=${ROUTE_ORIGIN}`,
        ROUTE_ORIGIN: `${entra} ${issuer.listeningOn}`,
      }
    })
    after(() => issuer?.close())

    it("login at /common succeeds; the account is kept under the tenant's issuer and refreshed there", async () => {
      expect(issuer.issuer).to.equal(`${entra}/${tenant}/v2.0`)
      await spawnAcmeExpecting(0, ['auth', 'login'], {home, env})
      const [account] = (await statusJson(home, env)).accounts
      expect(account).to.include({issuer: `${entra}/${tenant}/v2.0`, subject: 'alice', hasRefreshToken: true})
      const {idToken} = await onlyStoredSecrets(home)
      expect(jwtPayload(idToken!)).to.include({iss: `${entra}/${tenant}/v2.0`, tid: tenant})

      await spawnAcmeExpecting(0, ['auth', 'refresh'], {home, env})
      const whoami = await spawnAcmeExpecting(0, ['whoami'], {home, env})
      expect(whoami.stdout).to.equal('alice (Alice)\n')
      expect(issuer.counts).to.include({authorizationCode: 1, refresh: 1})
      expect((await readCredentialsFile(home)).accounts).to.have.all.keys(`${entra}/${tenant}/v2.0|acme-cli|alice`)
    })
  })
})
