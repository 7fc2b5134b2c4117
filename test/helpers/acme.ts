// Runs the example host CLI (examples/acme) the way a user would: a separate process, a fresh home,
// nothing inherited from the developer's shell. Plus the few things end-to-end tests need to look at
// what a user can see: the store's files, the issuer's own endpoints, and oclif's error format.

import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {appendFileSync} from 'node:fs'
import {cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile} from 'node:fs/promises'
import {createServer as createHttpServer} from 'node:http'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {RELAY_BROWSER_ENV} from './browser-relay.js'

export const ACME_BIN = fileURLToPath(new URL('../../examples/acme/bin/run.js', import.meta.url))
export const BROWSER = fileURLToPath(new URL('../fixtures/browser.js', import.meta.url))

/**
 * How the tests start a host process: `node [NODE_TEST_FLAGS] <bin> <args>`.
 *
 * `--liftoff-only` keeps V8 to its baseline WebAssembly compiler. The first `fetch` of a Node 20
 * process compiles undici's HTTP parser (WebAssembly), and the optimizing compiler makes that about
 * 0.25 s of CPU per process: a third of a signed-in `acme whoami`. What the plugin does is the same
 * either way; this only stops each of the suite's ~700 commands paying for a compile they are too short
 * to profit from. It is a command-line flag (Node refuses it in NODE_OPTIONS), so processes the
 * plugin starts itself (the detached `auth refresh --ahead`) run as they would for a user.
 */
export const NODE_TEST_FLAGS = ['--liftoff-only']

/** The argument vector for `process.execPath` that runs `bin` (acme's by default) with `args`. */
export function nodeArgs(args: string[], bin: string = ACME_BIN): string[] {
  return [...NODE_TEST_FLAGS, bin, ...args]
}

/**
 * A hung CLI fails its test after this long instead of hanging the run. Generous: on a shared,
 * loaded machine one command has been seen to take over 30 s.
 */
export const DEFAULT_TIMEOUT_MS = 60_000

export interface TempHome {
  /** The temp folder; HOME points here. */
  root: string
  /** ACME_DATA_DIR: the store lives in `${dataDir}/auth`. */
  dataDir: string
  /** ACME_CONFIG_DIR. */
  configDir: string
  /** `${dataDir}/auth`: accounts.json (index) and credentials.json (secrets). */
  authDir: string
  cleanup(): Promise<void>
}

/** A per-test home with its own data and config dirs, in os.tmpdir(). */
export async function makeTempHome(): Promise<TempHome> {
  const root = await mkdtemp(join(tmpdir(), 'acme-e2e-'))
  const dataDir = join(root, 'data')
  const configDir = join(root, 'config')
  await mkdir(dataDir, {recursive: true})
  await mkdir(configDir, {recursive: true})
  return {
    root,
    dataDir,
    configDir,
    authDir: join(dataDir, 'auth'),
    async cleanup() {
      // KEEP_E2E_HOMES=1 keeps the folders for a post-mortem.
      if (!process.env.KEEP_E2E_HOMES) await rm(root, {recursive: true, force: true})
    },
  }
}

export interface RunOptions {
  home: TempHome
  /** Another host's entry point (a variant of examples/acme, see makeHostVariant); acme's own by default. */
  bin?: string
  /** Added to the clean environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>
  /** Written to stdin, which is then closed. Without it stdin is 'ignore'. */
  input?: string
  timeoutMs?: number
}

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Variables from the developer's or CI's shell that would change what the CLI does. */
function inheritable(name: string): boolean {
  const upper = name.toUpperCase()
  if (upper.startsWith('ACME_') || upper.startsWith('OCLIF_') || upper.startsWith('XDG_')) return false
  return ![
    'BROWSER',
    'DEBUG',
    'NODE_DEBUG',
    'NODE_OPTIONS',
    'DISPLAY',
    'WAYLAND_DISPLAY',
    'HOME',
    'CI',
    'NO_COLOR',
    'FORCE_COLOR',
    'FAKE_BROWSER_MODE',
    'FAKE_BROWSER_LOGIN',
    'FAKE_BROWSER_LOG',
    'FAKE_BROWSER_RELAY_PORT',
  ].includes(upper)
}

export function cleanEnv(home: TempHome, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) if (inheritable(name)) env[name] = value
  Object.assign(env, {
    HOME: home.root,
    XDG_CONFIG_HOME: join(home.root, '.config'),
    XDG_DATA_HOME: join(home.root, '.local', 'share'),
    XDG_CACHE_HOME: join(home.root, '.cache'),
    ACME_DATA_DIR: home.dataDir,
    ACME_CONFIG_DIR: home.configDir,
    CI: 'true',
    NO_COLOR: '1',
  })
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name]
    else env[name] = value
  }
  return env
}

/**
 * Spawn `acme <args>` asynchronously (the test issuer runs in this process: a synchronous spawn
 * would deadlock it) and collect its output. Resolves when the process has exited and its output
 * pipes have closed — what a shell's `$(acme ...)` waits for.
 */
export function runAcme(args: string[], options: RunOptions): Promise<RunResult> {
  countRun('spawned', args)
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs(args, options.bin), {
      cwd: options.home.root,
      env: cleanEnv(options.home, options.env),
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    if (options.input !== undefined) {
      child.stdin!.on('error', () => {}) // the CLI may exit without reading it
      child.stdin!.end(options.input)
    }

    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      if (timedOut) {
        reject(new Error(`acme ${args.join(' ')} did not finish within ${timeoutMs} ms.\nstdout: ${stdout}\nstderr: ${stderr}`))
        return
      }
      resolve({code, stdout, stderr})
    })
  })
}

/**
 * With TOKENWISE_TEST_RUN_LOG=<file>, one line per run of the host (`spawned` or `in-process`, and
 * the command line) is appended there: how the suite's figures of spawned runs are counted.
 */
export function countRun(how: 'spawned' | 'in-process', args: string[]): void {
  const log = process.env.TOKENWISE_TEST_RUN_LOG
  if (log) appendFileSync(log, `${how} ${args.join(' ')}\n`)
}

/** A one-line summary of a run for assertion messages. */
export function describeRun(args: string[], result: RunResult): string {
  return `acme ${args.join(' ')} → exit ${result.code}\n--- stdout ---\n${result.stdout}--- stderr ---\n${result.stderr}`
}

/** Run and expect a given exit code; the message shows all output when it is not. */
export async function runAcmeExpecting(code: number, args: string[], options: RunOptions): Promise<RunResult> {
  const result = await runAcme(args, options)
  expect(result.code, describeRun(args, result)).to.equal(code)
  return result
}

export interface HostVariant {
  /** Its bin/run.js: pass as RunOptions.bin. */
  bin: string
  cleanup(): Promise<void>
}

/**
 * A copy of examples/acme whose package.json has `oclif.auth` changed by `edit` (settings only a
 * host's author can set: authorizationParams, allowInsecureIssuer, …). Same bin name, same commands
 * and manifest; it finds @oclif/core and the plugin through a node_modules link to this repository's.
 */
export async function makeHostVariant(edit: (auth: Record<string, unknown>) => Record<string, unknown>): Promise<HostVariant> {
  const source = fileURLToPath(new URL('../../examples/acme/', import.meta.url))
  const root = await mkdtemp(join(tmpdir(), 'acme-host-'))
  for (const entry of ['bin', 'src', 'oclif.manifest.json']) await cp(join(source, entry), join(root, entry), {recursive: true})
  const pjson = JSON.parse(await readFile(join(source, 'package.json'), 'utf8'))
  pjson.oclif.auth = edit(structuredClone(pjson.oclif.auth))
  await writeFile(join(root, 'package.json'), `${JSON.stringify(pjson, null, 2)}\n`)
  await symlink(fileURLToPath(new URL('../../node_modules', import.meta.url)), join(root, 'node_modules'), 'dir')
  return {
    bin: join(root, 'bin', 'run.js'),
    async cleanup() {
      await rm(root, {recursive: true, force: true})
    },
  }
}

// ---------------------------------------------------------------------------------------------
// The issuer side

export interface IssuerLike {
  issuer: string
  clientId: string
}

/** The environment that points acme at a test issuer, with the scripted browser (browser-relay.ts). */
export function issuerEnv(issuer: IssuerLike, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {ACME_AUTH_ISSUER: issuer.issuer, ...RELAY_BROWSER_ENV, ...extra}
}

export async function discoveryOf(issuer: IssuerLike): Promise<{token_endpoint: string; userinfo_endpoint: string; revocation_endpoint?: string}> {
  const response = await fetch(`${issuer.issuer}/.well-known/openid-configuration`)
  expect(response.status, 'discovery').to.equal(200)
  return response.json() as Promise<{token_endpoint: string; userinfo_endpoint: string}>
}

/** Ask the issuer's userinfo endpoint about an access token, as an API would. */
export async function userinfo(issuer: IssuerLike, accessToken: string): Promise<{status: number; body: Record<string, unknown> | undefined}> {
  const {userinfo_endpoint: endpoint} = await discoveryOf(issuer)
  const response = await fetch(endpoint, {headers: {authorization: `Bearer ${accessToken}`}})
  const text = await response.text()
  return {status: response.status, body: response.ok ? (JSON.parse(text) as Record<string, unknown>) : undefined}
}

/** A refresh_token grant sent straight to the token endpoint, bypassing the CLI. */
export async function refreshAtIssuer(issuer: IssuerLike, refreshToken: string): Promise<{status: number; body: Record<string, unknown>}> {
  const {token_endpoint: endpoint} = await discoveryOf(issuer)
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {'content-type': 'application/x-www-form-urlencoded'},
    body: new URLSearchParams({grant_type: 'refresh_token', refresh_token: refreshToken, client_id: issuer.clientId}),
  })
  return {status: response.status, body: (await response.json()) as Record<string, unknown>}
}

/**
 * A loopback port nothing listens on. Not one the kernel hands out for port 0 (every test issuer
 * listens on port 0): a suite running in parallel could be given it between our check and our use.
 * So a port below the ephemeral range, checked free by binding it once.
 */
export async function closedPort(): Promise<number> {
  const [ephemeralStart] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768')).trim().split(/\s+/).map(Number)
  const low = 10_000
  const high = Math.max(low + 1000, ephemeralStart)
  for (;;) {
    const port = low + Math.floor(Math.random() * (high - low))
    const server = createServer()
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false))
      server.listen(port, '127.0.0.1', () => resolve(true))
    })
    if (!bound) continue
    await new Promise<void>((resolve) => server.close(() => resolve()))
    return port
  }
}

/**
 * An HTTP server that answers 404 to everything and records what was asked. Point ACME_AUTH_ISSUER
 * at it to prove a command never started its own work (whoami's first step is a discovery fetch).
 * `host`: the address it listens on (another than loopback stands for another machine).
 */
export async function startRequestRecorder(host = '127.0.0.1'): Promise<{url: string; requests: string[]; close(): Promise<void>}> {
  const requests: string[] = []
  const server = createHttpServer((request, response) => {
    requests.push(`${request.method} ${request.url}`)
    response.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  const {port} = server.address() as {port: number}
  return {
    url: `http://${host}:${port}`,
    requests,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

// ---------------------------------------------------------------------------------------------
// The store, as files

export interface StoredSecrets {
  accessToken: string
  tokenType: string
  refreshToken?: string
  idToken?: string
  expiresAt?: string
}

export async function readCredentialsFile(home: TempHome): Promise<{version: number; accounts: Record<string, StoredSecrets>}> {
  return JSON.parse(await readFile(join(home.authDir, 'credentials.json'), 'utf8'))
}

/** The secrets of the only account in credentials.json. */
export async function onlyStoredSecrets(home: TempHome): Promise<StoredSecrets> {
  const file = await readCredentialsFile(home)
  const entries = Object.values(file.accounts)
  expect(entries, 'accounts in credentials.json').to.have.length(1)
  return entries[0]
}

/** Raw bytes of both store files (undefined when absent), to prove a failed command changed nothing. */
export async function storeSnapshot(home: TempHome): Promise<{index?: string; credentials?: string}> {
  const read = (name: string) => readFile(join(home.authDir, name), 'utf8').catch(() => undefined)
  return {index: await read('accounts.json'), credentials: await read('credentials.json')}
}

/**
 * The logins as stored: credentials.json byte for byte, and the index without what a failed refresh
 * adds to it (its `refreshFailures` back-off, and the write count `gen`). Equal before and after a
 * failure means the failure lost nothing.
 */
export async function loginSnapshot(home: TempHome): Promise<{index?: unknown; credentials?: string}> {
  const {index, credentials} = await storeSnapshot(home)
  if (index === undefined) return {credentials}
  const {gen: _gen, refreshFailures: _backOff, ...logins} = JSON.parse(index)
  return {index: logins, credentials}
}

// ---------------------------------------------------------------------------------------------
// What the user sees

export const STATUS_KEYS = ['loggedIn', 'source', 'accounts']
export const ACCOUNT_KEYS = ['kind', 'clientAuthentication', 'issuer', 'clientId', 'subject', 'name', 'email', 'default', 'storage', 'scopes', 'expiresAt', 'hasRefreshToken', 'tokenType', 'jkt', 'proxy']

export interface AccountStatus {
  kind: 'user' | 'client'
  clientAuthentication: string | null
  issuer: string
  clientId: string
  subject: string
  name: string | null
  email: string | null
  default: boolean
  storage: string
  scopes: string[]
  expiresAt: string | null
  hasRefreshToken: boolean
  tokenType: 'Bearer' | 'DPoP'
  jkt: string | null
  /** The proxy to the issuer, credentials shown as ***; null: direct. */
  proxy: string | null
}

export interface StatusReport {
  loggedIn: boolean
  source: 'env' | 'store' | null
  accounts: AccountStatus[]
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

/** Parse `auth status --json` output and check it has exactly the documented shape. */
export function parseStatus(stdout: string): StatusReport {
  const report = JSON.parse(stdout) as StatusReport
  expect(Object.keys(report).sort(), 'status keys').to.deep.equal([...STATUS_KEYS].sort())
  expect(report.loggedIn).to.be.a('boolean')
  expect(report.source).to.be.oneOf(['env', 'store', null])
  expect(report.accounts).to.be.an('array')
  for (const account of report.accounts) {
    // accessToken only with --show-token.
    expect(Object.keys(account).filter((key) => key !== 'accessToken').sort(), 'account keys').to.deep.equal([...ACCOUNT_KEYS].sort())
    expect(account.kind).to.be.oneOf(['user', 'client'])
    for (const key of ['issuer', 'clientId', 'subject', 'storage'] as const) expect(account[key], key).to.be.a('string')
    for (const key of ['name', 'email'] as const) if (account[key] !== null) expect(account[key], key).to.be.a('string')
    expect(account.default).to.be.a('boolean')
    expect(account.hasRefreshToken).to.be.a('boolean')
    expect(account.scopes).to.be.an('array')
    for (const scope of account.scopes) expect(scope).to.be.a('string')
    if (account.expiresAt !== null) {
      expect(account.expiresAt, 'expiresAt').to.match(ISO_8601)
      expect(Number.isNaN(Date.parse(account.expiresAt)), 'expiresAt parses').to.equal(false)
    }
  }
  return report
}

/** `acme auth status --json`, expecting exit 0 and the documented shape. */
export async function statusJson(home: TempHome, env: Record<string, string | undefined> = {}): Promise<StatusReport> {
  const result = await runAcmeExpecting(0, ['auth', 'status', '--json'], {home, env})
  return parseStatus(result.stdout)
}

/** A line of a Node/JS stack trace, or an error printed by something other than oclif's one-line format. */
export function assertNoStackTrace(stderr: string): void {
  for (const line of stderr.split('\n')) {
    expect(line, `stack frame in stderr:\n${stderr}`).not.to.match(/^\s*at\s/)
    if (/\b[A-Za-z]*Error:/.test(line)) expect(line, `error outside oclif's format:\n${stderr}`).to.match(/^ ›   Error: /)
  }
  expect(stderr, 'stderr').not.to.match(/\[object Object\]|\bundefined\b|node:internal|\.(ts|js):\d+:\d+/)
}

/**
 * The one error message oclif printed (` ›   Error: …`, wrapped onto ` ›   ` continuation lines when
 * stderr is not a wide terminal), unwrapped to one line. Fails unless there is exactly one such
 * message and no stack trace.
 */
export function errorMessage(stderr: string): string {
  assertNoStackTrace(stderr)
  const lines = stderr.split('\n')
  const starts = lines.flatMap((line, i) => (line.startsWith(' ›   Error: ') ? [i] : []))
  expect(starts, `exactly one error message in stderr:\n${stderr}`).to.have.length(1)
  const parts = [lines[starts[0]].slice(' ›   Error: '.length)]
  for (let i = starts[0] + 1; i < lines.length && lines[i].startsWith(' ›   ') && !lines[i].startsWith(' ›   Warning:'); i++) {
    parts.push(lines[i].slice(' ›   '.length))
  }
  const message = parts.map((part) => part.trim()).join(' ')
  expect(message, 'error message').to.have.length.greaterThan(10)
  return message
}

/** stderr is nothing but one error message (no progress lines, no warnings). */
export function onlyErrorMessage(stderr: string): string {
  const message = errorMessage(stderr)
  const leftover = stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith(' ›   '))
  expect(leftover, `stderr holds more than the error:\n${stderr}`).to.deep.equal([])
  return message
}

/** The warnings oclif printed (` ›   Warning: …`, wrapped onto ` ›   ` lines), each unwrapped to one line. */
export function warningMessages(stderr: string): string[] {
  const lines = stderr.split('\n')
  const warnings: string[] = []
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith(' ›   Warning: ')) continue
    const parts = [lines[i].slice(' ›   Warning: '.length)]
    for (let j = i + 1; j < lines.length && lines[j].startsWith(' ›   ') && !/^ › {3}(Warning|Error): /.test(lines[j]); j++) parts.push(lines[j].slice(' ›   '.length))
    warnings.push(parts.map((part) => part.trim()).join(' '))
  }
  return warnings
}
