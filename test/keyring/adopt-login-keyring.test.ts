// Adoption (issue 23) into the OS keychain: the legacy file's login ends up in a real Secret Service
// (gnome-keyring on a private D-Bus, as `npm test` starts it), with `storage=keyring` and with `auto`,
// and no token is left in any file, the legacy one included.
import {expect} from 'chai'

import {startIssuer} from '../fixtures/issuer.js'
import {
  issuerEnv,
  makeTempHome,
  warningMessages,
  type TempHome,
} from '../helpers/acme.js'
import {runAcmeExpecting, statusJson} from '../helpers/in-process.js'
import {killAtStep} from '../helpers/kill-mid-step.js'
import {KEPT_SETTINGS, moveLoginToLegacyFile, readLegacyFile} from '../helpers/legacy-login.js'
import {ADOPTION_STEPS} from '../../src/session/adopt-login.js'
import {keychain, requireSessionBus, textOfFilesUnder} from '../helpers/keyring.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

describe('keychain: adopting the legacy login into the OS keychain', function () {
  this.timeout(180_000)
  let issuer: Issuer
  let home: TempHome

  before(async function () {
    requireSessionBus()
    issuer = await startIssuer()
  })
  after(() => issuer?.close())
  afterEach(async () => {
    await runAcmeExpecting(0, ['auth', 'logout', '--all'], {home, env: issuerEnv(issuer)}).catch(() => {})
    await home?.cleanup()
  })

  for (const storage of ['keyring', 'auto']) {
    it(`storage=${storage}: the first command adopts it into the keychain; no token is left in any file`, async () => {
      home = await makeTempHome()
      // The earlier login, made with the file store and moved into acme's legacy file.
      await runAcmeExpecting(0, ['auth', 'login'], {home, env: issuerEnv(issuer, {ACME_AUTH_STORAGE: 'file'})})
      const legacy = await moveLoginToLegacyFile(home)
      issuer.resetCounts()

      const env = issuerEnv(issuer, {ACME_AUTH_STORAGE: storage})
      const first = await runAcmeExpecting(0, ['whoami'], {home, env})
      expect(first.stdout).to.equal('alice (Alice)\n')
      expect(warningMessages(first.stderr)).to.deep.equal([])
      expect(issuer.counts.refresh).to.equal(1)
      expect(await readLegacyFile(home)).to.deep.equal(KEPT_SETTINGS)

      const [account] = (await statusJson(home, env)).accounts
      expect(account.storage).to.equal('keyring')
      const stored = await keychain().get(`${account.issuer}|${account.clientId}|${account.subject}`)
      expect(stored?.refreshToken).to.be.a('string').and.not.equal(legacy.refreshToken)
      const files = await textOfFilesUnder(home.root)
      for (const token of [legacy.accessToken, legacy.refreshToken, stored!.accessToken, stored!.refreshToken!]) expect(files.includes(token), 'a token in a file').to.equal(false)
    })
  }

  it('killed after saving into the keychain, before clearing: the next command only clears', async () => {
    home = await makeTempHome()
    await runAcmeExpecting(0, ['auth', 'login'], {home, env: issuerEnv(issuer, {ACME_AUTH_STORAGE: 'file'})})
    await moveLoginToLegacyFile(home)
    issuer.resetCounts()
    const env = issuerEnv(issuer, {ACME_AUTH_STORAGE: 'keyring'})
    await killAtStep(ADOPTION_STEPS.saved, ['hello'], home, env)
    expect((await readLegacyFile(home)).contexts.work.refreshtoken, 'not cleared yet').to.be.a('string')

    expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal('alice (Alice)\n')
    expect(issuer.counts.refresh, 'the spent legacy refresh token is not sent again').to.equal(1)
    expect(issuer.counts.refreshReuse).to.equal(0)
    expect(await readLegacyFile(home)).to.deep.equal(KEPT_SETTINGS)
    expect((await statusJson(home, env)).accounts[0].storage).to.equal('keyring')
  })
})

