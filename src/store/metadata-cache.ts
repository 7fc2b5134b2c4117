import {rm} from 'node:fs/promises'
import {join} from 'node:path'

import {readPrivateFile} from '../private-files.js'

import {writeFileAtomic} from './atomic-file.js'
import {sha256Hex} from './hash.js'
import type {StorePaths} from './paths.js'

/** An issuer's metadata, as discovery returned it (no secrets: the issuer publishes it to anyone). */
export type IssuerMetadata = {issuer: string; token_endpoint?: string} & Record<string, unknown>

interface CacheFile {
  version: 1
  issuer: string
  expiresAt: string
  metadata: IssuerMetadata
}

/** A document the issuer does not have, and until when that is believed. */
interface AbsenceFile {
  version: 1
  issuer: string
  document: 'rfc8414'
  expiresAt: string
}

const NO_RFC8414 = '.no-rfc8414'

/**
 * Discovery documents kept between commands, one small file per issuer in `<dataDir>/auth/issuers`,
 * for as long as the issuer's Cache-Control allows and a day at most: a refresh is then one round
 * trip, not two. A cache is never the only copy of anything: a file that does not read back as ours
 * is a miss, and is replaced.
 */
export class MetadataCache {
  constructor(
    private readonly paths: StorePaths,
    private readonly now: () => number = Date.now,
  ) {}

  async read(issuer: string): Promise<IssuerMetadata | undefined> {
    let file: CacheFile
    try {
      file = JSON.parse((await readPrivateFile(this.pathOf(issuer))) ?? 'null') as CacheFile
    } catch {
      return undefined
    }
    const fresh = file?.version === 1 && file.issuer === issuer && Date.parse(file.expiresAt) > this.now()
    const metadata = file?.metadata
    if (!fresh || typeof metadata !== 'object' || metadata === null || metadata.issuer !== issuer || typeof metadata.token_endpoint !== 'string') return undefined
    return metadata
  }

  async write(issuer: string, metadata: IssuerMetadata, maxAgeSeconds: number): Promise<void> {
    const file: CacheFile = {version: 1, issuer, expiresAt: new Date(this.now() + maxAgeSeconds * 1000).toISOString(), metadata}
    await writeFileAtomic(this.pathOf(issuer), `${JSON.stringify(file)}\n`)
  }

  async forget(issuer: string): Promise<void> {
    await rm(this.pathOf(issuer), {force: true})
    await rm(this.pathOf(issuer, NO_RFC8414), {force: true})
  }

  /** Whether the issuer answered lately that it has no RFC 8414 document: kept apart from its metadata, which may not be kept at all. */
  async lacksRfc8414(issuer: string): Promise<boolean> {
    try {
      const file = JSON.parse((await readPrivateFile(this.pathOf(issuer, NO_RFC8414))) ?? 'null') as Partial<AbsenceFile> | null
      return file?.version === 1 && file.issuer === issuer && file.document === 'rfc8414' && Date.parse(file.expiresAt ?? '') > this.now()
    } catch {
      return false
    }
  }

  async rememberLacksRfc8414(issuer: string, seconds: number): Promise<void> {
    const file: AbsenceFile = {version: 1, issuer, document: 'rfc8414', expiresAt: new Date(this.now() + seconds * 1000).toISOString()}
    await writeFileAtomic(this.pathOf(issuer, NO_RFC8414), `${JSON.stringify(file)}\n`)
  }

  private pathOf(issuer: string, suffix = ''): string {
    return join(this.paths.issuers, `${sha256Hex(issuer).slice(0, 32)}${suffix}.json`)
  }
}
