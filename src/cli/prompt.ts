import {interruptFromKeyboard} from '../session/interrupts.js'

/** A person is at this terminal: stdin and stderr both are one. */
export function atInteractiveTerminal(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY)
}

/**
 * Ask the person at the terminal, as many questions as `ask` needs: on stderr, so stdout stays for
 * scripts. readline is loaded only here, when someone is asked something.
 */
export async function withPrompt<T>(ask: (question: (text: string) => Promise<string>) => Promise<T>): Promise<T> {
  const {createInterface} = await import('node:readline/promises')
  const prompt = createInterface({input: process.stdin, output: process.stderr})
  try {
    return await ask((text) => prompt.question(text))
  } catch (error) {
    // Ctrl-C at the question (readline's AbortError): an interrupt, not a failure to report.
    if ((error as {code?: unknown})?.code === 'ABORT_ERR') {
      process.stderr.write('\n')
      interruptFromKeyboard()
    }
    throw error
  } finally {
    prompt.close()
  }
}
