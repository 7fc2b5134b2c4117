import {spawn} from 'node:child_process'

import {splitCommand} from '../split-command.js'

/** The browser the user named: `variable` (`ACME_BROWSER`), then `BROWSER`. */
export function browserCommand(env: NodeJS.ProcessEnv, variable: string): string | undefined {
  return env[variable] || env.BROWSER || undefined
}

export type OpenResult = {opened: true} | {opened: false; reason: string}

/**
 * Open `url` with `command` when the user named one (`ACME_BROWSER`, then `BROWSER`), else with the
 * system opener. The URL is passed as one argument, never through a shell. We do not wait for the
 * browser to exit: it may run for as long as the user likes.
 */
export async function openBrowser(url: string, command: string | undefined, env: NodeJS.ProcessEnv, onLateFailure?: (reason: string) => void): Promise<OpenResult> {
  // The address may come from the issuer (a device flow's verification_uri): a browser or a system
  // opener given `file:`, a custom scheme or `-x…` would do what the issuer chose, not open a page.
  if (!webAddress(url)) return {opened: false, reason: 'the issuer gave an address that is not an http(s) URL'}
  const argv = command ? splitCommand(command) : systemOpener(env)
  if ('reason' in argv) return {opened: false, reason: argv.reason}
  if (argv.length === 0) return {opened: false, reason: 'the browser command is empty'}
  const [file, ...args] = argv
  return new Promise((resolve) => {
    const child = spawn(file, [...args, url], {detached: true, stdio: 'ignore', env})
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

/** `text` as a URL when it is an absolute http(s) address, the only kind we hand to a browser. */
export function webAddress(text: string): URL | undefined {
  try {
    const url = new URL(text)
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined
  } catch {
    return undefined
  }
}

/** Why no browser can be opened here, or undefined when one probably can. */
export function browserUnavailableReason(command: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (command) return undefined
  const opener = systemOpener(env)
  return 'reason' in opener ? opener.reason : undefined
}

function systemOpener(env: NodeJS.ProcessEnv): string[] | {reason: string} {
  switch (process.platform) {
    case 'darwin':
      return ['open']
    case 'win32':
      return ['rundll32', 'url.dll,FileProtocolHandler']
    default:
      if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return {reason: 'no graphical display: DISPLAY is not set'}
      return ['xdg-open']
  }
}
