import type {Hook} from '@oclif/core'

import {refreshAheadBeforeCommand} from '../session/refresh-ahead.js'

/**
 * Before every invocation of the host (also `--help`): refresh the token ahead of time when it is
 * about to expire, deciding from the metadata index alone. Never fails the command.
 */
const hook: Hook<'init'> = async function ({config, id}) {
  await refreshAheadBeforeCommand(config, id, (message) => this.debug(message))
}

export default hook
