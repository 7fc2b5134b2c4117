import {expect} from 'chai'

import {AuthError} from '../../src/errors.js'

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
