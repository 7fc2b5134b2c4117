// `node scripts/bench.js --profile`: after the timing, where the time of each variant goes and what
// it loads. oclif's own performance markers (7 runs of each variant, interleaved); one run each with
// --cpu-prof, summarised by place; one run each with an --import recorder that logs every resolved
// ESM and CommonJS module with its importer, the node built-ins loaded, and who first touched
// globalThis.fetch (node loads its HTTP stack on the first use of fetch); and the import cost of
// some plugin files alone, in fresh processes that have already loaded @oclif/core.
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {benchDir} from './bench-hosts.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const acmeDir = join(root, 'examples/acme')

/** `variants`, `env`, `run`, `check` and `median` are scripts/bench.js's. */
export async function profile({variants, env, run, check, median, profileDir}) {
  const work = mkdtempSync(join(tmpdir(), 'acme-bench-prof-'))
  try {
    const recorder = writeRecorder(work)
    const perfDump = writePerfDump(work)

    console.log('\n## Profile\n')
    // A hook's marker covers importing its file and running it.
    const PERF_RUNS = 7
    const perf = Object.fromEntries(variants.map((variant) => [variant.key, []]))
    for (let i = 0; i < PERF_RUNS; i++) {
      for (const variant of variants) {
        const out = join(work, `perf-${i}.json`)
        check(variant, await run(variant.entry, variant.args, {...env, BENCH_PERF_OUT: out}, ['--import', pathToFileURL(perfDump).href]))
        perf[variant.key].push(JSON.parse(readFileSync(out, 'utf8')))
      }
    }
    console.log(formatPerf(perf, variants, PERF_RUNS, median))

    const builtins = {}
    for (const variant of variants) {
      console.log(`\n### ${variant.label}\n`)
      // CPU profile at 100 µs: CPU time in the plugin's files and where the rest goes.
      const profDir = join(profileDir ?? work, `cpu-${variant.key.replaceAll(/[^\w-]+/g, '_')}`)
      rmSync(profDir, {recursive: true, force: true})
      check(variant, await run(variant.entry, variant.args, env, ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=100']))
      const file = readdirSync(profDir).find((name) => name.endsWith('.cpuprofile'))
      console.log(summariseCpuProfile(JSON.parse(readFileSync(join(profDir, file), 'utf8'))))
      if (profileDir) console.log(`(${join(profDir, file)})`)

      // Every module the process resolved, and the built-ins it loaded.
      const listFile = join(work, `modules-${variant.key}.txt`)
      check(variant, await run(variant.entry, variant.args, {...env, BENCH_MODULE_LIST: listFile}, ['--import', pathToFileURL(recorder).href]))
      const modules = summariseModules(readFileSync(listFile, 'utf8'))
      builtins[variant.key] = modules.builtins
      console.log(`\n${modules.text}`)
    }
    const hooksOnly = builtins.shipped.filter((name) => !builtins['no-hooks'].includes(name))
    console.log(`\nNode built-ins \`acme hello\` loads with the hooks as shipped and not without hooks: ${hooksOnly.join(', ') || 'none'}.`)

    // Import cost in a process that already loaded @oclif/core, as a host has by then.
    console.log('\n### Import cost of plugin files alone (median of 9 fresh processes, @oclif/core already loaded)\n')
    const sets = [
      ['dist/hooks/index.js (both hooks: the bundle oclif imports)', ['dist/hooks/index.js']],
      ['dist/index.js (the library entry a host command file imports)', ['dist/index.js']],
      ['what dist/index.js needs up front: errors.js, session/freshness.js, session/token-holder.js, command-error.js', ['dist/errors.js', 'dist/session/freshness.js', 'dist/session/token-holder.js', 'dist/command-error.js']],
    ]
    for (const [label, paths] of sets) {
      const samples = []
      for (let i = 0; i < 9; i++) samples.push(await importCost(paths, env, run))
      console.log(`- ${label}: ${median(samples).toFixed(2)} ms`)
    }
    console.log('')
  } finally {
    rmSync(work, {recursive: true, force: true})
  }
}

async function importCost(paths, env, run) {
  const core = pathToFileURL(join(root, 'node_modules/@oclif/core/lib/index.js')).href
  const urls = paths.map((path) => (path.startsWith('node:') ? path : pathToFileURL(join(root, path)).href))
  const code = `await import(${JSON.stringify(core)}); const start = performance.now(); for (const url of ${JSON.stringify(urls)}) await import(url); console.log(performance.now() - start)`
  const result = await run(code, [], env, ['--input-type=module', '-e'])
  if (result.code !== 0) throw new Error(`importing ${paths.join(', ')} failed:\n${result.stderr}`)
  return Number(result.stdout.trim())
}

/** An --import script that writes "esm|cjs|builtin <url> <parent>" lines to $BENCH_MODULE_LIST. */
function writeRecorder(work) {
  const hooks = join(work, 'record-hooks.mjs')
  writeFileSync(hooks, `import {appendFileSync} from 'node:fs'
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context)
  appendFileSync(process.env.BENCH_MODULE_LIST, 'esm ' + result.url + ' ' + (context.parentURL ?? '-') + '\\n')
  return result
}
`)
  const recorder = join(work, 'record.mjs')
  writeFileSync(recorder, `import {appendFileSync, writeFileSync} from 'node:fs'
import Module, {register} from 'node:module'
const out = process.env.BENCH_MODULE_LIST
writeFileSync(out, '')
register(${JSON.stringify(pathToFileURL(hooks).href)})
const load = Module._load
Module._load = function (request, parent, isMain) {
  const exports = load.apply(this, arguments)
  try {
    appendFileSync(out, 'cjs ' + Module._resolveFilename(request, parent, isMain) + ' ' + (parent?.filename ?? '-') + '\\n')
  } catch {}
  return exports
}
// Who touches fetch first, and which built-ins were loaded by then: node loads its HTTP stack
// (undici, http, tls) lazily on first use of fetch.
const fetchProperty = Object.getOwnPropertyDescriptor(globalThis, 'fetch')
let fetchSeen = false
Object.defineProperty(globalThis, 'fetch', {
  configurable: true,
  enumerable: fetchProperty.enumerable,
  get() {
    if (!fetchSeen) {
      fetchSeen = true
      const caller = encodeURIComponent((new Error().stack.split('\\n')[2] ?? '').replace(/^\\s*at\\s+/, ''))
      appendFileSync(out, 'first-fetch ' + process.moduleLoadList.length + ' ' + caller + '\\n')
    }
    return fetchProperty.get ? fetchProperty.get.call(this) : fetchProperty.value
  },
  set(value) {
    Object.defineProperty(globalThis, 'fetch', {configurable: true, writable: true, enumerable: fetchProperty.enumerable, value})
  },
})
process.on('exit', () => appendFileSync(out, process.moduleLoadList.map((name) => 'builtin ' + name.replaceAll(' ', '_') + ' -').join('\\n') + '\\n'))
`)
  return recorder
}

/** An --import script that turns on oclif's performance markers and writes them to $BENCH_PERF_OUT at exit. */
function writePerfDump(work) {
  const file = join(work, 'perf.mjs')
  writeFileSync(file, `import {writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
globalThis.oclif = {...globalThis.oclif, performanceEnabled: true}
const {Performance} = createRequire(${JSON.stringify(join(root, 'node_modules/@oclif/core/lib/index.js'))})('./performance.js')
process.on('exit', () => {
  const markers = {}
  for (const results of Performance._results.values()) for (const result of results) markers[result.name] = (markers[result.name] ?? 0) + result.duration
  writeFileSync(process.env.BENCH_PERF_OUT, JSON.stringify(markers))
})
`)
  return file
}

function formatPerf(perf, variants, runs, median) {
  const plugin = '@tokenwise/plugin-auth'
  // A key ending in '#' or '(' stands for every marker it begins: oclif names a hook's marker by
  // its file, so one module serving both events has one name for both (perf.mjs sums them).
  const rows = [
    ['main.run', 'oclif total (main.run)'],
    ['plugin.load#root', 'host (root plugin) load'],
    ['config.loadPlugins#core', 'load bundled plugins (resolve + load ours)'],
    [`plugin.load#${plugin}`, '  of which our package.json + manifest'],
    ['config.runHook#init', 'init hooks (ours are the only ones)'],
    ['config.runHook#prerun', 'prerun hooks (ours are the only ones)'],
    [`config.runHook#${plugin}(`, 'our hooks, both events (import + run)'],
    ['config.runCommand#', 'run the command (incl. prerun)'],
  ]
  const value = (entries, key) => {
    const values = entries.map((markers) => {
      if (!key.endsWith('#') && !key.endsWith('(')) return markers[key]
      const names = Object.keys(markers).filter((marker) => marker.startsWith(key))
      return names.length ? names.reduce((sum, name) => sum + markers[name], 0) : undefined
    }).filter((v) => v !== undefined)
    return values.length ? median(values).toFixed(2) : '–'
  }
  return [
    `oclif performance markers, median of ${runs} runs (ms):`,
    '',
    `| marker | ${variants.map((variant) => variant.key).join(' | ')} |`,
    `| --- | ${variants.map(() => '---:').join(' | ')} |`,
    ...rows.map(([key, label]) => `| ${label} | ${variants.map((variant) => value(perf[variant.key], key)).join(' | ')} |`),
  ].join('\n')
}

function category(frame) {
  const {url, functionName} = frame
  if (!url) return /^\(.*\)$/.test(functionName) ? functionName : 'node: native functions (fs, compile, ...)'
  if (url.startsWith('node:internal/modules') || url.startsWith('node:internal/vm')) return 'node: module loader'
  if (url.startsWith('node:')) return 'node: other internals'
  const path = url.startsWith('file:') ? fileURLToPath(url) : url
  const inPlugin = pluginPath(path)
  if (inPlugin) return inPlugin.startsWith('dist/hooks/') || inPlugin === 'noop-hooks.js' ? 'plugin: hooks' : 'plugin: dist (library)'
  if (path.startsWith(acmeDir) || path.startsWith(benchDir)) return 'host: examples/acme'
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)
  if (packageMatch) return packageMatch[1]
  return relative(root, path)
}

function summariseCpuProfile(prof) {
  const byId = new Map(prof.nodes.map((node) => [node.id, node]))
  const self = new Map()
  // timeDeltas[i + 1] is the time spent in samples[i] (as Chrome DevTools counts it).
  for (let i = 0; i < prof.samples.length; i++) {
    const delta = prof.timeDeltas[i + 1] ?? 0
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + delta)
  }
  const parent = new Map()
  for (const node of prof.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const totals = new Map()
  let inHooks = 0
  let inPlugin = 0
  for (const [id, us] of self) {
    const node = byId.get(id)
    const name = category(node.callFrame)
    totals.set(name, (totals.get(name) ?? 0) + us)
    // Inclusive: any sample with a frame of the plugin's files on its stack.
    let hook = false
    let plugin = false
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const where = category(byId.get(at).callFrame)
      if (where === 'plugin: hooks') hook = true
      if (where.startsWith('plugin:')) plugin = true
    }
    if (hook) inHooks += us
    if (plugin) inPlugin += us
  }
  const all = (prof.endTime - prof.startTime) / 1000
  const top = [...totals].sort((a, b) => b[1] - a[1]).slice(0, 10)
  return [
    `CPU profile (100 µs sampling, ${all.toFixed(1)} ms profiled): samples with a plugin hook frame on the stack ${(inHooks / 1000).toFixed(2)} ms, with any plugin frame ${(inPlugin / 1000).toFixed(2)} ms (module compilation is counted under the loader, not the file). Self time by place:`,
    '',
    ...top.map(([name, us]) => `- ${name}: ${(us / 1000).toFixed(1)} ms`),
  ].join('\n')
}

function summariseModules(list) {
  const HTTP_BUILTINS = /^(http|https|http2|tls|_http_\w+|_tls_\w+|internal\/http.*|internal\/deps\/undici\/undici)$/
  const entries = list.split('\n').filter(Boolean).map((line) => {
    const [kind, what, parentRef] = line.split(' ')
    return {kind, what, parentRef}
  })
  const files = new Map()
  for (const {kind, what, parentRef} of entries) {
    if (kind !== 'esm' && kind !== 'cjs') continue
    if (what.startsWith('node:') || !what.includes('/')) continue
    const path = what.startsWith('file:') ? fileURLToPath(what) : what
    if (!files.has(path)) files.set(path, parentRef === '-' ? '-' : parentRef.startsWith('file:') ? fileURLToPath(parentRef) : parentRef)
  }
  const packages = new Map()
  const pluginFiles = []
  for (const [path] of files) {
    const where = category({url: pathToFileURL(path).href})
    if (where.startsWith('plugin:')) pluginFiles.push(path)
    else packages.set(where, (packages.get(where) ?? 0) + 1)
  }
  // Who first pulled each plugin file in: the hooks (oclif imports them) or a host command file.
  const origin = (path) => {
    for (let at = path, steps = 0; at && at !== '-' && steps < 100; at = files.get(at), steps++) {
      if (category({url: pathToFileURL(at).href}) === 'plugin: hooks') return `hook ${shortName(at)}`
      const parentPath = files.get(at)
      if (parentPath && !category({url: pathToFileURL(parentPath).href}).startsWith('plugin:')) return relative(root, parentPath)
    }
    return 'unknown'
  }
  const byOrigin = new Map()
  for (const path of pluginFiles) {
    const key = origin(path)
    byOrigin.set(key, [...(byOrigin.get(key) ?? []), shortName(path)])
  }
  const builtins = entries.filter((entry) => entry.kind === 'builtin').map((entry) => entry.what.replace(/^NativeModule_/, ''))
  const http = builtins.filter((name) => HTTP_BUILTINS.test(name))
  const firstFetch = entries.find((entry) => entry.kind === 'first-fetch')
  let httpLine = `HTTP stack (node built-ins): ${http.length ? http.join(', ') : 'not loaded'}`
  if (firstFetch) {
    const before = builtins.slice(0, Number(firstFetch.what)).filter((name) => HTTP_BUILTINS.test(name))
    const caller = decodeURIComponent(firstFetch.parentRef).replace(pathToFileURL(root).href, '').replace(root, '')
    httpLine += `; before the first use of fetch (${caller}): ${before.length ? before.join(', ') : 'none'}`
  }
  const count = (prefix) => [...packages].filter(([name]) => name === prefix || name.startsWith(`${prefix}-`)).reduce((sum, [, n]) => sum + n, 0)
  const text = [
    `Modules: ${files.size} files resolved. openid-client ${count('openid-client')}, oauth4webapi ${count('oauth4webapi')}, jose ${count('jose')}, @napi-rs/keyring ${count('@napi-rs/keyring')} files.`,
    `${httpLine}.`,
    `Packages (files): ${[...packages].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([name, n]) => `${name} ${n}`).join(', ')}, ${Math.max(0, packages.size - 8)} more with ${[...packages].sort((a, b) => b[1] - a[1]).slice(8).reduce((sum, [, n]) => sum + n, 0)} files.`,
    `Plugin files loaded: ${pluginFiles.length}, first imported by`,
    ...[...byOrigin].map(([key, list]) => `  - ${key} (${list.length}): ${list.join(', ')}`),
  ].join('\n')
  return {text, builtins}
}

/** Where a file is inside our package, this repository's or a .bench/plugin-* copy; undefined if not ours. */
function pluginPath(path) {
  if (path.startsWith(join(root, 'dist/'))) return relative(root, path)
  const copy = /^plugin-[^/]+\/(.+)$/.exec(relative(benchDir, path))
  return copy?.[1]
}

/** A file of ours as the profile names it: relative to dist/ (hooks/index.js), else to the package. */
function shortName(path) {
  return pluginPath(path).replace(/^dist\//, '')
}
