import {AuthError} from '../errors.js'
import {oneLineSafe, redactSecrets} from '../safe-text.js'
import {networkReason} from '../transport/failures.js'
import {bufferedBody} from './bounded-fetch.js'
import {libraryFailure} from './library-failures.js'

/** What we were asking the issuer for: decides what a failure means, apart from how it is worded. */
export type Operation = 'discovery' | 'authorization' | 'code-exchange' | 'device-authorization' | 'device-poll' | 'refresh' | 'client-credentials' | 'revocation' | 'userinfo'

/** How each operation reads in a message: "while trying to <doing>". */
const DOING: Record<Operation, string> = {
  discovery: 'discover its endpoints',
  authorization: 'start the sign-in',
  'code-exchange': 'complete the sign-in',
  'device-authorization': 'start a device sign-in',
  'device-poll': 'complete the device sign-in',
  refresh: 'refresh the access token',
  'client-credentials': "get a token with the client's own credentials",
  revocation: 'revoke the token',
  userinfo: 'read the signed-in user from userinfo',
}

export interface FailureContext {
  issuer: string
  operation: Operation
  clientId?: string
  /** The redirect URI of a sign-in, named when the issuer refuses to start one. */
  redirectUri?: string
  /** A client secret went with the request: a refused client then most likely means a wrong secret. */
  clientSecretSent?: boolean
  /** The request carried a DPoP proof (RFC 9449). */
  dpop?: boolean
}

/** Failures that mean the issuer wants DPoP proofs from this client and got none: see demandsDPoP. */
const DPOP_DEMANDED = new WeakSet<AuthError>()

/**
 * A grant refused with a bare invalid_grant while we sent no proof: what oidc-provider answers a
 * client registered as DPoP-bound (its reason stays in its logs), and also what an expired code gets.
 */
const PROOF_MAYBE_WANTED = new WeakSet<AuthError>()

/**
 * The issuer refused a request for want of a DPoP proof (`certain`: it said so), or refused a grant
 * in a way such issuers do (`maybe`): the session names the setting that turns DPoP on.
 */
export function demandsDPoP(error: unknown): 'certain' | 'maybe' | undefined {
  const failure = error instanceof AuthError ? error : undefined
  if (!failure) return undefined
  if (DPOP_DEMANDED.has(failure)) return 'certain'
  if (PROOF_MAYBE_WANTED.has(failure)) return 'maybe'
  // A failure rewritten on its way up (a machine's refused grant at sign-in) keeps what it was.
  return failure.debugCause instanceof AuthError ? demandsDPoP(failure.debugCause) : undefined
}

/**
 * An endpoint of the issuer failed, after a connect that may have used cached metadata: the error
 * as an AuthError, with the cache dropped unless the endpoint answered as an OAuth endpoint does
 * (an error code in the body: it is where the metadata says). Anything else (a 404, a refused
 * connection, garbage) may mean it moved, and the next command asks the issuer again.
 */
export async function endpointFailure(issuer: {issuer: string; clientId: string; sendsClientSecret?: boolean; forgetMetadata(): Promise<void>}, error: unknown, operation: Operation, options: {dpop?: boolean} = {}): Promise<AuthError> {
  const failure = toAuthError(error, {issuer: issuer.issuer, clientId: issuer.clientId, operation, clientSecretSent: issuer.sendsClientSecret, dpop: options.dpop})
  if (typeof (error as {error?: unknown})?.error !== 'string' && !answeredAsOAuth(error)) await issuer.forgetMetadata()
  return failure
}

/** An OAuth error in a challenge's body (a token endpoint's 401 with `WWW-Authenticate: Basic`): the endpoint is where the metadata says. */
function answeredAsOAuth(error: unknown): boolean {
  return typeof challengeBodyError(error as {response?: unknown})?.error === 'string'
}

/**
 * The one place where failures from openid-client and fetch become AuthErrors. Only the server's
 * error code and a short description survive: request bodies, headers and URLs with codes stay in
 * `cause`, which is never rendered. What a failure means depends on `context.operation`, never on
 * how a message is worded.
 */
export function toAuthError(error: unknown, context: FailureContext): AuthError {
  if (error instanceof AuthError) return error
  // Our own fetch (bounded-fetch.ts) refused the answer; openid-client wraps what it throws.
  if ((error as {cause?: unknown})?.cause instanceof AuthError) return (error as {cause: AuthError}).cause
  const e = error as {name?: string; code?: string; error?: string; error_description?: string; status?: number; cause?: unknown}
  const server = `the issuer at ${context.issuer}`
  const doing = DOING[context.operation]

  if (e?.name === 'TimeoutError' || e?.name === 'AbortError' || e?.code === 'OAUTH_TIMEOUT') {
    return transient(`${capitalize(server)} did not answer in time while trying to ${doing}.`, error, 'no answer in time')
  }
  if (error instanceof TypeError && e.cause && typeof e.cause === 'object') {
    // The transport (transport/failures.ts) has said what a certificate or proxy failure is; what is left is the network's.
    const code = (e.cause as {code?: string}).code
    return transient(`Could not reach ${server} to ${doing} (${networkReason(code)}).`, error, networkReason(code))
  }
  if (typeof e?.error === 'string') {
    // An OAuth error response (RFC 6749 §5.2) or an error redirect (§4.1.2.1).
    const status = typeof e.status === 'number' ? e.status : undefined
    if (status !== undefined && (status >= 500 || status === 429)) {
      const what = status === 429 ? 'too many requests (429)' : `a server error (${status})`
      return transient(`${capitalize(server)} answered with ${what} while trying to ${doing}.`, error, what)
    }
    const detail = e.error_description ? `: ${clip(e.error_description)}` : ''
    if (!context.dpop && wantsProof(e.error, e.error_description)) {
      const failure = new AuthError('CONFIG_INVALID', `${capitalize(server)} requires DPoP-bound tokens (RFC 9449) for client '${context.clientId ?? '?'}' and refused to ${doing} without a proof (${e.error}${detail}).`, {
        cause: error,
        suggestion: 'Set the dpop setting to auto or on, then sign in again.',
      })
      DPOP_DEMANDED.add(failure)
      return failure
    }
    if (!context.dpop && e.error === 'invalid_grant' && GRANTS.has(context.operation)) {
      const failure = toAuthError(error, {...context, dpop: true})
      PROOF_MAYBE_WANTED.add(failure)
      return failure
    }
    if (e.error === 'temporarily_unavailable' || (e.error === 'slow_down' && context.operation !== 'device-poll')) {
      return transient(`${capitalize(server)} is temporarily unavailable (${e.error}) while trying to ${doing}.`, error, e.error)
    }
    // A secret that does not match (mistyped, rotated, meant for another client): said as such, since
    // "does not accept client id" would send the user after the wrong setting.
    if (e.error === 'invalid_client' && context.clientSecretSent && context.operation !== 'client-credentials') {
      return new AuthError('CONFIG_INVALID', `${capitalize(server)} does not accept the client secret sent for client '${context.clientId ?? '?'}' while trying to ${doing} (invalid_client${detail}).`, {
        cause: error,
        suggestion: "Check the client secret setting (clientSecret, or the CLI's …_AUTH_CLIENT_SECRET variable) and the clientId setting; a rotated secret has to be set anew.",
      })
    }
    // A refresh the issuer refuses for any reason but an outage or the client itself (invalid_grant,
    // or LemonLDAP::NG's invalid_request once its offline session ended): the login has to be made
    // again. The caller keeps the stored login and tombstones the refresh token.
    if (context.operation === 'refresh' && !['invalid_client', 'unauthorized_client'].includes(e.error)) {
      return new AuthError('REAUTH_REQUIRED', `${capitalize(server)} rejected the stored refresh token (${e.error}${detail}).`, {cause: error})
    }
    // A machine's credentials refused (a revoked client, a deleted key, a rotated secret): like a
    // refresh token the issuer no longer takes, the sign-in has to be done again.
    if (context.operation === 'client-credentials' && ['invalid_client', 'unauthorized_client', 'invalid_grant'].includes(e.error)) {
      return new AuthError('REAUTH_REQUIRED', `${capitalize(server)} no longer accepts the credentials of client '${context.clientId ?? '?'}' (${e.error}${detail}).`, {cause: error})
    }
    switch (e.error) {
      case 'access_denied':
        return new AuthError('ACCESS_DENIED', `The sign-in was denied at ${server} (access_denied${detail}).`, {
          cause: error,
          suggestion: 'Sign in again and approve the request; if you did, ask the administrators of the issuer for access.',
        })
      case 'invalid_client':
      case 'unauthorized_client':
        return new AuthError('CONFIG_INVALID', `${capitalize(server)} does not accept client id '${context.clientId ?? '?'}' (${e.error}${detail}).`, {
          cause: error,
          suggestion: 'Check the clientId setting with the CLI\'s author or your identity team.',
        })
      case 'consent_required':
        return new AuthError('ACCESS_DENIED', `The sign-in at ${server} needs your consent, and it was declined or not given (consent_required${detail}).`, {
          cause: error,
          suggestion: 'Sign in again and allow the access the CLI asks for; if no consent page appeared, ask the administrators of the issuer to grant it.',
        })
      case 'login_required':
      case 'interaction_required':
      case 'account_selection_required':
        return new AuthError('LOGIN_FAILED', `${capitalize(server)} wants you to sign in on its page, and the sign-in was asked to happen without it (${e.error}${detail}).`, {
          cause: error,
          suggestion: 'Remove prompt=none from the authorizationParams setting, or sign in with --device.',
        })
      case 'invalid_grant':
        return new AuthError('LOGIN_FAILED', `${capitalize(server)} refused to ${doing} (invalid_grant${detail}).`, {cause: error})
      case 'expired_token':
        return new AuthError('LOGIN_TIMEOUT', `The device code expired before the sign-in was approved.`, {cause: error})
      default:
        return new AuthError('LOGIN_FAILED', `${capitalize(server)} refused to ${doing} (${e.error}${detail}).`, {
          cause: error,
          // The usual reason an issuer refuses to start a sign-in it otherwise would: the redirect.
          suggestion: context.operation === 'authorization' && context.redirectUri
            ? `Check that the issuer has ${context.redirectUri} registered for client '${context.clientId ?? '?'}' (some accept only the exact port: set redirectPort to a registered one).`
            : undefined,
        })
    }
  }
  const response = e?.cause instanceof Response ? e.cause : undefined
  if (response) {
    if (response.ok) return libraryFailure(error, {server, doing, operation: context.operation, issuer: context.issuer, clientId: context.clientId})
    if (response.status >= 500 || response.status === 429) {
      return transient(`${capitalize(server)} answered with ${response.status} while trying to ${doing}.`, error, response.status === 429 ? 'too many requests (429)' : `a server error (${response.status})`)
    }
    // RFC 6749 §5.2 says invalid_grant; some servers send a bare 400 or 401 (Glewlwyd does). On a
    // refresh that can only mean the refresh token was refused: the same rules as invalid_grant.
    if (context.operation === 'client-credentials' && (response.status === 400 || response.status === 401)) {
      return new AuthError('REAUTH_REQUIRED', `${capitalize(server)} refused the credentials of client '${context.clientId ?? '?'}' (HTTP ${response.status} without an OAuth error).`, {cause: error})
    }
    if (context.operation === 'refresh' && (response.status === 400 || response.status === 401)) {
      return new AuthError('REAUTH_REQUIRED', `${capitalize(server)} refused the stored refresh token (HTTP ${response.status} without an OAuth error, taken as invalid_grant).`, {cause: error})
    }
    if (context.operation === 'authorization' && [400, 401, 403].includes(response.status)) {
      const redirect = context.redirectUri ? ` the redirect URI ${context.redirectUri} is not registered for client '${context.clientId ?? '?'}' (some issuers accept only the exact port), or` : ''
      return new AuthError('LOGIN_FAILED', `${capitalize(server)} refused to start the sign-in (HTTP ${response.status}) without saying why. Most likely${redirect} the client id is not known there.`, {
        cause: error,
        suggestion: 'Check the clientId setting and the redirect URIs registered at the issuer; a fixed port is set with redirectPort.',
      })
    }
    // Any refusal of a public document means "not here" (LemonLDAP::NG answers every unknown path 401).
    if (response.status >= 400 && response.status < 500 && context.operation === 'discovery') {
      return new AuthError('CONFIG_INVALID', `${capitalize(server)} has no OpenID Connect discovery document (it answered ${response.status}).`, {
        cause: error,
        suggestion: 'Check the issuer setting: it is the URL before /.well-known/openid-configuration.',
      })
    }
    return new AuthError('LOGIN_FAILED', `${capitalize(server)} gave an unexpected answer (${response.status}) while trying to ${doing}.`, {cause: error})
  }
  if (e?.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' && context.operation === 'discovery') {
    const reported = (e.cause as {body?: {issuer?: unknown}} | undefined)?.body?.issuer
    const named = typeof reported === 'string' ? ` (${clip(reported)})` : ''
    return new AuthError('CONFIG_INVALID', `${capitalize(server)} reports a different issuer identifier${named} than the one configured.`, {
      cause: error,
      suggestion: `Set the issuer exactly as the server reports it${named ? `: ${clip(String(reported))}` : ' in its discovery document'}.`,
    })
  }
  if (e?.code === 'OAUTH_WWW_AUTHENTICATE_CHALLENGE') {
    const challenges = (Array.isArray(e.cause) ? e.cause : []) as Array<{scheme?: string; parameters?: {error?: unknown; error_description?: unknown}}>
    // A resource server (userinfo) turned the access token away: expired, revoked or not its own.
    if (challenges.some((challenge) => challenge.scheme?.toLowerCase() === 'bearer')) {
      return new AuthError('LOGIN_FAILED', `${capitalize(server)} did not accept the access token while trying to ${doing} (it is expired, revoked or from another issuer).`, {cause: error})
    }
    // Anything else (a token endpoint's `Basic` challenge with invalid_client): its OAuth error decides,
    // in the challenge or, as RFC 6749 §5.2 has it, in the body.
    const parameters = challenges.find((challenge) => typeof challenge.parameters?.error === 'string')?.parameters ?? challengeBodyError(error as {response?: unknown})
    if (parameters) return toAuthError({error: parameters.error, error_description: parameters.error_description, status: e.status}, context)
    const status = typeof e.status === 'number' ? e.status : 401
    return toAuthError({cause: new Response(null, {status})}, context)
  }
  // Every other failure openid-client reports by a code: said in words, the code kept for searching.
  return libraryFailure(error, {server, doing, operation: context.operation, issuer: context.issuer, clientId: context.clientId})
}

/** The OAuth error in the body of an answer that also carried a `WWW-Authenticate` challenge. */
function challengeBodyError(error: {response?: unknown} | undefined): {error?: unknown; error_description?: unknown} | undefined {
  const response = error?.response
  if (!(response instanceof Response)) return undefined
  const text = bufferedBody(response)
  if (!text) return undefined
  try {
    const body = JSON.parse(text) as unknown
    return body && typeof body === 'object' && typeof (body as {error?: unknown}).error === 'string' ? (body as {error: string; error_description?: unknown}) : undefined
  } catch {
    return undefined
  }
}

/** The grants a client registered as DPoP-bound is refused without a proof. */
const GRANTS = new Set<Operation>(['code-exchange', 'device-poll', 'client-credentials'])

/**
 * RFC 9449 §7.1, §8: the DPoP error codes, or (oidc-provider, Keycloak) a refused grant whose
 * description says the proof is missing. Only asked when we sent none, so a wrong guess costs a
 * suggestion, never a meaning.
 */
function wantsProof(code: string, description: string | undefined): boolean {
  if (code === 'invalid_dpop_proof' || code === 'use_dpop_nonce') return true
  return (code === 'invalid_grant' || code === 'invalid_request' || code === 'invalid_client') && /\bdpop\b/i.test(description ?? '')
}

function transient(message: string, cause: unknown, reason: string): AuthError {
  return new AuthError('TRANSIENT', message, {cause, reason, suggestion: 'This is temporary and nothing was lost: retry when the issuer is reachable.'})
}

/**
 * Server-chosen text goes into our one-line messages: short, on one line, no control sequences,
 * and never a secret it echoes (redacted before clipping, so no half of one survives).
 */
function clip(text: string): string {
  const line = oneLineSafe(redactSecrets(text))
  return line.length > 160 ? `${line.slice(0, 157)}...` : line
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
