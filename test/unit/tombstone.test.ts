import {expect} from 'chai'

import {TOMBSTONE_COOLDOWN_MS, isTombstoned} from '../../src/session/ensure-fresh.js'
import {hashToken} from '../../src/store/account-store.js'

describe('tombstone arithmetic (fake clock)', () => {
  const now = Date.parse('2026-11-23T12:00:00.000Z')
  const tombstone = {refreshTokenHash: hashToken('rt-1'), until: new Date(now + TOMBSTONE_COOLDOWN_MS).toISOString()}

  it('holds for the rejected token until the cool-down ends', () => {
    expect(isTombstoned(tombstone, 'rt-1', now)).to.equal(true)
    expect(isTombstoned(tombstone, 'rt-1', now + TOMBSTONE_COOLDOWN_MS - 1)).to.equal(true)
    expect(isTombstoned(tombstone, 'rt-1', now + TOMBSTONE_COOLDOWN_MS)).to.equal(false)
  })

  it('never holds for another token (a new login, a rotation elsewhere) or without a tombstone', () => {
    expect(isTombstoned(tombstone, 'rt-2', now)).to.equal(false)
    expect(isTombstoned(undefined, 'rt-1', now)).to.equal(false)
  })
})
