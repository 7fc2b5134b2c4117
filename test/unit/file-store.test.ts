// Unit tests for the file credential store, the metadata index, the account store and atomic
// writes: round trips, permissions whatever the umask, atomicity, and corrupt files that are kept
// aside and reported (never silently deleted).

import {expect} from 'chai'
import {chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {basename, dirname, join, resolve} from 'node:path'
import {pathToFileURL} from 'node:url'
import {execFile} from 'node:child_process'
import {promisify} from 'node:util'

import {AuthError} from '../../src/errors.js'
import {
  accountKey,
  describeAccount,
  emptyIndex,
  parseIndex,
  pickAccount,
  readIndex,
  writeIndex,
  type AccountIndex,
  type AccountRecord,
} from '../../src/store/account-index.js'
import {AccountStore, hashToken} from '../../src/store/account-store.js'
import {ensurePrivateDir} from '../../src/private-files.js'
import {moveAside, readTextIfExists, writeFileAtomic} from '../../src/store/atomic-file.js'
import type {Secrets} from '../../src/store/secrets.js'
import {FileCredentialStore} from '../../src/store/file-store.js'
import {ShapeError} from '../../src/store/stored-json.js'
import {authErrorFrom, inAcmeWords} from '../helpers/errors.js'

// ---------------------------------------------------------------------------------------------
// helpers

/** The store's 'sign-in-again' in the example host's words. */
const NEXT_STEP = 'Run `acme auth login` to sign in again.'
const ISSUER = 'https://id.example.com'
const CLIENT = 'acme-cli'

function secrets(n = 1, extra: Partial<Secrets> = {}): Secrets {
  return {
    accessToken: `access-token-${n}`,
    tokenType: 'Bearer',
    refreshToken: `refresh-token-${n}`,
    idToken: `id-token-${n}`,
    expiresAt: '2030-01-01T00:00:00.000Z',
    ...extra,
  }
}

const execFileAsync = promisify(execFile)

function record(subject: string, extra: Partial<AccountRecord> = {}): AccountRecord {
  return {
    key: accountKey(ISSUER, CLIENT, subject),
    issuer: ISSUER,
    clientId: CLIENT,
    subject,
    name: `Name ${subject}`,
    email: `${subject}@example.com`,
    scopes: ['openid', 'offline_access'],
    expiresAt: '2030-01-01T00:00:00.000Z',
    hasRefreshToken: true,
    storage: 'file',
    updatedAt: '2029-12-31T00:00:00.000Z',
    ...extra,
  }
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

/** Every file below `dir`, relative, recursively. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, {recursive: true, withFileTypes: true})
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? (e as unknown as {path: string}).path, e.name))
}

async function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(mask)
  try {
    return await fn()
  } finally {
    process.umask(previous)
  }
}

async function expectCorrupt(path: string, originalBytes: string, fn: () => unknown): Promise<AuthError> {
  const error = await authErrorFrom(fn)
  expect(error.code).to.equal('STORE_CORRUPT')
  expect(error.exitCode).to.equal(1)
  expect(error.message).to.include(path)
  expect(error.message, 'one line, no stack').to.not.match(/[\r\n]/)
  expect(error.message).to.not.match(/\n\s+at /)
  expect(inAcmeWords(error).suggestion).to.be.a('string').and.not.equal('')
  // The damaged bytes are kept next to the file, never deleted.
  const siblings = await readdir(dirname(path))
  const kept = siblings.filter((name) => name.startsWith(`${basename(path)}.corrupt-`))
  expect(kept, `a ${basename(path)}.corrupt-* file next to it`).to.have.length(1)
  expect(await readFile(join(dirname(path), kept[0]), 'utf8')).to.equal(originalBytes)
  expect(error.message, 'message says where the bytes went').to.include(kept[0])
  return error
}

const CORRUPT_CREDENTIALS: Record<string, string> = {
  truncated: '{\n  "version": 1,\n  "accounts": {\n    "a": {"accessToken": "abc", "tok',
  garbage: '\u0000\u0001\u0002 not json at all \u00ff',
  empty: '',
  'JSON null': 'null',
  'JSON list': '[]',
  'version 0': JSON.stringify({version: 0, accounts: {}}),
  'version as text': JSON.stringify({version: '1', accounts: {}}),
  'missing version': JSON.stringify({accounts: {}}),
  'accounts is a list': JSON.stringify({version: 1, accounts: []}),
  'accounts missing': JSON.stringify({version: 1}),
}

/** One damaged entry beside a good one: only that account is affected, and nothing is moved or lost. */
const DAMAGED_ENTRIES: Record<string, unknown> = {
  'accessToken is a number': {accessToken: 42, tokenType: 'Bearer'},
  'tokenType missing': {accessToken: 'abc'},
  'refreshToken is an object': {accessToken: 'abc', tokenType: 'Bearer', refreshToken: {}},
  'expiresAt not a date': {accessToken: 'abc', tokenType: 'Bearer', expiresAt: 'tomorrow'},
  'account entry is a string': 'abc',
}

function validIndex(): AccountIndex {
  const a = record('alice')
  return {version: 1, gen: 3, defaultAccount: a.key, accounts: [a], tombstones: {}, refreshFailures: {}}
}

function mutate(fn: (data: Record<string, any>) => void): string {
  const data = JSON.parse(JSON.stringify(validIndex()))
  fn(data)
  return JSON.stringify(data)
}

const CORRUPT_INDEXES: Record<string, string> = {
  truncated: JSON.stringify(validIndex()).slice(0, 60),
  garbage: 'accounts: alice\n',
  empty: '',
  'JSON number': '3',
  'version 0': mutate((d) => (d.version = 0)),
  'gen is a string': mutate((d) => (d.gen = '3')),
  'gen is negative': mutate((d) => (d.gen = -1)),
  'gen is fractional': mutate((d) => (d.gen = 1.5)),
  'gen missing': mutate((d) => delete d.gen),
  'accounts is an object': mutate((d) => (d.accounts = {})),
  'defaultAccount is a number': mutate((d) => (d.defaultAccount = 7)),
  'defaultAccount missing': mutate((d) => delete d.defaultAccount),
  'account issuer missing': mutate((d) => delete d.accounts[0].issuer),
  'account key does not match': mutate((d) => (d.accounts[0].key = 'someone-else')),
  'account scopes is a string': mutate((d) => (d.accounts[0].scopes = 'openid')),
  'account hasRefreshToken is a string': mutate((d) => (d.accounts[0].hasRefreshToken = 'yes')),
  'account expiresAt not a date': mutate((d) => (d.accounts[0].expiresAt = 'soon')),
  'account expiresAt missing': mutate((d) => delete d.accounts[0].expiresAt),
  'account updatedAt missing': mutate((d) => delete d.accounts[0].updatedAt),
  'account name is a number': mutate((d) => (d.accounts[0].name = 5)),
  'tombstones is a list': mutate((d) => (d.tombstones = [])),
  'tombstone until not a date': mutate((d) => (d.tombstones.k = {refreshTokenHash: 'h', until: 'later'})),
  'tombstone hash missing': mutate((d) => (d.tombstones.k = {until: '2030-01-01T00:00:00Z'})),
}

// ---------------------------------------------------------------------------------------------

describe('store', () => {
  let dir: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plugin-auth-store-'))
  })

  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  // -------------------------------------------------------------------------------------------
  describe('atomic-file', () => {
    it('writeFileAtomic creates missing folders and round-trips', async () => {
      const path = join(dir, 'a', 'b', 'file.json')
      await writeFileAtomic(path, 'hello\n')
      expect(await readFile(path, 'utf8')).to.equal('hello\n')
      await writeFileAtomic(path, 'again')
      expect(await readFile(path, 'utf8')).to.equal('again')
      expect(await readdir(dirname(path))).to.deep.equal(['file.json'])
    })

    it('file 0600 and folder 0700 even with umask 000', async () => {
      const path = join(dir, 'auth', 'x.json')
      await withUmask(0o000, () => writeFileAtomic(path, 'x'))
      expect(await mode(path)).to.equal(0o600)
      expect(await mode(dirname(path))).to.equal(0o700)
    })

    it('tightens an existing 0755 folder and an existing 0644 file', async () => {
      const folder = join(dir, 'auth')
      await mkdir(folder, {mode: 0o755})
      await chmod(folder, 0o755)
      const path = join(folder, 'x.json')
      await writeFile(path, 'old')
      await chmod(path, 0o644)
      await withUmask(0o000, () => writeFileAtomic(path, 'new'))
      expect(await mode(path)).to.equal(0o600)
      expect(await mode(folder)).to.equal(0o700)
    })

    it('ensurePrivateDir makes a 0700 folder whatever the umask', async () => {
      const folder = join(dir, 'p', 'q')
      await withUmask(0o000, () => ensurePrivateDir(folder))
      expect(await mode(folder)).to.equal(0o700)
    })

    it('leaves no temp file behind, also when the rename fails', async () => {
      const path = join(dir, 'auth', 'x.json')
      await writeFileAtomic(path, 'one')
      await writeFileAtomic(path, 'two')
      expect(await readdir(join(dir, 'auth'))).to.deep.equal(['x.json'])

      // A folder where the file should go: the rename fails, and the temp file must be cleaned up.
      const blocked = join(dir, 'auth', 'blocked')
      await mkdir(join(blocked, 'inside'), {recursive: true})
      let failed = false
      try {
        await writeFileAtomic(blocked, 'data')
      } catch {
        failed = true
      }
      expect(failed).to.equal(true)
      expect((await readdir(join(dir, 'auth'))).sort()).to.deep.equal(['blocked', 'x.json'])
    })

    it('concurrent readers only ever see a whole old or whole new file', async () => {
      const path = join(dir, 'auth', 'big.json')
      const versions = ['a', 'b', 'c', 'd'].map((c) => c.repeat(256 * 1024))
      await writeFileAtomic(path, versions[0])
      let stop = false
      const seen = new Set<string>()
      const reader = (async () => {
        while (!stop) {
          const text = await readFile(path, 'utf8')
          seen.add(versions.includes(text) ? text[0] : `partial:${text.length}`)
        }
      })()
      for (let i = 0; i < 12; i++) await writeFileAtomic(path, versions[i % versions.length])
      stop = true
      await reader
      for (const value of seen) expect(value).to.not.match(/^partial/)
      expect((await readdir(join(dir, 'auth'))).filter((n) => n.endsWith('.tmp'))).to.deep.equal([])
    })

    it('readTextIfExists: undefined for a missing file, throws for other failures', async () => {
      expect(await readTextIfExists(join(dir, 'missing.json'))).to.equal(undefined)
      await writeFile(join(dir, 'f'), 'text')
      expect(await readTextIfExists(join(dir, 'f'))).to.equal('text')
      const error = await authErrorFrom(() => readTextIfExists(dir))
      expect(error.code).to.equal('STORE_UNAVAILABLE')
      expect(error.message).to.include('is not a regular file')
    })

    it('moveAside keeps the bytes in <file>.corrupt-<time>-<pid>', async () => {
      const path = join(dir, 'f.json')
      await writeFile(path, 'damaged')
      const target = await moveAside(path, new Date('2030-01-02T03:04:05.678Z'))
      // The pid keeps two processes that judge the same file in the same millisecond apart.
      expect(target).to.equal(`${path}.corrupt-2030-01-02T03-04-05.678Z-${process.pid}`)
      expect(await readFile(target, 'utf8')).to.equal('damaged')
      expect(await exists(path)).to.equal(false)
    })
  })

  // -------------------------------------------------------------------------------------------
  describe('FileCredentialStore', () => {
    let path: string
    let store: FileCredentialStore

    beforeEach(() => {
      path = join(dir, 'auth', 'credentials.json')
      store = new FileCredentialStore(path)
    })

    it('a missing file reads as empty and is not created by reading or deleting', async () => {
      expect(await store.get('k')).to.equal(undefined)
      expect(await store.delete('k')).to.equal(false)
      expect(await exists(path)).to.equal(false)
    })

    it('kind and location', () => {
      expect(store.kind).to.equal('file')
      expect(store.location).to.equal(path)
    })

    it('round-trips several accounts, and deletes one', async () => {
      await store.set('a', secrets(1))
      await store.set('b', secrets(2, {refreshToken: undefined, idToken: undefined, expiresAt: undefined}))
      expect(await store.get('a')).to.deep.equal(secrets(1))
      expect(await store.get('b')).to.deep.equal({accessToken: 'access-token-2', tokenType: 'Bearer'})
      expect(await store.delete('a')).to.equal(true)
      expect(await store.get('a')).to.equal(undefined)
      expect(await store.get('b')).to.deep.equal({accessToken: 'access-token-2', tokenType: 'Bearer'})
      expect(await store.delete('a')).to.equal(false)
    })

    it('a new instance reads what another wrote (it is on disk)', async () => {
      await store.set('a', secrets(1))
      expect(await new FileCredentialStore(path).get('a')).to.deep.equal(secrets(1))
      const onDisk = JSON.parse(await readFile(path, 'utf8'))
      expect(onDisk.version).to.equal(1)
      expect(onDisk.accounts.a.accessToken).to.equal('access-token-1')
    })

    it('stores the fields of a login and nothing else a caller\'s object carries', async () => {
      await store.set('a', {...secrets(1), profile: {name: 'Alice'}, password: 'hunter2'} as unknown as Secrets)
      const onDisk = JSON.parse(await readFile(path, 'utf8'))
      expect(onDisk.accounts.a).to.deep.equal(secrets(1))
      expect(Object.keys(onDisk.accounts.a)).to.deep.equal(Object.keys(secrets(1)))
    })

    it('overwrites an account on set', async () => {
      await store.set('a', secrets(1))
      await store.set('a', secrets(9))
      expect(await store.get('a')).to.deep.equal(secrets(9))
    })

    it('file 0600, folder 0700 with umask 000, and no temp files left', async () => {
      await withUmask(0o000, async () => {
        await store.set('a', secrets(1))
        await store.set('b', secrets(2))
        await store.delete('a')
      })
      expect(await mode(path)).to.equal(0o600)
      expect(await mode(dirname(path))).to.equal(0o700)
      expect(await readdir(dirname(path))).to.deep.equal(['credentials.json'])
    })

    for (const [name, bytes] of Object.entries(CORRUPT_CREDENTIALS)) {
      it(`a ${name} credentials.json is STORE_CORRUPT, kept aside, named in the message`, async () => {
        await mkdir(dirname(path), {recursive: true})
        await writeFile(path, bytes)
        const error = await expectCorrupt(path, bytes, () => store.get('k'))
        expect(error.next).to.equal('sign-in-again')
        expect(inAcmeWords(error).suggestion).to.equal(NEXT_STEP)
        expect(error.message, 'no token bytes in the message').to.not.include('abc')
      })
    }

    for (const [name, entry] of Object.entries(DAMAGED_ENTRIES)) {
      it(`an entry whose ${name} is STORE_CORRUPT for that account only; the others keep working and the bytes stay`, async () => {
        await mkdir(dirname(path), {recursive: true})
        const bytes = JSON.stringify({version: 1, accounts: {k: entry, good: secrets(1)}})
        await writeFile(path, bytes)
        const error = await authErrorFrom(() => store.get('k'))
        expect(error.code).to.equal('STORE_CORRUPT')
        expect(error.message).to.include(path).and.include('k')
        expect(error.message, 'no token bytes in the message').to.not.include('abc')
        expect(inAcmeWords(error).suggestion).to.equal(NEXT_STEP)
        expect(await store.get('good')).to.deep.equal(secrets(1))
        // Writing another account keeps the damaged entry as it was: only a new login replaces it.
        await store.set('other', secrets(2))
        const after = JSON.parse(await readFile(path, 'utf8'))
        expect(after.accounts.k).to.deep.equal(entry)
        expect(await readdir(dirname(path))).to.not.satisfy((names: string[]) => names.some((n) => n.includes('.corrupt-')))
      })
    }

    it('a write to a damaged file moves it aside, keeps its bytes, says so, and saves into a fresh file', async () => {
      const notices: string[] = []
      const noticing = new FileCredentialStore(path, (message) => notices.push(message))
      await mkdir(dirname(path), {recursive: true})
      await writeFile(path, '{"version":1,"accounts":{"a":')
      await noticing.set('a', secrets(1))
      expect(await noticing.get('a')).to.deep.equal(secrets(1))
      const kept = (await readdir(dirname(path))).filter((n) => n.startsWith('credentials.json.corrupt-'))
      expect(kept).to.have.length(1)
      expect(await readFile(join(dirname(path), kept[0]), 'utf8')).to.equal('{"version":1,"accounts":{"a":')
      expect(notices).to.have.length(1)
      expect(notices[0]).to.include(path).and.include(kept[0]).and.include('saved in a fresh file')
    })

    it('a damaged file that could not be moved aside is never overwritten: the write fails', async () => {
      // A folder its owner may read but not change: the damaged file cannot be moved aside. Root may
      // change any folder, so as root the write runs as another user (nobody), who owns the folder.
      const folder = await mkdtemp(join(tmpdir(), 'plugin-auth-readonly-'))
      const damaged = join(folder, 'auth', 'credentials.json')
      await mkdir(dirname(damaged), {recursive: true})
      await writeFile(damaged, 'garbage')
      const script = `
        import {FileCredentialStore} from ${JSON.stringify(pathToFileURL(resolve('src/store/file-store.ts')).href)}
        const store = new FileCredentialStore(process.argv[1], 'next step')
        try {
          await store.set('a', {accessToken: 'access-token-1', tokenType: 'Bearer'})
          console.log('written')
        } catch (error) {
          console.log(error.code)
        }`
      const asUser = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : []
      if (asUser.length) await execFileAsync('chown', ['-R', '65534:65534', folder])
      await chmod(dirname(damaged), 0o500)
      try {
        const [command, ...args] = [...asUser, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, damaged]
        const {stdout} = await execFileAsync(command, args, {cwd: process.cwd()})
        expect(stdout.trim()).to.equal('STORE_CORRUPT')
        expect(await readFile(damaged, 'utf8')).to.equal('garbage')
      } finally {
        await chmod(dirname(damaged), 0o700)
        await rm(folder, {recursive: true, force: true})
      }
    })
  })

  // -------------------------------------------------------------------------------------------
  describe('account index', () => {
    let path: string

    beforeEach(() => {
      path = join(dir, 'auth', 'accounts.json')
    })

    it('names a person by name and subject, a machine by its client', () => {
      expect(describeAccount(record('alice'))).to.equal(`Name alice (alice) at ${ISSUER}`)
      expect(describeAccount(record('alice', {name: undefined}))).to.equal(`alice at ${ISSUER}`)
      expect(describeAccount(record('svc-1234', {clientAuth: 'client_secret'}))).to.equal(`client '${CLIENT}' at ${ISSUER}`)
    })

    it('a missing index reads as empty', async () => {
      expect(await readIndex(path, 'damaged-index-moved')).to.deep.equal(emptyIndex())
      expect(emptyIndex()).to.deep.equal({version: 1, gen: 0, defaultAccount: null, accounts: [], tombstones: {}, refreshFailures: {}})
    })

    it('round-trips, 0600 in a 0700 folder under umask 000, no temp files', async () => {
      const index: AccountIndex = {
        version: 1,
        gen: 5,
        defaultAccount: record('bob').key,
        accounts: [record('alice'), record('bob', {expiresAt: null, hasRefreshToken: false, name: undefined, email: undefined})],
        tombstones: {[record('alice').key]: {refreshTokenHash: 'abc', until: '2030-01-01T00:00:00.000Z'}},
        refreshFailures: {[record('bob').key]: {since: '2029-12-31T00:00:00.000Z', until: '2030-01-01T00:00:00.000Z', failures: 2, reason: 'connection refused'}},
      }
      delete index.accounts[1].name
      delete index.accounts[1].email
      await withUmask(0o000, () => writeIndex(path, index))
      expect(await readIndex(path, 'damaged-index-moved')).to.deep.equal(index)
      expect(await mode(path)).to.equal(0o600)
      expect(await mode(dirname(path))).to.equal(0o700)
      expect(await readdir(dirname(path))).to.deep.equal(['accounts.json'])
    })

    it('parseIndex accepts a missing tombstones object and a null defaultAccount', () => {
      const data = JSON.parse(JSON.stringify(validIndex()))
      delete data.tombstones
      data.defaultAccount = null
      const parsed = parseIndex(data)
      expect(parsed.tombstones).to.deep.equal({})
      expect(parsed.defaultAccount).to.equal(null)
    })

    for (const [name, bytes] of Object.entries(CORRUPT_INDEXES)) {
      it(`a ${name} accounts.json is STORE_CORRUPT, kept aside, named in the message`, async () => {
        await mkdir(dirname(path), {recursive: true})
        await writeFile(path, bytes)
        const error = await expectCorrupt(path, bytes, () => readIndex(path, 'damaged-index-moved'))
        expect(error.next).to.equal('damaged-index-moved')
        expect(inAcmeWords(error).suggestion).to.equal(`${NEXT_STEP} (\`acme auth logout --all\` clears what is left.)`)
      })
    }

    it('parseIndex throws ShapeError (not a TypeError) for hand-edited shapes', () => {
      for (const [name, bytes] of Object.entries(CORRUPT_INDEXES)) {
        let data: unknown
        try {
          data = JSON.parse(bytes)
        } catch {
          continue
        }
        expect(() => parseIndex(data), name).to.throw(ShapeError)
      }
    })

    describe('pickAccount', () => {
      const alice = record('alice')
      const bob = record('bob')
      const index: AccountIndex = {version: 1, gen: 1, defaultAccount: bob.key, accounts: [alice, bob], tombstones: {}, refreshFailures: {}}

      it('the default account', () => {
        expect(pickAccount(index)).to.equal(bob)
      })

      it('the wanted account by key or by subject', () => {
        expect(pickAccount(index, alice.key)).to.equal(alice)
        expect(pickAccount(index, 'alice')).to.equal(alice)
        expect(pickAccount(index, 'carol')).to.equal(undefined)
      })

      it('falls back to the first account when the default is unset or gone', () => {
        expect(pickAccount({...index, defaultAccount: null})).to.equal(alice)
        expect(pickAccount({...index, defaultAccount: 'gone'})).to.equal(alice)
      })

      it('nothing in an empty index', () => {
        expect(pickAccount(emptyIndex())).to.equal(undefined)
        expect(pickAccount(emptyIndex(), 'alice')).to.equal(undefined)
      })
    })
  })

  // -------------------------------------------------------------------------------------------
  describe('AccountStore', () => {
    let store: AccountStore

    beforeEach(() => {
      store = new AccountStore({dataDir: dir, bin: 'acme', keyringTimeoutMs: 3000})
    })

    it('paths live in <dataDir>/auth', () => {
      expect(store.paths.dir).to.equal(join(dir, 'auth'))
      expect(store.paths.index).to.equal(join(dir, 'auth', 'accounts.json'))
      expect(store.paths.credentials).to.equal(join(dir, 'auth', 'credentials.json'))
    })

    it('saveLogin writes secrets and index; the first login becomes the default; gen counts writes', async () => {
      const alice = record('alice')
      await store.saveLogin(alice, secrets(1), {makeDefault: false})
      const index = await store.readIndex()
      expect(index.gen).to.equal(1)
      expect(index.defaultAccount).to.equal(alice.key)
      expect(index.accounts).to.deep.equal([alice])
      expect(await store.readSecrets(alice)).to.deep.equal(secrets(1))
    })

    it('a second login is default only with makeDefault', async () => {
      const alice = record('alice')
      const bob = record('bob')
      const carol = record('carol')
      await store.saveLogin(alice, secrets(1), {makeDefault: true})
      await store.saveLogin(bob, secrets(2), {makeDefault: false})
      expect((await store.readIndex()).defaultAccount).to.equal(alice.key)
      await store.saveLogin(carol, secrets(3), {makeDefault: true})
      const index = await store.readIndex()
      expect(index.defaultAccount).to.equal(carol.key)
      expect(index.gen).to.equal(3)
      expect(index.accounts.map((a) => a.subject)).to.have.members(['alice', 'bob', 'carol'])
      expect(await store.readSecrets(bob)).to.deep.equal(secrets(2))
    })

    it('logging in again replaces the account (no duplicates) and clears its tombstone', async () => {
      const alice = record('alice')
      await store.saveLogin(alice, secrets(1), {makeDefault: true})
      await store.tombstone(alice, 'refresh-token-1', new Date('2030-01-01T00:00:00Z'))
      const again = record('alice', {scopes: ['openid'], updatedAt: '2030-02-01T00:00:00.000Z'})
      await store.saveLogin(again, secrets(2), {makeDefault: false})
      const index = await store.readIndex()
      expect(index.accounts).to.deep.equal([again])
      expect(index.tombstones).to.deep.equal({})
      expect(index.gen).to.equal(3)
      expect(await store.readSecrets(again)).to.deep.equal(secrets(2))
    })

    it('a new login in another store removes the old copy; when that store does not answer, the copy is noted and removed later', async () => {
      // A helper that keeps entries in a file, and refuses to erase while `refuse-erase` exists.
      const vault = join(dir, 'vault.json')
      const refuse = join(dir, 'refuse-erase')
      const helper = join(dir, 'helper.mjs')
      await writeFile(helper, `import {existsSync} from 'node:fs'
if (process.argv[2] === 'erase' && existsSync(${JSON.stringify(refuse)})) { process.stderr.write('vault is sealed\\n'); process.exit(1) }
process.env.FILE_VAULT_PATH = ${JSON.stringify(vault)}
await import(${JSON.stringify(resolve('examples/credential-helper/file-vault.js'))})
`)
      const inHelper = record('alice', {storage: `exec:node ${helper}`})
      // Only a helper the settings name is ever run.
      store = new AccountStore({dataDir: dir, bin: 'acme', keyringTimeoutMs: 3000, configuredStorage: inHelper.storage})
      await store.saveLogin(inHelper, secrets(1), {makeDefault: true})
      await writeFile(refuse, '')
      const inFile = record('alice', {storage: 'file'})
      await store.saveLogin(inFile, secrets(2), {makeDefault: true})
      const [noted] = (await store.readIndex()).accounts
      expect(noted).to.include({storage: 'file', migratingFrom: inHelper.storage})
      expect(JSON.parse(await readFile(vault, 'utf8'))['acme-auth']).to.have.property(inHelper.key)
      expect(await store.readSecrets(noted)).to.deep.equal(secrets(2))

      await rm(refuse)
      const finished = await store.migrate(noted, 'file')
      expect(finished).to.not.have.property('migratingFrom')
      expect((await store.readIndex()).accounts).to.deep.equal([finished])
      expect(JSON.parse(await readFile(vault, 'utf8'))['acme-auth'] ?? {}).to.not.have.property(inHelper.key)
    })

    it('refreshAndSave stores the new bundle and updates the record; gen increments', async () => {
      const alice = record('alice')
      await store.saveLogin(alice, secrets(1), {makeDefault: true})
      const before = Date.now()
      const refreshed: Secrets = {accessToken: 'new-access', tokenType: 'Bearer', expiresAt: '2031-01-01T00:00:00.000Z'}
      const saved = (await store.refreshAndSave(alice, async () => refreshed)).account
      expect(saved.expiresAt).to.equal('2031-01-01T00:00:00.000Z')
      expect(saved.hasRefreshToken).to.equal(false)
      expect(Date.parse(saved.updatedAt)).to.be.at.least(before - 1)
      expect(saved.subject).to.equal('alice')
      const index = await store.readIndex()
      expect(index.gen).to.equal(2)
      expect(index.accounts).to.deep.equal([saved])
      expect(await store.readSecrets(alice)).to.deep.equal(refreshed)
    })

    it('refreshAndSave without expiry records null, and clears a tombstone', async () => {
      const alice = record('alice')
      await store.saveLogin(alice, secrets(1), {makeDefault: true})
      await store.tombstone(alice, 'refresh-token-1', new Date('2030-01-01T00:00:00Z'))
      const saved = (await store.refreshAndSave(alice, async () => ({accessToken: 'x', tokenType: 'Bearer', refreshToken: 'r2'}))).account
      expect(saved.expiresAt).to.equal(null)
      expect(saved.hasRefreshToken).to.equal(true)
      const index = await store.readIndex()
      expect(index.tombstones).to.deep.equal({})
      expect(index.gen).to.equal(3)
    })

    it('tombstone records a hash of the refresh token, never the token; gen increments', async () => {
      const alice = record('alice')
      await store.saveLogin(alice, secrets(1), {makeDefault: true})
      await store.tombstone(alice, 'refresh-token-1', new Date('2030-03-04T05:06:07.000Z'))
      const index = await store.readIndex()
      expect(index.gen).to.equal(2)
      expect(index.tombstones[alice.key]).to.deep.equal({
        refreshTokenHash: hashToken('refresh-token-1'),
        until: '2030-03-04T05:06:07.000Z',
      })
      // The credentials are kept (DESIGN.md story 1).
      expect(await store.readSecrets(alice)).to.deep.equal(secrets(1))
    })

    it('accounts.json never holds a secret', async () => {
      const alice = record('alice')
      await store.saveLogin(alice, secrets(1), {makeDefault: true})
      await store.refreshAndSave(alice, async () => secrets(2))
      await store.tombstone(alice, 'refresh-token-2', new Date('2030-01-01T00:00:00Z'))
      const text = await readFile(store.paths.index, 'utf8')
      for (const secret of ['access-token-1', 'refresh-token-1', 'id-token-1', 'access-token-2', 'refresh-token-2', 'id-token-2']) {
        expect(text).to.not.include(secret)
      }
    })

    it('remove deletes the secrets and the entry; removing the default picks another', async () => {
      const alice = record('alice')
      const bob = record('bob')
      await store.saveLogin(alice, secrets(1), {makeDefault: true})
      await store.saveLogin(bob, secrets(2), {makeDefault: false})
      await store.tombstone(alice, 'refresh-token-1', new Date('2030-01-01T00:00:00Z'))
      await store.remove(alice)
      let index = await store.readIndex()
      expect(index.gen).to.equal(4)
      expect(index.accounts).to.deep.equal([bob])
      expect(index.defaultAccount).to.equal(bob.key)
      expect(index.tombstones).to.deep.equal({})
      expect(await new FileCredentialStore(store.paths.credentials).get(alice.key)).to.equal(undefined)
      expect(await readFile(store.paths.credentials, 'utf8')).to.not.include('access-token-1')

      await store.remove(bob)
      index = await store.readIndex()
      expect(index.gen).to.equal(5)
      expect(index.accounts).to.deep.equal([])
      expect(index.defaultAccount).to.equal(null)
    })

    it('removing a non-default account keeps the default', async () => {
      const alice = record('alice')
      const bob = record('bob')
      await store.saveLogin(alice, secrets(1), {makeDefault: true})
      await store.saveLogin(bob, secrets(2), {makeDefault: false})
      await store.remove(bob)
      expect((await store.readIndex()).defaultAccount).to.equal(alice.key)
    })

    it('readSecrets for an indexed account with no secrets is STORE_UNAVAILABLE, not NOT_LOGGED_IN', async () => {
      const alice = record('alice')
      const bob = record('bob')
      await store.saveLogin(alice, secrets(1), {makeDefault: true})
      // Bob is in the index but his secrets are gone (deleted by hand, or a different machine's file).
      const index = await store.readIndex()
      index.accounts.push(bob)
      await writeIndex(store.paths.index, index)
      const error = await authErrorFrom(() => store.readSecrets(bob))
      expect(error.code).to.equal('STORE_UNAVAILABLE')
      expect(error.exitCode).to.equal(1)
      expect(error.message).to.include(store.paths.credentials)
      expect(error.message).to.not.match(/[\r\n]/)

      // Also when the credentials file is missing altogether.
      await rm(store.paths.credentials)
      const error2 = await authErrorFrom(() => store.readSecrets(alice))
      expect(error2.code).to.equal('STORE_UNAVAILABLE')
    })

    it('a corrupt credentials.json surfaces as STORE_CORRUPT from readSecrets', async () => {
      const alice = record('alice')
      await store.saveLogin(alice, secrets(1), {makeDefault: true})
      await writeFile(store.paths.credentials, '{"version":1,"acc')
      await expectCorrupt(store.paths.credentials, '{"version":1,"acc', () => store.readSecrets(alice))
    })

    it('a corrupt accounts.json stops a write before any secret is touched', async () => {
      const alice = record('alice')
      const bob = record('bob')
      await store.saveLogin(alice, secrets(1), {makeDefault: true})
      const credentialsBefore = await readFile(store.paths.credentials, 'utf8')
      await writeFile(store.paths.index, '{"version": 1, "gen": ')
      await expectCorrupt(store.paths.index, '{"version": 1, "gen": ', () => store.saveLogin(bob, secrets(2), {makeDefault: true}))
      expect(await readFile(store.paths.credentials, 'utf8')).to.equal(credentialsBefore)
    })

    it('files 0600 and folders 0700 under umask 000; no temp or lock files left behind', async () => {
      const alice = record('alice')
      await withUmask(0o000, async () => {
        await store.saveLogin(alice, secrets(1), {makeDefault: true})
        await store.refreshAndSave(alice, async () => secrets(2))
        await store.tombstone(alice, 'refresh-token-2', new Date('2030-01-01T00:00:00Z'))
      })
      expect(await mode(store.paths.dir)).to.equal(0o700)
      expect(await mode(store.paths.index)).to.equal(0o600)
      expect(await mode(store.paths.credentials)).to.equal(0o600)
      const files = (await listFiles(store.paths.dir)).map((f) => f.slice(store.paths.dir.length + 1)).sort()
      expect(files).to.deep.equal(['accounts.json', 'credentials.json'])
    })

    it('parallel writes in one process lose nothing and gen counts every one', async () => {
      const subjects = Array.from({length: 12}, (_, i) => `user${i}`)
      await Promise.all(subjects.map((s, i) => store.saveLogin(record(s), secrets(i), {makeDefault: false})))
      const index = await store.readIndex()
      expect(index.gen).to.equal(subjects.length)
      expect(index.accounts.map((a) => a.subject)).to.have.members(subjects)
      for (const [i, s] of subjects.entries()) expect(await store.readSecrets(record(s))).to.deep.equal(secrets(i))
    })

    it('a refresh saved after the account was removed leaves no orphan secrets behind', async () => {
      // Logout (remove) can win the store lock while a refresh is in flight; afterwards the refresh
      // saves its bundle. Secrets for an account the index no longer lists are never deleted by a
      // later logout (logout reads the index), so the store must not keep them.
      const alice = record('alice')
      await store.saveLogin(alice, secrets(1), {makeDefault: true})
      await store.remove(alice)
      try {
        await store.refreshAndSave(alice, async () => secrets(2))
      } catch {
        // Refusing is an acceptable answer too.
      }
      const listed = (await store.readIndex()).accounts.some((a) => a.key === alice.key)
      const held = await new FileCredentialStore(store.paths.credentials).get(alice.key)
      expect(listed || held === undefined, 'secrets in the backend for an account the index does not list').to.equal(true)
    })

    it('an unknown backend is STORE_UNAVAILABLE', async () => {
      const error = await authErrorFrom(() => store.readSecrets(record('alice', {storage: 'vault-9000'})))
      expect(error.code).to.equal('STORE_UNAVAILABLE')
      expect(error.exitCode).to.equal(1)
    })
  })
})

describe('store: a file from a newer version', () => {
  for (const [name, bytes, read] of [
    ['credentials.json', JSON.stringify({version: 2, accounts: {}}), (path: string) => new FileCredentialStore(path).get('a')],
    ['accounts.json', JSON.stringify({version: 2}), (path: string) => readIndex(path, 'damaged-index-moved')],
  ] as const) {
    it(`${name} with format 2 is left where it is and named, with "upgrade" as the next step`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'newer-'))
      try {
        const path = join(dir, name)
        await writeFile(path, bytes)
        const error = await authErrorFrom(() => read(path))
        expect(error.code).to.equal('STORE_UNAVAILABLE')
        expect(error.message).to.include(path).and.include('newer version')
        expect(error.suggestion).to.match(/upgrade/i)
        expect(await readdir(dir)).to.deep.equal([name])
        expect(await readFile(path, 'utf8')).to.equal(bytes)
      } finally {
        await rm(dir, {recursive: true, force: true})
      }
    })
  }
})
