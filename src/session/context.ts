import type {Interfaces} from '@oclif/core'

import {AccountStore} from '../store/account-store.js'

/** What the session layer needs to know about the host it runs in. */
export interface AuthContext {
  config: Interfaces.Config
  /** The host's command name, for suggestions: `acme auth login`. */
  bin: string
  store: AccountStore
  /** The host's scoped variables: `ACME_TOKEN`, `ACME_BROWSER`, `ACME_ACCESS_TOKEN`. */
  envNames: {token: string; browser: string; accessToken: string}
}

export function authContext(config: Interfaces.Config): AuthContext {
  return {
    config,
    bin: config.bin,
    store: new AccountStore(config.dataDir, config.bin),
    envNames: {
      token: config.scopedEnvVarKey('TOKEN'),
      browser: config.scopedEnvVarKey('BROWSER'),
      accessToken: config.scopedEnvVarKey('ACCESS_TOKEN'),
    },
  }
}

/** CI's way in (DESIGN.md, Lifecycle): a token in `ACME_TOKEN` wins and nothing else is consulted. */
export function environmentToken(context: AuthContext): string | undefined {
  const value = process.env[context.envNames.token]?.trim()
  return value ? value : undefined
}

export function loginCommand(context: AuthContext): string {
  return `${context.bin} auth login`
}
