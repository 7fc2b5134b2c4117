/**
 * The next steps that end the store's messages. The store knows what happened (which file, which
 * backend, which account); how the host spells its commands and variables is the session's to say
 * (session/store-messages.ts), so nothing in store/ names a host command.
 */
export interface StoreNextSteps {
  /** A login that existed and no longer works. */
  signInAgain: string
  /** A store that does not answer: retry, or keep the login in a file. */
  keepInFile: string
  /** A login missing from a store that may be locked or stopped. */
  unlockOrSignInAgain: string
  /** A refresh the issuer answered whose answer could not be saved. */
  retryOrSignInAgain: string
  /** The index was damaged and its bytes were moved aside. */
  damagedIndexMoved: string
  /** The index could not be judged (too large) and stays where it is. */
  damagedIndexTooLarge: string
  /** An index names this credential helper (`exec:<command>`), which no setting names. */
  helperNotConfigured: (kind: string) => string
}
