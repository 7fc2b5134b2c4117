import {AuthError} from '../errors.js'
import type {Issuer} from '../provider/api.js'
import type {AuthContext, ProviderApi} from './context.js'

/**
 * Whether a new sign-in binds its tokens to a key (RFC 9449), by the dpop setting and the issuer's
 * metadata: the new key (a private JWK as text), or undefined for bearer tokens. `on` with an issuer
 * that offers no DPoP is refused before anything is sent: a user who asked for bound tokens must not
 * end up with bearer ones.
 */
export async function dpopKeyForSignIn(context: AuthContext, provider: ProviderApi, issuer: Issuer): Promise<string | undefined> {
  const {dpop, sources} = context.settings
  if (dpop === 'off') return undefined
  const support = provider.dpopSupport(issuer.config.serverMetadata())
  if (support === 'supported') return provider.newDPoPKey()
  if (dpop === 'auto') return undefined
  const why = support === 'not-listed' ? 'its metadata lists no dpop_signing_alg_values_supported' : 'it does not list ES256 among its dpop_signing_alg_values_supported'
  throw new AuthError('CONFIG_INVALID', `dpop is on (${sources.dpop}), but the issuer at ${issuer.issuer} does not offer DPoP-bound tokens: ${why}.`, {
    suggestion: `Set dpop to auto to use DPoP only where the issuer offers it (${context.envNames.dpop}=auto), or ask the issuer's administrators to enable DPoP.`,
  })
}

/** A sign-in that got bearer tokens although it sent proofs: with dpop on, not what was asked for. */
export function checkBound(context: AuthContext, issuer: Issuer, tokenType: string): void {
  if (context.settings.dpop !== 'on' || tokenType === 'DPoP') return
  throw new AuthError('LOGIN_FAILED', `dpop is on (${context.settings.sources.dpop}), but the issuer at ${issuer.issuer} answered the proof with a ${tokenType} token, not a DPoP-bound one; nothing was stored.`, {
    suggestion: `Set dpop to auto to accept bearer tokens from this issuer (${context.envNames.dpop}=auto), or ask its administrators to bind tokens for this client.`,
  })
}

/**
 * The issuer wants DPoP from this client and it is off: the same failure, naming where to turn it on.
 * A bare invalid_grant (oidc-provider's answer) counts only where the issuer offers DPoP at all.
 */
export function explainDPoPDemand(context: AuthContext, provider: ProviderApi, issuer: Issuer, error: unknown): unknown {
  const demand = provider.demandsDPoP(error)
  if (!demand || context.settings.dpop !== 'off') return error
  if (demand === 'maybe' && provider.dpopSupport(issuer.config.serverMetadata()) !== 'supported') return error
  const failure = error as AuthError
  const {sources} = context.settings
  const off = sources.dpop && sources.dpop !== 'default' ? `dpop is off (${sources.dpop})` : 'dpop is off by default'
  const why = demand === 'certain' ? `${off}.` : `The issuer offers DPoP and ${off}: if client '${issuer.clientId}' is registered for DPoP-bound tokens, that is why.`
  const turnOn = `set dpop to auto or on: ${context.envNames.dpop}=auto, "dpop": "auto" in ${context.settingsFile}, or oclif.auth.dpop in the CLI's package.json; then sign in again.`
  // Only a guess when the issuer did not say: the step for the other reasons stays first.
  const suggestion = demand === 'certain' || !failure.suggestion ? capitalize(turnOn) : `${failure.suggestion} If the client is DPoP-bound, ${turnOn}`
  return new AuthError(failure.code, `${failure.message} ${why}`, {cause: failure, suggestion})
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
