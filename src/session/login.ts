import {AuthError} from '../errors.js'
import {MAX_TOKEN_BYTES} from '../provider/limits.js'
import {rememberSecret} from '../safe-text.js'
import type {ClientCredential, DPoPHandle, Issuer, SignIn, SignInUi} from '../provider/api.js'
import type {Secrets} from '../store/secrets.js'
import {describeAccount, pickAccount, type AccountRecord} from '../store/account-index.js'
import {refuseWhileEnvironmentToken, type AuthContext, type ProviderApi} from './context.js'
import type {BoundSettings} from '../settings/binding.js'
import {configuredClient, configuredSettings, connectOptions} from './issuer-client.js'
import {checkRecordFits} from '../store/record-limits.js'
import type {InterruptHold} from './interrupts.js'
import {holdWhileGranting, tellIfRescued} from './grant-hold.js'
import {checkBound, dpopKeyForSignIn, explainDPoPDemand} from './dpop-login.js'
import {signInRecord, withUserClientSecret} from './sign-in-record.js'
import {fillInProfile, missingProfile, type ProfileRequest} from './account-profile.js'
import {chooseBackend} from './storage-choice.js'

export type {SignInUi} from '../provider/api.js'

export type LoginMethod =
  | {kind: 'browser'}
  | {kind: 'device'}
  | {kind: 'token'; accessToken: string}
  /** A machine signing in as the client itself; `keep` is what the store keeps for the next token (a secret, a key or its path). */
  | {kind: 'client'; credential: ClientCredential; keep: Pick<Secrets, 'clientSecret' | 'clientAssertionKey' | 'clientAssertionKeyPath'>}

/**
 * Sign in and store the account as the default. Nothing is written until the issuer has handed
 * over tokens, so a failed or abandoned sign-in leaves any earlier login as it was; the store lock
 * is taken only for the final write, never across the interactive part.
 */
export async function login(context: AuthContext, method: LoginMethod, ui: SignInUi): Promise<AccountRecord> {
  const {settings} = context
  refuseWhileEnvironmentToken(context, 'sign in')
  const {issuer: issuerUrl, clientId} = settings
  if (!issuerUrl || !clientId) throw notConfigured(context)
  // First of all: a secret, key or set of endpoints set for another issuer or client stops the sign-in.
  const bound = configuredSettings(context)
  const provider = await context.provider()
  const client = method.kind === 'client' ? {...configuredClient(context, bound), credential: method.credential} : configuredClient(context, bound)
  const issuer = await provider.connect(client, connectOptions(context, {fresh: true})).catch((error: unknown) => {
    // At sign-in an issuer that cannot be reached is as often a wrong address as an outage.
    if (!(error instanceof AuthError) || error.code !== 'TRANSIENT') throw error
    throw new AuthError('TRANSIENT', error.message, {
      cause: error,
      suggestion: `Retry when the issuer is reachable; if it never is, check the issuer (${settings.sources.issuer}).`,
    })
  })
  // Where the login will be kept is settled first: a store that does not answer should be found
  // before the user signs in, not after.
  const {backend: storage, why: storageWhy} = await chooseBackend(context, ui)
  // So is the index: one that is damaged or from a newer version would throw the sign-in away; and so
  // are the folders the sign-in writes to.
  await context.store.readIndex()
  await context.store.checkFolders()
  // From the code exchange (or the client-credentials grant) until the login is saved, an interrupt
  // waits (grant-hold.ts): what the issuer hands over exists only in this process until then.
  let hold: InterruptHold | undefined
  let saved: SavedSignIn
  try {
    const grant = {
      beforeGrant: () => void (hold ??= holdWhileGranting(context)),
      // A device poll answered "pending": nothing was spent, so an interrupt meanwhile may end it now.
      grantRefused: () => {
        hold?.release()
        hold = undefined
      },
    }
    saved = await signInAndSave(context, bound, provider, issuer, method, ui, storage, storageWhy, grant)
  } finally {
    hold?.release()
  }
  // Saved, and interrupts no longer held: only now may a slow userinfo be asked what the ID token left out.
  return fillInProfile(context, provider, issuer, saved.record, saved.signIn, {claims: bound.identityClaims, dpop: saved.dpop})
}

/** A sign-in as saved, with what asking userinfo about it afterwards needs. */
interface SavedSignIn {
  record: AccountRecord
  signIn: SignIn
  dpop?: DPoPHandle
}

async function signInAndSave(
  context: AuthContext,
  bound: BoundSettings,
  provider: ProviderApi,
  issuer: Issuer,
  method: LoginMethod,
  ui: SignInUi,
  storage: AccountRecord['storage'],
  storageWhy: string | undefined,
  grant: GrantWatch,
): Promise<SavedSignIn> {
  const {settings} = context
  const clientId = settings.clientId!
  // One key per login (RFC 9449), made for this sign-in and kept with its tokens.
  const dpopKey = method.kind === 'token' ? undefined : await dpopKeyForSignIn(context, provider, issuer)
  const dpop = dpopKey ? await provider.dpopHandle(issuer.config, dpopKey) : undefined
  const signIn = await signInWith(context, bound, provider, issuer, method, ui, grant, dpop).catch((error: unknown) => {
    throw explainDPoPDemand(context, provider, issuer, error)
  })
  if (dpopKey) {
    checkBound(context, issuer, signIn.secrets.tokenType)
    // An issuer that answered with a bearer token (auto) bound nothing to the key: it is not kept.
    if (signIn.secrets.tokenType === 'DPoP') signIn.secrets.dpopKey = dpopKey
  }
  const record = signInRecord(signIn, issuer.issuer, clientId, storage, bound)
  if (settings.sources.storage === '--storage') record.storagePinned = true
  if (method.kind === 'client') record.clientAuth = method.credential.kind
  // Before it is shown or kept: a hostile issuer's megabyte claims must not reach the index.
  checkRecordFits(record)
  if (signIn.secrets.dpopKey) record.dpopJkt = provider.dpopThumbprint(signIn.secrets.dpopKey)
  await confirmOtherAccount(context, provider, issuer, method, record, signIn, ui, {claims: bound.identityClaims, dpop})
  const secrets = method.kind === 'client' ? {...signIn.secrets, ...method.keep} : withUserClientSecret(signIn.secrets, bound, settings)
  // Under the account's lock: a refresh of an older login of the same account, in flight in another
  // process, must not overwrite this one.
  const outcome = await context.store.withAccountLock(record, () => context.store.saveLogin(record, secrets, {makeDefault: true}))
  tellIfRescued(context, record, outcome)
  if (storageWhy) ui.warn(storageWhy)
  if (storage === 'memory') ui.warn(`${context.settings.sources.storage} says storage=memory: this login is not saved and ends with this command.`)
  return {record, signIn, dpop}
}

/**
 * RFC 8252 §8.1: on a shared machine another user can read the authorization URL from the browser's
 * command line and approve it as themselves; the code then comes back to us. A browser sign-in that
 * returns another account than the default is shown, and at a terminal confirmed, before it is kept.
 */
async function confirmOtherAccount(context: AuthContext, provider: ProviderApi, issuer: Issuer, method: LoginMethod, record: AccountRecord, signIn: SignIn, ui: SignInUi, profile: ProfileRequest): Promise<void> {
  if (method.kind !== 'browser') return
  const previous = pickAccount(await context.store.readIndex())
  if (!previous || previous.key === record.key) return
  // A person decides from the name ("Signed in as Bob (bob)", as the earlier login is described):
  // userinfo is asked first, since the answer waits on them anyway. Without one, the line is only shown.
  if (ui.interactive && signIn.profileMissing) {
    Object.assign(record, await missingProfile(provider, issuer, record, signIn.secrets.accessToken, profile))
    signIn.profileMissing = false
  }
  const keep = await ui.confirm(`Signed in as ${describeAccount(record)}, not as ${describeAccount(previous)} like before: keep this login?`)
  if (!keep) {
    throw new AuthError('LOGIN_FAILED', 'The sign-in was not kept; nothing was stored and the earlier login is as it was.', {
      suggestion: `Sign in again as the account you meant; on a shared machine \`${context.commands.auth('login')} --device\` is the safer way.`,
    })
  }
}

/**
 * Where a user or the CLI's author sets what sign-in needs, the user's own file first: a user of a
 * CLI whose author configured nothing can still sign in.
 */
function notConfigured(context: AuthContext): AuthError {
  const {issuer, clientId} = context.settings
  const missing = [issuer ? undefined : 'issuer', clientId ? undefined : 'clientId'].filter((key): key is string => Boolean(key))
  const names = missing.map((key) => (key === 'issuer' ? 'an issuer' : 'a client id')).join(' and ')
  const example = JSON.stringify(Object.fromEntries(missing.map((key) => [key, key === 'issuer' ? 'https://id.example.com' : 'my-cli'])))
  const variables = missing.map((key) => (key === 'issuer' ? context.envNames.issuer : context.envNames.clientId)).join(' and ')
  const flags = missing.map((key) => (key === 'issuer' ? '--issuer' : '--client-id')).join(' and ')
  return new AuthError('CONFIG_INVALID', `Signing in needs ${names}, and none is configured.`, {
    suggestion: `Put ${example} in ${context.settingsFile}, or set ${variables}, or pass ${flags}; the CLI's author can set ${missing.map((key) => `oclif.auth.${key}`).join(' and ')} in its package.json.`,
  })
}

/** Told when a request that may spend a code or grant tokens leaves, and when its answer carried none. */
interface GrantWatch {
  beforeGrant: () => void
  grantRefused: () => void
}

async function signInWith(context: AuthContext, bound: BoundSettings, provider: ProviderApi, issuer: Issuer, method: LoginMethod, ui: SignInUi, grant: GrantWatch, dpop: DPoPHandle | undefined): Promise<SignIn> {
  const {settings} = context
  const extraParams = {...bound.authorizationParams, ...(bound.audience ? {audience: bound.audience} : {})}
  const options = {
    scopes: settings.scopes,
    timeoutSeconds: settings.loginTimeoutSeconds,
    ui,
    extraParams,
    resource: bound.resource,
    claims: bound.identityClaims,
    now: context.now,
    redirect: {host: settings.redirectHost, ports: settings.redirectPorts, path: settings.redirectPath, portsSource: settings.sources.redirectPorts},
    dpop,
  }
  switch (method.kind) {
    case 'browser': {
      // Over SSH or in a container there is no browser to open and the loopback redirect could not
      // reach us from another machine anyway: the device flow is the one that works there.
      const noBrowser = ui.browserUnavailableReason()
      if (noBrowser && issuer.config.serverMetadata().device_authorization_endpoint) {
        ui.notice(`No browser can be opened here (${noBrowser}); signing in with a device code instead.`)
        return provider.deviceSignIn(issuer, {...options, ...grant})
      }
      return provider.browserSignIn(issuer, {...options, beforeGrant: grant.beforeGrant})
    }
    case 'device': {
      return provider.deviceSignIn(issuer, {...options, ...grant})
    }
    case 'client': {
      // The default scopes are a person's (openid, offline_access…): a machine asks for the ones
      // configured for it, or none and gets what its registration allows.
      const scopes = settings.sources.scopes === 'default' ? [] : settings.scopes
      grant.beforeGrant()
      const secrets = await provider.clientCredentialsGrant(issuer, {scopes, resource: bound.resource, audience: bound.audience, dpop, now: context.now}).catch((error: unknown) => {
        if (!(error instanceof AuthError) || error.code !== 'REAUTH_REQUIRED') throw error
        // At sign-in a refused credential is a failed sign-in, as a wrong password is.
        throw new AuthError('LOGIN_FAILED', error.message, {cause: error, suggestion: `Check the client id (${settings.sources.clientId}) and its secret, key or federated token with the issuer's administrators.`})
      })
      return {secrets, identity: {subject: issuer.clientId}, scopes}
    }
    case 'token': {
      // A token made elsewhere: the issuer's userinfo tells us whose it is, and proves it works.
      rememberSecret(method.accessToken)
      if (Buffer.byteLength(method.accessToken, 'utf8') > MAX_TOKEN_BYTES) {
        throw new AuthError('USAGE', `The token on standard input is larger than ${MAX_TOKEN_BYTES / 1024} KiB, more than any access token needs.`, {
          suggestion: 'Pipe the access token itself into --with-token.',
        })
      }
      const identity = await provider.fetchIdentity(issuer, method.accessToken, {claims: bound.identityClaims})
      return {secrets: {accessToken: method.accessToken, tokenType: 'Bearer'}, identity, scopes: []}
    }
  }
}
