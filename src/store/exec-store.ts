import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process'

import {formatDuration} from '../durations.js'
import {AuthError} from '../errors.js'
import {oneLineSafe, redactSecrets, rememberSecret} from '../safe-text.js'
import {splitCommand} from '../split-command.js'
import type {CredentialStore} from './credential-store.js'
import {parseSecrets, rememberSecrets, storableSecrets, type Secrets} from './secrets.js'
import {ShapeError} from './stored-json.js'

/**
 * `storage=exec:<command>`: secrets kept by a credential helper, a program the company provides
 * (docs/credential-helper.md). We run `<command> get|store|erase` without a shell, write one JSON
 * request on its stdin and read one JSON answer from its stdout. A secret only ever travels on
 * stdin/stdout, never on the command line (argv is visible to every user in `ps`).
 *
 * A helper that cannot be started, exits non-zero, outlives the time box or answers something we
 * cannot read is STORE_UNAVAILABLE — never "no credentials" — with one line naming the helper and
 * what went wrong. Nothing a helper printed on stdout is ever put in a message: it may be a secret.
 */
export interface ExecCredentialStoreOptions {
  /** The helper's command line without `exec:`, split into words like a shell would (quotes, backslashes), never run by one. */
  command: string
  /** `service` of every request, e.g. `acme-auth`. */
  service: string
  /** Time box of one helper call; the helper is stopped when it runs out. */
  timeoutMs?: number
  /** Between SIGTERM and SIGKILL when a helper runs out of time. */
  killGraceMs?: number
  /** The helper's environment (process.env when absent). */
  env?: NodeJS.ProcessEnv
}

export type HelperAction = 'get' | 'store' | 'erase'

/** More than this on stdout is not a credential: stop the helper. */
const MAX_STDOUT_BYTES = 1024 * 1024
/** Only the first line of stderr is shown; keep a little more to find it. */
const MAX_STDERR_BYTES = 16 * 1024
const MAX_STDERR_LINE = 200
/** How long to wait for a helper's pipes to close after it exited. */
const DRAIN_MS = 250


const WHAT: Record<HelperAction, string> = {get: 'read the login', store: 'save the login', erase: 'delete the login'}

export class ExecCredentialStore implements CredentialStore {
  readonly kind: `exec:${string}`
  readonly location: string
  readonly command: string
  readonly service: string
  readonly timeoutMs: number
  private readonly argv: string[]
  private readonly killGraceMs: number
  private readonly env?: NodeJS.ProcessEnv

  constructor({command, service, timeoutMs = 10_000, killGraceMs = 1000, env}: ExecCredentialStoreOptions) {
    this.env = env
    this.command = command
    this.service = service
    this.timeoutMs = timeoutMs
    this.killGraceMs = killGraceMs
    this.kind = `exec:${this.command}`
    this.location = `credential helper '${this.command}'`
    this.argv = splitCommand(this.command)
  }

  async get(accountKey: string): Promise<Secrets | undefined> {
    const answer = await this.run('get', {service: this.service, account: accountKey})
    if (answer === undefined) {
      throw this.error('get', 'printed nothing on `get`; it must print {"secret": "…"} when it has the entry and {} when it has none')
    }
    const secret = answer.secret
    if (secret === undefined || secret === null) return undefined
    if (typeof secret !== 'string') throw this.error('get', 'answered `get` with JSON of the wrong shape ("secret" is not a string)')
    let parsed: unknown
    try {
      parsed = JSON.parse(secret)
    } catch {
      throw this.error('get', 'returned a secret that is not a login saved by this CLI (it is not JSON)')
    }
    try {
      return parseSecrets(parsed, 'the secret')
    } catch (error) {
      // ShapeError messages name fields, never values.
      if (error instanceof ShapeError) throw this.error('get', `returned a secret that is not a login saved by this CLI (${error.message})`)
      throw error
    }
  }

  async set(accountKey: string, secrets: Secrets): Promise<void> {
    const secret = JSON.stringify(storableSecrets(secrets))
    // Whatever the helper echoes on stderr is redacted like every other message (safe-text.ts).
    rememberSecrets(secrets)
    rememberSecret(secret)
    await this.run('store', {service: this.service, account: accountKey, secret})
  }

  async delete(accountKey: string): Promise<boolean> {
    const answer = await this.run('erase', {service: this.service, account: accountKey})
    const deleted = answer?.deleted
    if (deleted === undefined || deleted === null) return true // it erased, or there was nothing: it does not say
    if (typeof deleted !== 'boolean') throw this.error('erase', 'answered `erase` with JSON of the wrong shape ("deleted" is not true or false)')
    return deleted
  }

  /**
   * Run `<command> <action>` with `request` on stdin. Resolves with the JSON object it printed, or
   * undefined when it printed nothing.
   */
  private run(action: HelperAction, request: Record<string, string>): Promise<Record<string, unknown> | undefined> {
    const [file, ...args] = this.argv
    if (file === undefined) return Promise.reject(this.error(action, 'is an empty command'))

    let child: ChildProcessWithoutNullStreams
    try {
      child = spawn(file, [...args, action], {stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true, env: this.env})
    } catch (error) {
      // Bad arguments (a NUL byte) or, on Windows, a .cmd/.bat file, which needs a shell.
      return Promise.reject(this.error(action, startFailure(file, error as NodeJS.ErrnoException)))
    }

    return new Promise((resolve, reject) => {
      const stdout: Buffer[] = []
      const stderr: Buffer[] = []
      let stdoutBytes = 0
      let stderrBytes = 0
      let settled = false
      /** Set once we decided to stop the helper: the error to report when it is gone. */
      let stopping: AuthError | undefined
      let killTimer: NodeJS.Timeout | undefined
      let drainTimer: NodeJS.Timeout | undefined
      const timer = setTimeout(() => {
        stop(this.error(action, `did not answer \`${action}\` within ${formatDuration(this.timeoutMs)} and was stopped`))
      }, this.timeoutMs)

      const settle = (error: AuthError | undefined, value?: Record<string, unknown>) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        clearTimeout(killTimer)
        clearTimeout(drainTimer)
        // Something the helper started may hold its pipes open; we are done listening.
        child.stdout?.destroy()
        child.stderr?.destroy()
        child.stdin?.destroy()
        if (error) reject(error)
        else resolve(value)
      }

      const stop = (error: AuthError) => {
        if (stopping || settled) return
        stopping = error
        if (child.exitCode !== null || child.signalCode !== null) return settle(error)
        child.kill('SIGTERM')
        killTimer = setTimeout(() => {
          child.kill('SIGKILL')
          // 'exit' follows at once; do not wait on a process stuck in the kernel.
          killTimer = setTimeout(() => settle(error), 200)
        }, this.killGraceMs)
      }

      child.on('error', (error: NodeJS.ErrnoException) => {
        if (child.pid === undefined) settle(this.error(action, startFailure(file, error)))
        // Otherwise a failed kill: the 'exit' or the kill timer settles.
      })
      child.stdout.on('error', () => {}) // 'close' follows
      child.stderr.on('error', () => {})
      child.stdout.on('data', (chunk: Buffer) => {
        stdoutBytes += chunk.length
        if (stdoutBytes > MAX_STDOUT_BYTES) return stop(this.error(action, `printed more than 1 MB on \`${action}\` and was stopped`))
        stdout.push(chunk)
      })
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderrBytes >= MAX_STDERR_BYTES) return
        stderrBytes += chunk.length
        stderr.push(chunk)
      })
      child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
        if (stopping) return settle(stopping)
        // Normally 'close' follows at once. Something the helper left running in the background
        // may keep its stdout open, though: judge by what it printed before it exited.
        drainTimer = setTimeout(() => finish(code, signal), DRAIN_MS)
      })
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => finish(code, signal))

      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (stopping) return settle(stopping)
        if (signal || code !== 0) {
          const status = signal ? `was killed by ${signal}` : `exited with status ${code}`
          const line = firstLine(Buffer.concat(stderr).toString('utf8'))
          const why = line ? `: ${line}` : ' without saying why on stderr'
          return settle(this.error(action, `could not ${WHAT[action]} (\`${action}\` ${status})${why}`))
        }
        const text = Buffer.concat(stdout).toString('utf8').trim()
        if (text === '') return settle(undefined, undefined)
        let answer: unknown
        try {
          answer = JSON.parse(text)
        } catch {
          // Never quote it: on `get` it may be the secret itself.
          return settle(this.error(action, `printed something that is not the expected JSON on \`${action}\``))
        }
        if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) {
          return settle(this.error(action, `printed JSON that is not an object on \`${action}\``))
        }
        settle(undefined, answer as Record<string, unknown>)
      }

      // The request goes on stdin, never on the command line. A helper may exit without reading it;
      // its exit status tells whether that was fine.
      child.stdin.on('error', () => {})
      child.stdin.end(`${JSON.stringify(request)}\n`)
    })
  }

  private error(action: HelperAction, what: string): AuthError {
    return new AuthError('STORE_UNAVAILABLE', `The credential helper '${this.command}' ${what}.`, {
      next: 'keep-in-file',
      cause: {action},
    })
  }
}

function startFailure(file: string, error: NodeJS.ErrnoException): string {
  const onPath = /[/\\]/.test(file) ? '' : ' on PATH'
  switch (error.code) {
    case 'ENOENT':
      return `could not be started: '${file}' was not found${onPath}`
    case 'EACCES':
      return `could not be started: '${file}' is not executable`
    default:
      return `could not be started (${error.code ?? 'unknown error'})`
  }
}

/**
 * The line of a helper's stderr that says what went wrong, fit for a one-line message: the first
 * non-empty one, unless a crashed interpreter put a source location first and the error line later
 * (`node:internal/modules/cjs/loader:1210` … `Error: Cannot find module …`).
 */
function firstLine(text: string): string {
  const lines = text.split(/\r?\n/).filter((candidate) => candidate.trim() !== '')
  let line = /^\S+:\d+$/.test(lines[0]?.trim() ?? '') ? (lines.find((candidate) => /^\w*Error\b/.test(candidate.trim())) ?? lines[0]) : (lines[0] ?? '')
  // Before clipping: a clipped secret would no longer match.
  line = redactSecrets(line)
  // Colours and other control characters have no place in our message.
  line = oneLineSafe(line)
  line = line.replace(/[.\s]+$/, '')
  return line.length > MAX_STDERR_LINE ? `${line.slice(0, MAX_STDERR_LINE - 1)}…` : line
}
