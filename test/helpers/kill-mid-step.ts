// Kill a command exactly in the middle of a multi-step change, where a crash or a closed laptop lid
// would catch it: a preload (test/fixtures/pause-at-step.mjs) installs the plugin's checkpoint handler
// (src/store/checkpoint.ts), which stops at a named step, writes its pid to a marker file, and waits
// there to be killed.
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {readFile, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {cleanEnv, nodeArgs, type TempHome} from './acme.js'
import {waitFor} from './wait.js'

const PAUSE_AT_STEP = fileURLToPath(new URL('../fixtures/pause-at-step.mjs', import.meta.url))

/**
 * The environment that makes an acme process stop at `step` (writing its pid to `marker`, then waiting
 * until it is killed or the marker is removed): the preload that installs the checkpoint, and what it reads.
 */
export function pauseAtStep(step: string, marker: string): Record<string, string> {
  return {NODE_OPTIONS: `--import=${PAUSE_AT_STEP}`, TOKENWISE_TEST_PAUSE_AT: step, TOKENWISE_TEST_PAUSE_MARKER: marker}
}

/** The steps of moving a login between backends (AccountStore.migrate), in order. */
export const MOVE_STEPS = [
  'migrate:locked', // the store lock is held, nothing moved yet
  'migrate:copied', // the copy is in the new backend and read back; the index still names the old one
  'migrate:switched', // the index names the new backend and notes the old copy (migratingFrom)
  'migrate:deleted', // the old copy is gone; the note is still in the index
] as const

/**
 * Run `acme <args>` until it reaches `step`, then SIGKILL it there; returns its pid. Fails if the
 * command ends without reaching the step: a kill that lands somewhere else proves nothing.
 */
export async function killAtStep(step: string, args: string[], home: TempHome, env: Record<string, string | undefined>): Promise<number> {
  const marker = join(home.root, `paused-at-${step.replace(/\W/g, '-')}`)
  const child = spawn(process.execPath, nodeArgs(args), {
    env: cleanEnv(home, {...env, ...pauseAtStep(step, marker)}),
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  let exit: number | null | undefined
  // Listen at once: a command that ends before the step must be seen as ended.
  const closed = new Promise<void>((resolve) =>
    child.on('close', (code) => {
      exit = code
      resolve()
    }),
  )
  try {
    await waitFor(async () => exit !== undefined || (await readFile(marker, 'utf8').catch(() => '')) === String(child.pid), 60_000, `acme ${args.join(' ')} to reach ${step}`)
    if (exit !== undefined) throw new Error(`acme ${args.join(' ')} exited ${exit} before it reached ${step}:\n${stderr}`)
  } finally {
    child.kill('SIGKILL')
    await closed
    await rm(marker, {force: true})
  }
  return child.pid!
}

/** How a test sees a login being moved: the account's index entry, and whether a store holds its token. */
export interface MoveView {
  account(): Promise<{storage: string; migratingFrom?: string}>
  holds(storage: string): Promise<boolean>
}

/** Where a kill at `step` of a move from `from` to `to` left the login, as the index and the two stores show it. */
export async function expectKilledMidMove(view: MoveView, step: (typeof MOVE_STEPS)[number], from: string, to: string, where: string): Promise<void> {
  const killed = await view.account()
  expect(killed.storage, where).to.equal(step === 'migrate:locked' || step === 'migrate:copied' ? from : to)
  expect(killed.migratingFrom, where).to.equal(step === 'migrate:switched' || step === 'migrate:deleted' ? from : undefined)
  expect(await view.holds(from), `${where}: the old copy`).to.equal(step !== 'migrate:deleted')
  expect(await view.holds(to), `${where}: the new copy`).to.equal(step !== 'migrate:locked')
}

/** The move is done: the index names the new store with nothing noted, and only the new store holds the token. */
export async function expectMoveFinished(view: MoveView, from: string, to: string, where: string): Promise<void> {
  const moved = await view.account()
  expect(moved.storage, where).to.equal(to)
  expect(moved.migratingFrom, where).to.equal(undefined)
  expect(await view.holds(from), `${where}: the old copy after the next command`).to.equal(false)
  expect(await view.holds(to), `${where}: the new copy after the next command`).to.equal(true)
}
