// The token lifecycle of DESIGN.md, in-process: read → fresh? → lock → re-read → decide → refresh →
// save → unlock, with a fake clock, a real store (memory, or files in a temp folder with their locks,
// a credential helper process, the rescue file) and an issuer whose refresh grant the test scripts.
// The same story end to end, with a real issuer and real processes, is in test/e2e/lifecycle.test.ts.
//
// Every branch of the story (src/session/ensure-fresh.ts and its policies), and where it is tested:
//   environment token .............. 'an environment token wins and is never refreshed'
//   held token ..................... 'a fresh held token is used without reading anything …'
//   fresh .......................... 'a fresh token is used as stored'
//   due: refreshed here ............ 'a token inside the skew window …', 'hand-off: none when …' (refresh ahead too)
//   due, still valid: hand-off ..... the three 'hand-off: …' tests (background-hand-off.ts)
//   expired, with a refresh token .. 'hand-off: none when … expired', 'a new login clears the tombstone'
//   expired, no refresh token ...... 'no refresh token: …'
//   tombstoned ..................... 'invalid_grant: …', 'tombstoned: …' (tombstone.ts)
//   in back-off .................... 'a valid token is used with one line …', 'under the lock: a back-off …' (outage.ts)
//   outage: valid vs expired ....... 'issuer unreachable: …', 'a valid token is used …', 'decisions by error code …'
//   refused → tombstone, one retry . 'invalid_grant: …', 'the retry branch' (two), 'the retry happens once …'
//   refreshed elsewhere meanwhile .. 'N callers at once …', '… shorter than the skew window …',
//                                    'another process refreshed while we waited …', '--force while another process …',
//                                    'under the lock: a new login without a refresh token …'
//   lock not had in time ........... 'the account lock held longer than lockWait …' (both: expired, and still working)
//   signed out meanwhile ........... 'signed out before the request left …', 'signed out while the request was out …'
//   save failed → rescue → back .... 'rescued with one line saying where …'

import {expect} from 'chai'
import {mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {AuthError} from '../../src/errors.js'
import {authErrorOf, getAccessToken} from '../../src/index.js'
import type {AuthContext} from '../../src/session/context.js'
import {currentToken, ensureFresh, TOMBSTONE_COOLDOWN_MS} from '../../src/session/ensure-fresh.js'
import {nextRefreshFailure} from '../../src/session/outage.js'
import {tokenHolder, type TokenHolder} from '../../src/session/token-holder.js'
import {rescuedLoginPath} from '../../src/store/account-files.js'
import type {AccountRecord} from '../../src/store/account-index.js'
import type {Secrets} from '../../src/store/secrets.js'
import {authErrorFrom} from '../helpers/errors.js'
import {fakeClock, issued, rejected, savedElsewhere, scriptedIssuer, sessionContext, storeLogin, unreachable} from '../helpers/session.js'

describe('ensureFresh: the refresh story (in-process, fake clock)', () => {
  it('a fresh token is used as stored: no lock, no issuer, the provider is not even loaded', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => expect.fail('no refresh expected'))
    const context = sessionContext({issuer, clock})
    await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 3600})
    const token = await currentToken(context)
    expect(token).to.include({accessToken: 'at-0', source: 'store'})
    expect(issuer.loads).to.equal(0)
  })

  it('a token inside the skew window is refreshed once with the stored refresh token, and the rotated bundle is stored', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => issued(clock, '1'))
    const context = sessionContext({issuer, clock})
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 30})
    const token = await currentToken(context)
    expect(token.accessToken).to.equal('at-1')
    expect(issuer.sent).to.deep.equal(['rt-0'])
    expect(await context.store.readSecrets(account)).to.include({accessToken: 'at-1', refreshToken: 'rt-1'})
    expect((await context.store.readIndex()).accounts[0]).to.include({expiresAt: new Date(clock.now() + 3600_000).toISOString(), hasRefreshToken: true})
  })

  it('N callers at once cost one refresh: the others wait on the account lock, re-read, and use the stored token', async () => {
    const clock = fakeClock()
    let answer!: () => void
    const held = new Promise<void>((resolve) => (answer = resolve))
    const issuer = scriptedIssuer(async () => {
      await held
      return issued(clock, '1')
    })
    const context = sessionContext({issuer, clock})
    await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 10})
    const callers = Array.from({length: 8}, () => currentToken(context))
    await new Promise((resolve) => setImmediate(resolve))
    answer()
    const tokens = await Promise.all(callers)
    expect(tokens.map((token) => token.accessToken)).to.deep.equal(Array(8).fill('at-1'))
    expect(issuer.sent).to.deep.equal(['rt-0'])
  })

  it('a token that lives shorter than the skew window, just refreshed by another caller, is used rather than refreshed again', async () => {
    const clock = fakeClock()
    let answer!: () => void
    const held = new Promise<void>((resolve) => (answer = resolve))
    const issuer = scriptedIssuer(async () => {
      await held
      return issued(clock, '1', 20)
    })
    const context = sessionContext({issuer, clock})
    await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 5})
    const first = currentToken(context)
    const second = currentToken(context)
    answer()
    expect((await first).accessToken).to.equal('at-1')
    expect((await second).accessToken).to.equal('at-1')
    expect(issuer.sent).to.have.length(1)
  })

  it('invalid_grant: the credentials are kept, the token tombstoned, exit 4; no caller sends it again during the cool-down', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => {
      throw rejected()
    })
    const context = sessionContext({issuer, clock})
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 30})
    const error = await authErrorFrom(() => currentToken(context))
    expect(error).to.include({code: 'REAUTH_REQUIRED', exitCode: 4})
    expect(error.message).to.include('the stored credentials were kept')
    expect(error.suggestion).to.equal('Run `acme auth login` to sign in again.')
    expect(await context.store.readSecrets(account)).to.include({accessToken: 'at-0', refreshToken: 'rt-0'})
    expect((await context.store.readIndex()).tombstones).to.have.property(account.key)

    // Still valid: commands go on using it, and nobody asks the issuer again.
    expect((await currentToken(context)).accessToken).to.equal('at-0')
    clock.advance(60)
    expect((await authErrorFrom(() => currentToken(context))).code).to.equal('REAUTH_REQUIRED')
    expect(issuer.sent).to.deep.equal(['rt-0'])
    // After the cool-down one more attempt is allowed.
    clock.advance(TOMBSTONE_COOLDOWN_MS / 1000)
    await authErrorFrom(() => currentToken(context))
    expect(issuer.sent).to.deep.equal(['rt-0', 'rt-0'])
  })

  it('a new login clears the tombstone', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer((sent) => {
      if (sent.refreshToken === 'rt-0') throw rejected()
      return issued(clock, '2')
    })
    const context = sessionContext({issuer, clock})
    await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: -1})
    await authErrorFrom(() => currentToken(context))
    await storeLogin(context, {accessToken: 'at-1', refreshToken: 'rt-1', expiresIn: -1})
    expect((await currentToken(context)).accessToken).to.equal('at-2')
    expect(issuer.sent).to.deep.equal(['rt-0', 'rt-1'])
  })

  it('the retry branch: rejected because another process rotated meanwhile → its still-valid tokens are used, nothing tombstoned', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(
      () => {
        throw rejected()
      },
      // Another CLI that does not take our account lock rotated the grant and saved while we connected.
      (connection) => (connection === 1 ? savedElsewhere(context, account, issued(clock, 'elsewhere')) : undefined),
    )
    const context = sessionContext({issuer, clock})
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: -1})
    expect((await currentToken(context)).accessToken).to.equal('at-elsewhere')
    expect((await context.store.readIndex()).tombstones).to.deep.equal({})
  })

  it('the retry branch: rotated elsewhere but already expired → one retry with the newer refresh token', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(
      (sent) => {
        if (sent.refreshToken !== 'rt-elsewhere') throw rejected()
        return issued(clock, '2')
      },
      (connection) => (connection === 1 ? savedElsewhere(context, account, {...issued(clock, 'elsewhere'), expiresAt: new Date(clock.now() - 1000).toISOString()}) : undefined),
    )
    const context = sessionContext({issuer, clock})
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: -1})
    expect((await currentToken(context)).accessToken).to.equal('at-2')
    expect(issuer.sent).to.deep.equal(['rt-0', 'rt-elsewhere'])
  })

  it('the retry happens once: a second rejection tombstones the newer token and keeps it stored', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(
      () => {
        throw rejected()
      },
      (connection) => savedElsewhere(context, account, {...issued(clock, `elsewhere-${connection}`), expiresAt: new Date(clock.now() - 1000).toISOString()}),
    )
    const context = sessionContext({issuer, clock})
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: -1})
    expect((await authErrorFrom(() => currentToken(context))).code).to.equal('REAUTH_REQUIRED')
    expect(issuer.sent).to.deep.equal(['rt-0', 'rt-elsewhere-1'])
    expect(await context.store.readSecrets(account)).to.include({refreshToken: 'rt-elsewhere-2'})
  })

  it('issuer unreachable: a still-valid token is used and nothing changes; an expired one is exit 75 with the store as it was', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => {
      throw unreachable()
    })
    const context = sessionContext({issuer, clock})
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 30})
    const before: Secrets = await context.store.readSecrets(account)
    expect((await currentToken(context)).accessToken).to.equal('at-0')
    clock.advance(31)
    const error = await authErrorFrom(() => currentToken(context))
    expect(error).to.include({code: 'TRANSIENT', exitCode: 75})
    expect(await context.store.readSecrets(account)).to.deep.equal(before)
    expect((await context.store.readIndex()).tombstones).to.deep.equal({})
  })

  it('no refresh token: used until it expires, then exit 4; --force says it cannot be refreshed', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => expect.fail('nothing to refresh with'))
    const context = sessionContext({issuer, clock})
    await storeLogin(context, {accessToken: 'at-0', expiresIn: 30})
    expect((await currentToken(context)).accessToken).to.equal('at-0')
    expect((await authErrorFrom(() => currentToken(context, {force: true}))).message).to.include('cannot be refreshed')
    clock.advance(31)
    expect((await authErrorFrom(() => currentToken(context))).code).to.equal('REAUTH_REQUIRED')
  })

  it('nobody signed in: NOT_LOGGED_IN (exit 4) with the sign-in command; an unknown --account is a usage error', async () => {
    const context = sessionContext({issuer: scriptedIssuer(() => expect.fail()), clock: fakeClock()})
    expect(await authErrorFrom(() => currentToken(context))).to.include({code: 'NOT_LOGGED_IN', exitCode: 4, suggestion: 'Run `acme auth login`.'})
    await storeLogin(context, {accessToken: 'at-0', expiresIn: 30})
    expect(await authErrorFrom(() => currentToken(context, {account: 'mallory'}))).to.include({code: 'USAGE', exitCode: 2})
  })

  it('an environment token wins and is never refreshed', async () => {
    const context = sessionContext({issuer: scriptedIssuer(() => expect.fail()), clock: fakeClock()})
    process.env.ACME_TOKEN = 'from-env'
    try {
      expect(await currentToken(context)).to.include({accessToken: 'from-env', source: 'env'})
      expect((await authErrorFrom(() => currentToken(context, {force: true}))).code).to.equal('USAGE')
    } finally {
      delete process.env.ACME_TOKEN
    }
  })
})

describe('ensureFresh: an issuer that does not answer (in-process, fake clock)', () => {
  it('a valid token is used with one line saying why; the failure is remembered, and later commands do not ask again until the back-off ends', async () => {
    const clock = fakeClock()
    let down = true
    const issuer = scriptedIssuer(() => {
      if (down) throw unreachable()
      return issued(clock, '1')
    })
    const notices: string[] = []
    const context = sessionContext({issuer, clock, notices})
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 50})

    expect((await currentToken(context)).accessToken).to.equal('at-0')
    expect(issuer.sent).to.have.length(1)
    expect(notices).to.have.length(1)
    expect(notices[0]).to.match(/^The issuer at https:\/\/id\.example\.com did not answer \(connection refused\); using the current token, valid for 50 s more\.$/)
    const failure = (await context.store.readIndex()).refreshFailures[account.key]
    expect(failure).to.include({failures: 1, reason: 'connection refused', until: new Date(clock.now() + 30_000).toISOString()})

    // Inside the back-off: no request at all, the same line.
    clock.advance(10)
    expect((await currentToken(context)).accessToken).to.equal('at-0')
    expect(issuer.sent).to.have.length(1)
    expect(notices).to.have.length(2)

    // After it: asked again; a second failure doubles the back-off.
    clock.advance(25)
    await currentToken(context)
    expect(issuer.sent).to.have.length(2)
    expect((await context.store.readIndex()).refreshFailures[account.key]).to.include({failures: 2, until: new Date(clock.now() + 60_000).toISOString()})

    // Once the token has expired there is nothing to fall back on: ask, and say it is temporary.
    clock.advance(20)
    expect((await authErrorFrom(() => currentToken(context))).code).to.equal('TRANSIENT')
    expect(issuer.sent).to.have.length(3)

    // A refresh that works ends the back-off at once.
    down = false
    expect((await currentToken(context)).accessToken).to.equal('at-1')
    expect((await context.store.readIndex()).refreshFailures).to.deep.equal({})
  })

  it('--force (auth refresh, a 401 from the API) ignores the back-off and never falls back', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => {
      throw unreachable()
    })
    const context = sessionContext({issuer, clock})
    await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 50})
    await currentToken(context)
    expect((await authErrorFrom(() => currentToken(context, {force: true}))).code).to.equal('TRANSIENT')
    expect(issuer.sent).to.have.length(2)
  })
})

describe('ensureFresh: every branch of the story (in-process, fake clock)', () => {
  /** A context whose background refresher "started" at `since` on the fake clock; `onStart` plays that process. */
  function handingOff(context: AuthContext, clock: ReturnType<typeof fakeClock>, onStart: () => Promise<void> | void = () => {}): {context: AuthContext; started: string[]} {
    const started: string[] = []
    return {
      started,
      context: {
        ...context,
        async refreshElsewhere(accountKey) {
          started.push(accountKey)
          await onStart()
          return {since: clock.now()}
        },
      },
    }
  }

  it('hand-off: a still-valid token due for refresh is handed to the background refresher, and its new token is used', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => expect.fail('the command itself must not ask the issuer'))
    const base = sessionContext({issuer, clock})
    const account = await storeLogin(base, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 30})
    const {context, started} = handingOff(base, clock, () => {
      setTimeout(() => void savedElsewhere(base, account, issued(clock, 'background')), 50)
    })
    expect((await currentToken(context)).accessToken).to.equal('at-background')
    expect(started).to.deep.equal([account.key])
    expect(issuer.sent).to.deep.equal([])
  })

  it('hand-off: the wait ends on the injected clock; the current token is used with a line saying the refresh goes on', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => expect.fail('the command itself must not ask the issuer'))
    const notices: string[] = []
    const base = sessionContext({issuer, clock, notices})
    await storeLogin(base, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 30})
    // Three seconds pass on the fake clock in a few real milliseconds: the deadline is the clock's, not Date.now()'s.
    const {context} = handingOff(base, clock, () => {
      setTimeout(() => clock.advance(3), 20)
    })
    const started = performance.now()
    expect((await currentToken(context)).accessToken).to.equal('at-0')
    expect(performance.now() - started, 'waited on the fake clock').to.be.below(1500)
    expect(notices).to.deep.equal(['The issuer at https://id.example.com did not answer (not within 3 s; the refresh goes on in the background); using the current token, valid for 27 s more.'])
  })

  it('hand-off: a failure the background refresher records ends the wait at once, with its reason', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => expect.fail('the command itself must not ask the issuer'))
    const notices: string[] = []
    const base = sessionContext({issuer, clock, notices})
    const account = await storeLogin(base, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 30})
    const {context} = handingOff(base, clock, () => {
      setTimeout(() => void base.store.recordRefreshFailure(account, (previous) => nextRefreshFailure(previous, 'connection refused', clock.now())), 50)
    })
    expect((await currentToken(context)).accessToken).to.equal('at-0')
    expect(notices).to.have.length(1)
    expect(notices[0]).to.include('(connection refused)')
  })

  it('hand-off: none when no background refresher can start, for an expired token, or for the refresh ahead (foreground: false)', async () => {
    const clock = fakeClock()
    let round = 0
    const issuer = scriptedIssuer(() => issued(clock, String(++round)))
    const base = sessionContext({issuer, clock})
    await storeLogin(base, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 30})
    // No entry point to start a process from (a test runner that loaded the host in-process): refresh here.
    const none: AuthContext = {...base, refreshElsewhere: async () => undefined}
    expect((await currentToken(none)).accessToken).to.equal('at-1')

    const {context, started} = handingOff(base, clock)
    clock.advance(3600 + 1)
    expect((await currentToken(context)).accessToken, 'expired: nothing to hand over').to.equal('at-2')
    clock.advance(3600 - 30)
    const account = (await base.store.readIndex()).accounts[0]
    expect((await ensureFresh(context, account, {foreground: false})).accessToken).to.equal('at-3')
    expect(started).to.deep.equal([])
  })

  it('tombstoned: a still-valid token is used without asking; once it expires, exit 4 without a request; --force too', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => {
      throw rejected()
    })
    const context = sessionContext({issuer, clock})
    await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 30})
    await authErrorFrom(() => currentToken(context, {force: true}))
    expect(issuer.sent).to.deep.equal(['rt-0'])
    expect((await currentToken(context)).accessToken).to.equal('at-0')
    expect((await authErrorFrom(() => currentToken(context, {force: true}))).code).to.equal('REAUTH_REQUIRED')
    clock.advance(31)
    expect((await authErrorFrom(() => currentToken(context))).code).to.equal('REAUTH_REQUIRED')
    expect(issuer.sent, 'the tombstoned token is not sent again').to.deep.equal(['rt-0'])
    clock.advance(TOMBSTONE_COOLDOWN_MS / 1000)
    await authErrorFrom(() => currentToken(context))
    expect(issuer.sent, 'after the cool-down it may be tried once more').to.deep.equal(['rt-0', 'rt-0'])
  })

  it('under the lock: a back-off another process recorded while we waited is honoured: no request, one line', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => expect.fail('no request during the back-off'))
    const notices: string[] = []
    const context = sessionContext({issuer, clock, notices})
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 30})
    // What this caller read before the lock did not show it (options.refreshFailure is absent); the store does.
    await context.store.recordRefreshFailure(account, (previous) => nextRefreshFailure(previous, 'timed out', clock.now()))
    expect((await ensureFresh(context, account)).accessToken).to.equal('at-0')
    expect(notices).to.have.length(1)
    expect(notices[0]).to.include('(timed out)')
  })

  it('under the lock: a new login without a refresh token that replaced the one read is used, not refreshed', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => expect.fail('nothing to refresh with'))
    const context = sessionContext({issuer, clock})
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 30})
    // Play the other process: the first read sees the old login, then a sign-in without a refresh token lands.
    const read = context.store.readSecrets.bind(context.store)
    let reads = 0
    context.store.readSecrets = async (record) => {
      const secrets = await read(record)
      if (++reads === 1) await storeLogin(context, {accessToken: 'at-new', expiresIn: 20})
      return secrets
    }
    expect((await ensureFresh(context, account)).accessToken).to.equal('at-new')
  })

  it('decisions by error code: TLS_FAILED is an outage (back-off, current token); any other code is thrown, whatever its message says', async () => {
    const clock = fakeClock()
    let next: AuthError = new AuthError('TLS_FAILED', 'The certificate of the issuer is not trusted.')
    const issuer = scriptedIssuer(() => {
      throw next
    })
    const notices: string[] = []
    const context = sessionContext({issuer, clock, notices})
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 30})
    expect((await currentToken(context)).accessToken).to.equal('at-0')
    expect((await context.store.readIndex()).refreshFailures[account.key]).to.include({failures: 1, reason: 'tls_failed'})
    expect(notices[0]).to.include('(tls_failed)')

    clock.advance(31)
    await storeLogin(context, {accessToken: 'at-1', refreshToken: 'rt-1', expiresIn: 30})
    next = new AuthError('STORE_UNAVAILABLE', 'connection refused: timed out (ETIMEDOUT) talking to the keychain')
    const error = await authErrorFrom(() => currentToken(context))
    expect(error.code, 'not an outage because its message sounds like one').to.equal('STORE_UNAVAILABLE')
    expect((await context.store.readIndex()).refreshFailures).to.deep.equal({})
  })
})

describe('ensureFresh: the branches between the lock and the save (fake clock, real stores)', () => {
  const CHECKPOINT = Symbol.for('@tokenwise/plugin-auth:checkpoint')
  type Checkpoints = {[CHECKPOINT]?: (step: string) => Promise<void> | void}

  /** Resolves once the command has read the store and decided to refresh (the checkpoint before the lock). */
  function readBeforeLock(): Promise<void> {
    return new Promise((resolve) => {
      ;(globalThis as Checkpoints)[CHECKPOINT] = (step) => {
        if (step === 'refresh:read') resolve()
      }
    })
  }

  /** Hold the account's lock, as another process refreshing it would, until `release()`. */
  function holdAccountLock(context: AuthContext, account: AccountRecord): {held: Promise<void>; release: () => void} {
    let release!: () => void
    const held = new Promise<void>((taken) => {
      void context.store.withAccountLock(account, () => {
        taken()
        return new Promise<void>((resolve) => (release = resolve))
      })
    })
    return {held, release: () => release()}
  }

  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ensure-fresh-'))
  })
  afterEach(async () => {
    delete (globalThis as Checkpoints)[CHECKPOINT]
    await rm(dir, {recursive: true, force: true})
  })

  it('another process refreshed while we waited, and its token has expired too: ours sends its newer refresh token, never the one we read', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => issued(clock, '1'))
    const context = sessionContext({issuer, clock})
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: -1})
    const other = holdAccountLock(context, account)
    await other.held
    const read = readBeforeLock()
    const pending = currentToken(context)
    await read
    await savedElsewhere(context, account, {...issued(clock, 'elsewhere'), expiresAt: new Date(clock.now() - 1000).toISOString()})
    other.release()
    expect((await pending).accessToken).to.equal('at-1')
    expect(issuer.sent).to.deep.equal(['rt-elsewhere'])
  })

  it('--force while another process refreshed during the wait: its new token is used, the issuer is not asked again', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => expect.fail('the refresh another process just made is as new as a token gets'))
    const context = sessionContext({issuer, clock})
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 3600})
    const other = holdAccountLock(context, account)
    await other.held
    const read = readBeforeLock()
    const pending = currentToken(context, {force: true})
    await read
    await savedElsewhere(context, account, issued(clock, 'elsewhere'))
    other.release()
    expect((await pending).accessToken).to.equal('at-elsewhere')
    expect(issuer.sent).to.deep.equal([])
  })

  it('signed out before the request left: NOT_LOGGED_IN (exit 4, sign in again), and no refresh token was sent', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(
      () => expect.fail('nothing is sent for a login that is gone'),
      () => context.store.remove(account).then(() => {}),
    )
    const context = sessionContext({issuer, clock})
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: -1})
    const error = await authErrorFrom(() => currentToken(context))
    expect(error).to.include({code: 'NOT_LOGGED_IN', exitCode: 4, next: 'sign-in-again'})
    expect(error.message).to.include('signed out meanwhile')
    expect(issuer.sent).to.deep.equal([])
  })

  it('signed out while the request was out: the answer is not kept anywhere, NOT_LOGGED_IN', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(async () => {
      await context.store.remove(account)
      return issued(clock, '1')
    })
    const context = sessionContext({issuer, clock, dataDir: dir})
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: -1})
    expect(await authErrorFrom(() => currentToken(context))).to.include({code: 'NOT_LOGGED_IN', exitCode: 4})
    expect(issuer.sent).to.deep.equal(['rt-0'])
    expect((await context.store.readIndex()).accounts).to.deep.equal([])
    expect(await context.store.backend('file').get(account.key)).to.equal(undefined)
    expect(await stat(rescuedLoginPath(context.store.paths, account.key)).then(() => 'present', () => 'gone'), 'no rescue file either').to.equal('gone')
  })

  it('the account lock held longer than lockWait: exit 75, nothing sent, nothing changed', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => expect.fail('no refresh without the lock'))
    const context = sessionContext({issuer, clock, dataDir: dir, settings: {lockWaitSeconds: 0.3}})
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: -1})
    const before = await readFile(context.store.paths.credentials, 'utf8')
    const other = holdAccountLock(context, account)
    await other.held
    try {
      const error = await authErrorFrom(() => currentToken(context))
      expect(error).to.include({code: 'TRANSIENT', exitCode: 75})
      expect(error.message).to.include('Timed out after').and.include(`refreshing the login of`)
    } finally {
      other.release()
    }
    expect(issuer.sent).to.deep.equal([])
    expect(await readFile(context.store.paths.credentials, 'utf8')).to.equal(before)
  })

  it('the account lock held longer than lockWait while the token still works: that token is used, nothing sent; with --force, exit 75', async () => {
    const clock = fakeClock()
    const issuer = scriptedIssuer(() => expect.fail('no refresh without the lock'))
    const context = sessionContext({issuer, clock, dataDir: dir, settings: {lockWaitSeconds: 0.3, refreshAhead: 'inline'}})
    // Due (inside the refresh margin) but not expired: another process is refreshing it, slowly.
    const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: 20})
    const other = holdAccountLock(context, account)
    await other.held
    try {
      expect((await currentToken(context)).accessToken).to.equal('at-0')
      expect(await authErrorFrom(() => currentToken(context, {force: true}))).to.include({code: 'TRANSIENT', exitCode: 75})
    } finally {
      other.release()
    }
    expect(issuer.sent).to.deep.equal([])
  })

  describe('the save failed: the answer goes to the rescue file, and back once the store answers', () => {
    /** A credential helper (a real process, `exec:` storage) whose `store` and `erase` fail while `<dir>/sealed` exists. */
    async function sealableVault(): Promise<{storage: string; seal(): Promise<void>; unseal(): Promise<void>; held(key: string): Promise<Secrets | undefined>}> {
      const script = join(dir, 'vault.mjs')
      const vault = join(dir, 'vault.json')
      const sealed = join(dir, 'sealed')
      await writeFile(
        script,
        `import {existsSync, readFileSync, writeFileSync} from 'node:fs'
const action = process.argv[2]
const request = JSON.parse(readFileSync(0, 'utf8'))
const entries = existsSync(${JSON.stringify(vault)}) ? JSON.parse(readFileSync(${JSON.stringify(vault)}, 'utf8')) : {}
if (action === 'get') {
  process.stdout.write(JSON.stringify(request.account in entries ? {secret: entries[request.account]} : {}))
} else if (existsSync(${JSON.stringify(sealed)})) {
  process.stderr.write('vault: sealed\\n')
  process.exit(1)
} else {
  if (action === 'store') entries[request.account] = request.secret
  else delete entries[request.account]
  writeFileSync(${JSON.stringify(vault)}, JSON.stringify(entries))
}
`,
      )
      return {
        storage: `exec:${process.execPath} ${script}`,
        seal: () => writeFile(sealed, ''),
        unseal: () => rm(sealed, {force: true}),
        async held(key) {
          const text = await readFile(vault, 'utf8').catch(() => '{}')
          const secret = (JSON.parse(text) as Record<string, string>)[key]
          return secret === undefined ? undefined : (JSON.parse(secret) as Secrets)
        },
      }
    }

    it('rescued with one line saying where; the next refresh sends the rescued refresh token; the next command that reaches the store moves it back', async () => {
      const vault = await sealableVault()
      const clock = fakeClock()
      let round = 0
      const issuer = scriptedIssuer(() => issued(clock, String(++round)))
      const notices: string[] = []
      const context = sessionContext({issuer, clock, notices, dataDir: dir, settings: {storage: vault.storage}})
      const account = await storeLogin(context, {accessToken: 'at-0', refreshToken: 'rt-0', expiresIn: -1})
      expect(await vault.held(account.key)).to.include({refreshToken: 'rt-0'})

      // The issuer rotated the refresh token; the vault does not take the answer.
      await vault.seal()
      expect((await currentToken(context)).accessToken).to.equal('at-1')
      expect(notices).to.have.length(1)
      expect(notices[0]).to.match(/could not be saved where it is kept \(The credential helper .* could not save the login .*vault: sealed\), so it is kept in (\S+) \(readable only by you\)/)
      const rescuePath = /so it is kept in (\S+) \(/.exec(notices[0])![1]
      expect(rescuePath).to.equal(rescuedLoginPath(context.store.paths, account.key))
      expect((await stat(rescuePath)).mode & 0o777).to.equal(0o600)
      expect(await vault.held(account.key), 'the vault as it was').to.include({refreshToken: 'rt-0'})
      expect((await context.store.readIndex()).accounts[0].expiresAt, 'the index follows the answer').to.equal(new Date(clock.now() + 3600_000).toISOString())

      // Still sealed when the rescued token is due: the refresh token sent is the rescued one, never the replaced rt-0.
      clock.advance(3601)
      expect((await currentToken(context)).accessToken).to.equal('at-2')
      expect(issuer.sent).to.deep.equal(['rt-0', 'rt-1'])
      expect(await vault.held(account.key)).to.include({refreshToken: 'rt-0'})

      // The vault answers again: the next command moves the rescued login back and removes the rescue file.
      await vault.unseal()
      expect((await currentToken(context)).accessToken).to.equal('at-2')
      expect(await vault.held(account.key)).to.include({accessToken: 'at-2', refreshToken: 'rt-2'})
      expect(await stat(rescuePath).then(() => 'present', () => 'gone')).to.equal('gone')
      expect(issuer.sent, 'moving it back asks nothing of the issuer').to.deep.equal(['rt-0', 'rt-1'])
    })
  })
})

describe('the held token: what the prerun hook gave the running command (getAccessToken)', () => {
  let saved: TokenHolder
  beforeEach(() => {
    saved = {...tokenHolder()}
  })
  afterEach(() => {
    const holder = tokenHolder()
    delete holder.token
    delete holder.config
    delete holder.now
    Object.assign(holder, saved)
  })

  async function rejection(promise: Promise<unknown>): Promise<AuthError | undefined> {
    return promise.then(
      () => expect.fail('expected a rejection'),
      (error: unknown) => authErrorOf(error),
    )
  }

  it('a fresh held token is used without reading anything; a due one, --force or another account go to the store', async () => {
    const holder = tokenHolder()
    delete holder.config // No command is running: reaching for the store is an error we can see.
    // Judged on the clock of the session that gave it, not the machine's: a fake one, years away.
    const clock = fakeClock(Date.parse('2031-05-01T08:00:00.000Z'))
    holder.now = clock.now
    holder.token = {accessToken: 'held', tokenType: 'Bearer', expiresAt: new Date(clock.now() + 3600_000).toISOString(), obtainedAt: new Date(clock.now()).toISOString(), source: 'store'}
    expect(await getAccessToken()).to.equal('held')
    for (const options of [{force: true}, {account: 'bob'}]) {
      expect((await rejection(getAccessToken(options)))?.code, JSON.stringify(options)).to.equal('UNEXPECTED')
    }
    // The hour-long token in its last 10 s by that clock: inside its refresh margin (freshness.ts).
    clock.advance(3590)
    expect((await rejection(getAccessToken()))?.code, 'due: not used as held').to.equal('UNEXPECTED')
    // A token without the clock that judges it (put there by an older copy of the module) is looked up again.
    clock.advance(-3590)
    delete holder.now
    expect((await rejection(getAccessToken()))?.code, 'no clock: not used as held').to.equal('UNEXPECTED')
  })

})
