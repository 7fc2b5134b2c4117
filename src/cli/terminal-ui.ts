import {ux} from '@oclif/core'

import {displaySafe} from '../safe-text.js'

import {browserUnavailableReason, openBrowser} from './open-browser.js'
import type {SignInUi} from '../provider/sign-in-ui.js'

/**
 * The sign-in conversation, on stderr so stdout stays clean for scripts. oclif's `ux.action` spins
 * on a terminal and prints plain lines elsewhere (CI, pipes); the QR code is drawn only for a person
 * at a terminal, where a phone can read it.
 */
export function terminalUi(options: {browserCommand?: string}): SignInUi {
  // The issuer's text (URLs, codes, messages) reaches the terminal only through here.
  const say = (line = '') => process.stderr.write(`${displaySafe(line)}\n`)
  const atTerminal = Boolean(process.stderr.isTTY)
  return {
    showAuthorizationUrl(url) {
      say('Opening the sign-in page in your browser. If it does not open, visit:')
      say(`  ${url}`)
    },
    async showDeviceCode({userCode, verificationUri, verificationUriComplete}) {
      say(`To sign in, open ${verificationUri} on any device and enter the code:`)
      say()
      // Bold on its own line, never letter-spaced: a copied code must be the code.
      say(`    ${ux.colorize('bold', userCode)}`)
      say()
      if (atTerminal) {
        // Loaded only here: nothing on a command's hot path pays for it.
        const {renderUnicodeCompact} = await import('uqr')
        say('Or scan this with your phone:')
        say(renderUnicodeCompact(verificationUriComplete ?? verificationUri, {border: 2}))
      }
    },
    browserUnavailableReason() {
      return browserUnavailableReason(options.browserCommand)
    },
    async open(url) {
      const result = await openBrowser(url, options.browserCommand, (reason) => {
        say(`Could not open a browser (${reason}); open the URL above yourself.`)
      })
      if (!result.opened) say(`Could not open a browser (${result.reason}); open the URL above yourself.`)
    },
    warn(message) {
      say(`${ux.colorize('yellow', 'Warning:')} ${message}`)
    },
    notice(message) {
      say(message)
    },
    async confirm(question) {
      if (!process.stdin.isTTY || !atTerminal) {
        say(question.replace(/\?$/, '.'))
        return true
      }
      const {createInterface} = await import('node:readline/promises')
      const prompt = createInterface({input: process.stdin, output: process.stderr})
      try {
        const answer = (await prompt.question(`${displaySafe(question)} [Y/n] `)).trim().toLowerCase()
        return answer === '' || answer === 'y' || answer === 'yes'
      } finally {
        prompt.close()
      }
    },
    waiting(message) {
      ux.action.start(message, undefined, {stdout: false})
    },
    doneWaiting(outcome) {
      if (ux.action.running) ux.action.stop(outcome)
    },
  }
}
