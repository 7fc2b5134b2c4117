// The one transport (src/transport/): which proxy the environment names for a request, NO_PROXY's
// forms, and what a request through a real proxy does — a small CONNECT and forwarding proxy on
// 127.0.0.1 written here, and an https server whose certificate comes from a certificate authority
// made for the test with openssl. Hosts under .test (RFC 6761) are resolved by that proxy alone, to
// 127.0.0.1: a request that went around the proxy could not get an answer at all.

import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {createServer as createHttpServer, request as httpRequest, type Server} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'
import {connect as netConnect, type AddressInfo, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {AuthError} from '../../src/errors.js'
import {systemStoreSwitch} from '../../src/transport/failures.js'
import {noProxyCovers, isLoopback} from '../../src/transport/no-proxy.js'
import {chooseProxy} from '../../src/transport/proxy-choice.js'
import {transportFetch, type TransportOptions} from '../../src/transport/transport-fetch.js'
import {toStatus} from '../../src/session/status.js'
import type {AccountRecord} from '../../src/store/account-index.js'
import {closedPort} from '../helpers/acme.js'

const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy']

/** Run with exactly these proxy variables set, and the others unset. */
async function withProxyEnv<T>(env: Record<string, string>, run: () => Promise<T> | T): Promise<T> {
  const saved = Object.fromEntries(PROXY_VARIABLES.map((name) => [name, process.env[name]]))
  for (const name of PROXY_VARIABLES) delete process.env[name]
  Object.assign(process.env, env)
  try {
    return await run()
  } finally {
    for (const name of PROXY_VARIABLES) {
      if (saved[name] === undefined) delete process.env[name]
      else process.env[name] = saved[name]
    }
  }
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (error) {
    return error as Error
  }
  throw new Error('expected the request to fail')
}

describe('transport: the proxy from the environment', () => {
  it('the scheme picks the variable, the lowercase one wins, ALL_PROXY comes last', async () => {
    const target = new URL('https://id.example.com/token')
    await withProxyEnv({HTTPS_PROXY: 'http://upper:3128', https_proxy: 'http://lower:3128', HTTP_PROXY: 'http://plain:3128'}, () => {
      expect(chooseProxy(target)).to.include({variable: 'https_proxy', hostPort: 'lower:3128', shown: 'http://lower:3128'})
      expect(chooseProxy(new URL('http://id.example.com/'))).to.include({variable: 'HTTP_PROXY', hostPort: 'plain:3128'})
    })
    await withProxyEnv({ALL_PROXY: 'proxy.corp:8080'}, () => {
      // Without a scheme, http:// as curl takes it.
      expect(chooseProxy(target)).to.include({variable: 'ALL_PROXY', hostPort: 'proxy.corp:8080', shown: 'http://proxy.corp:8080'})
    })
    await withProxyEnv({}, () => expect(chooseProxy(target)).to.equal(undefined))
  })

  it("a command's own environment (run-environment.ts) is where the variables are read, not the process's", async () => {
    await withProxyEnv({HTTPS_PROXY: 'http://process-wide:3128'}, () => {
      const runEnv = {https_proxy: 'http://per-run:3128', NO_PROXY: 'other.example'}
      expect(chooseProxy(new URL('https://id.example.com/'), runEnv)).to.include({hostPort: 'per-run:3128', variable: 'https_proxy'})
      expect(chooseProxy(new URL('https://id.example.com/'), {NO_PROXY: '*'})).to.equal(undefined)
    })
  })

  it('user and password: percent-decoded into a Basic header, shown as *** everywhere', async () => {
    await withProxyEnv({HTTPS_PROXY: 'http://me%40corp:p%3Ass%20word@proxy.corp:3128'}, () => {
      const proxy = chooseProxy(new URL('https://id.example.com/'))!
      expect(proxy.authorization).to.equal(`Basic ${Buffer.from('me@corp:p:ss word').toString('base64')}`)
      expect(proxy.shown).to.equal('http://***@proxy.corp:3128')
      expect(proxy.url.href).to.equal('http://proxy.corp:3128/')
    })
  })

  it('a malformed or unsupported proxy variable is CONFIG_INVALID naming the variable, never its password', async () => {
    for (const [value, problem] of [
      ['http://[bad', /is not a URL/],
      ['socks5://proxy.corp:1080', /socks5:\/\/, which is not supported/],
      ['http://user:hunter2-secret@proxy.corp:3128/some/path', /is not a proxy address/],
    ] as const) {
      const error = await withProxyEnv({HTTPS_PROXY: value}, () => failureOf(Promise.resolve().then(() => chooseProxy(new URL('https://id.example.com/')))))
      expect(error, value).to.be.instanceOf(AuthError).and.include({code: 'CONFIG_INVALID', exitCode: 2})
      expect(error.message, value).to.match(/^HTTPS_PROXY: /).and.match(problem).and.not.include('hunter2')
    }
  })

  it('loopback never goes through a proxy, whatever NO_PROXY says', async () => {
    await withProxyEnv({HTTPS_PROXY: 'http://proxy.corp:3128', HTTP_PROXY: 'http://proxy.corp:3128'}, () => {
      for (const url of ['http://127.0.0.1:4010/', 'https://127.9.9.9/', 'http://localhost:1/', 'http://[::1]:8080/', 'http://app.localhost/']) {
        expect(chooseProxy(new URL(url)), url).to.equal(undefined)
      }
      expect(chooseProxy(new URL('http://127.example.com/')), 'a name, not an address').to.not.equal(undefined)
    })
    expect(isLoopback('[::ffff:127.0.0.1]')).to.equal(true)
  })

  it('auth status shows the proxy of each account\'s issuer, its password as ***; null when direct', async () => {
    const account = (issuer: string): AccountRecord => ({key: `${issuer}|acme-cli|alice`, issuer, clientId: 'acme-cli', subject: 'alice', scopes: ['openid'], expiresAt: null, hasRefreshToken: true, storage: 'file', updatedAt: '2026-12-07T00:00:00Z'})
    await withProxyEnv({HTTPS_PROXY: 'http://me:hunter2-secret@proxy.corp:3128', NO_PROXY: 'internal.example'}, () => {
      expect(toStatus(account('https://id.example.com'), true).proxy).to.equal('http://***@proxy.corp:3128')
      expect(toStatus(account('https://id.internal.example'), true).proxy).to.equal(null)
      expect(toStatus(account('http://127.0.0.1:4010'), true).proxy).to.equal(null)
    })
  })

  it('NO_PROXY: names, .suffix and suffix, host:port, IP addresses, CIDR ranges and *', async () => {
    const proxied = (url: string, noProxy: string) => withProxyEnv({HTTPS_PROXY: 'http://proxy.corp:3128', no_proxy: noProxy}, () => chooseProxy(new URL(url)) !== undefined)
    const cases: Array<[string, string, boolean]> = [
      ['https://id.example.com/', 'id.example.com', false],
      ['https://id.example.com/', 'example.com', false],
      ['https://id.example.com/', '.example.com', false],
      ['https://id.example.com/', '*.example.com', false],
      ['https://example.com/', '.example.com', false],
      ['https://badexample.com/', 'example.com', true],
      ['https://id.example.com/', 'other.com, id.example.com:443', false],
      ['https://id.example.com:8443/', 'id.example.com:443', true],
      ['https://10.1.2.3/', '10.0.0.0/8', false],
      ['https://11.1.2.3/', '10.0.0.0/8', true],
      ['https://192.168.0.7/', '192.168.0.7', false],
      ['https://[fd00::5]/', 'fd00::/8', false],
      ['https://[fd00::5]/', '[fd00:0::5]', false],
      ['https://id.example.com/', '*', false],
      ['https://id.example.com/', '', true],
    ]
    for (const [url, noProxy, expected] of cases) expect(await proxied(url, noProxy), `${url} with NO_PROXY=${noProxy}`).to.equal(expected)
    expect(noProxyCovers('id.example.com', 443, 'EXAMPLE.COM')).to.equal(true)
  })
})

/** A CA and certificates signed by it, made with openssl: for issuer.test, and for the address 198.51.100.7 (TEST-NET-2). */
async function makeCertificates(dir: string): Promise<{caFile: string; cert: Buffer; key: Buffer; ipCert: Buffer; ipKey: Buffer}> {
  const path = (name: string) => join(dir, name)
  const openssl = (...args: string[]) => execFileSync('openssl', args, {stdio: 'pipe'})
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path('ca.key'), '-out', path('ca.pem'), '-days', '2', '-subj', '/CN=Test Corp Root CA')
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', path('issuer.key'), '-out', path('issuer.csr'), '-subj', '/CN=issuer.test')
  await writeFile(path('ext.cnf'), 'subjectAltName=DNS:issuer.test\n')
  openssl('x509', '-req', '-in', path('issuer.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca.key'), '-CAcreateserial', '-out', path('issuer.pem'), '-days', '2', '-extfile', path('ext.cnf'))
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', path('ip.key'), '-out', path('ip.csr'), '-subj', '/CN=198.51.100.7')
  await writeFile(path('ip.cnf'), 'subjectAltName=IP:198.51.100.7\n')
  openssl('x509', '-req', '-in', path('ip.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca.key'), '-CAcreateserial', '-out', path('ip.pem'), '-days', '2', '-extfile', path('ip.cnf'))
  const read = (name: string) => readFile(path(name))
  return {caFile: path('ca.pem'), cert: await read('issuer.pem'), key: await read('issuer.key'), ipCert: await read('ip.pem'), ipKey: await read('ip.key')}
}

/**
 * Closing a server waits for its connections: tunnels are no longer HTTP connections, and a TLS
 * handshake that a client refused may linger, so every socket is ended by hand.
 */
function endingConnections(server: Server): {end(): void} {
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  return {end: () => sockets.forEach((socket) => socket.destroy())}
}

interface TestProxy {
  url: string
  port: number
  /** What it was asked: `CONNECT issuer.test:443` or `GET http://api.test:8080/x`, with the credentials it got. */
  seen: Array<{line: string; credentials?: string}>
  close(): Promise<void>
}

/**
 * A forward proxy: CONNECT tunnels and absolute-URI requests, to the server `routes` names for each
 * host (on 127.0.0.1), 504 for the hosts `timingOut` names (as a proxy whose wait for them ran out),
 * 502 for any other; with `credentials`, 407 without them.
 */
async function startProxy(routes: Record<string, number>, credentials?: string, timingOut: string[] = []): Promise<TestProxy> {
  const seen: TestProxy['seen'] = []
  const authorized = (header: string | undefined) => {
    const got = header?.startsWith('Basic ') ? Buffer.from(header.slice(6), 'base64').toString() : undefined
    return {got, ok: !credentials || got === credentials}
  }
  const server: Server = createHttpServer((request, response) => {
    const {got, ok} = authorized(request.headers['proxy-authorization'])
    seen.push({line: `${request.method} ${request.url}`, credentials: got})
    if (!ok) return void response.writeHead(407, {'proxy-authenticate': 'Basic realm="test"'}).end()
    const target = new URL(request.url!)
    if (timingOut.includes(target.hostname)) return void response.writeHead(504).end('gateway timeout')
    const port = routes[target.hostname]
    if (!port) return void response.writeHead(502).end('no route')
    const headers = {...request.headers}
    delete headers['proxy-authorization']
    const upstream = httpRequest({host: '127.0.0.1', port, path: `${target.pathname}${target.search}`, method: request.method, headers}, (answer) => {
      response.writeHead(answer.statusCode!, answer.headers)
      answer.pipe(response)
    })
    upstream.on('error', () => response.writeHead(502).end())
    request.pipe(upstream)
  })
  server.on('connect', (request, client: Socket, head) => {
    const {got, ok} = authorized(request.headers['proxy-authorization'])
    seen.push({line: `CONNECT ${request.url}`, credentials: got})
    if (!ok) return void client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n')
    const host = request.url!.replace(/:\d+$/, '')
    if (timingOut.includes(host)) return void client.end('HTTP/1.1 504 Gateway Timeout\r\n\r\n')
    const port = routes[host]
    if (!port) return void client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n')
    const upstream = netConnect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(client).pipe(upstream)
    })
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
  })
  const ending = endingConnections(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    close: () => new Promise<void>((resolve) => {
      ending.end()
      server.close(() => resolve())
    }),
  }
}

describe('transport: requests through a real proxy, with a company certificate authority', () => {
  let dir: string
  let certificates: Awaited<ReturnType<typeof makeCertificates>>
  let issuerServer: Server
  let apiServer: Server
  let issuerPort: number
  let apiPort: number
  let proxy: TestProxy
  let ending: Array<{end(): void}>
  const seenByIssuer: Array<{path: string; authorization?: string}> = []

  before(async function () {
    this.timeout(30_000)
    dir = await mkdtemp(join(tmpdir(), 'transport-'))
    certificates = await makeCertificates(dir)
    issuerServer = createHttpsServer({cert: certificates.cert, key: certificates.key}, (request, response) => {
      seenByIssuer.push({path: request.url!, authorization: request.headers.authorization})
      if (request.url === '/big') return void response.end('x'.repeat(4096))
      if (request.url === '/moved') return void response.writeHead(302, {location: '/metadata'}).end()
      response.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify({issuer: 'https://issuer.test', path: request.url}))
    })
    apiServer = createHttpServer((request, response) => {
      if (request.url === '/unavailable') return void response.writeHead(503).end('maintenance')
      response.writeHead(200, {'content-type': 'text/plain'}).end(`api ${request.method} ${request.url}`)
    })
    ending = [endingConnections(issuerServer), endingConnections(apiServer)]
    await Promise.all([new Promise<void>((resolve) => issuerServer.listen(0, '127.0.0.1', resolve)), new Promise<void>((resolve) => apiServer.listen(0, '127.0.0.1', resolve))])
    issuerPort = (issuerServer.address() as AddressInfo).port
    apiPort = (apiServer.address() as AddressInfo).port
  })
  after(async () => {
    for (const server of ending) server.end()
    await Promise.all([new Promise((resolve) => issuerServer.close(resolve)), new Promise((resolve) => apiServer.close(resolve))])
    await rm(dir, {recursive: true, force: true})
  })
  afterEach(async () => {
    await proxy?.close()
  })

  const options = (extra: Partial<TransportOptions> = {}): TransportOptions => ({caFile: {path: certificates.caFile, source: 'ACME_AUTH_CA_FILE'}, caFileVariable: 'ACME_AUTH_CA_FILE', ...extra})

  it('https through CONNECT with Basic auth: the proxy sees the host and the decoded credentials, the issuer the request', async () => {
    proxy = await startProxy({'issuer.test': issuerPort}, 'alice:s3cret pass')
    await withProxyEnv({https_proxy: `http://alice:s3cret%20pass@127.0.0.1:${proxy.port}`}, async () => {
      const send = transportFetch(options({toIssuer: true}))
      const response = await send('https://issuer.test/metadata', {headers: {authorization: 'Bearer at-1'}})
      expect(response.status).to.equal(200)
      expect(response.url).to.equal('https://issuer.test/metadata')
      expect(await response.json()).to.deep.equal({issuer: 'https://issuer.test', path: '/metadata'})
      // Redirects are followed through the proxy as well, on the same origin with the Authorization header.
      const moved = await send('https://issuer.test/moved', {headers: {authorization: 'Bearer at-1'}})
      expect(((await moved.json()) as {path: string}).path).to.equal('/metadata')
    })
    expect(proxy.seen[0]).to.deep.equal({line: 'CONNECT issuer.test:443', credentials: 'alice:s3cret pass'})
    expect(seenByIssuer.slice(-3)).to.deep.equal([
      {path: '/metadata', authorization: 'Bearer at-1'},
      {path: '/moved', authorization: 'Bearer at-1'},
      {path: '/metadata', authorization: 'Bearer at-1'},
    ])
  })

  it('an https issuer at an IP address, through the tunnel: its certificate is checked against that address', async () => {
    const ipServer = createHttpsServer({cert: certificates.ipCert, key: certificates.ipKey}, (_request, response) => void response.end('by address'))
    const ipEnding = endingConnections(ipServer)
    await new Promise<void>((resolve) => ipServer.listen(0, '127.0.0.1', resolve))
    try {
      // Both names lead to the same server: the one for issuer.test is refused, the one for the address accepted.
      proxy = await startProxy({'198.51.100.7': (ipServer.address() as AddressInfo).port, 'issuer.test': (ipServer.address() as AddressInfo).port})
      await withProxyEnv({HTTPS_PROXY: proxy.url}, async () => {
        expect(await (await transportFetch(options())('https://198.51.100.7/')).text()).to.equal('by address')
        const wrongName = await failureOf(transportFetch(options())('https://issuer.test/'))
        expect(wrongName).to.include({code: 'TLS_FAILED'})
        expect(wrongName.message).to.include('the certificate is for another name')
      })
    } finally {
      ipEnding.end()
      await new Promise((resolve) => ipServer.close(resolve))
    }
  })

  it('a wrong proxy password: CONFIG_INVALID (exit 2) naming the proxy and the variable, never the password', async () => {
    proxy = await startProxy({'issuer.test': issuerPort}, 'alice:right')
    for (const target of ['https://issuer.test/metadata', `http://api.test:${apiPort}/x`]) {
      const variable = target.startsWith('https') ? 'HTTPS_PROXY' : 'HTTP_PROXY'
      const error = await withProxyEnv({[variable]: `http://alice:wrong-hunter2@127.0.0.1:${proxy.port}`}, () => failureOf(transportFetch(options())(target)))
      expect(error, target).to.be.instanceOf(AuthError).and.include({code: 'CONFIG_INVALID', exitCode: 2})
      const text = (error as AuthError).userMessage
      expect(text, target).to.include(`127.0.0.1:${proxy.port}`).and.include(variable).and.match(/407/).and.match(/user name and password/)
      expect(text, target).to.not.include('wrong-hunter2')
    }
  })

  it('a proxy that cannot reach the host (502): TRANSIENT naming the proxy and the host', async () => {
    proxy = await startProxy({})
    const error = await withProxyEnv({HTTPS_PROXY: proxy.url}, () => failureOf(transportFetch(options())('https://issuer.test/metadata')))
    expect(error).to.be.instanceOf(AuthError).and.include({code: 'TRANSIENT', exitCode: 75})
    expect(error.message).to.include(`proxy 127.0.0.1:${proxy.port}`).and.include('HTTPS_PROXY').and.include('issuer.test').and.include('502')
    // Forwarded plain http: the proxy's 503 for the issuer is the proxy's failure; for a host's API it is the API's answer.
    const forwarded = await withProxyEnv({HTTP_PROXY: proxy.url}, () => failureOf(transportFetch(options({toIssuer: true}))(`http://down.test:${apiPort}/`)))
    expect(forwarded).to.include({code: 'TRANSIENT'})
    expect(forwarded.message).to.include('down.test').and.include(`127.0.0.1:${proxy.port}`)
  })

  it('a proxy whose wait for the issuer ran out (504): TRANSIENT naming the proxy and the issuer, through CONNECT and forwarded', async () => {
    proxy = await startProxy({}, undefined, ['slow.test'])
    for (const [variable, target] of [['HTTPS_PROXY', 'https://slow.test/metadata'], ['HTTP_PROXY', 'http://slow.test/token']]) {
      const error = await withProxyEnv({[variable]: proxy.url}, () => failureOf(transportFetch(options({toIssuer: true}))(target)))
      expect(error, target).to.be.instanceOf(AuthError).and.include({code: 'TRANSIENT', exitCode: 75})
      expect(error.message, target).to.include(`proxy 127.0.0.1:${proxy.port}`).and.include(variable).and.include('slow.test').and.include('504')
    }
  })

  it('a proxy that is not there: TRANSIENT (exit 75) naming it as host:port', async () => {
    const port = await closedPort()
    const error = await withProxyEnv({HTTPS_PROXY: `http://user:pw-hunter2@127.0.0.1:${port}`}, () => failureOf(transportFetch(options())('https://issuer.test/metadata')))
    expect(error).to.be.instanceOf(AuthError).and.include({code: 'TRANSIENT', exitCode: 75})
    expect(error.message).to.include(`proxy 127.0.0.1:${port} (from HTTPS_PROXY)`).and.match(/connection refused/).and.not.include('hunter2')
  })

  it('plain http is forwarded to the proxy as an absolute URI; a host API\'s own 503 is returned as its answer', async () => {
    proxy = await startProxy({'api.test': apiPort}, 'bob:pw')
    await withProxyEnv({http_proxy: `http://bob:pw@127.0.0.1:${proxy.port}`}, async () => {
      const send = transportFetch(options({hostErrors: true}))
      const response = await send(`http://api.test:${apiPort}/items?x=1`, {method: 'POST', body: 'hello'})
      expect(await response.text()).to.equal('api POST /items?x=1')
      expect((await send(`http://api.test:${apiPort}/unavailable`)).status).to.equal(503)
    })
    expect(proxy.seen[0]).to.deep.equal({line: `POST http://api.test:${apiPort}/items?x=1`, credentials: 'bob:pw'})
  })

  it('without the caFile the company-signed certificate is TLS_FAILED, in words, with both fixes', async () => {
    proxy = await startProxy({'issuer.test': issuerPort})
    const error = await withProxyEnv({HTTPS_PROXY: proxy.url}, () => failureOf(transportFetch({caFileVariable: 'ACME_AUTH_CA_FILE'})('https://issuer.test/metadata')))
    expect(error).to.be.instanceOf(AuthError).and.include({code: 'TLS_FAILED', exitCode: 1})
    const text = (error as AuthError).userMessage
    expect(text).to.include('https://issuer.test').and.include('issued by an unknown certificate authority').and.include('ACME_AUTH_CA_FILE').and.include('NODE_EXTRA_CA_CERTS')
  })

  it('which switch turns on the system store is named for the Node versions that have one', () => {
    expect(['20.20.2', '22.14.0', '22.15.0', '22.19.0', '23.8.0', '24.5.0', '24.6.0', '26.1.0'].map(systemStoreSwitch)).to.deep.equal([
      undefined,
      undefined,
      'NODE_OPTIONS=--use-system-ca',
      'NODE_USE_SYSTEM_CA=1',
      'NODE_OPTIONS=--use-system-ca',
      'NODE_OPTIONS=--use-system-ca',
      'NODE_USE_SYSTEM_CA=1',
      'NODE_USE_SYSTEM_CA=1',
    ])
  })

  it('a caFile that is missing or holds no certificate: CONFIG_INVALID naming its source', async () => {
    const notPem = join(dir, 'not.pem')
    await writeFile(notPem, 'hello\n')
    for (const [path, problem] of [[join(dir, 'missing.pem'), /does not exist/], [notPem, /holds no PEM certificate/]] as const) {
      const error = await failureOf(transportFetch(options({caFile: {path, source: 'caFile in /home/me/.config/acme/auth.json'}}))(`https://127.0.0.1:${issuerPort}/`))
      expect(error, path).to.include({code: 'CONFIG_INVALID', exitCode: 2})
      expect(error.message, path).to.include('Invalid caFile in /home/me/.config/acme/auth.json').and.include(path).and.match(problem)
    }
  })

  it('loopback goes direct even with a proxy set (this one is not even running)', async () => {
    const port = await closedPort()
    await withProxyEnv({HTTP_PROXY: `http://127.0.0.1:${port}`, HTTPS_PROXY: `http://127.0.0.1:${port}`}, async () => {
      const response = await transportFetch(options())(`http://127.0.0.1:${apiPort}/direct`)
      expect(await response.text()).to.equal('api GET /direct')
    })
  })

  it('an answer over the limit is refused; a host request that gets no answer is one AuthError naming the host', async () => {
    const tooLarge = new Error('too large')
    const limited = transportFetch(options({limit: {bytes: 1024, tooLarge: () => tooLarge}}))
    proxy = await startProxy({'issuer.test': issuerPort})
    await withProxyEnv({HTTPS_PROXY: proxy.url}, async () => {
      expect(await failureOf(limited('https://issuer.test/big'))).to.equal(tooLarge)
    })
    const port = await closedPort()
    const error = await failureOf(transportFetch(options({hostErrors: true}))(`http://127.0.0.1:${port}/`))
    expect(error).to.be.instanceOf(AuthError).and.include({code: 'TRANSIENT', exitCode: 75, message: `Could not reach 127.0.0.1:${port}: connection refused.`})
    // For the issuer's requests it stays fetch's TypeError, which provider/errors.ts words with what was being done.
    const plain = await failureOf(transportFetch(options())(`http://127.0.0.1:${port}/`))
    expect(plain).to.be.instanceOf(TypeError)
    expect((plain.cause as {code?: string}).code).to.equal('ECONNREFUSED')
  })
})
