/**
 * Named steps of the changes that must survive a crash (a migration's copy, switch and delete; the
 * moment a refresh has read the store): a test can stop the process exactly there, to SIGKILL it
 * mid-step or to change the files between two steps. Nothing happens unless a handler was installed
 * on `globalThis` under this symbol before the plugin ran; the end-to-end tests install one with a
 * `--import` preload (test/fixtures/pause-at-step.mjs). The shipped code reads no test variable.
 */
const CHECKPOINT = Symbol.for('@tokenwise/plugin-auth:checkpoint')

type CheckpointHandler = (step: string) => Promise<void> | void

export async function checkpoint(step: string): Promise<void> {
  const handler = (globalThis as {[CHECKPOINT]?: CheckpointHandler})[CHECKPOINT]
  if (typeof handler === 'function') await handler(step)
}
