import {Errors} from '@oclif/core'

import type {AuthError} from './errors.js'

/**
 * What `getAccessToken()` and `authFetch()` reject with: an oclif CLIError, so that in a host command
 * that does not catch it, oclif prints one line (message and next step) and exits with the
 * documented code. The AuthError itself, with its `code`, is `authError`.
 */
export class AuthCommandError extends Errors.CLIError {
  readonly authError: AuthError

  constructor(authError: AuthError) {
    super(authError.userMessage, {exit: authError.exitCode})
    this.authError = authError
  }
}
