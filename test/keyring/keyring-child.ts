// Run by keyring-store.test.ts in a child process, so each case gets its own environment (no D-Bus,
// a locked keychain in a session of its own, …): `node --import tsx keyring-child.ts <mode>`.
// Prints one JSON line: what the probe and the store said, how long each took, and whether the native
// binding was loaded (read from /proc/self/maps, the one place that cannot be fooled by caching).

import {readFileSync} from 'node:fs'

import {AuthError} from '../../src/errors.js'
import {KeyringCredentialStore, probeKeyring} from '../../src/store/keyring-store.js'
import {inAcmeWords} from '../helpers/errors.js'

const service = process.env.KEYRING_TEST_SERVICE ?? 'acme-auth-child'
const timeoutMs = Number(process.env.KEYRING_TEST_TIMEOUT_MS ?? 3000)
const key = 'https://id.example.com|acme-cli|child'
const secrets = {accessToken: 'at-child-secret-5f4e3d', tokenType: 'Bearer'}

function nativeLoaded(): boolean {
  return /keyring\.[\w-]+\.node/.test(readFileSync('/proc/self/maps', 'utf8'))
}

async function attempt<T>(run: () => Promise<T>): Promise<{ms: number; value?: T; code?: string; message?: string}> {
  const started = performance.now()
  try {
    const value = await run()
    return {ms: performance.now() - started, value}
  } catch (error) {
    const ms = performance.now() - started
    if (error instanceof AuthError) return {ms, code: error.code, message: inAcmeWords(error).userMessage}
    return {ms, code: 'THROWN', message: String(error)}
  }
}

const store = new KeyringCredentialStore({service, timeoutMs})
const result: Record<string, unknown> = {loadedAtStart: nativeLoaded()}
const mode = process.argv[2]
if (mode === 'write') {
  result.set = await attempt(() => store.set(key, secrets))
} else {
  result.probe = await attempt(() => probeKeyring({service, timeoutMs}))
  result.get = await attempt(async () => ((await store.get(key)) === undefined ? 'none' : 'found'))
  result.set = await attempt(() => store.set(key, secrets))
}
result.loadedAtEnd = nativeLoaded()
process.stdout.write(`${JSON.stringify(result)}\n`)
