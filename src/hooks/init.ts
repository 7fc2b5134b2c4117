import type {Hook, Interfaces} from '@oclif/core'
import {spawn} from 'node:child_process'
import {realpathSync} from 'node:fs'

import {claimRefreshAhead, dueForRefresh, readIndexQuietly, releaseRefreshAhead} from '../session/refresh-ahead.js'
import {REFRESH_AHEAD_MODES} from '../settings/settings.js'

/**
 * Before every invocation of the host (also `--help`): when the default account's token is about to
 * expire, refresh it ahead of time so no command has to wait. It decides from the metadata index
 * alone, never fails the command and prints nothing outside debug output.
 */
const hook: Hook<'init'> = async function ({config, id}) {
  // The auth commands manage the login themselves; a refresh racing `auth logout` helps nobody.
  if (id?.startsWith('auth:')) return
  try {
    await refreshAheadIfDue.call(this, config)
  } catch (error) {
    this.debug(`refresh ahead skipped: ${(error as Error).message}`)
  }
}

async function refreshAheadIfDue(this: Hook.Context, config: Interfaces.Config): Promise<void> {
  const modeVariable = config.scopedEnvVarKey('AUTH_REFRESH_AHEAD')
  const mode = refreshAheadMode(config)
  // An unknown mode does nothing here; the commands that need a token report it (exit 2).
  if (mode === 'off' || !mode || config.scopedEnvVarKeys('TOKEN').some((name) => process.env[name])) return
  const wanted = config.scopedEnvVarKeys('AUTH_ACCOUNT').map((name) => process.env[name]?.trim()).find(Boolean)
  const due = dueForRefresh((await readIndexQuietly(config.dataDir)) ?? {}, Date.now(), refreshAheadWindow(config), wanted)
  if (!due) return
  // Of N commands that start together, one refreshes. A claim left after a failure is the back-off
  // that keeps every later command from trying again at once (see claimRefreshAhead).
  if (mode === 'inline') {
    if (!(await claimRefreshAhead(config.dataDir, due.account))) return
    const {refreshIfDue} = await import('../session/refresh-if-due.js')
    const {outcome, done} = await refreshIfDue(config, due.account)
    this.debug(`refresh ahead: ${outcome}`)
    if (done) await releaseRefreshAhead(config.dataDir, due.account)
    return
  }
  // The host's own entry point, detached: it outlives this command if it has to, and its init hook
  // does not start another one. Only when we know that entry point is the host's (not a test runner
  // that loaded the host in-process).
  const entry = hostEntryPoint(config.root)
  if (!entry || !(await claimRefreshAhead(config.dataDir, due.account))) return
  // Not process.execArgv: a parent started with --inspect-brk would leave a detached child waiting.
  const child = spawn(process.execPath, [entry, 'auth:refresh', '--ahead', '--account', due.account], {
    detached: true,
    stdio: 'ignore',
    env: {...process.env, [modeVariable]: 'off'},
  })
  child.on('error', (error) => this.debug(`refresh ahead could not start: ${error.message}`))
  child.unref()
  this.debug(`refreshing ${due.account} ahead of time in process ${child.pid}`)
}

/** From the scoped variable or the host's package.json; the hook reads no settings file. */
function refreshAheadMode(config: Interfaces.Config): string | undefined {
  const fromEnv = config.scopedEnvVarKeys('AUTH_REFRESH_AHEAD').map((name) => process.env[name]).find(Boolean)
  const mode = fromEnv ?? (config.pjson.oclif as {auth?: {refreshAhead?: unknown}}).auth?.refreshAhead ?? 'background'
  return (REFRESH_AHEAD_MODES as readonly unknown[]).includes(mode) ? (mode as string) : undefined
}

/** `refreshAheadWindow` (seconds) from the scoped variable or the host; undefined: derive it. */
function refreshAheadWindow(config: Interfaces.Config): number | undefined {
  const fromEnv = config.scopedEnvVarKeys('AUTH_REFRESH_AHEAD_WINDOW').map((name) => process.env[name]).find(Boolean)
  const value = Number(fromEnv ?? (config.pjson.oclif as {auth?: {refreshAheadWindow?: unknown}}).auth?.refreshAheadWindow)
  return Number.isFinite(value) && value > 0 ? value : undefined
}

function hostEntryPoint(root: string): string | undefined {
  try {
    const entry = realpathSync(process.argv[1])
    return entry.startsWith(realpathSync(root)) ? entry : undefined
  } catch {
    return undefined
  }
}

export default hook
