import type {Hook} from '@oclif/core'

import {AuthError} from '../errors.js'
import {authRequirement} from '../session/requirement.js'
import {tokenHolder} from '../session/token-holder.js'

/**
 * Before every command of the host: commands that need auth get a fresh token, the rest pay
 * nothing but a property lookup. oclif ignores a plain throw from a hook, so failures go through
 * `this.error` with an exit code (oclif/core#393).
 */
const hook: Hook<'prerun'> = async function ({Command, config}) {
  tokenHolder().config = config
  let requirement
  try {
    requirement = authRequirement(Command as {id?: string; auth?: unknown}, (config.pjson.oclif as {auth?: unknown}).auth)
  } catch (error) {
    if (error instanceof AuthError) this.error(error.userMessage, {exit: error.exitCode})
    throw error
  }
  if (requirement === 'none') return
  const {provideToken} = await import('../session/provide-token.js')
  const failure = await provideToken(config, requirement)
  if (failure) this.error(failure.userMessage, {exit: failure.exitCode})
}

export default hook
