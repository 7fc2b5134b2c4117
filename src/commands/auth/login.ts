import {Flags} from '@oclif/core'
import {text} from 'node:stream/consumers'

import {AuthCommand} from '../../cli/auth-command.js'
import {browserCommand} from '../../cli/open-browser.js'
import {terminalUi} from '../../cli/terminal-ui.js'
import {AuthError} from '../../errors.js'
import {describeAccount} from '../../session/accounts.js'
import type {AuthContext} from '../../session/context.js'
import {login, type LoginMethod} from '../../session/login.js'
import {machineLoginCredential} from '../../session/machine.js'
import {toStatus, type AccountStatus} from '../../session/status.js'

export default class Login extends AuthCommand {
  static override summary = 'Sign in with your browser, a device code, or a token; or sign a machine in as the client itself.'

  static override description = `Opens the issuer's sign-in page in your browser and waits for you on a one-time address on 127.0.0.1. On a machine without a browser use --device and approve the sign-in on another device. The login is stored and becomes the default account; any earlier login is kept until the new one succeeds.

The browser is started with the command in <%= config.scopedEnvVarKey('BROWSER') %> (then BROWSER) if set, with the URL as its one argument.

Machines (a service, a CI job) sign in as the client itself with --client-credentials (RFC 6749 §4.4), proving it with the client secret (<%= config.scopedEnvVarKey('AUTH_CLIENT_SECRET') %>, or --with-secret on standard input; never a flag value), a private key (--client-assertion-key, RFC 7523), or a JWT from the CI system (<%= config.scopedEnvVarKey('AUTH_FEDERATED_TOKEN_FILE') %> or <%= config.scopedEnvVarKey('AUTH_FEDERATED_TOKEN_COMMAND') %>). Later commands get a new token by themselves when it expires.

Where sign-in is configured, first found wins: these flags; the environment (<%= config.scopedEnvVarKey('AUTH_ISSUER') %>, <%= config.scopedEnvVarKey('AUTH_CLIENT_ID') %>, <%= config.scopedEnvVarKey('AUTH_SCOPES') %>, <%= config.scopedEnvVarKey('AUTH_STORAGE') %>, …); your settings file auth.json in <%= config.bin %>'s config folder (on Linux ~/.config/<%= config.dirname %>; <%= config.scopedEnvVarKey('CONFIG_DIR') %> moves it), e.g. {"issuer": "https://id.example.com", "clientId": "my-cli"}; the CLI's own package.json (oclif.auth).`

  static override examples = [
    {description: 'Sign in with your browser', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Sign in on another device (SSH, containers)', command: '<%= config.bin %> <%= command.id %> --device'},
    {description: 'Store an access token made elsewhere', command: '$ echo "$TOKEN" | <%= config.bin %> <%= command.id %> --with-token'},
    {description: 'A machine, with its client secret on standard input', command: '$ printf %s "$SECRET" | <%= config.bin %> <%= command.id %> --client-credentials --with-secret --client-id my-service'},
    {description: 'A machine, with a private key', command: '<%= config.bin %> <%= command.id %> --client-credentials --client-assertion-key ./service-key.pem --client-id my-service'},
  ]

  static override flags = {
    device: Flags.boolean({description: 'Use the device authorization grant: enter a code on another device.', exclusive: ['with-token', 'client-credentials']}),
    'with-token': Flags.boolean({description: 'Read an access token from standard input.', exclusive: ['device', 'client-credentials']}),
    'client-credentials': Flags.boolean({description: 'Sign a machine in as the client itself (client_credentials), with its secret, key or federated token.'}),
    'with-secret': Flags.boolean({description: "With --client-credentials: read the client's secret from standard input (kept in the store for later tokens).", dependsOn: ['client-credentials']}),
    'client-assertion-key': Flags.string({description: "With --client-credentials: the client's private key, a PEM or JWK file (its path is kept), or - to read it from standard input (then the key is kept in the store).", dependsOn: ['client-credentials']}),
    issuer: Flags.string({description: 'Issuer URL (overrides the configured one).'}),
    'client-id': Flags.string({description: 'OAuth client id (overrides the configured one).'}),
    scopes: Flags.string({description: 'Scopes to request, separated by spaces.'}),
    storage: Flags.string({description: 'Where to keep this login: auto, keyring, file, memory or exec:<command>. Pins this account there.'}),
    clipboard: Flags.boolean({description: 'With a device code: copy it to the clipboard (pbcopy, clip, wl-copy, xclip or xsel).'}),
  }

  static override enableJsonFlag = true

  public async run(): Promise<{account: AccountStatus}> {
    const {flags} = await this.parse(Login)
    const stdinKey = flags['client-assertion-key'] === '-'
    const context = await this.authContext({...flags, 'client-assertion-key': stdinKey ? undefined : flags['client-assertion-key']})
    const method = await this.method(context, flags, stdinKey)
    const ui = terminalUi({browserCommand: browserCommand(context.env, context.envNames.browser), clipboard: flags.clipboard, env: context.env})
    const account = await login(context, method, ui)
    this.log(`Signed in as ${describeAccount(account)}.`)
    return {account: toStatus(account, true, context.env)}
  }

  private async method(context: AuthContext, flags: {device: boolean; 'with-token': boolean; 'client-credentials': boolean; 'with-secret': boolean}, stdinKey: boolean): Promise<LoginMethod> {
    if (flags['client-credentials']) {
      if (flags['with-secret'] && stdinKey) throw new AuthError('USAGE', '--with-secret and --client-assertion-key - both read standard input.', {suggestion: 'Give the key as a file instead.'})
      const input = flags['with-secret'] ? {secret: await this.oneValueFromStdin('--with-secret', 'the client secret')} : stdinKey ? {key: await this.readStdin('--client-assertion-key -')} : {}
      return {kind: 'client', ...(await machineLoginCredential(context, input))}
    }
    if (flags.device) return {kind: 'device'}
    if (!flags['with-token']) return {kind: 'browser'}
    return {kind: 'token', accessToken: await this.oneValueFromStdin('--with-token', 'one access token')}
  }

  private async readStdin(flag: string): Promise<string> {
    if (process.stdin.isTTY) {
      throw new AuthError('USAGE', `${flag} reads from standard input.`, {suggestion: `Pipe it in: … | ${this.commands.auth('login')} ${flag}`})
    }
    return text(process.stdin)
  }

  private async oneValueFromStdin(flag: string, what: string): Promise<string> {
    const value = (await this.readStdin(flag)).trim()
    if (!value || /\s/.test(value)) throw new AuthError('USAGE', `Standard input did not hold ${what}.`, {suggestion: `Pipe exactly ${what}, without spaces, into ${flag}.`})
    return value
  }
}
