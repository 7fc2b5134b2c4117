// The index's `adoption` note (issue 23) is optional and forward compatible: an index written before
// it existed reads as "not started", and a note this version cannot read is left out rather than
// making the whole index look damaged (which would set every login aside).
import {expect} from 'chai'

import {parseIndex} from '../../src/store/account-index.js'

const BASE = {version: 1, gen: 3, defaultAccount: null, accounts: [], tombstones: {}, refreshFailures: {}}

describe('index: the adoption note', () => {
  it('an index from before it existed has none', () => {
    expect(parseIndex(structuredClone(BASE)).adoption).to.equal(undefined)
  })

  it('each state this version writes reads back as written', () => {
    for (const adoption of [
      {state: 'done', since: '2026-12-07T12:00:00.000Z'},
      {state: 'clear', since: '2026-12-07T12:00:00.000Z'},
      {state: 'waiting', since: '2026-12-07T12:00:00.000Z', until: '2026-12-07T12:01:00.000Z'},
    ]) {
      expect(parseIndex({...BASE, adoption}).adoption).to.deep.equal(adoption)
    }
  })

  it('a note it cannot read is left out, and the rest of the index still reads', () => {
    for (const adoption of [{state: 'a-later-state', since: '2026-12-07T12:00:00.000Z'}, {state: 'done'}, 'done', {state: 'waiting', since: '2026-12-07T12:00:00.000Z'}]) {
      const index = parseIndex({...BASE, adoption})
      expect(index.adoption).to.equal(undefined)
      expect(index.gen).to.equal(3)
    }
  })
})
