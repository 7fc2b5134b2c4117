// Property tests (fast-check): whatever a user types or a disk holds, the answer is a typed,
// one-line error or a working value — never a crash, and never lost bytes.
import {Parser} from '@oclif/core'
import {expect} from 'chai'
import fc from 'fast-check'
import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import Login from '../../src/commands/auth/login.js'
import {AuthError} from '../../src/errors.js'
import {jsonTerminalSafe} from '../../src/safe-text.js'
import {readIndex} from '../../src/store/account-index.js'
import {FileCredentialStore} from '../../src/store/file-store.js'
import {resolveSettings, type SettingsLayer} from '../../src/settings/resolve.js'
import type {SettingKey} from '../../src/settings/settings.js'

const KEYS: SettingKey[] = ['issuer', 'clientId', 'scopes', 'storage', 'requireAuth', 'refreshAhead', 'refreshAheadWindowSeconds', 'loginTimeoutSeconds', 'requestTimeoutSeconds', 'allowInsecureIssuer', 'keyringTimeoutSeconds', 'keyringEntryLimit', 'account']

const anyValue = fc.oneof(
  fc.string(),
  fc.webUrl(),
  fc.constantFrom('file', 'keyring', 'auto', 'memory', 'exec:', 'exec:helper', 'http://127.0.0.1:1', 'http://id.example.com', 'openid profile'),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), {maxLength: 4}),
  fc.dictionary(fc.string(), fc.string(), {maxKeys: 3}),
)

function expectOneLineConfigError(error: unknown): void {
  expect(error).to.be.instanceOf(AuthError)
  const authError = error as AuthError
  expect(authError.code).to.equal('CONFIG_INVALID')
  expect(authError.exitCode).to.equal(2)
  expect(authError.message).to.not.match(/[\r\n]/)
}

describe('fuzz: settings and flags', () => {
  it('any values in any layer resolve to valid settings or one CONFIG_INVALID line naming where', () => {
    const layer = (kind: SettingsLayer['kind']) =>
      fc.dictionary(fc.constantFrom(...KEYS), anyValue, {maxKeys: 5}).map((values) => ({kind, values, describe: (key: SettingKey) => `${kind}:${key}`}))
    fc.assert(
      fc.property(fc.tuple(layer('flag'), layer('env'), layer('user-file'), layer('host')), (layers) => {
        try {
          const settings = resolveSettings(layers)
          expect(settings.scopes).to.be.an('array').that.is.not.empty
          if (settings.issuer) expect(() => new URL(settings.issuer!)).to.not.throw()
        } catch (error) {
          expectOneLineConfigError(error)
          expect((error as AuthError).message).to.match(/(flag|env|user-file|host):\w+/)
        }
      }),
      {numRuns: 500},
    )
  })

  it('any argv for `auth login` parses or is a usage error; parsed flags resolve or fail with a clear line', async () => {
    const token = fc.oneof(
      fc.constantFrom('--issuer', '--client-id', '--scopes', '--storage', '--device', '--with-token', '--json', '--', '-h', '--bogus'),
      fc.string({maxLength: 30}),
      fc.webUrl(),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(token, {maxLength: 6}), async (argv) => {
        let flags: Record<string, unknown>
        try {
          ;({flags} = await Parser.parse(argv, {flags: Login.flags, args: Login.args, strict: true}))
        } catch (error) {
          // oclif's own usage errors: a message, and never a crash of another kind.
          expect((error as Error).message, String(error)).to.be.a('string').and.not.equal('')
          return
        }
        try {
          resolveSettings([{kind: 'flag', values: {issuer: flags.issuer, clientId: flags['client-id'], scopes: flags.scopes, storage: flags.storage}, describe: (key) => `--${key}`}])
        } catch (error) {
          expectOneLineConfigError(error)
        }
      }),
      {numRuns: 300},
    )
  })
})

describe('property: stored-file parsers never crash and never lose bytes', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fuzz-store-'))
  })
  afterEach(() => rm(dir, {recursive: true, force: true}))

  const validCredentials = JSON.stringify({version: 1, accounts: {a: {accessToken: 'x', tokenType: 'Bearer', refreshToken: 'r', expiresAt: '2030-01-01T00:00:00.000Z'}}}, null, 2)
  const validIndex = JSON.stringify({version: 1, gen: 2, defaultAccount: 'i|c|s', accounts: [{key: 'i|c|s', issuer: 'i', clientId: 'c', subject: 's', scopes: [], expiresAt: null, hasRefreshToken: false, storage: 'file', updatedAt: '2030-01-01T00:00:00.000Z'}], tombstones: {}}, null, 2)

  // Random bytes, truncations of a valid file, and valid files with one byte changed.
  const damaged = (valid: string) =>
    fc.oneof(
      fc.uint8Array({maxLength: 200}).map((bytes) => Buffer.from(bytes)),
      fc.nat({max: valid.length}).map((cut) => Buffer.from(valid.slice(0, cut))),
      fc.tuple(fc.nat({max: valid.length - 1}), fc.integer({min: 0, max: 255})).map(([at, byte]) => {
        const bytes = Buffer.from(valid)
        bytes[at] = byte
        return bytes
      }),
    )

  async function check(path: string, bytes: Buffer, read: () => Promise<unknown>): Promise<void> {
    await writeFile(path, bytes)
    try {
      await read()
    } catch (error) {
      expect(error, String(error)).to.be.instanceOf(AuthError)
      // Damaged, or (one byte turned "1" into "7") a format from a newer version, left untouched.
      expect((error as AuthError).code).to.be.oneOf(['STORE_CORRUPT', 'STORE_UNAVAILABLE'])
      expect((error as AuthError).message).to.not.match(/[\r\n]/)
    }
    // Never data loss: the bytes are where they were, or kept aside in exactly one copy.
    const names = await readdir(dir)
    const copies = await Promise.all(names.map((name) => readFile(join(dir, name))))
    expect(copies.some((copy) => copy.equals(bytes)), 'the original bytes still exist').to.equal(true)
    await rm(dir, {recursive: true, force: true})
    dir = await mkdtemp(join(tmpdir(), 'fuzz-store-'))
  }

  it('credentials.json', async () => {
    await fc.assert(
      fc.asyncProperty(damaged(validCredentials), async (bytes) => {
        const path = join(dir, 'credentials.json')
        await check(path, bytes, () => new FileCredentialStore(path).get('a'))
      }),
      {numRuns: 200},
    )
  })

  it('accounts.json (the index)', async () => {
    await fc.assert(
      fc.asyncProperty(damaged(validIndex), async (bytes) => {
        const path = join(dir, 'accounts.json')
        await check(path, bytes, () => readIndex(path, 'damaged-index-moved'))
      }),
      {numRuns: 200},
    )
  })
})

describe('property: --json output is terminal-safe and means the same', () => {
  it('jsonTerminalSafe(JSON.stringify(v)) parses back to v, with no raw control, C1 or bidi character', () => {
    // Strings drawn from every plane, with the characters a hostile issuer would put in a claim.
    const hostile = fc.constantFrom('\u001B', '\u0007', '\r', '\u007F', '\u0085', '\u009B', '\u061C', '\u200E', '\u202E', '\u2028', '\u2066', '\u2069', '\\', '"', 'é')
    const text = fc.array(fc.oneof(fc.string({unit: 'binary'}), hostile), {maxLength: 8}).map((parts) => parts.join(''))
    const value = fc.oneof(text, fc.dictionary(text, fc.oneof(text, fc.array(text, {maxLength: 3})), {maxKeys: 4}))
    fc.assert(
      fc.property(value, (v) => {
        const json = jsonTerminalSafe(JSON.stringify(v, null, 2))
        expect(JSON.parse(json)).to.deep.equal(v)
        // eslint-disable-next-line no-control-regex
        expect(json).to.not.match(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/)
      }),
      {numRuns: 500},
    )
  })
})
