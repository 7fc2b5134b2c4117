// Proves the test issuer and the fake browser behave like the real things the CLI will meet,
// using openid-client directly so a failure here points at the fixtures, not at our code.

import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {fileURLToPath} from 'node:url'
import * as client from 'openid-client'

import {startIssuer} from './fixtures/issuer.js'
import {waitFor} from './helpers/wait.js'

const BROWSER = fileURLToPath(new URL('fixtures/browser.js', import.meta.url))
const SCOPE = 'openid profile email offline_access'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

function discover(issuer: Issuer) {
  return client.discovery(new URL(issuer.issuer), issuer.clientId, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  })
}

/** Run browser.js the way the CLI will: an async child process, so the issuer in this process keeps serving. */
function runBrowser(url: string, env: Record<string, string> = {}) {
  return new Promise<{code: number | null; stderr: string}>((resolve, reject) => {
    const child = spawn(BROWSER, [url], {env: {...process.env, ...env}, stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, stderr}))
  })
}

/** A one-shot loopback redirect target, like the CLI's. */
async function startLoopback() {
  let deliver: (url: URL) => void
  const callback = new Promise<URL>((resolve) => (deliver = resolve))
  const server = createServer((req, res) => {
    const url = new URL(req.url!, `http://${req.headers.host}`)
    if (url.pathname !== '/callback') {
      res.writeHead(404).end()
      return
    }

    res.end('You can close this window.')
    deliver(url)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`
  const close = () => {
    server.closeAllConnections()
    server.close()
  }

  return {redirectUri, callback, close}
}

/** The whole browser flow; resolves with the callback URL plus what is needed to redeem it. */
async function browserFlow(config: client.Configuration, env: Record<string, string> = {}) {
  const loopback = await startLoopback()
  try {
    const pkceCodeVerifier = client.randomPKCECodeVerifier()
    const expectedState = client.randomState()
    const expectedNonce = client.randomNonce()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: loopback.redirectUri,
      scope: SCOPE,
      code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
      code_challenge_method: 'S256',
      state: expectedState,
      nonce: expectedNonce,
      // Without it oidc-provider silently drops offline_access and issues no refresh token.
      prompt: 'consent',
    })
    const browser = await runBrowser(url.href, env)
    expect(browser, browser.stderr).to.include({code: 0})
    const callbackUrl = await loopback.callback
    return {callbackUrl, checks: {pkceCodeVerifier, expectedState, expectedNonce}}
  } finally {
    loopback.close()
  }
}

async function login(config: client.Configuration, env: Record<string, string> = {}) {
  const {callbackUrl, checks} = await browserFlow(config, env)
  return client.authorizationCodeGrant(config, callbackUrl, checks)
}

async function rejection(promise: Promise<unknown>) {
  try {
    await promise
  } catch (error) {
    return error as client.ResponseBodyError
  }

  throw new Error('expected a rejection')
}

describe('test fixtures: issuer.js and browser.js', () => {
  let issuer: Issuer
  let config: client.Configuration

  before(async () => {
    issuer = await startIssuer()
    config = await discover(issuer)
  })
  after(() => issuer?.close())
  beforeEach(() => issuer.resetCounts())

  it('signs in through the browser flow and returns ID, access and refresh tokens', async () => {
    const tokens = await login(config)

    expect(tokens.access_token).to.be.a('string')
    expect(tokens.refresh_token).to.be.a('string')
    expect(tokens.claims()).to.include({sub: 'alice', iss: issuer.issuer})
    expect(issuer.counts.authorizationCode).to.equal(1)

    const userinfo = await client.fetchUserInfo(config, tokens.access_token, 'alice')
    expect(userinfo).to.include({name: 'Alice', email: 'alice@example.com', email_verified: true})
    expect(issuer.counts.userinfo).to.equal(1)
  })

  it('signs in as FAKE_BROWSER_LOGIN', async () => {
    const tokens = await login(config, {FAKE_BROWSER_LOGIN: 'bob'})
    expect(tokens.claims()?.sub).to.equal('bob')
  })

  it('rotates refresh tokens, and a reused one is invalid_grant and revokes the grant', async () => {
    const first = await login(config)
    const second = await client.refreshTokenGrant(config, first.refresh_token!)
    expect(second.refresh_token).to.be.a('string').and.not.equal(first.refresh_token)
    expect(issuer.counts.refresh).to.equal(1)

    const reuse = await rejection(client.refreshTokenGrant(config, first.refresh_token!))
    expect(reuse.error).to.equal('invalid_grant')
    expect(issuer.counts.refreshReuse).to.equal(1)

    // The reuse killed the whole grant: the newest refresh token is dead too.
    const newest = await rejection(client.refreshTokenGrant(config, second.refresh_token!))
    expect(newest.error).to.equal('invalid_grant')
    expect(issuer.counts).to.include({refresh: 1, refreshReuse: 2})
  })

  it('completes the device flow through verification_uri_complete, with a refresh token', async () => {
    const device = await client.initiateDeviceAuthorization(config, {scope: SCOPE})
    expect(device.interval).to.equal(1)

    const [browser, tokens] = await Promise.all([
      runBrowser(device.verification_uri_complete!),
      client.pollDeviceAuthorizationGrant(config, device),
    ])
    expect(browser, browser.stderr).to.include({code: 0})
    expect(tokens.refresh_token).to.be.a('string')
    expect(tokens.claims()?.sub).to.equal('alice')
    expect(issuer.counts.deviceCode).to.equal(1)
  })

  it('denies the device flow with FAKE_BROWSER_MODE=deny', async () => {
    const device = await client.initiateDeviceAuthorization(config, {scope: SCOPE})
    const [browser, error] = await Promise.all([
      runBrowser(device.verification_uri_complete!, {FAKE_BROWSER_MODE: 'deny'}),
      rejection(client.pollDeviceAuthorizationGrant(config, device)),
    ])
    expect(browser, browser.stderr).to.include({code: 0})
    expect(error.error).to.equal('access_denied')
  })

  it('counts revocations of access and refresh tokens', async () => {
    const first = await login(config)
    await client.tokenRevocation(config, first.access_token, {token_type_hint: 'access_token'})
    expect(issuer.counts.revocations).to.equal(1)
    expect((await rejection(client.fetchUserInfo(config, first.access_token, 'alice'))).status).to.equal(401)
    // oidc-provider also drops the grant's refresh tokens when an access token is revoked.
    expect((await rejection(client.refreshTokenGrant(config, first.refresh_token!))).error).to.equal('invalid_grant')

    const second = await login(config)
    await client.tokenRevocation(config, second.refresh_token!)
    expect(issuer.counts.revocations).to.equal(2)
    // Revoking something unknown is a 200 no-op at the endpoint and must not count.
    await client.tokenRevocation(config, second.refresh_token!)
    expect(issuer.counts.revocations).to.equal(2)
  })

  it('delivers error=access_denied to the callback with FAKE_BROWSER_MODE=deny', async () => {
    const {callbackUrl} = await browserFlow(config, {FAKE_BROWSER_MODE: 'deny'})
    expect(callbackUrl.searchParams.get('error')).to.equal('access_denied')
    expect(callbackUrl.searchParams.has('code')).to.equal(false)
  })

  it('does nothing with FAKE_BROWSER_MODE=ignore', async () => {
    const result = await runBrowser(`${issuer.issuer}/auth?client_id=acme-cli`, {FAKE_BROWSER_MODE: 'ignore'})
    expect(result.code).to.equal(0)
  })

  it('can make the token endpoint fail or wait', async () => {
    const tokens = await login(config)

    issuer.setTokenFailure(503)
    // openid-client parses OAuth error bodies only on 4xx: a 503 is a ClientError whose cause is the Response.
    const outage = (await rejection(client.refreshTokenGrant(config, tokens.refresh_token!))) as unknown as client.ClientError
    expect(outage.code).to.equal('OAUTH_RESPONSE_IS_NOT_CONFORM')
    expect((outage.cause as Response).status).to.equal(503)
    issuer.setTokenFailure(null)

    issuer.setTokenDelay(300)
    const started = Date.now()
    const rotated = await client.refreshTokenGrant(config, tokens.refresh_token!)
    expect(Date.now() - started).to.be.at.least(300)
    issuer.setTokenDelay(0)

    // Held: counted on arrival, answered only once released.
    const release = issuer.holdTokenRequests()
    const arrived = issuer.counts.tokenRequests + 1
    let answered = false
    const held = client.refreshTokenGrant(config, rotated.refresh_token!).then((response) => {
      answered = true
      return response
    })
    await waitFor(() => issuer.counts.tokenRequests === arrived, 60_000, 'the held request to arrive')
    await new Promise((resolve) => setImmediate(resolve))
    expect(answered, 'answered while held').to.equal(false)
    release()
    expect((await held).access_token).to.be.a('string')
  })

  it('serves an issuer mounted under a path', async () => {
    const mounted = await startIssuer({path: '/realms/acme', accessTokenTTL: 5})
    try {
      expect(mounted.issuer).to.match(/^http:\/\/127\.0\.0\.1:\d+\/realms\/acme$/)
      const mountedConfig = await discover(mounted)
      expect(mountedConfig.serverMetadata()).to.include({
        issuer: mounted.issuer,
        token_endpoint: `${mounted.issuer}/token`,
      })

      const tokens = await login(mountedConfig)
      expect(tokens.expires_in).to.equal(5)
      expect(tokens.claims()?.iss).to.equal(mounted.issuer)
    } finally {
      await mounted.close()
    }
  })
})

describe('test fixtures: issuer.js options for issuers that differ', () => {
  it('a metadata shim (RFC 8414 only), bare error answers, and a record of requests without their secrets', async () => {
    const shimmed = await startIssuer({path: '/realms/acme', metadata: {openid: false, oauth: true}, bareErrors: {token: 400}})
    try {
      const origin = new URL(shimmed.issuer).origin
      expect((await fetch(`${shimmed.issuer}/.well-known/openid-configuration`)).status).to.equal(404)
      const shimConfig = await client.discovery(new URL(shimmed.issuer), shimmed.clientId, undefined, client.None(), {
        algorithm: 'oauth2',
        execute: [client.allowInsecureRequests],
      })
      expect(shimConfig.serverMetadata()).to.include({issuer: shimmed.issuer, token_endpoint: `${shimmed.issuer}/token`})
      expect((await fetch(`${origin}/.well-known/oauth-authorization-server/realms/acme`)).status).to.equal(200)

      const tokens = await login(shimConfig)
      const [authorization, token] = shimmed.requests
      expect(authorization).to.deep.include({route: 'authorization', clientAuthentication: 'none'})
      expect(authorization.params).to.deep.include({scope: [SCOPE], prompt: ['consent'], client_id: ['acme-cli']})
      expect(token).to.deep.include({route: 'token', clientAuthentication: 'none', status: 200})
      expect(token.params).to.deep.include({grant_type: ['authorization_code'], code: ['[redacted]'], code_verifier: ['[redacted]']})

      // invalid_grant, with its body and challenge taken away.
      const refused = await fetch(`${shimmed.issuer}/token`, {
        method: 'POST',
        body: new URLSearchParams({grant_type: 'refresh_token', refresh_token: `${tokens.refresh_token}x`, client_id: 'acme-cli'}),
      })
      expect([refused.status, await refused.text()]).to.deep.equal([400, ''])
      expect(shimmed.requests.at(-1)).to.deep.include({status: 400, params: {grant_type: ['refresh_token'], refresh_token: ['[redacted]'], client_id: ['acme-cli']}})
    } finally {
      await shimmed.close()
    }
  })
})

describe('npm run issuer (scripts/issuer.js)', () => {
  it('serves discovery until stopped, and says where and how to use it', async function () {
    this.timeout(30_000)
    const script = fileURLToPath(new URL('../scripts/issuer.js', import.meta.url))
    const child = spawn(process.execPath, [script, '--port', '0'], {stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    const deadline = Date.now() + 20_000
    // Until the last line of its banner: the lines may arrive in separate chunks.
    while (!/Issuer running at (\S+) [\s\S]*configured for port 4010\)\n/.test(out)) {
      if (Date.now() > deadline) throw new Error(`no start line:\n${out}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    const url = /Issuer running at (\S+) /.exec(out)![1]
    expect(out).to.include('examples/acme/bin/run.js auth login').and.include(`ACME_AUTH_ISSUER=${url}`)
    const discovery = (await (await fetch(`${url}/.well-known/openid-configuration`)).json()) as {issuer: string}
    expect(discovery.issuer).to.equal(url)
    child.kill('SIGTERM')
    expect(await exited).to.equal(0)
    expect(out).to.include('Stopped.')
  })
})
