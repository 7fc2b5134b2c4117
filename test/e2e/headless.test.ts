// Signing in where no browser can be opened (SSH, containers): the CLI says why, falls back to the
// device flow, and a person approves on another device. Nothing is animated when nobody watches.
// The login is spawned: the device code is read from its stderr while it runs, as a person reads it.
import {expect} from 'chai'
import {spawn} from 'node:child_process'

import {startIssuer} from '../fixtures/issuer.js'
import {
  BROWSER,
  cleanEnv,
  makeTempHome,
  nodeArgs,
  type TempHome,
} from '../helpers/acme.js'
import {runAcmeExpecting, statusJson} from '../helpers/in-process.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

describe('e2e: sign-in without a browser', function () {
  this.timeout(60_000)
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

  it('no display and no browser command → one line saying why, then the device flow, approved elsewhere', async () => {
    // cleanEnv drops DISPLAY, BROWSER and ACME_BROWSER: like an SSH session into a server.
    const child = spawn(process.execPath, nodeArgs(['auth', 'login']), {
      env: cleanEnv(home, {ACME_AUTH_ISSUER: issuer.issuer}),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    const approved = new Promise<void>((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk
        const code = /enter the code:\s+(\S+)\n/.exec(stderr)?.[1]
        const uri = /open (\S+) on any device/.exec(stderr)?.[1]
        if (!code || !uri || approved.started) return
        approved.started = true
        // The person types the code on their laptop: the scripted browser plays that part.
        const url = `${uri}?user_code=${encodeURIComponent(code)}`
        const browser = spawn(process.execPath, [BROWSER, url], {stdio: 'inherit'})
        browser.on('close', (status) => (status === 0 ? resolve() : reject(new Error(`browser exited ${status}`))))
      })
    }) as Promise<void> & {started?: boolean}
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve))

    await approved
    expect(await exit, stderr).to.equal(0)
    const lines = stderr.trim().split('\n')
    expect(lines[0]).to.equal('No browser can be opened here (no graphical display: DISPLAY is not set); signing in with a device code instead.')
    expect(stderr, 'no attempt to open a browser').to.not.include('Could not open a browser')
    // Not a terminal: no spinner frames, no cursor movement, no QR code.
    expect(stderr).to.not.match(/\u001B\[/)
    expect(stderr).to.not.include('scan this')
    expect(stdout).to.equal(`Signed in as Alice (alice) at ${issuer.issuer}.\n`)
    expect((await statusJson(home, {ACME_AUTH_ISSUER: issuer.issuer})).accounts[0].subject).to.equal('alice')
    await runAcmeExpecting(0, ['whoami'], {home, env: {ACME_AUTH_ISSUER: issuer.issuer}})
  })
})
