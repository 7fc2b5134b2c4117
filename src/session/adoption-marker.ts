import {readPrivateFileSync} from '../private-files.js'
import {storePaths} from '../store/paths.js'

/**
 * Whether the index notes that taking over the host's earlier login is finished: read at once and
 * without judging the file, before every command of a host that calls adoptLogin() from its init
 * hook, so that afterwards none of the code that takes a login over is loaded, and the host's
 * `read()` is not called. Anything unreadable says "not finished": the adoption code then reads the
 * index properly and reports what is wrong with it.
 */
export function adoptionFinished(dataDir: string): boolean {
  try {
    const paths = storePaths(dataDir)
    const index = JSON.parse(readPrivateFileSync(paths.dir, paths.index) ?? 'null') as {adoption?: {state?: unknown}} | null
    return index?.adoption?.state === 'done'
  } catch {
    return false
  }
}
