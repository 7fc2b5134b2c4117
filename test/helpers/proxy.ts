// A real forward proxy: Debian's squid, started by the tests in a network namespace of their own
// (company-network.ts), with a private folder for its configuration, logs and pid file, nothing cached.
// Three ports, told apart in its access log: two open ones (`open`, `second`: which of two proxy
// variables a request used) and one that asks for a password (`auth`, Basic, checked by squid's own
// basic_ncsa_auth against a file the test writes), answering a wrong one with 407 as company proxies do.
//
// Squid will not run as root: it drops to its cache_effective_user (Debian's `proxy`), so that user owns
// the folder. It does not daemonize (-N): the process the test started is the proxy, and stopping it
// means waiting until that process is gone.
import {expect} from 'chai'
import {execFile, spawn, type ChildProcess} from 'node:child_process'
import {chown, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import type {RunResult} from './acme.js'
import {waitFor} from './wait.js'

const run = promisify(execFile)

export const BASIC_AUTH_HELPER = '/usr/lib/squid/basic_ncsa_auth'

export interface ProxyLogEntry {
  /** The squid port the request came in on. */
  port: number
  /** Who asked. */
  client: string
  method: string
  /** What for: `host:port` for CONNECT, the URL (query string removed by squid) otherwise. */
  target: string
  /** What squid answered the client. */
  status: number
}

export interface Squid {
  host: string
  ports: {open: number; second: number; auth: number}
  user: string
  password: string
  /** `http://host:port`, with `user:password@` (percent-encoded) when `credentials` says so. */
  url(port: number, credentials?: {user: string; password: string}): string
  /** The access log as it is now. */
  log(): Promise<ProxyLogEntry[]>
  /** Entries logged after `mark()` was called. */
  since(mark: number): Promise<ProxyLogEntry[]>
  /** How many entries the log holds now, for since(). */
  mark(): Promise<number>
  /**
   * What was logged after `mark`, once squid has written it: it logs a request when it ends, a CONNECT
   * tunnel when it closes, which may be a moment after the client has exited. Waits until entries have
   * come and the log has been still for a moment; gives up waiting for a first one after 0.4 s.
   */
  settledSince(mark: number): Promise<ProxyLogEntry[]>
  stop(): Promise<void>
  running(): boolean
}

export interface SquidOptions {
  /** The network namespace it runs in. */
  netns: string
  /** The address it listens on, inside that namespace. */
  host: string
  /** Who may use it (squid ACL src), e.g. the test's private range. */
  clients: string
  user: string
  password: string
  /** The open port (default 3128); the second is 10 above it, the one with a password 1 above. */
  portBase?: number
}

export async function startSquid(options: SquidOptions): Promise<Squid> {
  const base = options.portBase ?? 3128
  const PORTS = {open: base, second: base + 10, auth: base + 1}
  const dir = await mkdtemp(join(tmpdir(), 'acme-squid-'))
  // The password goes to openssl on stdin, not in its argument list (which any process can read).
  const hashed = await new Promise<string>((resolve, reject) => {
    const child = execFile('openssl', ['passwd', '-apr1', '-stdin'], (error, stdout) => (error ? reject(error) : resolve(stdout.trim())))
    child.stdin!.end(`${options.password}\n`)
  })
  await writeFile(join(dir, 'passwd'), `${options.user}:${hashed}\n`)
  const config = [
    ...Object.values(PORTS).map((port) => `http_port ${options.host}:${port}`),
    `pid_filename ${dir}/squid.pid`,
    `cache_log ${dir}/cache.log`,
    'logformat tokenwise %lp %>a %rm %ru %>Hs',
    `access_log stdio:${dir}/access.log tokenwise`,
    'cache deny all',
    'cache_mem 8 MB',
    `coredump_dir ${dir}`,
    'icp_port 0',
    'htcp_port 0',
    'pinger_enable off',
    'shutdown_lifetime 0 seconds',
    `auth_param basic program ${BASIC_AUTH_HELPER} ${dir}/passwd`,
    'auth_param basic children 1 startup=1 idle=1',
    'auth_param basic realm tokenwise-test-proxy',
    `acl auth_port localport ${PORTS.auth}`,
    'acl authenticated proxy_auth REQUIRED',
    'http_access deny auth_port !authenticated',
    `acl test_clients src ${options.clients}`,
    'http_access allow test_clients',
    'http_access deny all',
  ]
  await writeFile(join(dir, 'squid.conf'), `${config.join('\n')}\n`)
  const {stdout: ids} = await run('id', ['-u', 'proxy'])
  const {stdout: gids} = await run('id', ['-g', 'proxy'])
  for (const name of ['', 'passwd', 'squid.conf']) await chown(join(dir, name), Number(ids), Number(gids))

  const child: ChildProcess = spawn('ip', ['netns', 'exec', options.netns, 'squid', '-N', '-f', join(dir, 'squid.conf')], {stdio: ['ignore', 'ignore', 'pipe']})
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  let exited = false
  const gone = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())))
  const cacheLog = () => readFile(join(dir, 'cache.log'), 'utf8').catch(() => '')
  try {
    await waitFor(async () => {
      if (exited) throw new Error(`squid exited at start: ${stderr.trim()} ${(await cacheLog()).split('\n').filter((line) => /FATAL|ERROR/.test(line)).join(' ')}`)
      return ((await cacheLog()).match(/Accepting HTTP Socket connections/g) ?? []).length === Object.keys(PORTS).length
    }, 30_000, 'squid to listen')
  } catch (error) {
    child.kill('SIGKILL')
    await gone
    await rm(dir, {recursive: true, force: true})
    throw error
  }

  const log = async (): Promise<ProxyLogEntry[]> => {
    const text = await readFile(join(dir, 'access.log'), 'utf8').catch(() => '')
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [port, client, method, target, status] = line.split(' ')
        return {port: Number(port), client, method, target, status: Number(status)}
      })
  }
  const encoded = (text: string) => encodeURIComponent(text)
  let stopped = false
  return {
    host: options.host,
    ports: PORTS,
    user: options.user,
    password: options.password,
    url: (port, credentials) => `http://${credentials ? `${encoded(credentials.user)}:${encoded(credentials.password)}@` : ''}${options.host}:${port}`,
    log,
    async mark() {
      return (await log()).length
    },
    async since(mark) {
      return (await log()).slice(mark)
    },
    async settledSince(mark) {
      const started = Date.now()
      let seen = -1
      let stillSince = Date.now()
      for (;;) {
        const entries = (await log()).slice(mark)
        if (entries.length !== seen) {
          seen = entries.length
          stillSince = Date.now()
        }
        const still = Date.now() - stillSince
        if ((seen > 0 && still >= 150) || (seen === 0 && Date.now() - started >= 400) || Date.now() - started > 15_000) return entries
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
    running: () => !exited,
    async stop() {
      if (stopped) return
      stopped = true
      if (!exited) {
        // SIGINT: squid shuts down at once (SIGTERM would let open connections finish first).
        child.kill('SIGINT')
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000)
        await gone
        clearTimeout(killer)
      }
      // Its helper (basic_ncsa_auth) ends when squid closes its stdin.
      if (!process.env.KEEP_E2E_HOMES) await rm(dir, {recursive: true, force: true})
    },
  }
}

/** The proxy user and password the tests' squid knows: the `:`, `@` and `%` must be percent-encoded in the URL, and decoded. */
export const PROXY_USER = 'build.agent'
export const PROXY_PASSWORD = 'Pr0xy:s3cret@corp%42'

/** Every form in which the proxy password could leak: as is, percent-encoded, inside a Basic header. */
export function passwordForms(user: string, password: string): string[] {
  return [password, encodeURIComponent(password), Buffer.from(`${user}:${password}`).toString('base64')]
}

/** Nothing the command printed holds the password, in any of those forms. */
export function expectNoPassword(result: RunResult, user = PROXY_USER, password = PROXY_PASSWORD): void {
  for (const form of passwordForms(user, password)) {
    expect(result.stdout, 'stdout').not.to.include(form)
    expect(result.stderr, 'stderr').not.to.include(form)
  }
}
