import {Flags} from '@oclif/core'

import {AuthCommand} from '../../cli/auth-command.js'
import {oneLine} from '../../cli/one-line.js'
import {describeAccount, notSignedIn} from '../../session/accounts.js'
import {EXIT_CODES} from '../../errors.js'
import {accountOverride, missingSettings, status, type AccountOverride, type AccountStatus, type StatusReport, type VerificationProblems} from '../../session/status.js'

export default class Status extends AuthCommand {
  static override summary = 'Show who is signed in, to which issuer, and where the login is kept.'

  static override description = `Reads only the local store: it makes no network request and prints no secret unless --show-token asks for the access token. While <%= config.scopedEnvVarKey('TOKEN') %> is set, commands use that token and no stored login, and status says so.

With --verify it asks the issuer whether each stored login still works: the token is refreshed first when it is due, then shown to the issuer's userinfo (or the configured profile) endpoint; --json gains \`verified: true|false\` per account. A token the issuer turns away is reported, even one it has just issued. A machine's login (client credentials) is verified by getting it a token; a token in <%= config.scopedEnvVarKey('TOKEN') %> is not checked.

Exits 0 whether or not you are signed in (read \`loggedIn\` from --json), or with --check exits 4 when not signed in, for scripts. With --verify: 0 when every login shown is verified, 4 when one is not (sign in again), 75 when the issuer does not answer (nothing is known; retry).`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    {description: 'Machine-readable, for scripts', command: '<%= config.bin %> <%= command.id %> --json'},
    {description: 'In a script: stop unless signed in', command: '<%= config.bin %> <%= command.id %> --check >/dev/null || exit'},
    {description: 'One account, with its access token', command: '<%= config.bin %> <%= command.id %> --account bob --show-token'},
    {description: 'Ask the issuer whether the stored login still works (exit 4 if not)', command: '<%= config.bin %> <%= command.id %> --verify'},
  ]

  static override enableJsonFlag = true

  static override flags = {
    account: Flags.string({description: 'Show only this account (its subject, email, name or key).'}),
    'show-token': Flags.boolean({description: 'Also show the access token (read from where the login is kept). It is a secret: do not paste it into logs.'}),
    check: Flags.boolean({description: 'Exit 4 when not signed in (with a stored login or the token variable), like `gh auth status`.'}),
    verify: Flags.boolean({description: 'Ask the issuer whether each stored login works (refreshing first when due); exit 4 when one does not, 75 when the issuer does not answer.'}),
  }

  public async run(): Promise<StatusReport> {
    const {flags} = await this.parse(Status)
    const context = await this.authContext()
    const problems: VerificationProblems = new Map()
    const report = await status(context, {account: flags.account, showToken: flags['show-token'], verify: flags.verify}, problems)
    if (report.source === 'env') {
      this.log(`Using the access token from ${context.envNames.token}; stored logins are ignored while it is set.${flags.verify ? ' (--verify checks stored logins only.)' : ''}`)
    } else if (!report.loggedIn) {
      const missing = missingSettings(context)
      // A user of a CLI whose author configured nothing: "sign in" alone would only fail next.
      if (missing.length > 0) this.log(`Not signed in, and signing in needs ${missing.map((key) => (key === 'issuer' ? 'an issuer' : 'a client id')).join(' and ')}: put it in ${context.settingsFile} (or see \`${context.commands.auth('login')} --help\`).`)
      else this.log(`Not signed in. ${context.commands.signIn()}`)
    } else {
      for (const account of report.accounts) {
        this.log(describe(account, context.store.paths.credentials, context.now()))
        if (account.verified !== undefined) this.log(`    Verified:      ${account.verified ? 'yes, the issuer accepts the login' : `no: ${problems.get(keyOf(account))} ${context.commands.signInAgain()}`}`)
        if (flags['show-token']) this.logSecret(`    Token:         ${account.accessToken}`)
        else this.log('    Token:         ******** (--show-token shows it)')
      }
      const override = flags.account ? undefined : await accountOverride(context)
      if (override) this.log(`\n${describeOverride(override)}`)
    }
    if (flags.check && !report.loggedIn) throw notSignedIn(context)
    // The report is the answer, on stdout as usual (--json too); the exit code is what a script branches on.
    if (report.accounts.some((account) => account.verified === false)) process.exitCode = EXIT_CODES.REAUTH_REQUIRED
    return report
  }
}

/** `ACME_AUTH_ACCOUNT` wins over the default marked with *: say which account commands will use. */
function describeOverride({source, account, problem}: AccountOverride): string {
  return account ? `Commands use ${describeAccount(account)}: ${source} names it.` : `${source}: ${oneLine(problem ?? '')}.`
}

/** One account as lines of ours, with every value from the issuer or the index on the line it belongs to. */
function describe(account: AccountStatus, credentialsPath: string, now: number): string {
  const clientId = oneLine(account.clientId)
  const who =
    account.kind === 'client'
      ? `client ${clientId} (signs in as itself with ${CLIENT_AUTH[account.clientAuthentication ?? ''] ?? oneLine(account.clientAuthentication ?? '')})`
      : [account.name && oneLine(account.name), `(${oneLine(account.subject)})`, account.email ? `<${oneLine(account.email)}>` : undefined].filter(Boolean).join(' ')
  const lines = [
    `${account.default ? '*' : ' '} ${who}`,
    `    Issuer:        ${oneLine(account.issuer)}`,
    `    Client:        ${clientId}`,
    `    Token expires: ${expiry(account.expiresAt, now)}`,
    `    Refreshable:   ${account.kind === 'client' ? 'yes (a new token from its own credentials)' : account.hasRefreshToken ? 'yes' : 'no (sign in again when it expires)'}`,
    `    Scopes:        ${oneLine(account.scopes.join(' ')) || '(unknown)'}`,
    `    Stored in:     ${oneLine(account.storage)}${account.storage === 'file' ? ` (${credentialsPath})` : ''}`,
  ]
  if (account.proxy) lines.push(`    Proxy:         ${account.proxy}`)
  // RFC 9449: the tokens work only with proofs from the login's key; its thumbprint, never the key.
  if (account.tokenType === 'DPoP') lines.push(`    Bound to key:  ${account.jkt} (DPoP: every request needs a proof)`)
  return lines.join('\n')
}

function keyOf(account: AccountStatus): string {
  return `${account.issuer}|${account.clientId}|${account.subject}`
}

const CLIENT_AUTH: Record<string, string> = {
  client_secret: 'its client secret',
  private_key_jwt: 'its private key (private_key_jwt)',
  federated: 'a federated token from its CI system',
}

/** When the token expires, and how far that is from `now` (the session's clock). */
function expiry(expiresAt: string | null, now: number): string {
  if (!expiresAt) return 'unknown'
  const ms = Date.parse(expiresAt) - now
  const minutes = Math.round(Math.abs(ms) / 60_000)
  const span = minutes === 0 ? 'under a minute' : `${minutes} min`
  const relative = ms <= 0 ? `expired ${minutes === 0 ? 'just now' : `${span} ago`}; refreshed on next use` : `in ${span}`
  return `${oneLine(expiresAt)} (${relative})`
}
