// DPoP-bound logins (issue 24) in the OS keychain (a real gnome-keyring on a private D-Bus, as `npm
// test` starts it): the key is kept in the login's keychain entry, split into chunks with the rest
// where entries are small, and moved with the tokens between the keychain and the file.
import {expect} from 'chai'
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'

import * as keyring from '@napi-rs/keyring'

import {DPOP, DPOP_CLIENTS, startIssuer} from '../fixtures/issuer.js'
import {issuerEnv, makeTempHome, runAcmeExpecting, statusJson, type TempHome} from '../helpers/acme.js'
import {startDPoPApi, type DPoPApi} from '../helpers/dpop-api.js'
import type {Issuer} from '../helpers/signed-in.js'
import {keychain, requireSessionBus, textOfFilesUnder} from '../helpers/keyring.js'

describe('keychain: DPoP-bound logins', function () {
  this.timeout(180_000)
  let issuer: Issuer
  let api: DPoPApi
  let home: TempHome
  let env: Record<string, string | undefined>

  before(async function () {
    requireSessionBus()
    issuer = await startIssuer({clients: DPOP_CLIENTS})
    api = await startDPoPApi(issuer)
  })
  after(async () => {
    await api?.close()
    await issuer?.close()
  })
  beforeEach(async () => {
    home = await makeTempHome()
    // Entries of 512 bytes: the bundle with its key is split into chunks, as on Windows.
    env = issuerEnv(issuer, {ACME_AUTH_STORAGE: 'keyring', ACME_AUTH_KEYRING_ENTRY_LIMIT: '512', ACME_AUTH_CLIENT_ID: DPOP.cliClient, ACME_AUTH_DPOP: 'on', ACME_AUTH_REFRESH_AHEAD: 'off'})
    issuer.resetCounts()
  })
  afterEach(async () => {
    await runAcmeExpecting(0, ['auth', 'logout', '--all'], {home, env}).catch(() => {})
    await home?.cleanup()
  })

  it('the key lives in the keychain entry (chunked), never in a file; refresh and API calls prove with it; logout removes it', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    const [account] = (await statusJson(home, env)).accounts
    expect(account).to.include({storage: 'keyring', tokenType: 'DPoP'})
    const key = `${account.issuer}|${account.clientId}|${account.subject}`
    const stored = await keychain().get(key)
    expect(stored?.tokenType).to.equal('DPoP')
    const jwk = JSON.parse(stored!.dpopKey!) as {d: string}
    // The entry itself holds only the header that names its chunks.
    const main = JSON.parse(new keyring.Entry('acme-auth', key, {linux: {store: 'secret-service'}}).getPassword() ?? '{}') as {chunked?: number; count?: number}
    expect(main.chunked, 'split into chunks').to.equal(1)
    expect(main.count).to.be.greaterThan(1)
    const onDisk = (await textOfFilesUnder(home.dataDir)) + (await textOfFilesUnder(home.configDir))
    expect(onDisk, 'the key is in no file').to.not.include(jwk.d)

    expect((await runAcmeExpecting(0, ['api', `${api.url}/me`], {home, env})).stdout).to.equal('200 {"sub":"alice","bound":true}\n')
    await runAcmeExpecting(0, ['auth', 'refresh'], {home, env})
    expect(issuer.counts.refresh).to.equal(1)
    expect((await keychain().get(key))?.dpopKey, 'the same key after the refresh').to.equal(stored!.dpopKey)
    expect((await runAcmeExpecting(0, ['whoami'], {home, env})).stdout).to.equal('alice (Alice)\n')

    await runAcmeExpecting(0, ['auth', 'logout'], {home, env})
    expect(issuer.counts.revocations).to.equal(1)
    expect(await keychain().get(key)).to.equal(undefined)
  })

  it('migration keychain → file → keychain moves the key with the tokens', async () => {
    await runAcmeExpecting(0, ['auth', 'login'], {home, env})
    const [account] = (await statusJson(home, env)).accounts
    const key = `${account.issuer}|${account.clientId}|${account.subject}`
    const {dpopKey} = (await keychain().get(key))!

    const fileEnv = {...env, ACME_AUTH_STORAGE: 'file'}
    expect((await runAcmeExpecting(0, ['api', `${api.url}/me`], {home, env: fileEnv})).stdout).to.equal('200 {"sub":"alice","bound":true}\n')
    expect((await statusJson(home, fileEnv)).accounts[0]).to.include({storage: 'file', jkt: account.jkt})
    expect(await readFile(join(home.authDir, 'credentials.json'), 'utf8')).to.include(JSON.stringify(dpopKey))
    expect(await keychain().get(key)).to.equal(undefined)

    expect((await runAcmeExpecting(0, ['api', `${api.url}/me`], {home, env})).stdout).to.equal('200 {"sub":"alice","bound":true}\n')
    expect((await keychain().get(key))?.dpopKey).to.equal(dpopKey)
    expect(await readFile(join(home.authDir, 'credentials.json'), 'utf8')).to.not.include(JSON.stringify(dpopKey))
    expect(issuer.counts.refresh, 'moving is not refreshing').to.equal(0)
  })
})
