import {oneLineSafe} from '../safe-text.js'
import {atInteractiveTerminal, withPrompt} from './prompt.js'

/**
 * Ask a person at a terminal which account to act on (as `gh auth logout` does with several
 * accounts): a numbered list, the default marked and chosen on Enter. Returns undefined without a
 * terminal, where the caller keeps to the default account.
 */
export async function chooseAccount<T extends {key: string}>(question: string, accounts: T[], defaultKey: string | null, describe: (account: T) => string): Promise<T | undefined> {
  if (!atInteractiveTerminal() || accounts.length < 2) return undefined
  const defaultIndex = Math.max(0, accounts.findIndex((account) => account.key === defaultKey))
  for (const [i, account] of accounts.entries()) {
    process.stderr.write(`  ${i + 1}) ${oneLineSafe(describe(account))}${i === defaultIndex ? ' (default)' : ''}\n`)
  }
  return withPrompt(async (ask) => {
    for (;;) {
      const answer = (await ask(`${oneLineSafe(question)} [1-${accounts.length}, Enter for ${defaultIndex + 1}] `)).trim()
      if (answer === '') return accounts[defaultIndex]
      const chosen = Number(answer)
      if (Number.isInteger(chosen) && chosen >= 1 && chosen <= accounts.length) return accounts[chosen - 1]
    }
  })
}
