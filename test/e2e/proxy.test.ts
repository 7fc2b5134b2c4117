// Behind a company proxy (issue 19): every request the plugin makes, and every request authFetch makes
// for the host, goes through the proxy named in the environment, the way curl reads it; and when the
// proxy fails, the user gets one line saying so, with nothing lost.
//
// Spawned: every command runs inside a network namespace (ip netns exec) from which the issuer cannot
// be reached except through a real squid (test/helpers/company-network.ts): a request that bypassed
// the proxy would fail, and squid's access log shows each request that did not.
//
// The issuer here is plain http (the host allows it, allowInsecureIssuer), so squid sees, and logs,
// every request with its URL: discovery, token, device authorization, revocation, userinfo. The https
// issuer behind a TLS-inspecting CA, tunnelled with CONNECT, is test/e2e/company-ca.test.ts.

import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {promisify} from 'node:util'

import {MACHINE, startIssuer} from '../fixtures/issuer.js'
import {closedPort, issuerEnv, loginSnapshot, makeHostVariant, makeTempHome, onlyErrorMessage, onlyStoredSecrets, storeSnapshot, type HostVariant, type TempHome} from '../helpers/acme.js'
import {expectNoDirectRoute, makeCompanyNetwork, type CompanyNetwork} from '../helpers/company-network.js'
import {expectNoPassword, passwordForms, PROXY_PASSWORD, PROXY_USER, startSquid, type ProxyLogEntry, type Squid} from '../helpers/proxy.js'
import {runAcmeExpecting as runInProcess} from '../helpers/in-process.js'
import {copyOfHome} from '../helpers/signed-in.js'
import {expireIn} from '../helpers/store-time.js'
import {refreshAheadSettled, waitFor} from '../helpers/wait.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

const run = promisify(execFile)

describe('e2e: behind a company proxy (real squid; the CLI in a network namespace that reaches the issuer only through it)', function () {
  this.timeout(180_000)
  let network: CompanyNetwork
  let squid: Squid
  let issuer: Issuer
  let host: HostVariant
  let discovery: {token_endpoint: string; userinfo_endpoint: string; revocation_endpoint: string; device_authorization_endpoint: string; pushed_authorization_request_endpoint: string}
  /** The plain proxy, as HTTP_PROXY for this http issuer. */
  let env: Record<string, string | undefined>
  const homes: TempHome[] = []
  /**
   * One real sign-in the read-only tests copy (nothing rotates there). Made beside the proxy, where the
   * issuer is reachable directly, so that what they check does not hang on the sign-in under test.
   */
  let signedIn: TempHome

  const newHome = async () => {
    const home = await makeTempHome()
    homes.push(home)
    return home
  }
  /** A login of its own (its own grant), made beside the proxy: for tests whose commands rotate or revoke. */
  const signInBesideProxy = async () => {
    const home = await newHome()
    await network.runBesideProxy(0, ['auth', 'login', '--device'], {home, bin: host.bin, env: {...env, HTTP_PROXY: undefined}})
    issuer.resetCounts()
    return home
  }
  const requests = (log: ProxyLogEntry[]) => log.map(({method, target}) => `${method} ${target}`)
  const copyOfSignedIn = async () => {
    const home = await copyOfHome(signedIn)
    homes.push(home)
    return home
  }
  const inLaptop = (code: number, args: string[], home: TempHome, extra: Record<string, string | undefined> = {}, input?: string) =>
    network.runExpecting(code, args, {home, bin: host.bin, env: {...env, ...extra}, input})
  /** What the proxy logged while `action` ran. */
  const logged = async <T>(action: () => Promise<T>): Promise<{result: T; log: ProxyLogEntry[]}> => {
    const mark = await squid.mark()
    const result = await action()
    return {result, log: await squid.settledSince(mark)}
  }

  before(async function () {
    network = await makeCompanyNetwork()
    squid = await startSquid({netns: network.proxyNamespace, host: network.proxyHost, clients: network.cidr, user: PROXY_USER, password: PROXY_PASSWORD})
    issuer = await startIssuer({host: network.issuerHost, machines: {}})
    host = await makeHostVariant((auth) => ({...auth, allowInsecureIssuer: true}))
    discovery = (await (await fetch(`${issuer.issuer}/.well-known/openid-configuration`)).json()) as typeof discovery
    env = issuerEnv(issuer, {...network.browserEnv, HTTP_PROXY: squid.url(squid.ports.open), ACME_AUTH_REFRESH_AHEAD: 'off'})
    // The set-up's proof: from the laptop the issuer answers through the proxy, and only through it.
    await expectNoDirectRoute(network, `${issuer.issuer}/.well-known/openid-configuration`)
    const {stdout} = await run('ip', ['netns', 'exec', network.laptop, 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '-x', squid.url(squid.ports.open), `${issuer.issuer}/.well-known/openid-configuration`])
    expect(stdout, 'the issuer through the proxy, from the laptop').to.equal('200')

    signedIn = await newHome()
    await network.runBesideProxy(0, ['auth', 'login', '--device'], {home: signedIn, bin: host.bin, env: {...env, HTTP_PROXY: undefined}})
  })

  after(async () => {
    for (const home of homes) await refreshAheadSettled(home).catch(() => {})
    await squid?.stop()
    await issuer?.close()
    await network?.close()
    await host?.cleanup()
    for (const home of homes) await home.cleanup()
  })

  beforeEach(() => issuer.resetCounts())

  describe('a user behind the proxy', () => {
    it('signs in with the browser: discovery and the token request go through the proxy', async () => {
      const home = await newHome()
      const {log} = await logged(() => inLaptop(0, ['auth', 'login'], home))
      expect(issuer.counts.authorizationCode).to.equal(1)
      // Discovery, the pushed authorization request the sign-in starts with, the code's token request.
      expect(issuer.requests.map(({route}) => route)).to.include('pushed_authorization_request')
      expect(requests(log)).to.include.members([`GET ${issuer.issuer}/.well-known/openid-configuration`, `POST ${discovery.pushed_authorization_request_endpoint}`, `POST ${discovery.token_endpoint}`])
      for (const entry of log) expect(entry, 'every request from the laptop, on the plain proxy port').to.include({client: network.laptopHost, port: squid.ports.open})
    })

    it('signs in with the device flow through the proxy', async () => {
      const home = await newHome()
      const {result, log} = await logged(() => inLaptop(0, ['auth', 'login', '--device'], home))
      expect(result.stderr).to.include(`${issuer.issuer}/device`)
      expect(issuer.counts.deviceCode).to.equal(1)
      expect(requests(log)).to.include.members([`POST ${discovery.device_authorization_endpoint}`, `POST ${discovery.token_endpoint}`])
    })

    it('a machine signs in with client credentials through the proxy', async () => {
      const home = await newHome()
      const {result, log} = await logged(() => inLaptop(0, ['auth', 'login', '--client-credentials', '--with-secret', '--client-id', MACHINE.secretClient], home, {ACME_AUTH_SCOPES: 'deploy'}, `${MACHINE.secret}\n`))
      expect(`${result.stdout}${result.stderr}`).not.to.include(MACHINE.secret)
      expect(issuer.counts.clientCredentials).to.equal(1)
      expect(requests(log)).to.include(`POST ${discovery.token_endpoint}`)
    })

    it('refreshes through the proxy (the issuer counts the refresh)', async () => {
      const home = await signInBesideProxy()
      const {log} = await logged(() => inLaptop(0, ['auth', 'refresh'], home))
      expect(issuer.counts.refresh).to.equal(1)
      expect(requests(log)).to.include(`POST ${discovery.token_endpoint}`)
    })

    it("a host command's authFetch goes through the proxy (acme api)", async () => {
      const home = await copyOfSignedIn()
      const {result, log} = await logged(() => inLaptop(0, ['api', discovery.userinfo_endpoint], home))
      expect(result.stdout).to.match(/^200 \{.*"sub":"alice"/)
      expect(issuer.counts.userinfo).to.equal(1)
      expect(log.map(({method, target, status}) => `${method} ${target} ${status}`)).to.include(`GET ${discovery.userinfo_endpoint} 200`)
    })

    it("the example host's whoami (its own requests to the issuer) works behind the proxy", async () => {
      const home = await copyOfSignedIn()
      const {result, log} = await logged(() => inLaptop(0, ['whoami'], home))
      expect(result.stdout.trim()).to.equal('alice (Alice)')
      expect(requests(log)).to.include(`GET ${discovery.userinfo_endpoint}`)
    })

    it('the background refresher (auth refresh --ahead, detached) goes through the proxy', async () => {
      const home = await signInBesideProxy()
      await expireIn(home, 200) // inside the refresh-ahead window, outside the skew
      const before = await onlyStoredSecrets(home)
      const mark = await squid.mark()
      await inLaptop(0, ['hello'], home, {ACME_AUTH_REFRESH_AHEAD: 'background'})
      await waitFor(async () => (await onlyStoredSecrets(home)).accessToken !== before.accessToken, 60_000, 'the background refresh')
      await refreshAheadSettled(home)
      expect(issuer.counts.refresh).to.equal(1)
      expect(requests(await squid.settledSince(mark))).to.include(`POST ${discovery.token_endpoint}`)
    })

    it('signs out with revocation through the proxy (the issuer saw the revocation)', async () => {
      const home = await signInBesideProxy()
      const {log} = await logged(() => inLaptop(0, ['auth', 'logout'], home))
      expect(issuer.counts.revocations).to.be.at.least(1)
      expect(requests(log)).to.include(`POST ${discovery.revocation_endpoint}`)
    })
  })

  describe('the proxy variables, the way curl reads them', () => {
    /** `acme api <userinfo>` with a fresh token: one request, authFetch's, and nothing else. */
    const callApi = async (code: number, extra: Record<string, string | undefined>) => {
      const home = await copyOfSignedIn()
      return logged(() => inLaptop(code, ['api', discovery.userinfo_endpoint], home, {HTTP_PROXY: undefined, ...extra}))
    }
    const userinfoVia = (log: ProxyLogEntry[]) => log.filter((entry) => entry.target === discovery.userinfo_endpoint).map((entry) => entry.port)

    it('http_proxy wins over HTTP_PROXY when both are set (which proxy port logged it)', async () => {
      const {log} = await callApi(0, {HTTP_PROXY: squid.url(squid.ports.second), http_proxy: squid.url(squid.ports.open)})
      expect(userinfoVia(log)).to.deep.equal([squid.ports.open])
    })

    it('HTTP_PROXY alone is used for an http target; HTTPS_PROXY alone is not', async () => {
      expect(userinfoVia((await callApi(0, {HTTP_PROXY: squid.url(squid.ports.second)})).log)).to.deep.equal([squid.ports.second])
      // Only HTTPS_PROXY: an http URL goes direct, and from the laptop direct is nowhere.
      const {result, log} = await callApi(75, {HTTPS_PROXY: squid.url(squid.ports.open)})
      expect(onlyErrorMessage(result.stderr)).to.include(network.issuerHost)
      expect(log).to.deep.equal([])
    })

    for (const [what, noProxy] of [
      ['the host itself', (i: Issuer) => new URL(i.issuer).hostname],
      ['host:port', (i: Issuer) => new URL(i.issuer).host],
      ['a CIDR range', () => network.cidr],
      ['*', () => '*'],
    ] as const) {
      it(`NO_PROXY=${what} sends the request direct: from the laptop it fails (exit 75, one line, no TypeError)`, async () => {
        const {result, log} = await callApi(75, {HTTP_PROXY: squid.url(squid.ports.open), NO_PROXY: noProxy(issuer)})
        const message = onlyErrorMessage(result.stderr)
        expect(message).to.include(network.issuerHost)
        expect(result.stderr).not.to.match(/TypeError|fetch failed|Caused by/)
        expect(log, 'nothing reached the proxy').to.deep.equal([])
      })
    }

    for (const [what, noProxy] of [
      ['another port of the host', (i: Issuer) => `${new URL(i.issuer).hostname}:1`],
      ['another CIDR range', () => '10.0.0.0/8,192.168.0.0/16'],
      ['another domain', () => '.example.com,example.org'],
    ] as const) {
      it(`NO_PROXY=${what} leaves the request on the proxy`, async () => {
        const {log} = await callApi(0, {HTTP_PROXY: squid.url(squid.ports.open), NO_PROXY: noProxy(issuer)})
        expect(userinfoVia(log)).to.deep.equal([squid.ports.open])
      })
    }

    it('no_proxy wins over NO_PROXY when both are set', async () => {
      const issuerHost = new URL(issuer.issuer).hostname
      // NO_PROXY names the issuer, no_proxy does not: lowercase wins, so the request stays on the proxy.
      const {log} = await callApi(0, {HTTP_PROXY: squid.url(squid.ports.open), NO_PROXY: issuerHost, no_proxy: 'example.com'})
      expect(userinfoVia(log)).to.deep.equal([squid.ports.open])
      // And the other way round: no_proxy names it, so it goes direct (and fails from the laptop).
      const direct = await callApi(75, {HTTP_PROXY: squid.url(squid.ports.open), NO_PROXY: 'example.com', no_proxy: issuerHost})
      expect(direct.log).to.deep.equal([])
    })
  })

  describe('a proxy that asks for a password', () => {
    it('the right password (percent-encoded in the URL) works; nothing shows it, not even DEBUG=*', async () => {
      const home = await copyOfSignedIn()
      const proxy = squid.url(squid.ports.auth, {user: PROXY_USER, password: PROXY_PASSWORD})
      const {result, log} = await logged(() => inLaptop(0, ['api', discovery.userinfo_endpoint], home, {HTTP_PROXY: proxy, DEBUG: '*'}))
      expect(result.stdout).to.match(/^200 /)
      expect(log.filter((entry) => entry.target === discovery.userinfo_endpoint).map(({port, status}) => [port, status])).to.deep.equal([[squid.ports.auth, 200]])
      expectNoPassword(result)
      // DEBUG names the proxy, credentials redacted.
      expect(result.stderr).to.include(`http://***@${squid.host}:${squid.ports.auth}`)
    })

    for (const debug of [undefined, '*']) {
      it(`a wrong password: exit 2, one line naming the proxy and HTTP_PROXY, no password anywhere${debug ? ' (DEBUG=*)' : ''}`, async () => {
        const home = await copyOfSignedIn()
        await expireIn(home, -5) // the refresh is the first request
        const before = await storeSnapshot(home)
        const wrong = 'Wr0ng:pass@word'
        const proxy = squid.url(squid.ports.auth, {user: PROXY_USER, password: wrong})
        const {result, log} = await logged(() => inLaptop(2, ['auth', 'token'], home, {HTTP_PROXY: proxy, DEBUG: debug}))
        expect(log.map(({port, status}) => [port, status])).to.deep.include([squid.ports.auth, 407])
        expectNoPassword(result, PROXY_USER, wrong)
        const lines = (debug ? result.stderr.split('\n').filter((line) => line.startsWith(' ›   Error: ')) : [onlyErrorMessage(result.stderr)]).join('\n')
        expect(lines).to.include(`${squid.host}:${squid.ports.auth}`)
        expect(lines).to.include('HTTP_PROXY')
        expect(await storeSnapshot(home), 'the store, byte for byte').to.deep.equal(before)
      })
    }
  })

  describe('when the proxy fails, one line and nothing lost', () => {
    const expectOutage = async (proxy: string, proxyHostPort: string) => {
      const home = await copyOfSignedIn()
      await expireIn(home, -5)
      // The logins byte for byte; the index may gain the failed refresh's back-off (as for an issuer outage).
      const before = await loginSnapshot(home)
      const result = await inLaptop(75, ['auth', 'token'], home, {HTTP_PROXY: proxy})
      const message = onlyErrorMessage(result.stderr)
      expect(message).to.include(proxyHostPort)
      expect(result.stdout).to.equal('')
      expect(await loginSnapshot(home), 'the logins, byte for byte').to.deep.equal(before)
      expect(issuer.counts.tokenRequests).to.equal(0)
      return message
    }

    it('a proxy port nothing listens on (refused): exit 75 naming the proxy', async () => {
      await expectOutage(squid.url(7), `${squid.host}:7`)
    })

    it('a proxy address nothing answers at (unreachable): exit 75 naming the proxy', async () => {
      await expectOutage(`http://${network.nowhere}:3128`, `${network.nowhere}:3128`)
    })

    it('a proxy with credentials that is down: exit 75 naming host:port, never the credentials', async () => {
      const message = await expectOutage(`http://${PROXY_USER}:${encodeURIComponent(PROXY_PASSWORD)}@${network.nowhere}:3128`, `${network.nowhere}:3128`)
      for (const form of passwordForms(PROXY_USER, PROXY_PASSWORD)) expect(message).not.to.include(form)
    })

    it('a stopped squid: exit 75 naming it, the login byte-identical', async () => {
      // A second squid, on the laptop's side of the proxy namespace, that the test stops.
      const second = await startSquid({netns: network.proxyNamespace, host: network.proxyHost, clients: network.cidr, user: PROXY_USER, password: PROXY_PASSWORD, portBase: 4128})
      try {
        const home = await copyOfSignedIn()
        await expireIn(home, -5)
        const before = await loginSnapshot(home)
        const proxy = second.url(second.ports.open)
        await second.stop()
        const result = await inLaptop(75, ['auth', 'token'], home, {HTTP_PROXY: proxy})
        expect(onlyErrorMessage(result.stderr)).to.include(`${second.host}:${second.ports.open}`)
        expect(await loginSnapshot(home)).to.deep.equal(before)
      } finally {
        await second.stop()
      }
    })

    it('the proxy answers 503 for an issuer it cannot reach: exit 75 naming the proxy and the issuer', async () => {
      const home = await newHome()
      const port = await closedPort()
      const unreachable = `http://${network.issuerHost}:${port}`
      const {result, log} = await logged(() => inLaptop(75, ['auth', 'login'], home, {ACME_AUTH_ISSUER: unreachable}))
      expect(log.map(({status}) => status)).to.include(503)
      const message = onlyErrorMessage(result.stderr)
      expect(message).to.include(`${squid.host}:${squid.ports.open}`)
      expect(message).to.include(network.issuerHost)
      expect(await storeSnapshot(home)).to.deep.equal({index: undefined, credentials: undefined})
    })

    for (const malformed of ['http://[proxy', '://3128', 'http://proxy:port']) {
      it(`a malformed HTTP_PROXY (${malformed}): exit 2 naming the variable`, async () => {
        const home = await copyOfSignedIn()
        await expireIn(home, -5)
        const before = await storeSnapshot(home)
        const result = await inLaptop(2, ['auth', 'token'], home, {HTTP_PROXY: malformed})
        expect(onlyErrorMessage(result.stderr)).to.include('HTTP_PROXY')
        expect(await storeSnapshot(home)).to.deep.equal(before)
      })
    }
  })

  describe('auth status --json shows the proxy each account goes through', () => {
    const proxyOfStatus = async (extra: Record<string, string | undefined>) => {
      const home = await copyOfSignedIn()
      const result = await inLaptop(0, ['auth', 'status', '--json'], home, {HTTP_PROXY: undefined, ...extra})
      const report = JSON.parse(result.stdout) as {accounts: Array<{proxy?: unknown}>}
      expect(report.accounts).to.have.length(1)
      expect(report.accounts[0], 'the account has a proxy key').to.have.property('proxy')
      expectNoPassword(result)
      return report.accounts[0].proxy
    }

    it('with credentials: the URL with them replaced by ***', async () => {
      expect(await proxyOfStatus({HTTP_PROXY: squid.url(squid.ports.auth, {user: PROXY_USER, password: PROXY_PASSWORD})})).to.equal(`http://***@${squid.host}:${squid.ports.auth}`)
    })

    it('without: the URL as given; direct (no variable, or NO_PROXY names the issuer): null', async () => {
      expect(await proxyOfStatus({HTTP_PROXY: squid.url(squid.ports.open)})).to.equal(`http://${squid.host}:${squid.ports.open}`)
      expect(await proxyOfStatus({})).to.equal(null)
      expect(await proxyOfStatus({HTTP_PROXY: squid.url(squid.ports.open), NO_PROXY: network.issuerHost})).to.equal(null)
    })
  })
})

// In process (test/helpers/in-process.ts): the plugin reads the proxy variables from the run's environment.
describe('e2e: loopback never goes through a proxy', function () {
  this.timeout(120_000)

  for (const address of ['127.0.0.1', '127.0.0.2']) {
    it(`an issuer on ${address} is reached directly even with HTTP_PROXY and HTTPS_PROXY set to a dead proxy`, async () => {
      const issuer = await startIssuer({host: address})
      const home = await makeTempHome()
      try {
        const dead = `http://127.0.0.1:${await closedPort()}`
        const env = issuerEnv(issuer, {HTTP_PROXY: dead, HTTPS_PROXY: dead, http_proxy: dead, https_proxy: dead, NO_PROXY: ''})
        await runInProcess(0, ['auth', 'login'], {home, env})
        expect(issuer.counts.authorizationCode).to.equal(1)
        await runInProcess(0, ['auth', 'refresh'], {home, env})
        expect(issuer.counts.refresh).to.equal(1)
      } finally {
        await issuer.close()
        await home.cleanup()
      }
    })
  }
})
