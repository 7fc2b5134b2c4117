import type {Interfaces} from '@oclif/core'

import {AuthError, type NextStep} from '../errors.js'
import {HostCommands} from '../host-commands.js'

/** What names the host's commands and variables: its oclif config. */
export type HostNaming = Pick<Interfaces.Config, 'bin' | 'topicSeparator' | 'scopedEnvVarKey'>

/**
 * The error as its user sees it: the store says what happened and names the next step
 * (AuthError.next); here that step is said with the host's commands and variables (`acme auth
 * login`, `ACME_AUTH_STORAGE`). Called where errors become output: the auth commands, the prerun
 * hook, and getAccessToken() / authFetch(). An error that already says its next step is as it was.
 */
export function inHostWords(error: AuthError, host: HostNaming): AuthError {
  if (error.next === undefined || error.suggestion !== undefined) return error
  const suggestion = nextStepInWords(error.next, new HostCommands(host.bin, host.topicSeparator), host.scopedEnvVarKey('AUTH_STORAGE'))
  return new AuthError(error.code, error.message, {suggestion, next: error.next, reason: error.reason, cause: error.debugCause})
}

/** The one place a store's next step gets words. */
function nextStepInWords(next: NextStep, commands: HostCommands, storageVariable: string): string {
  const login = commands.auth('login')
  const logoutAll = `${commands.auth('logout')} --all`
  if (typeof next === 'object') {
    return `If that helper is yours, set ${storageVariable}='${next.helperNotConfigured}' (or storage in your auth.json); else run \`${login}\` to sign in again.`
  }
  switch (next) {
    case 'sign-in-again':
      return commands.signInAgain()
    case 'keep-in-file':
      return commands.keepInFile(storageVariable)
    case 'unlock-or-sign-in-again':
      return `If it is locked or stopped, unlock or start it and retry; else run \`${login}\` to sign in again.`
    case 'retry-or-sign-in-again':
      return `Retry; if the issuer then no longer accepts the login, run \`${login}\`.`
    case 'damaged-index-moved':
      return `${commands.signInAgain()} (\`${logoutAll}\` clears what is left.)`
    case 'damaged-index-too-large':
      return `Run \`${logoutAll}\` to move it aside and clear what is left, then \`${login}\`.`
  }
}
