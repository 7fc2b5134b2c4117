import type {Interfaces} from '@oclif/core'

/**
 * What a command takes from the process it runs in: the environment variables (settings, ACME_TOKEN,
 * the browser command, what child processes inherit) and the host's entry point (what a detached
 * `auth refresh --ahead` starts). For a CLI started as a process that is `process.env` and
 * `process.argv[1]`. A program that runs the host's commands inside a long-lived process of its own (a
 * shell, a test harness) gives each run its own through {@link withRunEnvironment}: two runs in one
 * process then see each other's variables no more than two processes would.
 */
export interface RunEnvironment {
  env: NodeJS.ProcessEnv
  /** The host's bin script; undefined when no detached process of the host can be started. */
  entryPoint?: string
}

// Under a registered symbol: the hooks run from a bundle with its own copy of this module, and both
// copies must find what the runner put on the config.
const RUN_ENVIRONMENT = Symbol.for('@tokenwise/plugin-auth:run-environment')

export function runEnvironment(config: Interfaces.Config): RunEnvironment {
  return (config as {[RUN_ENVIRONMENT]?: RunEnvironment})[RUN_ENVIRONMENT] ?? {env: process.env, entryPoint: process.argv[1]}
}

/**
 * A config for one run of a command inside a process that is not that run's own: `config` with
 * `changes` (e.g. its own `dataDir`) and `environment` in place of the process's.
 */
export function withRunEnvironment<T extends Interfaces.Config>(config: T, environment: RunEnvironment, changes: Partial<Interfaces.Config> = {}): T {
  const run = Object.create(config, {[RUN_ENVIRONMENT]: {value: environment}}) as T
  return Object.assign(run, changes)
}
