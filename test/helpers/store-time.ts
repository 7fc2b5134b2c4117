// Move a stored login's expiry, as if time had passed: the CLI then behaves as it would minutes or
// hours later, without a test that sleeps.
import {readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import type {TempHome} from './acme.js'

/**
 * Make every stored access token expire `seconds` from now (negative: already expired), as if the
 * clock had moved on: the time it was obtained moves with it, so its lifetime stays what it was.
 */
export async function expireIn(home: TempHome, seconds: number): Promise<void> {
  const expiresAt = Date.now() + seconds * 1000
  const credentialsPath = join(home.authDir, 'credentials.json')
  const credentials = JSON.parse(await readFile(credentialsPath, 'utf8'))
  for (const entry of Object.values<{expiresAt?: string; obtainedAt?: string}>(credentials.accounts)) {
    // Its lifetime stays what it was: it counts as due as early as it would have.
    if (entry.obtainedAt && entry.expiresAt) entry.obtainedAt = new Date(Date.parse(entry.obtainedAt) + expiresAt - Date.parse(entry.expiresAt)).toISOString()
    entry.expiresAt = new Date(expiresAt).toISOString()
  }
  await writeFile(credentialsPath, JSON.stringify(credentials))
  const indexPath = join(home.authDir, 'accounts.json')
  const index = JSON.parse(await readFile(indexPath, 'utf8'))
  for (const account of index.accounts) {
    const shift = expiresAt - Date.parse(account.expiresAt)
    account.expiresAt = new Date(expiresAt).toISOString()
    account.updatedAt = new Date(Date.parse(account.updatedAt) + shift).toISOString()
  }
  await writeFile(indexPath, JSON.stringify(index))
}

/** Replace the stored access token (the refresh token stays), e.g. with one the API rejects. */
export async function replaceAccessToken(home: TempHome, accessToken: string): Promise<void> {
  const path = join(home.authDir, 'credentials.json')
  const credentials = JSON.parse(await readFile(path, 'utf8'))
  for (const entry of Object.values<{accessToken: string}>(credentials.accounts)) entry.accessToken = accessToken
  await writeFile(path, JSON.stringify(credentials))
}
