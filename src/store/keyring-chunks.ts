import {sha256Hex} from './hash.js'
import type {Keychain} from './keychain.js'

/*
 * Keychains limit the size of an entry (Windows Credential Manager: 2,560 bytes; ID tokens and JWT
 * access tokens exceed it), so a bundle larger than the limit is split into numbered entries and
 * joined on read: never truncated. Two chunk sets, a and b, let a writer switch atomically.
 */

const CHUNK_SETS = ['a', 'b'] as const
type ChunkSet = (typeof CHUNK_SETS)[number]

/** What the main entry holds when the bundle is split: chunks live under `<key>#<set><n>`, n = 1..count. */
export interface ChunkHeader {
  chunked: 1
  count: number
  set: ChunkSet
  sha256: string
}


function chunkAccount(accountKey: string, set: ChunkSet, index: number): string {
  return `${accountKey}#${set}${index}`
}

/** The header when `value` is one, undefined when it is not, 'invalid' when it claims to be one but is not. */
export function chunkHeader(value: unknown): ChunkHeader | 'invalid' | undefined {
  if (typeof value !== 'object' || value === null || !('chunked' in value)) return undefined
  const {chunked, count, set, sha256: hash} = value as Record<string, unknown>
  if (chunked !== 1) return 'invalid'
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1 || count > 10_000) return 'invalid'
  if (set !== 'a' && set !== 'b') return 'invalid'
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) return 'invalid'
  return {chunked: 1, count, set, sha256: hash}
}

export async function readChunks(keychain: Keychain, accountKey: string, header: ChunkHeader): Promise<{ok: true; text: string} | {ok: false; problem: string}> {
  const parts: string[] = []
  for (let index = 1; index <= header.count; index++) {
    const part = await keychain.get(chunkAccount(accountKey, header.set, index))
    if (part === null) return {ok: false, problem: `part ${index} is missing`}
    parts.push(part)
  }
  const text = parts.join('')
  if (sha256Hex(text) !== header.sha256) return {ok: false, problem: 'the parts do not add up to what was saved (checksum mismatch)'}
  return {ok: true, text}
}

async function currentChunkSet(keychain: Keychain, accountKey: string): Promise<ChunkSet | undefined> {
  const main = await keychain.get(accountKey)
  if (main === null) return undefined
  try {
    const header = chunkHeader(JSON.parse(main))
    return typeof header === 'object' ? header.set : undefined
  } catch {
    return undefined
  }
}

/**
 * Remove the chunks of both sets above `keep[set]`. Chunks are written bottom-up and removed
 * top-down, so the chunks present always form a run 1..n: probe upward to find its top, then delete
 * downward. Returns how many were removed.
 */
export async function removeChunks(keychain: Keychain, accountKey: string, keep: Record<ChunkSet, number>): Promise<number> {
  let removed = 0
  for (const set of CHUNK_SETS) {
    let top = keep[set]
    while ((await keychain.get(chunkAccount(accountKey, set, top + 1))) !== null) top++
    for (let index = top; index > keep[set]; index--) {
      if (await keychain.delete(chunkAccount(accountKey, set, index))) removed++
    }
  }
  return removed
}

/** Split text into parts of at most `maxBytes` UTF-8 bytes each, never inside a character. */
export function splitUtf8(text: string, maxBytes: number): string[] {
  const parts: string[] = []
  let current = ''
  let bytes = 0
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8')
    if (bytes + size > maxBytes && current !== '') {
      parts.push(current)
      current = ''
      bytes = 0
    }
    current += char
    bytes += size
  }
  if (current !== '') parts.push(current)
  return parts
}

/**
 * Store `text` split into parts of at most `maxBytes`: the new parts go under the chunk set the
 * current header does not use, then the header (the one write that switches), then the old set is
 * removed. Interrupted anywhere, the previous login stays whole and readable until the new one is.
 */
export async function writeChunked(keychain: Keychain, accountKey: string, text: string, maxBytes: number): Promise<void> {
  const current = await currentChunkSet(keychain, accountKey)
  const set: ChunkSet = current === 'a' ? 'b' : 'a'
  const chunks = splitUtf8(text, maxBytes)
  for (const [index, chunk] of chunks.entries()) await keychain.set(chunkAccount(accountKey, set, index + 1), chunk)
  const header: ChunkHeader = {chunked: 1, count: chunks.length, set, sha256: sha256Hex(text)}
  await keychain.set(accountKey, JSON.stringify(header))
  await removeChunks(keychain, accountKey, set === 'a' ? {a: chunks.length, b: 0} : {a: 0, b: chunks.length})
}
