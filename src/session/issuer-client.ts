import type {ClientOf, ConnectOptions} from '../provider/api.js'
import type {AccountRecord} from '../store/account-index.js'
import type {Secrets} from '../store/secrets.js'
import {transportSettings, type AuthContext} from './context.js'

/** The client `auth login` signs in as: the configured issuer and client id (the caller checked both are set). */
export function configuredClient(context: AuthContext): ClientOf {
  const {issuer, clientId, clientSecret, endpoints} = context.settings
  return {issuer: issuer!, clientId: clientId!, clientSecret, endpoints}
}

/**
 * The client a stored account was signed in with. Its issuer and client id are the account's own,
 * whatever is configured now; a client secret or endpoints come from the login where it kept them,
 * else from the settings when they describe the same client.
 */
export function accountClient(context: AuthContext, account: AccountRecord, secrets?: Secrets): ClientOf {
  const {settings} = context
  const sameClient = settings.issuer === account.issuer && settings.clientId === account.clientId
  return {
    issuer: account.issuer,
    clientId: account.clientId,
    clientSecret: secrets?.clientSecret ?? (sameClient ? settings.clientSecret : undefined),
    endpoints: (account.endpoints as ClientOf['endpoints']) ?? (sameClient ? settings.endpoints : undefined),
  }
}

export function connectOptions(context: AuthContext, options: {fresh?: boolean} = {}): ConnectOptions {
  const {requestTimeoutSeconds, allowInsecureIssuer} = context.settings
  return {requestTimeoutSeconds, allowInsecureIssuer, transport: transportSettings(context), cache: context.store.metadataCache, fresh: options.fresh}
}
