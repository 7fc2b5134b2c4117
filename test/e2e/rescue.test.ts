// An answer is saved somewhere, always (DESIGN.md, Lifecycle): when the store that holds a login
// cannot take a grant's answer, the tokens go to a private rescue file, the command says so in one
// line, and the next command that reaches the store moves them back. The store here is a real
// credential helper (examples/credential-helper/file-vault.js) behind a wrapper that refuses `store`
// while a flag file exists, as a sealed vault would; the keychain version is in
// test/keyring/rescue-keyring.test.ts.

import {expect} from 'chai'
import {chmod, readdir, rm, stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {describeRun, issuerEnv, makeTempHome, warningMessages, type TempHome} from '../helpers/acme.js'
import {runAcmeExpecting} from '../helpers/in-process.js'
import {startIssuer} from '../fixtures/issuer.js'
import type {Issuer} from '../helpers/signed-in.js'
import {refreshAheadSettled} from '../helpers/wait.js'
import {moveLoginToLegacyFile, readLegacyFile} from '../helpers/legacy-login.js'

const FILE_VAULT = fileURLToPath(new URL('../../examples/credential-helper/file-vault.js', import.meta.url))

/** The rescue files in a home's store. */
async function rescueFiles(home: TempHome): Promise<string[]> {
  return readdir(join(home.authDir, 'rescued')).catch(() => [])
}

describe('e2e: a grant whose answer the login\'s store cannot take', function () {
  this.timeout(180_000)
  const shared = {} as {issuer: Issuer}
  before(async () => (shared.issuer = await startIssuer()))
  after(() => shared.issuer?.close())
  let home: TempHome
  let env: Record<string, string | undefined>
  /** While this file exists the vault refuses to store. */
  let sealed: string

  beforeEach(async () => {
    home = await makeTempHome()
    sealed = join(home.root, 'vault-sealed')
    const helper = join(home.root, 'vault-helper.sh')
    await writeFile(
      helper,
      `#!/bin/sh\nif [ "$1" = store ] && [ -e '${sealed}' ]; then echo 'vault: sealed for maintenance' >&2; exit 1; fi\nexec '${process.execPath}' '${FILE_VAULT}' "$@"\n`,
    )
    await chmod(helper, 0o700)
    env = issuerEnv(shared.issuer, {ACME_AUTH_STORAGE: `exec:${helper}`, FILE_VAULT_PATH: join(home.root, 'vault.json'), ACME_AUTH_REFRESH_AHEAD: 'off'})
    shared.issuer.resetCounts()
  })
  afterEach(async () => {
    await refreshAheadSettled(home)
    await home.cleanup()
  })

  it('a refresh: the rotated tokens go to a 0600 rescue file with one line, are used from there, and the next command moves them back', async () => {
    const {issuer} = shared
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    await writeFile(sealed, '')

    const refresh = await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
    const warnings = warningMessages(refresh.stderr)
    expect(warnings, describeRun(['auth', 'refresh'], refresh)).to.have.length(1)
    expect(warnings[0]).to.match(/could not be saved where it is kept \(.*sealed for maintenance.*\), so it is kept in .*rescued.*\(readable only by you\)/)
    const [file] = await rescueFiles(home)
    expect((await stat(join(home.authDir, 'rescued', file))).mode & 0o777).to.equal(0o600)

    // Still sealed: commands use the rescued tokens, and a refresh sends the rescued refresh token,
    // never the one the vault still holds (the issuer would see a reuse and end the grant).
    expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal('alice (Alice)\n')
    await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
    expect(issuer.counts).to.deep.include({refresh: 2, refreshReuse: 0})

    await rm(sealed)
    const next = await runAcmeExpecting(0, ['whoami'], {home, env})
    expect(next.stderr, 'moving back is silent').to.not.include('Warning')
    expect(await rescueFiles(home), 'the rescue file is gone once the vault holds the login').to.deep.equal([])
    // The vault now holds the newest refresh token: another refresh is no reuse.
    await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
    expect(issuer.counts).to.deep.include({refresh: 3, refreshReuse: 0})
  })

  it('a sign-in: the new login is kept in the rescue file, works at once, and moves to the vault later', async () => {
    const {issuer} = shared
    // The vault answers `get` (the check before signing in) and refuses only the save.
    await writeFile(sealed, '')
    const login = await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    expect(warningMessages(login.stderr).join('\n')).to.match(/could not be saved where it is kept.*rescued/)
    expect(await rescueFiles(home)).to.have.length(1)
    expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal('alice (Alice)\n')

    await rm(sealed)
    await runAcmeExpecting(0, ['whoami'], {home, env})
    expect(await rescueFiles(home)).to.deep.equal([])
    await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
    expect(issuer.counts).to.deep.include({refresh: 1, refreshReuse: 0})
    // Signing out removes it everywhere, the rescue folder included.
    await runAcmeExpecting(0, ['auth', 'logout'], {home, env})
    expect(await rescueFiles(home)).to.deep.equal([])
  })

  it("taking over a host's earlier login: the rotated tokens go to the rescue file, the old copy is cleared, and the vault gets them later", async () => {
    const {issuer} = shared
    // acme's earlier code kept its login in config.json: a real one, from a sign-in of its own.
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env, ACME_AUTH_STORAGE: 'file'}})
    const old = await moveLoginToLegacyFile(home)
    issuer.resetCounts()
    await writeFile(sealed, '')

    const first = await runAcmeExpecting(0, ['whoami'], {home, env})
    expect(first.stdout).to.equal('alice (Alice)\n')
    expect(warningMessages(first.stderr).join('\n'), describeRun(['whoami'], first)).to.match(/could not be saved where it is kept \(.*sealed for maintenance.*\), so it is kept in .*rescued/)
    expect(await rescueFiles(home)).to.have.length(1)
    expect(JSON.stringify(await readLegacyFile(home)), 'the old copy is cleared: its login lives here now').to.not.include(old.refreshToken)

    await rm(sealed)
    await runAcmeExpecting(0, ['whoami'], {home, env})
    expect(await rescueFiles(home)).to.deep.equal([])
    // The vault holds the rotated refresh token: a refresh is no reuse, and the spent one was never sent again.
    await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
    expect(issuer.counts).to.deep.include({refresh: 2, refreshReuse: 0})
  })

  it('signing out while a login is only in the rescue file removes it there too', async () => {
    await writeFile(sealed, '')
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: {...env}})
    expect(await rescueFiles(home)).to.have.length(1)
    await runAcmeExpecting(0, ['auth', 'logout'], {home, env: issuerEnv(shared.issuer, env)})
    expect(await rescueFiles(home)).to.deep.equal([])
    await runAcmeExpecting(4, ['whoami'], {home, env})
  })
})
