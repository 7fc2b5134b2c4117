import {expect} from 'chai'
import {mkdir, mkdtemp, readdir, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {dueForRefresh, refreshAheadWindowSeconds} from '../../src/session/refresh-ahead.js'
import {claimRefreshAhead, releaseRefreshAhead} from '../../src/session/start-refresh-ahead.js'

const T0 = Date.parse('2026-11-23T12:00:00.000Z')
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString()

function index(overrides: {expiresIn?: number | null; lifetime?: number; hasRefreshToken?: boolean; tombstoneUntil?: number} = {}) {
  const lifetime = overrides.lifetime ?? 3600
  const expiresIn = overrides.expiresIn === undefined ? lifetime : overrides.expiresIn
  const key = 'https://id.example.com|acme-cli|alice'
  return {
    defaultAccount: key,
    accounts: [
      {
        key,
        // obtained `lifetime` seconds before it expires
        updatedAt: at((expiresIn ?? 0) - lifetime),
        expiresAt: expiresIn === null ? null : at(expiresIn),
        hasRefreshToken: overrides.hasRefreshToken ?? true,
      },
    ],
    tombstones: (overrides.tombstoneUntil === undefined ? {} : {[key]: {until: at(overrides.tombstoneUntil)}}) as Record<string, {until: string}>,
  }
}

describe('refresh ahead (fake clock)', () => {
  it('derives the window from the token lifetime: a quarter, at most five minutes; a short-lived token is not always due', () => {
    expect(refreshAheadWindowSeconds(at(0), at(3600))).to.equal(300)
    expect(refreshAheadWindowSeconds(at(0), at(600))).to.equal(150)
    expect(refreshAheadWindowSeconds(at(0), at(120))).to.equal(30)
    expect(refreshAheadWindowSeconds(at(0), at(20))).to.equal(5)
  })

  it('is due inside the window and not before it', () => {
    expect(dueForRefresh(index({expiresIn: 301}), T0)).to.equal(undefined)
    expect(dueForRefresh(index({expiresIn: 300}), T0)).to.deep.equal({account: 'https://id.example.com|acme-cli|alice', windowSeconds: 300})
    expect(dueForRefresh(index({expiresIn: 10}), T0)?.windowSeconds).to.equal(300)
    expect(dueForRefresh(index({expiresIn: -10}), T0)).to.not.equal(undefined)
  })

  it('a configured window replaces the derived one', () => {
    expect(dueForRefresh(index({expiresIn: 500}), T0, 600)?.windowSeconds).to.equal(600)
    expect(dueForRefresh(index({expiresIn: 500}), T0, 120)).to.equal(undefined)
  })

  it('never refreshes what it cannot: no expiry, no refresh token, no account', () => {
    expect(dueForRefresh(index({expiresIn: null}), T0)).to.equal(undefined)
    expect(dueForRefresh(index({expiresIn: 10, hasRefreshToken: false}), T0)).to.equal(undefined)
    expect(dueForRefresh({}, T0)).to.equal(undefined)
  })

  it('honours a tombstone until its cool-down ends', () => {
    expect(dueForRefresh(index({expiresIn: 10, tombstoneUntil: 1}), T0)).to.equal(undefined)
    expect(dueForRefresh(index({expiresIn: 10, tombstoneUntil: 0}), T0)).to.not.equal(undefined)
  })
})

describe('refresh ahead follows ACME_AUTH_ACCOUNT', () => {
  const entry = (subject: string, expiresIn: number) => ({
    key: `https://id.example.com|acme-cli|${subject}`,
    subject,
    email: `${subject}@example.com`,
    updatedAt: at(expiresIn - 3600),
    expiresAt: at(expiresIn),
    hasRefreshToken: true,
  })
  // alice is the default and fresh; bob is due.
  const both = {defaultAccount: 'https://id.example.com|acme-cli|alice', accounts: [entry('alice', 3000), entry('bob', 100)], tombstones: {}}

  it('looks at the account it names (key, subject or email), not the default', () => {
    expect(dueForRefresh(both, T0)).to.equal(undefined)
    for (const wanted of ['bob', 'bob@example.com', 'https://id.example.com|acme-cli|bob']) {
      expect(dueForRefresh(both, T0, undefined, wanted)?.account, wanted).to.equal('https://id.example.com|acme-cli|bob')
    }
  })

  it('does nothing for a name that fits no account or several (the command reports it)', () => {
    expect(dueForRefresh(both, T0, undefined, 'carol')).to.equal(undefined)
    const twice = {...both, accounts: [entry('bob', 100), {...entry('bob', 100), key: 'https://other.example.com|acme-cli|bob'}]}
    expect(dueForRefresh(twice, T0, undefined, 'bob')).to.equal(undefined)
  })
})

describe('the refresh-ahead claim (the account lock primitive, tryClaim; fake clock)', () => {
  let dir: string
  const key = 'https://id.example.com|acme-cli|alice'
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'claim-'))
    await mkdir(join(dir, 'auth', 'locks'), {recursive: true, mode: 0o700})
  })
  afterEach(() => rm(dir, {recursive: true, force: true}))

  it('one of N takers wins at once; the others learn since when it is held, on the injected clock', async () => {
    let time = T0
    const now = () => time
    const claims = await Promise.all(Array.from({length: 6}, () => claimRefreshAhead(dir, key, now)))
    expect(claims.filter((claim) => claim.claimed)).to.have.length(1)
    time += 10_000
    expect(await claimRefreshAhead(dir, key, now)).to.deep.equal({claimed: false, since: T0})
  })

  it('a claim not released lapses a minute after it was taken (the back-off), and is then taken again', async () => {
    let time = T0
    const now = () => time
    expect((await claimRefreshAhead(dir, key, now)).claimed).to.equal(true)
    time += 59_999
    expect((await claimRefreshAhead(dir, key, now)).claimed).to.equal(false)
    time += 1
    expect((await claimRefreshAhead(dir, key, now)).claimed).to.equal(true)
    expect(await claimRefreshAhead(dir, key, now)).to.deep.equal({claimed: false, since: T0 + 60_000})
  })

  it('released, it can be taken at once; one dated ahead of the clock (a jump, a planted file) has lapsed', async () => {
    let time = T0
    const now = () => time
    await claimRefreshAhead(dir, key, now)
    await releaseRefreshAhead(dir, key)
    expect((await claimRefreshAhead(dir, key, now)).claimed).to.equal(true)
    time -= 5000 // the clock went back: the claim now looks five seconds ahead of it
    expect((await claimRefreshAhead(dir, key, now)).claimed).to.equal(true)
  })

  it('a file that is not a claim (garbage) does not block refreshing ahead', async () => {
    const now = () => T0
    expect((await claimRefreshAhead(dir, key, now)).claimed).to.equal(true)
    const [file] = (await readdir(join(dir, 'auth', 'locks'))).filter((name) => name.endsWith('.ahead'))
    await writeFile(join(dir, 'auth', 'locks', file), 'not a claim', {mode: 0o600})
    expect((await claimRefreshAhead(dir, key, now)).claimed).to.equal(true)
    expect((await readdir(join(dir, 'auth', 'locks'))).filter((name) => !name.endsWith('.ahead')), 'no leftovers').to.deep.equal([])
  })
})
