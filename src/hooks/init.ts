import type {Hook, Interfaces} from '@oclif/core'
import {spawn} from 'node:child_process'
import {realpathSync} from 'node:fs'

import {claimRefreshAhead, dueForRefresh, readIndexQuietly} from '../session/refresh-ahead.js'

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
  const mode = process.env[modeVariable] || (config.pjson.oclif as {auth?: {refreshAhead?: string}}).auth?.refreshAhead || 'background'
  if (mode === 'off' || process.env[config.scopedEnvVarKey('TOKEN')]) return
  const due = dueForRefresh((await readIndexQuietly(config.dataDir)) ?? {}, Date.now())
  if (!due) return
  if (mode === 'inline') {
    const {refreshIfDue} = await import('../session/refresh-if-due.js')
    const outcome = await refreshIfDue(config, due.account).catch((error: Error) => `failed: ${error.message}`)
    this.debug(`refresh ahead: ${outcome}`)
    return
  }
  // The host's own entry point, detached: it outlives this command if it has to, and its init hook
  // does not start another one. Only when we know that entry point is the host's (not a test runner
  // that loaded the host in-process).
  const entry = hostEntryPoint(config.root)
  if (!entry) return
  // Of N commands that start together, one starts the refresh.
  if (!(await claimRefreshAhead(config.dataDir, due.account))) return
  const child = spawn(process.execPath, [...process.execArgv, entry, 'auth:refresh', '--ahead', '--account', due.account], {
    detached: true,
    stdio: 'ignore',
    env: {...process.env, [modeVariable]: 'off'},
  })
  child.on('error', (error) => this.debug(`refresh ahead could not start: ${error.message}`))
  child.unref()
  this.debug(`refreshing ${due.account} ahead of time in process ${child.pid}`)
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
