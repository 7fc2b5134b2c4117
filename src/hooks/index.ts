import type {Hook} from '@oclif/core'

import {prepareCommand} from '../session/prerun.js'
import {refreshAheadBeforeCommand} from '../session/refresh-ahead.js'

// Both hooks live in one module, named by `{target, identifier}` entries in package.json's
// `oclif.hooks`: oclif then loads one file for the two events instead of two. The build bundles this
// module and what it imports into one file, dist/hooks/index.js (scripts/bundle.js); the code
// that talks to the issuer or the keychain stays behind dynamic imports, loaded only when needed.

/**
 * Before every invocation of the host (also `--help`): refresh the token ahead of time when it is
 * about to expire, deciding from the metadata index alone. Never fails the command.
 */
export const init: Hook<'init'> = async function ({config, id}) {
  await refreshAheadBeforeCommand(config, id, (message) => this.debug(message))
}

/**
 * Before every command of the host: commands that need auth get a fresh token. oclif ignores a
 * plain throw from a hook and runs the command anyway, so a failure goes through `this.error` with
 * an exit code (oclif/core#393).
 */
export const prerun: Hook<'prerun'> = async function ({Command, config}) {
  const failure = await prepareCommand(config, Command as {id?: string; auth?: unknown})
  if (failure) this.error(failure.userMessage, {exit: failure.exitCode})
}
