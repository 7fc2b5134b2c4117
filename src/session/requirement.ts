import {AuthError} from '../errors.js'

export type AuthRequirement = 'required' | 'optional' | 'none'

/**
 * Does this command need a token? Its class says so (`static auth = 'required'`), or the host's
 * `oclif.auth.commands.require` patterns match its id. Runs before every command: no I/O.
 */
export function authRequirement(command: {id?: string; auth?: unknown}, hostAuth: unknown): AuthRequirement {
  const declared = command.auth
  if (declared !== undefined) {
    if (declared === 'required' || declared === 'optional' || declared === 'none') return declared
    throw new AuthError('CONFIG_INVALID', `Command '${command.id}' declares static auth = ${JSON.stringify(declared)}; expected 'required', 'optional' or 'none'.`)
  }
  const patterns = (hostAuth as {commands?: {require?: unknown}} | undefined)?.commands?.require
  if (patterns === undefined || !command.id) return 'none'
  if (!Array.isArray(patterns) || patterns.some((pattern) => typeof pattern !== 'string')) {
    throw new AuthError('CONFIG_INVALID', 'Invalid oclif.auth.commands.require in the host\'s package.json: expected a list of command id patterns.')
  }
  return patterns.some((pattern: string) => matchesCommand(pattern, command.id!)) ? 'required' : 'none'
}

/** `deploy*` matches `deploy` and `deploy:app`; topics may be written with spaces or colons. */
export function matchesCommand(pattern: string, id: string): boolean {
  const normalized = pattern.trim().replaceAll(/\s+/g, ':')
  const source = normalized.split('*').map((part) => part.replaceAll(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')
  return new RegExp(`^${source}$`).test(id)
}
