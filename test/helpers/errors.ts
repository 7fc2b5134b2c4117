import {expect} from 'chai'

import {AuthError} from '../../src/errors.js'
import {inHostWords} from '../../src/session/store-messages.js'

/** Run `fn` (sync or async), expect it to fail with an AuthError, and hand the error back. */
export async function authErrorFrom(fn: () => unknown): Promise<AuthError> {
  let caught: unknown
  try {
    await fn()
  } catch (error) {
    caught = error
  }
  expect(caught, 'expected an AuthError to be thrown').to.be.instanceOf(AuthError)
  return caught as AuthError
}

/** The error as the example host `acme` would show it: the store's next step (AuthError.next) in its words. */
export function inAcmeWords(error: AuthError): AuthError {
  return inHostWords(error, {bin: 'acme', topicSeparator: ' ', scopedEnvVarKey: (key: string) => `ACME_${key}`})
}
