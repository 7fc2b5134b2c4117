/**
 * Split a command line the way a POSIX shell would for words and quotes, without running a shell:
 * for `ACME_BROWSER` and `exec:` credential helpers, whose commands users write like shell commands
 * but which we start directly, so that nothing in them is ever interpreted by a shell.
 */
export function splitCommand(command: string): string[] {
  const words: string[] = []
  let word: string | undefined
  let quote: '"' | "'" | undefined
  for (let i = 0; i < command.length; i++) {
    const char = command[i]
    if (quote) {
      if (char === quote) quote = undefined
      else if (char === '\\' && quote === '"' && i + 1 < command.length) word = (word ?? '') + command[++i]
      else word = (word ?? '') + char
    } else if (char === '"' || char === "'") {
      quote = char
      word ??= ''
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word)
      word = undefined
    } else if (char === '\\' && i + 1 < command.length) {
      word = (word ?? '') + command[++i]
    } else {
      word = (word ?? '') + char
    }
  }
  if (word !== undefined) words.push(word)
  return words
}
