import {Command, Flags, ux} from '@oclif/core'

import {AuthError} from '../errors.js'
import {HostCommands} from '../host-commands.js'
import {displaySafe, jsonTerminalSafe, terminalSafe} from '../safe-text.js'
import {authContext, type AuthContext} from '../session/context.js'
import {inHostWords} from '../session/store-messages.js'
import type {SettingFlags} from '../settings/load.js'

/** For the commands that act on one stored account. */
export const accountFlag = Flags.string({
  description: 'Account to use (its subject, email or key); the default account when omitted.',
})

/**
 * The base of the `auth` commands: one way to turn an AuthError into what the user sees — one
 * line with the next step and the documented exit code, or, with `--json`, the same as a JSON
 * object on stdout. Never a stack trace for an error we expected.
 */
export abstract class AuthCommand extends Command {
  /** The auth commands manage the login themselves: a host's `commands.require: ['*']` must not lock `auth login` out. */
  static auth = 'none'

  /** Settings resolved from `flags` and the rest (DESIGN.md, Settings), and the store. */
  protected async authContext(flags: SettingFlags = {}): Promise<AuthContext> {
    return authContext(this.config, flags)
  }

  /** Every line a command prints may hold text from the issuer (names, emails, descriptions): made safe for a terminal. */
  public override log(message = '', ...args: unknown[]): void {
    super.log(displaySafe(message), ...args)
  }

  /** For the one line that shows a secret on purpose (`status --show-token`): made safe for a terminal, not redacted. */
  protected logSecret(message: string): void {
    super.log(terminalSafe(message))
  }

  /** `--json` output keeps the issuer's values exact, with nothing in it a terminal would act on. */
  public override logJson(json: unknown): void {
    ux.stdout(jsonTerminalSafe(ux.colorizeJson(json, {pretty: true, theme: this.config.theme?.json})))
  }

  public override warn(input: string | Error): string | Error {
    return super.warn(typeof input === 'string' ? displaySafe(input) : input)
  }

  /** How this host spells our commands, for suggestions. */
  protected get commands(): HostCommands {
    return new HostCommands(this.config.bin, this.config.topicSeparator)
  }

  protected override async catch(caught: Error & {exitCode?: number}): Promise<unknown> {
    // A spinner still running would swallow the message.
    if (ux.action.running) ux.action.stop('failed')
    const error = caught instanceof AuthError ? inHostWords(caught, this.config) : caught
    if (!(error instanceof AuthError)) {
      // oclif's own --json rendering of a flag error dumps the whole parse context: give scripts
      // the documented shape instead (flag errors are usage errors, exit 2).
      if (this.jsonEnabled() && !isExit(error)) {
        const shown = usageOrUnexpected(error, `${this.config.bin} ${(this.id ?? '').replaceAll(':', this.config.topicSeparator)} --help`)
        this.logJson({error: shown.toJSON()})
        this.exit(shown.exitCode)
      }
      return super.catch(error)
    }
    if (this.jsonEnabled()) {
      this.logJson({error: error.toJSON()})
      this.exit(error.exitCode)
    }
    this.error(error.userMessage, {exit: error.exitCode})
  }
}

/** `this.exit()` works by throwing: let it through untouched. */
function isExit(error: Error & {code?: string}): boolean {
  return error.code === 'EEXIT'
}

/** A flag or argument error from oclif's parser (exit 2, or the host's own `oclif.exitCodes`), or one nobody expected. */
function usageOrUnexpected(error: Error & {oclif?: {exit?: number}}, help: string): AuthError {
  const firstLine = error.message.split('\n')[0]
  if ('parse' in error || error.oclif?.exit === 2) return new AuthError('USAGE', firstLine, {suggestion: `See \`${help}\`.`})
  return new AuthError('UNEXPECTED', firstLine)
}
