import {expect} from 'chai'

import {AuthError} from '../../src/errors.js'
import {describeAccount} from '../../src/store/account-index.js'
import {oneLineSafe, terminalSafe} from '../../src/safe-text.js'

describe('one line per value (issue 20)', () => {
  it('no kind of line break survives in a value: CR and NEL are removed as controls, the others become one space', () => {
    for (const separator of ['\n', '\r\n', '\t', '\u000B', '\u000C', '\u2028', '\u2029', '\n    ', '\r    ', '\u0085 ']) {
      expect(oneLineSafe(`Alice${separator}Issuer: https://evil.example`), JSON.stringify(separator)).to.equal('Alice Issuer: https://evil.example')
    }
    for (const separator of ['\r', '\u0085']) expect(oneLineSafe(`Alice${separator}Issuer`), JSON.stringify(separator)).to.equal('AliceIssuer')
  })

  it('multi-line text of ours keeps its newlines, but not the Unicode line and paragraph separators', () => {
    expect(terminalSafe('one\ntwo\u2028three\u2029four')).to.equal('one\ntwothreefour')
  })

  it('an account described from its stored record is one line', () => {
    const record = {key: 'k', issuer: 'https://id.example\n    Client: x', clientId: 'acme', subject: 'mallory\u2028x', name: 'Mallory\r\n* Alice', scopes: [], storage: 'file', hasRefreshToken: false, updatedAt: ''}
    expect(describeAccount(record as never)).to.equal('Mallory * Alice (mallory x) at https://id.example Client: x')
  })

  it('an error message and its suggestion are one line each, whatever they quote', () => {
    const error = new AuthError('USAGE', "No stored login matches 'a\nError: forged'.", {suggestion: 'See\u2028 status.'})
    expect(error.message).to.equal("No stored login matches 'a Error: forged'.")
    expect(error.suggestion).to.equal('See status.')
  })
})
