// An issuer that does not answer while the stored token still works: the first command waits a
// moment, says so in one line and runs; the next ones do not ask the issuer at all until the back-off
// ends; an expired token still waits the full request time and exits 75. Against the real issuer,
// whose token endpoint is held open (it accepts the request and never answers).
// Spawned: a command that gives up waiting hands its refresh to a detached process, which is under test.

import {expect} from 'chai'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {startIssuer} from '../fixtures/issuer.js'
import {issuerEnv, makeTempHome, runAcmeExpecting, storeSnapshot, warningMessages, type TempHome} from '../helpers/acme.js'
import {expireIn} from '../helpers/store-time.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

describe('e2e: an issuer outage while the token is still valid', function () {
  this.timeout(120_000)
  let issuer: Issuer
  let home: TempHome
  let env: Record<string, string | undefined>

  beforeEach(async () => {
    issuer = await startIssuer()
    home = await makeTempHome()
    // No refresh ahead: these commands are what is measured.
    env = issuerEnv(issuer, {ACME_AUTH_REFRESH_AHEAD: 'off'})
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
  })

  afterEach(async () => {
    issuer.setTokenDelay(0)
    await issuer.close()
    await home.cleanup()
  })

  it('the first command waits briefly and runs with its token, saying so; the next ones do not wait; the refresh request is never abandoned', async () => {
    await expireIn(home, 40)
    issuer.setTokenDelay(600_000)
    issuer.resetCounts()
    // The background refresh gives the issuer 3 s (the request time) before it records the outage.
    const outageEnv = {...env, ACME_AUTH_REQUEST_TIMEOUT: '3'}
    const started = Date.now()
    const first = await runAcmeExpecting(0, ['auth', 'token'], {home, env: outageEnv})
    const took = Date.now() - started
    const [warning] = warningMessages(first.stderr)
    expect(warning).to.match(/^The issuer at \S+ did not answer \(not within 2\.\d s; the refresh goes on in the background\); using the current token, valid for \d+ s more\.$/)
    expect(first.stdout.trim(), 'the stored token, on stdout alone').to.equal(await storedAccessToken(home))
    // Bounded by the 2.5 s wait, far from the request time (a loose bound: this machine is shared).
    expect(took, `the first command took ${took} ms`).to.be.below(12_000)

    // The refresh runs on in its own process until the issuer's time is up, then records the outage.
    await waitFor(async () => Object.keys(JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8')).refreshFailures ?? {}).length === 1, 20_000)
    expect(issuer.counts.tokenRequests, 'one refresh request, from the background process').to.equal(1)

    const before = await storeSnapshot(home)
    const second = await runAcmeExpecting(0, ['auth', 'token', '--json'], {home, env: outageEnv})
    expect(JSON.parse(second.stdout).accessToken).to.equal(await storedAccessToken(home))
    expect(warningMessages(second.stderr)[0]).to.match(/did not answer \(no answer in time\); using the current token/)
    expect(issuer.counts.tokenRequests, 'in the back-off nobody asks the issuer').to.equal(1)
    expect(await storeSnapshot(home), 'nothing written while backing off').to.deep.equal(before)

    // The issuer is back: a forced refresh works and ends the back-off.
    issuer.setTokenDelay(0)
    await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
    const after = JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8'))
    expect(after.refreshFailures).to.deep.equal({})
  })

  it('with an expired token there is nothing to fall back on: the full request time, exit 75, the store as it was', async () => {
    await expireIn(home, -5)
    issuer.setTokenDelay(600_000)
    const before = await storeSnapshot(home)
    const run = await runAcmeExpecting(75, ['auth', 'token'], {home, env: {...env, ACME_AUTH_REQUEST_TIMEOUT: '3'}})
    expect(run.stderr).to.match(/did not answer in time/)
    const after = await storeSnapshot(home)
    expect(after.credentials).to.equal(before.credentials)
  })
})

async function storedAccessToken(home: TempHome): Promise<string> {
  const file = JSON.parse(await readFile(join(home.authDir, 'credentials.json'), 'utf8'))
  return (Object.values(file.accounts)[0] as {accessToken: string}).accessToken
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
