// `acme auth login` by browser, device code and piped token, against the real test issuer, in a
// fresh home per test: what a new user does, and what `auth status --json` then says.

import {expect} from 'chai'
import {stat} from 'node:fs/promises'
import {join} from 'node:path'

import {startIssuer} from '../fixtures/issuer.js'
import {
  issuerEnv,
  makeTempHome,
  onlyStoredSecrets,
  readCredentialsFile,
  storeSnapshot,
  userinfo,
  type AccountStatus,
  type RunResult,
  type TempHome,
} from '../helpers/acme.js'
import {runAcmeExpecting, statusJson} from '../helpers/in-process.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

const SCOPES = ['openid', 'profile', 'email', 'offline_access']

/** The account `auth status --json` shows after alice signed in at `issuer` (expiresAt checked apart). */
function aliceAt(issuer: Issuer, overrides: Partial<AccountStatus> = {}): Omit<AccountStatus, 'expiresAt'> {
  return {
    kind: 'user',
    clientAuthentication: null,
    issuer: issuer.issuer,
    clientId: 'acme-cli',
    subject: 'alice',
    name: 'Alice',
    email: 'alice@example.com',
    default: true,
    storage: 'file',
    scopes: SCOPES,
    hasRefreshToken: true,
    proxy: null,
    tokenType: 'Bearer',
    jkt: null,
    ...overrides,
  }
}

/** expiresAt is about `seconds` from now. */
function expectExpiresIn(expiresAt: string | null, seconds: number): void {
  expect(expiresAt, 'expiresAt').to.be.a('string')
  const left = (Date.parse(expiresAt!) - Date.now()) / 1000
  expect(left, 'seconds until expiresAt').to.be.within(seconds - 60, seconds + 5)
}

describe('e2e: acme auth login', () => {
  let issuer: Issuer
  let home: TempHome
  /**
   * The browser sign-in the first test checks, made once: the tests that only read a login (its files,
   * its access token) read this one instead of signing in for themselves. None of them changes it.
   */
  let signedIn: {home: TempHome; login: RunResult; counts: Record<string, number>}

  before(async () => {
    issuer = await startIssuer()
    const signedInHome = await makeTempHome()
    const login = await runAcmeExpecting(0, ['auth', 'login'], {home: signedInHome, env: issuerEnv(issuer)})
    signedIn = {home: signedInHome, login, counts: {...issuer.counts}}
  })
  after(async () => {
    await issuer?.close()
    await signedIn?.home.cleanup()
  })
  beforeEach(async () => {
    issuer.resetCounts()
    home = await makeTempHome()
  })
  afterEach(() => home?.cleanup())

  it('auth status --json says signed out in a fresh home, exit 0', async () => {
    const report = await statusJson(home)
    expect(report).to.deep.equal({loggedIn: false, source: null, accounts: []})
  })

  it('signs in through the browser (PKCE on a loopback redirect); status --json shows the account', async () => {
    // The sign-in is the shared one (before): what it printed, and what the issuer saw of it.
    const {login, counts} = signedIn
    expect(login.stdout).to.equal(`Signed in as Alice (alice) at ${issuer.issuer}.\n`)
    // The URL is printed for users whose browser does not open.
    expect(login.stderr).to.include(`${issuer.issuer}/auth?`)
    expect(counts).to.include({authorizationCode: 1, deviceCode: 0, refresh: 0})

    const report = await statusJson(signedIn.home, issuerEnv(issuer))
    expect(report.loggedIn).to.equal(true)
    expect(report.source).to.equal('store')
    expect(report.accounts).to.have.length(1)
    const [account] = report.accounts
    expect(account).to.deep.include(aliceAt(issuer))
    expectExpiresIn(account.expiresAt, 3600)
  })

  it('keeps secrets in a 0600 credentials.json and none in the 0600 accounts.json index', async () => {
    // The files the shared browser sign-in wrote, as it wrote them.
    const {home} = signedIn
    const secrets = await onlyStoredSecrets(home)
    expect(secrets.accessToken).to.be.a('string').and.not.equal('')
    expect(secrets.refreshToken).to.be.a('string').and.not.equal('')
    const {index} = await storeSnapshot(home)
    for (const secret of [secrets.accessToken, secrets.refreshToken!, secrets.idToken].filter(Boolean)) {
      expect(index, 'accounts.json holds a secret').not.to.include(secret)
    }

    for (const file of ['accounts.json', 'credentials.json']) {
      expect((await stat(join(home.authDir, file))).mode & 0o777, file).to.equal(0o600)
    }
    expect((await stat(home.authDir)).mode & 0o777, 'auth dir').to.equal(0o700)
  })

  it('signs in with the device flow (--device); status --json shows the account', async () => {
    const login = await runAcmeExpecting(0, ['auth', 'login', '--device'], {home, env: issuerEnv(issuer)})
    expect(login.stdout).to.equal(`Signed in as Alice (alice) at ${issuer.issuer}.\n`)
    // The user code and where to enter it, for a user on another device.
    expect(login.stderr).to.include(`${issuer.issuer}/device`)
    // On a line of its own, as it is to be typed or pasted: "BCDF-GHJK".
    expect(login.stderr).to.match(/^ +[A-Z]{4}-[A-Z]{4}$/m)
    expect(issuer.counts).to.include({deviceCode: 1, authorizationCode: 0, refresh: 0})

    const report = await statusJson(home, issuerEnv(issuer))
    expect(report).to.include({loggedIn: true, source: 'store'})
    expect(report.accounts).to.have.length(1)
    expect(report.accounts[0]).to.deep.include(aliceAt(issuer))
    expectExpiresIn(report.accounts[0].expiresAt, 3600)
  })

  it('signs in as whoever signs in at the issuer (FAKE_BROWSER_LOGIN=bob)', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: issuerEnv(issuer, {FAKE_BROWSER_LOGIN: 'bob'})})
    const report = await statusJson(home)
    expect(report.accounts.map((account) => [account.subject, account.name, account.email])).to.deep.equal([
      ['bob', 'Bob', 'bob@example.com'],
    ])
    // That the API takes bob's token as bob's: whoami, in the next test.
  })

  it('a second login replaces the first as the default account', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: issuerEnv(issuer)})
    await runAcmeExpecting(0, ['auth', 'login', '--device'], {home, env: issuerEnv(issuer, {FAKE_BROWSER_LOGIN: 'bob'})})

    const report = await statusJson(home)
    expect(report.accounts.map((account) => [account.subject, account.default]).sort()).to.deep.equal([
      ['alice', false],
      ['bob', true],
    ])
    const whoami = await runAcmeExpecting(0, ['whoami'], {home, env: issuerEnv(issuer)})
    expect(whoami.stdout).to.equal('bob (Bob)\n')
  })

  it('--with-token stores an access token piped on stdin, without a refresh token', async () => {
    // A token made elsewhere: here, by the shared browser sign-in in another home (fresh: the stored
    // token is the one `auth token` prints there).
    const token = (await onlyStoredSecrets(signedIn.home)).accessToken

    const login = await runAcmeExpecting(0, ['auth', 'login', '--with-token'], {home, env: issuerEnv(issuer), input: `${token}\n`})
    expect(login.stdout).to.equal(`Signed in as Alice (alice) at ${issuer.issuer}.\n`)
    expect(issuer.counts).to.include({authorizationCode: 0, deviceCode: 0, refresh: 0})

    const report = await statusJson(home)
    expect(report).to.include({loggedIn: true, source: 'store'})
    expect(report.accounts).to.have.length(1)
    expect(report.accounts[0]).to.include({subject: 'alice', issuer: issuer.issuer, hasRefreshToken: false, default: true, storage: 'file'})
    expect((await readCredentialsFile(home)).accounts[`${issuer.issuer}|acme-cli|alice`]).to.deep.include({accessToken: token})

    const printed = await runAcmeExpecting(0, ['auth', 'token'], {home, env: issuerEnv(issuer)})
    expect(printed.stdout).to.equal(`${token}\n`)
    const whoami = await runAcmeExpecting(0, ['whoami'], {home, env: issuerEnv(issuer)})
    expect(whoami.stdout).to.equal('alice (Alice)\n')
  })

  it('works with an issuer mounted under a path (/realms/acme)', async () => {
    const realm = await startIssuer({path: '/realms/acme'})
    try {
      await runAcmeExpecting(0, ['auth', 'login'], {home, env: issuerEnv(realm)})
      expect(realm.counts.authorizationCode).to.equal(1)

      const report = await statusJson(home)
      expect(report.accounts).to.have.length(1)
      expect(report.accounts[0]).to.deep.include(aliceAt(realm))
      expect(report.accounts[0].issuer).to.match(/\/realms\/acme$/)

      // Fresh: the stored token is the one `auth token` prints.
      const token = (await onlyStoredSecrets(home)).accessToken
      expect(await userinfo(realm, token)).to.deep.include({status: 200})

      const whoami = await runAcmeExpecting(0, ['whoami'], {home, env: issuerEnv(realm)})
      expect(whoami.stdout).to.equal('alice (Alice)\n')

      await runAcmeExpecting(0, ['auth', 'logout'], {home, env: issuerEnv(realm)})
      expect(realm.counts.revocations).to.equal(1)
    } finally {
      await realm.close()
    }
  })
})
