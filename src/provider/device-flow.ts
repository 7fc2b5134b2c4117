import * as oidc from 'openid-client'

import {formatDuration} from '../durations.js'
import {AuthError} from '../errors.js'
import {rememberSecret} from '../safe-text.js'
import type {IdentityClaims} from '../settings/parse.js'
import type {Issuer} from './connect.js'
import {toAuthError} from './errors.js'
import type {SignInUi} from './sign-in-ui.js'
import {completeSignIn, resourceParameters, type SignIn} from './tokens.js'

export interface DeviceFlowOptions {
  scopes: string[]
  timeoutSeconds: number
  ui: SignInUi
  /** Extra parameters of the device authorization request (Auth0's `audience`). */
  extraParams?: Record<string, string>
  /** RFC 8707 resource indicators: on the device authorization request and the token request. */
  resource?: string[]
  /** Claim names of a profile endpoint that is not OpenID userinfo. */
  claims?: IdentityClaims
  /** Called as each poll leaves: its answer may carry the tokens (the caller holds interrupts). */
  beforeGrant?: () => void
  /** Called when a poll's answer carried none (pending, slow down, an error): the device code is not spent. */
  grantRefused?: () => void
  /** The session's clock (AuthContext.now): the tokens' expiresAt and obtainedAt count from it. */
  now: () => number
  /** Bind the tokens to this login's key (RFC 9449): every poll and userinfo carry proofs. */
  dpop?: oidc.DPoPHandle
}

/**
 * Device authorization grant (RFC 8628): for machines without a browser. openid-client polls at the
 * server's interval and slows down when told to.
 */
export async function deviceSignIn(issuer: Issuer, options: DeviceFlowOptions): Promise<SignIn> {
  const context = {issuer: issuer.issuer, clientId: issuer.clientId, operation: 'device-authorization' as const, clientSecretSent: issuer.sendsClientSecret}
  if (!issuer.config.serverMetadata().device_authorization_endpoint) {
    throw new AuthError('LOGIN_FAILED', `The issuer at ${issuer.issuer} does not offer device sign-in.`, {
      suggestion: 'Sign in without --device.',
    })
  }
  let device: oidc.DeviceAuthorizationResponse
  try {
    const parameters = new URLSearchParams({...options.extraParams, scope: options.scopes.join(' ')})
    for (const resource of options.resource ?? []) parameters.append('resource', resource)
    device = await oidc.initiateDeviceAuthorization(issuer.config, parameters)
    // The device code is the secret half; the user code is shown on purpose.
    rememberSecret(device.device_code)
  } catch (error) {
    throw toAuthError(error, context)
  }
  await options.ui.showDeviceCode({
    userCode: device.user_code,
    verificationUri: device.verification_uri,
    verificationUriComplete: device.verification_uri_complete,
  })
  // Where no browser can be opened (the usual reason to use this flow), the code above is enough.
  const withdraw = options.ui.offerBrowser(device.verification_uri_complete ?? device.verification_uri)
  options.ui.waiting('Waiting for the sign-in to be approved')

  const seconds = Math.min(options.timeoutSeconds, device.expires_in)
  const signal = AbortSignal.timeout(seconds * 1000)
  const restoreFetch = aroundEachPoll(issuer, options)
  try {
    const response = await oidc.pollDeviceAuthorizationGrant(issuer.config, device, resourceParameters(options.resource), {signal, DPoP: options.dpop})
    restoreFetch()
    withdraw()
    const signIn = await completeSignIn(issuer, response, options.scopes, {claims: options.claims, dpop: options.dpop, now: options.now})
    options.ui.doneWaiting('done')
    return signIn
  } catch (error) {
    restoreFetch()
    withdraw()
    options.ui.doneWaiting('failed')
    if (signal.aborted) {
      throw new AuthError('LOGIN_TIMEOUT', `Timed out after ${formatDuration(seconds * 1000)} waiting for the device sign-in to be approved.`, {
        suggestion: 'Run the login again.',
      })
    }
    throw toAuthError(error, {...context, operation: 'device-poll', dpop: Boolean(options.dpop)})
  }
}

/**
 * Tell the caller as each poll of the token endpoint leaves and when its answer carried no tokens:
 * any poll may be the one that spends the device code. Returns what puts the transport back.
 */
function aroundEachPoll(issuer: Issuer, options: DeviceFlowOptions): () => void {
  const send = issuer.config[oidc.customFetch]
  if (!options.beforeGrant || !send) return () => {}
  issuer.config[oidc.customFetch] = async (url, init) => {
    options.beforeGrant?.()
    const answer = await send(url, init).catch((error: unknown) => {
      options.grantRefused?.()
      throw error
    })
    if (!answer.ok) options.grantRefused?.()
    return answer
  }
  return () => {
    issuer.config[oidc.customFetch] = send
  }
}
