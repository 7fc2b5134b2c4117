import {Args} from '@oclif/core'

import {AuthCommand} from '../../cli/auth-command.js'
import {refuseWhileEnvironmentToken} from '../../session/context.js'
import {noSuchAccount} from '../../session/ensure-fresh.js'
import {pickAccount} from '../../store/account-index.js'
import {describeAccount} from '../../store/account-store.js'

export default class Switch extends AuthCommand {
  static override summary = 'Choose the default account.'

  static override description = 'The default account is the one every command uses unless --account says otherwise. `auth status` lists the accounts and marks the default with *.'

  static override examples = [
    '<%= config.bin %> <%= command.id %> bob',
    '<%= config.bin %> <%= command.id %> "https://id.example.com|acme-cli|bob"',
  ]

  static override args = {
    account: Args.string({description: 'Subject, email, name or full key of a signed-in account.', required: true}),
  }

  public async run(): Promise<void> {
    const {args} = await this.parse(Switch)
    const context = await this.authContext()
    refuseWhileEnvironmentToken(context, 'choose among the stored logins')
    const account = pickAccount(await context.store.readIndex(), args.account)
    if (!account) throw noSuchAccount(context, args.account)
    await context.store.setDefault(account)
    this.log(`${describeAccount(account)} is now the default account.`)
  }
}
