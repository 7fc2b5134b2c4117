import {AuthError} from '../errors.js'
import type {ClientOf, ConnectOptions} from '../provider/api.js'
import {describeBinding, isClientBound, settingsFor, type BoundSettings, type Misbound} from '../settings/binding.js'
import type {AccountRecord} from '../store/account-index.js'
import type {Secrets} from '../store/secrets.js'
import {transportSettings, type AuthContext} from './context.js'

/**
 * The secrets, keys, endpoints and extra parameters of the settings that the configured sign-in may
 * use (the binding rule, settings/binding.ts). One that you set (a flag, the environment, your
 * settings file) for another issuer or client stops the sign-in: it was surely meant for it, and
 * neither sending it elsewhere nor silently leaving it out is right. The host's own, set for its
 * issuer and client, simply do not apply to another one.
 */
export function configuredSettings(context: AuthContext): BoundSettings {
  const {settings} = context
  const target = {issuer: settings.issuer!, clientId: settings.clientId!}
  const {usable, misbound} = settingsFor(settings, target)
  const refused = misbound.find((entry) => entry.binding.layer !== 'host')
  if (refused) throw misboundSetting(context, refused, target, 'sign-in')
  return usable
}

/** The client `auth login` signs in as: the configured issuer and client id (the caller checked both are set), with what configuredSettings() allows it. */
export function configuredClient(context: AuthContext, bound: BoundSettings): ClientOf {
  const {issuer, clientId} = context.settings
  return {issuer: issuer!, clientId: clientId!, clientSecret: bound.clientSecret, endpoints: bound.endpoints}
}

/**
 * The settings a stored account may use: only those configured for its own issuer and client. The
 * others are left out (an account at X is refreshed without Y's secret); `misbound` says which, for
 * the one case where the login cannot go on without one (a machine's credential, machine.ts).
 */
export function accountSettings(context: AuthContext, account: Pick<AccountRecord, 'issuer' | 'clientId'>): {usable: BoundSettings; misbound: Misbound[]} {
  return settingsFor(context.settings, {issuer: account.issuer, clientId: account.clientId})
}

/**
 * The client a stored account was signed in with. Its issuer and client id are the account's own,
 * whatever is configured now; a client secret or endpoints come from the login where it kept them,
 * else from the settings configured for that issuer and client.
 */
export function accountClient(context: AuthContext, account: AccountRecord, secrets?: Secrets): ClientOf {
  const {usable} = accountSettings(context, account)
  return {
    issuer: account.issuer,
    clientId: account.clientId,
    clientSecret: secrets?.clientSecret ?? usable.clientSecret,
    endpoints: (account.endpoints as ClientOf['endpoints']) ?? usable.endpoints,
  }
}

/** Exit 2: `entry` was set for another issuer or client than `target`, said with both and where each came from. */
export function misboundSetting(context: AuthContext, entry: Misbound, target: {issuer: string; clientId: string}, operation: 'sign-in' | 'login'): AuthError {
  const {settings, envNames} = context
  const withClient = isClientBound(entry.key)
  const otherIssuer = entry.binding.issuer !== target.issuer
  const chosenBy = otherIssuer ? settings.sources.issuer : settings.sources.clientId
  // A sign-in's issuer and client come from the settings; a stored login's are its own.
  const chosen = chosenBy && operation === 'sign-in' ? ` (${chosenBy})` : ''
  const verb = withClient ? 'sent to' : 'used for'
  const names =
    entry.binding.layer === 'env'
      ? `${envNames.issuer}${withClient ? ` and ${envNames.clientId}` : ''}`
      : entry.binding.layer === 'user-file'
        ? `issuer${withClient ? ' and clientId' : ''} in ${context.settingsFile}`
        : `oclif.auth.issuer${withClient ? ' and clientId' : ''}`
  return new AuthError(
    'CONFIG_INVALID',
    `${entry.source} was set for ${describeBinding(entry.binding, withClient)}, but this ${operation === 'sign-in' ? 'sign-in is for' : 'login is'} ${describeBinding(target, withClient)}${chosen}: it is never ${verb} another issuer${withClient ? ' or client' : ''}.`,
    {suggestion: `It goes with the ${withClient ? 'issuer and client id' : 'issuer'} set beside it (${names}): set ${withClient ? 'those' : 'that'} to this ${operation}'s, or leave ${entry.source} out.`},
  )
}

export function connectOptions(context: AuthContext, options: {fresh?: boolean} = {}): ConnectOptions {
  const {requestTimeoutSeconds, allowInsecureIssuer} = context.settings
  return {requestTimeoutSeconds, allowInsecureIssuer, transport: transportSettings(context), cache: context.store.metadataCache, fresh: options.fresh}
}
