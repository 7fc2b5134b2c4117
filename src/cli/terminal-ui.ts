import {ux} from '@oclif/core'

import type {SignInUi} from '../session/login.js'
import {displaySafe, oneLineSafe} from '../safe-text.js'
import {copyToClipboard} from './clipboard.js'
import {browserUnavailableReason, openBrowser, webAddress} from './open-browser.js'
import {atInteractiveTerminal, withPrompt} from './prompt.js'

export interface TerminalUiOptions {
  browserCommand?: string
  /** Copy the device code to the clipboard (`--clipboard`). */
  clipboard?: boolean
  /** The command's variables (the display, what the browser inherits). */
  env: NodeJS.ProcessEnv
}

/**
 * The sign-in conversation, on stderr so stdout stays clean for scripts. oclif's `ux.action` spins
 * on a terminal and prints plain lines elsewhere (CI, pipes); the QR code and the "press Enter"
 * offer are for a person at a terminal only.
 */
export function terminalUi(options: TerminalUiOptions): SignInUi {
  // The issuer's text (URLs, codes, messages) reaches the terminal only through here, made safe.
  const say = (line = '') => process.stderr.write(`${displaySafe(line)}\n`)
  const atTerminal = Boolean(process.stderr.isTTY)
  const interactive = atInteractiveTerminal()
  const open = async (url: string) => {
    const result = await openBrowser(url, options.browserCommand, options.env, (reason) => {
      say(`Could not open a browser (${reason}); open the URL above yourself.`)
    })
    if (!result.opened) say(`Could not open a browser (${result.reason}); open the URL above yourself.`)
  }
  return {
    interactive,
    showAuthorizationUrl(url) {
      say('Opening the sign-in page in your browser. If it does not open, visit:')
      say(`  ${oneLineSafe(url)}`)
    },
    async showDeviceCode({userCode, verificationUri, verificationUriComplete}) {
      say(`To sign in, open ${oneLineSafe(verificationUri)} on any device and enter the code:`)
      say()
      // Bold on its own line, never letter-spaced: a copied code must be the code. Made safe first,
      // so that only our own styling reaches the terminal.
      process.stderr.write(`    ${ux.colorize('bold', oneLineSafe(displaySafe(userCode)))}\n`)
      say()
      if (options.clipboard) {
        const copy = await copyToClipboard(userCode, options.env)
        say(copy.copied ? `The code is on the clipboard (${copy.tool}).` : `Could not copy the code to the clipboard: ${copy.reason}.`)
      }
      if (verificationUriComplete) say(`Or open this address, which carries the code: ${oneLineSafe(verificationUriComplete)}`)
      if (atTerminal) {
        // Loaded only here: nothing on a command's hot path pays for it.
        const {renderUnicodeCompact} = await import('uqr')
        say('Or scan this with your phone:')
        process.stderr.write(`${renderUnicodeCompact(verificationUriComplete ?? verificationUri, {border: 2})}\n`)
      }
    },
    browserUnavailableReason() {
      return browserUnavailableReason(options.browserCommand, options.env)
    },
    open,
    offerBrowser(url) {
      const address = webAddress(url)
      // Not a web address: it was shown as text, and that is all that is safe to do with it.
      if (!address || browserUnavailableReason(options.browserCommand, options.env)) return () => {}
      // Without a person at the terminal, open at once (a configured ACME_BROWSER, CI, a pipe).
      if (!interactive) {
        void open(url)
        return () => {}
      }
      // As gh does: the person chooses whether this machine's browser is the device to use, while
      // the sign-in goes on waiting for an approval from anywhere.
      say(`Press Enter to open ${address.host} in your browser...`)
      const onData = (chunk: Buffer) => {
        if (!chunk.includes(0x0a) && !chunk.includes(0x0d)) return
        stop()
        void open(url)
      }
      const stop = () => {
        process.stdin.off('data', onData)
        process.stdin.pause()
      }
      process.stdin.on('data', onData)
      process.stdin.resume()
      return stop
    },
    warn(message) {
      process.stderr.write(`${ux.colorize('yellow', 'Warning:')} ${displaySafe(message)}\n`)
    },
    notice(message) {
      // A running spinner holds back what is written meanwhile: the line is shown now, the spinner resumes.
      if (ux.action.running) ux.action.pause(() => say(message))
      else say(message)
    },
    async confirm(question) {
      if (!interactive) {
        say(oneLineSafe(question).replace(/\?$/, '.'))
        return true
      }
      const answer = (await withPrompt((ask) => ask(`${oneLineSafe(displaySafe(question))} [Y/n] `))).trim().toLowerCase()
      return answer === '' || answer === 'y' || answer === 'yes'
    },
    waiting(message) {
      ux.action.start(message, undefined, {stdout: false})
    },
    doneWaiting(outcome) {
      if (ux.action.running) ux.action.stop(outcome)
    },
  }
}
