// The example host with its secrets in the OS keychain (a real gnome-keyring on a private D-Bus,
// as `npm test` starts it): the whole flow, `auto`, a keychain that stops answering, and migration
// between the keychain and the file.
// In-process (test/helpers/in-process.ts) but for the runs given another D-Bus address, which the
// keychain library reads from the process's own environment, and the commands it kills or stops.
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {readdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {startIssuer} from '../fixtures/issuer.js'
import {
  cleanEnv,
  errorMessage,
  issuerEnv,
  makeTempHome,
  nodeArgs,
  runAcmeExpecting as spawnAcmeExpecting,
  statusJson as spawnedStatusJson,
  type TempHome,
} from '../helpers/acme.js'
import {runAcmeExpecting, statusJson} from '../helpers/in-process.js'
import {MOVE_STEPS, expectKilledMidMove, expectMoveFinished, killAtStep} from '../helpers/kill-mid-step.js'
import {keychain, pidOf, requireSessionBus, textOfFilesUnder, whileStopped} from '../helpers/keyring.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

describe('keychain: the example host with storage in the OS keychain', function () {
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
    env = issuerEnv(issuer, {ACME_AUTH_STORAGE: 'keyring'})
    issuer.resetCounts()
  })
  afterEach(async () => {
    await runAcmeExpecting(0, ['auth', 'logout', '--all'], {home, env}).catch(() => {})
    await home?.cleanup()
  })

  it('login, whoami, refresh and logout work, and no token is ever written to a file', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    const [account] = (await statusJson(home, env)).accounts
    expect(account.storage).to.equal('keyring')
    const key = `${account.issuer}|${account.clientId}|${account.subject}`
    expect((await keychain().get(key))?.accessToken).to.be.a('string')

    expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal('alice (Alice)\n')
    await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
    expect(issuer.counts.refresh).to.equal(1)
    await runAcmeExpecting(0, ['whoami'], {home, env})

    const onDisk = (await textOfFilesUnder(home.dataDir)) + (await textOfFilesUnder(home.configDir))
    expect(issuer.issuedSecrets.size).to.be.greaterThan(3)
    for (const secret of issuer.issuedSecrets) expect(onDisk.includes(secret), 'a secret the issuer issued is in a file').to.equal(false)

    await runAcmeExpecting(0, ['auth', 'logout'], {home, env})
    expect(issuer.counts.revocations).to.equal(1)
    expect(await keychain().get(key)).to.equal(undefined)
  })

  it('auto picks the keychain when one answers, silently', async () => {
    const run = await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, ACME_AUTH_STORAGE: 'auto'}})
    expect(run.stderr).to.not.include('Warning')
    expect((await statusJson(home, env)).accounts[0].storage).to.equal('keyring')
  })

  it('auto picks the file when no keychain answers (no D-Bus), says so once, and sticks to it', async () => {
    const noBus = {...env, ACME_AUTH_STORAGE: 'auto', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus'}
    // Spawned (with noBus): the keychain library reads the D-Bus address from the process's environment.
    const run = await spawnAcmeExpecting(0, ['auth', 'login'], {home, env: noBus})
    const warnings = run.stderr.split('\n').filter((line) => line.includes('Warning'))
    expect(warnings).to.have.length(1)
    expect(run.stderr).to.include('No OS keychain answered').and.include('ACME_AUTH_STORAGE=file')
    expect((await spawnedStatusJson(home, noBus)).accounts[0].storage).to.equal('file')
    // With the keychain back, the recorded choice holds: nothing moves, nothing is said.
    const later = await runAcmeExpecting(0, ['whoami'], {home, env: {...env, ACME_AUTH_STORAGE: 'auto'}})
    expect(later.stderr).to.equal('')
    expect((await statusJson(home, env)).accounts[0].storage).to.equal('file')
  })

  it('a keychain that stops answering is a clear error within the time box, never "not signed in", never another store', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, ACME_AUTH_STORAGE: 'auto'}})
    const daemon = pidOf('org.freedesktop.secrets')
    expect(daemon, 'the Secret Service pid').to.be.a('number')
    const {code, stderr, ms} = await whileStopped(daemon!, async () => {
      const started = Date.now()
      const child = spawn(process.execPath, nodeArgs(['whoami']), {env: cleanEnv(home, {...env, ACME_AUTH_STORAGE: 'auto', ACME_AUTH_KEYRING_TIMEOUT: '1'}), stdio: ['ignore', 'pipe', 'pipe']})
      let err = ''
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
      const exit = await new Promise<number | null>((resolve) => child.on('close', resolve))
      return {code: exit, stderr: err, ms: Date.now() - started}
    })
    expect(code, stderr).to.equal(1)
    const message = errorMessage(stderr)
    expect(message).to.match(/keychain/i).and.include('ACME_AUTH_STORAGE=file')
    expect(message).to.not.match(/not signed in/i)
    // The 1 s time box plus starting node and oclif, with room for a loaded machine (4 s was seen to
    // fail there): this catches a command that hangs on the stopped keychain. The time box itself is
    // measured in-process, without a process start, by keyring-store.test.ts.
    expect(ms).to.be.lessThan(10_000)
    expect(await readdir(home.authDir)).to.not.include('credentials.json')
  })

  it('migration file → keychain → file moves each login once, and a kill at any point loses nothing', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, ACME_AUTH_STORAGE: 'file'}})
    const token = (await runAcmeExpecting(0, ['auth', 'token'], {home, env: {...env, ACME_AUTH_STORAGE: 'file'}})).stdout.trim()
    const key = (await statusJson(home, env)).accounts.map((a) => `${a.issuer}|${a.clientId}|${a.subject}`)[0]
    const credentials = () => readFile(join(home.authDir, 'credentials.json'), 'utf8')

    await runAcmeExpecting(0, ['whoami'], {home, env})
    expect((await statusJson(home, env)).accounts[0].storage).to.equal('keyring')
    expect((await keychain().get(key))?.accessToken).to.equal(token)
    expect(await credentials()).to.not.include(token)

    await runAcmeExpecting(0, ['whoami'], {home, env: {...env, ACME_AUTH_STORAGE: 'file'}})
    expect((await statusJson(home, env)).accounts[0].storage).to.equal('file')
    expect(await credentials()).to.include(token)
    expect(await keychain().get(key)).to.equal(undefined)

    // Every step of a move, in both directions: the command is killed exactly there (helpers/kill-mid-step.ts).
    const holds = async (storage: string) => (storage === 'keyring' ? (await keychain().get(key))?.accessToken === token : (await credentials().catch(() => '')).includes(token))
    const account = async () => JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8')).accounts[0]
    for (const step of MOVE_STEPS) {
      for (const [from, to] of [['file', 'keyring'], ['keyring', 'file']]) {
        const where = `killed at ${step}, moving to ${to}`
        await killAtStep(step, ['auth', 'token'], home, {...env, ACME_AUTH_STORAGE: to})

        // Where the kill landed, as the index and the two stores show it.
        await expectKilledMidMove({account, holds}, step, from, to, where)

        // Whatever state the kill left, the next command finishes the move and the login works.
        const next = await runAcmeExpecting(0, ['auth', 'token'], {home, env: {...env, ACME_AUTH_STORAGE: to}})
        expect(next.stdout.trim(), where).to.equal(token)
        await expectMoveFinished({account, holds}, from, to, where)
      }
    }
    expect(issuer.counts.refresh, 'moving is not refreshing').to.equal(0)
  })

  it('status shows where each account is kept', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, FAKE_BROWSER_LOGIN: 'alice'}})
    await spawnAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, ACME_AUTH_STORAGE: 'auto', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus', FAKE_BROWSER_LOGIN: 'bob'}})
    const auto = {...env, ACME_AUTH_STORAGE: 'auto'}
    expect((await statusJson(home, auto)).accounts.map((a) => [a.subject, a.storage])).to.deep.equal([['alice', 'keyring'], ['bob', 'file']])
    const text = (await runAcmeExpecting(0, ['auth', 'status'], {home, env: auto})).stdout
    expect(text).to.include('Stored in:     keyring').and.include('Stored in:     file')
  })
})
