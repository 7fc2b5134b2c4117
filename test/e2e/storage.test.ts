// Storage chosen through config, several accounts, migration between backends and damaged files —
// through the example host, as users meet them. (The keychain backend has its own suite.)
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {chmod, readdir, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {hostname} from 'node:os'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

import {startIssuer} from '../fixtures/issuer.js'
import {
  cleanEnv,
  errorMessage,
  issuerEnv,
  makeTempHome,
  nodeArgs,
  onlyStoredSecrets,
  warningMessages,
  type TempHome,
} from '../helpers/acme.js'
import {runAcmeExpecting, statusJson} from '../helpers/in-process.js'
import {MOVE_STEPS, expectKilledMidMove, expectMoveFinished, killAtStep} from '../helpers/kill-mid-step.js'
import {copyOfHome, issuerWithLogin} from '../helpers/signed-in.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

const FILE_VAULT = fileURLToPath(new URL('../../examples/credential-helper/file-vault.js', import.meta.url))

/** Every file under a folder, with its text: to prove no token was written where it must not be. */
async function filesUnder(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>()
  for (const entry of await readdir(dir, {recursive: true, withFileTypes: true}).catch(() => [])) {
    if (entry.isFile()) {
      const path = join(entry.parentPath ?? (entry as unknown as {path: string}).path, entry.name)
      files.set(path, await readFile(path, 'utf8'))
    }
  }
  return files
}

describe('e2e: storage, accounts, migration, damaged files', function () {
  this.timeout(180_000)
  let issuer: Issuer
  let home: TempHome
  let env: Record<string, string | undefined>
  /** alice's login (file storage), made once; see startSignedIn. */
  let signedIn: TempHome

  const shared = issuerWithLogin(runAcmeExpecting)
  before(() => ({issuer, signedIn} = shared))
  beforeEach(async () => {
    home = await makeTempHome()
    env = issuerEnv(issuer)
    issuer.resetCounts()
  })
  afterEach(() => home?.cleanup())

  /**
   * Start from a copy of alice's shared login (`acme auth login`, file storage) instead of an empty
   * home: for tests that neither refresh nor sign out alice, whose grant the copies share.
   */
  async function startSignedIn(): Promise<void> {
    await home.cleanup()
    home = await copyOfHome(signedIn)
  }

  describe('several accounts', () => {
    it('two users of one issuer: login adds, the newest is the default, --account and switch pick, logout removes one', async () => {
      await startSignedIn() // alice; only bob is signed out below
      await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, FAKE_BROWSER_LOGIN: 'bob'}})
      const status = await statusJson(home, env)
      expect(status.accounts.map((a) => [a.subject, a.default])).to.deep.equal([['alice', false], ['bob', true]])
      expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal('bob (Bob)\n')

      const aliceToken = (await runAcmeExpecting(0, ['auth', 'token', '--account', 'alice'], {home, env})).stdout.trim()
      const bobToken = (await runAcmeExpecting(0, ['auth', 'token'], {home, env})).stdout.trim()
      expect(aliceToken).to.not.equal(bobToken)

      expect((await runAcmeExpecting(0, ['auth', 'switch', 'alice@example.com'], {home, env})).stdout).to.include('Alice (alice)')
      expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal('alice (Alice)\n')
      // ACME_AUTH_ACCOUNT picks for every command, as --account does, without changing the default.
      expect((await runAcmeExpecting(0, ['whoami'], {home, env: {...env, ACME_AUTH_ACCOUNT: 'bob'}})).stdout).to.equal('bob (Bob)\n')
      expect((await runAcmeExpecting(0, ['auth', 'token'], {home, env: {...env, ACME_AUTH_ACCOUNT: 'bob@example.com'}})).stdout.trim()).to.equal(bobToken)
      const told = await runAcmeExpecting(0, ['auth', 'status'], {home, env: {...env, ACME_AUTH_ACCOUNT: 'bob'}})
      expect(told.stdout).to.match(/Commands use Bob \(bob\) at \S+: ACME_AUTH_ACCOUNT names it\.\n$/)
      const nobody = await runAcmeExpecting(2, ['whoami'], {home, env: {...env, ACME_AUTH_ACCOUNT: 'carol'}})
      expect(errorMessage(nobody.stderr)).to.include("No stored login matches 'carol' (ACME_AUTH_ACCOUNT)")
      // alice is still the default after those commands: ACME_AUTH_ACCOUNT changed nothing stored.
      expect((await runAcmeExpecting(0, ['auth', 'switch', 'alice'], {home, env})).stdout).to.match(/^Alice \(alice\) at \S+ is already the default account\.\n$/)
      // Two accounts and no argument: the other one, as gh does; and back.
      expect((await runAcmeExpecting(0, ['auth', 'switch'], {home, env})).stdout).to.include('Bob (bob) at')
      expect((await runAcmeExpecting(0, ['auth', 'switch'], {home, env})).stdout).to.include('Alice (alice) at')

      await runAcmeExpecting(0, ['auth', 'logout', '--account', 'bob'], {home, env})
      expect(issuer.counts.revocations).to.equal(1)
      const unknown = await runAcmeExpecting(2, ['auth', 'switch', 'carol'], {home, env})
      expect(errorMessage(unknown.stderr)).to.include("No stored login matches 'carol'")
      // The accounts that are left, as switch lists them: alice alone, and the default (*).
      const nothingElse = await runAcmeExpecting(2, ['auth', 'switch'], {home, env})
      expect(errorMessage(nothingElse.stderr)).to.include('There is only one: * Alice (alice)').and.include('acme auth login')
    })

    it('the default account is used whatever issuer is configured, and a host command can tell which issuer its token is for', async () => {
      const second = await startIssuer({path: '/realms/other'})
      try {
        await startSignedIn() // alice at the configured issuer; nothing below refreshes or signs her out
        await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...issuerEnv(second), FAKE_BROWSER_LOGIN: 'bob'}})
        // bob at the second issuer is the default now; env still names the first issuer.
        issuer.resetCounts()
        second.resetCounts()
        expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal('bob (Bob)\n')
        expect(second.counts.userinfo, 'whoami asked the issuer of the token (getSignedInAccount)').to.equal(1)
        expect(issuer.counts.userinfo, 'the configured issuer never saw the other issuer\'s token').to.equal(0)
        await runAcmeExpecting(0, ['auth', 'switch', 'alice'], {home, env})
        expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal('alice (Alice)\n')
      } finally {
        await second.close()
      }
    })

    it('two issuers at once, and logout --all removes every account and what the store held', async () => {
      const second = await startIssuer({path: '/realms/other'})
      try {
        await runAcmeExpecting(0, ['auth', 'login'], {home, env})
        await runAcmeExpecting(0, ['auth', 'login'], {home, env: issuerEnv(second)})
        const status = await statusJson(home, env)
        expect(status.accounts.map((a) => a.issuer)).to.deep.equal([issuer.issuer, second.issuer])
        // Same subject at both issuers: a name that fits two accounts is refused, not guessed.
        const ambiguous = await runAcmeExpecting(2, ['auth', 'token', '--account', 'alice'], {home, env})
        expect(errorMessage(ambiguous.stderr)).to.include('matches 2 accounts')

        // A writer killed between writing its temp file and the rename left a copy of the secrets.
        const leftover = join(home.authDir, 'credentials.json.4242.0123456789ab.tmp')
        await writeFile(leftover, await readFile(join(home.authDir, 'credentials.json'), 'utf8'))

        const out = await runAcmeExpecting(0, ['auth', 'logout', '--all'], {home, env})
        expect(out.stdout.trim().split('\n')).to.have.length(2)
        expect(issuer.counts.revocations + second.counts.revocations).to.equal(2)
        expect(await statusJson(home, env)).to.deep.equal({loggedIn: false, source: null, accounts: []})
        expect((await readdir(home.authDir)).filter((name) => name.startsWith('credentials.json'))).to.deep.equal([])
      } finally {
        await second.close()
      }
    })
  })

  describe('backends', () => {
    it('exec: a helper named by a relative path works, with one warning to use an absolute one', async () => {
      const helper = relative(home.root, FILE_VAULT) // acme runs in home.root
      for (const command of [helper, `node ${helper}`]) {
        const login = await runAcmeExpecting(0, ['auth', 'login', '--storage', `exec:${command}`], {home, env: {...env, FILE_VAULT_PATH: join(home.root, 'vault.json')}})
        expect(login.stderr, command).to.include(`The credential helper's '${helper}' is a relative path`).and.include('Use an absolute path in --storage.')
      }
    })

    it('exec: the example credential helper round-trips login, refresh and logout; no token lands in the data dir', async () => {
      const vault = join(home.root, 'vault', 'vault.json')
      const vaultEnv = {...env, ACME_AUTH_STORAGE: `exec:${FILE_VAULT}`, FILE_VAULT_PATH: vault}
      await runAcmeExpecting(0, ['auth', 'login'], {home, env: vaultEnv})
      const status = await statusJson(home, vaultEnv)
      expect(status.accounts[0].storage).to.equal(`exec:${FILE_VAULT}`)
      const token = (await runAcmeExpecting(0, ['auth', 'token'], {home, env: vaultEnv})).stdout.trim()
      expect(await readFile(vault, 'utf8')).to.include(token)
      for (const [path, text] of await filesUnder(home.dataDir)) expect(text, path).to.not.include(token)

      await runAcmeExpecting(0, ['auth', 'refresh'], {home, env: vaultEnv})
      expect(issuer.counts.refresh).to.equal(1)
      expect(await readFile(vault, 'utf8')).to.not.include(token)
      await runAcmeExpecting(0, ['whoami'], {home, env: vaultEnv})
      await runAcmeExpecting(0, ['auth', 'logout'], {home, env: vaultEnv})
      expect(JSON.parse(await readFile(vault, 'utf8'))['acme-auth']).to.deep.equal({})
    })

    it('auth login --storage pins the account: a different configured storage does not move it', async () => {
      const vault = {FILE_VAULT_PATH: join(home.root, 'vault.json')}
      await runAcmeExpecting(0, ['auth', 'login', '--storage', `exec:${FILE_VAULT}`], {home, env: {...env, ...vault}})
      // acme's package.json says storage: file; the pinned login stays with the helper, which runs
      // only while a setting of the user's names it (the index naming it is not enough).
      const unnamed = await runAcmeExpecting(1, ['whoami'], {home, env: {...env, ...vault}})
      const message = errorMessage(unnamed.stderr)
      expect(message).to.include('which no setting of yours names')
      // oclif wraps long words anywhere: compare without the spaces its wrapping leaves.
      expect(message.replaceAll(/\s/g, '')).to.include(`ACME_AUTH_STORAGE='exec:${FILE_VAULT}'`)
      await runAcmeExpecting(0, ['whoami'], {home, env: {...env, ...vault, ACME_AUTH_STORAGE: `exec:${FILE_VAULT}`}})
      expect((await statusJson(home, env)).accounts[0].storage).to.equal(`exec:${FILE_VAULT}`)
      const unknown = await runAcmeExpecting(2, ['auth', 'token', '--account', 'nobody'], {home, env: {...env, ...vault}})
      expect(errorMessage(unknown.stderr)).to.include("No stored login matches 'nobody'")
    })

    it('exec: a helper that fails says so in one line and the command stops', async () => {
      const helper = join(home.root, 'broken-helper.sh')
      await writeFile(helper, '#!/bin/sh\necho "vault is sealed" >&2\nexit 3\n')
      await chmod(helper, 0o755)
      const run = await runAcmeExpecting(1, ['auth', 'login'], {home, env: {...env, ACME_AUTH_STORAGE: `exec:${helper}`}})
      expect(errorMessage(run.stderr)).to.include('vault is sealed').and.include('credential helper')
    })

    it('memory: signs in for this process only, says so, and writes nothing', async () => {
      const login = await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, ACME_AUTH_STORAGE: 'memory'}})
      expect(login.stderr).to.include('ACME_AUTH_STORAGE says storage=memory: this login is not saved and ends with this command.')
      expect(await readdir(home.dataDir)).to.deep.equal([])
      await runAcmeExpecting(4, ['whoami'], {home, env: {...env, ACME_AUTH_STORAGE: 'memory'}})
    })

    // Spawned: the umask is the process's own, and this test sets it for the command alone.
    it('files are 0600 in 0700 folders even under umask 000', async () => {
      const child = spawn('sh', ['-c', `umask 000 && exec "${process.execPath}" ${nodeArgs(['auth', 'login']).map((arg) => `"${arg}"`).join(' ')}`], {env: cleanEnv(home, env), stdio: 'ignore'})
      expect(await new Promise((resolve) => child.on('close', resolve))).to.equal(0)
      for (const name of ['accounts.json', 'credentials.json']) {
        expect(((await stat(join(home.authDir, name))).mode & 0o777).toString(8), name).to.equal('600')
      }
      for (const dir of [home.authDir, join(home.authDir, 'locks')]) {
        expect(((await stat(dir)).mode & 0o777).toString(8), dir).to.equal('700')
      }
    })
  })

  describe('migration', () => {
    const vaultEnv = () => ({...env, ACME_AUTH_STORAGE: `exec:${FILE_VAULT}`, FILE_VAULT_PATH: join(home.root, 'vault.json')})

    it('file → helper → file: the next command moves each account once and removes the old copy', async () => {
      await startSignedIn() // stored in the file, as acme's storage setting says
      const token = (await runAcmeExpecting(0, ['auth', 'token'], {home, env})).stdout.trim()

      await runAcmeExpecting(0, ['whoami'], {home, env: vaultEnv()})
      expect((await statusJson(home, vaultEnv())).accounts[0].storage).to.match(/^exec:/)
      expect(await readFile(join(home.root, 'vault.json'), 'utf8')).to.include(token)
      expect(await readFile(join(home.authDir, 'credentials.json'), 'utf8')).to.not.include(token)

      expect(issuer.counts.refresh, 'moving is not refreshing').to.equal(0)

      // Back to the file: the helper is no longer named, so it is not run, and nothing moves by itself
      // (a helper named only by the index never runs). Signing in again with --storage file is the way.
      const stuck = await runAcmeExpecting(1, ['whoami'], {home, env: {...vaultEnv(), ACME_AUTH_STORAGE: 'file'}})
      expect(errorMessage(stuck.stderr)).to.include('which no setting of yours names')
      await runAcmeExpecting(0, ['auth', 'login', '--storage', 'file'], {home, env: {...vaultEnv(), ACME_AUTH_STORAGE: 'file'}})
      const [account] = (await statusJson(home, env)).accounts
      expect(account.storage).to.equal('file')
      // The copy in the helper is noted and removed once the helper is named again.
      expect(JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8')).accounts[0].migratingFrom).to.match(/^exec:/)
      await runAcmeExpecting(0, ['whoami'], {home, env: vaultEnv()})
      expect(JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8')).accounts[0].migratingFrom).to.equal(undefined)
      expect(await readFile(join(home.root, 'vault.json'), 'utf8')).to.not.include(token)
    })

    // The killed commands are spawned (killAtStep): a kill needs a process of its own. The next command runs in-process.
    it('killed at any point of a move, it loses nothing and finishes next time', async () => {
      await startSignedIn() // stored in the file
      // The token as stored: what `auth token` printed for this same login in the test above.
      const {accessToken: token} = await onlyStoredSecrets(home)
      const helper = `exec:${FILE_VAULT}`
      const holds = async (storage: string) => (await readFile(storage === 'file' ? join(home.authDir, 'credentials.json') : join(home.root, 'vault.json'), 'utf8').catch(() => '')).includes(token)
      const account = async () => JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8')).accounts[0]
      // Every step of a move into the helper: the command is killed exactly there
      // (helpers/kill-mid-step.ts). Each round starts from the login in the file, since a move out of a
      // helper is never automatic (the keychain suite kills at every step in both directions).
      const inFile = await snapshotAuth(home)
      for (const step of MOVE_STEPS) {
        await restoreAuth(home, inFile)
        const [from, to] = ['file', helper]
        const moving = {...vaultEnv(), ACME_AUTH_STORAGE: to}
        const where = `killed at ${step}, moving to ${to}`
        const pid = await killAtStep(step, ['auth', 'token'], home, moving)

        // Where the kill landed, as the files show it.
        if (step === 'migrate:locked') {
          const lock = JSON.parse(await readFile(join(home.authDir, 'locks', 'store.lock'), 'utf8'))
          expect([lock.pid, lock.host], `${where}: the dead holder's store lock`).to.deep.equal([pid, hostname()])
        }
        await expectKilledMidMove({account, holds}, step, from, to, where)

        // Whatever state the kill left, the next command finishes the move and the login works.
        const next = await runAcmeExpecting(0, ['auth', 'token'], {home, env: moving})
        expect(next.stdout.trim(), where).to.equal(token)
        await expectMoveFinished({account, holds}, from, to, where)
      }
      expect(issuer.counts.refresh, 'moving is not refreshing').to.equal(0)
    })
  })

  describe('damaged files', () => {
    const damagedIndexes = [['truncated', '{"version":1,"gen":3,"defaultAcc'], ['garbage', '\u0000\u00ffnot json'], ['hand-edited', '{"version":1,"gen":"three","defaultAccount":null,"accounts":[],"tombstones":{}}']]
    for (const [name, bytes] of damagedIndexes) {
      it(`a ${name} index: exit 1, one line naming the file and the next step, the bytes kept aside, login works again`, async () => {
        await startSignedIn()
        await writeFile(join(home.authDir, 'accounts.json'), bytes)
        const run = await runAcmeExpecting(1, ['whoami'], {home, env})
        const message = errorMessage(run.stderr)
        expect(message).to.include(join(home.authDir, 'accounts.json')).and.include('acme auth login')
        const kept = (await readdir(home.authDir)).filter((file) => file.startsWith('accounts.json.corrupt-'))
        expect(kept).to.have.length(1)
        expect(await readFile(join(home.authDir, kept[0]), 'utf8')).to.equal(bytes)
        await runAcmeExpecting(0, ['auth', 'login'], {home, env})
        // With the bad bytes set aside every case is the same state from here: one whoami proves the new login is used.
        if (name === damagedIndexes[0][0]) await runAcmeExpecting(0, ['whoami'], {home, env})
      })
    }

    it('a damaged credentials file: exit 1 naming it; a login stored elsewhere keeps working', async () => {
      // The helper has to stay named in the settings: an index naming it is never enough (issue 10).
      const vault = {ACME_AUTH_STORAGE: `exec:${FILE_VAULT}`, FILE_VAULT_PATH: join(home.root, 'vault.json')}
      await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, ...vault, FAKE_BROWSER_LOGIN: 'bob'}})
      await runAcmeExpecting(0, ['auth', 'login', '--storage', 'file'], {home, env: {...env, ...vault, FAKE_BROWSER_LOGIN: 'alice'}})
      await writeFile(join(home.authDir, 'credentials.json'), '{"version":1,"accounts":{"x":')
      const run = await runAcmeExpecting(1, ['whoami'], {home, env: {...env, ...vault}})
      expect(errorMessage(run.stderr)).to.include(join(home.authDir, 'credentials.json'))
      expect((await runAcmeExpecting(0, ['auth', 'token', '--account', 'bob'], {home, env: {...env, ...vault}})).stdout).to.match(/\S/)
      // Once the damaged file is set aside, alice's login is gone from it: said as such, not as a keychain problem.
      const again = errorMessage((await runAcmeExpecting(1, ['whoami'], {home, env: {...env, ...vault}})).stderr)
      expect(again).to.include('the file was removed, moved aside or edited').and.include('acme auth login').and.not.match(/unlock/i)
    })

    it('a damaged credentials file does not throw away a completed sign-in: it is set aside and the login saved in a fresh file', async () => {
      await startSignedIn() // signing in again over it neither refreshes nor revokes the shared grant
      const damaged = '{"version":1,"accounts":{"x":'
      await writeFile(join(home.authDir, 'credentials.json'), damaged)
      const login = await runAcmeExpecting(0, ['auth', 'login'], {home, env})
      const [warning] = warningMessages(login.stderr)
      expect(warning).to.include(`${join(home.authDir, 'credentials.json')} is damaged`).and.include('The new login is saved in a fresh file.')
      const kept = (await readdir(home.authDir)).filter((file) => file.startsWith('credentials.json.corrupt-'))
      expect(kept).to.have.length(1)
      expect(await readFile(join(home.authDir, kept[0]), 'utf8')).to.equal(damaged)
      await runAcmeExpecting(0, ['whoami'], {home, env})
    })
  })
})

/** The auth folder's files (and the vault), to start a round of a test from the same state. */
async function snapshotAuth(home: TempHome): Promise<Map<string, string>> {
  const files = new Map<string, string>()
  for (const name of ['accounts.json', 'credentials.json']) files.set(join(home.authDir, name), await readFile(join(home.authDir, name), 'utf8'))
  return files
}

async function restoreAuth(home: TempHome, files: Map<string, string>): Promise<void> {
  for (const [path, text] of files) await writeFile(path, text, {mode: 0o600})
  await rm(join(home.root, 'vault.json'), {force: true})
}
