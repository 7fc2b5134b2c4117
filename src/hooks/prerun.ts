import type {Hook} from '@oclif/core'

import {prepareCommand} from '../session/prerun.js'

/**
 * Before every command of the host: commands that need auth get a fresh token. oclif ignores a
 * plain throw from a hook and runs the command anyway, so a failure goes through `this.error` with
 * an exit code (oclif/core#393).
 */
const hook: Hook<'prerun'> = async function ({Command, config}) {
  const failure = await prepareCommand(config, Command as {id?: string; auth?: unknown})
  if (failure) this.error(failure.userMessage, {exit: failure.exitCode})
}

export default hook
