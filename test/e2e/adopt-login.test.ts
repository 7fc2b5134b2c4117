// Issue 23: a host that adopts the plugin takes over the login its earlier code kept in plain text
// (examples/acme: `<configDir>/config.json`, from its own init hook through adoptLogin()). Real parts:
// the legacy file holds a real token and refresh token from an earlier `acme auth login` at the test
// issuer, commands are real acme processes, kills land at the named steps of the adoption.
import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {chmod, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {discoveryOf, loginSnapshot, onlyStoredSecrets, refreshAtIssuer, runAcme as spawnAcme, runAcmeExpecting as spawnAcmeExpecting, statusJson as spawnedStatusJson, warningMessages, type TempHome} from '../helpers/acme.js'
import {runAcmeExpecting, statusJson} from '../helpers/in-process.js'
import {killAtStep} from '../helpers/kill-mid-step.js'
import {KEPT_SETTINGS, legacyFile, moveLoginToLegacyFile, readIndexFile, readLegacyFile, writeLegacyFile} from '../helpers/legacy-login.js'
import {lifecycleSuite} from '../helpers/lifecycle-suite.js'
import {ADOPTION_STEPS} from '../../src/session/adopt-login.js'

const MODULE_RECORDER = new URL('../fixtures/module-recorder.mjs', import.meta.url).href

describe('e2e: adopting the login a host already has (acme\'s legacy config.json)', function () {
  this.timeout(180_000)
  const suite = lifecycleSuite(runAcmeExpecting)

  /** A home whose only login is in acme's legacy file, from a sign-in of its own (its own grant). */
  async function legacyHome(options: {accessTokenOnly?: boolean} = {}): Promise<{home: TempHome; tokens: {accessToken: string; refreshToken: string}}> {
    const home = await suite.signInHere()
    const tokens = await moveLoginToLegacyFile(home, options)
    suite.issuer.resetCounts()
    return {home, tokens}
  }

  /** The issuer forgets an access token (RFC 7009 revocation): from now on an API answers 401 to it. */
  async function revokeAccessToken(accessToken: string): Promise<void> {
    const {revocation_endpoint: revocation} = await discoveryOf(suite.issuer)
    const revoked = await fetch(revocation!, {
      method: 'POST',
      headers: {'content-type': 'application/x-www-form-urlencoded'},
      body: new URLSearchParams({token: accessToken, token_type_hint: 'access_token', client_id: suite.issuer.clientId}),
    })
    expect(revoked.status).to.equal(200)
  }

  /** The legacy file kept everything but the two token fields of the current context. */
  async function expectTokensRemoved(home: TempHome): Promise<void> {
    expect(await readLegacyFile(home), legacyFile(home)).to.deep.equal(KEPT_SETTINGS)
  }

  it('the first command adopts it: whoami works, the file loses its token fields and keeps the rest, status shows the stored account', async () => {
    const {home, tokens} = await legacyHome()
    const first = await runAcmeExpecting(0, ['whoami'], {home, env: suite.env})
    expect(first.stdout).to.equal('alice (Alice)\n')
    expect(warningMessages(first.stderr), 'nothing to say when it worked').to.deep.equal([])
    expect(suite.issuer.counts.refresh, 'one refresh told whose login it is').to.equal(1)
    await expectTokensRemoved(home)

    const status = await statusJson(home, suite.env)
    expect(status.source).to.equal('store')
    expect(status.accounts).to.have.length(1)
    const [account] = status.accounts
    expect(account).to.include({subject: 'alice', name: 'Alice', storage: 'file', hasRefreshToken: true, default: true})
    expect(Date.parse(account.expiresAt!), 'the refresh told until when').to.be.greaterThan(Date.now())
    const stored = await onlyStoredSecrets(home)
    expect(stored.refreshToken, 'the rotated refresh token is kept, not the spent one').to.be.a('string').and.not.equal(tokens.refreshToken)
    expect((await readIndexFile(home))?.adoption?.state).to.equal('done')

    // Once done, nothing more: no refresh, no read of the file, the same answer.
    expect((await runAcmeExpecting(0, ['whoami'], {home, env: suite.env})).stdout).to.equal('alice (Alice)\n')
    expect(suite.issuer.counts.refresh).to.equal(1)
    expect(suite.issuer.counts.refreshReuse, 'the spent legacy refresh token was never sent again').to.equal(0)
    for (const secret of [tokens.accessToken, tokens.refreshToken, stored.accessToken, stored.refreshToken!]) expect(first.stdout + first.stderr, 'a token in the output').not.to.include(secret)

    // The hot path again: acme's hook finds no token in its file and loads nothing of the plugin's.
    const modules = join(home.root, 'modules.txt')
    // Spawned: what a new process loads is what is measured.
    await spawnAcmeExpecting(0, ['hello'], {home, env: {...suite.env, NODE_OPTIONS: `--import=${MODULE_RECORDER}`, RECORD_MODULES: modules}})
    const ours = (await readFile(modules, 'utf8')).split('\n').filter((url) => url.includes('/dist/'))
    expect([...new Set(ours.map((url) => url.replace(/^.*\/dist\//, '')))], 'files of ours loaded').to.deep.equal(['hooks/index.js'])
  })

  it('once done, a command loads none of the adoption code and does not read the file, even when it holds tokens again', async () => {
    const {home} = await legacyHome()
    await runAcmeExpecting(0, ['hello'], {home, env: suite.env})
    expect((await readIndexFile(home))?.adoption?.state).to.equal('done')
    // The old CLI signed in again and wrote its file: adoption happened once, and is not redone.
    await writeLegacyFile(home, {token: 'Bearer written-again', refreshtoken: 'written-again'})
    const modules = join(home.root, 'modules.txt')
    // Spawned: what a new process loads is what is measured.
    const run = await spawnAcmeExpecting(0, ['hello'], {home, env: {...suite.env, NODE_OPTIONS: `--import=${MODULE_RECORDER}`, RECORD_MODULES: modules}})
    expect(warningMessages(run.stderr)).to.deep.equal([])
    const loaded = (await readFile(modules, 'utf8')).split('\n')
    expect(loaded.some((url) => url.endsWith('/dist/index.js')), 'acme\'s hook did call adoptLogin()').to.equal(true)
    expect(loaded.filter((url) => /\/dist\/session\/(adopt-login|context)\.js$/.test(url)), 'adoption code loaded').to.deep.equal([])
    expect((await readLegacyFile(home)).contexts.work.refreshtoken, 'left as it is').to.equal('written-again')
    expect(suite.issuer.counts.refresh).to.equal(1)
  })

  it('8 commands started together adopt once: one refresh, all succeed, one account', async () => {
    const {home} = await legacyHome()
    // Spawned: eight processes at once.
    const runs = await Promise.all(Array.from({length: 8}, () => spawnAcme(['whoami'], {home, env: suite.env})))
    for (const run of runs) expect(run.code, run.stderr).to.equal(0)
    for (const run of runs) expect(run.stdout).to.equal('alice (Alice)\n')
    expect(suite.issuer.counts.refresh, 'refreshes').to.equal(1)
    expect(suite.issuer.counts.refreshReuse, 'reused refresh tokens').to.equal(0)
    expect((await statusJson(home, suite.env)).accounts).to.have.length(1)
    await expectTokensRemoved(home)
  })

  for (const step of Object.values(ADOPTION_STEPS)) {
    it(`a command killed at ${step} loses nothing, and the next one finishes the adoption`, async () => {
      const {home} = await legacyHome()
      await killAtStep(step, ['hello'], home, suite.env)
      const legacy = (await readLegacyFile(home)).contexts.work
      const index = await readIndexFile(home)
      if (step === ADOPTION_STEPS.read) {
        expect(legacy.refreshtoken, 'killed before the save: the old copy is still there').to.be.a('string')
        expect(index?.accounts ?? [], 'and nothing was saved').to.deep.equal([])
        expect(suite.issuer.counts.refresh, 'nor sent').to.equal(0)
      } else {
        expect(index?.accounts, 'killed after the save: the login is kept').to.have.length(1)
        expect(index?.adoption?.state, 'and only the clearing is left').to.equal('clear')
        expect(legacy.refreshtoken === undefined, 'the old copy is cleared only at the last step').to.equal(step === ADOPTION_STEPS.cleared)
      }

      const next = await runAcmeExpecting(0, ['whoami'], {home, env: suite.env})
      expect(next.stdout).to.equal('alice (Alice)\n')
      expect(warningMessages(next.stderr)).to.deep.equal([])
      expect(suite.issuer.counts.refresh, 'one refresh in all: the next command only clears').to.equal(1)
      expect(suite.issuer.counts.refreshReuse).to.equal(0)
      await expectTokensRemoved(home)
      // Killed after clear(): acme's hook finds no token in its file and returns before loading the
      // plugin, so the note may stay at "only clearing left", which would clear and never read.
      expect((await readIndexFile(home))?.adoption?.state).to.equal(step === ADOPTION_STEPS.cleared ? 'clear' : 'done')
    })
  }

  it('a clear() that fails is retried by the next command, with a warning that names the file; the login is kept meanwhile', async () => {
    const {home} = await legacyHome()
    // The file's folder cannot be written: acme's clear() (a new file renamed over the old) fails.
    await writeProtect(home.configDir, true)
    try {
      const first = await runAcmeExpecting(0, ['whoami'], {home, env: suite.env})
      expect(first.stdout).to.equal('alice (Alice)\n')
      const warnings = warningMessages(first.stderr)
      expect(warnings).to.have.length(1)
      expect(warnings[0]).to.include(`Could not remove the old login from ${legacyFile(home)}`).and.include('the next command tries again')
      expect((await readLegacyFile(home)).contexts.work.refreshtoken, 'still there').to.be.a('string')
    } finally {
      await writeProtect(home.configDir, false)
    }
    const next = await runAcmeExpecting(0, ['hello'], {home, env: suite.env})
    expect(warningMessages(next.stderr)).to.deep.equal([])
    await expectTokensRemoved(home)
    expect(suite.issuer.counts.refresh, 'the retry only clears').to.equal(1)
  })

  it('an account signed in since is never overwritten by the stale legacy token; the old copy is only cleared', async () => {
    const home = await suite.signInHere()
    // Tokens of an older login of the same user: real ones, from a sign-in of their own.
    const older = await legacyHome()
    const stale = await readLegacyFile(older.home)
    await writeLegacyFile(home, {token: stale.contexts.work.token, refreshtoken: stale.contexts.work.refreshtoken})
    const before = await loginSnapshot(home)
    suite.issuer.resetCounts()

    const run = await runAcmeExpecting(0, ['whoami'], {home, env: suite.env})
    expect(run.stdout).to.equal('alice (Alice)\n')
    expect(suite.issuer.counts.refresh, 'the legacy refresh token was not sent').to.equal(0)
    const after = await loginSnapshot(home)
    expect(after.credentials, 'the newer login, byte for byte').to.equal(before.credentials)
    const {adoption: _, ...logins} = after.index as {adoption?: unknown}
    expect(logins).to.deep.equal(before.index)
    await expectTokensRemoved(home)
  })

  it('a legacy refresh token the issuer rejects: cleared, with one message to sign in, said once', async () => {
    const {home, tokens} = await legacyHome()
    // Spent elsewhere: the issuer rotated it, so it answers invalid_grant from now on.
    expect((await refreshAtIssuer(suite.issuer, tokens.refreshToken)).status).to.equal(200)
    suite.issuer.resetCounts()

    const first = await runAcmeExpecting(0, ['hello'], {home, env: suite.env})
    expect(first.stdout).to.equal('hello from acme\n')
    const warnings = warningMessages(first.stderr)
    expect(warnings, first.stderr).to.have.length(1)
    expect(warnings[0]).to.include(`no longer accepts the login kept in ${legacyFile(home)}`).and.include('acme auth login')
    await expectTokensRemoved(home)
    expect((await statusJson(home, suite.env)).loggedIn).to.equal(false)

    const second = await runAcmeExpecting(0, ['hello'], {home, env: suite.env})
    expect(warningMessages(second.stderr), 'said once').to.deep.equal([])
    await runAcmeExpecting(4, ['whoami'], {home, env: suite.env})
  })

  it('an issuer outage: nothing is cleared or lost, the next commands do not wait for it, and a later command adopts', async () => {
    const {home} = await legacyHome()
    suite.issuer.setTokenFailure(503)
    const during = await runAcmeExpecting(0, ['hello'], {home, env: suite.env})
    const warnings = warningMessages(during.stderr)
    expect(warnings).to.have.length(1)
    expect(warnings[0]).to.include(`Could not take over the login kept in ${legacyFile(home)} now`).and.include('Nothing was changed; a command tries again in 1 minute')
    expect((await readLegacyFile(home)).contexts.work.refreshtoken, 'the old copy is still there').to.be.a('string')
    expect((await readIndexFile(home))?.accounts ?? []).to.deep.equal([])
    const asked = suite.issuer.counts.tokenRequests

    const next = await runAcmeExpecting(0, ['hello'], {home, env: suite.env})
    expect(warningMessages(next.stderr), 'said once').to.deep.equal([])
    expect(suite.issuer.counts.tokenRequests, 'in the pause nobody asks the issuer').to.equal(asked)

    // The minute is over (moved in the index, as if it had passed) and the issuer is back.
    const indexPath = join(home.authDir, 'accounts.json')
    const index = JSON.parse(await readFile(indexPath, 'utf8'))
    index.adoption.until = new Date(Date.now() - 1000).toISOString()
    await writeFile(indexPath, JSON.stringify(index))
    suite.issuer.setTokenFailure(null)
    expect((await runAcmeExpecting(0, ['whoami'], {home, env: suite.env})).stdout).to.equal('alice (Alice)\n')
    await expectTokensRemoved(home)
  })

  it('an access token without a refresh token is kept with an unknown expiry; once the API turns it away, whoami says sign in again (exit 4), no loop', async () => {
    const {home, tokens} = await legacyHome({accessTokenOnly: true})
    expect((await runAcmeExpecting(0, ['whoami'], {home, env: suite.env})).stdout).to.equal('alice (Alice)\n')
    const [account] = (await statusJson(home, suite.env)).accounts
    expect(account).to.include({subject: 'alice', expiresAt: null, hasRefreshToken: false, storage: 'file'})
    await expectTokensRemoved(home)

    // The issuer revokes it (RFC 7009), as an API's 401 would show.
    await revokeAccessToken(tokens.accessToken)
    suite.issuer.resetCounts()
    const refused = await runAcmeExpecting(4, ['whoami'], {home, env: suite.env})
    expect(refused.stderr).to.include('acme auth login')
    expect(suite.issuer.counts.tokenRequests, 'nothing to refresh with: no token request').to.equal(0)
  })

  it('an access token alone that the issuer turns away: cleared, with one message to sign in', async () => {
    const {home, tokens} = await legacyHome({accessTokenOnly: true})
    await revokeAccessToken(tokens.accessToken)
    const first = await runAcmeExpecting(0, ['hello'], {home, env: suite.env})
    const warnings = warningMessages(first.stderr)
    expect(warnings, first.stderr).to.have.length(1)
    expect(warnings[0]).to.include(`no longer accepts the login kept in ${legacyFile(home)}`)
    await expectTokensRemoved(home)
    expect(warningMessages((await runAcmeExpecting(0, ['hello'], {home, env: suite.env})).stderr)).to.deep.equal([])
  })

  // Spawned: the keychain library reads the D-Bus address from the process's environment.
  it('storage=auto with no keychain answering keeps the adopted login in the file, and says why once', async () => {
    const {home} = await legacyHome()
    const env = {...suite.env, ACME_AUTH_STORAGE: 'auto', DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/bus'}
    const first = await spawnAcmeExpecting(0, ['whoami'], {home, env})
    expect(first.stdout).to.equal('alice (Alice)\n')
    const warnings = warningMessages(first.stderr)
    expect(warnings).to.have.length(1)
    expect(warnings[0]).to.match(/^No OS keychain answered/)
    expect((await spawnedStatusJson(home, env)).accounts[0].storage).to.equal('file')
    await expectTokensRemoved(home)
  })
})

/** A folder nobody can add files to: by its mode, or, for root (whom modes do not stop), immutable (ext4's chattr +i). */
async function writeProtect(dir: string, on: boolean): Promise<void> {
  if (process.getuid?.() === 0) execFileSync('chattr', [on ? '+i' : '-i', dir])
  else await chmod(dir, on ? 0o500 : 0o700)
}
