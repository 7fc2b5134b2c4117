// Issue 20, item 6: line breaks in claims must not forge output. A real oidc-provider gives mallory a
// `name` (and an `email`) whose line breaks of every kind — LF, CR, TAB, NEL, U+2028, U+2029 — are
// followed by what would read as lines of ours ("    Issuer: https://evil.example"). Every value from
// the issuer or the stored index is printed on one line: in auth login, auth status, the
// confirmation prompt of a sign-in as someone else, and logout's account picker.

import {expect} from 'chai'

import {startIssuer} from '../fixtures/issuer.js'
import {
  issuerEnv,
  makeTempHome,
  parseStatus,
  type RunResult,
  type TempHome,
} from '../helpers/acme.js'
import {runAcmeExpecting} from '../helpers/in-process.js'
import {runAcmeAtTerminal} from '../helpers/hostile.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

const FORGED_NAME = 'Mallory\n    Issuer: https://evil.example\u2028    Client: evil-client\u2029    Scopes: admin\r    Stored in: nowhere\u0085* Alice (alice)\tTab'
const FORGED_EMAIL = 'mallory@example.com\n    Refreshable:   forever'

/** Where a terminal or a reader may start a new line. */
const LINE_BREAK = /\r\n|[\n\r\u000B\u000C\u0085\u2028\u2029]/

/** The lines a value would have forged, were it printed as sent. */
const FORGED_LINE = /^\s*(Issuer: https:\/\/evil|Client: evil-client|Scopes: admin|Stored in: nowhere|Refreshable: {3}forever|\* Alice \(alice\)\s*Tab)/

function expectNoForgedLine(what: string, text: string): void {
  const forged = text.split(LINE_BREAK).filter((line) => FORGED_LINE.test(line))
  expect(forged, `forged lines in the output of ${what}:\n${text}`).to.deep.equal([])
  expect(text, `a line or paragraph separator in the output of ${what}`).not.to.match(/[\u0085\u2028\u2029\t]/)
}

function expectOneLineOfMallory(what: string, result: RunResult): void {
  expectNoForgedLine(what, result.stdout + result.stderr)
  // What is shown is the claim on one line, not nothing.
  expect(result.stdout + result.stderr, what).to.match(/Mallory Issuer: https:\/\/evil\.example Client: evil-client Scopes: admin Stored in: nowhere ?\* Alice \(alice\) Tab \(mallory\)/)
}

describe('e2e: line breaks in claims forge no output (issue 20)', function () {
  this.timeout(90_000)
  let issuer: Issuer
  let env: Record<string, string | undefined>
  let home: TempHome

  before(async () => {
    issuer = await startIssuer({accountClaims: (id: string) => (id === 'mallory' ? {name: FORGED_NAME, email: FORGED_EMAIL} : {})})
    env = issuerEnv(issuer)
  })
  after(() => issuer?.close())
  beforeEach(async () => {
    home = await makeTempHome()
  })
  afterEach(() => home?.cleanup())

  it('auth login and auth status print each value on its one line; --json keeps the claim as sent', async () => {
    const login = await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, FAKE_BROWSER_LOGIN: 'mallory'}})
    expectOneLineOfMallory('auth login', login)
    expect(login.stdout.split('\n').filter(Boolean), 'auth login prints one line').to.have.length(1)

    const status = await runAcmeExpecting(0, ['auth', 'status'], {home, env})
    expectOneLineOfMallory('auth status', status)
    const issuerLines = status.stdout.split(LINE_BREAK).filter((line) => /^\s*Issuer:/.test(line))
    expect(issuerLines).to.deep.equal([`    Issuer:        ${issuer.issuer}`])
    expect(status.stdout).to.include('<mallory@example.com Refreshable: forever>')

    // Scripts get the claim exactly as the issuer sent it (JSON escapes what a terminal would act on).
    const report = parseStatus((await runAcmeExpecting(0, ['auth', 'status', '--json'], {home, env})).stdout)
    expect(report.accounts[0]).to.include({name: FORGED_NAME, email: FORGED_EMAIL})
  })

  it('the confirmation prompt of a sign-in as someone else, and logout\'s account picker, at a terminal', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, FAKE_BROWSER_LOGIN: 'alice'}})
    const confirm = await runAcmeAtTerminal(['auth', 'login'], {home, env: {...env, FAKE_BROWSER_LOGIN: 'mallory'}, prompt: /\[Y\/n\]/, answer: 'y\r'})
    expect(confirm.prompted, confirm.stdout).to.equal(true)
    expect(confirm.code, confirm.stdout).to.equal(0)
    expectOneLineOfMallory('auth login (the confirmation)', confirm)
    expect(confirm.stdout).to.match(/Signed in as Mallory Issuer: .* \(mallory\) at http:\/\/127\.0\.0\.1:\d+, not as Alice \(alice\) at http:\/\/127\.0\.0\.1:\d+ like before: keep this login\? \[Y\/n\]/)

    const picker = await runAcmeAtTerminal(['auth', 'logout'], {home, env, prompt: /Sign out of which account\? \[1-2, Enter for 2\] /, answer: '2\r'})
    expect(picker.prompted, picker.stdout).to.equal(true)
    expect(picker.code, picker.stdout).to.equal(0)
    expectOneLineOfMallory('auth logout (the picker)', picker)
    const listed = picker.stdout.split(LINE_BREAK).filter((line) => /^\s+\d\) /.test(line))
    expect(listed, picker.stdout).to.have.length(2)
    expect(listed[1]).to.match(/^ {2}2\) Mallory Issuer: https:\/\/evil\.example .* \(mallory\) at http:\/\/127\.0\.0\.1:\d+ \(default\)$/)
  })
})
