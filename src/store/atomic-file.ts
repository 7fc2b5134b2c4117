import {randomBytes} from 'node:crypto'
import {open, readdir, rename, rm} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import {ensurePrivateDir, readPrivateFile} from '../private-files.js'

const TEMP_SUFFIX = '.tmp'

/**
 * Replace `path` with `contents` so that readers see the old file or the new one, never half of
 * either: write a temp file in the same folder, fsync it, rename it over the target. Mode 0600
 * whatever the umask.
 */
export async function writeFileAtomic(path: string, contents: string): Promise<void> {
  await ensurePrivateDir(dirname(path))
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`
  const handle = await open(temp, 'wx', 0o600)
  try {
    await handle.chmod(0o600)
    await handle.writeFile(contents, 'utf8')
    await handle.sync()
  } catch (error) {
    await handle.close()
    await rm(temp, {force: true})
    throw error
  }
  await handle.close()
  try {
    await rename(temp, path)
  } catch (error) {
    await rm(temp, {force: true})
    throw error
  }
}

/**
 * Delete the temp files writeFileAtomic left next to `path` when its writer was killed before the
 * rename: each holds a full copy of the file. Only safe when no writer of `path` is at work (the
 * caller holds the lock every writer takes).
 */
export async function removeLeftoverTemps(path: string): Promise<void> {
  const folder = dirname(path)
  const prefix = `${basename(path)}.`
  const names = await readdir(folder).catch(() => [] as string[])
  for (const name of names) if (name.startsWith(prefix) && name.endsWith(TEMP_SUFFIX)) await rm(join(folder, name), {force: true})
}

/**
 * The file's text, or undefined when it does not exist; refused when it is not ours (see
 * private-files.ts). Other failures are real errors.
 */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  return readPrivateFile(path)
}

/**
 * Keep a damaged file for a human to look at instead of overwriting it: the bytes may be the only
 * copy of someone's login. Returns where it went.
 */
export async function moveAside(path: string, now = new Date()): Promise<string> {
  const target = `${path}.corrupt-${now.toISOString().replaceAll(':', '-')}-${process.pid}`
  await rename(path, target)
  return target
}
