// Waiting on conditions instead of time: the machine running the tests is shared and its speed varies
// tenfold, so a fixed sleep is either too short (a flaky test) or too long (a slow one).
import {readdir, readFile, stat} from 'node:fs/promises'

import type {TempHome} from './acme.js'

/**
 * Poll `condition` until it holds; fail naming `what` after `timeoutMs`. Give generous deadlines (a
 * minute for what takes a second): they only matter when something is wrong or the machine is busy.
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

/**
 * The pids of the init hook's background refreshes (`<host> auth:refresh --ahead …`, detached) that
 * work on this home's store: found in /proc by their command line and by the ACME_DATA_DIR they
 * inherited. Such a process is detached and outlives the command that started it, so its exit cannot
 * be awaited as a child's; but the hook spawns it before the command exits (libuv returns from spawn
 * only once the child has exec'd), so once every command of a test has exited, any background refresh
 * it started is visible here until it ends.
 */
export async function refreshAheadProcesses(home: TempHome): Promise<number[]> {
  const pids: number[] = []
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const argv = (await readFile(`/proc/${name}/cmdline`, 'utf8')).split('\0')
      if (!argv.includes('auth:refresh') || !argv.includes('--ahead')) continue
      const environ = (await readFile(`/proc/${name}/environ`, 'utf8')).split('\0')
      if (environ.includes(`ACME_DATA_DIR=${home.dataDir}`)) pids.push(Number(name))
    } catch {
      // It ended while we looked.
    }
  }
  return pids
}

/**
 * Wait until no background refresh of this home runs any more: then every refresh the test's commands
 * started has reached the issuer or never will, and the issuer's counts are final. A late second
 * refresh is counted, instead of landing after the assertion.
 */
export async function refreshAheadSettled(home: TempHome, timeoutMs = 120_000): Promise<void> {
  await waitFor(async () => (await refreshAheadProcesses(home)).length === 0, timeoutMs, 'the background refresh (auth:refresh --ahead) to exit')
}

/**
 * What a scripted browser reported once it closed, in the file it was told to write (`ok` or its
 * one-line error): the CLI starts its browser detached and drops its output, so it cannot tell.
 */
export async function browserOutcome(log: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const text = await readFile(log, 'utf8').catch(() => '')
    if (text.includes('\n')) return text.trim()
    if (Date.now() > deadline) return `(the browser reported nothing within ${timeoutMs} ms)`
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Whether a process with this pid exists (signal 0 asks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
