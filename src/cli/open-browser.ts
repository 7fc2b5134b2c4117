import {spawn} from 'node:child_process'

import {splitCommand} from '../split-command.js'

export type OpenResult = {opened: true} | {opened: false; reason: string}

/**
 * Open `url` with `command` when the user named one (`ACME_BROWSER`, then `BROWSER`), else with the
 * system opener. The URL is passed as one argument, never through a shell. We do not wait for the
 * browser to exit: it may run for as long as the user likes.
 */
export async function openBrowser(url: string, command?: string, onLateFailure?: (reason: string) => void): Promise<OpenResult> {
  const argv = command ? splitCommand(command) : systemOpener()
  if ('reason' in argv) return {opened: false, reason: argv.reason}
  if (argv.length === 0) return {opened: false, reason: 'the browser command is empty'}
  const [file, ...args] = argv
  return new Promise((resolve) => {
    const child = spawn(file, [...args, url], {detached: true, stdio: 'ignore'})
    child.once('error', (error: NodeJS.ErrnoException) => {
      resolve({opened: false, reason: error.code === 'ENOENT' ? `'${file}' was not found` : `'${file}' failed to start`})
    })
    child.once('spawn', () => {
      child.unref()
      resolve({opened: true})
    })
    child.once('exit', (code) => {
      if (code) onLateFailure?.(`'${file}' exited with status ${code}`)
    })
  })
}

/** Why no browser can be opened here, or undefined when one probably can. */
export function browserUnavailableReason(command?: string): string | undefined {
  if (command) return undefined
  const opener = systemOpener()
  return 'reason' in opener ? opener.reason : undefined
}

function systemOpener(): string[] | {reason: string} {
  switch (process.platform) {
    case 'darwin':
      return ['open']
    case 'win32':
      return ['rundll32', 'url.dll,FileProtocolHandler']
    default:
      if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return {reason: 'no graphical display: DISPLAY is not set'}
      return ['xdg-open']
  }
}
