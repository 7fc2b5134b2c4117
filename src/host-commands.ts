/**
 * How the host spells our commands, for the next steps we suggest: `acme auth login`, or
 * `acme auth:login` in a host that keeps oclif's default topic separator. Every "sign in" hint is
 * built here, so they all name the same command the same way.
 */
export class HostCommands {
  constructor(
    /** The host's bin, e.g. `acme`. */
    readonly bin: string,
    readonly topicSeparator: string = ' ',
  ) {}

  /** `acme auth login` for `login`. */
  auth(subcommand: string): string {
    return `${this.bin} auth${this.topicSeparator}${subcommand}`
  }

  /** For "you are not signed in". */
  signIn(): string {
    return `Run \`${this.auth('login')}\`.`
  }

  /** For a login that existed and no longer works. */
  signInAgain(): string {
    return `Run \`${this.auth('login')}\` to sign in again.`
  }

  /** For a store that does not answer: moving a login out of it means reading it first, so not "set storage=file". */
  keepInFile(storageVariable: string): string {
    return `Retry once it answers, or keep the login in a file: sign in again with \`${this.auth('login')} --storage file\` (${storageVariable}=file does it for every new login).`
  }
}
