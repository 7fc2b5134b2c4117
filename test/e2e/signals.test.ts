// Interrupts while a grant's answer is on its way back (DESIGN.md, Lifecycle): the issuer has already
// rotated the refresh token or spent the code, so a process that ended now would lose the login. The
// issuer holds its answer (holdTokenAnswers) after granting; the test sends the signal while it waits.
// What a user sees: the conventional exit status once the answer is saved, the next command works
// with the new tokens, and the issuer saw no reuse. SIGKILL, which no process can hold, is documented
// in docs/security.md ("Lifecycle").
// Spawned: a signal is delivered to a process, and what is under test is that process's exit status.

import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {cleanEnv, describeRun, issuerEnv, makeTempHome, nodeArgs, runAcmeExpecting, type RunResult, type TempHome} from '../helpers/acme.js'
import {pauseAtStep} from '../helpers/kill-mid-step.js'
import {moveLoginToLegacyFile, readLegacyFile} from '../helpers/legacy-login.js'
import {lifecycleSuite, type Issuer} from '../helpers/lifecycle-suite.js'
import {expireIn} from '../helpers/store-time.js'
import {waitFor} from '../helpers/wait.js'

const SIGNALS = [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
] as const

type Signal = (typeof SIGNALS)[number][0]

/** A running acme: its pid, what it printed so far, and its end. */
interface Running {
  pid: number
  signal(name: NodeJS.Signals): void
  output(): {stdout: string; stderr: string}
  ended: Promise<RunResult & {killedBy: NodeJS.Signals | null}>
}

function startAcme(args: string[], home: TempHome, env: Record<string, string | undefined>): Running {
  const child = spawn(process.execPath, nodeArgs(args), {cwd: home.root, env: cleanEnv(home, env), stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const ended = new Promise<RunResult & {killedBy: NodeJS.Signals | null}>((resolve) =>
    child.on('close', (code, killedBy) => resolve({code, stdout, stderr, killedBy})),
  )
  return {pid: child.pid!, signal: (name) => child.kill(name), output: () => ({stdout, stderr}), ended}
}

/**
 * Run `args` until the issuer has granted and holds its answer, send `signal`, then let the answer
 * go: returns how the command ended.
 */
async function interruptedWhileAnswerOnItsWay(issuer: Issuer, args: string[], home: TempHome, env: Record<string, string | undefined>, signal: Signal) {
  issuer.holdTokenAnswers()
  const running = startAcme(args, home, env)
  try {
    await waitFor(() => issuer.counts.heldTokenAnswers === 1, 60_000, `the issuer to grant and hold its answer to acme ${args.join(' ')}`)
    running.signal(signal)
    // The signal has landed before the answer does: the process is still there, holding it.
    await new Promise((resolve) => setTimeout(resolve, 300))
  } finally {
    issuer.releaseTokenAnswers()
  }
  return running.ended
}

/** The stored login still works with the rotated tokens: a command, then a refresh that sends the newest refresh token. */
async function expectRotatedLoginKept(issuer: Issuer, home: TempHome, env: Record<string, string | undefined>, grantsBefore: number): Promise<void> {
  const next = await runAcmeExpecting(0, ['whoami'], {home, env})
  expect(next.stdout).to.equal('alice (Alice)\n')
  expect(issuer.counts.refresh, 'the next command used the saved tokens without asking the issuer').to.equal(grantsBefore)
  // Sending the rotated-away refresh token would be a reuse: the issuer would revoke the grant (exit 4).
  await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
  expect(issuer.counts.refreshReuse, 'no refresh token was sent twice').to.equal(0)
}

describe('e2e: interrupts while a grant is in flight', function () {
  this.timeout(180_000)
  const suite = lifecycleSuite()
  let issuer: Issuer
  let env: Record<string, string | undefined>
  before(() => ({issuer, env} = suite))

  for (const [signal, status] of SIGNALS) {
    it(`auth refresh: ${signal} while the rotated tokens are on their way → saved, then exit ${status}`, async () => {
      const home = await suite.signInHere()
      const run = await interruptedWhileAnswerOnItsWay(issuer, ['auth', 'refresh'], home, env, signal)
      expect(run.code, describeRun(['auth', 'refresh'], run)).to.equal(status)
      expect(run.stdout, 'it stopped before reporting').to.equal('')
      expect(issuer.counts.refresh).to.equal(1)
      await expectRotatedLoginKept(issuer, home, env, 1)
    })

    it(`a command refreshing its expired token before it runs: ${signal} → saved, then exit ${status}`, async () => {
      const home = await suite.signInHere()
      await expireIn(home, -10)
      const quiet = {...env, ACME_AUTH_REFRESH_AHEAD: 'off'}
      const run = await interruptedWhileAnswerOnItsWay(issuer, ['whoami'], home, quiet, signal)
      expect(run.code, describeRun(['whoami'], run)).to.equal(status)
      expect(run.stdout, 'the command itself did not run').to.equal('')
      await expectRotatedLoginKept(issuer, home, env, 1)
    })

    it(`the background refresher (auth refresh --ahead): ${signal} → saved, then exit ${status}`, async () => {
      const home = await suite.signInHere()
      await expireIn(home, 100) // due ahead of time, still valid
      const index = JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8'))
      // The very process the init hook starts detached: started here so the test can see its exit.
      const args = ['auth:refresh', '--ahead', '--account', index.accounts[0].key]
      const run = await interruptedWhileAnswerOnItsWay(issuer, args, home, {...env, ACME_AUTH_REFRESH_AHEAD: 'off'}, signal)
      expect(run.code, describeRun(args, run)).to.equal(status)
      const after = JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8'))
      expect(Date.parse(after.accounts[0].expiresAt), 'the index has the new expiry').to.be.greaterThan(Date.now() + 1000_000)
      await expectRotatedLoginKept(issuer, home, env, 1)
    })

    it(`auth login: ${signal} while the code exchange's answer is on its way → signed in, then exit ${status}`, async () => {
      const home = await makeTempHome()
      try {
        const login = await interruptedWhileAnswerOnItsWay(issuer, ['auth', 'login'], home, issuerEnv(issuer), signal)
        expect(login.code, describeRun(['auth', 'login'], login)).to.equal(status)
        expect(issuer.counts.authorizationCode).to.equal(1)
        await expectRotatedLoginKept(issuer, home, env, 0)
        expect(issuer.counts.authorizationCode, 'no second sign-in').to.equal(1)
      } finally {
        await home.cleanup()
      }
    })
  }

  it("taking over the host's earlier login: SIGTERM while the refresh's answer is on its way → adopted, then exit 143", async () => {
    const home = await suite.signInHere()
    const old = await moveLoginToLegacyFile(home)
    issuer.resetCounts()
    const run = await interruptedWhileAnswerOnItsWay(issuer, ['whoami'], home, env, 'SIGTERM')
    expect(run.code, describeRun(['whoami'], run)).to.equal(143)
    expect(issuer.counts.refresh).to.equal(1)
    await expectRotatedLoginKept(issuer, home, env, 1)
    expect(JSON.stringify(await readLegacyFile(home)), 'the old copy is cleared').to.not.include(old.refreshToken)
  })

  it('auth login --device: SIGTERM while the answer to the poll that spent the device code is on its way → signed in, then exit 143', async () => {
    const home = await makeTempHome()
    try {
      const login = await interruptedWhileAnswerOnItsWay(issuer, ['auth', 'login', '--device'], home, issuerEnv(issuer), 'SIGTERM')
      expect(login.code, describeRun(['auth', 'login', '--device'], login)).to.equal(143)
      expect(issuer.counts.deviceCode).to.equal(1)
      await expectRotatedLoginKept(issuer, home, env, 0)
    } finally {
      await home.cleanup()
    }
  })

  it('a second Ctrl-C while the answer is being saved says so once, and the login is kept', async () => {
    const home = await suite.signInHere()
    issuer.holdTokenAnswers()
    const running = startAcme(['auth', 'refresh'], home, env)
    try {
      await waitFor(() => issuer.counts.heldTokenAnswers === 1, 60_000, 'the issuer to hold its answer')
      for (let press = 1; press <= 3; press++) {
        running.signal('SIGINT')
        if (press >= 2) await waitFor(() => /one moment/.test(running.output().stderr), 30_000, 'the line about saving')
        else await new Promise((resolve) => setTimeout(resolve, 200))
      }
    } finally {
      issuer.releaseTokenAnswers()
    }
    const run = await running.ended
    expect(run.code, describeRun(['auth', 'refresh'], run)).to.equal(130)
    expect(run.stderr.match(/saving your new login, one moment/gi), run.stderr).to.have.length(1)
    await expectRotatedLoginKept(issuer, home, env, 1)
  })

  it('an interrupt before the refresh request is sent ends the command at once, and nothing was spent', async () => {
    const home = await suite.signInHere()
    await expireIn(home, -10)
    issuer.holdTokenRequests()
    // A slow discovery would do as well; a held token request is simplest to wait for. But the request
    // has left then: so hold the command before it, at the step where it has read the store.
    const marker = join(home.root, 'paused')
    const running = startAcme(['whoami'], home, {...env, ACME_AUTH_REFRESH_AHEAD: 'off', ...pauseAtStep('refresh:read', marker)})
    await waitFor(async () => (await readFile(marker, 'utf8').catch(() => '')) === String(running.pid), 60_000, 'the command to reach the refresh')
    running.signal('SIGINT')
    const run = await running.ended
    expect(run.killedBy, 'ended by the interrupt itself, at once').to.equal('SIGINT')
    issuer.releaseTokenRequests()
    expect(issuer.counts.tokenRequests, 'no refresh request was sent').to.equal(0)
    await runAcmeExpecting(0, ['whoami'], {home, env})
    expect(issuer.counts.refreshReuse).to.equal(0)
  })
})
