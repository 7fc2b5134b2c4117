import {HOOK_SETTING_SPECS} from './hook-specs.js'
import {
  parseAuthorizationParams,
  parseBoolean,
  parseBytes,
  parseDPoP,
  parseEndpoints,
  parseIdentityClaims,
  parseIssuer,
  parsePorts,
  parseRedirectHost,
  parseRedirectPath,
  parseResources,
  parseScopes,
  parseSeconds,
  parseSecret,
  parseStorage,
  parseText,
} from './parse.js'
import {DEFAULT_SCOPES, type SettingKey} from './settings.js'

/** How one setting is read, validated and named in each place it can come from. */
export interface SettingSpec {
  parse: (raw: unknown) => unknown
  fallback?: unknown
  /** Suffix for the scoped env var: `AUTH_ISSUER` → `ACME_AUTH_ISSUER`. */
  env?: string
  /** Name in the host's `oclif.auth` block and the user settings file. */
  fileKey: string
  flag?: string
  /**
   * Only the host's package.json may set it: which commands need a token is the CLI's design,
   * when to refresh ahead is read by the init hook (which reads no settings file), and plain http
   * to a remote issuer is the author's decision, not something a user file or variable turns on.
   */
  hostOnly?: boolean
  /**
   * Only the environment (and flags) set it: a per-shell choice. The lasting choice is the default
   * account, set by `auth switch`; and the init hook, which reads no settings file, must see it too.
   */
  envOnly?: boolean
}

/**
 * Every setting of the plugin: the one table the commands and the hooks resolve from. The hooks'
 * four rows are defined in hook-specs.ts and resolved from there by the hooks.
 */
export const SETTING_SPECS: Record<SettingKey, SettingSpec> = {
  issuer: {parse: parseIssuer, env: 'AUTH_ISSUER', fileKey: 'issuer', flag: 'issuer'},
  clientId: {parse: parseText, env: 'AUTH_CLIENT_ID', fileKey: 'clientId', flag: 'client-id'},
  scopes: {parse: parseScopes, fallback: DEFAULT_SCOPES, env: 'AUTH_SCOPES', fileKey: 'scopes', flag: 'scopes'},
  storage: {parse: parseStorage, fallback: 'auto', env: 'AUTH_STORAGE', fileKey: 'storage', flag: 'storage'},
  requireAuth: HOOK_SETTING_SPECS.requireAuth,
  refreshAhead: HOOK_SETTING_SPECS.refreshAhead,
  refreshAheadWindowSeconds: HOOK_SETTING_SPECS.refreshAheadWindowSeconds,
  loginTimeoutSeconds: {parse: parseSeconds, fallback: 300, env: 'AUTH_LOGIN_TIMEOUT', fileKey: 'loginTimeout'},
  requestTimeoutSeconds: {parse: parseSeconds, fallback: 20, env: 'AUTH_REQUEST_TIMEOUT', fileKey: 'requestTimeout'},
  keyringTimeoutSeconds: {parse: parseSeconds, fallback: 3, env: 'AUTH_KEYRING_TIMEOUT', fileKey: 'keyringTimeout'},
  lockWaitSeconds: {parse: parseSeconds, fallback: 30, env: 'AUTH_LOCK_WAIT', fileKey: 'lockWait'},
  keyringEntryLimit: {parse: parseBytes, env: 'AUTH_KEYRING_ENTRY_LIMIT', fileKey: 'keyringEntryLimit'},
  caFile: {parse: parseText, env: 'AUTH_CA_FILE', fileKey: 'caFile'},
  allowInsecureIssuer: {parse: parseBoolean, fallback: false, fileKey: 'allowInsecureIssuer', hostOnly: true},
  account: HOOK_SETTING_SPECS.account,
  redirectHost: {parse: parseRedirectHost, fallback: '127.0.0.1', env: 'AUTH_REDIRECT_HOST', fileKey: 'redirectHost'},
  redirectPorts: {parse: parsePorts, env: 'AUTH_REDIRECT_PORT', fileKey: 'redirectPort'},
  redirectPath: {parse: parseRedirectPath, fallback: '/callback', env: 'AUTH_REDIRECT_PATH', fileKey: 'redirectPath'},
  audience: {parse: parseText, env: 'AUTH_AUDIENCE', fileKey: 'audience'},
  resource: {parse: parseResources, env: 'AUTH_RESOURCE', fileKey: 'resource'},
  clientSecret: {parse: parseSecret, env: 'AUTH_CLIENT_SECRET', fileKey: 'clientSecret'},
  authorizationParams: {parse: parseAuthorizationParams, fallback: {}, fileKey: 'authorizationParams', hostOnly: true},
  endpoints: {parse: parseEndpoints, fileKey: 'endpoints'},
  identityClaims: {parse: parseIdentityClaims, fileKey: 'claims'},
  exportToken: {parse: parseBoolean, fallback: true, fileKey: 'exportToken', hostOnly: true},
  clientAssertionKey: {parse: parseText, env: 'AUTH_CLIENT_ASSERTION_KEY', fileKey: 'clientAssertionKey', flag: 'client-assertion-key'},
  federatedTokenFile: {parse: parseText, env: 'AUTH_FEDERATED_TOKEN_FILE', fileKey: 'federatedTokenFile'},
  federatedTokenCommand: {parse: parseText, env: 'AUTH_FEDERATED_TOKEN_COMMAND', fileKey: 'federatedTokenCommand'},
  dpop: {parse: parseDPoP, fallback: 'off', env: 'AUTH_DPOP', fileKey: 'dpop'},
}

export const SETTING_KEYS = Object.keys(SETTING_SPECS) as SettingKey[]
