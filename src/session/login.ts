import {AuthError} from '../errors.js'
import type {Issuer} from '../provider/connect.js'
import type {SignInUi} from '../provider/sign-in-ui.js'
import type {SignIn} from '../provider/tokens.js'
import type {AuthSettings} from '../settings/settings.js'
import {accountKey, type AccountRecord} from '../store/account-index.js'
import {refuseWhileEnvironmentToken, type AuthContext} from './context.js'
import {chooseBackend} from './storage-choice.js'

export type LoginMethod = {kind: 'browser'} | {kind: 'device'} | {kind: 'token'; accessToken: string}

/**
 * Sign in and store the account as the default. Nothing is written until the issuer has handed
 * over tokens, so a failed or abandoned sign-in leaves any earlier login as it was; the store lock
 * is taken only for the final write, never across the interactive part.
 */
export async function login(context: AuthContext, method: LoginMethod, ui: SignInUi): Promise<AccountRecord> {
  const {settings} = context
  refuseWhileEnvironmentToken(context, 'sign in')
  const {issuer: issuerUrl, clientId} = settings
  if (!issuerUrl || !clientId) {
    const missing = issuerUrl ? 'client id' : 'issuer'
    throw new AuthError('CONFIG_INVALID', `No ${missing} is configured.`, {
      suggestion: `Set oclif.auth.${issuerUrl ? 'clientId' : 'issuer'} in the host's package.json, ${
        context.config.scopedEnvVarKey(issuerUrl ? 'AUTH_CLIENT_ID' : 'AUTH_ISSUER')
      }, or pass --${issuerUrl ? 'client-id' : 'issuer'}.`,
    })
  }
  const {connect} = await import('../provider/connect.js')
  const issuer = await connect(issuerUrl, clientId, settings).catch((error: unknown) => {
    // At sign-in an issuer that cannot be reached is as often a wrong address as an outage.
    if (!(error instanceof AuthError) || error.code !== 'TRANSIENT') throw error
    throw new AuthError('TRANSIENT', error.message, {
      cause: error,
      suggestion: `Retry when the issuer is reachable; if it never is, check the issuer (${settings.sources.issuer}).`,
    })
  })
  // Where the login will be kept is settled first: a store that does not answer should be found
  // before the user signs in, not after.
  const storage = await chooseBackend(context, ui)
  // So is the index: one that is damaged or from a newer version would throw the sign-in away.
  await context.store.readIndex()
  const signIn = await signInWith(issuer, settings, method, ui)

  const record: AccountRecord = {
    key: accountKey(issuer.issuer, clientId, signIn.identity.subject),
    issuer: issuer.issuer,
    clientId,
    subject: signIn.identity.subject,
    scopes: signIn.scopes,
    expiresAt: signIn.secrets.expiresAt ?? null,
    hasRefreshToken: Boolean(signIn.secrets.refreshToken),
    storage,
    updatedAt: new Date().toISOString(),
  }
  if (settings.sources.storage === '--storage') record.storagePinned = true
  if (signIn.identity.name) record.name = signIn.identity.name
  if (signIn.identity.email) record.email = signIn.identity.email
  // Under the account's lock: a refresh of an older login of the same account, in flight in another
  // process, must not overwrite this one.
  await context.store.withAccountLock(record, () => context.store.saveLogin(record, signIn.secrets, {makeDefault: true}))
  if (storage === 'memory') ui.warn(`${context.settings.sources.storage} says storage=memory: this login is not saved and ends with this command.`)
  return record
}

async function signInWith(issuer: Issuer, settings: AuthSettings, method: LoginMethod, ui: SignInUi): Promise<SignIn> {
  const options = {scopes: settings.scopes, timeoutSeconds: settings.loginTimeoutSeconds, ui}
  switch (method.kind) {
    case 'browser': {
      // Over SSH or in a container there is no browser to open and the loopback redirect could not
      // reach us from another machine anyway: the device flow is the one that works there.
      const noBrowser = ui.browserUnavailableReason()
      if (noBrowser && issuer.config.serverMetadata().device_authorization_endpoint) {
        ui.notice(`No browser can be opened here (${noBrowser}); signing in with a device code instead.`)
        const {deviceSignIn} = await import('../provider/device-flow.js')
        return deviceSignIn(issuer, options)
      }
      const {browserSignIn} = await import('../provider/browser-flow.js')
      return browserSignIn(issuer, options)
    }
    case 'device': {
      const {deviceSignIn} = await import('../provider/device-flow.js')
      return deviceSignIn(issuer, options)
    }
    case 'token': {
      // A token made elsewhere: the issuer's userinfo tells us whose it is, and proves it works.
      const {fetchIdentity} = await import('../provider/tokens.js')
      const identity = await fetchIdentity(issuer, method.accessToken)
      return {secrets: {accessToken: method.accessToken, tokenType: 'Bearer'}, identity, scopes: []}
    }
  }
}
