import {Args, Flags} from '@oclif/core'

import {AuthCommand, accountFlag} from '../../cli/auth-command.js'
import {AuthError} from '../../errors.js'
import {currentToken} from '../../session/ensure-fresh.js'

export default class Token extends AuthCommand {
  static override summary = 'Print the current access token, refreshed first if it is about to expire.'

  static override description = `Prints the token and a newline to stdout and nothing else, so it can be captured. This is the one command that prints a secret; do not paste its output into logs.

A DPoP-bound token (the dpop setting) is useless without a proof signed by this login's key, made for one request: --proof METHOD URL prints the two header lines that request needs (Authorization: DPoP … and DPoP: …).`

  static override examples = [
    '$ curl -H "Authorization: Bearer $(<%= config.bin %> <%= command.id %>)" https://api.example.com/me',
    {description: 'With its expiry', command: '<%= config.bin %> <%= command.id %> --json'},
    {description: 'The headers for one request, DPoP-bound or not (curl reads them from a file with -H @file)', command: '<%= config.bin %> <%= command.id %> --proof GET https://api.example.com/me > headers && curl -H @headers https://api.example.com/me'},
  ]

  static override enableJsonFlag = true

  static override flags = {
    account: accountFlag,
    proof: Flags.string({description: 'Print the Authorization (and, for a DPoP-bound token, DPoP) header lines for one request with this HTTP method to the URL argument.', helpValue: 'METHOD'}),
  }

  static override args = {
    url: Args.string({description: 'With --proof: the URL of the one request the headers are for.'}),
  }

  public async run(): Promise<{accessToken: string; expiresAt: string | null; tokenType: string; dpop?: string}> {
    const {args, flags} = await this.parse(Token)
    if (flags.proof !== undefined && !args.url) throw new AuthError('USAGE', '--proof needs the URL of the request after the method.', {suggestion: `For example: ${this.commands.auth('token')} --proof GET https://api.example.com/me`})
    if (flags.proof === undefined && args.url) throw new AuthError('USAGE', `A URL (${args.url}) makes sense only with --proof METHOD.`, {suggestion: `For example: ${this.commands.auth('token')} --proof GET ${args.url}`})
    const token = await currentToken(await this.authContext(), {account: flags.account})
    const result = {accessToken: token.accessToken, expiresAt: token.expiresAt, tokenType: token.tokenType}
    if (flags.proof !== undefined) {
      const method = flags.proof.toUpperCase()
      if (!/^[A-Z]+$/.test(method)) throw new AuthError('USAGE', `'${flags.proof}' is not an HTTP method.`, {suggestion: 'Give one such as GET or POST.'})
      let url: URL
      try {
        url = new URL(args.url!)
      } catch {
        throw new AuthError('USAGE', `'${args.url}' is not a URL.`, {suggestion: 'Give the whole URL of the request, such as https://api.example.com/me.'})
      }
      if (!token.dpopKey) {
        if (!this.jsonEnabled()) process.stdout.write(`Authorization: ${token.tokenType} ${token.accessToken}\n`)
        return result
      }
      const {proofFor} = await import('../../session/dpop-request.js')
      const headers = await proofFor(token, method, url)
      if (!this.jsonEnabled()) process.stdout.write(`Authorization: ${headers.authorization}\nDPoP: ${headers.dpop}\n`)
      return {...result, dpop: headers.dpop}
    }
    if (!this.jsonEnabled()) process.stdout.write(`${token.accessToken}\n`)
    // On stderr: stdout stays the token alone, for scripts that capture it.
    if (token.dpopKey) this.warn(`This token is DPoP-bound: an API takes it only with a proof for each request. \`${this.commands.auth('token')} --proof METHOD URL\` prints both headers for one request.`)
    return result
  }
}
