import type {Interfaces} from '@oclif/core'

import type {FreshToken} from './ensure-fresh.js'

/**
 * What the prerun hook hands to the running command. It lives on `globalThis` under a registered
 * symbol, not in a module variable: a host that resolves a second copy of this package (a linked
 * plugin, a different version in its own node_modules) must still see the token.
 */
export interface TokenHolder {
  config?: Interfaces.Config
  token?: FreshToken
  /** The clock of the session that gave the token (AuthContext.now): whether it is still fresh is judged on it. */
  now?: () => number
}

const HOLDER_KEY = Symbol.for('@tokenwise/plugin-auth')

export function tokenHolder(): TokenHolder {
  const scope = globalThis as {[HOLDER_KEY]?: TokenHolder}
  scope[HOLDER_KEY] ??= {}
  return scope[HOLDER_KEY]
}
