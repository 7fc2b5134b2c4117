// Code a host author copies from the README or docs/ must work: every ```ts block type-checks against
// the built declarations of this package (as `@tokenwise/plugin-auth`, the way a host imports it), and
// every ```json block parses. And the README fits on a screen or two: the rest lives in docs/.

import {expect} from 'chai'
import {mkdir, readFile, readdir, rm, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import ts from 'typescript'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** README.md and every page of docs/ (the generated command reference has no code blocks of these kinds). */
async function documents(): Promise<string[]> {
  const pages = (await readdir(join(ROOT, 'docs'))).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)
  return ['README.md', ...pages]
}

async function blocks(language: string): Promise<Array<{file: string; line: number; code: string}>> {
  const found: Array<{file: string; line: number; code: string}> = []
  for (const file of await documents()) {
    const text = await readFile(join(ROOT, file), 'utf8')
    for (const match of text.matchAll(new RegExp('^```' + language + '\\n([\\s\\S]*?)^```', 'gm'))) {
      found.push({file, line: text.slice(0, match.index).split('\n').length, code: match[1]})
    }
  }
  return found
}

describe('README code blocks', function () {
  this.timeout(60_000)

  it('every ts block compiles against the built package (npm run build first)', async () => {
    const snippets = await blocks('ts')
    expect(snippets.length, 'ts blocks in the README').to.be.greaterThan(0)
    // Inside the repository, so that `@tokenwise/plugin-auth` resolves through node_modules as in a host.
    const dir = join(ROOT, 'test-artifacts', 'readme-snippets')
    await rm(dir, {recursive: true, force: true})
    await mkdir(dir, {recursive: true})
    await writeFile(join(dir, 'package.json'), JSON.stringify({type: 'module'}))
    const files: string[] = []
    for (const [i, snippet] of snippets.entries()) {
      const file = join(dir, `${snippet.file.replace(/[/.]/g, '-')}-line-${snippet.line}-${i}.ts`)
      await writeFile(file, snippet.code)
      files.push(file)
    }
    const program = ts.createProgram(files, {
      module: ts.ModuleKind.Node16,
      moduleResolution: ts.ModuleResolutionKind.Node16,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
    })
    const problems = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const where = diagnostic.file ? `${diagnostic.file.fileName.slice(dir.length + 1)}:${diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line + 1}` : ''
      return `${where} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`
    })
    expect(problems).to.deep.equal([])
  })

  it('every json block parses', async () => {
    for (const snippet of await blocks('json')) {
      // A block that starts with a key is a member of package.json's `oclif` object ("auth": {…}).
      const code = snippet.code.trimStart().startsWith('"') ? `{${snippet.code}}` : snippet.code
      expect(() => JSON.parse(code), `${snippet.file} line ${snippet.line}`).to.not.throw()
    }
  })

  it('the README fits on a screen or two; the rest is in docs/', async () => {
    const lines = (await readFile(join(ROOT, 'README.md'), 'utf8')).split('\n').length
    expect(lines).to.be.at.most(160)
    for (const link of (await readFile(join(ROOT, 'README.md'), 'utf8')).matchAll(/\]\((docs\/[^)#]+)/g)) {
      await readFile(join(ROOT, link[1]), 'utf8')
    }
  })
})
