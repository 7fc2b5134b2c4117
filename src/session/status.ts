import {AuthError} from '../errors.js'
import {pickAccount, type AccountRecord} from '../store/account-index.js'
import {chooseProxy} from '../transport/proxy-choice.js'
import {noSuchAccount} from './accounts.js'
import {environmentToken, type AuthContext} from './context.js'
import type {Verification} from './verify-login.js'

/** The `auth status --json` document. Its shape is public: scripts parse it. */
export interface StatusReport {
  loggedIn: boolean
  source: 'env' | 'store' | null
  accounts: AccountStatus[]
}

export interface AccountStatus {
  /** Only with --show-token: read from the store (the keychain, a helper) on purpose. */
  accessToken?: string
  /** A person, or a machine signed in as the client itself (client_credentials). */
  kind: 'user' | 'client'
  /** For a machine: how it proves it is the client ('client_secret', 'private_key_jwt', 'federated'); null for a person. */
  clientAuthentication: string | null
  issuer: string
  clientId: string
  subject: string
  name: string | null
  email: string | null
  default: boolean
  storage: string
  scopes: string[]
  expiresAt: string | null
  hasRefreshToken: boolean
  /** The proxy requests to the issuer go through (HTTPS_PROXY, …), user and password shown as `***`; null: direct. */
  proxy: string | null
  /** `DPoP` when the tokens are bound to the login's key (RFC 9449) and need a proof with every request, else `Bearer`. */
  tokenType: 'Bearer' | 'DPoP'
  /** The key's RFC 7638 thumbprint, as the issuer puts it in the token's `cnf.jkt`; null for bearer tokens. Never the key. */
  jkt: string | null
  /** Only with --verify: whether the issuer accepts the stored login now. */
  verified?: boolean
}

export interface StatusRequest {
  /** Only this account (subject, email, name or key). */
  account?: string
  /** Read each account's access token from its store (gh's --show-token); otherwise no secret is touched. */
  showToken?: boolean
  /** Ask the issuer whether each login works (refreshing first where due); see verify-login.ts. */
  verify?: boolean
}

/** Why a login did not verify, by account key, for the text output (the JSON carries `verified` alone). */
export type VerificationProblems = Map<string, string>

/**
 * Read from the metadata index only: without --verify status never touches the network, and touches
 * secrets only when asked to show the token.
 */
export async function status(context: AuthContext, request: StatusRequest = {}, problems: VerificationProblems = new Map()): Promise<StatusReport> {
  if (environmentToken(context)) return {loggedIn: true, source: 'env', accounts: []}
  const index = await context.store.readIndex()
  const defaultKey = index.defaultAccount ?? index.accounts[0]?.key
  let records = index.accounts
  if (request.account) {
    const only = pickAccount(index, request.account)
    if (!only) throw noSuchAccount(context, request.account)
    records = [only]
  }
  const accounts: AccountStatus[] = []
  for (const record of records) {
    let account = record
    let verification: Verification | undefined
    if (request.verify) {
      const {verifyLogin} = await import('./verify-login.js')
      verification = await verifyLogin(context, account, index)
      if (verification.problem) problems.set(account.key, verification.problem)
      // A refresh the check made is what to show: the new expiry, the new token.
      account = (await context.store.readIndex()).accounts.find((entry) => entry.key === record.key) ?? record
    }
    const shown = toStatus(account, account.key === defaultKey, context.env)
    if (verification) shown.verified = verification.verified
    if (request.showToken) shown.accessToken = (await context.store.readSecrets(account)).accessToken
    accounts.push(shown)
  }
  return {loggedIn: index.accounts.length > 0, source: index.accounts.length > 0 ? 'store' : null, accounts}
}

/** What signing in still needs, when the settings name no issuer or no client id. */
export function missingSettings(context: AuthContext): string[] {
  return [context.settings.issuer ? undefined : 'issuer', context.settings.clientId ? undefined : 'clientId'].filter((key): key is string => Boolean(key))
}

/** An account as `--json` shows it: the `auth status --json` account shape. */
export function toStatus(account: AccountRecord, isDefault: boolean, env: NodeJS.ProcessEnv = process.env): AccountStatus {
  return {
    kind: account.clientAuth ? 'client' : 'user',
    clientAuthentication: account.clientAuth ?? null,
    issuer: account.issuer,
    clientId: account.clientId,
    subject: account.subject,
    name: account.name ?? null,
    email: account.email ?? null,
    default: isDefault,
    storage: account.storage,
    scopes: account.scopes,
    expiresAt: account.expiresAt,
    hasRefreshToken: account.hasRefreshToken,
    proxy: chooseProxy(new URL(account.issuer), env)?.shown ?? null,
    tokenType: account.dpopJkt ? 'DPoP' : 'Bearer',
    jkt: account.dpopJkt ?? null,
  }
}

/** When `ACME_AUTH_ACCOUNT` names an account, commands use it instead of the default: which one. */
export interface AccountOverride {
  /** Where the name came from: `ACME_AUTH_ACCOUNT`. */
  source: string
  wanted: string
  /** The account it names, if exactly one. */
  account?: AccountRecord
  /** Why it names none: no match, or several. */
  problem?: string
}

export async function accountOverride(context: AuthContext): Promise<AccountOverride | undefined> {
  const wanted = context.settings.account
  if (!wanted) return undefined
  const source = context.settings.sources.account ?? 'the account setting'
  try {
    const account = pickAccount(await context.store.readIndex(), wanted)
    return account ? {source, wanted, account} : {source, wanted, problem: `'${wanted}' matches no stored login: commands that need one will stop`}
  } catch (error) {
    if (error instanceof AuthError) return {source, wanted, problem: error.message}
    throw error
  }
}
