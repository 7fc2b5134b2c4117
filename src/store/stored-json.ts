import {AuthError, type NextStep} from '../errors.js'
import {OversizedFileError} from '../private-files.js'
import {moveAside, readTextIfExists} from './atomic-file.js'

/**
 * One of our files that cannot be used: too large to read, or not what we wrote. `keptAt` is where
 * its bytes were moved, when they were; `reason` says which, in a few words.
 */
export class DamagedFileError extends AuthError {
  constructor(
    readonly path: string,
    override readonly reason: string,
    readonly keptAt: string | undefined,
    message: string,
    next: NextStep,
  ) {
    super('STORE_CORRUPT', message, {next, reason})
  }
}

/**
 * Read one of our JSON files and hand it to `validate`. Anything that does not parse or validate is
 * moved aside (never overwritten, never deleted) and reported as STORE_CORRUPT naming the file, where
 * its bytes went and the next step (`next`, said in the host's words by the session).
 */
export async function readStoredJson<T>(
  path: string,
  validate: (data: unknown, path: string) => T,
  next: NextStep,
): Promise<T | undefined> {
  let text: string | undefined
  try {
    text = await readTextIfExists(path)
  } catch (error) {
    if (!(error instanceof OversizedFileError)) throw error
    throw new DamagedFileError(path, `too large (${error.size} bytes)`, undefined, error.message, next)
  }
  if (text === undefined) return undefined
  let value: T
  try {
    value = validate(JSON.parse(text), path)
  } catch (error) {
    if (!(error instanceof SyntaxError) && !(error instanceof ShapeError)) throw error
    // Only move the bytes we judged: another process may have replaced the file meanwhile.
    const keptAt = (await readTextIfExists(path).catch(() => undefined)) === text ? await moveAside(path).catch(() => undefined) : undefined
    const kept = keptAt ? ` It was moved to ${keptAt}.` : ''
    const reason = error instanceof ShapeError ? error.message : 'not valid JSON'
    throw new DamagedFileError(path, `damaged (${reason})`, keptAt, `The file ${path} is damaged (${reason}).${kept}`, next)
  }
  return value
}

/** A stored file parsed but does not have the shape we wrote. */
export class ShapeError extends Error {}

/**
 * Our files carry `version: 1`. A higher one was written by a newer plugin (the user upgraded, then
 * ran an older copy of the CLI): that is not damage, so it is left exactly where it is.
 */
export function expectVersion1(file: Record<string, unknown>, path: string): void {
  if (file.version === 1) return
  if (typeof file.version === 'number' && Number.isInteger(file.version) && file.version > 1) {
    throw new AuthError('STORE_UNAVAILABLE', `The file ${path} was written by a newer version of this CLI's sign-in support (format ${file.version}).`, {
      suggestion: 'Upgrade this CLI to use the stored login.',
    })
  }
  throw new ShapeError('unknown version')
}

export function expectObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ShapeError(`${what} is not an object`)
  return value as Record<string, unknown>
}

export function expectString(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw new ShapeError(`${what} is not a non-empty string`)
  return value
}

export function optionalString(value: unknown, what: string): string | undefined {
  return value === undefined || value === null ? undefined : expectString(value, what)
}
