import {AuthCommand} from '../../cli/auth-command.js'
import {describeAccount} from '../../session/accounts.js'
import {accountOverride, status, type AccountOverride, type AccountStatus, type StatusReport} from '../../session/status.js'

export default class Status extends AuthCommand {
  static override summary = 'Show who is signed in, to which issuer, and where the login is kept.'

  static override description = 'Reads only the local store: it makes no network request and never prints a secret. Exits 0 whether or not you are signed in; use --json and read `loggedIn` in scripts.'

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    {description: 'Machine-readable, for scripts', command: '<%= config.bin %> <%= command.id %> --json'},
  ]

  static override enableJsonFlag = true

  public async run(): Promise<StatusReport> {
    await this.parse(Status)
    const context = await this.authContext()
    const report = await status(context)
    if (report.source === 'env') {
      this.log(`Using the access token from ${context.envNames.token}; stored logins are ignored while it is set.`)
    } else if (!report.loggedIn) {
      this.log(`Not signed in. ${context.commands.signIn()}`)
    } else {
      for (const account of report.accounts) this.log(describe(account, context.store.paths.credentials))
      const override = await accountOverride(context)
      if (override) this.log(`\n${describeOverride(override)}`)
    }
    return report
  }
}

/** `ACME_AUTH_ACCOUNT` wins over the default marked with *: say which account commands will use. */
function describeOverride({source, account, problem}: AccountOverride): string {
  return account ? `Commands use ${describeAccount(account)}: ${source} names it.` : `${source}: ${problem}.`
}

function describe(account: AccountStatus, credentialsPath: string): string {
  const who = [account.name, `(${account.subject})`, account.email ? `<${account.email}>` : undefined].filter(Boolean).join(' ')
  const lines = [
    `${account.default ? '*' : ' '} ${who}`,
    `    Issuer:        ${account.issuer}`,
    `    Client:        ${account.clientId}`,
    `    Token expires: ${expiry(account.expiresAt)}`,
    `    Refreshable:   ${account.hasRefreshToken ? 'yes' : 'no (sign in again when it expires)'}`,
    `    Scopes:        ${account.scopes.join(' ') || '(unknown)'}`,
    `    Stored in:     ${account.storage}${account.storage === 'file' ? ` (${credentialsPath})` : ''}`,
  ]
  return lines.join('\n')
}

function expiry(expiresAt: string | null): string {
  if (!expiresAt) return 'unknown'
  const ms = Date.parse(expiresAt) - Date.now()
  const minutes = Math.round(Math.abs(ms) / 60_000)
  const span = minutes === 0 ? 'under a minute' : `${minutes} min`
  const relative = ms <= 0 ? `expired ${minutes === 0 ? 'just now' : `${span} ago`}; refreshed on next use` : `in ${span}`
  return `${expiresAt} (${relative})`
}
