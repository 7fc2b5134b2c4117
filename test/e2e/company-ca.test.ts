// An https issuer whose certificate comes from the company's own certificate authority (issue 19), as a
// TLS-inspecting proxy presents it, reached through a real squid with CONNECT. Without the CA the sign-in
// stops with one line that names the host, the TLS error in words and both fixes; with ACME_AUTH_CA_FILE
// (or the caFile setting) or NODE_EXTRA_CA_CERTS, everything works, through the proxy.
//
// Spawned: every command runs inside a network namespace (ip netns exec) from which the issuer cannot
// be reached except through the proxy (test/helpers/company-network.ts).

import {expect} from 'chai'
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {startIssuer} from '../fixtures/issuer.js'
import {closedPort, issuerEnv, makeTempHome, onlyErrorMessage, storeSnapshot, type TempHome} from '../helpers/acme.js'
import {expectNoDirectRoute, ISSUER_NAME, makeCompanyNetwork, type CompanyNetwork} from '../helpers/company-network.js'
import {expectNoPassword, PROXY_PASSWORD, PROXY_USER, startSquid, type ProxyLogEntry, type Squid} from '../helpers/proxy.js'
import {copyOfHome} from '../helpers/signed-in.js'
import {expireIn} from '../helpers/store-time.js'
import {makeTestCa, type TestCa} from '../helpers/test-ca.js'
import {refreshAheadSettled} from '../helpers/wait.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

describe("e2e: an https issuer behind the company's certificate authority, through the proxy (real squid, CONNECT; the CLI in a network namespace)", function () {
  this.timeout(180_000)
  let network: CompanyNetwork
  let squid: Squid
  let ca: TestCa
  let issuer: Issuer
  let userinfoEndpoint: string
  /** HTTPS_PROXY, no CA: what a new user behind a TLS-inspecting proxy starts with. */
  let env: Record<string, string | undefined>
  const homes: TempHome[] = []
  /** A sign-in made beside the proxy (NODE_EXTRA_CA_CERTS, direct), which read-only tests copy. */
  let signedIn: TempHome

  const newHome = async () => {
    const home = await makeTempHome()
    homes.push(home)
    return home
  }
  const inLaptop = (code: number, args: string[], home: TempHome, extra: Record<string, string | undefined> = {}) => network.runExpecting(code, args, {home, env: {...env, ...extra}})
  const logged = async <T>(action: () => Promise<T>): Promise<{result: T; log: ProxyLogEntry[]}> => {
    const mark = await squid.mark()
    const result = await action()
    return {result, log: await squid.settledSince(mark)}
  }
  const issuerAuthority = () => new URL(issuer.issuer).host
  const tunnels = (log: ProxyLogEntry[]) => log.filter((entry) => entry.method === 'CONNECT' && entry.target === issuerAuthority())

  before(async () => {
    network = await makeCompanyNetwork()
    squid = await startSquid({netns: network.proxyNamespace, host: network.proxyHost, clients: network.cidr, user: PROXY_USER, password: PROXY_PASSWORD})
    ca = await makeTestCa(network.issuerName)
    issuer = await startIssuer({host: network.issuerHost, hostname: network.issuerName, tls: ca.tls})
    // The browser on the laptop trusts the company CA, as the company's laptops do.
    network.trustForBrowser(await readFile(ca.caFile, 'utf8'))
    env = issuerEnv(issuer, {...network.browserEnv, HTTPS_PROXY: squid.url(squid.ports.open), ACME_AUTH_REFRESH_AHEAD: 'off'})
    await expectNoDirectRoute(network, `${issuer.issuer}/.well-known/openid-configuration`)
    userinfoEndpoint = `${issuer.issuer}/me`
    signedIn = await newHome()
    await network.runBesideProxy(0, ['auth', 'login', '--device'], {home: signedIn, env: {...env, HTTPS_PROXY: undefined, NODE_EXTRA_CA_CERTS: ca.caFile}})
  })

  after(async () => {
    for (const home of homes) await refreshAheadSettled(home).catch(() => {})
    await squid?.stop()
    await issuer?.close()
    await network?.close()
    await ca?.cleanup()
    for (const home of homes) await home.cleanup()
  })

  beforeEach(() => issuer.resetCounts())

  it('without the CA: exit 1, one line naming the host, the TLS error in words, ACME_AUTH_CA_FILE and NODE_EXTRA_CA_CERTS; nothing stored', async () => {
    const home = await newHome()
    const {result, log} = await logged(() => inLaptop(1, ['auth', 'login'], home))
    expect(tunnels(log).length, 'the attempt went through the proxy').to.be.at.least(1)
    const message = onlyErrorMessage(result.stderr)
    expect(message).to.include(network.issuerName)
    expect(message).to.match(/self-signed certificate in the (certificate )?chain|unknown certificate authority|not signed by an? (certificate )?authority/i)
    expect(message).to.include('ACME_AUTH_CA_FILE')
    expect(message).to.include('NODE_EXTRA_CA_CERTS')
    expect(await storeSnapshot(home)).to.deep.equal({index: undefined, credentials: undefined})
  })

  it('ACME_AUTH_CA_FILE (a PEM file with two CAs): browser sign-in, refresh, authFetch and logout with revocation, all tunnelled through the proxy', async () => {
    const home = await newHome()
    const withCa = {ACME_AUTH_CA_FILE: ca.bundleFile}
    const login = await logged(() => inLaptop(0, ['auth', 'login'], home, withCa))
    expect(issuer.counts.authorizationCode).to.equal(1)
    expect(tunnels(login.log).map((entry) => entry.status)).to.include(200)

    issuer.resetCounts()
    const refresh = await logged(() => inLaptop(0, ['auth', 'refresh'], home, withCa))
    expect(issuer.counts.refresh).to.equal(1)
    expect(tunnels(refresh.log).length).to.be.at.least(1)

    issuer.resetCounts()
    const api = await logged(() => inLaptop(0, ['api', userinfoEndpoint], home, withCa))
    expect(api.result.stdout).to.match(/^200 \{.*"sub":"alice"/)
    expect(issuer.counts.userinfo).to.equal(1)
    expect(tunnels(api.log).length).to.be.at.least(1)

    issuer.resetCounts()
    const logout = await logged(() => inLaptop(0, ['auth', 'logout'], home, withCa))
    expect(issuer.counts.revocations).to.be.at.least(1)
    expect(tunnels(logout.log).length).to.be.at.least(1)
  })

  it('NODE_EXTRA_CA_CERTS: device sign-in and a refresh through the proxy', async () => {
    const home = await newHome()
    const withCa = {NODE_EXTRA_CA_CERTS: ca.caFile}
    const {log} = await logged(() => inLaptop(0, ['auth', 'login', '--device'], home, withCa))
    expect(issuer.counts.deviceCode).to.equal(1)
    expect(tunnels(log).length).to.be.at.least(1)
    await inLaptop(0, ['auth', 'refresh'], home, withCa)
    expect(issuer.counts.refresh).to.equal(1)
  })

  it("caFile in the user's settings file works like ACME_AUTH_CA_FILE", async () => {
    const home = await copyOfHome(signedIn)
    homes.push(home)
    await writeFile(join(home.configDir, 'auth.json'), JSON.stringify({caFile: ca.caFile}))
    const {result, log} = await logged(() => inLaptop(0, ['api', userinfoEndpoint], home))
    expect(result.stdout).to.match(/^200 /)
    expect(tunnels(log).length).to.be.at.least(1)
  })

  for (const [what, file] of [
    ['a file that does not exist', () => '/nonexistent/company-ca.pem'],
    ['a file with no PEM certificate in it', (home: TempHome) => join(home.root, 'not-a-certificate.pem')],
  ] as const) {
    it(`ACME_AUTH_CA_FILE naming ${what}: exit 2, one line naming the variable; the login untouched`, async () => {
      const home = await copyOfHome(signedIn)
      homes.push(home)
      await writeFile(join(home.root, 'not-a-certificate.pem'), 'this is not a certificate\n')
      await expireIn(home, -5)
      const before = await storeSnapshot(home)
      const result = await inLaptop(2, ['auth', 'token'], home, {ACME_AUTH_CA_FILE: file(home)})
      expect(onlyErrorMessage(result.stderr)).to.include('ACME_AUTH_CA_FILE')
      expect(await storeSnapshot(home)).to.deep.equal(before)
    })
  }

  it('an https issuer at an IP address (its certificate for that IP): device sign-in through CONNECT with ACME_AUTH_CA_FILE', async () => {
    const ipCa = await makeTestCa(network.issuerHost)
    const atAddress = await startIssuer({host: network.issuerHost, tls: ipCa.tls})
    try {
      network.trustForBrowser(await readFile(ipCa.caFile, 'utf8'))
      const home = await newHome()
      const {log} = await logged(() => inLaptop(0, ['auth', 'login', '--device'], home, {ACME_AUTH_ISSUER: atAddress.issuer, ACME_AUTH_CA_FILE: ipCa.caFile}))
      expect(atAddress.counts.deviceCode).to.equal(1)
      expect(log.filter((entry) => entry.method === 'CONNECT' && entry.target === new URL(atAddress.issuer).host).length).to.be.at.least(1)
    } finally {
      network.trustForBrowser(await readFile(ca.caFile, 'utf8'))
      await atAddress.close()
      await ipCa.cleanup()
    }
  })

  describe('the proxy variables for an https issuer', () => {
    const callApi = async (code: number, extra: Record<string, string | undefined>) => {
      const home = await copyOfHome(signedIn)
      homes.push(home)
      return logged(() => inLaptop(code, ['api', userinfoEndpoint], home, {ACME_AUTH_CA_FILE: ca.caFile, HTTPS_PROXY: undefined, ...extra}))
    }

    it('https_proxy wins over HTTPS_PROXY (which proxy port tunnelled it)', async () => {
      const {log} = await callApi(0, {HTTPS_PROXY: squid.url(squid.ports.second), https_proxy: squid.url(squid.ports.open)})
      expect(tunnels(log).map((entry) => entry.port)).to.deep.equal([squid.ports.open])
    })

    it('ALL_PROXY, when the scheme has no variable of its own, as curl reads it', async () => {
      const {log} = await callApi(0, {ALL_PROXY: squid.url(squid.ports.second)})
      expect(tunnels(log).map((entry) => entry.port)).to.deep.equal([squid.ports.second])
    })

    it('HTTP_PROXY is not for https targets: with only it, the request goes direct and fails from the laptop (exit 75, one line)', async () => {
      const {result, log} = await callApi(75, {HTTP_PROXY: squid.url(squid.ports.open)})
      expect(onlyErrorMessage(result.stderr)).to.include(network.issuerName)
      expect(log).to.deep.equal([])
    })

    // login.corp.test: the name itself, its domain with and without the leading dot, in a list.
    for (const noProxy of [ISSUER_NAME, '.corp.test', 'corp.test', 'example.com, .corp.test']) {
      it(`NO_PROXY=${noProxy} sends the request direct: from the laptop it fails (exit 75, one line naming the host)`, async () => {
        const {result, log} = await callApi(75, {HTTPS_PROXY: squid.url(squid.ports.open), NO_PROXY: noProxy})
        expect(onlyErrorMessage(result.stderr)).to.include(network.issuerName)
        expect(result.stderr).not.to.match(/TypeError|fetch failed|Caused by/)
        expect(log).to.deep.equal([])
      })
    }

    // A host name is not an address: a CIDR range or another domain does not match it.
    for (const noProxy of ['.example.com,other.corp.test', 'orp.test', '0.0.0.0/0']) {
      it(`NO_PROXY=${noProxy} leaves the request on the proxy`, async () => {
        const {log} = await callApi(0, {HTTPS_PROXY: squid.url(squid.ports.open), NO_PROXY: noProxy})
        expect(tunnels(log).map((entry) => entry.port)).to.deep.equal([squid.ports.open])
      })
    }
  })

  describe('failures through CONNECT', () => {
    for (const debug of [undefined, '*']) {
      it(`a wrong proxy password: 407, exit 2, one line naming the proxy and HTTPS_PROXY, the password nowhere${debug ? ' (DEBUG=*)' : ''}`, async () => {
        const home = await copyOfHome(signedIn)
        homes.push(home)
        await expireIn(home, -5)
        const before = await storeSnapshot(home)
        const wrong = 'N0t:the@password%'
        const {result, log} = await logged(() => inLaptop(2, ['auth', 'token'], home, {ACME_AUTH_CA_FILE: ca.caFile, HTTPS_PROXY: squid.url(squid.ports.auth, {user: PROXY_USER, password: wrong}), DEBUG: debug}))
        expect(log.map(({method, status}) => `${method} ${status}`)).to.include('CONNECT 407')
        expectNoPassword(result, PROXY_USER, wrong)
        const errors = debug ? result.stderr.split('\n').filter((line) => line.startsWith(' ›   ')).join(' ') : onlyErrorMessage(result.stderr)
        expect(errors).to.include(`${squid.host}:${squid.ports.auth}`)
        expect(errors).to.include('HTTPS_PROXY')
        expect(await storeSnapshot(home)).to.deep.equal(before)
      })
    }

    it('the right password works through CONNECT', async () => {
      const home = await copyOfHome(signedIn)
      homes.push(home)
      const {result, log} = await logged(() => inLaptop(0, ['api', userinfoEndpoint], home, {ACME_AUTH_CA_FILE: ca.caFile, HTTPS_PROXY: squid.url(squid.ports.auth, {user: PROXY_USER, password: PROXY_PASSWORD})}))
      expect(result.stdout).to.match(/^200 /)
      expect(tunnels(log).map(({port, status}) => [port, status])).to.deep.include([squid.ports.auth, 200])
      expectNoPassword(result)
    })

    it('the proxy cannot reach the issuer (503 to CONNECT): exit 75 naming the proxy and the issuer', async () => {
      const home = await newHome()
      const unreachable = `https://${network.issuerName}:${await closedPort()}`
      const {result, log} = await logged(() => inLaptop(75, ['auth', 'login'], home, {ACME_AUTH_ISSUER: unreachable, ACME_AUTH_CA_FILE: ca.caFile}))
      expect(log.map(({method, status}) => `${method} ${status}`)).to.include('CONNECT 503')
      const message = onlyErrorMessage(result.stderr)
      expect(message).to.include(`${squid.host}:${squid.ports.open}`)
      expect(message).to.include(network.issuerName)
      expect(await storeSnapshot(home)).to.deep.equal({index: undefined, credentials: undefined})
    })

    it('a malformed HTTPS_PROXY: exit 2 naming the variable', async () => {
      const home = await copyOfHome(signedIn)
      homes.push(home)
      await expireIn(home, -5)
      const before = await storeSnapshot(home)
      const result = await inLaptop(2, ['auth', 'token'], home, {ACME_AUTH_CA_FILE: ca.caFile, HTTPS_PROXY: 'http://[squid:3128'})
      expect(onlyErrorMessage(result.stderr)).to.include('HTTPS_PROXY')
      expect(await storeSnapshot(home)).to.deep.equal(before)
    })
  })
})
