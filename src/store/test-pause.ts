import {stat, writeFile} from 'node:fs/promises'

/**
 * Test-only, never set in real use: with `TOKENWISE_TEST_PAUSE_AT=<step>` the process stops when it
 * reaches that step: it writes its pid to the file `TOKENWISE_TEST_PAUSE_MARKER` names, then waits
 * until it is killed, or until the test removes that file (then it goes on). An end-to-end test can
 * so SIGKILL a command exactly mid-step instead of at a guessed time, or change the files between
 * two steps, and know where the command stood. Unset, it costs one lookup.
 */
export async function pauseHereInTests(step: string): Promise<void> {
  if (process.env.TOKENWISE_TEST_PAUSE_AT !== step) return
  const marker = process.env.TOKENWISE_TEST_PAUSE_MARKER
  if (!marker) return new Promise(() => setInterval(() => {}, 60_000))
  await writeFile(marker, String(process.pid), {flag: 'wx', mode: 0o600})
  while (await stat(marker).then(() => true, () => false)) await new Promise((resolve) => setTimeout(resolve, 20))
}
