import * as oidc from 'openid-client'

import {isLoopbackHost} from '../settings/parse.js'
import {toAuthError} from './errors.js'

/** An issuer we have discovered, with the client we act as. */
export interface Issuer {
  issuer: string
  clientId: string
  config: oidc.Configuration
}

export interface ConnectOptions {
  requestTimeoutSeconds: number
  allowInsecureIssuer: boolean
}

/** OpenID Connect discovery as a public client (native app: no secret, RFC 8252 §8.5). */
export async function connect(issuer: string, clientId: string, options: ConnectOptions): Promise<Issuer> {
  const url = new URL(issuer)
  // openid-client refuses plain http; settings already limited it to loopback or an explicit opt-in.
  const insecure = url.protocol === 'http:' && (isLoopbackHost(url.hostname) || options.allowInsecureIssuer)
  try {
    const config = await oidc.discovery(url, clientId, undefined, oidc.None(), {
      execute: insecure ? [oidc.allowInsecureRequests] : [],
      timeout: options.requestTimeoutSeconds,
    })
    config.timeout = options.requestTimeoutSeconds
    return {issuer, clientId, config}
  } catch (error) {
    throw toAuthError(error, {issuer, clientId, doing: 'discover its endpoints'})
  }
}
