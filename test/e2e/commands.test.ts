// The commands a signed-in user runs — `auth token`, `auth refresh`, `whoami`, `auth logout` — and
// what the issuer saw while they ran. A test that refreshes or signs out signs in afresh in its own
// home; one that only reads the login starts from a copy of one real login.

import {expect} from 'chai'

import {startIssuer} from '../fixtures/issuer.js'
import {
  errorMessage,
  issuerEnv,
  makeTempHome,
  onlyStoredSecrets,
  readCredentialsFile,
  refreshAtIssuer,
  runAcmeExpecting as spawnAcmeExpecting,
  startRequestRecorder,
  userinfo,
  type TempHome,
} from '../helpers/acme.js'
import {runAcme, runAcmeExpecting, statusJson} from '../helpers/in-process.js'
import {copyOfHome, issuerWithLogin} from '../helpers/signed-in.js'
import {expireIn} from '../helpers/store-time.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

// One issuer and one shared login for both groups of tests.
describe('e2e: commands', () => {
  let issuer: Issuer
  /** alice's login, made once (`acme auth login`) for the tests that only read a signed-in state. */
  let signedIn: TempHome

  const shared = issuerWithLogin(runAcmeExpecting)
  before(() => ({issuer, signedIn} = shared))

  describe('of a signed-in user', () => {
    let home: TempHome
    let env: Record<string, string | undefined>

    before(() => {
      env = issuerEnv(issuer)
    })
    beforeEach(() => {
      home = undefined as unknown as TempHome
      issuer.resetCounts()
    })
    afterEach(() => home?.cleanup())

    /** Its own `auth login`: for tests that refresh or sign out (the issuer rotates or revokes the grant). */
    async function signInHere(): Promise<void> {
      home = await makeTempHome()
      await runAcmeExpecting(0, ['auth', 'login'], {home, env})
      issuer.resetCounts()
    }

    /** A copy of the shared login: for tests that only read it (nothing is refreshed or revoked). */
    async function sharedSignIn(): Promise<void> {
      home = await copyOfHome(signedIn)
    }

    describe('auth token', () => {
      it('prints exactly one line, the access token, which the issuer accepts at userinfo', async () => {
        await sharedSignIn()
        const result = await runAcmeExpecting(0, ['auth', 'token'], {home, env})
        expect(result.stdout).to.match(/^\S+\n$/)
        expect(result.stderr, 'stderr').to.equal('')
        const token = result.stdout.slice(0, -1)
        expect(token).to.equal((await onlyStoredSecrets(home)).accessToken)
        expect(issuer.counts.refresh, 'a fresh token is not refreshed').to.equal(0)

        const me = await userinfo(issuer, token)
        expect(me.status).to.equal(200)
        expect(me.body).to.include({sub: 'alice', name: 'Alice', email: 'alice@example.com'})
      })

      it('--json prints {accessToken, expiresAt, tokenType}', async () => {
        await sharedSignIn()
        const result = await runAcmeExpecting(0, ['auth', 'token', '--json'], {home, env})
        const json = JSON.parse(result.stdout)
        expect(Object.keys(json).sort()).to.deep.equal(['accessToken', 'expiresAt', 'tokenType'])
        // What plain `auth token` prints for this same login: the stored access token (test above).
        expect(json.accessToken).to.equal((await onlyStoredSecrets(home)).accessToken)
        expect(json.tokenType).to.equal('Bearer')
        const [account] = (await statusJson(home)).accounts
        expect(json.expiresAt).to.be.a('string').and.equal(account.expiresAt)
      })
    })

    it('auth token refreshes first when the token is due: a 30 s token in its last quarter (exactly one refresh)', async () => {
      const shortLived = await startIssuer({accessTokenTTL: 30})
      const shortHome = await makeTempHome()
      try {
        const shortEnv = issuerEnv(shortLived)
        await runAcmeExpecting(0, ['auth', 'login'], {home: shortHome, env: shortEnv})
        const before = await onlyStoredSecrets(shortHome)
        expect(shortLived.counts.refresh).to.equal(0)
        // Just issued it is fresh: a 30 s token is due in its last 7.5 s, not from the start.
        await runAcmeExpecting(0, ['auth', 'token'], {home: shortHome, env: shortEnv})
        expect(shortLived.counts.refresh).to.equal(0)
        await expireIn(shortHome, 5)

        const result = await runAcmeExpecting(0, ['auth', 'token'], {home: shortHome, env: shortEnv})
        const token = result.stdout.trim()
        expect(result.stdout).to.equal(`${token}\n`)
        expect(shortLived.counts.refresh).to.equal(1)
        expect(token, 'a new access token').not.to.equal(before.accessToken)

        const after = await onlyStoredSecrets(shortHome)
        expect(after.accessToken, 'the new token is stored').to.equal(token)
        expect(after.refreshToken, 'the rotated refresh token is stored').to.be.a('string').and.not.equal(before.refreshToken)
        expect((await userinfo(shortLived, token)).status).to.equal(200)
      } finally {
        await shortHome.cleanup()
        await shortLived.close()
      }
    })

    it('auth refresh: the issuer sees exactly one refresh, and the old refresh token is dead', async () => {
      await signInHere()
      const before = await onlyStoredSecrets(home)
      const [accountBefore] = (await statusJson(home)).accounts

      const result = await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
      expect(result.stdout).to.match(/^Refreshed the access token of Alice \(alice\) at http:\/\/127\.0\.0\.1:\d+; it expires at \d{4}-/)
      expect(issuer.counts.refresh).to.equal(1)

      const after = await onlyStoredSecrets(home)
      expect(after.accessToken).not.to.equal(before.accessToken)
      expect(after.refreshToken, 'rotated refresh token stored at once').to.be.a('string').and.not.equal(before.refreshToken)
      const [accountAfter] = (await statusJson(home)).accounts
      expect(accountAfter).to.include({subject: 'alice', hasRefreshToken: true})
      expect(Date.parse(accountAfter.expiresAt!)).to.be.at.least(Date.parse(accountBefore.expiresAt!))

      const whoami = await runAcmeExpecting(0, ['whoami'], {home, env})
      expect(whoami.stdout).to.equal('alice (Alice)\n')
      expect(issuer.counts.refresh, 'whoami did not need another refresh').to.equal(1)

      // Last: with rotation, replaying the old refresh token revokes the whole grant.
      const replay = await refreshAtIssuer(issuer, before.refreshToken!)
      expect(replay.status).to.equal(400)
      expect(replay.body.error).to.equal('invalid_grant')
    })

    it('whoami prints the subject from the issuer, exit 0', async () => {
      await sharedSignIn()
      const result = await runAcmeExpecting(0, ['whoami'], {home, env})
      expect(result.stdout).to.equal('alice (Alice)\n')
      expect(result.stderr).to.equal('')
      expect(issuer.counts.userinfo).to.equal(1)
    })

    it('auth logout revokes at the issuer, forgets the account, and whoami then exits 4', async () => {
      await signInHere()
      const secrets = await onlyStoredSecrets(home)

      const logout = await runAcmeExpecting(0, ['auth', 'logout'], {home, env})
      expect(logout.stdout).to.match(/^Signed out Alice \(alice\).*revoked/)
      expect(issuer.counts.revocations).to.equal(1)

      expect(await statusJson(home)).to.deep.equal({loggedIn: false, source: null, accounts: []})
      expect((await readCredentialsFile(home)).accounts, 'credentials.json').to.deep.equal({})

      const recorder = await startRequestRecorder()
      try {
        // whoami's first step is fetching discovery from ACME_AUTH_ISSUER: the recorder sees it if whoami runs.
        const whoami = await runAcme(['whoami'], {home, env: {...env, ACME_AUTH_ISSUER: recorder.url}})
        expect(whoami.code, whoami.stderr).to.equal(4)
        expect(errorMessage(whoami.stderr)).to.include('acme auth login')
        // The command itself never ran: no output, no request anywhere.
        expect(whoami.stdout).to.equal('')
        expect(recorder.requests, 'requests made by whoami').to.deep.equal([])
        expect(issuer.counts.userinfo).to.equal(0)
      } finally {
        await recorder.close()
      }

      // The revoked login is dead at the issuer, not just forgotten here.
      expect((await refreshAtIssuer(issuer, secrets.refreshToken!)).body.error).to.equal('invalid_grant')
    })

    it('auth logout when signed out is no error (exit 0, says there is nothing to do), like --all', async () => {
      await signInHere()
      await runAcmeExpecting(0, ['auth', 'logout'], {home, env})
      for (const args of [['auth', 'logout'], ['auth', 'logout', '--all']]) {
        const again = await runAcmeExpecting(0, args, {home, env})
        expect(again.stdout).to.equal('No stored logins; nothing to sign out of.\n')
      }
      expect(issuer.counts.revocations).to.equal(1)
      // Naming an account that does not exist is still a usage error.
      await runAcmeExpecting(2, ['auth', 'logout', '--account', 'carol'], {home, env})
    })
  })

  describe('signed out, and ACME_TOKEN', () => {
    let home: TempHome

    beforeEach(async () => {
      issuer.resetCounts()
      home = await makeTempHome()
    })
    afterEach(() => home?.cleanup())

    it('hello works signed out, without talking to any issuer', async () => {
      // No ACME_AUTH_ISSUER: the host's configured issuer (127.0.0.1:4010) is not running.
      const result = await runAcmeExpecting(0, ['hello'], {home})
      expect(result.stdout).to.equal('hello from acme\n')
      expect(result.stderr).to.equal('')
    })

    it('whoami signed out exits 4 naming acme auth login, and does not run', async () => {
      const recorder = await startRequestRecorder()
      try {
        const result = await runAcme(['whoami'], {home, env: {ACME_AUTH_ISSUER: recorder.url}})
        expect(result.code, result.stderr).to.equal(4)
        expect(errorMessage(result.stderr)).to.include('acme auth login')
        expect(result.stdout).to.equal('')
        expect(recorder.requests, 'requests made by whoami').to.deep.equal([])
      } finally {
        await recorder.close()
      }
    })

    it('auth token signed out exits 4 naming acme auth login', async () => {
      const result = await runAcmeExpecting(4, ['auth', 'token'], {home, env: issuerEnv(issuer)})
      expect(result.stdout).to.equal('')
      expect(errorMessage(result.stderr)).to.include('acme auth login')
    })

    // whoami spawned: with ACME_TOKEN the example's whoami finds the issuer in process.env, as a host command would.
    it('ACME_TOKEN: status says source env, auth token prints it, whoami uses it', async () => {
      // A token made elsewhere: here, by the shared browser login (what its `auth token` prints, as tested above).
      const token = (await onlyStoredSecrets(signedIn)).accessToken

      const env = issuerEnv(issuer, {ACME_TOKEN: token})
      const report = await statusJson(home, env)
      expect(report).to.include({loggedIn: true, source: 'env'})

      expect((await runAcmeExpecting(0, ['auth', 'token'], {home, env})).stdout).to.equal(`${token}\n`)
      expect((await spawnAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal('alice (Alice)\n')
    })

    it('auth login refuses while ACME_TOKEN is set (exit 2, names the variable)', async () => {
      const result = await runAcmeExpecting(2, ['auth', 'login'], {home, env: issuerEnv(issuer, {ACME_TOKEN: 'something'})})
      expect(errorMessage(result.stderr)).to.include('ACME_TOKEN')
      expect(issuer.counts.authorizationCode).to.equal(0)
      expect(await statusJson(home)).to.deep.equal({loggedIn: false, source: null, accounts: []})
    })
  })
})
