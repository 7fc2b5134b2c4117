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

function accountFileName(accountKey: string): string {
  return sha256Hex(accountKey).slice(0, 32)
}
