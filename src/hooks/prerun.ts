import type {Hook} from '@oclif/core'

import {AuthError} from '../errors.js'
import {authRequirement, type AuthRequirement} from '../session/requirement.js'
import {tokenHolder} from '../session/token-holder.js'

/**
 * Before every command of the host: commands that need auth get a fresh token, the rest pay
 * nothing but a property lookup. oclif ignores a plain throw from a hook and runs the command
 * anyway, so every failure goes through `this.error` with an exit code (oclif/core#393).
 */
const hook: Hook<'prerun'> = async function ({Command, config}) {
  tokenHolder().config = config
  let requirement: AuthRequirement
  try {
    requirement = authRequirement(Command as {id?: string; auth?: unknown}, (config.pjson.oclif as {auth?: unknown}).auth)
  } catch (error) {
    const failure = error instanceof AuthError ? error : new AuthError('UNEXPECTED', String(error))
    return this.error(failure.userMessage, {exit: failure.exitCode})
  }
  if (requirement === 'none') return
  const {provideToken} = await import('../session/provide-token.js')
  const failure = await provideToken(config, requirement)
  if (failure) this.error(failure.userMessage, {exit: failure.exitCode})
}

export default hook
