import {AuthError} from '../errors.js'
import type {SignInUi} from '../provider/sign-in-ui.js'
import type {BackendKind} from '../settings/settings.js'
import type {AccountIndex, AccountRecord} from '../store/account-index.js'
import type {AuthContext} from './context.js'

/**
 * `storage=auto`, decided once at login (DESIGN.md, Backends): the OS keychain when it answers a
 * write-read-delete probe within its time box, else the 0600 file, with one warning that says why
 * and how to choose. The choice is recorded per account; later commands never switch silently.
 */
export async function chooseBackend(context: AuthContext, ui: SignInUi): Promise<BackendKind> {
  const setting = context.settings.storage
  if (setting !== 'auto') return setting
  const {probeKeyring} = await import('../store/keyring-store.js')
  const probe = await probeKeyring({service: context.store.service, timeoutMs: context.settings.keyringTimeoutSeconds * 1000})
  if (probe.ok) return 'keyring'
  ui.warn(
    `No OS keychain answered (${probe.reason}), so the login is kept in ${context.store.paths.credentials} (readable only by you). ` +
      `Set ${context.envNames.storage}=file to choose the file without this check, or =keyring to require the keychain.`,
  )
  return 'file'
}

/**
 * When the configured storage names a backend other than the one an account is kept in, move the
 * account there (DESIGN.md, Migration). `auto` and `memory` never move anything.
 */
export async function migrateAccounts(context: AuthContext, index: AccountIndex): Promise<AccountIndex> {
  const target = context.settings.storage
  if (target === 'auto' || target === 'memory') return index
  const pending = index.accounts.filter((account) => account.storage !== target || account.migratingFrom)
  if (pending.length === 0) return index
  const moved = new Map<string, AccountRecord>()
  for (const account of pending) {
    try {
      moved.set(account.key, await context.store.migrate(account, target))
    } catch (error) {
      if (!(error instanceof AuthError)) throw error
      throw new AuthError(error.code, `Could not move the stored login to the configured storage '${target}' (${context.settings.sources.storage}): ${error.message}`, {
        cause: error,
        suggestion: error.suggestion,
      })
    }
  }
  return {...index, accounts: index.accounts.map((account) => moved.get(account.key) ?? account)}
}
