// Many commands of one user at once, against an issuer that rotates refresh tokens: N parallel
// commands must cost one refresh (DESIGN.md, story 4), and N processes writing the store must lose
// no write. Counted at the real issuer and in the real store files.
// Spawned: several processes at once, against one store and one lock.

import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {describeRun, runAcme} from '../helpers/acme.js'
import {lifecycleSuite, type Issuer} from '../helpers/lifecycle-suite.js'
import {expireIn} from '../helpers/store-time.js'
import {refreshAheadSettled} from '../helpers/wait.js'

describe('e2e: many commands at once', function () {
  // 32 commands at once on two cores: minutes when the machine is shared and busy.
  this.timeout(300_000)
  const suite = lifecycleSuite()
  const {signInHere, sharedSignIn} = suite
  let issuer: Issuer
  let env: Record<string, string | undefined>
  before(() => ({issuer, env} = suite))

  // Every command refreshes in its prerun hook when the token is inside the skew, whatever
  // refreshAhead says; background and inline add one more refresher each (the init hook's, claimed by
  // one command of N). Each batch mixes commands with refreshAhead=off and with one of those two, so
  // the three modes are all covered in two batches of 32 instead of three.
  for (const refreshAhead of ['background', 'inline']) {
    it(`32 parallel commands inside the expiry skew cost exactly one refresh (refreshAhead=${refreshAhead} for half of them, off for the others)`, async () => {
      const home = await signInHere()
      await expireIn(home, 30)
      const modes = Array.from({length: 32}, (_, i) => (i % 2 === 0 ? refreshAhead : 'off'))
      const runs = await Promise.all(
        modes.map((mode) => runAcme(['whoami'], {home, env: {...env, ACME_AUTH_REFRESH_AHEAD: mode}, timeoutMs: 240_000})),
      )
      runs.forEach((run, i) => {
        expect(run.code, `refreshAhead=${modes[i]}: ${describeRun(['whoami'], run)}`).to.equal(0)
        expect(run.stdout, `refreshAhead=${modes[i]}`).to.equal('alice (Alice)\n')
      })
      // The background refresh is detached and may outlive every command: count once it has exited,
      // so a late second refresh is counted too.
      await refreshAheadSettled(home)
      expect(issuer.counts.refresh, 'refreshes the issuer saw').to.equal(1)
      expect(issuer.counts.refreshReuse, 'reused refresh tokens').to.equal(0)
    })
  }

  it('20 processes × 50 read-modify-write updates of the index under the lock lose none', async () => {
    const home = await sharedSignIn()
    const before = JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8')).gen as number
    // The store's own modules, from src/ through tsx: the build bundles dist/, which keeps no file per module.
    const worker = `
      import {AccountStore} from ${JSON.stringify(new URL('../../src/store/account-store.ts', import.meta.url).href)}
      const store = new AccountStore({dataDir: process.argv[1], bin: 'acme', keyringTimeoutMs: 3000})
      for (let i = 0; i < 50; i++) await store.update(async () => {})
    `
    const codes = await Promise.all(
      Array.from({length: 20}, () => new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', worker, home.dataDir], {stdio: 'inherit'})
        child.on('close', resolve)
      })),
    )
    expect(codes).to.deep.equal(Array.from({length: 20}, () => 0))
    const after = JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8')).gen as number
    expect(after - before).to.equal(1000)
  })
})
