// One account's slow or hung issuer never delays another account (DESIGN.md, Lifecycle): the
// per-account lock serialises refreshes of one account, and the lock every account shares (the
// store's) is held only for the short write after an answer, never while an issuer is asked. Two
// accounts at two issuers; A's issuer holds A's refresh while B's commands run to the end. Asserted
// by order (B is done while A's request is still held), not by timing.
// Spawned: two commands run at the same time, which in-process runs (one at a time) cannot.

import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {startIssuer} from '../fixtures/issuer.js'
import {cleanEnv, describeRun, issuerEnv, makeTempHome, nodeArgs, runAcmeExpecting, type TempHome} from '../helpers/acme.js'
import type {Issuer} from '../helpers/signed-in.js'
import {expireIn} from '../helpers/store-time.js'
import {refreshAheadSettled, waitFor} from '../helpers/wait.js'

describe('e2e: a slow issuer delays only its own account', function () {
  this.timeout(180_000)
  let slow: Issuer
  let other: Issuer
  let home: TempHome

  before(async () => {
    slow = await startIssuer()
    other = await startIssuer()
  })
  after(async () => {
    await slow?.close()
    await other?.close()
  })
  afterEach(async () => {
    slow.releaseTokenRequests()
    if (home) {
      await refreshAheadSettled(home)
      await home.cleanup()
    }
  })

  it("while A's issuer holds A's refresh, B's refresh and B's command that refreshes first both finish", async () => {
    home = await makeTempHome()
    const quiet = {ACME_AUTH_REFRESH_AHEAD: 'off'}
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: issuerEnv(slow, quiet)})
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: issuerEnv(other, quiet)})
    const index = JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8'))
    const keyAt = (issuer: Issuer) => index.accounts.find((account: {issuer: string}) => account.issuer === issuer.issuer).key as string
    const [a, b] = [keyAt(slow), keyAt(other)]
    await expireIn(home, -10) // both expired: a command for either must refresh before it runs
    slow.resetCounts()
    other.resetCounts()

    slow.holdTokenRequests()
    const envA = issuerEnv(slow, quiet)
    const refreshA = spawn(process.execPath, nodeArgs(['auth', 'refresh', '--account', a]), {cwd: home.root, env: cleanEnv(home, envA), stdio: 'ignore'})
    const aEnded = new Promise<number | null>((resolve) => refreshA.on('close', resolve))
    let aExit: number | null | undefined
    void aEnded.then((code) => (aExit = code))
    await waitFor(() => slow.counts.tokenRequests === 1, 60_000, "A's refresh at its issuer")

    // B, at the other issuer, with A's request still held: a refresh, then a command that must refresh first.
    const envB = issuerEnv(other, {...quiet, ACME_AUTH_ACCOUNT: b})
    const refreshB = await runAcmeExpecting(0, ['auth', 'refresh', '--account', b], {home, env: envB})
    expect(refreshB.stdout).to.match(/^Refreshed the access token/)
    await expireIn(home, -10)
    const commandB = await runAcmeExpecting(0, ['whoami'], {home, env: envB})
    expect(commandB.stdout).to.equal('alice (Alice)\n')
    expect(other.counts).to.deep.include({refresh: 2, refreshReuse: 0})
    expect(slow.counts.refresh, "A's issuer has not answered yet").to.equal(0)
    expect(aExit, "A's refresh is still waiting for its issuer").to.equal(undefined)

    slow.releaseTokenRequests()
    const codeA = await aEnded
    expect(codeA, "A's refresh, once its issuer answered").to.equal(0)
    expect(slow.counts).to.deep.include({refresh: 1, refreshReuse: 0})
    // Both logins kept what their issuers handed out: A's save did not undo B's, nor B's A's.
    const runA = await runAcmeExpecting(0, ['auth', 'refresh', '--account', a], {home, env: envA})
    const runB = await runAcmeExpecting(0, ['auth', 'refresh', '--account', b], {home, env: envB})
    expect(slow.counts, describeRun(['auth', 'refresh'], runA)).to.deep.include({refresh: 2, refreshReuse: 0})
    expect(other.counts, describeRun(['auth', 'refresh'], runB)).to.deep.include({refresh: 3, refreshReuse: 0})
  })
})
