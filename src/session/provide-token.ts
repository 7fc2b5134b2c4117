import type {Interfaces} from '@oclif/core'

import {AuthError} from '../errors.js'
import {authContext} from './context.js'
import {currentToken} from './ensure-fresh.js'
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
    tokenHolder().token = token
    process.env[context.envNames.accessToken] = token.accessToken
    return undefined
  } catch (error) {
    if (!(error instanceof AuthError)) throw error
    if (requirement === 'optional' && (error.code === 'NOT_LOGGED_IN' || error.code === 'REAUTH_REQUIRED')) return undefined
    return error
  }
}
