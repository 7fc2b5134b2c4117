// The library API a host command calls, against the example host's real config and an empty store:
// what an `auth = 'optional'` command sees when nobody is signed in.
import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

const PROBE = fileURLToPath(new URL('../fixtures/library-probe.mjs', import.meta.url))

describe('library API (getSignedInAccount, getAccessToken) with nobody signed in', () => {
  let dir: string
  let seen: {account: unknown; error: {code: string; exitCode: number; suggestion: string}}

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plugin-auth-library-'))
    const env = {PATH: process.env.PATH, HOME: dir, ACME_DATA_DIR: join(dir, 'data'), ACME_CONFIG_DIR: join(dir, 'config')}
    const {stdout} = await promisify(execFile)(process.execPath, [PROBE], {env})
    seen = JSON.parse(stdout)
  })
  after(() => rm(dir, {recursive: true, force: true}))

  it('getSignedInAccount() is null: an optional command can tell, without catching anything', () => {
    expect(seen.account).to.equal(null)
  })

  it('getAccessToken() rejects with NOT_LOGGED_IN (exit 4) naming the login command', () => {
    expect(seen.error).to.deep.equal({code: 'NOT_LOGGED_IN', exitCode: 4, suggestion: 'Run `acme auth login`.'})
  })
})
