import type {Binding, BoundKey} from './binding.js'
import type {EndpointSettings, IdentityClaims} from './parse.js'

/**
 * The resolved, validated settings of the plugin. Each value remembers where it came from so a bad
 * one can be reported as "ACME_AUTH_STORAGE: unknown storage 'vault'", not as a mystery.
 */

/** Where secrets can live; `exec:<command>` names a credential helper. */
export const STORAGE_KINDS = ['auto', 'keyring', 'file', 'memory', 'exec:<command>'] as const
/** A backend that holds secrets; `auto` is a choice between two of them, made at login. */
export type BackendKind = 'keyring' | 'file' | 'memory' | `exec:${string}`
export type StorageSetting = 'auto' | BackendKind

/**
 * DPoP (RFC 9449): `off` by default, since the host's API must accept DPoP-bound tokens too; `on`
 * requires it of the issuer; `auto` uses it where the issuer's metadata lists it.
 */
export const DPOP_MODES = ['off', 'on', 'auto'] as const
export type DPoPMode = (typeof DPOP_MODES)[number]

export const REFRESH_AHEAD_MODES = ['background', 'inline', 'off'] as const
export type RefreshAheadMode = (typeof REFRESH_AHEAD_MODES)[number]

export interface AuthSettings {
  /** Issuer URL without a trailing slash; undefined when the host configured none. */
  issuer?: string
  clientId?: string
  scopes: string[]
  storage: StorageSetting
  /** Command id patterns (`*` wildcard) that need a token, from the host's `commands.require`. */
  requireAuth: string[]
  refreshAhead: RefreshAheadMode
  /** Refresh ahead this long before expiry; undefined: a quarter of the lifetime, 60 s to 5 min. */
  refreshAheadWindowSeconds?: number
  /** How long `auth login` waits for the browser or the device approval. */
  loginTimeoutSeconds: number
  /** Time box of each HTTP request to the issuer. */
  requestTimeoutSeconds: number
  /** Time box of each keychain call. */
  keyringTimeoutSeconds: number
  /**
   * How long a command waits for another command's refresh or store write of the same login
   * before it exits 75 (a refresh's answer that cannot wait that long goes to the rescue file).
   */
  lockWaitSeconds: number
  /** Split keychain entries larger than this (bytes); undefined: the platform's limit. */
  keyringEntryLimit?: number
  /** A PEM file of certificate authorities trusted besides Node's own (a company's TLS-inspecting proxy). */
  caFile?: string
  /** Plain http is refused for issuers other than loopback unless this is set. */
  allowInsecureIssuer: boolean
  /** The account commands use instead of the default (subject, email, name or key), like `--account`. */
  account?: string
  /** The loopback redirect of the browser flow: host as the issuer registered it, ports tried in order (none: any free port), path. */
  redirectHost: string
  redirectPorts?: number[]
  redirectPath: string
  /** Auth0's `audience`: the API the access token is for. */
  audience?: string
  /** RFC 8707 resource indicators, sent on the authorization, token and refresh requests. */
  resource?: string[]
  /** An installed app's client secret (Google, some Entra and Okta setups): not a real secret, never printed all the same. */
  clientSecret?: string
  /** Extra parameters of the authorization request, e.g. Google's `access_type`: host only. */
  authorizationParams: Record<string, string>
  /** Endpoints set by hand, used instead of discovery. */
  endpoints?: EndpointSettings
  /** Claims that name the account in a userinfo or profile answer, where there is no ID token. */
  identityClaims?: IdentityClaims
  /** Put the token in `ACME_ACCESS_TOKEN` for child processes of commands that need auth. */
  exportToken: boolean
  /** A machine's private key (PEM or JWK file) for `private_key_jwt` (RFC 7523). */
  clientAssertionKey?: string
  /** A file holding a JWT from another issuer (a CI system), re-read for every new token: workload identity federation. */
  federatedTokenFile?: string
  /** A command that prints such a JWT (GitHub Actions' ACTIONS_ID_TOKEN_REQUEST_URL, say), run for every new token. */
  federatedTokenCommand?: string
  /** Sender-constrained tokens (RFC 9449): bind the tokens of a new sign-in to a key this login holds. */
  dpop: DPoPMode
  /** Where each value came from, for error messages and `auth status`. */
  sources: Partial<Record<SettingKey, string>>
  /** The issuer and client each secret, key, endpoint set or extra parameter was set for (binding.ts): read them through settingsFor(). */
  bindings?: Partial<Record<BoundKey, Binding>>
}

export type SettingKey =
  | 'issuer'
  | 'clientId'
  | 'scopes'
  | 'storage'
  | 'requireAuth'
  | 'refreshAhead'
  | 'refreshAheadWindowSeconds'
  | 'loginTimeoutSeconds'
  | 'requestTimeoutSeconds'
  | 'allowInsecureIssuer'
  | 'caFile'
  | 'keyringTimeoutSeconds'
  | 'lockWaitSeconds'
  | 'keyringEntryLimit'
  | 'account'
  | 'redirectHost'
  | 'redirectPorts'
  | 'redirectPath'
  | 'audience'
  | 'resource'
  | 'clientSecret'
  | 'authorizationParams'
  | 'endpoints'
  | 'identityClaims'
  | 'exportToken'
  | 'clientAssertionKey'
  | 'federatedTokenFile'
  | 'federatedTokenCommand'
  | 'dpop'

export const DEFAULT_SCOPES = ['openid', 'profile', 'email', 'offline_access']
