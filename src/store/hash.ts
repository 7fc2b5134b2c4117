import {createHash} from 'node:crypto'

/** Names for things derived from a secret or a key (tombstones, lock files, chunk checksums). */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex')
}
