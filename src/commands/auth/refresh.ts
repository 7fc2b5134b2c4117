import {Flags} from '@oclif/core'

import {AuthCommand, accountFlag} from '../../cli/auth-command.js'
import {oneLine} from '../../cli/one-line.js'
import {browserCommand} from '../../cli/open-browser.js'
import {terminalUi} from '../../cli/terminal-ui.js'
import {AuthError} from '../../errors.js'
import {changedScopes, describeAccount, signedInAccount} from '../../session/accounts.js'
import {currentToken} from '../../session/ensure-fresh.js'
import {login} from '../../session/login.js'
import {refreshAheadNow} from '../../session/refresh-if-due.js'

export default class Refresh extends AuthCommand {
  static override summary = 'Refresh the access token now, or sign in again with more or fewer scopes.'

  static override description = `Uses the stored refresh token whatever the expiry of the access token. A rotated refresh token is stored at once.

With --scopes or --remove-scopes (as \`gh auth refresh\`), signs in again (browser, or --device) at the account's issuer, with the account's scopes plus or minus those given: an issuer grants new scopes only at a sign-in.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    {description: 'Add a scope (a new sign-in)', command: '<%= config.bin %> <%= command.id %> --scopes write:packages'},
    {description: 'Drop a scope', command: '<%= config.bin %> <%= command.id %> --remove-scopes offline_access'},
  ]

  static override enableJsonFlag = true

  static override flags = {
    account: accountFlag,
    scopes: Flags.string({description: 'Scopes to add, separated by spaces or commas: signs in again.'}),
    'remove-scopes': Flags.string({description: 'Scopes to drop, separated by spaces or commas: signs in again.'}),
    device: Flags.boolean({description: 'With --scopes or --remove-scopes: sign in with a device code.'}),
    // The init hook's background refresh: only if still due, silent, never an error.
    ahead: Flags.boolean({hidden: true, dependsOn: ['account']}),
  }

  public async run(): Promise<{expiresAt: string | null; scopes?: string[]} | void> {
    const {flags} = await this.parse(Refresh)
    if (flags.ahead) {
      this.debug(`refresh ahead: ${await refreshAheadNow(this.config, flags.account!)}`)
      return
    }
    if (flags.scopes !== undefined || flags['remove-scopes'] !== undefined) return this.changeScopes(flags)
    const token = await currentToken(await this.authContext(), {account: flags.account, force: true})
    const whose = token.account ? ` of ${describeAccount(token.account)}` : ''
    this.log(`Refreshed the access token${whose}; it expires ${token.expiresAt ? `at ${oneLine(token.expiresAt)}` : 'at a time the issuer did not say'}.`)
    return {expiresAt: token.expiresAt}
  }

  private async changeScopes(flags: {account?: string; scopes?: string; 'remove-scopes'?: string; device: boolean}): Promise<{expiresAt: string | null; scopes: string[]}> {
    const account = await signedInAccount(await this.authContext(), flags.account)
    const list = (text: string | undefined) => (text ?? '').split(/[\s,]+/).filter(Boolean)
    const scopes = changedScopes(account.scopes, list(flags.scopes), list(flags['remove-scopes']))
    if (scopes.length === 0) throw new AuthError('USAGE', 'That would leave the login without any scope.', {suggestion: 'Keep at least one scope.'})
    // The account's own issuer and client, whatever is configured now.
    const context = await this.authContext({issuer: account.issuer, 'client-id': account.clientId, scopes: scopes.join(' ')})
    const signedIn = await login(context, {kind: flags.device ? 'device' : 'browser'}, terminalUi({browserCommand: browserCommand(context.env, context.envNames.browser), env: context.env}))
    this.log(`Signed in again as ${describeAccount(signedIn)} with the scopes ${oneLine(signedIn.scopes.join(' '))}.`)
    return {expiresAt: signedIn.expiresAt, scopes: signedIn.scopes}
  }
}
