/**
 * Starting a refresh ahead of time, once the init hook has found the account due: a step most
 * commands never take (once in a token's lifetime), so it is loaded only then and the code every
 * command loads stays small (refresh-ahead.ts).
 */
import type {Interfaces} from '@oclif/core'
import {realpathSync} from 'node:fs'
import {open, stat, unlink} from 'node:fs/promises'

import type {RefreshAheadMode} from '../settings/settings.js'
import {storePaths} from '../store/paths.js'

/**
 * Refresh `account` ahead of time: in a detached process (`background`), so no command waits, or
 * before the command (`inline`). Of N commands that start together one does it.
 */
export async function startRefreshAhead(config: Interfaces.Config, account: string, mode: Exclude<RefreshAheadMode, 'off'>, debug: (message: string) => void): Promise<void> {
  if (mode === 'inline') {
    // A claim left after a failure is the back-off that keeps every later command from trying again at once.
    if (!(await claimRefreshAhead(config.dataDir, account))) return
    const {refreshAheadNow} = await import('./refresh-if-due.js')
    debug(`refresh ahead: ${await refreshAheadNow(config, account)}`)
    return
  }
  // The host's own entry point, detached: it outlives this command if it has to, and its init hook
  // does not start another one. Only when we know that entry point is the host's (not a test runner
  // that loaded the host in-process).
  const entry = hostEntryPoint(config.root)
  if (!entry || !(await claimRefreshAhead(config.dataDir, account))) return
  const {spawn} = await import('node:child_process')
  // Not process.execArgv: a parent started with --inspect-brk would leave a detached child waiting.
  const child = spawn(process.execPath, [entry, 'auth:refresh', '--ahead', '--account', account], {
    detached: true,
    stdio: 'ignore',
    env: {...process.env, [config.scopedEnvVarKey('AUTH_REFRESH_AHEAD')]: 'off'},
  })
  child.on('error', (error) => debug(`refresh ahead could not start: ${error.message}`))
  child.unref()
  debug(`refreshing ${account} ahead of time in process ${child.pid}`)
}

function hostEntryPoint(root: string): string | undefined {
  try {
    const entry = realpathSync(process.argv[1])
    return entry.startsWith(realpathSync(root)) ? entry : undefined
  } catch {
    return undefined
  }
}

/** A started background refresh that has not finished within this long has died. */
const MARKER_STALE_MS = 60_000

/**
 * Claim the right to start the background refresh of an account: the first of N commands that
 * start together wins, the others leave it be. A claim that is not released (the refresh failed
 * for a reason that may pass, or the process died) expires after a minute: a back-off, so an issuer
 * that is down is not asked again by every command. Any failure just means "do not start one".
 */
export async function claimRefreshAhead(dataDir: string, accountKey: string): Promise<boolean> {
  const {refreshAheadMarkerPath} = await import('../store/account-files.js')
  const marker = refreshAheadMarkerPath(storePaths(dataDir), accountKey)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await (await open(marker, 'wx', 0o600)).close()
      return true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return false
      const age = Date.now() - ((await stat(marker).catch(() => undefined))?.mtimeMs ?? Date.now())
      if (age < MARKER_STALE_MS) return false
      await unlink(marker).catch(() => {})
    }
  }
  return false
}

/** The background process lets go of its claim once the refresh succeeded or can never succeed. */
export async function releaseRefreshAhead(dataDir: string, accountKey: string): Promise<void> {
  const {refreshAheadMarkerPath} = await import('../store/account-files.js')
  await unlink(refreshAheadMarkerPath(storePaths(dataDir), accountKey)).catch(() => {})
}
