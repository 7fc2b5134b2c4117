// The keychain stops answering (SIGSTOP of the gnome-keyring daemon) between a grant and its save:
// the issuer has already rotated the refresh token or spent the code, so the answer must be kept
// somewhere. It goes to the private rescue file, the command says so in one line, and the next
// command, once the keychain answers, moves it back. The cheaper twin with a credential helper is
// test/e2e/rescue.test.ts.
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {readdir} from 'node:fs/promises'
import {join} from 'node:path'

import {startIssuer} from '../fixtures/issuer.js'
import {cleanEnv, describeRun, issuerEnv, makeTempHome, nodeArgs, runAcmeExpecting, statusJson, warningMessages, type RunResult, type TempHome} from '../helpers/acme.js'
import {keychain, pidOf, requireSessionBus} from '../helpers/keyring.js'
import {waitFor} from '../helpers/wait.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

describe('keychain: a keychain stopped between a grant and its save', function () {
  this.timeout(180_000)
  let issuer: Issuer
  let home: TempHome
  let env: Record<string, string | undefined>

  before(async function () {
    requireSessionBus()
    issuer = await startIssuer()
  })
  after(() => issuer?.close())
  beforeEach(async () => {
    home = await makeTempHome()
    env = issuerEnv(issuer, {ACME_AUTH_STORAGE: 'keyring', ACME_AUTH_KEYRING_TIMEOUT: '1', ACME_AUTH_REFRESH_AHEAD: 'off'})
    issuer.resetCounts()
  })
  afterEach(async () => {
    issuer.releaseTokenAnswers()
    await runAcmeExpecting(0, ['auth', 'logout', '--all'], {home, env}).catch(() => {})
    await home?.cleanup()
  })

  /** Run `args`; once the issuer has granted, stop the keychain, let the answer go, and resume the keychain when the command is done. */
  async function withKeychainStoppedAfterGrant(args: string[]): Promise<RunResult> {
    const daemon = pidOf('org.freedesktop.secrets')
    expect(daemon, 'the Secret Service pid').to.be.a('number')
    issuer.holdTokenAnswers()
    const child = spawn(process.execPath, nodeArgs(args), {cwd: home.root, env: cleanEnv(home, env), stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const ended = new Promise<number | null>((resolve) => child.on('close', resolve))
    let stopped = false
    try {
      await waitFor(() => issuer.counts.heldTokenAnswers === 1, 60_000, `the issuer to grant acme ${args.join(' ')}`)
      process.kill(daemon!, 'SIGSTOP')
      stopped = true
      issuer.releaseTokenAnswers()
      const code = await ended
      return {code, stdout, stderr}
    } finally {
      issuer.releaseTokenAnswers()
      if (stopped) process.kill(daemon!, 'SIGCONT')
    }
  }

  async function rescueFiles(): Promise<string[]> {
    return readdir(join(home.authDir, 'rescued')).catch(() => [])
  }

  async function accountKey(): Promise<string> {
    const [account] = (await statusJson(home, env)).accounts
    return `${account.issuer}|${account.clientId}|${account.subject}`
  }

  it('a refresh: nothing is lost, and the next command moves the rescued tokens into the keychain', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    const key = await accountKey()
    const before = await keychain().get(key)

    const run = await withKeychainStoppedAfterGrant(['auth', 'refresh'])
    expect(run.code, describeRun(['auth', 'refresh'], run)).to.equal(0)
    const warnings = warningMessages(run.stderr)
    expect(warnings, run.stderr).to.have.length(1)
    expect(warnings[0]).to.match(/could not be saved where it is kept.*kept in .*rescued.*\(readable only by you\)/)
    expect(await rescueFiles()).to.have.length(1)
    expect((await keychain().get(key))?.refreshToken, 'the keychain still holds the spent refresh token').to.equal(before?.refreshToken)

    // The keychain answers again: the next command moves the rescued login back, silently.
    const next = await runAcmeExpecting(0, ['whoami'], {home, env})
    expect(next.stdout).to.equal('alice (Alice)\n')
    expect(next.stderr).to.equal('')
    expect(await rescueFiles()).to.deep.equal([])
    expect((await keychain().get(key))?.refreshToken, 'the keychain holds the rotated refresh token').to.not.equal(before?.refreshToken)
    await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
    expect(issuer.counts).to.deep.include({refresh: 2, refreshReuse: 0})
  })

  it('a sign-in: the new login is kept, and moves into the keychain once it answers', async () => {
    const login = await withKeychainStoppedAfterGrant(['auth', 'login'])
    expect(login.code, describeRun(['auth', 'login'], login)).to.equal(0)
    expect(warningMessages(login.stderr).join('\n')).to.match(/could not be saved where it is kept.*rescued/)
    expect(await rescueFiles()).to.have.length(1)

    expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal('alice (Alice)\n')
    expect(await rescueFiles()).to.deep.equal([])
    expect((await keychain().get(await accountKey()))?.accessToken).to.be.a('string')
    await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
    expect(issuer.counts).to.deep.include({authorizationCode: 1, refresh: 1, refreshReuse: 0})
  })
})
