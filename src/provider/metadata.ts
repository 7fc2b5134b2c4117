import * as oidc from 'openid-client'

import {AuthError} from '../errors.js'
import type {TransportSettings} from '../transport/transport-fetch.js'
import {boundedFetch} from './bounded-fetch.js'

/** What discovery found, how long it may be kept, and the Configuration it made (when usable as is). */
export interface DiscoveredMetadata {
  metadata: oidc.ServerMetadata
  /** From Cache-Control: 0 means do not keep it; null means the issuer did not say. */
  maxAgeSeconds: number | null
  /**
   * The Configuration openid-client built while discovering. Kept when nothing was merged into its
   * metadata: for Entra ID's multi-tenant `/common` issuer it alone knows to check the ID token's
   * `iss` against the `{tenantid}` template (a rebuilt one would not).
   */
  config?: oidc.Configuration
  /** The issuer was asked for its RFC 8414 document and has none. */
  rfc8414Missing?: boolean
}

/** Endpoints that OpenID discovery may leave out and RFC 8414 metadata may name. */
const OPTIONAL_ENDPOINTS = ['revocation_endpoint', 'device_authorization_endpoint'] as const

/**
 * OpenID Connect discovery (`<issuer>/.well-known/openid-configuration`) first, then RFC 8414
 * (`/.well-known/oauth-authorization-server<path>`, §3.1), and an endpoint the first document leaves
 * out is taken from the second when the issuer publishes both. Both documents must name the same
 * issuer (openid-client checks each against the configured one).
 */
export async function discoverMetadata(url: URL, clientId: string, auth: oidc.ClientAuth, options: {insecure: boolean; timeoutSeconds: number; withoutRfc8414?: boolean; transport: TransportSettings}): Promise<DiscoveredMetadata> {
  const fetchDocument = async (algorithm: 'oidc' | 'oauth2') => {
    let maxAgeSeconds: number | null = null
    const config = await oidc.discovery(url, clientId, undefined, auth, {
      algorithm,
      execute: options.insecure ? [oidc.allowInsecureRequests] : [],
      timeout: options.timeoutSeconds,
      [oidc.customFetch]: boundedFetch(url.href, options.transport, (_, response) => {
        maxAgeSeconds = maxAge(response.headers.get('cache-control'))
      }),
    })
    return {config, metadata: config.serverMetadata() as oidc.ServerMetadata, maxAgeSeconds}
  }

  let openid
  try {
    openid = await fetchDocument('oidc')
  } catch (error) {
    if (!isMissingDocument(error)) throw error
    try {
      return await fetchDocument('oauth2')
    } catch (second) {
      if (!isMissingDocument(second)) throw second
      throw new AuthError('CONFIG_INVALID', `The issuer at ${url.href.replace(/\/$/, '')} publishes no metadata: neither OpenID Connect discovery nor RFC 8414 (${answers(error, second)}).`, {
        cause: second,
        suggestion: 'Check the issuer setting (the URL before /.well-known/…); for an issuer without metadata, set its endpoints by hand (the endpoints setting).',
      })
    }
  }
  if (OPTIONAL_ENDPOINTS.every((key) => openid.metadata[key]) || options.withoutRfc8414) return openid
  // Some issuers publish the rest in their RFC 8414 document only; without one, what we have is all.
  let rfc8414Missing = false
  const oauth = await fetchDocument('oauth2').catch((error: unknown) => {
    rfc8414Missing = isMissingDocument(error)
    return undefined
  })
  const extra = OPTIONAL_ENDPOINTS.filter((key) => !openid.metadata[key] && typeof oauth?.metadata[key] === 'string')
  if (!oauth || extra.length === 0) return {...openid, rfc8414Missing}
  const metadata = {...openid.metadata}
  for (const key of extra) metadata[key] = oauth.metadata[key]
  return {metadata, maxAgeSeconds: smallest(openid.maxAgeSeconds, oauth.maxAgeSeconds)}
}

/** Not there (404, 410), or something that is not a metadata document (an HTML page answering every path). */
function isMissingDocument(error: unknown): boolean {
  const e = error as {code?: string; cause?: unknown}
  if (e?.code === 'OAUTH_RESPONSE_IS_NOT_JSON') return true
  const response = e?.cause instanceof Response ? e.cause : undefined
  // 401 too: LemonLDAP::NG answers every path it does not serve so.
  return Boolean(response && [401, 403, 404, 405, 410].includes(response.status))
}

/** How the two metadata requests were answered: "both not found", "answered 401 and 401". */
function answers(...errors: unknown[]): string {
  const statuses = errors.map((error) => {
    const cause = (error as {cause?: unknown})?.cause
    return cause instanceof Response ? cause.status : undefined
  })
  if (statuses.every((status) => status === 404)) return 'both not found'
  return `answered ${statuses.map((status) => status ?? 'with no metadata document').join(' and ')}`
}

function maxAge(header: string | null): number | null {
  if (!header) return null
  if (/\b(no-store|no-cache)\b/i.test(header)) return 0
  const match = /\bmax-age=(\d+)/i.exec(header)
  return match ? Number(match[1]) : null
}

function smallest(a: number | null, b: number | null): number | null {
  if (a === null) return b
  if (b === null) return a
  return Math.min(a, b)
}
