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
  }

  private pathOf(issuer: string): string {
    return join(this.paths.issuers, `${sha256Hex(issuer).slice(0, 32)}.json`)
  }
}
