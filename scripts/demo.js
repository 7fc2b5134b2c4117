#!/usr/bin/env node
// The whole flow against an embedded local issuer: `npm run demo` (approved automatically by a
// scripted browser) or `npm run demo -- --interactive` (you approve in your own browser; sign in
// with any name and password on the issuer's development pages).
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {startIssuer} from '../test/fixtures/issuer.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const acme = join(root, 'examples/acme/bin/run.js')
const interactive = process.argv.includes('--interactive')

const issuer = await startIssuer()
const home = mkdtempSync(join(tmpdir(), 'acme-demo-'))
const env = {
  ...process.env,
  ACME_AUTH_ISSUER: issuer.issuer,
  ACME_DATA_DIR: join(home, 'data'),
  ACME_CONFIG_DIR: join(home, 'config'),
}
if (!interactive) env.ACME_BROWSER = join(root, 'test/fixtures/browser.js')

const steps = [
  ['hello'],
  ['whoami'],
  ['auth', 'login'],
  ['auth', 'status'],
  ['whoami'],
  ['auth', 'refresh'],
  ['auth', 'logout'],
  ['whoami'],
]

console.log(`A local OpenID Connect issuer runs at ${issuer.issuer}; the example CLI keeps its login in a temporary folder, removed at the end.`)
if (!interactive) console.log('The sign-in is approved by a scripted browser; run `npm run demo -- --interactive` to approve it yourself.')
let failed = false
try {
  for (const args of steps) {
    console.log(`\n$ acme ${args.join(' ')}`)
    const code = await run(args)
    const expected = args[0] === 'whoami' && (steps.indexOf(args) === 1 || steps.lastIndexOf(args) === steps.length - 1) ? 4 : 0
    console.log(`(exit ${code}${code === expected ? '' : `, expected ${expected}`})`)
    if (code !== expected) failed = true
  }
  console.log(`\n${summary(issuer.counts)}`)
  console.log(failed ? 'Some step did not end as expected (see above).' : 'Every step ended as expected.')
} finally {
  await issuer.close()
  rmSync(home, {recursive: true, force: true})
}
process.exitCode = failed ? 1 : 0

function run(args) {
  return new Promise((resolve) => {
    // Asynchronous on purpose: the issuer lives in this process and must keep answering.
    const child = spawn(process.execPath, [acme, ...args], {env, stdio: ['inherit', 'inherit', 'inherit']})
    child.on('exit', (code) => resolve(code))
  })
}

/** What the issuer saw, in words: one sign-in, one refresh, one revocation. */
function summary(counts) {
  const said = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`
  const parts = [
    said(counts.authorizationCode + counts.deviceCode, 'sign-in'),
    said(counts.refresh, 'refresh', 'refreshes'),
    said(counts.revocations, 'revocation'),
    said(counts.userinfo, 'userinfo request'),
  ]
  return `The issuer saw ${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}.`
}
