// The layers of DESIGN.md, checked on the sources: data flows down, nothing calls up, commands and
// hooks talk to the session (and cli, settings, errors) only. Type-only and lazy imports count too:
// a lazy import upward is still a loop in the design.

import {expect} from 'chai'
import {readdir, readFile} from 'node:fs/promises'
import {dirname, join, relative, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))

/** Higher layers may import lower ones; a folder may import itself. */
const LAYERS: Array<{name: string; files: RegExp; rank: number; mayImport?: RegExp}> = [
  {name: 'commands', files: /^commands\//, rank: 6, mayImport: /^(cli|session|settings)\/|^(errors|host-commands|durations)\.ts$/},
  {name: 'hooks', files: /^hooks\//, rank: 6, mayImport: /^(session|settings)\/|^errors\.ts$/},
  {name: 'library API', files: /^(index|command-error)\.ts$/, rank: 6, mayImport: /^session\/|^(errors|command-error)\.ts$/},
  {name: 'cli', files: /^cli\//, rank: 5},
  {name: 'session', files: /^session\//, rank: 4},
  {name: 'provider', files: /^provider\//, rank: 3},
  {name: 'store', files: /^store\//, rank: 2},
  {name: 'transport', files: /^transport\//, rank: 1.5},
  {name: 'settings', files: /^settings\//, rank: 1},
  {name: 'shared words', files: /^(errors|durations|host-commands|split-command|safe-text|private-files|run-environment)\.ts$/, rank: 0},
]

const MAX_LINES = 400

async function sources(dir = SRC): Promise<string[]> {
  const entries = await readdir(dir, {withFileTypes: true})
  const nested = await Promise.all(entries.map((entry) => (entry.isDirectory() ? sources(join(dir, entry.name)) : [join(dir, entry.name)])))
  return nested.flat().filter((file) => file.endsWith('.ts'))
}

function layerOf(file: string) {
  const layer = LAYERS.find((candidate) => candidate.files.test(file))
  if (!layer) throw new Error(`src/${file} belongs to no layer: add it to LAYERS in ${relative(process.cwd(), fileURLToPath(import.meta.url))}`)
  return layer
}

/** Relative imports of a file: static, `export … from`, dynamic and `typeof import(…)`. */
function importsOf(text: string): string[] {
  const found = [...text.matchAll(/\bfrom\s+'(\.[^']+)'|\bimport\(\s*'(\.[^']+)'\s*\)/g)].map((match) => match[1] ?? match[2])
  return [...new Set(found)]
}

describe('layers: commands/hooks/index → session → provider → store → settings → errors', () => {
  it('no source file imports a layer above its own, and commands and hooks skip none', async () => {
    const problems: string[] = []
    for (const path of await sources()) {
      const file = relative(SRC, path)
      const layer = layerOf(file)
      for (const specifier of importsOf(await readFile(path, 'utf8'))) {
        const target = relative(SRC, resolve(dirname(path), specifier)).replace(/\.js$/, '.ts')
        const targetLayer = layerOf(target)
        const sameFolder = dirname(target) === dirname(file) && dirname(file) !== '.'
        if (layer.mayImport && !sameFolder && !layer.mayImport.test(target)) problems.push(`${file} (${layer.name}) imports ${target}`)
        else if (!sameFolder && targetLayer.rank > layer.rank) problems.push(`${file} (${layer.name}) imports upward: ${target} (${targetLayer.name})`)
        else if (!sameFolder && targetLayer.rank === layer.rank && targetLayer !== layer) problems.push(`${file} (${layer.name}) imports a sibling layer: ${target}`)
      }
    }
    expect(problems).to.deep.equal([])
  })

  it(`no source file is over ${MAX_LINES} lines`, async () => {
    const long: string[] = []
    for (const path of await sources()) {
      const lines = (await readFile(path, 'utf8')).split('\n').length
      if (lines > MAX_LINES) long.push(`${relative(SRC, path)}: ${lines} lines`)
    }
    expect(long).to.deep.equal([])
  })
})
