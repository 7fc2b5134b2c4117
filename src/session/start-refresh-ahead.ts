/**
 * Starting a refresh ahead of time, once the init hook has found the account due, and the claim
 * that makes one of N commands do it: a step most commands never take (once in a token's
 * lifetime), so it is loaded only then and the code every command loads stays small
 * (refresh-ahead.ts).
 */
import type {Interfaces} from '@oclif/core'
import {realpathSync} from 'node:fs'
import {sep} from 'node:path'

import {runEnvironment} from '../run-environment.js'
import type {RefreshAheadMode} from '../settings/settings.js'
import {refreshAheadMarkerPath} from '../store/account-files.js'
import {releaseClaim, tryClaim} from '../store/lock.js'
import {storePaths} from '../store/paths.js'

/**
 * Refresh `account` ahead of time: in a detached process (`background`), so no command waits, or
 * before the command (`inline`). Of N commands that start together one does it.
 */
export async function startRefreshAhead(config: Interfaces.Config, account: string, mode: Exclude<RefreshAheadMode, 'off'>, debug: (message: string) => void, now: () => number = Date.now): Promise<void> {
  if (mode === 'inline') {
    // A claim left after a failure is the back-off that keeps every later command from trying again at once.
    if (!(await claimRefreshAhead(config.dataDir, account, now)).claimed) return
    const {refreshAheadNow} = await import('./refresh-if-due.js')
    debug(`refresh ahead: ${await refreshAheadNow(config, account)}`)
    return
  }
  await startBackgroundRefresh(config, account, debug, now)
}

/**
 * Refresh an account in a detached process of the host (`auth refresh --ahead`), unless one runs
 * already: it outlives this command if it has to (a slow issuer), and so a refresh request, once
 * sent, is always seen through and its answer saved; abandoning one could lose a rotated refresh
 * token. Only when we know the host's entry point (not a test runner that loaded the host
 * in-process); undefined then. Otherwise when the refresh that is running now started.
 */
export async function startBackgroundRefresh(config: Interfaces.Config, accountKey: string, debug: (message: string) => void, now: () => number = Date.now): Promise<{since: number} | undefined> {
  const {env, entryPoint} = runEnvironment(config)
  const entry = hostEntryPoint(config.root, entryPoint)
  if (!entry) return undefined
  const since = now()
  const claim = await claimRefreshAhead(config.dataDir, accountKey, () => since)
  if (!claim.claimed) return claim.since === undefined ? undefined : {since: claim.since}
  const {spawn} = await import('node:child_process')
  // Not process.execArgv: a parent started with --inspect-brk would leave a detached child waiting.
  const child = spawn(process.execPath, [entry, 'auth:refresh', '--ahead', '--account', accountKey], {
    detached: true,
    stdio: 'ignore',
    env: {...env, [config.scopedEnvVarKey('AUTH_REFRESH_AHEAD')]: 'off'},
  })
  child.on('error', (error) => debug(`refresh ahead could not start: ${error.message}`))
  child.unref()
  debug(`refreshing ${accountKey} in the background in process ${child.pid}`)
  return {since}
}

function hostEntryPoint(root: string, entryPoint: string | undefined): string | undefined {
  if (!entryPoint) return undefined
  try {
    const entry = realpathSync(entryPoint)
    // With the separator: /opt/acme-x is not inside /opt/acme.
    return entry.startsWith(realpathSync(root) + sep) ? entry : undefined
  } catch {
    return undefined
  }
}

/** A started background refresh that has not finished within this long has died. */
const CLAIM_HOLD_MS = 60_000

/**
 * Claim the right to start the background refresh of an account: the first of N commands that
 * start together wins, the others leave it be; `since` says when the winner started it, on the
 * clock `now`. A claim that is not released (the refresh failed for a reason that may pass, or the
 * process died) lapses after a minute: a back-off, so an issuer that is down is not asked again by
 * every command. Built on the account lock's primitive (store/lock.ts, tryClaim). Any failure just
 * means "do not start one".
 */
export async function claimRefreshAhead(dataDir: string, accountKey: string, now: () => number = Date.now): Promise<{claimed: true} | {claimed: false; since?: number}> {
  return tryClaim(refreshAheadMarkerPath(storePaths(dataDir), accountKey), {holdMs: CLAIM_HOLD_MS, now})
}

/** The background process lets go of its claim once the refresh succeeded or can never succeed. */
export async function releaseRefreshAhead(dataDir: string, accountKey: string): Promise<void> {
  await releaseClaim(refreshAheadMarkerPath(storePaths(dataDir), accountKey))
}
