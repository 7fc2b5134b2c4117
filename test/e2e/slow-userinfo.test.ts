// Issue 21: nothing slow between a grant's answer and its save. The test issuer's ID tokens name the
// account only (oidc-provider puts name and email in userinfo alone), so a sign-in asks userinfo for
// them: only once the login is saved. The issuer holds userinfo (holdUserinfo), an endpoint that
// hangs: the login is on disk while the request waits, a process killed then leaves a working login,
// and the name and email reach the index once userinfo answers. Taking over a host's earlier login
// asks userinfo before its refresh, while the old access token works, and else after the save.
// In process, except the SIGKILL, which needs a process of its own.

import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {startIssuer} from '../fixtures/issuer.js'
import {cleanEnv, describeRun, issuerEnv, makeTempHome, nodeArgs, onlyStoredSecrets, type TempHome} from '../helpers/acme.js'
import {runAcme, runAcmeExpecting, statusJson} from '../helpers/in-process.js'
import {moveLoginToLegacyFile, readLegacyFile, writeLegacyFile} from '../helpers/legacy-login.js'
import {waitFor} from '../helpers/wait.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

/** The index's accounts as on disk now: what a command started at this moment would find. */
async function accountsOnDisk(home: TempHome): Promise<Array<{subject: string; name?: string; email?: string}>> {
  const text = await readFile(join(home.authDir, 'accounts.json'), 'utf8').catch(() => undefined)
  return text === undefined ? [] : JSON.parse(text).accounts
}

describe('e2e: a slow or hanging userinfo endpoint never stands between a grant and its save', function () {
  this.timeout(120_000)
  let issuer: Issuer
  let home: TempHome
  let env: Record<string, string | undefined>

  before(async () => {
    issuer = await startIssuer()
    env = issuerEnv(issuer, {ACME_AUTH_REFRESH_AHEAD: 'off'})
  })
  after(() => issuer?.close())
  beforeEach(async () => {
    issuer.resetCounts()
    home = await makeTempHome()
  })
  afterEach(async () => {
    issuer.releaseUserinfo()
    await home?.cleanup()
  })

  for (const args of [['auth', 'login'], ['auth', 'login', '--device']]) {
    it(`acme ${args.join(' ')}: saved while userinfo hangs; the name and email follow once it answers`, async () => {
      issuer.holdUserinfo()
      const login = runAcme(args, {home, env})
      await waitFor(() => issuer.counts.heldUserinfo === 1, 60_000, 'the sign-in to ask userinfo')
      const saved = await accountsOnDisk(home)
      expect(saved, 'the login is in the index before userinfo answered').to.have.length(1)
      expect(saved[0]).to.include({subject: 'alice'}).and.not.have.any.keys('name', 'email')
      expect((await onlyStoredSecrets(home)).refreshToken, 'and its tokens are stored').to.be.a('string')

      issuer.releaseUserinfo()
      const result = await login
      expect(result.code, describeRun(args, result)).to.equal(0)
      expect(result.stdout).to.match(/^Signed in as Alice \(alice\) at /)
      expect((await accountsOnDisk(home))[0]).to.include({subject: 'alice', name: 'Alice', email: 'alice@example.com'})
      expect((await statusJson(home, env)).accounts[0]).to.include({subject: 'alice', name: 'Alice', email: 'alice@example.com'})
      expect(issuer.counts.userinfo, 'asked once').to.equal(1)
    })
  }

  it('a sign-in killed (SIGKILL) while userinfo hangs leaves a working login, named by its subject', async () => {
    issuer.holdUserinfo()
    // Spawned: it is killed.
    const child = spawn(process.execPath, nodeArgs(['auth', 'login']), {cwd: home.root, env: cleanEnv(home, env), stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const closed = new Promise((resolve) => child.on('close', resolve))
    try {
      await waitFor(() => issuer.counts.heldUserinfo === 1, 60_000, `the sign-in to ask userinfo (stderr so far: ${stderr})`)
    } finally {
      child.kill('SIGKILL')
      await closed
    }
    issuer.releaseUserinfo()
    expect(issuer.counts.authorizationCode).to.equal(1)

    const [account] = (await statusJson(home, env)).accounts
    expect(account).to.include({subject: 'alice', name: null, email: null, hasRefreshToken: true, default: true})
    await runAcmeExpecting(0, ['auth', 'token'], {home, env})
    // The saved refresh token is the one the issuer handed out: it refreshes, and is no reuse.
    await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
    expect(issuer.counts.refresh).to.equal(1)
    expect(issuer.counts.refreshReuse).to.equal(0)
    expect(issuer.counts.authorizationCode, 'no second sign-in').to.equal(1)
  })

  it("a name over the index's cap from userinfo after the save is left out; the login is kept with the email", async () => {
    const wordy = await startIssuer({accountClaims: () => ({name: 'N'.repeat(5000)})})
    try {
      const login = await runAcmeExpecting(0, ['auth', 'login'], {home, env: issuerEnv(wordy, {ACME_AUTH_REFRESH_AHEAD: 'off'})})
      expect(login.stdout).to.equal(`Signed in as alice at ${wordy.issuer}.\n`)
      expect(wordy.counts.userinfo).to.equal(1)
      const [account] = (await statusJson(home, issuerEnv(wordy))).accounts
      expect(account).to.include({subject: 'alice', name: null, email: 'alice@example.com'})
    } finally {
      await wordy.close()
    }
  })

  describe("taking over the host's earlier login (adoptLogin)", () => {
    /** A home whose only login is in acme's legacy file, from a sign-in of its own. */
    async function legacyHome(): Promise<{accessToken: string; refreshToken: string}> {
      await runAcmeExpecting(0, ['auth', 'login'], {home, env})
      const tokens = await moveLoginToLegacyFile(home)
      issuer.resetCounts()
      return tokens
    }

    it('userinfo is asked with the old access token before the refresh: nothing is spent while it hangs, and none is asked after', async () => {
      await legacyHome()
      issuer.holdUserinfo()
      const adopting = runAcme(['hello'], {home, env})
      await waitFor(() => issuer.counts.heldUserinfo === 1, 60_000, 'the adoption to ask userinfo')
      expect(issuer.counts.tokenRequests, 'no refresh sent while userinfo is asked').to.equal(0)
      issuer.releaseUserinfo()
      const result = await adopting
      expect(result.code, describeRun(['hello'], result)).to.equal(0)
      expect(issuer.counts.refresh).to.equal(1)
      expect(issuer.counts.userinfo, 'once, before the refresh').to.equal(1)
      expect((await statusJson(home, env)).accounts[0]).to.include({subject: 'alice', name: 'Alice', email: 'alice@example.com'})
      expect((await readLegacyFile(home)).contexts.work.refreshtoken, 'the old copy cleared').to.equal(undefined)
    })

    it('an old access token userinfo refuses: refreshed, saved from the ID token, then named once userinfo answers', async () => {
      const tokens = await legacyHome()
      // One the issuer does not know (long expired, say): userinfo answers 401. (Revoking the real one
      // would revoke its grant too, refresh token and all.)
      await writeLegacyFile(home, {token: 'Bearer expired-access-token', refreshtoken: tokens.refreshToken})
      issuer.holdUserinfo()
      const adopting = runAcme(['hello'], {home, env})
      await waitFor(() => issuer.counts.heldUserinfo === 1, 60_000, 'the adoption to ask userinfo with the old token')
      expect(issuer.counts.tokenRequests).to.equal(0)
      // Let the refused request go, and hold the next one: the one after the refresh.
      issuer.releaseUserinfo()
      issuer.holdUserinfo()
      await waitFor(() => issuer.counts.heldUserinfo === 2, 60_000, 'the adoption to ask userinfo after the save')
      expect(issuer.counts.refresh).to.equal(1)
      const saved = await accountsOnDisk(home)
      expect(saved, 'saved before userinfo answered').to.have.length(1)
      expect(saved[0]).to.include({subject: 'alice'}).and.not.have.any.keys('name', 'email')
      issuer.releaseUserinfo()
      const result = await adopting
      expect(result.code, describeRun(['hello'], result)).to.equal(0)
      expect((await statusJson(home, env)).accounts[0]).to.include({subject: 'alice', name: 'Alice', email: 'alice@example.com'})
      expect(issuer.counts.refreshReuse).to.equal(0)
    })
  })
})
