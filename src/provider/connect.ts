import * as oidc from 'openid-client'

import {AuthError} from '../errors.js'
import type {TransportSettings} from '../transport/transport-fetch.js'
import {isLoopbackHost, type EndpointSettings} from '../settings/parse.js'
import {boundedFetch} from './bounded-fetch.js'
import {machineAuthentication, secretAuthentication, type ClientCredential} from './client-credentials.js'
import {toAuthError} from './errors.js'
import {discoverMetadata, type DiscoveredMetadata} from './metadata.js'

/** An issuer we have discovered, with the client we act as. */
export interface Issuer {
  issuer: string
  clientId: string
  config: oidc.Configuration
  /** The metadata came from the cache: an endpoint that fails may have moved since. */
  fromCache: boolean
  /** Requests carry a client secret: a refused client then most likely means a wrong secret. */
  sendsClientSecret: boolean
  /** Drop cached metadata after an endpoint failed, so the next command asks the issuer again. */
  forgetMetadata(): Promise<void>
}

/** Who we are at which issuer: the configured client, or the one a stored account was signed in with. */
export interface ClientOf {
  issuer: string
  clientId: string
  /** An installed app's client secret (RFC 6749 §2.3.1); none for a public native client (RFC 8252 §8.5). */
  clientSecret?: string
  /** Endpoints set by hand: no discovery at all. */
  endpoints?: EndpointSettings
  /** A machine signing in as the client itself (client_credentials): how it authenticates. */
  credential?: ClientCredential
}

/** Server metadata kept between commands (store/metadata-cache.ts), so a refresh is one round trip. */
export interface MetadataCache {
  read(issuer: string): Promise<CachedMetadata | undefined>
  write(issuer: string, metadata: CachedMetadata, maxAgeSeconds: number): Promise<void>
  forget(issuer: string): Promise<void>
  /** Whether the issuer was found without an RFC 8414 document lately (see NO_RFC8414_SECONDS). */
  lacksRfc8414?(issuer: string): Promise<boolean>
  rememberLacksRfc8414?(issuer: string, seconds: number): Promise<void>
}

type CachedMetadata = {issuer: string} & Record<string, unknown>

export interface ConnectOptions {
  requestTimeoutSeconds: number
  allowInsecureIssuer: boolean
  /** How requests leave the process: the caFile setting and how this host names it (none: Node's certificate authorities only). */
  transport?: TransportSettings
  cache?: MetadataCache
  /** Ask the issuer even when the cache holds its metadata (sign-in: a stale endpoint would waste it). */
  fresh?: boolean
}

/** Metadata is kept at most this long, whatever the issuer's Cache-Control says. */
const MAX_CACHE_SECONDS = 24 * 3600

/**
 * That an issuer has no RFC 8414 document is remembered this long, whatever its OpenID document's
 * caching says: an issuer that marks discovery no-store would otherwise be asked for both on every
 * command (65 discovery and 39 RFC 8414 requests in one run of 242 commands).
 */
const NO_RFC8414_SECONDS = 24 * 3600

/**
 * The issuer's endpoints, from (in this order) the endpoints set by hand, the cache, OpenID Connect
 * discovery, RFC 8414 metadata (see metadata.ts), and the client authentication it takes.
 */
export async function connect(client: ClientOf, options: ConnectOptions): Promise<Issuer> {
  const transport = options.transport ?? {caFileVariable: 'the caFile setting'}
  const url = new URL(client.issuer)
  // openid-client refuses plain http; settings already limited it to loopback or an explicit opt-in.
  const insecure = url.protocol === 'http:' && (isLoopbackHost(url.hostname) || options.allowInsecureIssuer)
  const auth = client.credential ? await machineAuthentication(client.credential) : client.clientSecret ? secretAuthentication(client.clientSecret) : oidc.None()
  const finish = (config: oidc.Configuration, fromCache: boolean): Issuer => {
    if (insecure) oidc.allowInsecureRequests(config)
    config.timeout = options.requestTimeoutSeconds
    config[oidc.customFetch] = boundedFetch(client.issuer, transport)
    const forgetMetadata = async () => {
      if (fromCache) await options.cache?.forget(client.issuer).catch(() => {})
    }
    return {issuer: client.issuer, clientId: client.clientId, config, fromCache, sendsClientSecret: !client.credential && Boolean(client.clientSecret), forgetMetadata}
  }

  // Every source of endpoints gets the same transport check as discovery: settings, the endpoints a
  // login recorded in the index, and the cache (stored files, which may have been tampered with).
  if (client.endpoints) {
    const metadata = metadataFromEndpoints(client.issuer, client.endpoints)
    checkEndpoints(client.issuer, metadata, options.allowInsecureIssuer)
    return finish(new oidc.Configuration(metadata, client.clientId, undefined, auth), false)
  }
  if (!options.fresh) {
    const cached = (await options.cache?.read(client.issuer).catch(() => undefined)) as oidc.ServerMetadata | undefined
    if (cached && endpointsAsSafeAsIssuer(client.issuer, cached, options.allowInsecureIssuer)) return finish(new oidc.Configuration(cached, client.clientId, undefined, auth), true)
    // A cached document that fails the check is not used, nor kept: the issuer is asked again.
    if (cached) await options.cache?.forget(client.issuer).catch(() => {})
  }
  let discovered: DiscoveredMetadata
  const withoutRfc8414 = (await options.cache?.lacksRfc8414?.(client.issuer).catch(() => false)) ?? false
  try {
    discovered = await discoverMetadata(url, client.clientId, auth, {insecure, timeoutSeconds: options.requestTimeoutSeconds, withoutRfc8414, transport})
  } catch (error) {
    throw toAuthError(error, {issuer: client.issuer, clientId: client.clientId, operation: 'discovery'})
  }
  if (discovered.rfc8414Missing) await options.cache?.rememberLacksRfc8414?.(client.issuer, NO_RFC8414_SECONDS).catch(() => {})
  checkEndpoints(client.issuer, discovered.metadata, options.allowInsecureIssuer)
  if (discovered.maxAgeSeconds !== 0) {
    const maxAge = Math.min(discovered.maxAgeSeconds ?? MAX_CACHE_SECONDS, MAX_CACHE_SECONDS)
    await options.cache?.write(client.issuer, {...discovered.metadata}, maxAge).catch(() => {})
  }
  return finish(discovered.config ?? new oidc.Configuration(discovered.metadata, client.clientId, undefined, auth), false)
}

/**
 * `client_secret_basic` unless the issuer lists only `client_secret_post` (RFC 8414 §2: basic is the
 * default when it lists nothing), decided per request from the metadata in use.
 */
function metadataFromEndpoints(issuer: string, endpoints: EndpointSettings): oidc.ServerMetadata {
  const named: Record<string, string | undefined> = {
    authorization_endpoint: endpoints.authorization,
    device_authorization_endpoint: endpoints.deviceAuthorization,
    revocation_endpoint: endpoints.revocation,
    userinfo_endpoint: endpoints.userinfo,
    jwks_uri: endpoints.jwks,
  }
  const present = Object.entries(named).filter((entry): entry is [string, string] => entry[1] !== undefined)
  return {issuer, token_endpoint: endpoints.token, ...Object.fromEntries(present)}
}

const ENDPOINT_KEYS = [
  'authorization_endpoint',
  'token_endpoint',
  'device_authorization_endpoint',
  'revocation_endpoint',
  'userinfo_endpoint',
  'pushed_authorization_request_endpoint',
  'jwks_uri',
] as const

/**
 * Codes, verifiers and tokens go to these endpoints, so they must be as safe as the issuer itself:
 * an https issuer's endpoints are https, and a plain-http issuer on a loopback address keeps them on
 * loopback (a page on 127.0.0.1 must not send the code to another machine in the clear).
 */
function endpointsAsSafeAsIssuer(issuer: string, metadata: oidc.ServerMetadata, allowInsecureIssuer: boolean): boolean {
  try {
    checkEndpoints(issuer, metadata, allowInsecureIssuer)
    return true
  } catch {
    return false
  }
}

function checkEndpoints(issuer: string, metadata: oidc.ServerMetadata, allowInsecureIssuer: boolean): void {
  const issuerUrl = new URL(issuer)
  for (const key of ENDPOINT_KEYS) {
    const value = metadata[key]
    if (value === undefined) continue
    let endpoint: URL | undefined
    try {
      endpoint = typeof value === 'string' ? new URL(value) : undefined
    } catch {}
    const safe =
      endpoint &&
      (issuerUrl.protocol === 'https:'
        ? endpoint.protocol === 'https:'
        : endpoint.protocol === 'https:'
          ? true
          : endpoint.protocol === 'http:' && (isLoopbackHost(issuerUrl.hostname) ? isLoopbackHost(endpoint.hostname) : allowInsecureIssuer && endpoint.hostname === issuerUrl.hostname))
    if (!safe) {
      const shown = typeof value === 'string' ? value.slice(0, 200) : typeof value
      throw new AuthError('LOGIN_FAILED', `The issuer at ${issuer} names its ${key.replaceAll('_', ' ')} ${JSON.stringify(shown)}, which is not as safe as the issuer itself (${issuerUrl.protocol === 'https:' ? 'not https' : 'plain http off this machine'}); nothing was sent there.`, {
        suggestion: "Check the issuer setting; if it is right, tell the issuer's administrators.",
      })
    }
  }
}
