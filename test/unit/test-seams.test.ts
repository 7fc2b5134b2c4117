// Test seams, not test switches: the shipped code reads no variable that only tests set. Tests reach
// into a process through what it already offers (settings, the environment a user could set) or
// through a handler a preload installs (src/store/checkpoint.ts, test/fixtures/pause-at-step.mjs).

import {expect} from 'chai'
import {readdir, readFile} from 'node:fs/promises'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))

describe('test seams', () => {
  it('no source file reads a TOKENWISE_TEST_* variable', async () => {
    const readers: string[] = []
    for (const entry of await readdir(SRC, {recursive: true, withFileTypes: true})) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue
      const path = join(entry.parentPath, entry.name)
      if (/TOKENWISE_TEST/.test(await readFile(path, 'utf8'))) readers.push(relative(SRC, path))
    }
    expect(readers).to.deep.equal([])
  })
})
