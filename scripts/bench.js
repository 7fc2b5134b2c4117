#!/usr/bin/env node
// Hook overhead benchmark: `npm run bench` (builds first), or after a build
// `node scripts/bench.js [--runs 25] [--warmup 3] [--instructions N] [--profile [--profile-dir DIR]] [--strict] [--write FILE]`.
//   --instructions N  also count instructions (valgrind callgrind), N rounds of the `acme hello` variants
//   --profile         also profile (scripts/bench-profile.js); --profile-dir keeps the .cpuprofile files there
//   --strict          exit 1 when a target is missed
//   --write FILE      also write the environment and the tables to FILE
//
// Measures side by side, interleaved round-robin so machine noise hits every variant alike, the
// wall time (fork → reaped) and the CPU time (user + system, from wait4) of `acme hello` (signed in, token fresh, nothing
// due) in four hosts that differ in the plugin only (scripts/bench-hosts.js):
//   no plugin;  the plugin with no hooks declared;  the plugin with one no-op module for both
//   hooks;  the plugin as shipped,
// and `acme whoami` with examples/acme as shipped (its prerun hook reads the store; the command
// calls discovery and userinfo on the embedded issuer), and `acme hello` in a host that requires a
// sign-in for it, with an expired token: the command waits for one refresh (a second issuer in
// this process issues tokens that live 1 s, and each such run starts at least 1.2 s after the last). Then for each pair of hello variants: the
// difference of the medians and the median of the per-round differences (runs of one round ran
// close together: the less noisy estimate) with its 95% confidence interval, and the median of the
// per-round ratios. On a shared, busy machine the CPU figures are the ones to quote: other work
// stretches a run's wall time far more than its CPU time.
//
// The issuer lives in this process, so every child is spawned asynchronously (never spawnSync).
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, loadavg, tmpdir, totalmem} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {startIssuer} from '../test/fixtures/issuer.js'
import {writeBenchHosts} from './bench-hosts.js'
import {profile} from './bench-profile.js'

const root = fileURLToPath(new URL('..', import.meta.url))

const options = parseArgs(process.argv.slice(2))

const hello = /hello from acme/
const VARIANTS = [
  {key: 'no-plugin', label: '`acme hello`, no plugin', args: ['hello'], expect: hello},
  {key: 'no-hooks', label: '`acme hello`, the plugin with no hooks declared', args: ['hello'], expect: hello},
  {key: 'noop-hooks', label: '`acme hello`, the plugin with one no-op module for both hooks', args: ['hello'], expect: hello},
  {key: 'shipped', label: '`acme hello`, the plugin as shipped', args: ['hello'], expect: hello},
  {key: 'whoami', label: '`acme whoami`, examples/acme as shipped, fresh token', entry: join(root, 'examples/acme/bin/run.js'), args: ['whoami'], expect: /^bench/m},
  {key: 'refresh', label: '`acme hello`, the plugin as shipped, sign-in required, expired token (one refresh)', args: ['hello'], expect: hello},
]
const PAIRS = [
  {title: 'hooks as shipped, over the same plugin with no hooks', with: 'shipped', without: 'no-hooks', targetMs: 3},
  {title: 'floor: a plugin with no hooks, over no plugin', with: 'no-hooks', without: 'no-plugin'},
  {title: 'floor: one no-op module for both hooks, over no hooks', with: 'noop-hooks', without: 'no-hooks'},
  {title: 'the whole plugin as shipped, over no plugin', with: 'shipped', without: 'no-plugin', targetMs: 10},
  {title: 'a refresh (expired token), over `acme hello` with the plugin as shipped', with: 'refresh', without: 'shipped', targetMs: 150},
]

/** Variants measured by instruction count: the hot path only (whoami and refresh talk to an issuer in this process). */
const COUNTED = new Set(['no-plugin', 'no-hooks', 'noop-hooks', 'shipped'])

// V8 flags for --instructions: see countInstructions.
const REPEATABLE_V8 = ['--single-threaded', '--hash-seed=42', '--random-seed=42']

// Node reports no resource usage of a child; wait4(2) does, to the microsecond. This starter forks
// and execs the command, reaps it with wait4, and writes `wall-ms cpu-ms` to fd 3; it exits as the
// command did. Its own start-up happens before the clock starts.
const WAIT4 = `import os, sys, time
start = time.perf_counter_ns()
pid = os.fork()
if pid == 0:
    os.close(3)
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
wall = (time.perf_counter_ns() - start) / 1e6
os.write(3, f"{wall} {(usage.ru_utime + usage.ru_stime) * 1000}".encode())
sys.exit(os.waitstatus_to_exitcode(status) & 255)`
/** Cleared when python3 cannot be started: then wall times only. */
let python3 = true

const home = mkdtempSync(join(tmpdir(), 'acme-bench-'))
const issuer = await startIssuer()
const env = childEnv({
  ACME_AUTH_ISSUER: issuer.issuer,
  ACME_DATA_DIR: join(home, 'data'),
  ACME_CONFIG_DIR: join(home, 'config'),
  ACME_CACHE_DIR: join(home, 'cache'),
  FAKE_BROWSER_LOGIN: 'bench',
})
// Tokens that expire before the next run: every run of the refresh variant refreshes, inline
// (refresh ahead off: no detached process competes with the measured one).
const refreshIssuer = await startIssuer({accessTokenTTL: 1})
const refreshEnv = childEnv({
  ACME_AUTH_ISSUER: refreshIssuer.issuer,
  ACME_DATA_DIR: join(home, 'refresh-data'),
  ACME_CONFIG_DIR: join(home, 'refresh-config'),
  ACME_CACHE_DIR: join(home, 'refresh-cache'),
  ACME_AUTH_REFRESH_AHEAD: 'off',
  FAKE_BROWSER_LOGIN: 'bench',
})
VARIANTS.find((variant) => variant.key === 'refresh').env = refreshEnv
const TOKEN_LIFETIME_MS = 1200

let failed = false
try {
  const entries = await writeBenchHosts(env)
  for (const variant of VARIANTS) variant.entry ??= entries[variant.key]

  // Sign in once, through the scripted browser, so every measured run finds a fresh token. All
  // hosts are acme: they share ACME_DATA_DIR, so they share this sign-in.
  const acme = VARIANTS.find((variant) => variant.key === 'whoami').entry
  const login = await run(acme, ['auth', 'login'], {...env, ACME_BROWSER: join(root, 'test/fixtures/browser.js')})
  if (login.code !== 0) throw new Error(`acme auth login exited ${login.code}:\n${login.stdout}${login.stderr}`)
  const refreshLogin = await run(acme, ['auth', 'login'], {...refreshEnv, ACME_BROWSER: join(root, 'test/fixtures/browser.js')})
  if (refreshLogin.code !== 0) throw new Error(`acme auth login (refresh issuer) exited ${refreshLogin.code}:\n${refreshLogin.stdout}${refreshLogin.stderr}`)
  issuer.resetCounts()
  refreshIssuer.resetCounts()
  let lastRefreshRun = Date.now()

  const header = environmentLine()
  console.log(header)
  console.log(`Warm-up ${options.warmup} and ${options.runs} measured runs per variant, interleaved round-robin.\n`)

  const times = Object.fromEntries(VARIANTS.map((variant) => [variant.key, []]))
  const cpuTimes = Object.fromEntries(VARIANTS.map((variant) => [variant.key, []]))
  const rounds = options.warmup + options.runs
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round so no variant always runs right after the same neighbour.
    const order = VARIANTS.map((_, index) => VARIANTS[(index + round) % VARIANTS.length])
    for (const variant of order) {
      // Outside the measurement: wait until the token the last refresh got has expired.
      if (variant.key === 'refresh') await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastRefreshRun + TOKEN_LIFETIME_MS - Date.now())))
      const result = await run(variant.entry, variant.args, variant.env ?? env, [], [], {cpu: true})
      if (variant.key === 'refresh') lastRefreshRun = Date.now()
      check(variant, result)
      if (round >= options.warmup) times[variant.key].push(result.ms)
      if (round >= options.warmup && result.cpuMs !== undefined) cpuTimes[variant.key].push(result.cpuMs)
    }
    progress(`${round < options.warmup ? 'warm-up' : 'measuring'} ${round + 1}/${rounds}`)
  }
  progress()
  // A fresh token must never be refreshed: if it was, the numbers include a refresh.
  if (issuer.counts.refresh > 0) console.log(`Warning: the issuer saw ${issuer.counts.refresh} refreshes during the measurement.\n`)
  // And every run of the refresh variant must have refreshed exactly once.
  if (refreshIssuer.counts.refresh !== rounds) console.log(`Warning: the refresh variant's issuer saw ${refreshIssuer.counts.refresh} refreshes in ${rounds} runs.\n`)

  const wall = formatReport(times, 'Wall time (spawn to exit)')
  // CPU time is what the plugin adds for certain; on a shared machine other work stretches the wall time of a run, not its CPU time.
  const cpu = cpuTimes['no-plugin'].length === options.runs ? formatReport(cpuTimes, 'CPU time (user + system, the kernel\'s accounting of the finished process)') : undefined
  const report = cpu ?? wall
  const text = cpu ? `${wall.text}\n\n${cpu.text}` : `${wall.text}\n\n(No CPU times: they need python3, for wait4.)`
  console.log(text)
  let written = `${header}\n\n${text}\n`
  if (options.instructions > 0) {
    const counted = formatInstructions(await countInstructions(), times)
    console.log(`\n${counted}`)
    written += `\n${counted}\n`
  }
  if (options.write) writeFileSync(options.write, written)
  if (options.profile) await profile({variants: VARIANTS, env, run, check, median, profileDir: options.profileDir})
  if (!report.met && options.strict) process.exitCode = 1
} catch (error) {
  failed = true
  console.error(`\nbench failed: ${error.message}`)
} finally {
  await issuer.close()
  await refreshIssuer.close()
  rmSync(home, {recursive: true, force: true})
}
if (failed) process.exitCode = 1

// ——— measuring ———

function parseArgs(argv) {
  const parsed = {runs: 25, warmup: 3, instructions: 0, profile: false, profileDir: undefined, strict: false, write: undefined}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--runs' || arg === '--warmup' || arg === '--instructions') {
      const value = Number(argv[++i])
      if (!Number.isInteger(value) || value < (arg === '--runs' ? 1 : 0)) usage(`${arg} needs a whole number`)
      parsed[arg.slice(2)] = value
    } else if (arg === '--profile') parsed.profile = true
    else if (arg === '--strict') parsed.strict = true
    else if (arg === '--write') parsed.write = argv[++i] ?? usage('--write needs a file')
    else if (arg === '--profile-dir') parsed.profileDir = argv[++i] ?? usage('--profile-dir needs a folder')
    else usage(`unknown argument ${arg}`)
  }
  return parsed
}

function usage(message) {
  console.error(`${message}\nusage: node scripts/bench.js [--runs N] [--warmup N] [--instructions N] [--profile [--profile-dir DIR]] [--strict] [--write FILE]`)
  process.exit(2)
}

/** The parent's environment without anything that changes what the children do or print. */
function childEnv(extra) {
  const base = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('ACME_') || key === 'DEBUG' || key === 'NODE_DEBUG' || key === 'NODE_OPTIONS') continue
    base[key] = value
  }
  return {...base, ...extra}
}

/**
 * Spawn `node <entry> ...args` (or `<wrapper...> node ...`); wall time from spawn to exit, and with
 * `cpu` (and python3 present) the process's CPU time, both measured by WAIT4.
 * Asynchronous: the issuer must keep answering.
 */
function run(entry, args, childEnvironment, nodeArgs = [], wrapper = [], {cpu = false} = {}) {
  return new Promise((resolve, reject) => {
    let stdout = ''
    let stderr = ''
    let usage = ''
    let ms
    let code
    let retried = false
    const start = process.hrtime.bigint()
    const starter = cpu && python3 ? ['python3', '-c', WAIT4] : []
    const [command, ...commandArgs] = [...starter, ...wrapper, process.execPath, ...nodeArgs, entry, ...args]
    const child = spawn(command, commandArgs, {env: childEnvironment, stdio: ['ignore', 'pipe', 'pipe', ...(starter.length ? ['pipe'] : [])]})
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk))
    child.stdio[3]?.setEncoding('utf8').on('data', (chunk) => (usage += chunk))
    child.once('error', (error) => {
      if (error.code !== 'ENOENT' || !starter.length) return reject(error)
      python3 = false
      retried = true
      run(entry, args, childEnvironment, nodeArgs, wrapper).then(resolve, reject)
    })
    child.once('exit', (exitCode) => {
      ms = Number(process.hrtime.bigint() - start) / 1e6
      code = exitCode
    })
    child.once('close', () => {
      if (retried) return
      if (!starter.length || code === null) return resolve({ms, code, stdout, stderr})
      const [wallMs, cpuMs] = usage.split(' ').map(Number)
      resolve({ms: wallMs, cpuMs, code, stdout, stderr})
    })
  })
}

function check(variant, result) {
  if (result.code === 0 && variant.expect.test(result.stdout)) return
  const hint = /Cannot find module .*\/dist\//.test(result.stderr) ? '\n(dist/ changed under the benchmark: did another build run at the same time?)' : ''
  throw new Error(`acme ${variant.args.join(' ')} (${variant.key}) exited ${result.code}:\n${result.stdout}${result.stderr}${hint}`)
}

function progress(text) {
  if (process.stderr.isTTY) process.stderr.write(text ? `\r${text}` : '\r\u001B[K')
}

/**
 * Instructions each `acme hello` variant executes, under valgrind's callgrind: a count a shared
 * machine's load does not change (wall time on a busy 2-core machine cannot resolve 3 ms). Left to
 * itself V8 makes it vary by several million from run to run (background compilation and GC
 * threads, random hash seeds); with `--single-threaded` (that work runs on the main thread instead)
 * and fixed seeds, repeated runs agree within a few thousand. The runs go two at a time: their
 * counts do not depend on each other.
 */
async function countInstructions() {
  const hello = VARIANTS.filter((variant) => COUNTED.has(variant.key))
  const jobs = []
  for (let round = 0; round < options.instructions; round++) for (const variant of hello) jobs.push({round, variant})
  const counts = Object.fromEntries(hello.map((variant) => [variant.key, []]))
  const work = mkdtempSync(join(tmpdir(), 'acme-bench-callgrind-'))
  let done = 0
  const worker = async () => {
    for (let job = jobs.shift(); job; job = jobs.shift()) {
      const out = join(work, `${job.variant.key}-${job.round}.out`)
      // --smc-check=all: V8 writes and rewrites machine code in its heap.
      const wrapper = ['valgrind', '--tool=callgrind', '--smc-check=all', `--callgrind-out-file=${out}`]
      const result = await run(job.variant.entry, job.variant.args, env, REPEATABLE_V8, wrapper).catch((error) => {
        throw error.code === 'ENOENT' ? new Error('--instructions needs valgrind (Debian: apt-get install valgrind)') : error
      })
      check(job.variant, result)
      const collected = /Collected : (\d+)/.exec(result.stderr)
      if (!collected) throw new Error(`no instruction count from callgrind:\n${result.stderr}`)
      counts[job.variant.key][job.round] = Number(collected[1])
      progress(`counting instructions ${++done}/${options.instructions * hello.length}`)
    }
  }
  try {
    await Promise.all([worker(), worker()])
  } finally {
    rmSync(work, {recursive: true, force: true})
    progress()
  }
  return counts
}

// ——— reporting ———

function quantile(sorted, q) {
  // Nearest rank, so every figure is a time that was actually measured.
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/**
 * A distribution-free 95% confidence interval for the median: the order statistics k and n+1-k of
 * the sorted values, k from the binomial distribution's normal approximation (at least 6 values).
 */
function medianInterval(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const n = sorted.length
  const k = Math.floor((n - 1.96 * Math.sqrt(n)) / 2)
  return k >= 1 ? [sorted[k - 1], sorted[n - k]] : undefined
}

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b)
  return {n: sorted.length, median: median(sorted), p90: quantile(sorted, 0.9), min: sorted[0], max: sorted.at(-1)}
}

function pairedDifferences(series, pair) {
  return series[pair.with].map((value, index) => value - series[pair.without][index])
}

function formatReport(times, title) {
  const ms = (value) => value.toFixed(1)
  const rows = VARIANTS.map((variant) => ({variant, ...stats(times[variant.key])}))
  const lines = [
    `### ${title}`,
    '',
    '| variant | runs | median ms | p90 ms | min ms | max ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((row) => `| ${row.variant.label} | ${row.n} | ${ms(row.median)} | ${ms(row.p90)} | ${ms(row.min)} | ${ms(row.max)} |`),
    '',
    '| `acme hello`: what is added | ms (difference of medians) | ms (median of per-round differences) | its 95% CI | ratio (median of per-round ratios) | target |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ]
  let met = true
  const verdicts = []
  for (const pair of PAIRS) {
    const byMedians = median(times[pair.with]) - median(times[pair.without])
    const differences = pairedDifferences(times, pair)
    const paired = median(differences)
    const interval = medianInterval(differences)
    // A ratio per round too: a machine whose pace drifts during the run moves both runs of a round alike.
    const ratio = median(times[pair.with].map((value, index) => value / times[pair.without][index]))
    lines.push(`| ${pair.title} | ${ms(byMedians)} | ${ms(paired)} | ${interval ? `${ms(interval[0])} … ${ms(interval[1])}` : '–'} | ${ratio.toFixed(3)} | ${pair.targetMs ? `≤ ${pair.targetMs}` : ''} |`)
    if (!pair.targetMs) continue
    met &&= paired <= pair.targetMs
    let verdict = paired <= pair.targetMs ? 'met' : 'NOT met'
    // The interval straddles the target: this run cannot tell.
    if (interval && interval[0] <= pair.targetMs && interval[1] > pair.targetMs) verdict += ` by the paired median, but not resolved at this noise (95% CI ${ms(interval[0])} … ${ms(interval[1])} ms): see --instructions, or rerun with more --runs`
    verdicts.push(`${pair.title} ≤ ${pair.targetMs} ms: ${verdict}`)
  }
  lines.push('', `Targets (${title.split(' (')[0].toLowerCase()}): ${verdicts.join('; ')}.`)
  return {text: lines.join('\n'), met}
}

function formatInstructions(counts, times) {
  const mega = (value) => (value / 1e6).toFixed(1)
  const keys = Object.keys(counts)
  // To read a count as time: this machine's pace, from the variant without the plugin, its
  // instructions over its fastest wall time in this run (the run least slowed by other work).
  const perMs = median(counts['no-plugin']) / Math.min(...times['no-plugin'])
  const lines = [
    `Instructions (valgrind --tool=callgrind --smc-check=all node ${REPEATABLE_V8.join(' ')}), ${options.instructions} rounds:`,
    '',
    '| variant | M instructions (median) | min | max |',
    '| --- | ---: | ---: | ---: |',
    ...keys.map((key) => {
      const values = counts[key]
      return `| ${VARIANTS.find((variant) => variant.key === key).label} | ${mega(median(values))} | ${mega(Math.min(...values))} | ${mega(Math.max(...values))} |`
    }),
    '',
    `| \`acme hello\`: what is added | M instructions (median of per-round differences) | each round | ≈ ms at ${mega(perMs)} M/ms | target |`,
    '| --- | ---: | ---: | ---: | ---: |',
  ]
  for (const pair of PAIRS.filter((candidate) => COUNTED.has(candidate.with) && COUNTED.has(candidate.without))) {
    const differences = pairedDifferences(counts, pair)
    lines.push(`| ${pair.title} | ${mega(median(differences))} | ${differences.map(mega).join(', ')} | ${(median(differences) / perMs).toFixed(1)} | ${pair.targetMs ? `≤ ${pair.targetMs}` : ''} |`)
  }
  lines.push('', `(${mega(perMs)} M instructions per ms: the no-plugin variant's median count over its fastest wall time in this run.)`)
  return lines.join('\n')
}

function environmentLine() {
  const core = JSON.parse(readFileSync(join(root, 'node_modules/@oclif/core/package.json'), 'utf8')).version
  const cpu = cpus()
  return [
    `Date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    `Machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${process.platform} ${process.arch}, load average ${loadavg().map((value) => value.toFixed(1)).join(' ')}`,
    `Node ${process.version}, @oclif/core ${core}`,
  ].join('\n')
}
