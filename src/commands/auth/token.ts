import {AuthCommand, accountFlag} from '../../cli/auth-command.js'
import {currentToken} from '../../session/ensure-fresh.js'

export default class Token extends AuthCommand {
  static override summary = 'Print the current access token, refreshed first if it is about to expire.'

  static override description = 'Prints the token and a newline to stdout and nothing else, so it can be captured. This is the one command that prints a secret; do not paste its output into logs.'

  static override examples = [
    '$ curl -H "Authorization: Bearer $(<%= config.bin %> <%= command.id %>)" https://api.example.com/me',
    {description: 'With its expiry', command: '<%= config.bin %> <%= command.id %> --json'},
  ]

  static override enableJsonFlag = true

  static override flags = {account: accountFlag}

  public async run(): Promise<{accessToken: string; expiresAt: string | null; tokenType: string}> {
    const {flags} = await this.parse(Token)
    const token = await currentToken(await this.authContext(), {account: flags.account})
    if (!this.jsonEnabled()) process.stdout.write(`${token.accessToken}\n`)
    return {accessToken: token.accessToken, expiresAt: token.expiresAt, tokenType: token.tokenType}
  }
}
