// Things going wrong, as a user meets them: a login that fails must say why in one message, exit
// non-zero with the documented code, and leave the login the user already had exactly as it was.

import {expect} from 'chai'
import {readFile, writeFile} from 'node:fs/promises'
import {createServer as createHttpsServer} from 'node:https'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {
  closedPort,
  errorMessage,
  makeTempHome,
  onlyErrorMessage,
  onlyStoredSecrets,
  refreshAtIssuer,
  runAcme as spawnAcme,
  storeSnapshot,
  type RunResult,
  type StatusReport,
  type TempHome,
} from '../helpers/acme.js'
import {runAcme, runAcmeExpecting, statusJson} from '../helpers/in-process.js'
import {copyOfHome, issuerWithLogin, type Issuer} from '../helpers/signed-in.js'

const SELF_SIGNED_CERT = fileURLToPath(new URL('../fixtures/tls/self-signed-cert.pem', import.meta.url))
const SELF_SIGNED_KEY = fileURLToPath(new URL('../fixtures/tls/self-signed-key.pem', import.meta.url))

/** An https server on 127.0.0.1 with a self-signed certificate, answering 404 to everything. */
async function startSelfSignedServer(): Promise<{url: string; close(): Promise<void>}> {
  const server = createHttpsServer({cert: await readFile(SELF_SIGNED_CERT), key: await readFile(SELF_SIGNED_KEY)}, (_request, response) => {
    response.writeHead(404).end('Not Found')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  return {
    url: `https://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe('e2e: failures', () => {
  let issuer: Issuer
  let home: TempHome
  let env: Record<string, string | undefined>
  /** alice, signed in by browser once; each test starts from a copy of this home. */
  let signedIn: TempHome
  /** What the user had before the failing command: alice, signed in by browser. */
  let statusBefore: StatusReport
  let filesBefore: {index?: string; credentials?: string}

  const shared = issuerWithLogin(runAcmeExpecting)
  before(async () => {
    ;({issuer, env, signedIn} = shared)
    // Every copy holds the same bytes, so it says the same.
    statusBefore = await statusJson(signedIn)
    expect(statusBefore.accounts.map((account) => account.subject)).to.deep.equal(['alice'])
  })
  beforeEach(async () => {
    issuer.setTokenFailure(null)
    // A copy of the shared login: the failing commands below neither refresh nor revoke it.
    home = await copyOfHome(signedIn)
    filesBefore = await storeSnapshot(home)
    expect(filesBefore, 'the copy of the login').to.deep.equal(await storeSnapshot(signedIn))
    issuer.resetCounts()
  })
  afterEach(async () => {
    issuer.setTokenFailure(null)
    await home?.cleanup()
  })

  /** For the tests that end alice's grant at the issuer: a login of this test's own, not a copy. */
  async function signInHere(): Promise<void> {
    await home.cleanup()
    home = await makeTempHome()
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    filesBefore = await storeSnapshot(home)
    issuer.resetCounts()
  }

  /**
   * The earlier login is untouched: the same bytes on disk, and nothing at the issuer that could end
   * it (no refresh, no revocation, no refused refresh token). Every later command then sees what it saw
   * before the failure; `withCommands` proves that with `auth status` and `whoami` as well (once is
   * enough: the bytes and the grant are all a command goes by).
   */
  async function expectEarlierLoginIntact({withCommands = false} = {}): Promise<void> {
    expect(await storeSnapshot(home), 'store files after the failure').to.deep.equal(filesBefore)
    const {refresh, revocations, refreshReuse} = issuer.counts
    expect({refresh, revocations, refreshReuse}, 'what the issuer saw').to.deep.equal({refresh: 0, revocations: 0, refreshReuse: 0})
    if (!withCommands) return
    expect(await statusJson(home)).to.deep.equal(statusBefore)
    const whoami = await runAcmeExpecting(0, ['whoami'], {home, env})
    expect(whoami.stdout).to.equal('alice (Alice)\n')
  }

  /** A failed login: the documented exit code, one error message, nothing on stdout. */
  function expectFailedLogin(result: RunResult, exit: number): string {
    expect(result.code, `exit code; stderr:\n${result.stderr}`).to.equal(exit)
    expect(result.stdout, 'stdout').to.equal('')
    return errorMessage(result.stderr)
  }

  describe('login failures leave an earlier login intact', () => {
    it('wrong client id (ACME_AUTH_CLIENT_ID=nope): exit 2, names the client id', async () => {
      const result = await runAcme(['auth', 'login'], {home, env: {...env, ACME_AUTH_CLIENT_ID: 'nope'}})
      const message = expectFailedLogin(result, 2)
      expect(message).to.match(/client id 'nope'/)
      expect(issuer.counts.authorizationCode).to.equal(0)
      await expectEarlierLoginIntact({withCommands: true})
    })

    it('unreachable issuer: exit 75, names the issuer and the reason', async () => {
      const unreachable = `http://127.0.0.1:${await closedPort()}`
      const result = await runAcme(['auth', 'login'], {home, env: {...env, ACME_AUTH_ISSUER: unreachable}})
      const message = expectFailedLogin(result, 75)
      expect(message).to.include(unreachable)
      expect(message).to.match(/reach/)
      expect(message).to.match(/connection refused/).and.include('check the issuer (ACME_AUTH_ISSUER)')
      await expectEarlierLoginIntact()
    })

    it('unreachable issuer with --device: exit 75', async () => {
      const unreachable = `http://127.0.0.1:${await closedPort()}`
      const result = await runAcme(['auth', 'login', '--device'], {home, env: {...env, ACME_AUTH_ISSUER: unreachable}})
      expect(expectFailedLogin(result, 75)).to.include(unreachable)
      await expectEarlierLoginIntact()
    })

    it('a token piped into --with-token that the issuer rejects: exit 1, says the token was not accepted', async () => {
      const result = await runAcme(['auth', 'login', '--with-token'], {home, env, input: 'not-a-token-anyone-issued\n'})
      expect(expectFailedLogin(result, 1)).to.match(/did not accept the access token/).and.match(/expired, revoked or from another issuer/)
      await expectEarlierLoginIntact()
    })

    it('the issuer reports another identifier (localhost for 127.0.0.1): exit 2, names the one to set', async () => {
      const aliased = issuer.issuer.replace('127.0.0.1', 'localhost')
      const result = await runAcme(['auth', 'login'], {home, env: {...env, ACME_AUTH_ISSUER: aliased}})
      expect(expectFailedLogin(result, 2)).to.include(`Set the issuer exactly as the server reports it: ${issuer.issuer}.`)
      await expectEarlierLoginIntact()
    })

    it('an index written by a newer version: refused before the sign-in, not after it', async () => {
      const indexPath = join(home.authDir, 'accounts.json')
      const newer = JSON.stringify({...JSON.parse(await readFile(indexPath, 'utf8')), version: 99})
      await writeFile(indexPath, newer)
      const result = await runAcme(['auth', 'login'], {home, env})
      expect(expectFailedLogin(result, 1)).to.match(/newer version/)
      expect(issuer.counts.authorizationCode, 'no sign-in was thrown away').to.equal(0)
      expect(await readFile(indexPath, 'utf8')).to.equal(newer)
    })

    it('https to a port that speaks plain http: exit 1 (retrying will not help), says so', async () => {
      const wrong = issuer.issuer.replace('http://', 'https://')
      const result = await runAcme(['auth', 'login'], {home, env: {...env, ACME_AUTH_ISSUER: wrong}})
      const message = expectFailedLogin(result, 1)
      expect(message).to.include(wrong).and.match(/does not speak https/).and.not.match(/temporary|retry/i)
      await expectEarlierLoginIntact()
    })

    it('an issuer whose certificate this machine does not trust: exit 1, names the host and the problem, points at ACME_AUTH_CA_FILE and NODE_EXTRA_CA_CERTS, which then work', async () => {
      const tls = await startSelfSignedServer()
      try {
        const result = await runAcme(['auth', 'login'], {home, env: {...env, ACME_AUTH_ISSUER: tls.url}})
        const message = expectFailedLogin(result, 1)
        expect(message).to.include(tls.url).and.match(/the certificate is self-signed/).and.include('ACME_AUTH_CA_FILE').and.include('NODE_EXTRA_CA_CERTS')
        // Following either advice gets past TLS: this server has no discovery document, and says so.
        // Spawned: Node reads NODE_EXTRA_CA_CERTS once, when the process starts.
        for (const trust of [{NODE_EXTRA_CA_CERTS: SELF_SIGNED_CERT}, {ACME_AUTH_CA_FILE: SELF_SIGNED_CERT}]) {
          const trusted = await spawnAcme(['auth', 'login'], {home, env: {...env, ACME_AUTH_ISSUER: tls.url, ...trust}})
          expect(expectFailedLogin(trusted, 2), Object.keys(trust)[0]).to.match(/publishes no metadata: neither OpenID Connect discovery nor RFC 8414/)
        }
      } finally {
        await tls.close()
      }
      await expectEarlierLoginIntact()
    })

    it('denied consent in the browser (FAKE_BROWSER_MODE=deny): exit 1, says it was denied and what to do', async () => {
      const result = await runAcme(['auth', 'login'], {home, env: {...env, FAKE_BROWSER_MODE: 'deny'}})
      expect(expectFailedLogin(result, 1)).to.match(/denied/).and.match(/Sign in again and approve/)
      expect(issuer.counts.authorizationCode).to.equal(0)
      await expectEarlierLoginIntact()
    })

    it('denied device sign-in (--device, FAKE_BROWSER_MODE=deny): exit 1, says it was denied', async () => {
      const result = await runAcme(['auth', 'login', '--device'], {home, env: {...env, FAKE_BROWSER_MODE: 'deny'}})
      expect(expectFailedLogin(result, 1)).to.match(/denied/)
      expect(issuer.counts.deviceCode).to.equal(0)
      await expectEarlierLoginIntact()
    })

    it('browser never comes back (FAKE_BROWSER_MODE=ignore, ACME_AUTH_LOGIN_TIMEOUT=2): exit 1, says it timed out', async () => {
      const started = Date.now()
      const result = await runAcme(['auth', 'login'], {
        home,
        env: {...env, FAKE_BROWSER_MODE: 'ignore', ACME_AUTH_LOGIN_TIMEOUT: '2'},
        timeoutMs: 60_000,
      })
      expect(Date.now() - started, 'waited for the login timeout').to.be.at.least(2000)
      expect(expectFailedLogin(result, 1)).to.match(/timed out/i)
      await expectEarlierLoginIntact()
    })

    it('device sign-in never approved (--device, FAKE_BROWSER_MODE=ignore, ACME_AUTH_LOGIN_TIMEOUT=2): exit 1, says it timed out', async () => {
      const result = await runAcme(['auth', 'login', '--device'], {
        home,
        env: {...env, FAKE_BROWSER_MODE: 'ignore', ACME_AUTH_LOGIN_TIMEOUT: '2'},
        timeoutMs: 60_000,
      })
      expect(expectFailedLogin(result, 1)).to.match(/timed out/i)
      await expectEarlierLoginIntact()
    })
  })

  describe('bad settings: exit 2 and one message naming the variable', () => {
    for (const [name, value] of [
      ['ACME_AUTH_ISSUER', 'not-a-url'],
      ['ACME_AUTH_STORAGE', 'vault'],
      ['ACME_AUTH_LOGIN_TIMEOUT', 'soon'],
      ['ACME_AUTH_SCOPES', 'openid "profile"'],
      ['ACME_AUTH_LOCK_WAIT', 'soon'],
    ]) {
      it(`${name}=${value}`, async () => {
        const result = await runAcme(['auth', 'login'], {home, env: {...env, [name]: value}})
        expect(result.code, result.stderr).to.equal(2)
        expect(result.stdout).to.equal('')
        // Nothing but the message on stderr (oclif wraps it at 80 columns; unwrapped it is one line).
        const message = onlyErrorMessage(result.stderr)
        expect(message).to.include(name)
        expect(issuer.counts.authorizationCode).to.equal(0)
        await expectEarlierLoginIntact()
      })
    }
  })

  describe('refresh failures keep the stored login', () => {
    it('the issuer answers 503: auth refresh exits 75, the credentials byte for byte, only the outage noted in the index', async () => {
      issuer.setTokenFailure(503)
      const result = await runAcmeExpecting(75, ['auth', 'refresh'], {home, env})
      expect(result.stdout).to.equal('')
      expect(errorMessage(result.stderr)).to.match(/503|unavailable/)
      issuer.setTokenFailure(null)
      const after = await storeSnapshot(home)
      expect(after.credentials, 'credentials.json').to.equal(filesBefore.credentials)
      // The outage is remembered (later commands with a valid token do not wait for it again); nothing else changed.
      const {refreshFailures, gen: _gen, ...index} = JSON.parse(after.index!)
      const {gen: _before, refreshFailures: _none, ...indexBefore} = JSON.parse(filesBefore.index!)
      expect(index).to.deep.equal(indexBefore)
      expect(Object.values<{reason: string}>(refreshFailures)).to.have.length(1)
      expect(await statusJson(home)).to.deep.equal(statusBefore)
    })

    it('the issuer rejects the refresh token (invalid_grant): exit 4, names acme auth login, keeps the credentials', async () => {
      await signInHere()
      // Replaying a rotated refresh token makes oidc-provider revoke the whole grant: the stored
      // refresh token dies without the CLI knowing.
      const stored = await onlyStoredSecrets(home)
      const rotated = await refreshAtIssuer(issuer, stored.refreshToken!)
      expect(rotated.status).to.equal(200)
      expect((await refreshAtIssuer(issuer, stored.refreshToken!)).body.error).to.equal('invalid_grant')
      const credentialsBefore = (await storeSnapshot(home)).credentials

      const result = await runAcmeExpecting(4, ['auth', 'refresh'], {home, env})
      expect(result.stdout).to.equal('')
      expect(errorMessage(result.stderr)).to.include('acme auth login')
      // DESIGN.md lesson 1: one rejected refresh is not evidence enough to delete anything.
      expect((await storeSnapshot(home)).credentials, 'credentials.json').to.equal(credentialsBefore)
      const report = await statusJson(home)
      expect(report.accounts.map((account) => account.subject)).to.deep.equal(['alice'])

      // And signing in again replaces it.
      await runAcmeExpecting(0, ['auth', 'login'], {home, env})
      expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal('alice (Alice)\n')
    })

    it('whoami after the issuer revoked the login: exit 4, one message naming acme auth login', async () => {
      await signInHere()
      // The stored access token still looks fresh, but the issuer killed the grant: userinfo says 401,
      // authFetch refreshes once, and the refresh is invalid_grant.
      const stored = await onlyStoredSecrets(home)
      expect((await refreshAtIssuer(issuer, stored.refreshToken!)).status).to.equal(200)
      expect((await refreshAtIssuer(issuer, stored.refreshToken!)).body.error).to.equal('invalid_grant')
      const credentialsBefore = (await storeSnapshot(home)).credentials

      const result = await runAcme(['whoami'], {home, env})
      expect(result.code, `exit code; stderr:\n${result.stderr}`).to.equal(4)
      expect(result.stdout).to.equal('')
      expect(errorMessage(result.stderr)).to.include('acme auth login')
      expect((await storeSnapshot(home)).credentials, 'credentials.json').to.equal(credentialsBefore)
    })
  })
})

describe('e2e: failures of a host command\'s own requests (authFetch, plainFetch)', () => {
  it('the API is down: exit 75, one line naming the host (no TypeError: fetch failed, no stack)', async () => {
    const home = await makeTempHome()
    try {
      const port = await closedPort()
      const result = await runAcme(['api', `http://127.0.0.1:${port}/items`], {home, env: {ACME_TOKEN: 'env-token-for-the-api-0123456789'}})
      expect(result.code, result.stderr).to.equal(75)
      expect(errorMessage(result.stderr)).to.equal(`Could not reach 127.0.0.1:${port}: connection refused. This is temporary: retry when it is reachable.`)
      expect(result.stderr).to.not.match(/TypeError|fetch failed/)
    } finally {
      await home.cleanup()
    }
  })
})
