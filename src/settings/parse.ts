import {isIPv4} from 'node:net'

import {rememberSecret} from '../safe-text.js'

import {DPOP_MODES, REFRESH_AHEAD_MODES, STORAGE_KINDS, type DPoPMode, type RefreshAheadMode, type StorageSetting} from './settings.js'

/** A parser returns the value or throws a ParseProblem with a short reason ("expected …"). */
export class ParseProblem extends Error {}

/** Loopback by address, not by name prefix: `127.attacker.example` is a DNS name like any other. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || (isIPv4(hostname) && hostname.startsWith('127.'))
}

export function parseIssuer(raw: unknown): string {
  const text = parseText(raw)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new ParseProblem(`'${text}' is not a URL; expected something like https://id.example.com`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ParseProblem(`'${text}' is not an http(s) URL`)
  }
  if (url.search || url.hash) throw new ParseProblem(`'${text}' must not have a query or fragment`)
  const wellKnown = url.pathname.indexOf('/.well-known/')
  if (wellKnown !== -1) {
    // A common paste: the discovery URL instead of the issuer it belongs to.
    throw new ParseProblem(`'${text}' is a discovery document's address; the issuer is the part before /.well-known/: ${url.origin}${url.pathname.slice(0, wellKnown)}`)
  }
  // The issuer identifier is compared byte for byte with the `iss` the server reports, so keep the
  // path as given and only drop a trailing slash.
  return url.href.replace(/\/+$/, '')
}

export function parseText(raw: unknown): string {
  if (typeof raw !== 'string') throw new ParseProblem(`expected a string, got ${describe(raw)}`)
  const text = raw.trim()
  if (text === '') throw new ParseProblem('must not be empty')
  return text
}

export function parseScopes(raw: unknown): string[] {
  let scopes: unknown[]
  if (typeof raw === 'string') scopes = raw.split(/[\s,]+/).filter(Boolean)
  else if (Array.isArray(raw)) scopes = raw
  else throw new ParseProblem(`expected a list of scopes, got ${describe(raw)}`)
  if (scopes.length === 0) throw new ParseProblem('expected at least one scope')
  for (const scope of scopes) {
    // RFC 6749 §3.3: scope tokens are printable ASCII without space, '"' or '\'.
    if (typeof scope !== 'string' || !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(scope)) {
      throw new ParseProblem(`${describe(scope)} is not a valid scope`)
    }
  }
  return [...new Set(scopes as string[])]
}

export function parseStorage(raw: unknown): StorageSetting {
  const text = parseText(raw)
  if (text.startsWith('exec:')) {
    if (text.slice(5).trim() === '') throw new ParseProblem("'exec:' needs a command, e.g. exec:acme-vault-helper")
    return text as StorageSetting
  }
  if (!(STORAGE_KINDS as readonly string[]).includes(text)) {
    throw new ParseProblem(`unknown storage '${text}'; expected one of: ${STORAGE_KINDS.join(', ')}`)
  }
  return text as StorageSetting
}

export function parseRefreshAhead(raw: unknown): RefreshAheadMode {
  const text = parseText(raw)
  if (!(REFRESH_AHEAD_MODES as readonly string[]).includes(text)) {
    throw new ParseProblem(`unknown mode '${text}'; expected one of: ${REFRESH_AHEAD_MODES.join(', ')}`)
  }
  return text as RefreshAheadMode
}

export function parseDPoP(raw: unknown): DPoPMode {
  const text = parseText(raw)
  if (!(DPOP_MODES as readonly string[]).includes(text)) {
    throw new ParseProblem(`unknown mode '${text}'; expected one of: ${DPOP_MODES.join(', ')}`)
  }
  return text as DPoPMode
}

export function parseSeconds(raw: unknown): number {
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 86_400) {
    throw new ParseProblem(`expected a number of seconds above 0 and at most 86400, got ${describe(raw)}`)
  }
  return value
}

export function parseBoolean(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw
  if (raw === 'true' || raw === '1') return true
  if (raw === 'false' || raw === '0') return false
  throw new ParseProblem(`expected true or false, got ${describe(raw)}`)
}

export function parsePatterns(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.some((p) => typeof p !== 'string' || p.trim() === '')) {
    throw new ParseProblem(`expected a list of command id patterns, got ${describe(raw)}`)
  }
  return raw as string[]
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  return typeof value === 'object' ? 'an object' : String(value)
}

export function parseBytes(raw: unknown): number {
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 256) {
    throw new ParseProblem(`expected a whole number of bytes, at least 256, got ${describe(raw)}`)
  }
  return value
}

/** A loopback redirect's host: the issuer compares it as a string, so it is written as the issuer registered it. */
export function parseRedirectHost(raw: unknown): string {
  const text = parseText(raw)
  const host = text === '::1' ? '[::1]' : text
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) {
    throw new ParseProblem(`'${text}' is not a loopback host; expected 127.0.0.1, localhost or [::1] (RFC 8252 §7.3)`)
  }
  return host
}

/** One port, or several tried in order (the first free one is used); env: separated by spaces. */
export function parsePorts(raw: unknown): number[] {
  const items = typeof raw === 'string' ? raw.split(/[\s,]+/).filter(Boolean) : Array.isArray(raw) ? raw : [raw]
  if (items.length === 0) throw new ParseProblem('expected a port or a list of ports')
  const ports = items.map((item) => (typeof item === 'string' && /^\d+$/.test(item) ? Number(item) : item))
  for (const port of ports) {
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new ParseProblem(`${describe(port)} is not a port; expected whole numbers from 1 to 65535`)
    }
  }
  return [...new Set(ports as number[])]
}

export function parseRedirectPath(raw: unknown): string {
  const text = parseText(raw)
  if (!/^\/[\w\-./~%]*$/.test(text) || text.includes('//')) throw new ParseProblem(`'${text}' is not a path; expected something like /callback`)
  return text
}

/** RFC 8707 §2: each resource is an absolute URI without a fragment. */
export function parseResources(raw: unknown): string[] {
  const items = typeof raw === 'string' ? raw.split(/\s+/).filter(Boolean) : Array.isArray(raw) ? raw : undefined
  if (!items || items.length === 0) throw new ParseProblem(`expected one or more absolute URIs, got ${describe(raw)}`)
  for (const item of items) {
    let url: URL | undefined
    try {
      url = typeof item === 'string' ? new URL(item) : undefined
    } catch {}
    if (!url || url.hash || (item as string).includes('#')) throw new ParseProblem(`${describe(item)} is not an absolute URI without a fragment (RFC 8707)`)
  }
  return [...new Set(items as string[])]
}

/** Never quoted in a message: it may be a real secret pasted into the wrong place. */
export function parseSecret(raw: unknown): string {
  if (typeof raw !== 'string') throw new ParseProblem(`expected a string, got ${typeof raw === 'object' ? describe(raw) : typeof raw}`)
  const text = raw.trim()
  rememberSecret(text)
  if (text === '') throw new ParseProblem('must not be empty')
  if (/[\u0000-\u001f\u007f]/.test(text)) throw new ParseProblem('contains control characters')
  return text
}

/**
 * Parameters the plugin sets itself may not be overridden: a host's `redirect_uri` or `state`
 * would undo the protections of the flow.
 */
const RESERVED_PARAMETERS = new Set(['client_id', 'client_secret', 'redirect_uri', 'response_type', 'response_mode', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'scope', 'request', 'request_uri', 'resource', 'audience'])

export function parseAuthorizationParams(raw: unknown): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ParseProblem(`expected an object of parameter names and values, got ${describe(raw)}`)
  const params: Record<string, string> = {}
  for (const [name, value] of Object.entries(raw)) {
    if (!/^[\w.\-~]+$/.test(name)) throw new ParseProblem(`'${name}' is not a parameter name`)
    if (RESERVED_PARAMETERS.has(name)) throw new ParseProblem(`'${name}' is set by the plugin itself${name === 'scope' ? ' (use scopes)' : name === 'audience' || name === 'resource' ? ` (use the ${name} setting)` : ''}`)
    if (typeof value !== 'string') throw new ParseProblem(`the value of '${name}' must be a string`)
    params[name] = value
  }
  return params
}

/** Endpoints set by hand, for issuers that publish no metadata (GitHub OAuth apps). */
export interface EndpointSettings {
  authorization?: string
  token: string
  deviceAuthorization?: string
  revocation?: string
  userinfo?: string
  jwks?: string
}

const ENDPOINT_NAMES = ['authorization', 'token', 'deviceAuthorization', 'revocation', 'userinfo', 'jwks'] as const

export function parseEndpoints(raw: unknown): EndpointSettings {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ParseProblem(`expected an object of endpoint URLs, got ${describe(raw)}`)
  const endpoints: Record<string, string> = {}
  for (const [name, value] of Object.entries(raw)) {
    if (!(ENDPOINT_NAMES as readonly string[]).includes(name)) throw new ParseProblem(`unknown endpoint '${name}'; expected ${ENDPOINT_NAMES.join(', ')}`)
    endpoints[name] = parseEndpointUrl(value, name)
  }
  if (!endpoints.token) throw new ParseProblem('the token endpoint is needed')
  if (!endpoints.authorization && !endpoints.deviceAuthorization) throw new ParseProblem('an authorization or deviceAuthorization endpoint is needed to sign in')
  return endpoints as unknown as EndpointSettings
}

function parseEndpointUrl(raw: unknown, name: string): string {
  let url: URL
  try {
    url = new URL(parseText(raw))
  } catch {
    throw new ParseProblem(`${name}: ${describe(raw)} is not a URL`)
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw new ParseProblem(`${name}: ${url.href} must use https (plain http only on a loopback address)`)
  }
  if (url.hash) throw new ParseProblem(`${name}: must not have a fragment`)
  return url.href
}

/** Which claims of a userinfo or profile answer name the account, for issuers without ID tokens. */
export interface IdentityClaims {
  subject: string
  name?: string
  email?: string
}

export function parseIdentityClaims(raw: unknown): IdentityClaims {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ParseProblem(`expected an object such as {"subject": "id", "name": "login"}, got ${describe(raw)}`)
  const claims: Record<string, string> = {subject: 'sub'}
  for (const [name, value] of Object.entries(raw)) {
    if (!['subject', 'name', 'email'].includes(name)) throw new ParseProblem(`unknown key '${name}'; expected subject, name, email`)
    claims[name] = parseText(value)
  }
  return claims as unknown as IdentityClaims
}
