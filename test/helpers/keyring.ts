// The real Secret Service the keychain tests run against (gnome-keyring on a private D-Bus).
import {execFileSync} from 'node:child_process'
import {readdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {KeyringCredentialStore} from '../../src/store/keyring-store.js'

/** The keychain as the example host sees it: service `acme-auth`. */
export const keychain = () => new KeyringCredentialStore({service: 'acme-auth'})

/** Stops a keychain suite at once, saying how to run it, when there is no Secret Service to talk to. */
export function requireSessionBus(): void {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS) {
    throw new Error('No D-Bus session: run these tests through `npm test`, which starts a private Secret Service.')
  }
}

/** Everything written in files below `dir`, to prove no token reached one. */
export async function textOfFilesUnder(dir: string): Promise<string> {
  let text = ''
  for (const entry of await readdir(dir, {recursive: true, withFileTypes: true}).catch(() => [])) {
    if (entry.isFile()) text += await readFile(join(entry.parentPath, entry.name), 'utf8')
  }
  return text
}

/** The pid behind a D-Bus name on our session bus (the bus itself for org.freedesktop.DBus). */
export function pidOf(name: string): number | undefined {
  try {
    const out = execFileSync(
      'dbus-send',
      ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/', 'org.freedesktop.DBus.GetConnectionUnixProcessID', `string:${name}`],
      {encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore']},
    )
    const match = /uint32 (\d+)/.exec(out)
    return match ? Number(match[1]) : undefined
  } catch {
    return undefined
  }
}

/** Stop a process for the duration of `run`, and always let it go on afterwards. */
export async function whileStopped<T>(pid: number, run: () => Promise<T>): Promise<T> {
  process.kill(pid, 'SIGSTOP')
  try {
    return await run()
  } finally {
    process.kill(pid, 'SIGCONT')
  }
}

