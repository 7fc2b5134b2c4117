import {Flags} from '@oclif/core'
import {text} from 'node:stream/consumers'

import {AuthCommand} from '../../cli/auth-command.js'
import {terminalUi} from '../../cli/terminal-ui.js'
import {AuthError} from '../../errors.js'
import {describeAccount} from '../../session/accounts.js'
import {login, type LoginMethod} from '../../session/login.js'
import {toStatus, type AccountStatus} from '../../session/status.js'

export default class Login extends AuthCommand {
  static override summary = 'Sign in with your browser, a device code, or a token.'

  static override description = `Opens the issuer's sign-in page in your browser and waits for you on a one-time address on 127.0.0.1. On a machine without a browser use --device and approve the sign-in on another device. The login is stored and becomes the default account; any earlier login is kept until the new one succeeds.

The browser is started with the command in <%= config.scopedEnvVarKey('BROWSER') %> (then BROWSER) if set, with the URL as its one argument.

Where sign-in is configured, first found wins: these flags; the environment (<%= config.scopedEnvVarKey('AUTH_ISSUER') %>, <%= config.scopedEnvVarKey('AUTH_CLIENT_ID') %>, <%= config.scopedEnvVarKey('AUTH_SCOPES') %>, <%= config.scopedEnvVarKey('AUTH_STORAGE') %>, …); your settings file auth.json in <%= config.bin %>'s config folder (on Linux ~/.config/<%= config.dirname %>; <%= config.scopedEnvVarKey('CONFIG_DIR') %> moves it), e.g. {"issuer": "https://id.example.com", "clientId": "my-cli"}; the CLI's own package.json (oclif.auth).`

  static override examples = [
    {description: 'Sign in with your browser', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Sign in on another device (SSH, containers)', command: '<%= config.bin %> <%= command.id %> --device'},
    {description: 'Store an access token made elsewhere', command: 'echo "$TOKEN" | <%= config.bin %> <%= command.id %> --with-token'},
  ]

  static override flags = {
    device: Flags.boolean({description: 'Use the device authorization grant: enter a code on another device.', exclusive: ['with-token']}),
    'with-token': Flags.boolean({description: 'Read an access token from standard input.', exclusive: ['device']}),
    issuer: Flags.string({description: 'Issuer URL (overrides the configured one).'}),
    'client-id': Flags.string({description: 'OAuth client id (overrides the configured one).'}),
    scopes: Flags.string({description: 'Scopes to request, separated by spaces.'}),
    storage: Flags.string({description: 'Where to keep this login: auto, keyring, file, memory or exec:<command>. Pins this account there.'}),
    clipboard: Flags.boolean({description: 'With a device code: copy it to the clipboard (pbcopy, clip, wl-copy, xclip or xsel).'}),
  }

  static override enableJsonFlag = true

  public async run(): Promise<{account: AccountStatus}> {
    const {flags} = await this.parse(Login)
    const context = await this.authContext(flags)
    const method = await this.method(flags)
    const ui = terminalUi({browserCommand: browserCommand(context.envNames.browser), clipboard: flags.clipboard})
    const account = await login(context, method, ui)
    this.log(`Signed in as ${describeAccount(account)}.`)
    return {account: toStatus(account, true)}
  }

  private async method(flags: {device: boolean; 'with-token': boolean}): Promise<LoginMethod> {
    if (flags.device) return {kind: 'device'}
    if (!flags['with-token']) return {kind: 'browser'}
    if (process.stdin.isTTY) {
      throw new AuthError('USAGE', '--with-token reads the token from standard input.', {
        suggestion: `Pipe it in: echo "$TOKEN" | ${this.commands.auth('login')} --with-token`,
      })
    }
    const accessToken = (await text(process.stdin)).trim()
    if (!accessToken || /\s/.test(accessToken)) {
      throw new AuthError('USAGE', 'Standard input did not hold one access token.', {
        suggestion: 'Pipe exactly one token, without spaces, into --with-token.',
      })
    }
    return {kind: 'token', accessToken}
  }
}

function browserCommand(variable: string): string | undefined {
  return process.env[variable] || process.env.BROWSER || undefined
}
