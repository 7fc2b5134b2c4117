import type {Interfaces} from '@oclif/core'

import {AuthError} from '../errors.js'
import {loadHookSettings} from '../settings/load.js'
import {authRequirement} from './requirement.js'
import {tokenHolder} from './token-holder.js'

/**
 * The prerun hook's work, before every command of the host: a command that needs auth gets a fresh
 * token (see provide-token.ts, loaded only then); any other pays a property lookup. Returns the
 * error to stop the command with, if any.
 */
export async function prepareCommand(config: Interfaces.Config, command: {id?: string; auth?: unknown}): Promise<AuthError | undefined> {
  // A token an earlier command of this process was given is not this command's (a process that runs several).
  Object.assign(tokenHolder(), {config, token: undefined, now: undefined})
  let requirement
  try {
    requirement = authRequirement(command, () => loadHookSettings(config, ['requireAuth']).requireAuth)
  } catch (error) {
    return error instanceof AuthError ? error : new AuthError('UNEXPECTED', String(error))
  }
  if (requirement === 'none') return undefined
  let tokens: typeof import('./provide-token.js')
  try {
    tokens = await import('./provide-token.js')
  } catch (error) {
    // oclif runs the command anyway when a hook throws: a missing file must not mean "no token needed".
    return new AuthError('UNEXPECTED', `Part of the sign-in plugin could not be loaded (${(error as Error).message}). Reinstall the CLI or the plugin.`)
  }
  return tokens.provideToken(config, requirement)
}
