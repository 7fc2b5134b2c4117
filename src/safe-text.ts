/**
 * Text from outside (an issuer's claims and error descriptions, a credential helper's stderr, file
 * contents) on its way to a terminal or a message: no control sequences, and no secret of ours.
 *
 * - `\e[2K\r` would rewrite the line above, `\e]0;…\a` the window title, U+202E reverse what
 *   follows: C0 and C1 controls and the bidirectional overrides and isolates are removed.
 * - A value (a name, an email, an issuer, a label) goes on one line: `Alice\n    Issuer: https://evil`
 *   would print a line of its own. Line breaks of every kind (CR, LF, TAB, VT, FF, NEL and the Unicode
 *   line and paragraph separators U+2028/U+2029, which some terminals and readers break on) are
 *   removed there: CR and NEL as the controls they are, the others each made a space (words stay
 *   apart), and runs of spaces made one. In our own multi-line messages the Unicode separators are
 *   removed.
 * - An issuer that echoes the refresh token in its error text must not get it printed: every secret
 *   this process has read, received or sent is replaced by `[redacted]` wherever it appears.
 */

// eslint-disable-next-line no-control-regex
const ESCAPE_SEQUENCE = /\u001B(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001B]*(?:\u0007|\u001B\\)?|[@-Z\\-_])/g
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/g
// eslint-disable-next-line no-control-regex
const LINE_BREAKS = /[\t\n\u000B\u000C\u2028\u2029]+/g

/** Remove escape sequences, control characters and bidi controls; keep newlines and tabs (ours, in multi-line messages). */
export function terminalSafe(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, '').replace(CONTROL, '')
}

/**
 * The same, on one line: for a value from an issuer or a stored file (a claim, an issuer, a label, a
 * scope), and for text that goes inside one of our one-line messages: no line break of any kind.
 */
export function oneLineSafe(text: string): string {
  return terminalSafe(text.replace(LINE_BREAKS, ' ')).replaceAll(/\s+/g, ' ').trim()
}

// What JSON.stringify leaves raw that a terminal acts on: DEL, the C1 controls, bidi controls (and the
// line and paragraph separators some readers take for newlines). C0 controls it escapes already.
const RAW_IN_JSON = /[\u007F-\u009F\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/g

/**
 * JSON text, safe for a terminal: every character above written as a `\uXXXX` escape. They occur
 * only inside strings, so the document parses to the same values (a subject is kept as the issuer
 * sent it, and still matches `--account`), while a terminal showing `--json` output acts on none.
 */
export function jsonTerminalSafe(json: string): string {
  return json.replace(RAW_IN_JSON, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** Secrets shorter than this are not redacted by value: "abc" would mangle ordinary words. */
const MIN_SECRET_LENGTH = 8

/** The secrets this process holds, shared by every copy of this module in it. */
interface SecretRegistry {
  remember(value: string): void
  all(): string[]
  /** Absent from a registry made by an older copy of this module. */
  forgetAll?(): void
}

// On globalThis under a registered symbol, like the token holder (session/token-holder.ts): the hooks
// run from a bundle with its own copy of this module, and a host may load a second copy of the
// package. A secret any copy has seen is redacted by all of them. The secrets themselves stay in a
// closure, and the property is neither enumerable nor writable: printing globalThis shows none of
// them, and nothing replaces the registry once it is there.
const SECRETS_KEY = Symbol.for('@tokenwise/plugin-auth:secrets')
const registry = sharedRegistry()

function sharedRegistry(): SecretRegistry {
  const existing = (globalThis as Record<symbol, unknown>)[SECRETS_KEY] as Partial<SecretRegistry> | undefined
  if (typeof existing?.remember === 'function' && typeof existing.all === 'function') return existing as SecretRegistry
  const secrets = new Set<string>()
  const created: SecretRegistry = Object.freeze({remember: (value: string) => void secrets.add(value), all: () => [...secrets], forgetAll: () => secrets.clear()})
  try {
    Object.defineProperty(globalThis, SECRETS_KEY, {value: created, enumerable: false, writable: false, configurable: false})
  } catch {
    // Something else holds the name: this copy keeps its own registry.
  }
  return created
}

/**
 * Remember a secret this process holds (a token read from the store or received, a code, a PKCE
 * verifier, a client secret), so that no message of ours ever shows it.
 */
export function rememberSecret(value: string | undefined): void {
  if (value && value.length >= MIN_SECRET_LENGTH) registry.remember(value)
}

/**
 * Forget every secret remembered so far: for a process that runs one command after another (see
 * run-environment.ts), where one command's secrets must not change what the next one prints.
 */
export function forgetSecrets(): void {
  registry.forgetAll?.()
}

/** Replace every remembered secret in `text` with `[redacted]`, longest first (one may contain another). */
export function redactSecrets(text: string): string {
  const secrets = registry.all()
  if (secrets.length === 0) return text
  let result = text
  for (const secret of secrets.sort((a, b) => b.length - a.length)) {
    if (result.includes(secret)) result = result.replaceAll(secret, '[redacted]')
  }
  return result
}

/** Both: what any text from outside goes through before a person sees it. */
export function displaySafe(text: string): string {
  return terminalSafe(redactSecrets(text))
}
