import {AuthError} from '../errors.js'
import type {AccountRecord} from './account-index.js'

/*
 * What an issuer's answer may make us keep in the index, which every command reads before it does
 * anything. OpenID Connect caps `sub` at 255 ASCII characters (Core §2); names, addresses and
 * issuer URLs are far shorter than these caps, and scopes real issuers grant are a few dozen at
 * most, each a word or a URL. One hostile sign-in must not grow the index towards the size no file
 * of ours may have (private-files.ts), where it would stop every account from working.
 */
export const RECORD_LIMITS = {
  /** Characters of each stored claim: subject, name, email, and the issuer an ID token names. */
  claimChars: 1024,
  /** How many scopes are kept for one login. */
  scopes: 100,
  /** Characters of each scope. */
  scopeChars: 256,
} as const

/**
 * Refuse a sign-in whose record would not fit, before anything is written: the issuer's answer is
 * said to be too large, and nothing of it is kept (the tokens are dropped with it; every other login
 * is as it was).
 */
export function checkRecordFits(record: AccountRecord): void {
  const problem = whatDoesNotFit(record)
  if (!problem) return
  throw new AuthError('LOGIN_FAILED', `The issuer's answer was too large to keep: ${problem}. Nothing was stored; other logins are as they were.`, {
    suggestion: "Tell the issuer's administrators; this is not something a setting here changes.",
  })
}

function whatDoesNotFit(record: AccountRecord): string | undefined {
  const {claimChars, scopes, scopeChars} = RECORD_LIMITS
  for (const [claim, value] of [['issuer', record.issuer], ['subject', record.subject], ['name', record.name], ['email', record.email]] as const) {
    if (value !== undefined && value.length > claimChars) return `its ${claim} is ${value.length} characters, more than the ${claimChars} kept`
  }
  if (record.scopes.length > scopes) return `it granted ${record.scopes.length} scopes, more than the ${scopes} kept`
  const long = record.scopes.find((scope) => scope.length > scopeChars)
  if (long) return `it granted a scope of ${long.length} characters, more than the ${scopeChars} kept`
  return undefined
}
