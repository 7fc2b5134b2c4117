// Issue 20, what an issuer can make us store: a hostile issuer answering a megabyte subject, a
// scope of tens of thousands of items or one endless scope must not get it into the index (where
// every later command reads it before doing anything), and must not harm the other logins. An
// index grown too large anyway (by an older version, or by hand) is said as such, not as someone
// else's file, and `auth logout --all` clears it.

import {expect} from 'chai'
import {readdir, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'

import {BROWSER, describeRun, errorMessage, makeTempHome, storeSnapshot, warningMessages, type TempHome} from '../helpers/acme.js'
import {runAcme, runAcmeExpecting} from '../helpers/in-process.js'
import {exists, fakeToken, loginFiles, writeLogin} from '../helpers/hostile.js'
import {startScriptedIssuer, type ScriptedIssuer} from '../helpers/scripted-issuer.js'

/** Answers a browser sign-in at once with `answer`'s scope and userinfo, whatever it is asked. */
function signsInWith(issuer: ScriptedIssuer, answer: {sub: string; name?: string; scope?: string}): void {
  issuer.route('/authorize', (request) => {
    const back = new URL(request.query.get('redirect_uri')!)
    back.search = new URLSearchParams({code: fakeToken('code'), state: request.query.get('state')!}).toString()
    return {status: 302, headers: {location: back.href}}
  })
  issuer.route('/token', {
    body: {access_token: fakeToken('access'), token_type: 'Bearer', expires_in: 3600, refresh_token: fakeToken('refresh'), ...(answer.scope ? {scope: answer.scope} : {})},
  })
  issuer.route('/userinfo', {body: {sub: answer.sub, ...(answer.name ? {name: answer.name} : {})}})
}

/** The accounts of the index, or none when there is no index. */
async function accountsIn(home: TempHome): Promise<unknown[]> {
  const text = await readFile(join(home.authDir, 'accounts.json'), 'utf8').catch(() => undefined)
  return text === undefined ? [] : JSON.parse(text).accounts
}

describe('e2e: what an issuer can make us store (issue 20)', function () {
  this.timeout(90_000)
  let home: TempHome
  let hostile: ScriptedIssuer
  let env: Record<string, string | undefined>

  before(async () => {
    hostile = await startScriptedIssuer()
    env = {ACME_AUTH_ISSUER: hostile.issuer, ACME_AUTH_SCOPES: 'profile offline_access', ACME_AUTH_REFRESH_AHEAD: 'off', ACME_BROWSER: BROWSER}
  })
  after(() => hostile?.close())
  beforeEach(async () => {
    home = await makeTempHome()
  })
  afterEach(() => home?.cleanup())

  describe('4. a sign-in whose record would not fit: refused before anything is written', () => {
    const manyScopes = Array.from({length: 60_000}, (_, i) => `s${i}`).join(' ')
    for (const [what, answer, said] of [
      ['a subject of 900 KB', {sub: 'A'.repeat(900_000)}, /subject is 900000 characters, more than the 1024/],
      ['a name of 100 KB', {sub: 'mallory', name: 'N'.repeat(100_000)}, /name is 100000 characters, more than the 1024/],
      ['60,000 scopes', {sub: 'mallory', scope: manyScopes}, /60000 scopes, more than the 100/],
      ['one scope of 50 KB', {sub: 'mallory', scope: `profile ${'S'.repeat(50_000)}`}, /scope of 50000 characters, more than the 256/],
    ] as const) {
      it(`${what}: exit 1, one line saying the issuer's answer was too large; the earlier login untouched`, async () => {
        // alice's login at another issuer, stored before: it stays as it was, and stays the default.
        await writeLogin(home.authDir, {issuer: 'https://id.example.com', subject: 'alice', accessToken: fakeToken('alice-access'), refreshToken: fakeToken('alice-refresh'), expiresIn: 3600})
        const before = await storeSnapshot(home)
        signsInWith(hostile, answer)
        const login = await runAcme(['auth', 'login'], {home, env})
        expect(login.code, describeRun(['auth', 'login'], login)).to.equal(1)
        const message = errorMessage(login.stderr)
        expect(message).to.include("The issuer's answer was too large to keep").and.match(said).and.include('Nothing was stored')
        expect(message.length, 'one short line').to.be.below(600)
        expect(login.stdout).to.equal('')
        expect(await storeSnapshot(home), 'the store').to.deep.equal(before)
        // The earlier login still works for every command.
        const status = await runAcmeExpecting(0, ['auth', 'status', '--json'], {home, env})
        expect(JSON.parse(status.stdout).accounts.map((account: {subject: string}) => account.subject)).to.deep.equal(['alice'])
      })
    }

    it('answers at the caps are kept', async () => {
      const scopes = Array.from({length: 100}, (_, i) => `scope-${i}`.padEnd(256, 'x'))
      signsInWith(hostile, {sub: 'S'.repeat(1024), name: 'N'.repeat(1024), scope: scopes.join(' ')})
      await runAcmeExpecting(0, ['auth', 'login'], {home, env})
      const index = JSON.parse(await readFile(join(home.authDir, 'accounts.json'), 'utf8'))
      expect(index.accounts[0].subject).to.have.length(1024)
      expect(index.accounts[0].scopes).to.deep.equal(scopes)
    })
  })

  describe('an index too large or damaged to read', () => {
    /** A valid index of alice's login, padded past the 8 MiB any file of ours may have. */
    async function writeOversizedIndex(): Promise<string> {
      const key = await writeLogin(home.authDir, {issuer: 'https://id.example.com', subject: 'alice', accessToken: fakeToken('alice-access'), refreshToken: fakeToken('alice-refresh'), expiresIn: 3600})
      const index = JSON.parse(loginFiles({issuer: 'https://id.example.com', subject: 'alice', accessToken: 'x', expiresIn: 3600}).index)
      index.accounts[0].scopes = Array.from({length: 90_000}, (_, i) => `scope-${i}-${'x'.repeat(90)}`)
      await writeFile(join(home.authDir, 'accounts.json'), JSON.stringify(index), {mode: 0o600})
      return key
    }

    it('too large: every command says so (not "someone else could change it"); auth logout --all moves it aside, removes the secrets it can, and says what it did', async () => {
      await writeOversizedIndex()
      const status = await runAcme(['auth', 'status'], {home, env})
      expect(status.code, describeRun(['auth', 'status'], status)).to.equal(1)
      const message = errorMessage(status.stderr)
      expect(message).to.not.include('someone else')
      expect(message).to.match(/accounts\.json is \d+ bytes, far more than this CLI ever writes/).and.include('acme auth logout --all')

      const logout = await runAcme(['auth', 'logout', '--all'], {home, env})
      expect(logout.code, describeRun(['auth', 'logout', '--all'], logout)).to.equal(0)
      const files = await readdir(home.authDir)
      const setAside = files.filter((name) => name.startsWith('accounts.json.corrupt-'))
      expect(setAside, 'the index, moved aside').to.have.length(1)
      const [warning] = warningMessages(logout.stderr)
      expect(warning).to.include('was too large')
      // oclif wraps the line wherever it likes, paths too.
      expect(warning.replace(/\s+/g, ''), 'where the index went').to.include(`${join(home.authDir, 'accounts.json')}was`).and.include(join(home.authDir, setAside[0]))
      expect(logout.stdout).to.include(`Removed the stored secrets in ${join(home.authDir, 'credentials.json')}.`)
      expect(await exists(join(home.authDir, 'credentials.json')), 'the secrets of the file store').to.equal(false)
      expect(await accountsIn(home), 'the index now').to.deep.equal([])

      const after = await runAcmeExpecting(0, ['auth', 'status'], {home, env})
      expect(after.stdout + after.stderr).to.include('Not signed in')
    })

    it('damaged (not JSON): auth logout --all recovers the first time', async () => {
      await writeLogin(home.authDir, {issuer: 'https://id.example.com', subject: 'alice', accessToken: fakeToken('alice-access'), expiresIn: 3600})
      await writeFile(join(home.authDir, 'accounts.json'), '{"version": 1, "accounts": [', {mode: 0o600})
      const logout = await runAcme(['auth', 'logout', '--all'], {home, env})
      expect(logout.code, describeRun(['auth', 'logout', '--all'], logout)).to.equal(0)
      const [warning] = warningMessages(logout.stderr)
      expect(warning).to.include('was damaged (not valid JSON)')
      expect(warning.replace(/\s+/g, '')).to.include('accounts.json.corrupt-')
      expect(await exists(join(home.authDir, 'credentials.json'))).to.equal(false)
      await runAcmeExpecting(0, ['auth', 'status'], {home, env})
    })
  })
})
