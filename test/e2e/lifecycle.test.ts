// The token lifecycle under the conditions that broke other CLIs (DESIGN.md, the four stories):
// parallel commands against a rotating issuer, a killed refresher, outages, a rejected refresh
// token, and the race that deleted a valid login. Everything is counted at the real issuer.

import {expect} from 'chai'
import {execFileSync, spawn} from 'node:child_process'
import {readdir, readFile, rename, unlink, writeFile} from 'node:fs/promises'
import {hostname} from 'node:os'
import {join} from 'node:path'

import {accountLockPath} from '../../src/store/account-files.js'
import {storePaths} from '../../src/store/paths.js'
import {startIssuer} from '../fixtures/issuer.js'
import {
  ACME_BIN,
  cleanEnv,
  describeRun,
  errorMessage,
  issuerEnv,
  makeTempHome,
  onlyStoredSecrets,
  refreshAtIssuer,
  runAcme,
  runAcmeExpecting,
  storeSnapshot,
  type TempHome,
} from '../helpers/acme.js'
import {expireIn, replaceAccessToken} from '../helpers/store-time.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

async function lockFiles(home: TempHome): Promise<string[]> {
  return (await readdir(join(home.authDir, 'locks')).catch(() => [])).filter((name) => name.endsWith('.lock') && name !== 'store.lock')
}

describe('e2e: token lifecycle', function () {
  this.timeout(120_000)
  let issuer: Issuer
  let home: TempHome
  let env: Record<string, string | undefined>

  beforeEach(async () => {
    issuer = await startIssuer()
    env = issuerEnv(issuer)
    home = await makeTempHome()
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    issuer.resetCounts()
  })
  afterEach(async () => {
    await issuer?.close()
    await home?.cleanup()
  })

  for (const refreshAhead of ['off', 'background', 'inline']) {
    it(`32 parallel commands inside the expiry skew cost exactly one refresh (refreshAhead=${refreshAhead})`, async () => {
      await expireIn(home, 30)
      const runs = await Promise.all(
        Array.from({length: 32}, () => runAcme(['whoami'], {home, env: {...env, ACME_AUTH_REFRESH_AHEAD: refreshAhead}, timeoutMs: 90_000})),
      )
      for (const run of runs) {
        expect(run.code, describeRun(['whoami'], run)).to.equal(0)
        expect(run.stdout).to.equal('alice (Alice)\n')
      }
      // A background refresh may still be finishing: give it the time it would take, then count.
      await sleep(1500)
      expect(issuer.counts.refresh, 'refreshes the issuer saw').to.equal(1)
      expect(issuer.counts.refreshReuse, 'reused refresh tokens').to.equal(0)
    })
  }

  it('refreshes ahead of time in the background: the command does not wait, the next one finds a fresh token', async () => {
    await expireIn(home, 200) // inside the refresh-ahead window (5 min for a 1 h token), outside the 60 s skew
    const before = await onlyStoredSecrets(home)
    const run = await runAcmeExpecting(0, ['hello'], {home, env})
    expect(run.stderr).to.equal('')
    await waitFor(async () => (await onlyStoredSecrets(home)).accessToken !== before.accessToken, 10_000, 'the background refresh')
    expect(issuer.counts.refresh).to.equal(1)
    await runAcmeExpecting(0, ['whoami'], {home, env})
    expect(issuer.counts.refresh).to.equal(1)
  })

  for (const [refreshAhead, failure] of [['background', 400], ['inline', 400], ['background', 503], ['inline', 503]] as const) {
    it(`a refresh ahead that fails (${failure}) is not tried again by every command: a one-minute back-off (refreshAhead=${refreshAhead})`, async () => {
      await expireIn(home, 200) // inside the refresh-ahead window, outside the skew
      // 400 invalid_request does not pass by itself; 503 does, but not within seconds.
      issuer.setTokenFailure(failure)
      const before = await storeSnapshot(home)
      for (let run = 0; run < 3; run++) {
        const result = await runAcmeExpecting(0, ['hello'], {home, env: {...env, ACME_AUTH_REFRESH_AHEAD: refreshAhead}})
        expect(result.stderr).to.equal('')
        await sleep(1500) // a background refresh has ended by now
      }
      expect(issuer.counts.tokenRequests, 'token requests the issuer saw').to.equal(1)
      expect(await storeSnapshot(home)).to.deep.equal(before)
      // A command that needs the token still runs with the one it has.
      await runAcmeExpecting(0, ['whoami'], {home, env: {...env, ACME_AUTH_REFRESH_AHEAD: refreshAhead}})
    })
  }

  it('an index that lags the stored token (a process died between the two writes) is brought in line, not refreshed again and again', async () => {
    const stored = await onlyStoredSecrets(home)
    const indexPath = join(home.authDir, 'accounts.json')
    const index = JSON.parse(await readFile(indexPath, 'utf8'))
    // "Due" by the index alone: 200 s left of a one-hour token.
    index.accounts[0].expiresAt = new Date(Date.now() + 200_000).toISOString()
    index.accounts[0].updatedAt = new Date(Date.now() + 200_000 - 3_600_000).toISOString()
    await writeFile(indexPath, JSON.stringify(index))
    await runAcmeExpecting(0, ['hello'], {home, env})
    await waitFor(async () => JSON.parse(await readFile(indexPath, 'utf8')).accounts[0].expiresAt === stored.expiresAt, 10_000, 'the index to catch up')
    await runAcmeExpecting(0, ['hello'], {home, env})
    await sleep(1500)
    expect(issuer.counts.tokenRequests, 'the token was fresh: nothing to ask the issuer').to.equal(0)
  })

  it('20 processes × 50 read-modify-write updates of the index under the lock lose none', async () => {
    const before = JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8')).gen as number
    const worker = `
      import {AccountStore} from ${JSON.stringify(new URL('../../dist/store/account-store.js', import.meta.url).href)}
      import {HostCommands} from ${JSON.stringify(new URL('../../dist/host-commands.js', import.meta.url).href)}
      const store = new AccountStore({dataDir: process.argv[1], bin: 'acme', commands: new HostCommands('acme'), storageVariable: 'ACME_AUTH_STORAGE', keyringTimeoutMs: 3000})
      for (let i = 0; i < 50; i++) await store.update(async () => {})
    `
    const codes = await Promise.all(
      Array.from({length: 20}, () => new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', worker, home.dataDir], {stdio: 'inherit'})
        child.on('close', resolve)
      })),
    )
    expect(codes).to.deep.equal(Array.from({length: 20}, () => 0))
    const after = JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8')).gen as number
    expect(after - before).to.equal(1000)
  })

  it('a command killed (SIGKILL) in the middle of a refresh does not block the next one, and the login still works', async () => {
    await expireIn(home, 30)
    issuer.setTokenDelay(5000)
    const killed = spawn(process.execPath, [ACME_BIN, 'whoami'], {env: cleanEnv(home, env), stdio: 'ignore'})
    const killedClosed = new Promise((resolve) => killed.on('close', resolve))
    await waitFor(async () => (await lockFiles(home)).length > 0, 10_000, 'the refresh lock')
    await sleep(300) // the request is at the issuer now
    killed.kill('SIGKILL')
    await killedClosed
    expect(await lockFiles(home), 'the dead holder left its lock').to.have.length(1)
    issuer.setTokenDelay(0)

    const started = Date.now()
    const run = await runAcmeExpecting(0, ['whoami'], {home, env})
    expect(run.stdout).to.equal('alice (Alice)\n')
    // The lock's stale time is 10 s; a dead holder on this host is noticed at once.
    expect(Date.now() - started).to.be.lessThan(10_000)
    expect(issuer.counts.refreshReuse).to.equal(0)
  })

  it('a command stopped (Ctrl-Z) in the middle of a refresh keeps its lock: the next one waits, exits 75, and the grant survives', async () => {
    await expireIn(home, -10)
    // The stopped command's own request timer must not fire before its answer is read on resume.
    const patient = {...env, ACME_AUTH_REQUEST_TIMEOUT: '120', ACME_AUTH_REFRESH_AHEAD: 'off'}
    issuer.setTokenDelay(1000)
    const stopped = spawn(process.execPath, [ACME_BIN, 'whoami'], {env: cleanEnv(home, patient), stdio: ['ignore', 'pipe', 'pipe']})
    let stoppedOut = ''
    stopped.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stoppedOut += chunk))
    const stoppedExit = new Promise<number | null>((resolve) => stopped.on('close', resolve))
    await waitFor(async () => issuer.counts.tokenRequests === 1, 20_000, 'the refresh request at the issuer')
    stopped.kill('SIGSTOP')
    try {
      await sleep(2000) // the issuer has rotated the refresh token; its answer waits in a stopped process
      expect(issuer.counts.refresh).to.equal(1)
      // Breaking the lock would send the rotated-away refresh token: the issuer would revoke the grant.
      const waiter = await runAcmeExpecting(75, ['whoami'], {home, env: patient, timeoutMs: 60_000})
      expect(errorMessage(waiter.stderr)).to.match(/waiting for another process \(pid \d+\)/).and.match(/nothing was lost/i)
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

  describe('outages leave the store byte for byte as it was', () => {
    it('issuer unreachable and the token expired → exit 75, temporary, nothing lost', async () => {
      await expireIn(home, -10)
      const before = await storeSnapshot(home)
      await issuer.close()
      const run = await runAcmeExpecting(75, ['whoami'], {home, env})
      expect(errorMessage(run.stderr)).to.match(/could not reach the issuer/i).and.match(/nothing was lost/i)
      expect(await storeSnapshot(home)).to.deep.equal(before)
    })

    it('the token endpoint answers 503 → exit 75, store unchanged', async () => {
      await expireIn(home, -10)
      const before = await storeSnapshot(home)
      issuer.setTokenFailure(503)
      const run = await runAcmeExpecting(75, ['whoami'], {home, env})
      expect(errorMessage(run.stderr)).to.match(/retry/i)
      expect(await storeSnapshot(home)).to.deep.equal(before)
      expect(issuer.counts.userinfo, 'the command did not run').to.equal(0)
    })

    it('the token endpoint is slower than the request timeout → exit 75, store unchanged', async () => {
      await expireIn(home, -10)
      const before = await storeSnapshot(home)
      issuer.setTokenDelay(4000)
      const started = Date.now()
      const run = await runAcmeExpecting(75, ['whoami'], {home, env: {...env, ACME_AUTH_REQUEST_TIMEOUT: '1'}})
      expect(Date.now() - started).to.be.lessThan(4000)
      expect(errorMessage(run.stderr)).to.match(/did not answer in time/i)
      expect(await storeSnapshot(home)).to.deep.equal(before)
    })

    it('the token endpoint answers 429 with an OAuth error body → exit 75, store unchanged', async () => {
      await expireIn(home, -10)
      const before = await storeSnapshot(home)
      issuer.setTokenFailure(429)
      const run = await runAcmeExpecting(75, ['whoami'], {home, env})
      expect(errorMessage(run.stderr)).to.match(/too many requests/i).and.match(/nothing was lost/i)
      expect(await storeSnapshot(home)).to.deep.equal(before)
    })

    it('a 503 while the current token is still valid → the command runs with it', async () => {
      await expireIn(home, 30) // inside the skew: a refresh is attempted, but the token still works
      const before = await storeSnapshot(home)
      issuer.setTokenFailure(503)
      const run = await runAcmeExpecting(0, ['whoami'], {home, env: {...env, ACME_AUTH_REFRESH_AHEAD: 'off'}})
      expect(run.stdout).to.equal('alice (Alice)\n')
      expect(await storeSnapshot(home)).to.deep.equal(before)
    })
  })

  it('a rejected refresh token (invalid_grant) → exit 4, credentials kept, and the tombstone stops background retries', async () => {
    const stored = await onlyStoredSecrets(home)
    // Another party ends the grant (an admin, a password change): the refresh token dies.
    const {revocation_endpoint: revocation} = (await (await fetch(`${issuer.issuer}/.well-known/openid-configuration`)).json()) as {revocation_endpoint: string}
    await fetch(revocation, {method: 'POST', body: new URLSearchParams({token: stored.refreshToken!, client_id: issuer.clientId})})
    await expireIn(home, -10)
    const credentialsBefore = (await storeSnapshot(home)).credentials

    const run = await runAcmeExpecting(4, ['whoami'], {home, env})
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
    await sleep(1000)
    expect(issuer.counts.refreshReuse, 'no retry with the tombstoned refresh token').to.equal(1)

    // Signing in again clears the tombstone and works.
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    await runAcmeExpecting(0, ['whoami'], {home, env})
  })

  it('a refreshed login waits for a store lock held longer than usual (a slow vault), instead of dropping the rotated token', async () => {
    await expireIn(home, -10)
    const storeLock = join(home.authDir, 'locks', 'store.lock')
    // Another process writes the store for 35 s: longer than any other write waits (30 s).
    await writeFile(storeLock, JSON.stringify({pid: process.pid, host: hostname(), nonce: 'test', since: new Date().toISOString()}))
    const waiting = runAcme(['whoami'], {home, env: {...env, ACME_AUTH_REFRESH_AHEAD: 'off'}, timeoutMs: 90_000})
    await waitFor(async () => issuer.counts.refresh === 1, 10_000, 'the refresh')
    await sleep(35_000)
    await unlink(storeLock)
    const run = await waiting
    expect(run.code, describeRun(['whoami'], run)).to.equal(0)
    expect(run.stdout).to.equal('alice (Alice)\n')
    await runAcmeExpecting(0, ['whoami'], {home, env})
    expect(issuer.counts.refresh).to.equal(1)
    expect(issuer.counts.refreshReuse).to.equal(0)
  })

  it('a login without a refresh token that replaced ours while we waited for the lock → exit 4, not a refresh with nothing', async () => {
    await expireIn(home, -10)
    const index = JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8'))
    const lock = accountLockPath(storePaths(home.dataDir), index.accounts[0].key)
    const credentialsPath = join(home.authDir, 'credentials.json')
    const ours = await readFile(credentialsPath, 'utf8')
    const theirs = JSON.parse(ours)
    for (const entry of Object.values<{accessToken: string; refreshToken?: string}>(theirs.accounts)) {
      entry.accessToken = 'pasted-and-expired'
      delete entry.refreshToken
    }
    // This test process holds the account's lock, as a concurrent `auth login --with-token` would.
    await writeFile(lock, JSON.stringify({pid: process.pid, host: hostname(), nonce: 'test', since: new Date().toISOString()}))
    // The credentials file is a FIFO for the first read: writing to it returns once whoami has read
    // our bundle, so we know it holds the old refresh token when it starts waiting for the lock.
    await unlink(credentialsPath)
    execFileSync('mkfifo', ['-m', '600', credentialsPath])
    const waiting = runAcme(['whoami'], {home, env: {...env, ACME_AUTH_REFRESH_AHEAD: 'off'}})
    await writeFile(credentialsPath, ours)
    await writeFile(`${credentialsPath}.next`, JSON.stringify(theirs))
    await rename(`${credentialsPath}.next`, credentialsPath)
    await unlink(lock)
    const run = await waiting
    expect(run.code, describeRun(['whoami'], run)).to.equal(4)
    expect(errorMessage(run.stderr)).to.include('acme auth login').and.match(/no refresh token/)
    expect(issuer.counts.tokenRequests).to.equal(0)
  })

  it('the race behind story 1: A reads, B rotates, A is rejected → A re-reads and succeeds with B\'s tokens, nothing deleted', async () => {
    // An issuer that rejects a reused refresh token without ending the grant, as the one in story 1 did.
    await issuer.close()
    await home.cleanup()
    issuer = await startIssuer({revokeGrantOnRefreshReuse: false})
    env = issuerEnv(issuer)
    home = await makeTempHome()
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    await expireIn(home, -10)
    const original = await onlyStoredSecrets(home)

    // B: another program rotates the refresh token at the issuer (it does not take our lock).
    const rotated = await refreshAtIssuer(issuer, original.refreshToken!)
    expect(rotated.status).to.equal(200)
    issuer.resetCounts()

    // A: starts with the old refresh token in the store; its refresh is slow at the issuer.
    issuer.setTokenDelay(1500)
    const a = runAcme(['auth', 'token'], {home, env: {...env, ACME_AUTH_REFRESH_AHEAD: 'off'}})
    await waitFor(async () => (await lockFiles(home)).length > 0, 10_000, 'A to take the refresh lock')
    await sleep(300)
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
    const {writeFile} = await import('node:fs/promises')
    await writeFile(path, JSON.stringify(file))

    const result = await a
    expect(result.code, describeRun(['auth', 'token'], result)).to.equal(0)
    expect(result.stdout).to.equal(`${bTokens.accessToken}\n`)
    expect(issuer.counts.refreshReuse, 'A\'s stale refresh was rejected').to.equal(1)
    expect(await onlyStoredSecrets(home), 'B\'s tokens are still stored').to.deep.include({refreshToken: bTokens.refreshToken})
  })

  it('authFetch refreshes once and retries when the API answers 401', async () => {
    await replaceAccessToken(home, 'revoked-by-the-server')
    const run = await runAcmeExpecting(0, ['whoami'], {home, env})
    expect(run.stdout).to.equal('alice (Alice)\n')
    expect(issuer.counts.refresh).to.equal(1)
  })

  it('ACME_TOKEN overrides the store: every command uses it, status says so, login, logout and switch refuse', async () => {
    const token = (await runAcmeExpecting(0, ['auth', 'token'], {home, env})).stdout.trim()
    const empty = await makeTempHome()
    try {
      const withToken = {...env, ACME_TOKEN: token}
      expect((await runAcmeExpecting(0, ['whoami'], {home: empty, env: withToken})).stdout).to.equal('alice (Alice)\n')
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
