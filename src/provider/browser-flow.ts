import * as oidc from 'openid-client'

import {formatDuration} from '../durations.js'
import {AuthError} from '../errors.js'
import {rememberSecret} from '../safe-text.js'
import type {IdentityClaims} from '../settings/parse.js'
import type {Issuer} from './connect.js'
import {toAuthError} from './errors.js'
import {startLoopbackServer, type RedirectSettings} from './loopback-server.js'
import type {SignInUi} from './sign-in-ui.js'
import {completeSignIn, resourceParameters, type SignIn} from './tokens.js'

export interface BrowserFlowOptions {
  scopes: string[]
  timeoutSeconds: number
  ui: SignInUi
  redirect?: RedirectSettings
  /** Extra parameters of the authorization request (Auth0's `audience`, Google's `access_type`). */
  extraParams?: Record<string, string>
  /** RFC 8707 resource indicators: on the authorization request and the token request. */
  resource?: string[]
  /** Claim names of a profile endpoint that is not OpenID userinfo. */
  claims?: IdentityClaims
  /** Called just before the code is exchanged: from then on the code is spent (the caller holds interrupts). */
  beforeGrant?: () => void
  /** The session's clock (AuthContext.now): the tokens' expiresAt and obtainedAt count from it. */
  now: () => number
  /** Bind the tokens to this login's key (RFC 9449): the code exchange and userinfo carry proofs. */
  dpop?: oidc.DPoPHandle
}

/**
 * Authorization code flow with PKCE (RFC 7636, S256), `state` and `nonce`, redirected to a one-shot
 * loopback server (RFC 8252). When the issuer supports pushed authorization requests (RFC 9126) the
 * parameters go there first: a wrong client id then fails here, at once, instead of on a page in
 * the browser while the terminal waits.
 */
export async function browserSignIn(issuer: Issuer, options: BrowserFlowOptions): Promise<SignIn> {
  const verifier = oidc.randomPKCECodeVerifier()
  rememberSecret(verifier)
  const state = oidc.randomState()
  // Only with an ID token to carry it back: an OAuth-only issuer (GitHub) never returns one.
  const openid = options.scopes.includes('openid')
  const nonce = openid ? oidc.randomNonce() : undefined
  const server = await startLoopbackServer(state, options.redirect)
  try {
    // Ours last: nothing extra can replace the redirect, the state or the PKCE challenge.
    const parameters = new URLSearchParams({
      // OpenID Connect Core §11: offline_access is only honoured together with prompt=consent. A
      // host whose issuer asks for admin approval on every consent prompt (some Entra ID tenants)
      // sets authorizationParams.prompt, to another value or to "" for none.
      ...(options.scopes.includes('offline_access') ? {prompt: 'consent'} : {}),
      ...options.extraParams,
      redirect_uri: server.redirectUri,
      scope: options.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...(nonce ? {nonce} : {}),
    })
    if (parameters.get('prompt') === '') parameters.delete('prompt')
    for (const resource of options.resource ?? []) parameters.append('resource', resource)
    // RFC 9449 §10: the code is bound to our key, so a code caught on its way back is useless to
    // anyone else (with PAR the proof on the pushed request does the same).
    if (options.dpop) parameters.set('dpop_jkt', await options.dpop.calculateThumbprint())
    const url = await authorizationUrl(issuer, parameters, server.redirectUri, options.dpop)

    options.ui.showAuthorizationUrl(url.href)
    await options.ui.open(url.href)
    options.ui.waiting('Waiting for you to sign in in the browser')
    // An issuer that refuses the redirect shows its error page in the browser and never calls back:
    // without this the terminal would say nothing for the whole wait.
    const hint = setTimeout(() => options.ui.notice(noCallbackYet(issuer, server.redirectUri)), hintDelayMs(options.timeoutSeconds))

    let callback
    try {
      callback = await withTimeout(server.callback, options.timeoutSeconds)
      rememberSecret(callback.url.searchParams.get('code') ?? undefined)
    } catch (error) {
      // oclif holds back all output while a spinner runs: stop it, or the error is never seen.
      options.ui.doneWaiting('timed out')
      throw error
    } finally {
      clearTimeout(hint)
    }
    try {
      options.beforeGrant?.()
      const response = await oidc.authorizationCodeGrant(
        issuer.config,
        callback.url,
        {pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: openid},
        resourceParameters(options.resource),
        {DPoP: options.dpop},
      )
      const signIn = await completeSignIn(issuer, response, options.scopes, {claims: options.claims, dpop: options.dpop, now: options.now})
      const who = signIn.identity.name ?? signIn.identity.email ?? signIn.identity.subject
      callback.finish({ok: true, message: `You are signed in as ${who}. You can close this tab and return to your terminal.`})
      options.ui.doneWaiting('done')
      return signIn
    } catch (error) {
      const failure = toAuthError(error, {issuer: issuer.issuer, clientId: issuer.clientId, operation: 'code-exchange', clientSecretSent: issuer.sendsClientSecret, dpop: Boolean(options.dpop)})
      callback.finish({ok: false, message: `${failure.message} Return to your terminal for details.`})
      options.ui.doneWaiting('failed')
      throw failure
    }
  } finally {
    server.close()
  }
}

async function authorizationUrl(issuer: Issuer, parameters: URLSearchParams, redirectUri: string, dpop: oidc.DPoPHandle | undefined): Promise<URL> {
  try {
    if (issuer.config.serverMetadata().pushed_authorization_request_endpoint) {
      return await oidc.buildAuthorizationUrlWithPAR(issuer.config, parameters, {DPoP: dpop})
    }
    return oidc.buildAuthorizationUrl(issuer.config, parameters)
  } catch (error) {
    throw toAuthError(error, {issuer: issuer.issuer, clientId: issuer.clientId, operation: 'authorization', redirectUri, clientSecretSent: issuer.sendsClientSecret, dpop: Boolean(dpop)})
  }
}

/**
 * When to say that no callback came yet: after 20 s, or half the wait when the loginTimeout setting
 * makes it shorter than 40 s (then the line still comes before the sign-in gives up).
 */
function hintDelayMs(timeoutSeconds: number): number {
  return Math.min(20, timeoutSeconds / 2) * 1000
}

function noCallbackYet(issuer: Issuer, redirectUri: string): string {
  return `Still no answer from the browser. If it shows an error page of the issuer, the usual causes are that the issuer does not accept the redirect to ${redirectUri} for client '${issuer.clientId}' (some accept only the registered port: set redirectPort to it) or does not know the client id '${issuer.clientId}' (check the clientId setting). Ctrl-C stops the sign-in safely: nothing has been stored.`
}

function withTimeout<T>(promise: Promise<T>, seconds: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new AuthError('LOGIN_TIMEOUT', `Timed out after ${formatDuration(seconds * 1000)} waiting for the sign-in in the browser.`, {
        suggestion: 'Run the login again, or use --device to sign in on another device.',
      }))
    }, seconds * 1000)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
