import {stat, writeFile} from 'node:fs/promises'

/** Longest a paused command waits for the test to kill or resume it. */
const PAUSE_LIMIT_MS = 5 * 60_000

/**
 * Test-only, never set in real use: with `TOKENWISE_TEST_PAUSE_AT=<step>` and
 * `TOKENWISE_TEST_PAUSE_MARKER=<file>` the process stops when it reaches that step: it creates the
 * file with its pid, then waits until it is killed, or until the test removes the file (then it goes
 * on; after five minutes it goes on by itself). An end-to-end test can so SIGKILL a command exactly
 * mid-step instead of at a guessed time, or change the files between two steps, and know where the
 * command stood. Without both variables, or when the file cannot be created new, nothing pauses.
 */
export async function pauseHereInTests(step: string): Promise<void> {
  if (process.env.TOKENWISE_TEST_PAUSE_AT !== step) return
  const marker = process.env.TOKENWISE_TEST_PAUSE_MARKER
  if (!marker) return
  // 'wx': never an existing file, never through a symlink.
  const created = await writeFile(marker, String(process.pid), {flag: 'wx', mode: 0o600}).then(() => true, () => false)
  if (!created) return
  const deadline = Date.now() + PAUSE_LIMIT_MS
  while (Date.now() < deadline && (await stat(marker).then(() => true, () => false))) await new Promise((resolve) => setTimeout(resolve, 20))
}
