import {Flags} from '@oclif/core'

import {AuthCommand} from '../../cli/auth-command.js'
import {oneLine} from '../../cli/one-line.js'
import {describeAccount, notSignedIn} from '../../session/accounts.js'
import {accountOverride, missingSettings, status, type AccountOverride, type AccountStatus, type StatusReport} from '../../session/status.js'

export default class Status extends AuthCommand {
  static override summary = 'Show who is signed in, to which issuer, and where the login is kept.'

  static override description = `Reads only the local store: it makes no network request and prints no secret unless --show-token asks for the access token. While <%= config.scopedEnvVarKey('TOKEN') %> is set, commands use that token and no stored login, and status says so.

Exits 0 whether or not you are signed in (read \`loggedIn\` from --json), or with --check exits 4 when not signed in, for scripts.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    {description: 'Machine-readable, for scripts', command: '<%= config.bin %> <%= command.id %> --json'},
    {description: 'In a script: stop unless signed in', command: '<%= config.bin %> <%= command.id %> --check >/dev/null || exit'},
    {description: 'One account, with its access token', command: '<%= config.bin %> <%= command.id %> --account bob --show-token'},
  ]

  static override enableJsonFlag = true

  static override flags = {
    account: Flags.string({description: 'Show only this account (its subject, email, name or key).'}),
    'show-token': Flags.boolean({description: 'Also show the access token (read from where the login is kept). It is a secret: do not paste it into logs.'}),
    check: Flags.boolean({description: 'Exit 4 when not signed in (with a stored login or the token variable), like `gh auth status`.'}),
  }

  public async run(): Promise<StatusReport> {
    const {flags} = await this.parse(Status)
    const context = await this.authContext()
    const report = await status(context, {account: flags.account, showToken: flags['show-token']})
    if (report.source === 'env') {
      this.log(`Using the access token from ${context.envNames.token}; stored logins are ignored while it is set.`)
    } else if (!report.loggedIn) {
      const missing = missingSettings(context)
      // A user of a CLI whose author configured nothing: "sign in" alone would only fail next.
      if (missing.length > 0) this.log(`Not signed in, and signing in needs ${missing.map((key) => (key === 'issuer' ? 'an issuer' : 'a client id')).join(' and ')}: put it in ${context.settingsFile} (or see \`${context.commands.auth('login')} --help\`).`)
      else this.log(`Not signed in. ${context.commands.signIn()}`)
    } else {
      for (const account of report.accounts) {
        this.log(describe(account, context.store.paths.credentials))
        if (flags['show-token']) this.logSecret(`    Token:         ${account.accessToken}`)
        else this.log('    Token:         ******** (--show-token shows it)')
      }
      const override = flags.account ? undefined : await accountOverride(context)
      if (override) this.log(`\n${describeOverride(override)}`)
    }
    if (flags.check && !report.loggedIn) throw notSignedIn(context)
    return report
  }
}

/** `ACME_AUTH_ACCOUNT` wins over the default marked with *: say which account commands will use. */
function describeOverride({source, account, problem}: AccountOverride): string {
  return account ? `Commands use ${describeAccount(account)}: ${source} names it.` : `${source}: ${oneLine(problem ?? '')}.`
}

/** One account as lines of ours, with every value from the issuer or the index on the line it belongs to. */
function describe(account: AccountStatus, credentialsPath: string): string {
  const clientId = oneLine(account.clientId)
  const who =
    account.kind === 'client'
      ? `client ${clientId} (signs in as itself with ${CLIENT_AUTH[account.clientAuthentication ?? ''] ?? oneLine(account.clientAuthentication ?? '')})`
      : [account.name && oneLine(account.name), `(${oneLine(account.subject)})`, account.email ? `<${oneLine(account.email)}>` : undefined].filter(Boolean).join(' ')
  const lines = [
    `${account.default ? '*' : ' '} ${who}`,
    `    Issuer:        ${oneLine(account.issuer)}`,
    `    Client:        ${clientId}`,
    `    Token expires: ${expiry(account.expiresAt)}`,
    `    Refreshable:   ${account.kind === 'client' ? 'yes (a new token from its own credentials)' : account.hasRefreshToken ? 'yes' : 'no (sign in again when it expires)'}`,
    `    Scopes:        ${oneLine(account.scopes.join(' ')) || '(unknown)'}`,
    `    Stored in:     ${oneLine(account.storage)}${account.storage === 'file' ? ` (${credentialsPath})` : ''}`,
  ]
  return lines.join('\n')
}

const CLIENT_AUTH: Record<string, string> = {
  client_secret: 'its client secret',
  private_key_jwt: 'its private key (private_key_jwt)',
  federated: 'a federated token from its CI system',
}

function expiry(expiresAt: string | null): string {
  if (!expiresAt) return 'unknown'
  const ms = Date.parse(expiresAt) - Date.now()
  const minutes = Math.round(Math.abs(ms) / 60_000)
  const span = minutes === 0 ? 'under a minute' : `${minutes} min`
  const relative = ms <= 0 ? `expired ${minutes === 0 ? 'just now' : `${span} ago`}; refreshed on next use` : `in ${span}`
  return `${oneLine(expiresAt)} (${relative})`
}
