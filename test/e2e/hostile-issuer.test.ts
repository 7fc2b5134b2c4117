// Issue 10, the issuer side: an issuer (or whoever answers in its name) must not get escape
// sequences onto the user's terminal, have a secret it echoes printed, make us store or export
// megabytes, or pull a code or refresh token off to another machine; and an account someone else
// approved in the browser is not kept silently. Each attack is performed for real against
// examples/acme — a real oidc-provider with hostile claims, a scripted issuer for what no
// standard issuer does — and each of these tests passed as an attack on the code before the
// defences (bef05c4; see the report of issue 10).

import {expect} from 'chai'
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {startIssuer} from '../fixtures/issuer.js'
import {
  BROWSER,
  describeRun,
  errorMessage,
  issuerEnv,
  makeTempHome,
  onlyStoredSecrets,
  parseStatus,
  runAcme as spawnAcme,
  startRequestRecorder,
  storeSnapshot,
  type RunResult,
  type TempHome,
} from '../helpers/acme.js'
import {runAcme, runAcmeExpecting, statusJson} from '../helpers/in-process.js'
import {fakeToken, nonLoopbackAddress, runAcmeAtTerminal, unsafeCharacters, writeLogin} from '../helpers/hostile.js'
import {startScriptedIssuer, type ScriptedIssuer} from '../helpers/scripted-issuer.js'
import {copyOfHome, issuerWithLogin} from '../helpers/signed-in.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

/** Erases the line and returns to its start, sets the window title, reverses what follows, and an 8-bit CSI. */
const HOSTILE = '\u001B[2K\r\u001B]0;pwned\u0007\u202E\u009B31m'

/** Nothing a terminal would act on in what the command printed; with --json, stdout is one JSON document. */
function expectTerminalSafe(args: string[], result: RunResult): void {
  expect(unsafeCharacters(result.stdout + result.stderr), `unsafe characters in the output of acme ${args.join(' ')}`).to.deep.equal([])
  if (args.includes('--json')) expect(() => JSON.parse(result.stdout), `acme ${args.join(' ')} prints JSON:\n${result.stdout}`).to.not.throw()
}

describe('e2e: a hostile issuer (issue 10)', function () {
  this.timeout(60_000)
  let home: TempHome

  beforeEach(async () => {
    home = await makeTempHome()
  })
  afterEach(() => home?.cleanup())

  describe('4. escape sequences in the claims of a real issuer', () => {
    let issuer: Issuer
    let env: Record<string, string | undefined>

    before(async () => {
      issuer = await startIssuer({accountClaims: () => ({name: `Mal${HOSTILE}lory`, email: `mallory${HOSTILE}@example.com`})})
      // The subject is the login name: a hostile one too.
      env = issuerEnv(issuer, {FAKE_BROWSER_LOGIN: `mallory${HOSTILE}`})
    })
    after(() => issuer?.close())

    it('auth login, login --device, status, refresh and logout (text and --json) show none of them', async () => {
      // status last: it shows the claims as stored by both sign-ins and both refreshes.
      const results: Record<string, RunResult> = {}
      for (const args of [['auth', 'login'], ['auth', 'refresh'], ['auth', 'refresh', '--json'], ['auth', 'login', '--device'], ['auth', 'status'], ['auth', 'status', '--json']]) {
        const result = await runAcmeExpecting(0, args, {home, env})
        expectTerminalSafe(args, result)
        results[args.join(' ')] = result
      }
      // What was shown is the claims without what a terminal acts on (the text after a removed
      // 8-bit CSI is plain text then), not nothing.
      expect(results['auth status'].stdout).to.match(/^\* Mal\S*lory \(mallory\S*\) <mallory\S*@example\.com>$/m)
      // Scripts still get the claims as the issuer sent them.
      const report = parseStatus(results['auth status --json'].stdout)
      expect(report.accounts.map((account) => [account.subject, account.name])).to.deep.equal([[`mallory${HOSTILE}`, `Mal${HOSTILE}lory`]])
      expect(issuer.counts).to.deep.include({authorizationCode: 1, deviceCode: 1, refresh: 2})
      const logout = await runAcmeExpecting(0, ['auth', 'logout'], {home, env})
      expectTerminalSafe(['auth', 'logout'], logout)
    })
  })

  describe('a scripted issuer', () => {
    let scripted: ScriptedIssuer
    let env: Record<string, string | undefined>
    let metadata: Record<string, unknown>
    let stored: {accessToken: string; refreshToken: string}

    before(async () => {
      scripted = await startScriptedIssuer()
      metadata = (await (await fetch(`${scripted.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>
      // The scripted browser opens what it is given; for the device flow it only needs to be there.
      // No refresh ahead: every request the token endpoint gets comes from the command under test.
      env = {ACME_AUTH_ISSUER: scripted.issuer, ACME_AUTH_SCOPES: 'openid offline_access', ACME_AUTH_REFRESH_AHEAD: 'off', ACME_BROWSER: BROWSER, FAKE_BROWSER_MODE: 'ignore'}
    })
    after(() => scripted?.close())
    beforeEach(async () => {
      scripted.route('/.well-known/openid-configuration', {body: metadata})
      for (const path of ['/token', '/device', '/authorize', '/userinfo']) scripted.route(path, {status: 404, body: ''})
      scripted.requests.length = 0
      // Signed in at this issuer, with an access token that has expired: the next command refreshes.
      stored = {accessToken: fakeToken('access'), refreshToken: fakeToken('refresh')}
      await writeLogin(home.authDir, {issuer: scripted.issuer, subject: 'mallory', ...stored, expiresIn: -60})
    })

    /** What the token endpoint received with grant_type=refresh_token. */
    const refreshesSent = () => scripted.requests.filter((request) => request.path === '/token' && request.form.get('grant_type') === 'refresh_token')

    describe('4. escape sequences in what it says', () => {
      it('an error_description on refresh: auth refresh and auth refresh --json show it without them', async () => {
        // A refusal of the client itself (any other refused refresh means "sign in again" and is not
        // sent twice, issue 20): every command asks again, and shows what the issuer said.
        scripted.route('/token', {status: 400, body: {error: 'unauthorized_client', error_description: `${HOSTILE}the refresh token is malformed`}})
        for (const args of [['auth', 'refresh'], ['auth', 'refresh', '--json']]) {
          const result = await runAcme(args, {home, env})
          expect(result.code, describeRun(args, result)).to.equal(2)
          expectTerminalSafe(args, result)
          const message = args.includes('--json') ? JSON.parse(result.stdout).error.message : errorMessage(result.stderr)
          expect(message).to.include('the refresh token is malformed')
        }
        expect(refreshesSent()).to.have.length(2)
      })

      it('an error_description in the browser callback: auth login shows it without them', async () => {
        scripted.route('/authorize', (request) => {
          const back = new URL(request.query.get('redirect_uri')!)
          back.search = new URLSearchParams({error: 'access_denied', error_description: `${HOSTILE}you may not`, state: request.query.get('state')!}).toString()
          return {status: 302, headers: {location: back.href}}
        })
        const result = await runAcme(['auth', 'login'], {home, env: {...env, FAKE_BROWSER_MODE: undefined}})
        expect(result.code, describeRun(['auth', 'login'], result)).to.equal(1)
        expectTerminalSafe(['auth', 'login'], result)
        expect(errorMessage(result.stderr)).to.include('you may not')
      })

      it('verification_uri, user_code and error_description of a device sign-in: auth login --device shows them without them', async () => {
        scripted.route('/device', {
          body: {device_code: fakeToken('device'), user_code: `WDJB${HOSTILE}-MJHT`, verification_uri: `${scripted.issuer}/activate${HOSTILE}`, expires_in: 60, interval: 1},
        })
        scripted.route('/token', {status: 400, body: {error: 'access_denied', error_description: `${HOSTILE}the user said no`}})
        const result = await runAcme(['auth', 'login', '--device'], {home, env})
        expect(result.code, describeRun(['auth', 'login', '--device'], result)).to.equal(1)
        expectTerminalSafe(['auth', 'login', '--device'], result)
        expect(result.stderr, 'the code and where to enter it were shown').to.include(`${scripted.issuer}/activate`).and.match(/WDJB.*MJHT/)
        expect(errorMessage(result.stderr)).to.include('the user said no')
      })

      it('a verification_uri that is not a web address (file:, an option): shown as text, never handed to the browser', async () => {
        const opened = join(home.root, 'browser-was-given')
        const browser = join(home.root, 'recording-browser.sh')
        await writeFile(browser, `#!/bin/sh\nprintf '%s\\n' "$@" >> '${opened}'\n`, {mode: 0o755})
        for (const address of ['file:///etc/passwd', '-oProxyCommand=touch /tmp/pwned']) {
          scripted.route('/device', {body: {device_code: fakeToken('device'), user_code: 'WDJB-MJHT', verification_uri: address, expires_in: 60, interval: 1}})
          scripted.route('/token', {status: 400, body: {error: 'access_denied'}})
          const result = await runAcme(['auth', 'login', '--device'], {home, env: {...env, ACME_BROWSER: browser}})
          expect(result.code, describeRun(['auth', 'login', '--device'], result)).to.equal(1)
          expect(result.stderr, 'the address was shown').to.include(`To sign in, open ${address} on any device`)
        }
        expect(await readFile(opened, 'utf8').catch(() => 'nothing'), 'what the browser was given').to.equal('nothing')
      })
    })

    it('5. a refresh token echoed in error_description: [redacted] in every output, the token in none', async () => {
      // unauthorized_client: a refusal that is not "sign in again" (issue 20), so each command sends the token again.
      scripted.route('/token', (request) => ({status: 400, body: {error: 'unauthorized_client', error_description: `refresh_token ${request.form.get('refresh_token')} is malformed`}}))
      const {refreshToken} = await onlyStoredSecrets(home)
      expect(refreshToken).to.equal(stored.refreshToken)
      for (const [args, extra] of [
        [['auth', 'refresh'], {}],
        [['auth', 'refresh', '--json'], {}],
        [['auth', 'refresh'], {DEBUG: '*'}],
        [['whoami'], {}],
      ] as const) {
        // With DEBUG spawned: the debug module reads DEBUG from the environment of the process that loads it.
        const result = await ('DEBUG' in extra ? spawnAcme : runAcme)([...args], {home, env: {...env, ...extra}})
        const shown = `acme ${args.join(' ')}${'DEBUG' in extra ? ' with DEBUG=*' : ''}`
        expect(result.code, describeRun([...args], result)).to.equal(2)
        expect(result.stdout + result.stderr, shown).to.not.include(refreshToken)
        // With DEBUG=* oclif also logs the error with its stack: the message is there, redacted too.
        const message = (args as readonly string[]).includes('--json') ? JSON.parse(result.stdout).error.message : 'DEBUG' in extra ? result.stderr : errorMessage(result.stderr)
        expect(message, shown).to.include('refresh_token [redacted] is malformed')
      }
      // The issuer did get the token, and echoed it each time.
      expect(refreshesSent().map((request) => request.form.get('refresh_token'))).to.deep.equal(Array(4).fill(refreshToken))
    })

    describe('6. oversized answers: refused, nothing stored, no command run with them', () => {
      const big = (bytes: number) => 'A'.repeat(bytes)
      for (const [what, body, reason] of [
        ['a 2 MB access token', () => ({access_token: big(2_000_000), token_type: 'Bearer', expires_in: 3600, refresh_token: fakeToken('rotated')}), /more than 1 MiB/],
        ['a 200 KB access token (an answer under 1 MiB)', () => ({access_token: big(200_000), token_type: 'Bearer', expires_in: 3600, refresh_token: fakeToken('rotated')}), /access token of 200000 bytes, more than the 64 KiB/],
        ['a 1.5 MiB answer around small tokens', () => ({access_token: fakeToken('access'), token_type: 'Bearer', expires_in: 3600, refresh_token: fakeToken('rotated'), padding: big(1_572_864)}), /more than 1 MiB/],
      ] as const) {
        it(what, async () => {
          scripted.route('/token', () => ({body: body()}))
          const before = await storeSnapshot(home)
          const refresh = await runAcme(['auth', 'refresh'], {home, env})
          expect(await storeSnapshot(home), 'the store after auth refresh').to.deep.equal(before)
          expect(refresh.code, describeRun(['auth', 'refresh'], refresh)).to.equal(1)
          expect(errorMessage(refresh.stderr)).to.match(reason).and.include('nothing')
          // env starts a child process with ACME_ACCESS_TOKEN: it must not run at all.
          const command = await runAcme(['env'], {home, env})
          expect(command.code, describeRun(['env'], command)).to.equal(1)
          expect(command.stdout, 'env ran').to.equal('')
          expect(errorMessage(command.stderr)).to.match(reason)
          expect(await storeSnapshot(home), 'the store after env').to.deep.equal(before)
          expect(refreshesSent()).to.have.length(2)
        })
      }
    })

    describe('8. a loopback http issuer naming its token endpoint on another host', () => {
      /** The code, verifier or refresh token would go to `tokenEndpoint`: every flow refuses before sending anything. */
      async function expectNothingSent(tokenEndpoint: string, received: () => string[]): Promise<void> {
        scripted.route('/.well-known/openid-configuration', {body: {...metadata, token_endpoint: tokenEndpoint}})
        // Were they asked, these would hand the CLI a code and a device code to send there.
        scripted.route('/authorize', (request) => {
          const back = new URL(request.query.get('redirect_uri')!)
          back.search = new URLSearchParams({code: fakeToken('code'), state: request.query.get('state')!}).toString()
          return {status: 302, headers: {location: back.href}}
        })
        scripted.route('/device', {body: {device_code: fakeToken('device'), user_code: 'WDJB-MJHT', verification_uri: `${scripted.issuer}/activate`, expires_in: 60, interval: 1}})
        const browserEnv = {...env, FAKE_BROWSER_MODE: undefined}
        for (const [args, runEnv] of [
          [['auth', 'login'], browserEnv],
          [['auth', 'login', '--device'], env],
          [['auth', 'refresh'], env],
        ] as const) {
          const result = await runAcme([...args], {home, env: runEnv})
          const shown = `acme ${args.join(' ')}`
          expect(received(), `requests of ${shown} that reached the other host`).to.deep.equal([])
          expect(scripted.requests.map((request) => request.path).filter((path) => !path.includes('/.well-known/')), `requests of ${shown} past discovery`).to.deep.equal([])
          expect(result.code, describeRun([...args], result)).to.equal(1)
          expect(errorMessage(result.stderr), shown).to.include(`names its token endpoint "${tokenEndpoint}"`).and.include('nothing was sent there')
        }
      }

      it('on another address of this machine (a recorder stands in for the other host)', async function () {
        const address = nonLoopbackAddress()
        // Without another address the refusal is still checked, against a name that cannot answer.
        const recorder = address ? await startRequestRecorder(address) : undefined
        try {
          await expectNothingSent(recorder ? `${recorder.url}/token` : 'http://192.0.2.1:9/token', () => recorder?.requests ?? [])
        } finally {
          await recorder?.close()
        }
      })

      it('http://attacker.example/token', async () => {
        await expectNothingSent('http://attacker.example/token', () => [])
      })
    })
  })

  describe('9. a browser sign-in that returns another account than the default', () => {
    let issuer: Issuer
    let env: Record<string, string | undefined>
    /** alice, signed in once: bob's sign-in neither refreshes nor revokes her grant, so each test starts from a copy. */
    let signedIn: TempHome
    let storeBefore: {index?: string; credentials?: string}
    const question = (issuerUrl: string) => `Signed in as Bob (bob) at ${issuerUrl}, not as Alice (alice) at ${issuerUrl} like before`

    const shared = issuerWithLogin(runAcmeExpecting)
    before(() => ({issuer, env, signedIn} = shared))
    beforeEach(async () => {
      await home.cleanup()
      home = await copyOfHome(signedIn)
      storeBefore = await storeSnapshot(home)
    })

    async function defaultSubject(): Promise<string> {
      return (await statusJson(home, env)).accounts.find((account) => account.default)!.subject
    }

    it('without a terminal: the line says so plainly and the login is kept', async () => {
      const result = await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, FAKE_BROWSER_LOGIN: 'bob'}})
      // No one answers, so userinfo is not asked before the save: the line names bob by his subject
      // (the ID token's), and the last line by the name userinfo gave once the login was saved.
      expect(result.stderr).to.include(`Signed in as bob at ${issuer.issuer}, not as Alice (alice) at ${issuer.issuer} like before: keep this login.`)
      expect(result.stdout).to.equal(`Signed in as Bob (bob) at ${issuer.issuer}.\n`)
      expect(await defaultSubject()).to.equal('bob')
    })

    it('at a terminal, answered n: exit 1, nothing stored, the earlier login intact', async () => {
      const result = await runAcmeAtTerminal(['auth', 'login'], {home, env: {...env, FAKE_BROWSER_LOGIN: 'bob'}, prompt: /\[Y\/n\]/, answer: 'n\r'})
      expect(result.prompted, `the question was asked:\n${result.stdout}`).to.equal(true)
      expect(result.stdout).to.include(question(issuer.issuer))
      expect(result.code, result.stdout).to.equal(1)
      expect(result.stdout).to.match(/not kept; nothing was stored/)
      expect(await storeSnapshot(home)).to.deep.equal(storeBefore)
      expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal('alice (Alice)\n')
    })

    it('at a terminal, Ctrl-C at the question: exit 130 and nothing more said, nothing stored, the earlier login intact', async () => {
      const result = await runAcmeAtTerminal(['auth', 'login'], {home, env: {...env, FAKE_BROWSER_LOGIN: 'bob'}, prompt: /\[Y\/n\]/, answer: '\x03'})
      expect(result.prompted, `the question was asked:\n${result.stdout}`).to.equal(true)
      expect(result.code, result.stdout).to.equal(130)
      expect(result.stdout.slice(result.stdout.indexOf('[Y/n]')), 'no error after the question').to.not.match(/Error|ABORT/)
      expect(await storeSnapshot(home)).to.deep.equal(storeBefore)
      expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal('alice (Alice)\n')
    })

    it('at a terminal, answered Enter: kept', async () => {
      const result = await runAcmeAtTerminal(['auth', 'login'], {home, env: {...env, FAKE_BROWSER_LOGIN: 'bob'}, prompt: /\[Y\/n\]/, answer: '\r'})
      expect(result.prompted, `the question was asked:\n${result.stdout}`).to.equal(true)
      expect(result.code, result.stdout).to.equal(0)
      // whoami asks the issuer about the default account's token: bob is the default, and his login works.
      expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal('bob (Bob)\n')
    })
  })
})
