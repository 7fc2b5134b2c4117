// `acme auth status --verify` (issue 23, part 6): the issuer is asked whether each stored login
// works, after a refresh where the token is due. Exit 0 when verified, 4 when not (sign in again),
// 75 when the issuer does not answer. Against the real issuer: revocation through its RFC 7009
// endpoint, refreshes it counts, an outage it stages.
import {expect} from 'chai'

import {startIssuer} from '../fixtures/issuer.js'
import {
  ACCOUNT_KEYS,
  discoveryOf,
  issuerEnv,
  loginSnapshot,
  makeTempHome,
  onlyStoredSecrets,
  refreshAtIssuer,
  type HostVariant,
  type TempHome,
} from '../helpers/acme.js'
import {runAcmeExpecting} from '../helpers/in-process.js'
import {KEPT_SETTINGS, moveLoginToLegacyFile, readLegacyFile} from '../helpers/legacy-login.js'
import {lifecycleSuite} from '../helpers/lifecycle-suite.js'
import {expireIn} from '../helpers/store-time.js'
import {startGitHubStyle} from '../helpers/github-style.js'

interface VerifiedReport {
  loggedIn: boolean
  source: string | null
  accounts: Array<{subject: string; verified: boolean; expiresAt: string | null}>
}

function parseVerified(stdout: string): VerifiedReport {
  const report = JSON.parse(stdout) as VerifiedReport
  for (const account of report.accounts) {
    // The documented account shape, plus `verified` (only with --verify).
    expect(Object.keys(account).sort()).to.deep.equal([...ACCOUNT_KEYS, 'verified'].sort())
    expect(account.verified).to.be.a('boolean')
  }
  return report
}

describe('e2e: auth status --verify asks the issuer', function () {
  this.timeout(180_000)
  const suite = lifecycleSuite(runAcmeExpecting)

  async function revokeAccessToken(accessToken: string): Promise<void> {
    const {revocation_endpoint: endpoint} = await discoveryOf(suite.issuer)
    const response = await fetch(endpoint!, {
      method: 'POST',
      headers: {'content-type': 'application/x-www-form-urlencoded'},
      body: new URLSearchParams({token: accessToken, token_type_hint: 'access_token', client_id: suite.issuer.clientId}),
    })
    expect(response.status).to.equal(200)
  }

  it('a working login: verified true in --json, a "Verified: yes" line, exit 0, no refresh', async () => {
    const home = await suite.sharedSignIn()
    const json = await runAcmeExpecting(0, ['auth', 'status', '--verify', '--json'], {home, env: suite.env})
    expect(parseVerified(json.stdout).accounts.map((account) => account.verified)).to.deep.equal([true])
    expect(suite.issuer.counts.userinfo, 'the issuer was asked').to.be.at.least(1)
    const text = await runAcmeExpecting(0, ['auth', 'status', '--verify'], {home, env: suite.env})
    expect(text.stdout).to.match(/^ {4}Verified: {6}yes, the issuer accepts the login$/m)
    expect(suite.issuer.counts.tokenRequests, 'nothing was due').to.equal(0)
  })

  it('without --verify nothing is asked and the JSON has no verified key', async () => {
    const home = await suite.sharedSignIn()
    const json = await runAcmeExpecting(0, ['auth', 'status', '--json'], {home, env: suite.env})
    expect(JSON.parse(json.stdout).accounts[0]).not.to.have.property('verified')
    expect(suite.issuer.counts.userinfo).to.equal(0)
  })

  it('a revoked access token: verified false, exit 4, the reason and the next step in text', async () => {
    const home = await suite.signInHere()
    await revokeAccessToken((await onlyStoredSecrets(home)).accessToken)
    const json = await runAcmeExpecting(4, ['auth', 'status', '--verify', '--json'], {home, env: suite.env})
    expect(parseVerified(json.stdout).accounts.map((account) => account.verified)).to.deep.equal([false])
    const text = await runAcmeExpecting(4, ['auth', 'status', '--verify'], {home, env: suite.env})
    expect(text.stdout).to.match(/^ {4}Verified: {6}no: The issuer at \S+ does not accept the stored access token \(revoked, or expired early\)\. .*acme auth login/m)
    expect(suite.issuer.counts.tokenRequests, 'a 401 is the answer, not a reason to refresh').to.equal(0)
  })

  it('a token that is due is refreshed first, then verified: the new expiry is shown', async () => {
    const home = await suite.signInHere()
    await expireIn(home, -5)
    const json = await runAcmeExpecting(0, ['auth', 'status', '--verify', '--json'], {home, env: {...suite.env, ACME_AUTH_REFRESH_AHEAD: 'off'}})
    const [account] = parseVerified(json.stdout).accounts
    expect(account.verified).to.equal(true)
    expect(Date.parse(account.expiresAt!)).to.be.greaterThan(Date.now() + 30 * 60_000)
    expect(suite.issuer.counts.refresh).to.equal(1)
  })

  it('a refresh token the issuer rejects: verified false, exit 4, the login kept', async () => {
    const home = await suite.signInHere()
    const {refreshToken} = await onlyStoredSecrets(home)
    expect((await refreshAtIssuer(suite.issuer, refreshToken!)).status).to.equal(200)
    await expireIn(home, -5)
    const json = await runAcmeExpecting(4, ['auth', 'status', '--verify', '--json'], {home, env: {...suite.env, ACME_AUTH_REFRESH_AHEAD: 'off'}})
    expect(parseVerified(json.stdout).accounts.map((account) => account.verified)).to.deep.equal([false])
    expect((await onlyStoredSecrets(home)).refreshToken, 'kept (DESIGN.md story 1)').to.equal(refreshToken)
  })

  it('an issuer that does not answer: exit 75, nothing known, nothing changed', async () => {
    const home = await suite.signInHere()
    await expireIn(home, -5)
    suite.issuer.setTokenFailure(503)
    const before = await loginSnapshot(home)
    const run = await runAcmeExpecting(75, ['auth', 'status', '--verify', '--json'], {home, env: {...suite.env, ACME_AUTH_REFRESH_AHEAD: 'off'}})
    expect(JSON.parse(run.stdout).error.code).to.equal('TRANSIENT')
    expect(await loginSnapshot(home)).to.deep.equal(before)
  })

  describe('a token the issuer turns away right after issuing it', () => {
    let issuer: Awaited<ReturnType<typeof startIssuer>>
    let home: TempHome
    let spoil = false
    before(async () => {
      // Every token answer after `spoil` carries an access token the issuer does not know.
      issuer = await startIssuer({tokenAnswer: (answer: Record<string, unknown>) => (spoil ? {...answer, access_token: `unknown-${String(answer.access_token)}`} : answer)})
    })
    after(async () => {
      await home?.cleanup()
      await issuer?.close()
    })

    it('the 401 after the refresh is reported (verified false, exit 4), not hidden by another refresh', async () => {
      home = await makeTempHome()
      const env = issuerEnv(issuer, {ACME_AUTH_REFRESH_AHEAD: 'off'})
      await runAcmeExpecting(0, ['auth', 'login'], {home, env})
      await expireIn(home, -5)
      spoil = true
      issuer.resetCounts()
      const json = await runAcmeExpecting(4, ['auth', 'status', '--verify', '--json'], {home, env})
      expect(parseVerified(json.stdout).accounts.map((account) => account.verified)).to.deep.equal([false])
      expect(issuer.counts.refresh, 'one refresh, and no second one to hide the answer').to.equal(1)
    })
  })

  describe('a GitHub-style issuer: a profile endpoint of its own, tokens with no lifetime and no refresh token', () => {
    let issuer: Awaited<ReturnType<typeof startIssuer>>
    let host: HostVariant
    let home: TempHome
    before(async () => {
      ;({issuer, host} = await startGitHubStyle())
    })
    after(async () => {
      await home?.cleanup()
      await host?.cleanup()
      await issuer?.close()
    })

    it('a legacy access token is adopted through the profile endpoint; --verify asks that endpoint, and reports the token once it is revoked', async () => {
      home = await makeTempHome()
      const run = {home, env: issuerEnv(issuer), bin: host.bin}
      await runAcmeExpecting(0, ['auth', 'login'], run)
      const {accessToken} = await moveLoginToLegacyFile(home, {accessTokenOnly: true})
      issuer.resetCounts()

      const json = await runAcmeExpecting(0, ['auth', 'status', '--verify', '--json'], run)
      const [account] = parseVerified(json.stdout).accounts
      expect(account).to.include({verified: true, expiresAt: null})
      expect(account.subject, "GitHub's numeric id").to.match(/^\d+$/)
      expect(await readLegacyFile(home)).to.deep.equal(KEPT_SETTINGS)

      await (await issuer.provider.AccessToken.find(accessToken))?.destroy()
      const refused = await runAcmeExpecting(4, ['auth', 'status', '--verify', '--json'], run)
      expect(parseVerified(refused.stdout).accounts.map((entry) => entry.verified)).to.deep.equal([false])
      expect(issuer.counts.tokenRequests, 'no refresh token: nothing to refresh').to.equal(0)
    })
  })
})

