// The core story against a second authorization server, written independently of oidc-provider:
// Glewlwyd 2.7.5 (C; Debian package `glewlwyd`), started on 127.0.0.1 by test/fixtures/glewlwyd.js.
// The example host runs as a user runs it; the sign-in is played by test/fixtures/glewlwyd-browser.js.
//
// Where Glewlwyd departs from a standard, the test says so (D-numbers as in the Glewlwyd section of docs/providers.md)
// and asserts what the plugin does about it; the plugin has no Glewlwyd-specific code.
//
// Glewlwyd is a system package. Without it this suite fails with one line naming the install command
// (.ci/run installs it): it never skips.

import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {startGlewlwyd} from '../fixtures/glewlwyd.js'
import {
  cleanEnv,
  closedPort,
  errorMessage,
  issuerEnv,
  loginSnapshot,
  makeTempHome,
  nodeArgs,
  onlyStoredSecrets,
  readCredentialsFile,
  storeSnapshot,
  userinfo,
  warningMessages,
  type TempHome,
} from '../helpers/acme.js'
import {runAcme, runAcmeExpecting, statusJson} from '../helpers/in-process.js'
import {expireIn} from '../helpers/store-time.js'
import {browserOutcome} from '../helpers/wait.js'

type Glewlwyd = Awaited<ReturnType<typeof startGlewlwyd>>

const GLEWLWYD_BROWSER = fileURLToPath(new URL('../fixtures/glewlwyd-browser.js', import.meta.url))
const SCOPES = ['openid', 'profile', 'email', 'offline_access']

/** A refresh_token grant sent straight to Glewlwyd's token endpoint, bypassing the CLI. */
async function refreshAtServer(server: Glewlwyd, refreshToken: string): Promise<{status: number; body: string}> {
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: {'content-type': 'application/x-www-form-urlencoded'},
    body: new URLSearchParams({grant_type: 'refresh_token', refresh_token: refreshToken, client_id: server.clientId}),
  })
  return {status: response.status, body: await response.text()}
}

describe('e2e: the core story against Glewlwyd, an independent OpenID Provider', function () {
  this.timeout(120_000)
  let server: Glewlwyd
  let redirectPorts: number[]
  let env: Record<string, string | undefined>
  let home: TempHome

  before(async () => {
    server = await startGlewlwyd({deviceInterval: 1})
    // D3: Glewlwyd compares redirect URIs as strings, port included, where RFC 8252 §7.3 asks an
    // issuer to accept any port on a loopback redirect. So the host names fixed ports (redirectPort:
    // tried in order) and the server has exactly those registered.
    redirectPorts = [await closedPort(), await closedPort()]
    for (const port of redirectPorts) await server.allowRedirectUri(`http://127.0.0.1:${port}/callback`)
    env = issuerEnv(server, {ACME_BROWSER: GLEWLWYD_BROWSER, ACME_AUTH_REDIRECT_PORT: redirectPorts.join(' ')})
  })
  after(() => server?.close())
  beforeEach(async () => {
    home = await makeTempHome()
    server.resetCounts()
  })
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') console.error(`--- Glewlwyd's log (last 3000 characters) ---\n${server.log().slice(-3000)}`)
    await home?.cleanup()
  })

  /** What `auth status --json` shows for alice, as Glewlwyd knows her (expiresAt checked apart). */
  async function aliceAccount() {
    return {
      kind: 'user',
      clientAuthentication: null,
      issuer: server.issuer,
      clientId: 'acme-cli',
      // Glewlwyd's subjects are random strings it makes at the first sign-in (subject-type public).
      subject: await server.subjectOf(),
      name: 'Alice Example',
      email: 'alice@example.test',
      default: true,
      storage: 'file',
      scopes: SCOPES,
      hasRefreshToken: true,
      proxy: null,
    tokenType: 'Bearer',
    jkt: null,
    }
  }

  it('signs in through the browser on the registered loopback port; status --json shows what the server reports', async () => {
    const login = await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    const subject = await server.subjectOf()
    expect(login.stdout).to.equal(`Signed in as Alice Example (${subject}) at ${server.issuer}.\n`)
    expect(login.stderr).to.include(`${server.issuer}/auth?`)
    expect(login.stderr).to.include(`redirect_uri=http%3A%2F%2F127.0.0.1%3A${redirectPorts[0]}%2Fcallback`)
    expect(server.counts).to.include({authorizationCode: 1, deviceCode: 0, refresh: 0})

    const report = await statusJson(home, env)
    expect(report).to.include({loggedIn: true, source: 'store'})
    expect(report.accounts).to.have.length(1)
    const [account] = report.accounts
    const {expiresAt, ...rest} = account
    expect(rest).to.deep.equal(await aliceAccount())
    const left = (Date.parse(expiresAt!) - Date.now()) / 1000
    expect(left, 'seconds until expiresAt').to.be.within(3540, 3605)

    // The same three claims as Glewlwyd's userinfo gives them for the stored token.
    const me = await userinfo(server, (await onlyStoredSecrets(home)).accessToken)
    expect(me.body).to.deep.equal({sub: account.subject, name: account.name, email: account.email})
  })

  it('signs in with --device: the code shown is approved on another device', async () => {
    // No ACME_BROWSER and no display (cleanEnv drops DISPLAY): the user reads the code and types it
    // elsewhere, here played by the scripted browser opening verification_uri?code=<code>.
    const child = spawn(process.execPath, nodeArgs(['auth', 'login', '--device']), {
      env: cleanEnv(home, {...env, ACME_BROWSER: undefined}),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    let approving = false
    const approved = new Promise<void>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk
        const uri = /open (\S+) on any device/.exec(stderr)?.[1]
        const code = /enter the code:\s+(\S+)\n/.exec(stderr)?.[1]
        if (!uri || !code || approving) return
        approving = true
        const browser = spawn(process.execPath, [GLEWLWYD_BROWSER, `${uri}?code=${encodeURIComponent(code)}`], {stdio: ['ignore', 'ignore', 'pipe']})
        let browserErr = ''
        browser.stderr.setEncoding('utf8').on('data', (text: string) => (browserErr += text))
        browser.on('close', (status) => (status === 0 ? resolve() : reject(new Error(`approving the code failed: ${browserErr}`))))
      })
    })
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve))
    await Promise.race([approved, exit])
    expect(await exit, stderr).to.equal(0)

    expect(stderr).to.include(`To sign in, open ${server.issuer}/device on any device and enter the code:`)
    expect(stderr).to.match(/enter the code:\s+[A-Z\d]{4}-[A-Z\d]{4}\n/)
    const subject = await server.subjectOf()
    expect(stdout).to.equal(`Signed in as Alice Example (${subject}) at ${server.issuer}.\n`)
    expect(server.counts).to.include({deviceCode: 1, authorizationCode: 0})
    const [account] = (await statusJson(home, env)).accounts
    const {expiresAt: _, ...rest} = account
    expect(rest).to.deep.equal(await aliceAccount())
  })

  it('without a registered port Glewlwyd refuses the sign-in page (D3): the browser gets a 403 and the CLI times out', async () => {
    // What a host that leaves redirectPort unset meets: the CLI picks a free port, Glewlwyd answers
    // the authorization request with a bare 403 (no error page, no redirect), and only the
    // login timeout ends the wait. redirectPort is the way out (see the suite's `before`).
    const log = join(home.root, 'browser.log')
    const result = await runAcme(['auth', 'login'], {
      home,
      env: {...env, ACME_AUTH_REDIRECT_PORT: undefined, ACME_AUTH_LOGIN_TIMEOUT: '3', GLEWLWYD_BROWSER_LOG: log},
    })
    expect(result.code, result.stderr).to.equal(1)
    expect(errorMessage(result.stderr)).to.include('Timed out after 3 s waiting for the sign-in in the browser.')
    expect(await browserOutcome(log)).to.equal('the server answered 403 at /api/oidc/auth, not a redirect')
    expect(server.counts.tokenRequests).to.equal(0)
    expect(await statusJson(home, env)).to.deep.equal({loggedIn: false, source: null, accounts: []})
  })

  describe('signed in', () => {
    let subject: string

    beforeEach(async () => {
      await runAcmeExpecting(0, ['auth', 'login'], {home, env})
      subject = await server.subjectOf()
      server.resetCounts()
    })

    it('auth token prints the access token, and Glewlwyd’s userinfo accepts it', async () => {
      const result = await runAcmeExpecting(0, ['auth', 'token'], {home, env})
      const token = result.stdout.trim()
      expect(result.stdout).to.equal(`${token}\n`)
      expect(result.stderr).to.equal('')
      const stored = await onlyStoredSecrets(home)
      expect(token).to.equal(stored.accessToken)
      // Glewlwyd says token_type "bearer" (case-insensitive, RFC 6749 §5.1); APIs get "Bearer".
      expect(stored.tokenType).to.equal('Bearer')
      expect(server.counts.tokenRequests, 'a fresh token: no refresh').to.equal(0)

      const me = await userinfo(server, token)
      expect(me.status).to.equal(200)
      expect(me.body).to.include({sub: subject, name: 'Alice Example'})
    })

    it('auth refresh rotates: the new refresh token is stored at once, the old one is dead at the server', async () => {
      const before = await onlyStoredSecrets(home)

      const result = await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
      expect(result.stdout).to.match(new RegExp(`^Refreshed the access token of Alice Example \\(${subject}\\) at ${server.issuer.replaceAll('.', '\\.')}; it expires at \\d{4}-`))
      expect(server.counts).to.include({refresh: 1, tokenRequests: 1})

      const after = await onlyStoredSecrets(home)
      expect(after.accessToken).not.to.equal(before.accessToken)
      expect(after.refreshToken, 'rotated refresh token stored').to.be.a('string').and.not.equal(before.refreshToken)
      expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal(`${subject} (Alice Example)\n`)
      expect(server.counts.refresh, 'whoami did not need another refresh').to.equal(1)

      // Last, because Glewlwyd's reuse detection then disables the new refresh token too. D6: the
      // dead token gets a bare 400 with an empty body, where RFC 6749 §5.2 asks for
      // {"error": "invalid_grant"}; the plugin takes a bare 400 on a refresh as invalid_grant.
      expect(await refreshAtServer(server, before.refreshToken!)).to.deep.equal({status: 400, body: ''})
    })

    it('whoami (auth required) reads Glewlwyd’s userinfo with the injected token', async () => {
      const result = await runAcmeExpecting(0, ['whoami'], {home, env})
      expect(result.stdout).to.equal(`${subject} (Alice Example)\n`)
      expect(result.stderr).to.equal('')
      expect(server.counts).to.include({userinfo: 1, tokenRequests: 0})
    })

    it('auth logout: Glewlwyd refuses revocation by a public client (D7); the plugin says so and signs out here, exit 0', async () => {
      const secrets = await onlyStoredSecrets(home)

      const logout = await runAcmeExpecting(0, ['auth', 'logout'], {home, env})
      // D7: RFC 7009 §2.1 has a public client revoke with its client_id alone; Glewlwyd accepts only
      // confidential clients (client_secret_basic/post) there and answers a bare 401 — no
      // invalid_client body (RFC 6749 §5.2), no WWW-Authenticate. The plugin reports that revocation
      // failed and removes the login from this machine all the same, as the user asked.
      expect(server.counts).to.include({revocationRequests: 1, revocations: 0})
      expect(warningMessages(logout.stderr), `exactly one warning in stderr:\n${logout.stderr}`).to.deep.equal([
        `Could not revoke the login at the issuer: The issuer at ${server.issuer} gave an unexpected answer (401) while trying to revoke the token.`,
      ])
      expect(logout.stdout).to.equal(
        `Signed out Alice Example (${subject}) at ${server.issuer} on this machine; the issuer may still accept its tokens until they expire.\n`,
      )
      expect(await statusJson(home, env)).to.deep.equal({loggedIn: false, source: null, accounts: []})
      expect((await readCredentialsFile(home)).accounts, 'credentials.json').to.deep.equal({})
      const whoami = await runAcmeExpecting(4, ['whoami'], {home, env})
      expect(errorMessage(whoami.stderr)).to.include('acme auth login')

      // What the warning means: the refresh token is still alive at Glewlwyd.
      const stillAlive = await refreshAtServer(server, secrets.refreshToken!)
      expect(stillAlive.status, stillAlive.body).to.equal(200)
      expect(JSON.parse(stillAlive.body)).to.have.property('refresh_token').that.is.a('string')
    })

    it('a refresh token revoked at the server: the next command that must refresh exits 4, and the login is kept byte for byte', async () => {
      // What an administrator does to end a user's sessions (Glewlwyd's admin API).
      expect(await server.revokeUserRefreshTokens(), 'refresh tokens disabled').to.be.at.least(1)
      // Expired rather than merely due: a command may use a still-valid token when a refresh fails.
      await expireIn(home, -60)
      const before = await storeSnapshot(home)

      const result = await runAcme(['whoami'], {home, env})
      expect(result.code, result.stderr).to.equal(4)
      expect(result.stdout).to.equal('')
      // D6 again: Glewlwyd answers the revoked refresh token with a bare 400, taken as invalid_grant.
      expect(server.counts.refreshRefused).to.be.at.least(1)
      expect(errorMessage(result.stderr))
        .to.include(`The issuer no longer accepts the stored login of Alice Example (${subject})`)
        .and.include('the stored credentials were kept')
        .and.include('acme auth login')
      // DESIGN.md lesson 1: one rejected refresh deletes nothing (the index only marks the token).
      expect((await storeSnapshot(home)).credentials, 'credentials.json').to.equal(before.credentials)
      const [account] = (await statusJson(home, env)).accounts
      expect(account).to.include({subject, hasRefreshToken: true})

      // Signing in again replaces the dead login.
      await runAcmeExpecting(0, ['auth', 'login'], {home, env})
      expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal(`${subject} (Alice Example)\n`)
    })

    it('Glewlwyd stopped: a command that must refresh exits 75, nothing is lost, and it works once the server is back', async () => {
      await expireIn(home, -60)
      const before = await loginSnapshot(home)
      await server.stop()
      try {
        const result = await runAcme(['whoami'], {home, env})
        expect(result.code, result.stderr).to.equal(75)
        expect(result.stdout).to.equal('')
        expect(errorMessage(result.stderr)).to.match(/could not reach the issuer/i).and.match(/nothing was lost/i)
        expect(await loginSnapshot(home)).to.deep.equal(before)
      } finally {
        await server.start()
      }
      const again = await runAcmeExpecting(0, ['whoami'], {home, env})
      expect(again.stdout).to.equal(`${subject} (Alice Example)\n`)
      expect(server.counts.refresh).to.equal(1)
    })
  })
})
