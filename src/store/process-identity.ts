import {readFileSync, statSync} from 'node:fs'

/*
 * Who holds a lock, beyond its pid: a pid is reused after its process ends (or was never ours, in
 * a file someone planted), so a lock also records the holder's boot and start time, which no other
 * process shares, and a waiter compares them with what the kernel says about that pid now. Linux
 * only (/proc); elsewhere these are undefined and the pid alone, with the heartbeat, decides.
 */

let cachedBootId: string | null | undefined

/** Linux's boot id: a pid recorded before a reboot means nothing after it. */
export function bootId(): string | undefined {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null
    } catch {
      cachedBootId = null // not Linux
    }
  }
  return cachedBootId ?? undefined
}

/**
 * When the process started, in clock ticks after boot (`/proc/<pid>/stat` field 22), or undefined
 * when it is gone or this is not Linux. The command name (field 2) may hold spaces and parentheses,
 * so the fields are counted from the last ')'.
 */
export function processStartTime(pid: number): string | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // After the name: field 3 (state) is fields[0], so field 22 is fields[19].
  const start = fields[19]
  return start && /^\d+$/.test(start) ? start : undefined
}

/** The user a process runs as (the owner of /proc/<pid>), or undefined when unknown. */
export function processUid(pid: number): number | undefined {
  try {
    return statSync(`/proc/${pid}`).uid
  } catch {
    return undefined
  }
}
