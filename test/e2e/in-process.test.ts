// The in-process harness (test/helpers/in-process.ts) is only worth its speed if a run there is the run
// a user would see: the same exit code, stdout and stderr as the spawned command, and nothing left in
// the test process for the next run to find.
import {expect} from 'chai'

import {startIssuer} from '../fixtures/issuer.js'
import {issuerEnv, makeTempHome, runAcme as spawnAcme, type TempHome} from '../helpers/acme.js'
import {runAcme, runAcmeExpecting, statusJson} from '../helpers/in-process.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

describe('e2e: the in-process harness', function () {
  this.timeout(180_000)
  let issuer: Issuer
  let home: TempHome
  before(async () => {
    issuer = await startIssuer()
  })
  after(() => issuer?.close())
  beforeEach(async () => {
    home = await makeTempHome()
  })
  afterEach(() => home?.cleanup())

  // Spawned on purpose: the spawned runs are what the in-process ones are compared with.
  it('gives the exit code, stdout and stderr the spawned command gives', async () => {
    const env = issuerEnv(issuer)
    for (const args of [['whoami'], ['auth', 'status', '--json'], ['auth', 'login', '--no-such-flag'], ['auth', 'token', '--json'], ['--help'], ['auth']]) {
      const spawned = await spawnAcme(args, {home, env})
      expect(await runAcme(args, {home, env}), `acme ${args.join(' ')}`).to.deep.equal(spawned)
    }
  })

  it('leaves the test process as it found it: environment, folder, argv, exit code, output streams, signal handlers', async () => {
    const before = processState()
    const env = issuerEnv(issuer)
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    await runAcmeExpecting(0, ['whoami'], {home, env})
    await runAcmeExpecting(2, ['auth', 'login', '--no-such-flag'], {home, env})
    await runAcmeExpecting(0, ['auth', 'logout'], {home, env, input: 'standard input nobody reads\n'})
    expect(processState()).to.deep.equal(before)
  })

  it("one run's environment is not the next one's: ACME_TOKEN, and the token a command exports to its children", async () => {
    const env = issuerEnv(issuer)
    expect(await statusJson(home, {...env, ACME_TOKEN: 'a-token-from-the-environment'})).to.include({loggedIn: true, source: 'env'})
    expect(await statusJson(home, env)).to.deep.equal({loggedIn: false, source: null, accounts: []})
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    await runAcmeExpecting(0, ['whoami'], {home, env}) // exports ACME_ACCESS_TOKEN into its own environment
    expect(process.env.ACME_ACCESS_TOKEN, 'the test process environment').to.equal(undefined)
  })
})

function processState() {
  return {
    env: {...process.env},
    cwd: process.cwd(),
    argv: [...process.argv],
    exitCode: process.exitCode,
    stdoutWrite: process.stdout.write,
    stderrWrite: process.stderr.write,
    stdin: process.stdin,
    listeners: Object.fromEntries(['SIGINT', 'SIGTERM', 'exit', 'uncaughtException', 'unhandledRejection'].map((event) => [event, process.listenerCount(event)])),
  }
}
