import {Args} from '@oclif/core'

import {AuthCommand} from '../../cli/auth-command.js'
import {describeAccount, switchAccount} from '../../session/accounts.js'
import {toStatus, type AccountStatus} from '../../session/status.js'

export default class Switch extends AuthCommand {
  static override summary = 'Choose the default account.'

  static override description =
    'The default account is the one every command uses unless <%= config.scopedEnvVarKey(\'AUTH_ACCOUNT\') %>, or the --account flag of a command that has one, says otherwise. `<%= config.bin %> auth<%= config.topicSeparator %>status` lists the accounts and marks the default with *. Without an argument and with two accounts, switches to the other one (as `gh auth switch` does).'

  static override examples = [
    '<%= config.bin %> <%= command.id %> bob',
    {description: 'By its full key, when a name fits several accounts', command: '<%= config.bin %> <%= command.id %> "<issuer>|<client id>|<subject>"'},
    {description: 'With two accounts: switch to the other one', command: '<%= config.bin %> <%= command.id %>'},
  ]

  static override args = {
    account: Args.string({description: 'Subject, email, name or full key of a signed-in account.'}),
  }

  static override enableJsonFlag = true

  public async run(): Promise<{account: AccountStatus; changed: boolean}> {
    const {args} = await this.parse(Switch)
    const context = await this.authContext()
    const {account, changed} = await switchAccount(context, args.account)
    this.log(`${describeAccount(account)} ${changed ? 'is now' : 'is already'} the default account.`)
    return {account: toStatus(account, true, context.env), changed}
  }
}
