import {AuthError} from '../errors.js'
import {describeAccount, pickAccount, type AccountIndex, type AccountRecord} from '../store/account-index.js'
import {refuseWhileEnvironmentToken, type AuthContext} from './context.js'

export {describeAccount, type AccountRecord} from '../store/account-index.js'

/**
 * The account a command acts on: the one `--account` names, else `ACME_AUTH_ACCOUNT`, else the
 * default; undefined when nothing is stored. Naming one that is not stored is a usage error.
 */
export function requestedAccount(context: AuthContext, index: AccountIndex, flag: string | undefined): AccountRecord | undefined {
  const wanted = flag ?? context.settings.account
  const account = pickAccount(index, wanted)
  if (!account && wanted) throw noSuchAccount(context, wanted, flag ? undefined : context.settings.sources.account)
  return account
}

/** `--account` (or `ACME_AUTH_ACCOUNT`, named as `source`) naming no stored login is a usage error (exit 2), like an unknown flag value. */
export function noSuchAccount(context: AuthContext, wanted: string, source?: string): AuthError {
  return new AuthError('USAGE', `No stored login matches '${wanted}'${source ? ` (${source})` : ''}.`, {
    suggestion: `See \`${context.commands.auth('status')}\` for the accounts, or \`${context.commands.auth('login')}\` to add one.`,
  })
}

export function notSignedIn(context: AuthContext): AuthError {
  return new AuthError('NOT_LOGGED_IN', 'You are not signed in.', {suggestion: context.commands.signIn()})
}

/** The account a command acts on (see requestedAccount), or NOT_LOGGED_IN when there is none. */
export async function signedInAccount(context: AuthContext, flag: string | undefined): Promise<AccountRecord> {
  const account = requestedAccount(context, await context.store.readIndex(), flag)
  if (!account) throw notSignedIn(context)
  return account
}

/**
 * The scopes after `auth refresh --scopes a --remove-scopes b` (as `gh auth refresh -s/-r`): the
 * account's own, plus those added, less those removed. New scopes need a new sign-in.
 */
export function changedScopes(current: string[], add: string[], remove: string[]): string[] {
  const removed = new Set(remove)
  return [...new Set([...current, ...add])].filter((scope) => !removed.has(scope))
}

/** The stored accounts and the default, for a command that lets a person choose among them. */
export async function storedAccounts(context: AuthContext): Promise<{accounts: AccountRecord[]; defaultKey: string | null}> {
  const index = await context.store.readIndex()
  return {accounts: index.accounts, defaultKey: index.defaultAccount ?? index.accounts[0]?.key ?? null}
}

export interface SwitchResult {
  account: AccountRecord
  /** false: it already was the default. */
  changed: boolean
}

/**
 * `auth switch [name]`: make the named account the default. Without a name and with exactly two
 * accounts, the other one (as `gh auth switch` does); otherwise a name is needed.
 */
export async function switchAccount(context: AuthContext, name: string | undefined): Promise<SwitchResult> {
  refuseWhileEnvironmentToken(context, 'choose among the stored logins')
  const index = await context.store.readIndex()
  const account = name ? pickAccount(index, name) : theOtherAccount(context, index)
  if (!account) throw noSuchAccount(context, name!)
  if (account.key === index.defaultAccount) return {account, changed: false}
  await context.store.setDefault(account)
  return {account, changed: true}
}

function theOtherAccount(context: AuthContext, index: AccountIndex): AccountRecord {
  if (index.accounts.length === 0) throw notSignedIn(context)
  const others = index.accounts.filter((entry) => entry.key !== index.defaultAccount)
  if (others.length === 1 && index.accounts.length === 2) return others[0]
  const names = index.accounts.map((entry) => `${entry.key === index.defaultAccount ? '* ' : ''}${describeAccount(entry)}`).join('; ')
  const only = index.accounts.length === 1
  throw new AuthError('USAGE', `Which account? ${only ? 'There is only one' : `There are ${index.accounts.length}`}: ${names}.`, {
    suggestion: `Name one: \`${context.commands.auth('switch')} <subject|email|key>\`${only ? `, after \`${context.commands.auth('login')}\` as someone else` : ''}.`,
  })
}
