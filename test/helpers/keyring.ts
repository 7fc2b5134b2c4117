// The real Secret Service the keychain tests run against (gnome-keyring on a private D-Bus).
import {execFileSync} from 'node:child_process'

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

