import {join} from 'node:path'

import {sha256Hex} from './hash.js'
import type {StorePaths} from './paths.js'

// Apart from paths.ts so the init hook, which reads paths on every command, does not load node:crypto.

/** The refresh lock of one account: named by a hash, since account keys hold URLs. */
export function accountLockPath(paths: StorePaths, accountKey: string): string {
  return join(paths.locks, `${accountFileName(accountKey)}.lock`)
}

/** Marks a background refresh as started, so N commands at once start one, not N. */
export function refreshAheadMarkerPath(paths: StorePaths, accountKey: string): string {
  return join(paths.locks, `${accountFileName(accountKey)}.ahead`)
}

/**
 * Where a grant's answer goes when the store that holds the login could not take it (a keychain
 * locked or stopped, a helper failing): one private file per account, written only under that
 * account's lock, so no lock shared with other accounts is needed to save it.
 */
export function rescuedLoginPath(paths: StorePaths, accountKey: string): string {
  return join(paths.dir, 'rescued', `${accountFileName(accountKey)}.json`)
}

function accountFileName(accountKey: string): string {
  return sha256Hex(accountKey).slice(0, 32)
}
