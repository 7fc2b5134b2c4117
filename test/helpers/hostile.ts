// What the hostile-machine and hostile-issuer tests need to stage an attack for real: another Unix
// user, a login written by hand, a bait store that shows whether it was read, a terminal to answer a
// prompt at, a copy of examples/acme with other settings, and a check for what must never reach one.

import {execFile, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {lstat, mkdir, readdir, readFile, readlink, stat, writeFile} from 'node:fs/promises'
import {networkInterfaces, tmpdir} from 'node:os'
import {join} from 'node:path'

import { DEFAULT_TIMEOUT_MS, cleanEnv, nodeArgs, type RunOptions, type RunResult } from './acme.js'


// ---------------------------------------------------------------------------------------------
// Another user on this machine

/** The other user: nobody/nogroup on Debian. */
export const OTHER_UID = 65534

const isRoot = process.getuid?.() === 0

/**
 * Run a command with root's rights: directly when the tests run as root (CI), else through
 * `sudo -n`. Never skipped: without either, the attack cannot be staged and the test fails saying so.
 */
function privileged(argv: string[]): Promise<void> {
  const [command, ...args] = isRoot ? argv : ['sudo', '-n', ...argv]
  return new Promise((resolvePromise, reject) => {
    execFile(command, args, (error, _stdout, stderr) => {
      if (!error) return resolvePromise()
      const why = stderr.trim() || error.message
      reject(new Error(isRoot ? `${argv.join(' ')} failed: ${why}` : `These attacks need a second Unix user: run the tests as root or with passwordless sudo (sudo -n ${argv[0]} failed: ${why}).`))
    })
  })
}

/** `sh -c script` as the other user (uid and gid 65534, no supplementary groups), with umask 000. */
export function asOtherUser(script: string): Promise<void> {
  return privileged(['setpriv', `--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, '--clear-groups', 'sh', '-c', `umask 000 && ${script}`])
}

/** Remove what the other user made (we may not be allowed to, when not root). */
export function removeAsRoot(path: string): Promise<void> {
  return privileged(['rm', '-rf', '--', path])
}

/**
 * A path in the machine's shared temp folder (sticky, writable by everyone: where another user can
 * get in first), not yet created: `ACME_DATA_DIR=/tmp/acme` in the README's words.
 */
export async function sharedTempPath(prefix: string): Promise<string> {
  const base = ((await stat(tmpdir())).mode & 0o1777) === 0o1777 ? tmpdir() : '/tmp'
  return join(base, `${prefix}-${randomBytes(6).toString('hex')}`)
}

/** A shell word: 'text' with every ' escaped. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`
}

// ---------------------------------------------------------------------------------------------
// Logins written by hand

export interface HandWrittenLogin {
  issuer: string
  clientId?: string
  subject: string
  accessToken: string
  refreshToken?: string
  /** Seconds from now (negative: expired). */
  expiresIn: number
  storage?: string
}

/** The index and credentials file of one signed-in account, as the plugin writes them. */
export function loginFiles(login: HandWrittenLogin): {index: string; credentials: string; key: string} {
  const clientId = login.clientId ?? 'acme-cli'
  const key = `${login.issuer}|${clientId}|${login.subject}`
  const now = Date.now()
  const expiresAt = new Date(now + login.expiresIn * 1000).toISOString()
  const obtainedAt = new Date(now + login.expiresIn * 1000 - 3_600_000).toISOString()
  const index = {
    version: 1,
    gen: 1,
    defaultAccount: key,
    accounts: [
      {key, issuer: login.issuer, clientId, subject: login.subject, scopes: ['openid', 'offline_access'], expiresAt, hasRefreshToken: Boolean(login.refreshToken), storage: login.storage ?? 'file', updatedAt: obtainedAt},
    ],
    tombstones: {},
  }
  const secrets = {accessToken: login.accessToken, tokenType: 'Bearer', ...(login.refreshToken ? {refreshToken: login.refreshToken} : {}), expiresAt, obtainedAt}
  return {index: JSON.stringify(index, null, 2), credentials: JSON.stringify({version: 1, accounts: {[key]: secrets}}, null, 2), key}
}

/** Write a login into `authDir` (0700, files 0600) as if `auth login` had stored it. */
export async function writeLogin(authDir: string, login: HandWrittenLogin): Promise<string> {
  const files = loginFiles(login)
  await mkdir(authDir, {recursive: true, mode: 0o700})
  await writeFile(join(authDir, 'accounts.json'), files.index, {mode: 0o600})
  await writeFile(join(authDir, 'credentials.json'), files.credentials, {mode: 0o600})
  return files.key
}

/** A random token-looking string, recognisable in output by its prefix. */
export function fakeToken(prefix: string): string {
  return `${prefix}-${randomBytes(18).toString('base64url')}`
}

/**
 * A store that shows whether it was read: its account belongs to `issuer` (point it at a request
 * recorder) and its token has expired, so a command that reads it asks that issuer for a refresh;
 * `auth status` would list the subject `bait`, and `auth token` would print nothing else.
 */
export function baitLogin(issuer: string): HandWrittenLogin {
  return {issuer, subject: 'bait', accessToken: fakeToken('bait-access'), refreshToken: fakeToken('bait-refresh'), expiresIn: -60}
}

// ---------------------------------------------------------------------------------------------
// What is on disk

export interface TreeEntry {
  mode: string
  uid: number
  /** File contents, symlink target, or '' for a folder. */
  content: string
}

/** Every entry under `root` (itself included) with mode, owner and contents, to prove nothing changed. */
export async function treeSnapshot(root: string): Promise<Record<string, TreeEntry>> {
  const snapshot: Record<string, TreeEntry> = {}
  const visit = async (path: string): Promise<void> => {
    const info = await lstat(path)
    const entry: TreeEntry = {mode: (info.mode & 0o7777).toString(8), uid: info.uid, content: ''}
    if (info.isSymbolicLink()) entry.content = `-> ${await readlink(path)}`
    else if (info.isFile()) entry.content = await readFile(path, 'utf8')
    snapshot[path] = entry
    if (info.isDirectory()) for (const name of await readdir(path)) await visit(join(path, name))
  }
  await visit(root)
  return snapshot
}

/** Permission bits of a path, as `ls` shows them in octal: '755'. */
export async function modeOf(path: string): Promise<string> {
  return ((await lstat(path)).mode & 0o777).toString(8)
}

export async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  )
}

/**
 * A credential helper that only leaves a mark: it appends its arguments to `marker` and fails. If
 * the marker exists, the CLI ran a program it should not have.
 */
export async function writeMarkerHelper(dir: string): Promise<{helper: string; marker: string}> {
  const helper = join(dir, 'planted-helper.sh')
  const marker = join(dir, 'planted-helper-ran')
  await writeFile(helper, `#!/bin/sh\necho "$@" >> ${shellQuote(marker)}\necho 'planted helper ran' >&2\nexit 1\n`, {mode: 0o755})
  return {helper, marker}
}

// ---------------------------------------------------------------------------------------------
// What reaches the user

/**
 * Characters that must never reach a terminal from us: C0 controls but newline and tab (ESC, BEL,
 * CR, ...), DEL and the C1 controls, and the bidirectional overrides, isolates and marks.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g

/** The unsafe characters in `text`, as U+XXXX with where they are: [] when there are none. */
export function unsafeCharacters(text: string): string[] {
  return [...text.matchAll(UNSAFE)].map((match) => {
    const at = match.index
    return `U+${match[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} in ${JSON.stringify(text.slice(Math.max(0, at - 20), at + 20))}`
  })
}

// ---------------------------------------------------------------------------------------------
// The network

/** This machine's first IPv4 address other than loopback: a stand-in for another machine. */
export function nonLoopbackAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// A terminal

export interface TerminalRun extends RunResult {
  /** Whether `prompt` appeared (and `answer` was typed). */
  prompted: boolean
}

/**
 * Run acme at a terminal (a pseudo-terminal from util-linux `script`): stdin, stdout and stderr are
 * a tty, as for a person. Once the output matches `prompt`, `answer` is typed. stdout is everything
 * the terminal showed (stdout and stderr together); stderr is script's own.
 */
export function runAcmeAtTerminal(args: string[], options: RunOptions & {prompt: RegExp; answer: string}): Promise<TerminalRun> {
  const command = [process.execPath, ...nodeArgs(args)].map(shellQuote).join(' ')
  return new Promise((resolvePromise, reject) => {
    // -q no banner, -f flush at once, -e the command's exit code, -c the command; no typescript file.
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: options.home.root,
      env: {...cleanEnv(options.home, options.env), SHELL: '/bin/sh'},
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let prompted = false
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      if (!prompted && options.prompt.test(stdout)) {
        prompted = true
        child.stdin.write(options.answer)
      }
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.stdin.on('error', () => {})
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject((error as NodeJS.ErrnoException).code === 'ENOENT' ? new Error("The terminal tests need util-linux's `script` (Debian: bsdutils).") : error)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      child.stdin.destroy()
      if (signal === 'SIGKILL') reject(new Error(`acme ${args.join(' ')} at a terminal did not finish.\n${stdout}${stderr}`))
      else resolvePromise({code, stdout, stderr, prompted})
    })
  })
}

/** Wait until `check` is true, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`)
    await new Promise((resolvePromise) => setTimeout(resolvePromise, 50))
  }
}

/** Whether process `pid` has ended (gone, or a zombie nobody reaped yet). */
export async function processEnded(pid: number): Promise<boolean> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8')
    return text.slice(text.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    try {
      process.kill(pid, 0)
      return false
    } catch {
      return true
    }
  }
}
