// The token lifecycle under the conditions that broke other CLIs (DESIGN.md, the four stories): a
// killed or stopped refresher, outages, a rejected refresh token, a slow store, and the race that
// deleted a valid login. Everything is counted at the real issuer. Many commands at once:
// many-commands.test.ts; refreshing ahead of time: refresh-ahead.test.ts.

import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {readdir, readFile, rename, stat, unlink, writeFile} from 'node:fs/promises'
import {hostname} from 'node:os'
import {join} from 'node:path'

import {startIssuer} from '../fixtures/issuer.js'
import {
  cleanEnv,
  describeRun,
  errorMessage,
  issuerEnv,
  loginSnapshot,
  makeTempHome,
  nodeArgs,
  onlyStoredSecrets,
  refreshAtIssuer,
  runAcme as spawnAcme,
  runAcmeExpecting as spawnAcmeExpecting,
  storeSnapshot,
  type TempHome,
  warningMessages,
} from '../helpers/acme.js'
import {pauseAtStep} from '../helpers/kill-mid-step.js'
import {runAcme, runAcmeExpecting} from '../helpers/in-process.js'
import {lifecycleSuite, type Issuer} from '../helpers/lifecycle-suite.js'
import {expireIn, replaceAccessToken} from '../helpers/store-time.js'
import {refreshAheadSettled, waitFor} from '../helpers/wait.js'

async function lockFiles(home: TempHome): Promise<string[]> {
  return (await readdir(join(home.authDir, 'locks')).catch(() => [])).filter((name) => name.endsWith('.lock') && name !== 'store.lock')
}

/** A process's state letter from /proc (R running, S sleeping, T stopped, …). */
async function processState(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  return stat?.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
}

describe('e2e: token lifecycle', function () {
  this.timeout(180_000)
  const suite = lifecycleSuite(runAcmeExpecting)
  const {signInHere, sharedSignIn} = suite
  let issuer: Issuer
  let env: Record<string, string | undefined>
  before(() => ({issuer, env} = suite))

  // The killed and the stopped commands are spawned: a kill or SIGSTOP needs a process of its own.
  it('a command killed (SIGKILL) in the middle of a refresh does not block the next one, and the login still works', async () => {
    const home = await signInHere()
    await expireIn(home, -10) // expired: this command refreshes itself (a valid token would hand it to a background process)
    // The issuer holds the refresh; once the killed client is gone it drops it unprocessed, as if it
    // had never arrived (so it rotates nothing).
    issuer.holdTokenRequests()
    // No refresh ahead: the killed command is the one refresher, so the lock left behind is its own.
    const killed = spawn(process.execPath, nodeArgs(['whoami']), {env: cleanEnv(home, {...env, ACME_AUTH_REFRESH_AHEAD: 'off'}), stdio: 'ignore'})
    const killedClosed = new Promise((resolve) => killed.on('close', resolve))
    // Its refresh request is at the issuer: it holds the account's lock, mid-refresh.
    await waitFor(() => issuer.counts.tokenRequests === 1, 60_000, 'the refresh request at the issuer')
    killed.kill('SIGKILL')
    await killedClosed
    const locks = await lockFiles(home)
    expect(locks, 'the dead holder left its lock').to.have.length(1)
    expect(JSON.parse(await readFile(join(home.authDir, 'locks', locks[0]), 'utf8')).pid, 'the lock\'s holder').to.equal(killed.pid)
    await waitFor(() => issuer.counts.droppedTokenRequests === 1, 60_000, 'the issuer to drop the killed command\'s request')
    issuer.releaseTokenRequests()

    // A dead holder on this host is noticed at once, by its pid: the next command gets the lock within
    // a wait (ACME_AUTH_LOCK_WAIT) shorter than the lock's stale time (10 s), so not by staleness.
    const run = await runAcmeExpecting(0, ['whoami'], {home, env: {...env, ACME_AUTH_LOCK_WAIT: '5'}})
    expect(run.stdout).to.equal('alice (Alice)\n')
    expect(issuer.counts.refreshReuse).to.equal(0)
  })

  it('a command stopped (Ctrl-Z) in the middle of a refresh keeps its lock: the next one waits, exits 75, and the grant survives', async () => {
    const home = await signInHere()
    await expireIn(home, -10)
    // The stopped command's own request timer must not fire before its answer is read on resume.
    const patient = {...env, ACME_AUTH_REQUEST_TIMEOUT: '120', ACME_AUTH_REFRESH_AHEAD: 'off'}
    issuer.holdTokenRequests()
    const stopped = spawn(process.execPath, nodeArgs(['whoami']), {env: cleanEnv(home, patient), stdio: ['ignore', 'pipe', 'pipe']})
    let stoppedOut = ''
    stopped.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stoppedOut += chunk))
    const stoppedExit = new Promise<number | null>((resolve) => stopped.on('close', resolve))
    await waitFor(() => issuer.counts.tokenRequests === 1, 60_000, 'the refresh request at the issuer')
    stopped.kill('SIGSTOP')
    try {
      await waitFor(async () => (await processState(stopped.pid!)) === 'T', 60_000, 'the command to stop')
      // The issuer rotates the refresh token now; its answer waits in a stopped process.
      issuer.releaseTokenRequests()
      await waitFor(() => issuer.counts.refresh === 1, 60_000, 'the issuer to answer the stopped command')
      // Breaking the lock would send the rotated-away refresh token: the issuer would revoke the grant.
      // The waiter's wait (ACME_AUTH_LOCK_WAIT, 30 s by default) must outlast the lock's stale time
      // (10 s): then it has watched the stopped holder's heartbeat stand still long enough that only the
      // live-holder rule keeps it from breaking the lock. 12 s leaves 2 s over, on the waiter's own clock.
      const waiter = await runAcmeExpecting(75, ['whoami'], {home, env: {...patient, ACME_AUTH_LOCK_WAIT: '12'}, timeoutMs: 60_000})
      expect(errorMessage(waiter.stderr)).to.match(new RegExp(`waiting for another process \\(pid ${stopped.pid}\\)`)).and.match(/nothing was lost/i)
      expect(issuer.counts.refreshReuse, 'no refresh token was sent twice').to.equal(0)
    } finally {
      stopped.kill('SIGCONT')
    }
    expect(await stoppedExit, 'the resumed command').to.equal(0)
    expect(stoppedOut).to.equal('alice (Alice)\n')
    const after = await runAcmeExpecting(0, ['whoami'], {home, env})
    expect(after.stdout).to.equal('alice (Alice)\n')
    expect(issuer.counts.refresh).to.equal(1)
    expect(issuer.counts.refreshReuse).to.equal(0)
  })

  describe('outages lose nothing: the credentials byte for byte, the logins in the index as they were', () => {
    it('issuer unreachable and the token expired → exit 75, temporary, nothing lost', async () => {
      const down = await startIssuer()
      const home = await signInHere(down)
      await expireIn(home, -10)
      const before = await loginSnapshot(home)
      await down.close()
      const run = await runAcmeExpecting(75, ['whoami'], {home, env: issuerEnv(down)})
      expect(errorMessage(run.stderr)).to.match(/could not reach the issuer/i).and.match(/nothing was lost/i)
      expect(await loginSnapshot(home)).to.deep.equal(before)
    })

    it('the token endpoint answers 503 → exit 75, store unchanged', async () => {
      const home = await sharedSignIn() // no refresh gets through: nothing rotates
      await expireIn(home, -10)
      const before = await loginSnapshot(home)
      issuer.setTokenFailure(503)
      const run = await runAcmeExpecting(75, ['whoami'], {home, env})
      expect(errorMessage(run.stderr)).to.match(/retry/i)
      expect(await loginSnapshot(home)).to.deep.equal(before)
      expect(issuer.counts.userinfo, 'the command did not run').to.equal(0)
    })

    it('the token endpoint is slower than the request timeout → exit 75, store unchanged', async () => {
      const home = await sharedSignIn() // every refresh sent is dropped unanswered (below): nothing rotates
      await expireIn(home, -10)
      const before = await loginSnapshot(home)
      // The issuer holds the refresh until the test ends: the command can only end by giving up on it.
      issuer.holdTokenRequests()
      const run = await runAcmeExpecting(75, ['whoami'], {home, env: {...env, ACME_AUTH_REQUEST_TIMEOUT: '1'}})
      expect(issuer.counts.tokenRequests, 'the refresh reached the issuer').to.be.at.least(1)
      expect(issuer.counts.refresh, 'and was not answered').to.equal(0)
      expect(errorMessage(run.stderr)).to.match(/did not answer in time/i)
      expect(await loginSnapshot(home)).to.deep.equal(before)
      // The copy shares its grant: a held refresh answered once the test is over would rotate it. Every
      // one sent (whoami's, and a background refresh's) was given up on, so the issuer drops it unprocessed.
      await refreshAheadSettled(home)
      await waitFor(() => issuer.counts.droppedTokenRequests === issuer.counts.tokenRequests, 60_000, 'the issuer to drop every refresh given up on')
    })

    it('the token endpoint answers 429 with an OAuth error body → exit 75, store unchanged', async () => {
      const home = await sharedSignIn() // no refresh gets through: nothing rotates
      await expireIn(home, -10)
      const before = await loginSnapshot(home)
      issuer.setTokenFailure(429)
      const run = await runAcmeExpecting(75, ['whoami'], {home, env})
      expect(errorMessage(run.stderr)).to.match(/too many requests/i).and.match(/nothing was lost/i)
      expect(await loginSnapshot(home)).to.deep.equal(before)
    })

    it('a 503 while the current token is still valid → the command runs with it', async () => {
      const home = await sharedSignIn() // no refresh gets through: nothing rotates
      await expireIn(home, 30) // inside the skew: a refresh is attempted, but the token still works
      const before = await loginSnapshot(home)
      issuer.setTokenFailure(503)
      const run = await runAcmeExpecting(0, ['whoami'], {home, env: {...env, ACME_AUTH_REFRESH_AHEAD: 'off'}})
      expect(run.stdout).to.equal('alice (Alice)\n')
      expect(await loginSnapshot(home)).to.deep.equal(before)
    })
  })

  it('a rejected refresh token (invalid_grant) → exit 4, credentials kept, and the tombstone stops background retries', async () => {
    const home = await signInHere()
    const stored = await onlyStoredSecrets(home)
    // Another party ends the grant (an admin, a password change): the refresh token dies.
    const {revocation_endpoint: revocation} = (await (await fetch(`${issuer.issuer}/.well-known/openid-configuration`)).json()) as {revocation_endpoint: string}
    await fetch(revocation, {method: 'POST', body: new URLSearchParams({token: stored.refreshToken!, client_id: issuer.clientId})})
    await expireIn(home, -10)
    const credentialsBefore = (await storeSnapshot(home)).credentials

    // One refresher (no refresh ahead): with whoami's own background refresh racing it for the lock,
    // the loser sends the rejected token a second time, since it does not look for the winner's
    // tombstone after the lock (seen once on a loaded machine; a known gap, not this test's subject).
    const run = await runAcmeExpecting(4, ['whoami'], {home, env: {...env, ACME_AUTH_REFRESH_AHEAD: 'off'}})
    expect(errorMessage(run.stderr)).to.include('acme auth login').and.match(/kept/)
    expect(issuer.counts.refreshReuse).to.equal(1)
    expect((await storeSnapshot(home)).credentials, 'credentials are never deleted for one rejected refresh').to.equal(credentialsBefore)
    const index = JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8'))
    expect(Object.keys(index.tombstones)).to.have.length(1)

    for (const refreshAhead of ['background', 'inline']) {
      await runAcmeExpecting(0, ['hello'], {home, env: {...env, ACME_AUTH_REFRESH_AHEAD: refreshAhead}})
    }
    // A command that needs the token says "sign in again" at once, without asking the issuer again.
    const again = await runAcmeExpecting(4, ['whoami'], {home, env})
    expect(errorMessage(again.stderr)).to.include('acme auth login')
    await refreshAheadSettled(home)
    expect(issuer.counts.refreshReuse, 'no retry with the tombstoned refresh token').to.equal(1)

    // Signing in again clears the tombstone and works.
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    await runAcmeExpecting(0, ['whoami'], {home, env})
  })

  it('a store lock another process holds past the wait: the refresh is not held up by it, its answer goes to the rescue file, and the next command moves it back', async () => {
    const home = await signInHere()
    await expireIn(home, -10)
    const storeLock = join(home.authDir, 'locks', 'store.lock')
    // "Another process" (this one: a live pid on this host, so no waiter may break its lock) writes the
    // store for longer than others wait: 3 s here (ACME_AUTH_LOCK_WAIT; 30 s by default). The store
    // lock is shared by every account, so no refresh waits for it before asking the issuer; the
    // answer, which the credentials file cannot take without that lock, is kept in the rescue file.
    await writeFile(storeLock, JSON.stringify({pid: process.pid, host: hostname(), nonce: 'test', since: new Date().toISOString()}))
    const shortWaits = {...env, ACME_AUTH_REFRESH_AHEAD: 'off', ACME_AUTH_LOCK_WAIT: '3'}
    // Spawned: the lock's holder is this test process, which must be another process than the command.
    const run = await spawnAcmeExpecting(0, ['whoami'], {home, env: shortWaits})
    expect(run.stdout).to.equal('alice (Alice)\n')
    const warnings = warningMessages(run.stderr)
    expect(warnings, run.stderr).to.have.length(1)
    expect(warnings[0]).to.include(`waiting for another process (pid ${process.pid})`).and.match(/rescued.*\(readable only by you\).*the next command moves it back/)
    expect(issuer.counts.refresh).to.equal(1)
    const rescued = await readdir(join(home.authDir, 'rescued'))
    expect(rescued, 'one rescue file').to.have.length(1)
    expect((await stat(join(home.authDir, 'rescued', rescued[0]))).mode & 0o777).to.equal(0o600)
    await unlink(storeLock)
    expect((await runAcmeExpecting(0, ['whoami'], {home, env: shortWaits})).stdout).to.equal('alice (Alice)\n')
    expect(await readdir(join(home.authDir, 'rescued')), 'moved back').to.deep.equal([])
    expect(issuer.counts.refresh, 'the rescued tokens were used, not a new refresh').to.equal(1)
    // The credentials file now holds the rotated refresh token: refreshing with it is no reuse.
    await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
    expect(issuer.counts.refreshReuse).to.equal(0)
  })

  it('a login without a refresh token that replaced ours while we waited for the lock → exit 4, not a refresh with nothing', async () => {
    const home = await sharedSignIn() // nothing is refreshed
    await expireIn(home, -10)
    const credentialsPath = join(home.authDir, 'credentials.json')
    const theirs = JSON.parse(await readFile(credentialsPath, 'utf8'))
    for (const entry of Object.values<{accessToken: string; refreshToken?: string}>(theirs.accounts)) {
      entry.accessToken = 'pasted-and-expired'
      delete entry.refreshToken
    }
    // whoami stops once it has read our login (with its refresh token), before it takes the account's
    // lock (src/store/checkpoint.ts); a concurrent `auth login --with-token` replaces the login then.
    const marker = join(home.root, 'paused')
    // Spawned: the pause is a checkpoint its preload installs in that process (pauseAtStep).
    const waiting = spawnAcme(['whoami'], {home, env: {...env, ACME_AUTH_REFRESH_AHEAD: 'off', ...pauseAtStep('refresh:read', marker)}})
    await waitFor(async () => (await readFile(marker, 'utf8').catch(() => '')) !== '', 60_000, 'whoami to read the login')
    await writeFile(`${credentialsPath}.next`, JSON.stringify(theirs), {mode: 0o600})
    await rename(`${credentialsPath}.next`, credentialsPath)
    await unlink(marker)
    const run = await waiting
    expect(run.code, describeRun(['whoami'], run)).to.equal(4)
    expect(errorMessage(run.stderr)).to.include('acme auth login').and.match(/no refresh token/)
    expect(issuer.counts.tokenRequests).to.equal(0)
  })

  it('the race behind story 1: A reads, B rotates, A is rejected → A re-reads and succeeds with B\'s tokens, nothing deleted', async () => {
    // An issuer that rejects a reused refresh token without ending the grant, as the one in story 1 did.
    const story1 = await startIssuer({revokeGrantOnRefreshReuse: false})
    try {
      const env = issuerEnv(story1)
      const home = await signInHere(story1)
      await expireIn(home, -10)
      const original = await onlyStoredSecrets(home)

      // B: another program rotates the refresh token at the issuer (it does not take our lock).
      const rotated = await refreshAtIssuer(story1, original.refreshToken!)
      expect(rotated.status).to.equal(200)
      story1.resetCounts()

      // A: starts with the old refresh token in the store; the issuer holds its refresh.
      story1.holdTokenRequests()
      const a = runAcme(['auth', 'token'], {home, env: {...env, ACME_AUTH_REFRESH_AHEAD: 'off'}})
      await waitFor(() => story1.counts.tokenRequests === 1, 60_000, 'A\'s refresh at the issuer')
      // B writes its tokens while A's request is in flight.
      const path = join(home.authDir, 'credentials.json')
      const file = JSON.parse(await readFile(path, 'utf8'))
      const key = Object.keys(file.accounts)[0]
      const bTokens = {
        accessToken: rotated.body.access_token,
        tokenType: 'Bearer',
        refreshToken: rotated.body.refresh_token,
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      }
      file.accounts[key] = bTokens
      await writeFile(path, JSON.stringify(file))
      story1.releaseTokenRequests()

      const result = await a
      expect(result.code, describeRun(['auth', 'token'], result)).to.equal(0)
      expect(result.stdout).to.equal(`${bTokens.accessToken}\n`)
      expect(story1.counts.refreshReuse, 'A\'s stale refresh was rejected').to.equal(1)
      expect(await onlyStoredSecrets(home), 'B\'s tokens are still stored').to.deep.include({refreshToken: bTokens.refreshToken})
    } finally {
      await story1.close()
    }
  })

  it('authFetch refreshes once and retries when the API answers 401', async () => {
    const home = await signInHere()
    await replaceAccessToken(home, 'revoked-by-the-server')
    const run = await runAcmeExpecting(0, ['whoami'], {home, env})
    expect(run.stdout).to.equal('alice (Alice)\n')
    expect(issuer.counts.refresh).to.equal(1)
  })

  it('ACME_TOKEN overrides the store: every command uses it, status says so, login, logout and switch refuse', async () => {
    const home = await sharedSignIn() // the token is fresh, and the refusals change nothing
    // Fresh: the stored token is the one `auth token` prints.
    const token = (await onlyStoredSecrets(home)).accessToken
    const empty = await makeTempHome()
    try {
      const withToken = {...env, ACME_TOKEN: token}
      // Spawned: with ACME_TOKEN the example's whoami finds the issuer in process.env, as a host command would.
      expect((await spawnAcmeExpecting(0, ['whoami'], {home: empty, env: withToken})).stdout).to.equal('alice (Alice)\n')
      const status = JSON.parse((await runAcmeExpecting(0, ['auth', 'status', '--json'], {home: empty, env: withToken})).stdout)
      expect(status).to.deep.equal({loggedIn: true, source: 'env', accounts: []})
      expect((await runAcmeExpecting(0, ['auth', 'status'], {home: empty, env: withToken})).stdout).to.include('ACME_TOKEN')
      const login = await runAcmeExpecting(2, ['auth', 'login'], {home: empty, env: withToken})
      expect(errorMessage(login.stderr)).to.include('ACME_TOKEN')
      // The stored login is not what commands use now: signing it out or switching would mislead.
      const before = await storeSnapshot(home)
      for (const args of [['auth', 'logout'], ['auth', 'logout', '--all'], ['auth', 'switch', 'alice']]) {
        const refused = await runAcmeExpecting(2, args, {home, env: withToken})
        expect(errorMessage(refused.stderr)).to.include('Unset ACME_TOKEN')
      }
      expect(await storeSnapshot(home)).to.deep.equal(before)
      expect(issuer.counts.revocations).to.equal(0)
    } finally {
      await empty.cleanup()
    }
  })

  it('--json commands print errors as JSON on stdout with the documented exit code', async () => {
    const empty = await makeTempHome()
    try {
      const run = await runAcmeExpecting(4, ['auth', 'token', '--json'], {home: empty, env})
      const output = JSON.parse(run.stdout)
      expect(output).to.deep.equal({
        error: {code: 'NOT_LOGGED_IN', message: 'You are not signed in.', suggestion: 'Run `acme auth login`.', exitCode: 4},
      })
      // Flag errors too: the documented shape, exit 2, not oclif's dump of its parse context.
      for (const args of [['auth', 'token', '--json', '--bogus'], ['auth', 'token', '--json', '--account']]) {
        const bad = await runAcmeExpecting(2, args, {home: empty, env})
        expect(JSON.parse(bad.stdout), bad.stdout).to.deep.equal({
          error: {code: 'USAGE', message: JSON.parse(bad.stdout).error.message, suggestion: `See \`acme ${args[0]} ${args[1]} --help\`.`, exitCode: 2},
        })
        expect(JSON.parse(bad.stdout).error.message).to.match(/^(Nonexistent flag: --bogus|Flag --account expects a value)$/)
      }
      // A setting error has every key, suggestion included.
      const config = await runAcmeExpecting(2, ['auth', 'status', '--json'], {home: empty, env: {...env, ACME_AUTH_STORAGE: 'vault'}})
      expect(Object.keys(JSON.parse(config.stdout).error)).to.deep.equal(['code', 'message', 'suggestion', 'exitCode'])
    } finally {
      await empty.cleanup()
    }
  })
})
