import {isAbsolute} from 'node:path'

import {AuthError} from '../errors.js'
import {splitCommand} from '../split-command.js'
import type {SignInUi} from '../provider/sign-in-ui.js'
import type {BackendKind} from '../settings/settings.js'
import type {AccountIndex, AccountRecord} from '../store/account-index.js'
import {HelperNotConfiguredError} from '../store/backend-registry.js'
import type {AuthContext} from './context.js'
import {untilSaved} from './grant-hold.js'

/**
 * `storage=auto`, decided once at login (DESIGN.md, Backends): the OS keychain when it answers a
 * write-read-delete probe within its time box, else the 0600 file, with one warning that says why
 * and how to choose. The choice is recorded per account; later commands never switch silently.
 */
export async function chooseBackend(context: AuthContext, ui: Pick<SignInUi, 'warn'>): Promise<{backend: BackendKind; why?: string}> {
  const setting = context.settings.storage
  if (setting.startsWith('exec:')) {
    // Ask the helper once before the user signs in: a broken vault found afterwards would waste
    // the sign-in (and drop its fresh refresh token).
    await context.store.backend(setting).get(`probe|${context.commands.bin}|${process.pid}`)
    // `exec:node ./vault.js` as much as `exec:./vault.js`: a relative path breaks in another folder.
    const relative = splitCommand(setting.slice('exec:'.length)).find((word) => /[/\\]/.test(word) && !word.startsWith('-') && !isAbsolute(word))
    if (relative) {
      ui.warn(`The credential helper's '${relative}' is a relative path: later commands run it from the folder they start in. Use an absolute path in ${context.settings.sources.storage}.`)
    }
    return {backend: setting as BackendKind}
  }
  if (setting !== 'auto' && setting !== 'keyring') return {backend: setting}
  const {probeKeyring} = await import('../store/keyring-store.js')
  const probe = await probeKeyring({service: context.store.service, timeoutMs: context.settings.keyringTimeoutSeconds * 1000})
  if (probe.ok) return {backend: 'keyring'}
  if (setting === 'keyring') {
    throw new AuthError('STORE_UNAVAILABLE', `The OS keychain, where ${context.settings.sources.storage} says to keep the login, does not answer: ${probe.reason}.`, {
      suggestion: `Unlock or start it, or keep the login in a file: ${context.settings.sources.storage === '--storage' ? 'use --storage file' : `set ${context.envNames.storage}=file`}.`,
    })
  }
  // Said once the login is saved: a sign-in that fails stored nothing, and has nothing to say about where.
  const why =
    `No OS keychain answered (${probe.reason}), so the login is kept in ${context.store.paths.credentials} (readable only by you). ` +
    `Set ${context.envNames.storage}=file to choose the file without this check, or =keyring to require the keychain.`
  return {backend: 'file', why}
}

/**
 * When the configured storage names a backend other than the one an account is kept in, move the
 * account there (DESIGN.md, Migration); finish a move an earlier run left half done (also the old
 * copy a new login in another store could not remove). `auto` and `memory` move nothing, and an
 * account pinned with `auth login --storage` stays put. Only a failure for the account in use stops
 * the command: the others are tried again next time.
 */
export async function migrateAccounts(context: AuthContext, index: AccountIndex, inUse: string): Promise<AccountIndex> {
  const target = context.settings.storage
  const destination = (account: AccountRecord): BackendKind =>
    account.storagePinned || target === 'auto' || target === 'memory' ? (account.storage as BackendKind) : target
  const pending = index.accounts.filter((account) => account.migratingFrom || account.storage !== destination(account))
  if (pending.length === 0) return index
  const moved = new Map<string, AccountRecord>()
  for (const account of pending) {
    try {
      // A move deletes the old copy once the new one is read back: an interrupt waits for the step
      // under way (a kill there is survivable too, but an orderly end is cheaper for the next command).
      moved.set(account.key, await untilSaved(context, () => context.store.migrate(account, destination(account))))
    } catch (error) {
      if (!(error instanceof AuthError)) throw error
      if (account.key !== inUse) continue
      if (error instanceof HelperNotConfiguredError) throw error
      throw new AuthError(error.code, `Could not move the stored login to the configured storage '${target}' (${context.settings.sources.storage}): ${error.message}`, {
        cause: error,
        suggestion: error.suggestion,
        next: error.next,
      })
    }
  }
  return {...index, accounts: index.accounts.map((account) => moved.get(account.key) ?? account)}
}
