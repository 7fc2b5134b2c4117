import {AuthError} from '../errors.js'

export type AuthRequirement = 'required' | 'optional' | 'none'

/**
 * Does this command need a token? Its class says so (`static auth = 'required'`), or the host's
 * `oclif.auth.commands.require` patterns (asked for only when the class says nothing) match its id.
 * Runs before every command: no I/O.
 */
export function authRequirement(command: {id?: string; auth?: unknown}, requirePatterns: () => string[]): AuthRequirement {
  const declared = command.auth
  if (declared !== undefined) {
    if (declared === 'required' || declared === 'optional' || declared === 'none') return declared
    throw new AuthError('CONFIG_INVALID', `Command '${command.id}' declares static auth = ${JSON.stringify(declared)}; expected 'required', 'optional' or 'none'.`)
  }
  if (!command.id) return 'none'
  const id = command.id
  return requirePatterns().some((pattern) => matchesCommand(pattern, id)) ? 'required' : 'none'
}

/** `deploy*` matches `deploy` and `deploy:app`; topics may be written with spaces or colons. */
export function matchesCommand(pattern: string, id: string): boolean {
  const normalized = pattern.trim().replaceAll(/\s+/g, ':')
  const source = normalized.split('*').map((part) => part.replaceAll(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')
  return new RegExp(`^${source}$`).test(id)
}
