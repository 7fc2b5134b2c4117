import {AuthError} from '../errors.js'
import {oneLineSafe, redactSecrets} from '../safe-text.js'
import type {Operation} from './errors.js'

export interface LibraryFailureContext {
  /** "the issuer at https://…" */
  server: string
  /** What we were trying to do: "complete the sign-in". */
  doing: string
  operation: Operation
  issuer: string
  clientId?: string
}

/** What openid-client (and oauth4webapi under it) attach to a failure they report by code. */
interface CodedFailure {
  code?: unknown
  message?: unknown
  cause?: {message?: unknown; cause?: Details} & Details
}

interface Details {
  expected?: unknown
  claim?: unknown
  attribute?: unknown
  claims?: Record<string, unknown>
  parameters?: URLSearchParams
  body?: Record<string, unknown>
}

/**
 * The failures openid-client reports by a code (`OAUTH_…`, see oauth4webapi's exported constants),
 * each in words: what the answer was, what it likely means, what to do. The code stays in brackets
 * for whoever searches for it, never as the only explanation. The meaning follows the code and the
 * details the library attached, never the wording of its message.
 */
export function libraryFailure(error: unknown, context: LibraryFailureContext): AuthError {
  const e = (error ?? {}) as CodedFailure
  const code = typeof e.code === 'string' ? e.code : undefined
  const details: Details = {...e.cause?.cause, ...e.cause}
  const Server = capitalize(context.server)
  const tag = code ? ` (${code})` : ''
  const fail = (message: string, suggestion?: string, kind: 'LOGIN_FAILED' | 'CONFIG_INVALID' = 'LOGIN_FAILED') => new AuthError(kind, message, {cause: error, suggestion})

  switch (code) {
    case 'OAUTH_JWT_CLAIM_COMPARISON_FAILED': {
      const claim = typeof details.claim === 'string' ? details.claim : undefined
      const actual = claim ? details.claims?.[claim] : undefined
      if (claim === 'iss') return otherIssuer(error, context, actual, 'ID token')
      if (claim === 'aud' || claim === 'azp') {
        return fail(`${Server} sent an ID token made for another client (its ${claim} is ${shown(actual)}, this CLI is client '${context.clientId ?? '?'}')${tag}.`, "Check the clientId setting; if it is right, tell the issuer's administrators.", 'CONFIG_INVALID')
      }
      if (claim === 'nonce') return fail(`${Server} sent an ID token that does not belong to this sign-in (its nonce differs)${tag}; nothing was stored.`, 'Sign in again; if it happens again, tell the issuer\'s administrators.')
      return fail(`${Server} sent a token whose ${claim ? `"${claim}" claim` : 'claims'} did not match this sign-in${tag}; nothing was stored.`, 'Sign in again; if it happens again, tell the issuer\'s administrators.')
    }
    case 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED':
      if (details.attribute === 'issuer') return otherIssuer(error, context, details.body?.issuer, 'metadata')
      if (context.operation === 'userinfo') return fail(`${Server} answered userinfo for another user than the one who signed in${tag}; nothing was stored.`, "Sign in again; if it happens again, tell the issuer's administrators.")
      return fail(`${Server} answered with ${shown(details.attribute)} other than expected while trying to ${context.doing}${tag}.`, "Check the issuer setting; if it is right, tell the issuer's administrators.")
    case 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED':
      return fail(`${Server} sent a token that is expired or not yet valid by this machine's clock (its ${shown(details.claim)})${tag}.`, "Check this machine's date, time and time zone, then sign in again.")
    case 'OAUTH_KEY_SELECTION_FAILED':
      return fail(`None of the keys ${context.server} publishes matches the signature of the ID token it sent${tag}; nothing was stored.`, "Tell the issuer's administrators (its jwks_uri does not hold the signing key).")
    case 'OAUTH_UNSUPPORTED_OPERATION':
      return fail(`${Server} signs or encrypts with an algorithm this CLI cannot use${tag}.`, "Ask the issuer's administrators to sign ID tokens with RS256 or ES256 for this client.")
    case 'OAUTH_DECRYPTION_FAILED':
      return fail(`${Server} sent an encrypted token this CLI cannot decrypt${tag}.`, "Ask the issuer's administrators not to encrypt ID tokens for this client.", 'CONFIG_INVALID')
    case 'OAUTH_HTTP_REQUEST_FORBIDDEN':
    case 'OAUTH_REQUEST_PROTOCOL_FORBIDDEN':
      return fail(`${Server} names an endpoint that is not https; nothing was sent there${tag}.`, 'Check the issuer setting (https), or, for an issuer on this machine, use http://127.0.0.1.', 'CONFIG_INVALID')
    case 'OAUTH_MISSING_SERVER_METADATA':
    case 'OAUTH_INVALID_SERVER_METADATA': {
      const endpoint = typeof details.attribute === 'string' ? details.attribute.replaceAll('_', ' ') : 'endpoint'
      const missing = code === 'OAUTH_MISSING_SERVER_METADATA'
      return fail(`${Server} ${missing ? 'names no' : 'names an unusable'} ${endpoint} in its metadata, which is needed to ${context.doing}${tag}.`, endpoint.startsWith('device') ? 'Sign in with the browser instead (without --device).' : 'Check the issuer setting, or set its endpoints by hand (the endpoints setting).', 'CONFIG_INVALID')
    }
    case 'OAUTH_RESPONSE_IS_NOT_JSON':
      return fail(`${Server} answered with something that is not JSON (a web page?) while trying to ${context.doing}${tag}.`, 'Check the issuer setting: it is the URL before /.well-known/openid-configuration.')
    case 'OAUTH_PARSE_ERROR':
    case 'OAUTH_INVALID_RESPONSE':
    case 'OAUTH_RESPONSE_IS_NOT_CONFORM':
    case 'OAUTH_JWT_USERINFO_EXPECTED': {
      // The authorization response's `iss` (RFC 9207) names another issuer: a settings problem too.
      const named = details.parameters instanceof URLSearchParams ? details.parameters.get('iss') : undefined
      if (named && named !== context.issuer) return otherIssuer(error, context, named, 'authorization response')
      const what = typeof e.cause?.message === 'string' ? `: ${clip(e.cause.message)}` : ''
      return fail(`${Server} sent an answer that is not a valid OAuth answer while trying to ${context.doing}${what}${tag}; nothing was stored.`, "Tell the issuer's administrators; check the issuer setting first.")
    }
    case 'OAUTH_ABORT':
      return new AuthError('TRANSIENT', `The request to ${context.server} was cut off while trying to ${context.doing}${tag}.`, {cause: error, reason: 'request cut off', suggestion: 'This is temporary and nothing was lost: retry.'})
    default: {
      const what = typeof e.message === 'string' && e.message ? `: ${clip(e.message)}` : ''
      return fail(`Could not ${context.doing} with ${context.server}${what}${tag}.`)
    }
  }
}

/**
 * The issuer setting names one issuer and the server's answer another: a mistyped issuer that a
 * server answers anyway (django-oauth-toolkit's RFC 8414 endpoint echoes any path as its issuer).
 */
function otherIssuer(error: unknown, context: LibraryFailureContext, named: unknown, where: string): AuthError {
  const other = typeof named === 'string' && named ? clip(named) : undefined
  return new AuthError('CONFIG_INVALID', `The ${where} from the server names ${other ? `the issuer ${other}` : 'another issuer'}, but the issuer setting is ${context.issuer}: the setting does not name this server as it calls itself.`, {
    cause: error,
    suggestion: other ? `Set the issuer to ${other} (check the setting for a typo), then sign in again.` : 'Check the issuer setting for a typo, then sign in again.',
  })
}

function shown(value: unknown): string {
  if (typeof value === 'string') return `'${clip(value)}'`
  if (Array.isArray(value)) return value.map(shown).join(', ')
  return value === undefined ? 'unknown' : clip(JSON.stringify(value) ?? String(value))
}

function clip(text: string): string {
  const line = oneLineSafe(redactSecrets(text))
  return line.length > 160 ? `${line.slice(0, 157)}...` : line
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
