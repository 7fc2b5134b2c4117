import {oneLineSafe, redactSecrets} from './safe-text.js'

/**
 * One error type for everything a user can meet. The `code` is stable (scripts match on it), the
 * exit code follows from it, and every message comes with the next step to take.
 */

export type AuthErrorCode =
  | 'NOT_LOGGED_IN'
  | 'REAUTH_REQUIRED'
  | 'CONFIG_INVALID'
  | 'USAGE'
  | 'TRANSIENT'
  | 'TLS_FAILED'
  | 'LOGIN_FAILED'
  | 'LOGIN_TIMEOUT'
  | 'ACCESS_DENIED'
  | 'STORE_UNAVAILABLE'
  | 'STORE_CORRUPT'
  | 'UNEXPECTED'

/** Exit codes are part of our public contract: scripts and CI branch on them. */
export const EXIT_CODES: Record<AuthErrorCode, number> = {
  NOT_LOGGED_IN: 4,
  REAUTH_REQUIRED: 4,
  CONFIG_INVALID: 2,
  USAGE: 2,
  TRANSIENT: 75,
  TLS_FAILED: 1,
  LOGIN_FAILED: 1,
  LOGIN_TIMEOUT: 1,
  ACCESS_DENIED: 1,
  STORE_UNAVAILABLE: 1,
  STORE_CORRUPT: 1,
  UNEXPECTED: 1,
}

/**
 * A next step named without words, by code that does not know how the host spells its commands (the
 * store): session/store-messages.ts says it in the host's words where the error reaches the user.
 */
export type NextStep =
  /** A login that existed and no longer works. */
  | 'sign-in-again'
  /** A store that does not answer: retry, or keep the login in a file. */
  | 'keep-in-file'
  /** A login missing from a store that may be locked or stopped. */
  | 'unlock-or-sign-in-again'
  /** A refresh the issuer answered whose answer could not be saved. */
  | 'retry-or-sign-in-again'
  /** The index was damaged and its bytes were moved aside. */
  | 'damaged-index-moved'
  /** The index could not be judged (too large, or not movable) and stays where it is. */
  | 'damaged-index-too-large'
  /** An index names this credential helper (`exec:<command>`), which no setting names. */
  | {helperNotConfigured: string}

export interface AuthErrorOptions {
  /** What the user should do next, e.g. "Run `acme auth login`." */
  suggestion?: string
  /** The next step without words, for the session to say (NextStep); the suggestion, once said, wins. */
  next?: NextStep
  /** Kept for debugging only; never rendered to users (it may hold request details). */
  cause?: unknown
  /**
   * Why, in a few words ("connection refused", "no answer in time"): what the back-off record and the
   * "using the current token" line say, so nothing is taken from the message's wording.
   */
  reason?: string
}

export class AuthError extends Error {
  override readonly name = 'AuthError'
  readonly code: AuthErrorCode
  readonly exitCode: number
  readonly suggestion?: string
  /** The next step as the store names it, said in the host's words by session/store-messages.ts. */
  readonly next?: NextStep
  /** A few words on why (AuthErrorOptions.reason), where the raiser knows them. */
  readonly reason?: string
  /** oclif exits with this code should the error reach its handler. */
  readonly oclif: {exit: number}
  // Not `cause`: Node's inspect and oclif's error printer both walk `cause`, and one from fetch or
  // openid-client can carry a request body. A private field is invisible to both.
  readonly #cause: unknown

  constructor(code: AuthErrorCode, message: string, options: AuthErrorOptions = {}) {
    // Messages carry text from outside (an issuer's error description, a claim, a file name): no
    // escape sequences, no secret of ours and no line break of theirs get into what users, logs and
    // --json see. A message is one line (the suggestion too): nothing in it can forge another.
    super(oneLineSafe(redactSecrets(message)))
    this.code = code
    this.exitCode = EXIT_CODES[code]
    this.oclif = {exit: this.exitCode}
    this.suggestion = options.suggestion === undefined ? undefined : oneLineSafe(redactSecrets(options.suggestion))
    this.reason = options.reason === undefined ? undefined : oneLineSafe(redactSecrets(options.reason))
    this.next = options.next
    this.#cause = options.cause
  }

  /** The lower-level failure, for debugging only: it may hold request details. */
  get debugCause(): unknown {
    return this.#cause
  }

  /** The whole user-facing text: the message and the next step. */
  get userMessage(): string {
    return this.suggestion ? `${this.message} ${this.suggestion}` : this.message
  }

  /** The documented `--json` error shape: every key always present (`suggestion` may be null). */
  toJSON(): {code: AuthErrorCode; message: string; suggestion: string | null; exitCode: number} {
    return {code: this.code, message: this.message, suggestion: this.suggestion ?? null, exitCode: this.exitCode}
  }
}

export function isAuthError(error: unknown): error is AuthError {
  return error instanceof AuthError
}

