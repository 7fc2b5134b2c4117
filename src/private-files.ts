import {closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, type Stats, statSync} from 'node:fs'
import {chmod, lstat, mkdir, open, stat} from 'node:fs/promises'
import {dirname} from 'node:path'

import {AuthError} from './errors.js'

/*
 * The folders and files that hold a login, and the settings that say where it may go, must be the
 * user's own: a data folder another user created first (`ACME_DATA_DIR=/tmp/acme`), a symlink planted
 * to make us chmod or overwrite something else, or a world-writable folder where anyone can swap the
 * index would let someone else read or steer the login. Every read and write of ours goes through
 * here: folders and files are checked with lstat/fstat (never through a symlink), files are opened
 * with O_NOFOLLOW, and anything not ours stops the command with one line saying what to fix.
 */

/** The owner every file and folder of ours must have; undefined where there are no uids (Windows). */
const ourUid = process.getuid?.()

/** Nothing we keep comes near this; a bigger file is not read into memory. */
export const MAX_FILE_BYTES = 8 * 1024 * 1024

export class UnsafePathError extends AuthError {}

/**
 * A file of ours far larger than anything we write (an index an older version let a hostile issuer
 * grow, a file edited by hand). Not someone else's doing: said as what it is, and never read.
 */
export class OversizedFileError extends AuthError {
  constructor(
    readonly path: string,
    readonly size: number,
  ) {
    super('STORE_CORRUPT', `The file ${path} is ${size} bytes, far more than this CLI ever writes (${MAX_FILE_BYTES} at most), so it was not read.`, {
      suggestion: 'Move it aside or remove it.',
    })
  }
}

function unsafe(path: string, reason: string, variable?: string): UnsafePathError {
  const move = variable ? `, or set ${variable} to a folder of your own` : ''
  return new UnsafePathError('STORE_UNAVAILABLE', `Refusing to use ${path}: it ${reason}, so someone else could read or change your login through it.`, {
    suggestion: `If it is yours, make it so only you can write it (owned by you, chmod go-w, not a symbolic link); else remove it${move}.`,
  })
}

/** Not a symlink, ours, and not writable by anyone else; 'missing' when it does not exist. */
export async function checkPrivateDir(path: string, variable?: string): Promise<'ok' | 'missing'> {
  let info
  try {
    info = await lstat(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
    throw error
  }
  return judgeDir(path, info, variable)
}

function judgeDir(path: string, info: Stats, variable?: string): 'ok' {
  if (info.isSymbolicLink()) throw unsafe(path, 'is a symbolic link', variable)
  if (!info.isDirectory()) throw unsafe(path, 'is not a folder', variable)
  if (ourUid !== undefined && info.uid !== ourUid) throw unsafe(path, `belongs to another user (uid ${info.uid})`, variable)
  if (ourUid !== undefined && info.mode & 0o022) throw unsafe(path, 'can be written by other users', variable)
  return 'ok'
}

/**
 * The folder a private folder is made in (the host's data or config folder): it may be a symlink
 * (a home on another disk), and may belong to root, but nobody else may be able to replace what is
 * in it, except in a root-owned sticky folder such as /tmp, where only owners can.
 */
async function checkParentDir(path: string, variable?: string): Promise<void> {
  let info
  try {
    info = await stat(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
    throw error
  }
  judgeParentDir(path, info, variable)
}

function judgeParentDir(path: string, info: Stats, variable?: string): void {
  if (ourUid === undefined) return
  if (info.uid !== ourUid && info.uid !== 0) throw unsafe(path, `belongs to another user (uid ${info.uid})`, variable)
  const sticky = (info.mode & 0o1000) !== 0 && info.uid === 0
  if (info.mode & 0o022 && !sticky) throw unsafe(path, 'can be written by other users', variable)
}

/** A private folder and the folder it is in, checked before anything in it is read. */
export async function checkPrivateFolder(path: string, variable?: string): Promise<'ok' | 'missing'> {
  await checkParentDir(dirname(path), variable)
  return checkPrivateDir(path, variable)
}

/**
 * Create a folder only its owner can enter, or check the one that is there. `mkdir`'s mode is
 * filtered by the umask and leaves an existing folder alone, so the mode is set explicitly, and
 * only after lstat showed the folder is ours and no symlink (chmod would follow one).
 */
export async function ensurePrivateDir(path: string, variable?: string): Promise<void> {
  await checkParentDir(dirname(path), variable)
  if ((await checkPrivateDir(path, variable)) === 'missing') {
    await mkdir(path, {recursive: true, mode: 0o700})
    await checkPrivateDir(path, variable)
  }
  await chmod(path, 0o700)
}

/**
 * A file of ours as text, or undefined when it does not exist: opened without following a symlink,
 * and refused when someone else owns it or can write it, or when it is far larger than ours get.
 */
export async function readPrivateFile(path: string, variable?: string): Promise<string | undefined> {
  let handle
  try {
    handle = await open(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    if (code === 'ELOOP') throw unsafe(path, 'is a symbolic link', variable)
    throw error
  }
  try {
    judgeFile(path, await handle.stat(), variable)
    return await handle.readFile('utf8')
  } finally {
    await handle.close()
  }
}

function judgeFile(path: string, info: Stats, variable?: string): void {
  if (!info.isFile()) throw unsafe(path, 'is not a regular file', variable)
  if (ourUid !== undefined && info.uid !== ourUid) throw unsafe(path, `belongs to another user (uid ${info.uid})`, variable)
  if (ourUid !== undefined && info.mode & 0o022) throw unsafe(path, 'can be written by other users', variable)
  if (info.size > MAX_FILE_BYTES) throw new OversizedFileError(path, info.size)
}

/**
 * readPrivateFile for the init hook, with the same checks of the file and of the folders `folder`
 * and above it, all synchronous: on the path every command of the host takes, each of the six
 * asynchronous steps costs a trip through libuv's thread pool, together about 1.5 ms for one small
 * file; these calls take microseconds. undefined when the folder or the file does not exist.
 */
export function readPrivateFileSync(folder: string, path: string): string | undefined {
  const parent = statSync(dirname(folder), {throwIfNoEntry: false})
  if (parent) judgeParentDir(dirname(folder), parent)
  const dir = lstatSync(folder, {throwIfNoEntry: false})
  if (!dir) return undefined
  judgeDir(folder, dir)
  let fd
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    if (code === 'ELOOP') throw unsafe(path, 'is a symbolic link')
    throw error
  }
  try {
    judgeFile(path, fstatSync(fd))
    return readFileSync(fd, 'utf8')
  } finally {
    closeSync(fd)
  }
}
