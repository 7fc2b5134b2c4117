// `acme auth login` with a real browser: Debian's headless Chromium, driven by playwright-core, is
// ACME_BROWSER. It opens the authorization URL, signs in and consents on the issuer's pages by
// clicking their buttons, and lands on our loopback success page, which it screenshots into
// test-artifacts/login-success.png for a person to look at.
//
// Chromium is a system package (`apt-get install -y chromium`; .ci/run installs it). Without it this
// test fails and says so: it never skips.
// The commands run in-process (test/helpers/in-process.ts); Chromium is the real child process the CLI starts.

import {expect} from 'chai'
import {constants} from 'node:fs'
import {access, mkdir, readFile, rm, stat} from 'node:fs/promises'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {startIssuer} from '../fixtures/issuer.js'
import {issuerEnv, makeTempHome, type TempHome} from '../helpers/acme.js'
import {runAcmeExpecting, statusJson} from '../helpers/in-process.js'
import {browserOutcome} from '../helpers/wait.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_BROWSER = fileURLToPath(new URL('../fixtures/chromium-browser.js', import.meta.url))
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
const SCREENSHOT = join(ARTIFACTS, 'login-success.png')
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

describe('e2e: acme auth login in a real browser (headless Chromium)', function () {
  // Starting Chromium and a sign-in take ~2–3 s here; leave room for a slow CI machine.
  this.timeout(120_000)

  let issuer: Issuer
  let home: TempHome

  before(async () => {
    issuer = await startIssuer()
  })
  after(() => issuer?.close())
  beforeEach(async () => {
    issuer.resetCounts()
    home = await makeTempHome()
  })
  afterEach(() => home?.cleanup())

  it('signs in through the issuer’s pages and lands on our success page; whoami works', async () => {
    await access(CHROMIUM, constants.X_OK).catch(() => {
      throw new Error(`Chromium is not installed at ${CHROMIUM}: run \`apt-get install -y chromium\` (CI's .ci/run installs it).`)
    })
    await mkdir(ARTIFACTS, {recursive: true})
    await rm(SCREENSHOT, {force: true})
    const log = join(home.root, 'chromium.log')

    const env = issuerEnv(issuer, {ACME_BROWSER: CHROMIUM_BROWSER, CHROMIUM_SCREENSHOT: SCREENSHOT, CHROMIUM_LOG: log})
    const login = await runAcmeExpecting(0, ['auth', 'login'], {home, env, timeoutMs: 90_000}).catch(async (error: Error) => {
      error.message += `\nbrowser: ${await browserOutcome(log, 5000)}`
      throw error
    })
    expect(await browserOutcome(log), 'the browser’s own verdict').to.equal('ok')
    expect(login.stdout).to.equal(`Signed in as Alice (alice) at ${issuer.issuer}.\n`)
    expect(issuer.counts).to.include({authorizationCode: 1, deviceCode: 0})

    const report = await statusJson(home, env)
    expect(report).to.include({loggedIn: true, source: 'store'})
    expect(report.accounts.map((account) => [account.subject, account.name, account.issuer, account.hasRefreshToken])).to.deep.equal([
      ['alice', 'Alice', issuer.issuer, true],
    ])

    const whoami = await runAcmeExpecting(0, ['whoami'], {home, env})
    expect(whoami.stdout).to.equal('alice (Alice)\n')

    const png = await readFile(SCREENSHOT)
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE), `${SCREENSHOT} is a PNG`).to.equal(true)
    expect((await stat(SCREENSHOT)).size, 'screenshot size').to.be.greaterThan(5000)
  })
})
