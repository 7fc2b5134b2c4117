import type {Interfaces} from '@oclif/core'

import {AuthError} from '../errors.js'
import {authContext} from './context.js'
import {currentToken} from './ensure-fresh.js'
import {inHostWords} from './store-messages.js'
import {tokenHolder} from './token-holder.js'

/**
 * The prerun hook's work for a command that needs auth: a fresh token into the holder (for
 * `getAccessToken()` / `authFetch()`) and into `ACME_ACCESS_TOKEN` (for child processes). Returns the
 * error to stop the command with, if any.
 */
export async function provideToken(config: Interfaces.Config, requirement: 'required' | 'optional'): Promise<AuthError | undefined> {
  try {
    const context = await authContext(config)
    const token = await currentToken(context)
    Object.assign(tokenHolder(), {token, now: context.now})
    // The host may keep it out of child processes' environments (exportToken: false).
    if (context.settings.exportToken) context.env[context.envNames.accessToken] = token.accessToken
    return undefined
  } catch (caught) {
    // Anything else (a folder we may not write, a hand-edited index) must stop the command too:
    // oclif lets a command run when its prerun hook throws a plain error.
    const error = caught instanceof AuthError ? caught : unexpected(caught)
    if (requirement === 'optional' && (error.code === 'NOT_LOGGED_IN' || error.code === 'REAUTH_REQUIRED')) return undefined
    return inHostWords(error, config)
  }
}

function unexpected(error: unknown): AuthError {
  const reason = error instanceof Error ? error.message.split('\n')[0] : String(error)
  return new AuthError('UNEXPECTED', `Could not get an access token: ${reason}.`, {cause: error})
}
