// The shared registry of secrets to redact: one per process however many copies of the module are
// loaded (the bundled hooks have their own), and never on show.
import {expect} from 'chai'
import {inspect} from 'node:util'

import {redactSecrets, rememberSecret} from '../../src/safe-text.js'

describe('safe-text: the secrets to redact', () => {
  const secret = 'rt-0123456789-abcdefghij'

  it('redacts a remembered secret wherever it appears', () => {
    rememberSecret(secret)
    expect(redactSecrets(`invalid_request: refresh_token ${secret} is malformed`)).to.equal('invalid_request: refresh_token [redacted] is malformed')
  })

  it('keeps them out of sight: printing globalThis shows none, and the registry cannot be replaced', () => {
    rememberSecret(secret)
    expect(inspect(globalThis, {depth: 4})).to.not.include(secret)
    const key = Symbol.for('@tokenwise/plugin-auth:secrets')
    const registry = (globalThis as Record<symbol, unknown>)[key]
    try {
      ;(globalThis as Record<symbol, unknown>)[key] = {remember() {}, all: () => []}
    } catch {
      // Strict mode throws; either way the write must not take.
    }
    expect((globalThis as Record<symbol, unknown>)[key]).to.equal(registry)
    expect(redactSecrets(secret)).to.equal('[redacted]')
  })

  it('a second copy of the module shares them', async () => {
    rememberSecret(secret)
    // A query makes the loader evaluate the file again: another copy, as the bundled hooks are.
    const copy = (await import(`../../src/safe-text.ts?copy=${Date.now()}`)) as typeof import('../../src/safe-text.js')
    expect(copy.redactSecrets(`a ${secret}`)).to.equal('a [redacted]')
    copy.rememberSecret('another-secret-value')
    expect(redactSecrets('another-secret-value')).to.equal('[redacted]')
  })
})
