import {writeFile} from 'node:fs/promises'

/**
 * Test-only, never set in real use: with `TOKENWISE_TEST_PAUSE_AT=<step>` the process stops when it
 * reaches that step (it writes its pid to the file `TOKENWISE_TEST_PAUSE_MARKER` names, then waits
 * until it is killed), so an end-to-end test can SIGKILL a command exactly mid-step instead of at a
 * guessed time, and know where the kill landed. Unset, it costs one lookup.
 */
export async function pauseHereInTests(step: string): Promise<void> {
  if (process.env.TOKENWISE_TEST_PAUSE_AT !== step) return
  const marker = process.env.TOKENWISE_TEST_PAUSE_MARKER
  if (marker) await writeFile(marker, String(process.pid))
  // The interval keeps the process alive; nothing resolves this.
  await new Promise(() => setInterval(() => {}, 60_000))
}
