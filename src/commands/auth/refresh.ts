import {Flags} from '@oclif/core'

import {AuthCommand, accountFlag} from '../../cli/auth-command.js'
import {describeAccount} from '../../session/accounts.js'
import {currentToken} from '../../session/ensure-fresh.js'
import {refreshAheadNow} from '../../session/refresh-if-due.js'

export default class Refresh extends AuthCommand {
  static override summary = 'Refresh the access token now.'

  static override description = 'Uses the stored refresh token whatever the expiry of the access token. A rotated refresh token is stored at once.'

  static override examples = ['<%= config.bin %> <%= command.id %>']

  static override enableJsonFlag = true

  static override flags = {
    account: accountFlag,
    // The init hook's background refresh: only if still due, silent, never an error.
    ahead: Flags.boolean({hidden: true, dependsOn: ['account']}),
  }

  public async run(): Promise<{expiresAt: string | null} | void> {
    const {flags} = await this.parse(Refresh)
    if (flags.ahead) {
      this.debug(`refresh ahead: ${await refreshAheadNow(this.config, flags.account!)}`)
      return
    }
    const token = await currentToken(await this.authContext(), {account: flags.account, force: true})
    const whose = token.account ? ` of ${describeAccount(token.account)}` : ''
    this.log(`Refreshed the access token${whose}; it expires ${token.expiresAt ? `at ${token.expiresAt}` : 'at a time the issuer did not say'}.`)
    return {expiresAt: token.expiresAt}
  }
}
