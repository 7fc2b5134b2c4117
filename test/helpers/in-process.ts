// The example host run inside the test process: the same command line, environment, data folder and
// {code, stdout, stderr} as runAcme (acme.ts) gives, in milliseconds instead of the ~0.4 s of CPU a new
// Node.js process loading @oclif/core costs. Its hooks (init, prerun), its commands and the plugin are
// the real ones, built in dist/, against the real issuer, files and keychain; nothing is mocked. A
// suite switches by importing runAcme / runAcmeExpecting / statusJson from here instead of acme.ts.
//
// What it cannot give is a process of the command's own. A test spawns the command (acme.ts) when it
// kills or stops it, starts several at once, drives a terminal, measures what a command loads, or
// needs what is read from the process's own environment: by Node at start (NODE_OPTIONS,
// NODE_EXTRA_CA_CERTS), by the debug module (DEBUG), by the keychain library (the D-Bus address), by
// a preload (pauseAtStep in kill-mid-step.ts), or by a host command itself (the example's whoami and env read process.env,
// as any host command may).
//
// How a run is kept apart from the test process and from the runs before it:
//  - the host's oclif Config is loaded once per host per worker; each run gets a copy of it with its own
//    data and config folders and its own environment (withRunEnvironment: the plugin reads its
//    variables there, not from process.env), and acme's bin as the entry point a detached
//    `auth refresh --ahead` is started with;
//  - what oclif's help rewrites in the Config's commands is put back (keepCommandIds);
//  - the plugin's per-process state is reset: the secrets it redacts (forgetSecrets) and the token the
//    prerun hook hands to the command (reset by the hook itself);
//  - stdout and stderr are captured, neither looks like a terminal, stdin is the run's input (or empty,
//    as 'ignore' gives a spawned run), the working folder is the home, process.exitCode is read and
//    put back, process.argv is the run's; and runs of one worker take turns, since all of that
//    belongs to the whole process.
//
// Why not @oclif/test's runCommand: it loads the Config again on every run (the cost this avoids) and
// leaves a failed command's error to the caller, while a user sees it as oclif's handle() prints it.
// This calls that same handle() (its process exit replaced by taking the code), so stderr is what a
// spawned run shows.
import {expect} from 'chai'
import {Command, Config, Errors, loadHelpClass, ux, type Interfaces} from '@oclif/core'
import {Exit} from '@oclif/core/handle'
import {normalizeArgv} from '@oclif/core/help'
import {helpAddition, versionAddition} from '@oclif/core/run'
import {realpathSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {Readable} from 'node:stream'

import {withRunEnvironment} from '../../src/run-environment.js'
import {forgetSecrets} from '../../src/safe-text.js'
import {ACME_BIN, cleanEnv, countRun, DEFAULT_TIMEOUT_MS, describeRun, parseStatus, type RunOptions, type RunResult, type StatusReport, type TempHome} from './acme.js'

export type {RunOptions, RunResult} from './acme.js'

/** One Config per host root (acme's, or a variant's made by makeHostVariant), loaded on first use. */
const configs = new Map<string, Promise<Config>>()

function hostConfig(bin: string): Promise<Config> {
  const root = realpathSync(join(dirname(bin), '..'))
  let config = configs.get(root)
  if (!config) {
    config = Config.load({root})
    configs.set(root, config)
  }
  return config
}

/** The tail of the queue of this worker's runs: one at a time. */
let turn: Promise<unknown> = Promise.resolve()

/** `acme <args>` in this process; resolves as runAcme does (a failed command is a result, not a rejection). */
export function runAcme(args: string[], options: RunOptions): Promise<RunResult> {
  countRun('in-process', args)
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const run = turn.then(() => withTimeout(runNow(args, options), timeoutMs, args))
  turn = run.catch(() => {})
  return run
}

/** Run and expect a given exit code; the message shows all output when it is not. */
export async function runAcmeExpecting(code: number, args: string[], options: RunOptions): Promise<RunResult> {
  const result = await runAcme(args, options)
  expect(result.code, describeRun(args, result)).to.equal(code)
  return result
}

/** `acme auth status --json`, expecting exit 0 and the documented shape. */
export async function statusJson(home: TempHome, env: Record<string, string | undefined> = {}): Promise<StatusReport> {
  const result = await runAcmeExpecting(0, ['auth', 'status', '--json'], {home, env})
  return parseStatus(result.stdout)
}

/**
 * oclif's help rewrites the ids and aliases of the Config's commands in place ('auth:login' becomes
 * 'auth login' where the topic separator is a space): harmless in a process that ends after one
 * command, while here the next run's help would list `auth login` as a root command.
 */
function keepCommandIds(config: Config): {restore(): void} {
  const kept = config.commands.map((command) => ({command, id: command.id, aliases: command.aliases}))
  return {
    restore() {
      for (const {command, id, aliases} of kept) Object.assign(command, {id, aliases})
    },
  }
}

/** A host folder as oclif's Config.load finds it in an environment: `ACME_DATA_DIR`, else the XDG folder. */
function hostDir(config: Config, env: NodeJS.ProcessEnv, category: 'cache' | 'config' | 'data'): string {
  const variable = config.scopedEnvVarKeys(`${category.toUpperCase()}_DIR`).find((name) => env[name])
  return variable ? env[variable]! : join(env[`XDG_${category.toUpperCase()}_HOME`]!, config.dirname)
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number, args: string[]): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`acme ${args.join(' ')} (in-process) did not finish within ${timeoutMs} ms.`)), timeoutMs)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function runNow(args: string[], options: RunOptions): Promise<RunResult> {
  const bin = options.bin ?? ACME_BIN
  const base = await hostConfig(bin)
  const env = cleanEnv(options.home, options.env)
  const {home} = options
  const config = withRunEnvironment(base, {env, entryPoint: bin}, {
    home: home.root,
    dataDir: hostDir(base, env, 'data'),
    configDir: hostDir(base, env, 'config'),
    cacheDir: hostDir(base, env, 'cache'),
  } as Partial<Interfaces.Config>)
  forgetSecrets()

  const output = {stdout: '', stderr: ''}
  const restore = takeOverProcess(output, home.root, options.input, [process.execPath, bin, ...args])
  const commands = keepCommandIds(base)
  let failed: {code: number} | undefined
  try {
    failed = await execute(config, args)
  } finally {
    restore.streams()
    commands.restore()
  }
  // A process that ends normally exits with process.exitCode; a failure exits through handle().
  const code = failed?.code ?? restore.exitCode() ?? 0
  restore.rest()
  return {code, ...output}
}

/**
 * What oclif's execute() does for a process (bin/run.js): run, and on failure print through handle()
 * and exit. Returns the exit code of a failure, undefined when the command ended normally.
 */
async function execute(config: Config, argv: string[]): Promise<{code: number} | undefined> {
  try {
    await run(config, argv)
    return undefined
  } catch (error) {
    let code = 1
    const exit = Exit.exit
    // handle() ends by exiting the process: here that is the end of the run, with its code.
    Exit.exit = ((exitCode = 0) => void (code = exitCode)) as typeof Exit.exit
    try {
      await Errors.handle(error as Error)
    } finally {
      Exit.exit = exit
    }
    return {code}
  }
}

/** oclif's run() (main.js) for a loaded Config, without loading it again. */
async function run(config: Config, argv: string[]): Promise<unknown> {
  const [id, ...argvSlice] = normalizeArgv(config, argv)
  const runFinally = async (loadable?: Command.Loadable, error?: Error) => {
    await config.runHook('finally', {argv: argvSlice, Command: loadable, error, id})
  }
  await config.runHook('init', {argv: argvSlice, id})
  if (versionAddition(argv, config)) {
    ux.stdout(config.userAgent)
    await runFinally()
    return
  }
  const showHelp = async (helpArgv: string[]) => {
    const Help = await loadHelpClass(config)
    await new Help(config, config.pjson.oclif.helpOptions ?? config.pjson.helpOptions).showHelp(helpArgv)
  }
  if (helpAddition(argv, config)) {
    await showHelp(argv)
    await runFinally()
    return
  }
  const command = config.findCommand(id)
  if (!command && !config.flexibleTaxonomy && config.findTopic(id)) {
    await showHelp([id])
    await runFinally()
    return
  }
  // A command oclif cannot find goes its usual way (the not-found hooks, its error).
  if (!command) return config.runCommand(id, argvSlice)
  let failure: Error | undefined
  try {
    return await runFound(config, command, argvSlice)
  } catch (error) {
    failure = error as Error
    throw error
  } finally {
    await runFinally(command, failure)
  }
}

/**
 * Config.runCommand for a command it found, but with this run's Config: its Command.run() would load
 * the Config again from the process's environment (oclif's Config.load of a Config reloads it).
 */
async function runFound(config: Config, command: Command.Loadable, argv: string[]): Promise<unknown> {
  const Loaded = (await command.load()) as Command.Class
  await config.runHook('prerun', {argv, Command: Loaded})
  oclifCache().getInstance().set('config', config)
  const instance = new (Loaded as unknown as new (argv: string[], config: Config) => Command)(argv, config)
  if (!instance.id) instance.id = Loaded.name.toLowerCase()
  const result = await (instance as unknown as {_run(): Promise<unknown>})._run()
  await config.runHook('postrun', {argv, Command: Loaded, result})
  return result
}

/** oclif's cache of the running Config, which its error handler reads to show a command's usage. Not an export of @oclif/core. */
function oclifCache(): {getInstance(): {set(key: 'config', value: Config): void}} {
  const require = createRequire(import.meta.url)
  return require(join(dirname(require.resolve('@oclif/core')), 'cache.js')).default
}

type Write = typeof process.stdout.write

/** oclif's one ux.action, with the field it writes through (not part of its typed interface). */
const action = ux.action as unknown as {stdmockOrigs: {stdout: Write; stderr: Write}}

/**
 * Point the process-wide things a command uses at this run: output captured, no terminal, the run's
 * stdin, the home as working folder, process.exitCode unset. Returns how to put each back.
 */
function takeOverProcess(output: {stdout: string; stderr: string}, cwd: string, input: string | undefined, argv: string[]) {
  const streams = {stdout: process.stdout, stderr: process.stderr} as const
  const saved = {
    stdoutWrite: streams.stdout.write,
    stderrWrite: streams.stderr.write,
    stdoutTTY: streams.stdout.isTTY,
    stderrTTY: streams.stderr.isTTY,
    stdin: Object.getOwnPropertyDescriptor(process, 'stdin')!,
    cwd: process.cwd(),
    exitCode: process.exitCode,
    argv: process.argv,
    action: action.stdmockOrigs,
  }
  const capture = (name: 'stdout' | 'stderr'): Write =>
    function (chunk: Uint8Array | string, encoding?: unknown, callback?: unknown) {
      output[name] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
      const done = typeof encoding === 'function' ? encoding : callback
      if (typeof done === 'function') process.nextTick(done as () => void)
      return true
    } as Write
  streams.stdout.write = capture('stdout')
  streams.stderr.write = capture('stderr')
  // ux.action (the "Waiting for you to sign in" line) writes through the write functions it found when
  // @oclif/core was loaded.
  action.stdmockOrigs = {stdout: streams.stdout.write, stderr: streams.stderr.write}
  streams.stdout.isTTY = false
  streams.stderr.isTTY = false
  const stdin = Object.assign(Readable.from(input === undefined ? [] : [input]), {isTTY: false, fd: -1})
  Object.defineProperty(process, 'stdin', {value: stdin, configurable: true, enumerable: true, writable: false})
  process.chdir(cwd)
  process.exitCode = undefined
  // oclif's error handler shows a command's usage for the arguments it finds in process.argv.
  process.argv = argv
  return {
    streams() {
      streams.stdout.write = saved.stdoutWrite
      streams.stderr.write = saved.stderrWrite
      streams.stdout.isTTY = saved.stdoutTTY
      streams.stderr.isTTY = saved.stderrTTY
      action.stdmockOrigs = saved.action
    },
    /** What the command left in process.exitCode, if anything. */
    exitCode(): number | undefined {
      const code = process.exitCode
      return code === undefined || code === null ? undefined : Number(code)
    },
    rest() {
      stdin.destroy()
      Object.defineProperty(process, 'stdin', saved.stdin)
      process.chdir(saved.cwd)
      process.exitCode = saved.exitCode
      process.argv = saved.argv
    },
  }
}
