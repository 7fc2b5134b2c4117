// A company network in miniature, made of real Linux network namespaces: the CLI runs on a "laptop"
// from which the issuer cannot be reached, only the proxy can. A request that bypasses the proxy fails.
//
//   test process (root namespace)          proxy namespace                  laptop namespace
//   issuer on <net>.1  ── veth ──  <net>.2 · squid on <net>.5  ── veth ──  <net>.6 · the CLI
//
// The proxy namespace does not forward (ip_forward 0) and the laptop has no route beyond its own link,
// so from the laptop only <net>.5 answers. <net> is a /28 of 198.18.0.0/15 (RFC 2544's range for
// benchmark tests, used by nothing real), picked from the pid: parallel runs do not collide. Everything
// is made by the test and deleted in its after() hook; names carry the pid.
//
// Names: the laptop and the proxy resolve ISSUER_NAME to the issuer's address through their own
// /etc/hosts (/etc/netns/<namespace>/hosts, which `ip netns exec` puts in place of /etc/hosts), as a
// company's DNS would; behind the proxy only the proxy resolves it.
//
// The browser: the CLI runs test/fixtures/netns-browser.sh, which hands the URL over a Unix socket (a
// file: it works across network namespaces) to this process, which clicks through the issuer's pages
// (browser-walk.js) and delivers the issuer's final redirect to the CLI's loopback callback from inside
// the laptop namespace (curl there), as the user's browser on that laptop would.
import {expect} from 'chai'
import {execFile, spawn} from 'node:child_process'
import {lookup as dnsLookup} from 'node:dns'
import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {createServer, request as httpRequest, type Server} from 'node:http'
import {request as httpsRequest} from 'node:https'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

import {BrowserError, walk} from '../fixtures/browser-walk.js'
import {runAcme, runAcmeExpecting, type RunOptions, type RunResult} from './acme.js'
import {alive} from './wait.js'

const run = promisify(execFile)

export const NETNS_BROWSER = fileURLToPath(new URL('../fixtures/netns-browser.sh', import.meta.url))

let networks = 0

/** The issuer's name on the company network (.test: RFC 6761, never a real name). */
export const ISSUER_NAME = 'login.corp.test'

export interface CompanyNetwork {
  /** The laptop's namespace, where the CLI runs. */
  laptop: string
  /** The proxy's namespace. */
  proxyNamespace: string
  /** The address the issuer listens on (root namespace): not reachable from the laptop. */
  issuerHost: string
  /** ISSUER_NAME, which the laptop and the proxy resolve to issuerHost. */
  issuerName: string
  /** The address the proxy listens on (proxy namespace): the only one the laptop reaches. */
  proxyHost: string
  /** The laptop's own address: the client squid logs. */
  laptopHost: string
  /** An address in the range that no interface has: a proxy there is unreachable. */
  nowhere: string
  /** The /28 all of these are in. */
  cidr: string
  /** `acme <args>` on the laptop: like runAcme, through `ip netns exec`. */
  run(args: string[], options: RunOptions): Promise<RunResult>
  runExpecting(code: number, args: string[], options: RunOptions): Promise<RunResult>
  /**
   * `acme <args>` on the proxy's own machine, which reaches the issuer directly: set-up (a login the
   * tests copy) that must not depend on the proxy code under test. Only the device flow signs in here
   * (the browser's callback is delivered on the laptop).
   */
  runBesideProxy(code: number, args: string[], options: RunOptions): Promise<RunResult>
  /** curl on the laptop, proxy variables ignored: its exit code and the one line it printed. */
  curlDirect(url: string): Promise<{code: number; stderr: string}>
  /** The environment that makes the CLI's browser this process's walk (see above). */
  browserEnv: Record<string, string>
  /** The CA the browser's walk trusts for an https issuer (PEM), if any. */
  trustForBrowser(ca: string | undefined): void
  close(): Promise<void>
}

function address(base: number, offset: number): string {
  const n = base + offset
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

/** The first /28 of 198.18.0.0/15 from `start` on that no interface of this machine has an address in. */
async function freeRange(start: number): Promise<number> {
  for (let i = 0; i < 8192; i++) {
    const base = ((198 << 24) >>> 0) + (18 << 16) + (((start + i) % 8192) * 16)
    const {stdout} = await run('ip', ['-4', '-o', 'addr', 'show', 'to', `${address(base, 0)}/28`])
    if (stdout.trim() === '') return base
  }
  throw new Error('no free /28 in 198.18.0.0/15')
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args)
}

/** What a run that was killed before its after() hooks left behind: its namespaces and root-side links. */
async function sweepLeftovers(): Promise<void> {
  const {stdout} = await run('ip', ['netns', 'list'])
  for (const [, name, pid] of stdout.matchAll(/^(tokenwise-(?:laptop|proxy)-(\d+)(?:-\d+)?)\b/gm)) {
    if (alive(Number(pid))) continue
    const pids = await run('ip', ['netns', 'pids', name]).then(({stdout: list}) => list.split('\n').filter(Boolean).map(Number), () => [])
    for (const orphan of pids) {
      try {
        process.kill(orphan, 'SIGKILL')
      } catch {}
    }
    await ip('netns', 'del', name).catch(() => {})
    await rm(`/etc/netns/${name}`, {recursive: true, force: true})
  }
  const {stdout: links} = await run('ip', ['-o', 'link', 'show'])
  for (const [, link, pid] of links.matchAll(/^\d+: (tw\d+r(\d+))@/gm)) if (!alive(Number(pid))) await ip('link', 'del', link).catch(() => {})
}

/** Make the namespaces and links; the returned close() removes them (call it from after()). */
export async function makeCompanyNetwork(): Promise<CompanyNetwork> {
  await sweepLeftovers()
  const n = networks++
  const id = `${process.pid}${n ? `-${n}` : ''}`
  const laptop = `tokenwise-laptop-${id}`
  const proxyNamespace = `tokenwise-proxy-${id}`
  // Interface names are at most 15 characters.
  const rootSide = `tw${n}r${process.pid}`
  const proxyUp = `tw${n}p${process.pid}`
  const proxyDown = `tw${n}q${process.pid}`
  const laptopSide = `tw${n}l${process.pid}`
  const base = await freeRange((process.pid * 4 + n) % 8192)
  const issuerHost = address(base, 1)
  const proxyHost = address(base, 5)

  const dir = await mkdtemp(join(tmpdir(), 'acme-netns-'))
  let browser: Server | undefined
  const closeEverything = async () => {
    for (const namespace of [laptop, proxyNamespace]) {
      // Whatever still runs there (a background refresh) goes first, then the namespace and its links.
      const pids = await run('ip', ['netns', 'pids', namespace]).then(({stdout}) => stdout.split('\n').filter(Boolean).map(Number), () => [])
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {}
      }
      await ip('netns', 'del', namespace).catch(() => {})
      await rm(`/etc/netns/${namespace}`, {recursive: true, force: true})
    }
    await ip('link', 'del', rootSide).catch(() => {})
    if (browser) await new Promise<void>((resolve) => browser!.close(() => resolve()))
    await rm(dir, {recursive: true, force: true})
  }

  try {
    await ip('netns', 'add', proxyNamespace)
    await ip('netns', 'add', laptop)
    await ip('link', 'add', rootSide, 'type', 'veth', 'peer', 'name', proxyUp, 'netns', proxyNamespace)
    await ip('link', 'add', laptopSide, 'netns', laptop, 'type', 'veth', 'peer', 'name', proxyDown, 'netns', proxyNamespace)
    await ip('addr', 'add', `${issuerHost}/30`, 'dev', rootSide)
    await ip('link', 'set', rootSide, 'up')
    await ip('-n', proxyNamespace, 'addr', 'add', `${address(base, 2)}/30`, 'dev', proxyUp)
    await ip('-n', proxyNamespace, 'addr', 'add', `${proxyHost}/30`, 'dev', proxyDown)
    await ip('-n', laptop, 'addr', 'add', `${address(base, 6)}/30`, 'dev', laptopSide)
    for (const [namespace, link] of [[proxyNamespace, proxyUp], [proxyNamespace, proxyDown], [laptop, laptopSide], [proxyNamespace, 'lo'], [laptop, 'lo']]) {
      await ip('-n', namespace, 'link', 'set', link, 'up')
    }
    const hosts = `${await readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1 localhost\n::1 localhost\n')}\n${issuerHost} ${ISSUER_NAME}\n`
    for (const namespace of [laptop, proxyNamespace]) {
      await mkdir(`/etc/netns/${namespace}`, {recursive: true})
      await writeFile(`/etc/netns/${namespace}/hosts`, hosts)
    }
    // New namespaces start with forwarding off; said here because the proof depends on it.
    await run('ip', ['netns', 'exec', proxyNamespace, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=0'])
  } catch (error) {
    await closeEverything()
    throw error
  }

  const wrapper = ['ip', 'netns', 'exec', laptop]
  let browserCa: string | undefined

  /** The laptop's browser sends a loopback URL (the CLI's callback) from inside the laptop namespace. */
  const deliverOnLaptop = async (url: URL): Promise<Response> => {
    // The URL carries the authorization code: not in an error message.
    const {stdout} = await run('ip', ['netns', 'exec', laptop, 'curl', '-s', '--noproxy', '*', '-m', '30', '-o', '/dev/null', '-w', '%{http_code}', url.href]).catch((error: {code?: number}) => {
      throw new Error(`curl on the laptop could not reach its loopback callback (curl exit ${error.code})`)
    })
    const response = new Response(null, {status: Number(stdout)})
    Object.defineProperty(response, 'url', {value: url.href})
    return response
  }
  /** The browser's requests to the issuer pages, with node:http(s) so that it can trust the test CA. */
  const send = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    if (url.hostname === '127.0.0.1' || url.hostname === 'localhost') return deliverOnLaptop(url)
    const headers = new Headers(input instanceof Request ? input.headers : init.headers)
    const body = init.body === undefined || init.body === null ? undefined : String(init.body)
    if (body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded')
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest
    return new Promise((resolve, reject) => {
      // The test process is not on the company network: it resolves ISSUER_NAME itself.
      const lookup = (hostname: string, options: object, callback: (...args: unknown[]) => void) =>
        hostname === ISSUER_NAME ? ((options as {all?: boolean}).all ? callback(null, [{address: issuerHost, family: 4}]) : callback(null, issuerHost, 4)) : dnsLookup(hostname, options, callback as never)
      const outgoing = request(url, {method: init.method ?? 'GET', headers: Object.fromEntries(headers), lookup: lookup as never, ...(browserCa ? {ca: browserCa} : {})}, (incoming) => {
        const chunks: Buffer[] = []
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
        incoming.on('error', reject)
        incoming.on('end', () => {
          const answer = new Headers()
          for (const [name, value] of Object.entries(incoming.headers)) {
            for (const one of Array.isArray(value) ? value : [value]) if (one !== undefined) answer.append(name, one)
          }
          const status = incoming.statusCode ?? 500
          const response = new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), {status, headers: answer})
          // As fetch's: the cookie jar files cookies under it.
          Object.defineProperty(response, 'url', {value: url.href})
          resolve(response)
        })
      })
      outgoing.on('error', reject)
      outgoing.end(body)
    })
  }
  browser = createServer((request, response) => {
    let url = ''
    request.setEncoding('utf8')
    request.on('data', (chunk: string) => (url += chunk))
    request.on('end', () => {
      const mode = request.headers['x-browser-mode'] as string | undefined
      const login = request.headers['x-browser-login'] as string | undefined
      response.end('taken\n')
      walk(url, {mode: mode || undefined, login: login || undefined, send}).catch((error: unknown) => {
        console.error(`netns browser: ${error instanceof BrowserError ? (error as Error).message : String(error)}`)
      })
    })
  })
  const socket = join(dir, 'browser.sock')
  await new Promise<void>((resolve) => browser!.listen(socket, resolve))
  browser.unref()

  return {
    laptop,
    proxyNamespace,
    issuerHost,
    proxyHost,
    issuerName: ISSUER_NAME,
    laptopHost: address(base, 6),
    nowhere: address(base, 9),
    cidr: `${address(base, 0)}/28`,
    run: (args, options) => runAcme(args, {...options, wrapper}),
    runExpecting: (code, args, options) => runAcmeExpecting(code, args, {...options, wrapper}),
    runBesideProxy: (code, args, options) => runAcmeExpecting(code, args, {...options, wrapper: ['ip', 'netns', 'exec', proxyNamespace]}),
    async curlDirect(url) {
      const child = spawn('ip', ['netns', 'exec', laptop, 'curl', '-sS', '-k', '--noproxy', '*', '-m', '5', '-o', '/dev/null', url], {stdio: ['ignore', 'ignore', 'pipe']})
      let stderr = ''
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
      const code = await new Promise<number>((resolve) => child.on('close', (exit) => resolve(exit ?? -1)))
      return {code, stderr: stderr.trim()}
    },
    browserEnv: {ACME_BROWSER: NETNS_BROWSER, FAKE_BROWSER_SOCKET: socket},
    trustForBrowser(ca) {
      browserCa = ca
    },
    close: closeEverything,
  }
}

/** The set-up's own proof: from the laptop, the issuer is unreachable directly. */
export async function expectNoDirectRoute(network: CompanyNetwork, url: string): Promise<void> {
  const direct = await network.curlDirect(url)
  expect(direct.code, `a direct connection from the laptop to ${url} must fail: ${direct.stderr}`).to.equal(7)
  expect(direct.stderr).to.match(/Couldn't connect to server|Network is unreachable/)
}
