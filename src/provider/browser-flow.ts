import * as oidc from 'openid-client'

import {AuthError} from '../errors.js'
import type {Issuer} from './connect.js'
import {toAuthError} from './errors.js'
import {startLoopbackServer} from './loopback-server.js'
import type {SignInUi} from './sign-in-ui.js'
import {completeSignIn, type SignIn} from './tokens.js'

export interface BrowserFlowOptions {
  scopes: string[]
  timeoutSeconds: number
  ui: SignInUi
}

/**
 * Authorization code flow with PKCE (RFC 7636, S256), `state` and `nonce`, redirected to a one-shot
 * loopback server (RFC 8252). When the issuer supports pushed authorization requests (RFC 9126) the
 * parameters go there first: a wrong client id then fails here, at once, instead of on a page in
 * the browser while the terminal waits.
 */
export async function browserSignIn(issuer: Issuer, options: BrowserFlowOptions): Promise<SignIn> {
  const verifier = oidc.randomPKCECodeVerifier()
  const state = oidc.randomState()
  const nonce = oidc.randomNonce()
  const server = await startLoopbackServer(state)
  try {
    const parameters: Record<string, string> = {
      redirect_uri: server.redirectUri,
      scope: options.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    }
    // OpenID Connect Core §11: offline_access is only honoured together with prompt=consent.
    if (options.scopes.includes('offline_access')) parameters.prompt = 'consent'
    const url = await authorizationUrl(issuer, parameters)

    options.ui.showAuthorizationUrl(url.href)
    await options.ui.open(url.href)
    options.ui.waiting('Waiting for you to sign in in the browser')

    let callback
    try {
      callback = await withTimeout(server.callback, options.timeoutSeconds)
    } catch (error) {
      // oclif holds back all output while a spinner runs: stop it, or the error is never seen.
      options.ui.doneWaiting('timed out')
      throw error
    }
    try {
      const response = await oidc.authorizationCodeGrant(issuer.config, callback.url, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: options.scopes.includes('openid'),
      })
      const signIn = await completeSignIn(issuer, response, options.scopes)
      const who = signIn.identity.name ?? signIn.identity.email ?? signIn.identity.subject
      callback.finish({ok: true, message: `You are signed in as ${who}. You can close this tab and return to your terminal.`})
      options.ui.doneWaiting('done')
      return signIn
    } catch (error) {
      const failure = toAuthError(error, {issuer: issuer.issuer, clientId: issuer.clientId, doing: 'complete the sign-in'})
      callback.finish({ok: false, message: `${failure.message} Return to your terminal for details.`})
      options.ui.doneWaiting('failed')
      throw failure
    }
  } finally {
    server.close()
  }
}

async function authorizationUrl(issuer: Issuer, parameters: Record<string, string>): Promise<URL> {
  try {
    if (issuer.config.serverMetadata().pushed_authorization_request_endpoint) {
      return await oidc.buildAuthorizationUrlWithPAR(issuer.config, parameters)
    }
    return oidc.buildAuthorizationUrl(issuer.config, parameters)
  } catch (error) {
    throw toAuthError(error, {issuer: issuer.issuer, clientId: issuer.clientId, doing: 'start the sign-in'})
  }
}

function withTimeout<T>(promise: Promise<T>, seconds: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new AuthError('LOGIN_TIMEOUT', `Timed out after ${formatSeconds(seconds)} waiting for the sign-in in the browser.`, {
        suggestion: 'Run the login again, or use --device to sign in on another device.',
      }))
    }, seconds * 1000)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export function formatSeconds(seconds: number): string {
  return seconds >= 120 && seconds % 60 === 0 ? `${seconds / 60} minutes` : `${seconds} s`
}
