// Issue 10, the machine side: whoever else can write on this machine must not get a program of
// theirs run, a store of theirs read, our login lost or stalled, a folder of theirs chmod'ed, or the
// token handed to programs the host starts when the host says not to. Each attack is performed for
// real against examples/acme and a real issuer, and each of these tests passed as an attack on the
// code before the defences (bef05c4; see the report of issue 10).

import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {chmod, mkdir, readdir, readFile, rm, symlink, utimes, writeFile} from 'node:fs/promises'
import {hostname} from 'node:os'
import {join} from 'node:path'

import {
  describeRun,
  errorMessage,
  makeHostVariant,
  makeTempHome,
  runAcmeExpecting as spawnAcmeExpecting,
  startRequestRecorder,
  storeSnapshot,
  type RunResult,
  type TempHome,
} from '../helpers/acme.js'
import {runAcme, runAcmeExpecting} from '../helpers/in-process.js'
import {
  asOtherUser,
  baitLogin,
  exists,
  loginFiles,
  modeOf,
  processEnded,
  removeAsRoot,
  sharedTempPath,
  shellQuote,
  treeSnapshot,
  waitFor,
  writeLogin,
  writeMarkerHelper,
} from '../helpers/hostile.js'
import {copyOfHome, issuerWithLogin, type Issuer} from '../helpers/signed-in.js'
import {expireIn} from '../helpers/store-time.js'

type Recorder = Awaited<ReturnType<typeof startRequestRecorder>>

/** The one error line of a refused command: exit 1, nothing on stdout. */
function refused(result: RunResult, args: string[]): string {
  expect(result.code, describeRun(args, result)).to.equal(1)
  expect(result.stdout, 'stdout').to.equal('')
  return errorMessage(result.stderr)
}

describe('e2e: a hostile machine (issue 10)', function () {
  this.timeout(60_000)
  let issuer: Issuer
  let env: Record<string, string | undefined>
  let home: TempHome
  let recorder: Recorder
  /** alice, signed in once: what the tests whose commands never send her refresh token start from. */
  let signedIn: TempHome

  const shared = issuerWithLogin(runAcmeExpecting)
  before(() => ({issuer, env, signedIn} = shared))
  beforeEach(async () => {
    home = await makeTempHome()
    recorder = await startRequestRecorder()
    issuer.resetCounts()
  })
  afterEach(async () => {
    await recorder?.close()
    await home?.cleanup()
  })

  /** For the tests that refresh: a login of this test's own (a copy would share its grant, see copyOfHome). */
  async function signIn(): Promise<void> {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    issuer.resetCounts()
  }

  /**
   * For the tests whose commands never send the refresh token (refused before they could, or served by
   * the fresh access token): a copy of the shared login, as if this test had signed in. The copy keeps the store's modes (0700 folders, 0600
   * files) and is owned by us, like a login of its own: what the attacks below change starts from the same.
   */
  async function signedInCopy(): Promise<void> {
    await home.cleanup()
    home = await copyOfHome(signedIn)
    issuer.resetCounts()
  }

  async function indexOf(authDir = home.authDir): Promise<{accounts: Array<{key: string; storage: string}>}> {
    return JSON.parse(await readFile(join(authDir, 'accounts.json'), 'utf8'))
  }

  describe('1. a program named in the index (storage: "exec:<command>")', () => {
    let helper: string
    let marker: string

    beforeEach(async () => {
      // The secrets are behind the planted helper, which never runs: no refresh token can be sent.
      await signedInCopy()
      ;({helper, marker} = await writeMarkerHelper(home.root))
      const index = await indexOf()
      for (const account of index.accounts) account.storage = `exec:${helper}`
      await writeFile(join(home.authDir, 'accounts.json'), JSON.stringify(index))
      // Inside the refresh-ahead window (the last five minutes of an hour's token), not expired.
      await expireIn(home, 30)
    })

    // Spawned (this and the next): the debug module reads DEBUG from the environment of the process that loads it.
    it('acme hello, refreshing ahead in the background: the detached refresh does not run it', async () => {
      const run = await spawnAcmeExpecting(0, ['hello'], {home, env: {...env, ACME_AUTH_REFRESH_AHEAD: 'background', DEBUG: '*'}})
      expect(run.stdout).to.equal('hello from acme\n')
      const started = /in process (\d+)/.exec(run.stderr)
      expect(started, `the init hook started a background refresh:\n${run.stderr}`).to.not.equal(null)
      await waitFor(() => processEnded(Number(started![1])), 20_000, 'the background refresh to end')
      expect(await exists(marker), 'the planted helper ran').to.equal(false)
    })

    it('acme hello, refreshing ahead inline: does not run it', async () => {
      const run = await spawnAcmeExpecting(0, ['hello'], {home, env: {...env, ACME_AUTH_REFRESH_AHEAD: 'inline', DEBUG: '*'}})
      expect(run.stdout).to.equal('hello from acme\n')
      expect(run.stderr, 'the init hook tried a refresh ahead').to.match(/refresh ahead: /)
      expect(await exists(marker), 'the planted helper ran').to.equal(false)
    })

    it('auth token and whoami: exit 1, one line naming the setting to set; the helper runs only once a setting names it', async () => {
      for (const args of [['auth', 'token'], ['whoami']]) {
        const result = await runAcme(args, {home, env})
        expect(await exists(marker), `the planted helper ran (acme ${args.join(' ')})`).to.equal(false)
        expect(refused(result, args)).to.include(`'${helper}'`).and.include(`ACME_AUTH_STORAGE='exec:${helper}'`)
      }
      // The check above can see a run: named by the user's own setting, the helper does run.
      await runAcmeExpecting(1, ['auth', 'token'], {home, env: {...env, ACME_AUTH_STORAGE: `exec:${helper}`}})
      expect(await readFile(marker, 'utf8')).to.equal('get\n')
    })
  })

  describe('2. a data or config folder someone else prepared', () => {
    let shared: string | undefined

    afterEach(async () => {
      if (shared) await removeAsRoot(shared)
      shared = undefined
    })

    /**
     * Each command refused with one line naming the path (and the variable that moves it), after
     * what the attack is after was checked: no planted helper run, no request to the issuer the
     * planted store or settings name, the planted login nowhere in the output.
     */
    async function expectRefusals(commands: string[][], runEnv: Record<string, string | undefined>, named: {path: string; variable?: string}, marker?: string): Promise<void> {
      for (const args of commands) {
        const result = await runAcme(args, {home, env: runEnv})
        const shown = `acme ${args.join(' ')}`
        if (marker) expect(await exists(marker), `${shown} ran the planted helper`).to.equal(false)
        expect(recorder.requests, `${shown} asked the issuer the planted store or settings name`).to.deep.equal([])
        expect(result.stdout + result.stderr, `${shown} showed the planted login`).to.not.include('bait')
        const message = refused(result, args)
        expect(message, shown).to.include(`Refusing to use ${named.path}:`)
        if (named.variable) expect(message, shown).to.include(`set ${named.variable} to a folder of your own`)
      }
      expect(issuer.counts.authorizationCode + issuer.counts.tokenRequests, 'sign-ins or refreshes at the configured issuer').to.equal(0)
    }

    const ALL = [['auth', 'token'], ['auth', 'status'], ['auth', 'login'], ['whoami']]

    it('ACME_DATA_DIR that another user created first (uid 65534, 0777, a store in it): refused, nothing read or written', async () => {
      shared = await sharedTempPath('acme-data')
      const bait = loginFiles(baitLogin(recorder.url))
      await asOtherUser(
        `mkdir -m 0777 ${shellQuote(shared)} ${shellQuote(`${shared}/auth`)} && printf %s ${shellQuote(bait.index)} > ${shellQuote(`${shared}/auth/accounts.json`)} && printf %s ${shellQuote(bait.credentials)} > ${shellQuote(`${shared}/auth/credentials.json`)}`,
      )
      const before = await treeSnapshot(shared)
      expect(before[shared], 'the other user made it').to.deep.include({uid: 65534, mode: '777'})

      await expectRefusals(ALL, {...env, ACME_DATA_DIR: shared}, {path: shared, variable: 'ACME_DATA_DIR'})
      // A command without auth still runs, and its init hook reads nothing there either.
      const hello = await runAcmeExpecting(0, ['hello'], {home, env: {...env, ACME_DATA_DIR: shared, ACME_AUTH_REFRESH_AHEAD: 'inline'}})
      expect(hello.stdout).to.equal('hello from acme\n')
      expect(recorder.requests).to.deep.equal([])
      expect(await treeSnapshot(shared), 'the shared folder afterwards').to.deep.equal(before)
    })

    it('a symlinked <dataDir>/auth, a symlinked accounts.json or credentials.json: refused, the target neither read nor written', async () => {
      const elsewhere = join(home.root, 'elsewhere')
      await writeLogin(elsewhere, baitLogin(recorder.url))
      const before = await treeSnapshot(elsewhere)
      await symlink(elsewhere, home.authDir)
      await expectRefusals([['auth', 'token'], ['auth', 'status']], env, {path: home.authDir})

      // One of the two files a symlink into that store, the other a copy of it.
      for (const [linked, copied, commands] of [
        ['accounts.json', 'credentials.json', [['auth', 'token'], ['auth', 'status']]],
        ['credentials.json', 'accounts.json', [['auth', 'token']]],
      ] as const) {
        await rm(home.authDir, {recursive: true, force: true})
        await mkdir(home.authDir, {mode: 0o700})
        await writeFile(join(home.authDir, copied), await readFile(join(elsewhere, copied)), {mode: 0o600})
        await symlink(join(elsewhere, linked), join(home.authDir, linked))
        await expectRefusals(commands.map((args) => [...args]), env, {path: join(home.authDir, linked)})
      }
      expect(await treeSnapshot(elsewhere), 'the symlinks\' target afterwards').to.deep.equal(before)
    })

    it('a <dataDir>/auth that others can write (0770, 0777): refused, its mode and contents left as they are', async () => {
      await signedInCopy()
      for (const mode of [0o770, 0o777]) {
        await chmod(home.authDir, mode)
        const before = await treeSnapshot(home.authDir)
        const message = refused(await runAcme(['auth', 'token'], {home, env}), ['auth', 'token'])
        expect(message).to.include(`Refusing to use ${home.authDir}: it can be written by other users`).and.include('chmod go-w')
        expect(await treeSnapshot(home.authDir)).to.deep.equal(before)
      }
      expect(issuer.counts.tokenRequests).to.equal(0)
    })

    it('ACME_CONFIG_DIR that another user created, with an auth.json naming a helper and an issuer: not read, nothing run', async () => {
      await signedInCopy()
      const {helper, marker} = await writeMarkerHelper(home.root)
      shared = await sharedTempPath('acme-config')
      const settings = JSON.stringify({issuer: recorder.url, storage: `exec:${helper}`})
      await asOtherUser(`mkdir -m 0777 ${shellQuote(shared)} && printf %s ${shellQuote(settings)} > ${shellQuote(`${shared}/auth.json`)}`)
      const before = await treeSnapshot(shared)
      const store = await storeSnapshot(home)

      await expectRefusals(ALL, {...env, ACME_AUTH_ISSUER: undefined, ACME_CONFIG_DIR: shared}, {path: shared, variable: 'ACME_CONFIG_DIR'}, marker)
      expect(await treeSnapshot(shared)).to.deep.equal(before)
      expect(await storeSnapshot(home), 'our own login').to.deep.equal(store)
    })

    it('a symlinked auth.json naming a helper: not read, nothing run', async () => {
      await signedInCopy()
      const {helper, marker} = await writeMarkerHelper(home.root)
      const target = join(home.root, 'their-settings.json')
      await writeFile(target, JSON.stringify({issuer: recorder.url, storage: `exec:${helper}`}), {mode: 0o600})
      await symlink(target, join(home.configDir, 'auth.json'))

      await expectRefusals(ALL, {...env, ACME_AUTH_ISSUER: undefined}, {path: join(home.configDir, 'auth.json')}, marker)
    })
  })

  describe('3. planted lock files', () => {
    /** A lock naming a live pid (1) that never started it, dated ten years ahead. */
    async function plantLock(path: string): Promise<void> {
      await writeFile(path, JSON.stringify({pid: 1, host: hostname(), nonce: 'planted', since: new Date().toISOString()}), {mode: 0o600})
      const future = new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000)
      await utimes(path, future, future)
    }

    beforeEach(signIn)

    it('an account lock (pid 1, far-future mtime): auth refresh takes it over within the heartbeat time (10 s), not a 30 s wait and exit 75', async () => {
      const {key} = (await indexOf()).accounts[0]
      await plantLock(join(home.authDir, 'locks', `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.lock`))
      const started = Date.now()
      const run = await runAcme(['auth', 'refresh'], {home, env, timeoutMs: 45_000})
      const took = Date.now() - started
      expect(run.code, describeRun(['auth', 'refresh'], run)).to.equal(0)
      expect(took, 'ms auth refresh took').to.be.below(20_000)
      expect(issuer.counts.refresh).to.equal(1)
    })

    it('a store lock (pid 1, far-future mtime): the refresh waits it out and keeps the renewed login', async function () {
      // On the old code the refreshed login waited two minutes for this lock and was then lost: let
      // that show as what it is rather than as a timeout of ours.
      this.timeout(180_000)
      const storeLock = join(home.authDir, 'locks', 'store.lock')
      await plantLock(storeLock)
      const started = Date.now()
      const run = await runAcme(['auth', 'refresh'], {home, env, timeoutMs: 150_000})
      const took = Date.now() - started
      expect(issuer.counts, 'the issuer renewed the login once').to.deep.include({refresh: 1, refreshReuse: 0})
      // What was saved is the issuer's newest refresh token: the next refresh works, no reuse. (The
      // planted file is gone by now; the old code needed it deleted by hand, as its message said.)
      await rm(storeLock, {force: true})
      const next = await runAcme(['auth', 'refresh'], {home, env})
      expect(issuer.counts, 'the next refresh sent the renewed refresh token').to.deep.include({refresh: 2, refreshReuse: 0})
      expect(next.code, describeRun(['auth', 'refresh'], next)).to.equal(0)
      expect(run.code, describeRun(['auth', 'refresh'], run)).to.equal(0)
      expect(took, 'ms the first auth refresh took').to.be.below(20_000)
    })
  })

  it('7. a symlinked locks folder: the command refuses and the target keeps its mode (0755)', async () => {
    await signedInCopy()
    const target = join(home.root, 'someone-elses-folder')
    await mkdir(target)
    await chmod(target, 0o755)
    const locks = join(home.authDir, 'locks')
    await rm(locks, {recursive: true, force: true})
    await symlink(target, locks)
    for (const args of [['auth', 'refresh'], ['auth', 'login']]) {
      const result = await runAcme(args, {home, env})
      expect(await modeOf(target), `mode of the target after acme ${args.join(' ')}`).to.equal('755')
      expect(await readdir(target), 'files made in the target').to.deep.equal([])
      expect(refused(result, args), `acme ${args.join(' ')}`).to.include(`Refusing to use ${locks}: it is a symbolic link`)
    }
    expect(issuer.counts.refresh, 'no refresh token sent without a place to save the answer').to.equal(0)
  })

  // Spawned: the example's env command starts its child with process.env, as a host command would.
  it('10. exportToken: false in the host: a child process does not see ACME_ACCESS_TOKEN, getAccessToken() still works', async () => {
    // A fresh token: env uses it as it is, no refresh.
    await signedInCopy()
    const variant = await makeHostVariant((auth) => ({...auth, exportToken: false}))
    try {
      // The check can see a token: acme itself exports it.
      const exported = await spawnAcmeExpecting(0, ['env'], {home, env})
      expect(exported.stdout).to.equal('ACME_ACCESS_TOKEN in a child process: set\ngetAccessToken(): a token\n')
      const kept = await spawnAcmeExpecting(0, ['env'], {home, env, bin: variant.bin})
      expect(kept.stdout).to.equal('ACME_ACCESS_TOKEN in a child process: not set\ngetAccessToken(): a token\n')
    } finally {
      await variant.cleanup()
    }
  })
})
