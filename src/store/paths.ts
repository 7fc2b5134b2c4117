import {join} from 'node:path'

/** Where the plugin keeps its state inside the host's data dir (honours `ACME_DATA_DIR`). */
export interface StorePaths {
  dir: string
  /** Metadata only, no secrets: what the hooks read on every command. */
  index: string
  /** Secrets of the `file` backend. */
  credentials: string
  /** One lock file per account (DESIGN.md, Lifecycle step 2); never the data file itself. */
  locks: string
  /** Issuers' discovery documents, kept for a day at most (store/metadata-cache.ts). */
  issuers: string
}

export function storePaths(dataDir: string): StorePaths {
  const dir = join(dataDir, 'auth')
  return {
    dir,
    index: join(dir, 'accounts.json'),
    credentials: join(dir, 'credentials.json'),
    locks: join(dir, 'locks'),
    issuers: join(dir, 'issuers'),
  }
}

