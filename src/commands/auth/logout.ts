import {Flags} from '@oclif/core'

import {AuthCommand, accountFlag} from '../../cli/auth-command.js'
import {chooseAccount} from '../../cli/choose-account.js'
import {describeAccount, storedAccounts} from '../../session/accounts.js'
import {environmentToken} from '../../session/context.js'
import {logout, type LogoutResult} from '../../session/logout.js'

/** `auth logout --json`: one entry per account signed out. */
interface LoggedOut {
  issuer: string
  clientId: string
  subject: string
  name: string | null
  email: string | null
  revocation: LogoutResult['revocation']
  revocationError: {code: string; message: string} | null
  leftBehind: string | null
}

export default class Logout extends AuthCommand {
  static override summary = 'Sign out: revoke the login at the issuer and remove it from this machine.'

  static override description = 'The refresh token is revoked (RFC 7009) when the issuer offers revocation. If revocation fails, the login is still removed locally and the command says so. The secrets are removed from every store that holds them. With several accounts and a terminal, asks which one; elsewhere signs out of the default account. Signed out already, it says so and exits 0.'

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    {description: 'Sign out of one of several accounts', command: '<%= config.bin %> <%= command.id %> --account bob@example.com'},
    {description: 'Sign out of every account and clear what is stored', command: '<%= config.bin %> <%= command.id %> --all'},
  ]

  static override flags = {
    account: accountFlag,
    all: Flags.boolean({description: 'Sign out of every account.', exclusive: ['account']}),
  }

  static override enableJsonFlag = true

  public async run(): Promise<{signedOut: LoggedOut[]; indexSetAside: {path: string; movedTo: string; reason: string} | null}> {
    const {flags} = await this.parse(Logout)
    const context = await this.authContext()
    let account = flags.account
    if (!account && !flags.all && !this.jsonEnabled() && !context.settings.account && !environmentToken(context)) {
      const {accounts, defaultKey} = await storedAccounts(context)
      account = (await chooseAccount('Sign out of which account?', accounts, defaultKey, describeAccount))?.key
    }
    const {results, reset} = await logout(context, {account, all: flags.all})
    if (reset) {
      this.warn(`The login index ${reset.path} was ${reset.reason}; it was moved to ${reset.movedTo}.`)
      this.log(reset.credentialsRemoved ? `Removed the stored secrets in ${reset.credentialsRemoved}.` : 'There was no credentials file to remove.')
      // Entries in a keychain or a helper are found only through the index.
      if (context.settings.storage !== 'file' && context.settings.storage !== 'memory') {
        this.log(`Any secrets kept in the OS keychain (service ${this.config.bin}-auth) or by a credential helper were named only in that index: remove them there by hand.`)
      }
    } else if (results.length === 0) this.log('No stored logins; nothing to sign out of.')
    for (const result of results) {
      const who = describeAccount(result.account)
      if (result.leftBehind) this.warn(`The stored secrets could not be deleted: ${result.leftBehind} Delete them there by hand once it answers.`)
      switch (result.revocation) {
        case 'revoked':
          this.log(`Signed out ${who}; the login was revoked at the issuer.`)
          break
        case 'unsupported':
          this.log(`Signed out ${who}. The issuer offers no revocation, so its tokens stay valid until they expire.`)
          break
        case 'failed':
          this.warn(`Could not revoke the login at the issuer: ${result.revocationError?.message}`)
          this.log(`Signed out ${who} on this machine; the issuer may still accept its tokens until they expire.`)
          break
      }
    }
    return {signedOut: results.map(toJson), indexSetAside: reset ? {path: reset.path, movedTo: reset.movedTo, reason: reset.reason} : null}
  }
}

function toJson({account, revocation, revocationError, leftBehind}: LogoutResult): LoggedOut {
  return {
    issuer: account.issuer,
    clientId: account.clientId,
    subject: account.subject,
    name: account.name ?? null,
    email: account.email ?? null,
    revocation,
    revocationError: revocationError ? {code: revocationError.code, message: revocationError.message} : null,
    leftBehind: leftBehind ?? null,
  }
}
