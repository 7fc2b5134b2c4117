// What a new user meets: the package as npm ships it, a CLI whose author configured nothing, the
// gh habits people bring (status --check/--show-token/--account, refresh --scopes, logout asking
// which account, --json everywhere), and messages that say only what happened.

import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

import {startIssuer} from '../fixtures/issuer.js'
import {
  errorMessage,
  issuerEnv,
  makeHostVariant,
  makeTempHome,
  parseStatus,
  readCredentialsFile,
  runAcme as spawnAcme,
  type TempHome,
} from '../helpers/acme.js'
import {runAcmeExpecting, statusJson} from '../helpers/in-process.js'
import {runAcmeAtTerminal} from '../helpers/hostile.js'
import {copyLoginInto, signInOnce} from '../helpers/signed-in.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

describe('e2e: what a new user meets', function () {
  this.timeout(120_000)
  let issuer: Issuer
  let home: TempHome
  let env: Record<string, string | undefined>
  /** One real browser sign-in as alice, copied by the tests whose own sign-in would only be a starting point. */
  let aliceSignedIn: TempHome

  before(async () => {
    issuer = await startIssuer()
    aliceSignedIn = await signInOnce({...issuerEnv(issuer), FAKE_BROWSER_LOGIN: 'alice'}, runAcmeExpecting)
  })
  after(async () => {
    await issuer.close()
    await aliceSignedIn?.cleanup()
  })
  beforeEach(async () => {
    home = await makeTempHome()
    env = issuerEnv(issuer)
  })
  afterEach(async () => {
    await home.cleanup()
  })

  it('the package ships what a host needs: dist, the manifest, the LICENSE; no command on the host PATH; prepack builds', async () => {
    // --ignore-scripts: list what `npm pack` takes from the tree as built, without rebuilding it now.
    const {stdout} = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {cwd: ROOT})
    const files = (JSON.parse(stdout)[0].files as Array<{path: string}>).map((file) => file.path)
    expect(files).to.include.members(['LICENSE', 'README.md', 'package.json', 'oclif.manifest.json', 'dist/index.js', 'dist/index.d.ts'])
    expect(files.filter((file) => file.startsWith('dist/commands/auth/'))).to.have.length.greaterThan(5)
    expect(files.some((file) => file.startsWith('bin/')), 'no bin/ in the package').to.equal(false)
    const pjson = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'))
    expect(pjson).to.not.have.property('bin')
    expect(pjson.scripts.prepack).to.match(/build/)
  })

  it('a CLI whose author set no issuer: status says what sign-in needs and where; login names every place, the user file first', async () => {
    const host = await makeHostVariant(({issuer: _issuer, clientId: _clientId, ...auth}) => auth)
    try {
      const status = await runAcmeExpecting(0, ['auth', 'status'], {home, bin: host.bin})
      expect(status.stdout).to.include('Not signed in, and signing in needs an issuer and a client id').and.include(join(home.configDir, 'auth.json'))
      const login = await runAcmeExpecting(2, ['auth', 'login'], {home, bin: host.bin})
      const message = errorMessage(login.stderr)
      expect(message).to.include('needs an issuer and a client id')
      expect(message.indexOf('auth.json')).to.be.below(message.indexOf('ACME_AUTH_ISSUER'))
      expect(message).to.include('--issuer').and.include('oclif.auth.issuer')
    } finally {
      await host.cleanup()
    }
  })

  it('a --with-token sign-in that fails says nothing about where a login would be kept', async () => {
    // No keychain answers here (no session bus): auto would pick the file, and used to say so first.
    // Spawned: the keychain library finds the D-Bus session in the process's own environment.
    const run = await spawnAcme(['auth', 'login', '--with-token'], {home, env: {...env, ACME_AUTH_STORAGE: 'auto', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent'}, input: 'junk-token\n'})
    expect(run.code).to.equal(1)
    expect(run.stderr).to.not.include('No OS keychain answered')
  })

  it('auth status --check exits 4 signed out and 0 signed in; --show-token shows the token, else it is masked; --account shows one', async () => {
    expect(errorMessage((await runAcmeExpecting(4, ['auth', 'status', '--check'], {home, env})).stderr)).to.include('acme auth login')
    // Nothing here refreshes or revokes: alice's login can be the shared one; bob signs in after her.
    await copyLoginInto(aliceSignedIn, home)
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, FAKE_BROWSER_LOGIN: 'bob'}})
    await runAcmeExpecting(0, ['auth', 'status', '--check'], {home, env})
    // Fresh: alice's stored token is the one `auth token --account alice` prints.
    const token = (await readCredentialsFile(home)).accounts[`${issuer.issuer}|${issuer.clientId}|alice`].accessToken

    const masked = await runAcmeExpecting(0, ['auth', 'status'], {home, env})
    expect(masked.stdout).to.include('Token:         ******** (--show-token shows it)').and.not.include(token)
    const shown = await runAcmeExpecting(0, ['auth', 'status', '--account', 'alice', '--show-token'], {home, env})
    expect(shown.stdout).to.include(`Token:         ${token}`).and.include('(alice)').and.not.include('(bob)')
    const json = parseStatus((await runAcmeExpecting(0, ['auth', 'status', '--account', 'alice', '--show-token', '--json'], {home, env})).stdout)
    expect(json.accounts).to.have.length(1)
    expect((json.accounts[0] as {accessToken?: string}).accessToken).to.equal(token)
  })

  it('--json on login, switch and logout: the documented shapes', async () => {
    const login = JSON.parse((await runAcmeExpecting(0, ['auth', 'login', '--json'], {home, env: {...env, FAKE_BROWSER_LOGIN: 'alice'}})).stdout)
    expect(login.account).to.include({kind: 'user', subject: 'alice', default: true, clientAuthentication: null})
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, FAKE_BROWSER_LOGIN: 'bob'}})
    const switched = JSON.parse((await runAcmeExpecting(0, ['auth', 'switch', 'alice', '--json'], {home, env})).stdout)
    expect(switched).to.deep.include({changed: true})
    expect(switched.account).to.include({subject: 'alice'})
    const out = JSON.parse((await runAcmeExpecting(0, ['auth', 'logout', '--all', '--json'], {home, env})).stdout)
    expect(out.signedOut.map((entry: {subject: string}) => entry.subject).sort()).to.deep.equal(['alice', 'bob'])
    for (const entry of out.signedOut) {
      expect(Object.keys(entry).sort()).to.deep.equal(['clientId', 'email', 'issuer', 'leftBehind', 'name', 'revocation', 'revocationError', 'subject'])
      expect(entry).to.include({revocation: 'revoked', revocationError: null, leftBehind: null})
    }
  })

  it('auth refresh --remove-scopes / --scopes sign in again with the changed scopes, as gh auth refresh -r/-s', async () => {
    // The sign-ins again are new grants; the old one is neither refreshed nor revoked: it can be the shared one.
    await copyLoginInto(aliceSignedIn, home)
    issuer.resetCounts()
    const removed = await runAcmeExpecting(0, ['auth', 'refresh', '--remove-scopes', 'email'], {home, env})
    expect(removed.stdout).to.match(/^Signed in again as Alice \(alice\) at \S+ with the scopes openid profile offline_access\.\n$/)
    expect(issuer.counts.authorizationCode, 'a new sign-in, not a refresh').to.equal(1)
    // With PAR the scope is in the pushed request; the authorization request then carries only its request_uri.
    const asked = issuer.requests.filter((request) => (request.route === 'pushed_authorization_request' || request.route === 'authorization') && request.params.scope)
    expect(asked.at(-1)?.params.scope).to.deep.equal(['openid profile offline_access'])
    expect((await statusJson(home, env)).accounts[0].scopes).to.not.include('email')

    await runAcmeExpecting(0, ['auth', 'refresh', '--scopes', 'email'], {home, env})
    expect((await statusJson(home, env)).accounts[0].scopes).to.include.members(['openid', 'profile', 'offline_access', 'email'])
  })

  it('the device flow shows the address that carries the code as text too', async () => {
    const run = await runAcmeExpecting(0, ['auth', 'login', '--device'], {home, env})
    expect(run.stderr).to.match(/Or open this address, which carries the code: http:\/\/127\.0\.0\.1:\d+\/device\?user_code=/)
  })

  it('auth logout at a terminal with several accounts asks which one; without a terminal the default goes', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, FAKE_BROWSER_LOGIN: 'alice'}})
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, FAKE_BROWSER_LOGIN: 'bob'}})
    // bob is the default (the latest login); the list has alice first.
    const asked = await runAcmeAtTerminal(['auth', 'logout'], {home, env, prompt: /Sign out of which account\? \[1-2, Enter for 2\] /, answer: '1\r'})
    expect(asked.prompted, asked.stdout).to.equal(true)
    expect(asked.code, asked.stdout).to.equal(0)
    expect(asked.stdout).to.include('Signed out Alice (alice)')
    expect((await statusJson(home, env)).accounts.map((account) => account.subject)).to.deep.equal(['bob'])

    await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, FAKE_BROWSER_LOGIN: 'alice'}})
    const plain = await runAcmeExpecting(0, ['auth', 'logout'], {home, env})
    expect(plain.stdout).to.include('Signed out Alice (alice)')
  })
})
