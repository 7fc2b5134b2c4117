import {ux} from '@oclif/core'

import type {OpenResult} from '../provider/open-browser.js'
import type {SignInUi} from '../provider/sign-in-ui.js'

/**
 * The sign-in conversation on stderr, so stdout stays clean for scripts. oclif's `ux.action` draws a
 * spinner on a terminal and plain lines elsewhere.
 */
export function terminalUi(options: {browserCommand?: string; quiet: boolean}): SignInUi {
  const say = (line: string) => {
    if (!options.quiet) process.stderr.write(`${line}\n`)
  }
  return {
    showAuthorizationUrl(url) {
      say('Opening the sign-in page in your browser. If it does not open, visit:')
      say(`  ${url}`)
    },
    showDeviceCode({userCode, verificationUri}) {
      say(`To sign in, visit ${verificationUri} and enter the code:`)
      say('')
      say(`    ${ux.colorize('bold', userCode)}`)
      say('')
    },
    async open(url) {
      const {openBrowser} = await import('../provider/open-browser.js')
      const result: OpenResult = await openBrowser(url, options.browserCommand, (reason) => {
        say(`Could not open a browser (${reason}); open the URL above yourself.`)
      })
      if (!result.opened) say(`Could not open a browser (${result.reason}); open the URL above yourself.`)
    },
    warn(message) {
      process.stderr.write(`${ux.colorize('yellow', 'Warning:')} ${message}\n`)
    },
    waiting(message) {
      if (!options.quiet) ux.action.start(message, undefined, {stdout: false})
    },
    doneWaiting(outcome) {
      if (!options.quiet && ux.action.running) ux.action.stop(outcome)
    },
  }
}
