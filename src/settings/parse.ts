import {isIPv4} from 'node:net'

import {REFRESH_AHEAD_MODES, STORAGE_KINDS, type RefreshAheadMode, type StorageSetting} from './settings.js'

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
