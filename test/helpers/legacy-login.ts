// The login a host's earlier code kept, as examples/acme's legacy `<configDir>/config.json` holds it
// (the Astro CLI's field names), made from a real sign-in: the tokens the store holds after
// `acme auth login` are copied into the file and the store is removed, as if acme had never had the
// plugin. The file holds more than the tokens, which adoption must keep.
import {readFile, rm, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {onlyStoredSecrets, type TempHome} from './acme.js'

export interface LegacyTokens {
  token?: string
  refreshtoken?: string
}

/** What acme's old config.json holds besides the tokens of its current context. */
export const KEPT_SETTINGS = {
  context: 'work',
  contexts: {
    work: {domain: 'acme.example', workspace: 'ws-1'},
    play: {domain: 'play.example', token: 'not-the-current-context'},
  },
  telemetry: false,
}

export function legacyFile(home: TempHome): string {
  return join(home.configDir, 'config.json')
}

/** Write acme's old config.json with these tokens in the current context ("work"). */
export async function writeLegacyFile(home: TempHome, tokens: LegacyTokens): Promise<void> {
  const settings = structuredClone(KEPT_SETTINGS) as typeof KEPT_SETTINGS & {contexts: {work: Record<string, string>}}
  Object.assign(settings.contexts.work, tokens)
  await writeFile(legacyFile(home), `${JSON.stringify(settings, null, 2)}\n`, {mode: 0o600})
}

export async function readLegacyFile(home: TempHome): Promise<typeof KEPT_SETTINGS & {contexts: {work: Record<string, string>}}> {
  return JSON.parse(await readFile(legacyFile(home), 'utf8'))
}

/**
 * Turn a home signed in with the file store into one whose only login is in the legacy file:
 * the stored tokens move into config.json ("Bearer "-prefixed, as the Astro CLI keeps them) and the
 * plugin's store is removed. Returns the tokens.
 */
export async function moveLoginToLegacyFile(home: TempHome, options: {accessTokenOnly?: boolean} = {}): Promise<{accessToken: string; refreshToken: string}> {
  const secrets = await onlyStoredSecrets(home)
  await writeLegacyFile(home, options.accessTokenOnly ? {token: `Bearer ${secrets.accessToken}`} : {token: `Bearer ${secrets.accessToken}`, refreshtoken: secrets.refreshToken})
  await rm(home.authDir, {recursive: true, force: true})
  return {accessToken: secrets.accessToken, refreshToken: secrets.refreshToken!}
}

/** The index as stored, or undefined before anything was written. */
export async function readIndexFile(home: TempHome): Promise<{adoption?: {state: string}; accounts: Array<{key: string; storage: string}>} | undefined> {
  const text = await readFile(join(home.authDir, 'accounts.json'), 'utf8').catch(() => undefined)
  return text === undefined ? undefined : JSON.parse(text)
}
