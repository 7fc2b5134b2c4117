import type {SettingsLayer} from './resolve.js'
import type {AuthSettings} from './settings.js'
import {SETTING_SPECS} from './specs.js'

/*
 * The binding rule (docs/security.md, Binding): a secret, a key, a federated token, a set of
 * endpoints or an issuer's extra parameters belong to the issuer (and client) they were configured
 * with, which is the issuer and client id their own settings layer sees: that layer's, else the
 * next lower one's. `--issuer X` over a secret that ACME_AUTH_ISSUER=Y came with, or
 * ACME_AUTH_ISSUER=X over the host's endpoints for its own issuer, does not carry them to X.
 */

/** What proves we are a client: sent only to the issuer and client it was configured for. */
export const CLIENT_BOUND_KEYS = ['clientSecret', 'clientAssertionKey', 'federatedTokenFile', 'federatedTokenCommand'] as const
/** What describes one issuer (any client at it): used only for that issuer. */
export const ISSUER_BOUND_KEYS = ['endpoints', 'audience', 'resource', 'authorizationParams', 'identityClaims'] as const

export type ClientBoundKey = (typeof CLIENT_BOUND_KEYS)[number]
export type BoundKey = ClientBoundKey | (typeof ISSUER_BOUND_KEYS)[number]
export type BoundSettings = Partial<Pick<AuthSettings, BoundKey>>

/** The issuer and client id a bound setting was configured with, and which layer gave it. */
export interface Binding {
  issuer?: string
  clientId?: string
  layer: SettingsLayer['kind']
}

/** The issuer and client of an operation: the configured sign-in, or a stored login. */
export interface BindingTarget {
  issuer: string
  clientId: string
}

/** A bound setting that was configured for another issuer or client than the operation's. */
export interface Misbound {
  key: BoundKey
  /** Where it was set: `ACME_AUTH_CLIENT_SECRET`, `endpoints in …/auth.json`. */
  source: string
  binding: Binding
}

/** At resolution: for each bound setting that is set, the issuer and client id its layer sees. */
export function bindingsOf(layers: SettingsLayer[]): Partial<Record<BoundKey, Binding>> {
  const bindings: Partial<Record<BoundKey, Binding>> = {}
  const seenFrom = (start: number, key: 'issuer' | 'clientId'): string | undefined => {
    const raw = layers.slice(start).find((layer) => layer.values[key] !== undefined)?.values[key]
    // Every value was validated by resolveSettings before this runs.
    return raw === undefined ? undefined : (SETTING_SPECS[key].parse(raw) as string)
  }
  for (const key of [...CLIENT_BOUND_KEYS, ...ISSUER_BOUND_KEYS]) {
    const at = layers.findIndex((layer) => layer.values[key] !== undefined)
    if (at === -1) continue
    bindings[key] = {issuer: seenFrom(at, 'issuer'), clientId: seenFrom(at, 'clientId'), layer: layers[at].kind}
  }
  return bindings
}

/**
 * The bound settings an operation at `target` may use, and those it may not (configured for another
 * issuer or client). The one place that decides it: every secret, key, federated token, endpoint
 * and extra parameter taken from the settings is taken from `usable`.
 */
export function settingsFor(settings: AuthSettings, target: BindingTarget): {usable: BoundSettings; misbound: Misbound[]} {
  const usable: BoundSettings = {}
  const misbound: Misbound[] = []
  for (const key of [...CLIENT_BOUND_KEYS, ...ISSUER_BOUND_KEYS]) {
    const value = settings[key]
    if (value === undefined) continue
    // A resolved value without a binding is a built-in default (no issuer's in particular); settings
    // made by hand without any bindings are the configured client's.
    const binding = settings.bindings ? settings.bindings[key] : {issuer: settings.issuer, clientId: settings.clientId, layer: 'host' as const}
    if (!binding || (binding.issuer === target.issuer && (!isClientBound(key) || binding.clientId === target.clientId))) Object.assign(usable, {[key]: value})
    else misbound.push({key, source: settings.sources[key] ?? key, binding})
  }
  return {usable, misbound}
}

/** "client 'acme-cli' at https://id.example.com", or for an issuer-bound setting just the issuer. */
export function describeBinding(binding: {issuer?: string; clientId?: string}, withClient: boolean): string {
  const issuer = binding.issuer ?? 'no issuer'
  return withClient && binding.clientId ? `client '${binding.clientId}' at ${issuer}` : issuer
}

export function isClientBound(key: BoundKey): key is ClientBoundKey {
  return (CLIENT_BOUND_KEYS as readonly string[]).includes(key)
}
