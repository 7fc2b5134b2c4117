// Sign-in for machines, end to end against the real oidc-provider: a client secret, a private key
// (private_key_jwt, RFC 7523) and workload identity federation (a second local issuer, the "CI
// system", whose JWTs the first trusts through its published keys). A new token when the old one
// expires, with no prompt; a deleted client (exit 4); the issuer down (exit 75, nothing lost).

import {expect} from 'chai'
import {generateKeyPairSync, randomUUID} from 'node:crypto'
import {readFile, writeFile} from 'node:fs/promises'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {SignJWT, exportJWK, type JWK} from 'jose'

import {MACHINE, startIssuer} from '../fixtures/issuer.js'
import {
  errorMessage,
  makeTempHome,
  storeSnapshot,
  type TempHome,
} from '../helpers/acme.js'
import {runAcmeExpecting, statusJson} from '../helpers/in-process.js'
import {expireIn} from '../helpers/store-time.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

/** An API that records the Authorization header of each call: what `acme api` sent. */
async function startApi(): Promise<{url: string; seen: string[]; close(): Promise<void>}> {
  const seen: string[] = []
  const server = createServer((request, response) => {
    seen.push(request.headers.authorization ?? '')
    response.writeHead(200, {'content-type': 'text/plain'}).end('ok')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/deployments`, seen, close: () => closeServer(server)}
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

/** The CI system: an issuer of its own, whose keys the sign-in issuer trusts for one client. */
async function startCiIssuer() {
  const {privateKey, publicKey} = generateKeyPairSync('ec', {namedCurve: 'P-256'})
  const jwk: JWK = {...(await exportJWK(publicKey)), kid: 'ci-1', alg: 'ES256', use: 'sig'}
  const server = createServer((_request, response) => response.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({keys: [jwk]})))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    jwksUri: `${url}/jwks`,
    /** A job's JWT as the sign-in issuer expects a client assertion (RFC 7523 §3): for `audience`, short-lived, used once. */
    mint: (audience: string, lifetimeSeconds = 300) =>
      new SignJWT({})
        .setProtectedHeader({alg: 'ES256', kid: 'ci-1'})
        .setIssuer(MACHINE.federatedClient)
        .setSubject(MACHINE.federatedClient)
        .setAudience(audience)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime(`${lifetimeSeconds}s`)
        .sign(privateKey),
    close: () => closeServer(server),
  }
}

describe('e2e: sign-in for machines (client credentials)', function () {
  this.timeout(120_000)
  let issuer: Issuer
  let ci: Awaited<ReturnType<typeof startCiIssuer>>
  let api: Awaited<ReturnType<typeof startApi>>
  let home: TempHome
  let keyFile: string
  let env: Record<string, string | undefined>

  before(async () => {
    const {privateKey, publicKey} = generateKeyPairSync('ec', {namedCurve: 'P-256'})
    const machineKey = {...(await exportJWK(publicKey)), kid: 'machine-key-1', alg: 'ES256', use: 'sig'}
    ci = await startCiIssuer()
    issuer = await startIssuer({machines: {keyJwks: {keys: [machineKey]}, federatedJwksUri: ci.jwksUri}})
    api = await startApi()
    keyFile = join(await makeTempHome().then((keys) => keys.root), 'machine-key.pem')
    await writeFile(keyFile, privateKey.export({format: 'pem', type: 'pkcs8'}), {mode: 0o600})
  })

  after(async () => {
    await Promise.all([issuer.close(), ci.close(), api.close()])
  })

  beforeEach(async () => {
    home = await makeTempHome()
    env = {ACME_AUTH_ISSUER: issuer.issuer, ACME_AUTH_SCOPES: 'deploy', ACME_AUTH_REFRESH_AHEAD: 'off'}
    issuer.resetCounts()
    api.seen.length = 0
  })

  afterEach(async () => {
    await home.cleanup()
  })

  async function storedToken(): Promise<string> {
    const file = JSON.parse(await readFile(join(home.authDir, 'credentials.json'), 'utf8'))
    return (Object.values(file.accounts)[0] as {accessToken: string}).accessToken
  }

  function expectNoSecretIn(...texts: Array<string | undefined>): void {
    for (const text of texts) expect(text ?? '').to.not.include(MACHINE.secret)
  }

  it('with its secret on stdin: signed in as the client, kept in the store; an expired token is renewed with no prompt', async () => {
    const login = await runAcmeExpecting(0, ['auth', 'login', '--client-credentials', '--with-secret', '--client-id', MACHINE.secretClient], {home, env, input: `${MACHINE.secret}\n`})
    expect(login.stdout).to.equal(`Signed in as client '${MACHINE.secretClient}' at ${issuer.issuer}.\n`)
    const [account] = (await statusJson(home, env)).accounts
    expect(account).to.include({kind: 'client', clientAuthentication: 'client_secret', clientId: MACHINE.secretClient, subject: MACHINE.secretClient, name: null, email: null, hasRefreshToken: false})
    expect(account.scopes).to.deep.equal(['deploy'])

    // prerun injection and authFetch, as for a person.
    const call = await runAcmeExpecting(0, ['api', api.url], {home, env})
    expect(call.stdout).to.equal('200 ok\n')
    expect(api.seen).to.deep.equal([`Bearer ${await storedToken()}`])

    // Expired: the next command gets a new token from the client's own credentials, no prompt, no variable.
    await expireIn(home, -5)
    const before = await storedToken()
    await runAcmeExpecting(0, ['api', api.url], {home, env})
    expect(issuer.counts.clientCredentials).to.equal(2)
    expect(await storedToken()).to.not.equal(before)
    expect(api.seen[1]).to.equal(`Bearer ${await storedToken()}`)

    const text = await runAcmeExpecting(0, ['auth', 'status'], {home, env})
    expect(text.stdout).to.include(`client ${MACHINE.secretClient} (signs in as itself with its client secret)`)
    const files = await storeSnapshot(home)
    expect(files.credentials, 'the secret is kept with the login').to.include(MACHINE.secret)
    expectNoSecretIn(login.stdout, login.stderr, call.stdout, call.stderr, text.stdout, files.index)

    // Logout removes the stored secret with the login.
    await runAcmeExpecting(0, ['auth', 'logout'], {home, env})
    expectNoSecretIn((await storeSnapshot(home)).credentials)
  })

  it('with its secret only in the environment: nothing secret is stored, and later commands take it from the environment', async () => {
    const withSecret = {...env, ACME_AUTH_CLIENT_ID: MACHINE.secretClient, ACME_AUTH_CLIENT_SECRET: MACHINE.secret}
    const login = await runAcmeExpecting(0, ['auth', 'login', '--client-credentials', '--json'], {home, env: withSecret})
    expect(JSON.parse(login.stdout).account).to.include({kind: 'client', clientAuthentication: 'client_secret'})
    expectNoSecretIn(login.stdout, login.stderr, (await storeSnapshot(home)).credentials)

    await expireIn(home, -5)
    const without = await runAcmeExpecting(4, ['api', api.url], {home, env: {...env, ACME_AUTH_CLIENT_ID: MACHINE.secretClient}})
    expect(errorMessage(without.stderr)).to.include('without its client secret').and.include('ACME_AUTH_CLIENT_SECRET')
    await runAcmeExpecting(0, ['api', api.url], {home, env: withSecret})
    expect(issuer.counts.clientCredentials).to.equal(2)
  })

  it('with a private key (private_key_jwt): the key file is read again for each new token, and only its path is kept', async () => {
    // --json: the login reports its account as `auth status --json` would (the first test reads one
    // back with status); the renewal below goes by the stored kind, so it shows that was kept too.
    const login = await runAcmeExpecting(0, ['auth', 'login', '--client-credentials', '--client-assertion-key', keyFile, '--client-id', MACHINE.keyClient, '--json'], {home, env})
    expect(JSON.parse(login.stdout).account).to.include({kind: 'client', clientAuthentication: 'private_key_jwt'})
    const credentials = (await storeSnapshot(home)).credentials!
    expect(credentials).to.include(keyFile).and.not.include('PRIVATE KEY')
    await expireIn(home, -5)
    await runAcmeExpecting(0, ['api', api.url], {home, env})
    expect(issuer.counts.clientCredentials).to.equal(2)
  })

  it('with a federated token from the CI issuer: the file is re-read for every new token (CI systems rotate it)', async () => {
    const tokenFile = join(home.root, 'ci-token.jwt')
    await writeFile(tokenFile, await ci.mint(issuer.issuer))
    const federated = {...env, ACME_AUTH_CLIENT_ID: MACHINE.federatedClient, ACME_AUTH_FEDERATED_TOKEN_FILE: tokenFile}
    // --json, as with a private key: the renewals below go by the stored kind.
    const login = await runAcmeExpecting(0, ['auth', 'login', '--client-credentials', '--json'], {home, env: federated})
    expect(JSON.parse(login.stdout).account).to.include({kind: 'client', clientAuthentication: 'federated'})

    // The runner writes a new JWT; the issuer takes each one once (its jti), so a renewal that did
    // not read the file again would be refused.
    await writeFile(tokenFile, await ci.mint(issuer.issuer))
    await expireIn(home, -5)
    await runAcmeExpecting(0, ['api', api.url], {home, env: federated})
    expect(issuer.counts.clientCredentials).to.equal(2)

    // A JWT the sign-in issuer does not trust (here: expired) is refused: exit 4, one clear line.
    await writeFile(tokenFile, await ci.mint(issuer.issuer, -60))
    await expireIn(home, -5)
    const refused = await runAcmeExpecting(4, ['api', api.url], {home, env: federated})
    expect(errorMessage(refused.stderr)).to.include(`no longer accepts the credentials of client '${MACHINE.federatedClient}'`)
  })

  it('a client the administrators deleted: exit 4 with a clear line; the login is kept', async () => {
    await runAcmeExpecting(0, ['auth', 'login', '--client-credentials', '--with-secret', '--client-id', MACHINE.secretClient], {home, env, input: MACHINE.secret})
    const fresh = await startIssuer({machines: {}})
    try {
      // The fixture answers for a deleted client exactly as oidc-provider answers for an unknown one.
      const unknown = await fetch(`${fresh.issuer}/token`, {
        method: 'POST',
        headers: {'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('nobody:x').toString('base64')}`},
        body: 'grant_type=client_credentials',
      })
      expect(unknown.status).to.equal(401)
      expect(((await unknown.json()) as {error: string}).error).to.equal('invalid_client')
    } finally {
      await fresh.close()
    }
    issuer.revokeClient(MACHINE.secretClient)
    await expireIn(home, -5)
    const before = await storeSnapshot(home)
    const run = await runAcmeExpecting(4, ['api', api.url], {home, env})
    const message = errorMessage(run.stderr)
    expect(message).to.include(`no longer accepts the credentials of client '${MACHINE.secretClient}'`).and.include('The stored login was kept')
    // Kept as it was: both store files byte for byte (what `auth status` would list is in the index).
    expect(await storeSnapshot(home), 'store files after the refusal').to.deep.equal(before)
    expectNoSecretIn(run.stdout, run.stderr)
  })

  it('the issuer down with an expired token: exit 75, the store byte for byte', async () => {
    const own = await startIssuer({machines: {}})
    const ownEnv = {...env, ACME_AUTH_ISSUER: own.issuer}
    await runAcmeExpecting(0, ['auth', 'login', '--client-credentials', '--with-secret', '--client-id', MACHINE.secretClient], {home, env: ownEnv, input: MACHINE.secret})
    await own.close()
    await expireIn(home, -5)
    const before = await storeSnapshot(home)
    const run = await runAcmeExpecting(75, ['api', api.url], {home, env: ownEnv})
    expect(errorMessage(run.stderr)).to.include('nothing was lost')
    expect((await storeSnapshot(home)).credentials).to.equal(before.credentials)
  })

  it('--client-credentials with nothing to prove it: exit 2 naming what to give', async () => {
    const run = await runAcmeExpecting(2, ['auth', 'login', '--client-credentials', '--client-id', MACHINE.secretClient], {home, env})
    expect(errorMessage(run.stderr)).to.include('needs its secret, its private key or a federated token').and.include('--with-secret')
  })
})
