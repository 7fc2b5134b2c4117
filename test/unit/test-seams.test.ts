// Test seams, not test switches: the shipped code reads no variable that only tests set. Tests reach
// into a process through what it already offers (settings, the environment a user could set) or
// through a handler a preload installs (src/store/checkpoint.ts, test/fixtures/pause-at-step.mjs).

import {expect} from 'chai'
import {readdir, readFile} from 'node:fs/promises'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SRC = join(ROOT, 'src')

async function textsUnder(dir: string, extension: string): Promise<Map<string, string>> {
  const texts = new Map<string, string>()
  for (const entry of await readdir(dir, {recursive: true, withFileTypes: true})) {
    if (!entry.isFile() || !entry.name.endsWith(extension)) continue
    const path = join(entry.parentPath, entry.name)
    texts.set(relative(ROOT, path), await readFile(path, 'utf8'))
  }
  return texts
}

describe('test seams', () => {
  it('no source file reads a TOKENWISE_TEST_* variable', async () => {
    const readers = [...(await textsUnder(SRC, '.ts'))].filter(([, text]) => /TOKENWISE_TEST/.test(text)).map(([path]) => path)
    expect(readers).to.deep.equal([])
  })

  it("every variable of the host's that the source reads is documented for users: none is there for tests alone", async () => {
    // The host's variables are read by suffix: config.scopedEnvVarKey('AUTH_STORAGE'), or a settings row's env: 'AUTH_STORAGE'.
    const suffixes = new Set<string>()
    for (const text of (await textsUnder(SRC, '.ts')).values()) {
      for (const match of text.matchAll(/scopedEnvVarKey\('([A-Z_]+)'\)|\benv: '([A-Z_]+)'/g)) suffixes.add(match[1] ?? match[2])
    }
    expect(suffixes.size).to.be.greaterThan(20)
    // Not testing.md: a variable named only where the tests are explained is a test switch.
    const userDocs = [...(await textsUnder(join(ROOT, 'docs'), '.md'))].filter(([path]) => !path.endsWith('testing.md')).map(([, text]) => text)
    const docs = [...userDocs, await readFile(join(ROOT, 'README.md'), 'utf8')].join('\n')
    const undocumented = [...suffixes].filter((suffix) => !new RegExp(`\\bACME_${suffix}\\b`).test(docs))
    expect(undocumented).to.deep.equal([])
  })
})
