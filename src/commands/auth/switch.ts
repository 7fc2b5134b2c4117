import {Args} from '@oclif/core'

import {AuthCommand} from '../../cli/auth-command.js'
import {AuthError} from '../../errors.js'
import {hostAuthCommand, loginCommand, refuseWhileEnvironmentToken} from '../../session/context.js'
import {noSuchAccount} from '../../session/ensure-fresh.js'
import {pickAccount} from '../../store/account-index.js'
import {describeAccount} from '../../store/account-store.js'

export default class Switch extends AuthCommand {
  static override summary = 'Choose the default account.'

  static override description =
    'The default account is the one every command uses unless --account (or <%= config.scopedEnvVarKey(\'AUTH_ACCOUNT\') %>) says otherwise. `<%= config.bin %> auth<%= config.topicSeparator %>status` lists the accounts and marks the default with *. Without an argument and with two accounts, switches to the other one (as `gh auth switch` does).'

  static override examples = [
    '<%= config.bin %> <%= command.id %> bob',
    '<%= config.bin %> <%= command.id %> "https://id.example.com|acme-cli|bob"',
    {description: 'With two accounts: switch to the other one', command: '<%= config.bin %> <%= command.id %>'},
  ]

  static override args = {
    account: Args.string({description: 'Subject, email, name or full key of a signed-in account.'}),
  }

  public async run(): Promise<void> {
    const {args} = await this.parse(Switch)
    const context = await this.authContext()
    refuseWhileEnvironmentToken(context, 'choose among the stored logins')
    const index = await context.store.readIndex()
    let account
    if (args.account) {
      account = pickAccount(index, args.account)
      if (!account) throw noSuchAccount(context, args.account)
    } else {
      const others = index.accounts.filter((entry) => entry.key !== index.defaultAccount)
      if (index.accounts.length === 0) {
        throw new AuthError('NOT_LOGGED_IN', 'You are not signed in.', {suggestion: `Run \`${loginCommand(context)}\`.`})
      }
      if (others.length !== 1 || index.accounts.length !== 2) {
        const names = index.accounts.map((entry) => `${entry.key === index.defaultAccount ? '* ' : ''}${describeAccount(entry)}`).join('; ')
        throw new AuthError('USAGE', `Which account? ${index.accounts.length === 1 ? 'There is only one' : `There are ${index.accounts.length}`}: ${names}.`, {
          suggestion: `Name one: \`${hostAuthCommand(context.config, 'switch')} <subject|email|key>\`${index.accounts.length === 1 ? `, after \`${loginCommand(context)}\` as someone else` : ''}.`,
        })
      }
      account = others[0]
    }
    if (account.key === index.defaultAccount) {
      this.log(`${describeAccount(account)} is already the default account.`)
      return
    }
    await context.store.setDefault(account)
    this.log(`${describeAccount(account)} is now the default account.`)
  }
}
