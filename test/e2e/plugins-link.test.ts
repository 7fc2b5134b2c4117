// The plugin added at run time: examples/bare is a host CLI that does not bundle the plugin, only
// @oclif/plugin-plugins. A user links our checkout into it (`bare plugins link <repo>`), and then
// bare's protected `deploy` command is refused while signed out, `bare auth login` works, and
// `deploy` runs with the token the plugin's prerun hook hands over in BARE_ACCESS_TOKEN.
//
// The linked plugin must run what we ship — the built dist and oclif.manifest.json — so the suite's
// `npm run build` comes first (`npm test` does it).
// Spawned: a generated host with the plugin linked into it by `plugins link`, run as its own CLI.

import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {access, mkdir, readFile} from 'node:fs/promises'
import {join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

import {startIssuer} from '../fixtures/issuer.js'
import {
  DEFAULT_TIMEOUT_MS,
  cleanEnv,
  errorMessage,
  makeTempHome,
  nodeArgs,
  parseStatus,
  type RunResult,
  type TempHome,
} from '../helpers/acme.js'
import {RELAY_BROWSER_ENV} from '../helpers/browser-relay.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

const REPO = resolve(fileURLToPath(new URL('../../', import.meta.url)))
const BARE_BIN = join(REPO, 'examples', 'bare', 'bin', 'run.js')
const PLUGIN = '@tokenwise/plugin-auth'

/** acme's clean environment, re-aimed at bare: nothing BARE_* from the shell, bare's dirs in the home. */
function bareEnv(home: TempHome, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env = cleanEnv(home)
  for (const name of Object.keys(env)) if (/^(ACME|BARE)_/i.test(name)) delete env[name]
  Object.assign(env, {
    BARE_DATA_DIR: home.dataDir,
    BARE_CONFIG_DIR: home.configDir,
    BARE_CACHE_DIR: join(home.root, 'cache'),
  })
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name]
    else env[name] = value
  }
  return env
}

/** `bare <args>`, asynchronously (the issuer runs in this process); resolves once it has exited. */
function runBare(args: string[], home: TempHome, env: Record<string, string | undefined> = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, nodeArgs(args, BARE_BIN), {cwd: home.root, env: bareEnv(home, env), stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), DEFAULT_TIMEOUT_MS)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (signal === 'SIGKILL') reject(new Error(`bare ${args.join(' ')} did not finish within ${DEFAULT_TIMEOUT_MS} ms.\nstdout: ${stdout}\nstderr: ${stderr}`))
      else resolvePromise({code, stdout, stderr})
    })
  })
}

async function runBareExpecting(code: number, args: string[], home: TempHome, env: Record<string, string | undefined> = {}): Promise<RunResult> {
  const result = await runBare(args, home, env)
  expect(result.code, `bare ${args.join(' ')} → exit ${result.code}\n--- stdout ---\n${result.stdout}--- stderr ---\n${result.stderr}`).to.equal(code)
  return result
}

describe('e2e: the plugin linked into a host that does not bundle it (bare plugins link)', function () {
  this.timeout(120_000)

  let issuer: Issuer
  let home: TempHome

  before(async () => {
    for (const built of ['oclif.manifest.json', 'dist/hooks/index.js', 'dist/commands/auth/login.js']) {
      await access(join(REPO, built)).catch(() => {
        throw new Error(`${built} is missing: run \`npm run build\` before this test (npm test does).`)
      })
    }
    issuer = await startIssuer()
  })
  after(() => issuer?.close())
  beforeEach(async () => {
    issuer.resetCounts()
    home = await makeTempHome()
    await mkdir(join(home.root, 'cache'), {recursive: true})
  })
  afterEach(() => home?.cleanup())

  it('links, refuses deploy while signed out (exit 4), signs in, then deploy runs as alice', async () => {
    const {version} = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as {version: string}
    const env = {BARE_AUTH_ISSUER: issuer.issuer, BARE_BROWSER: RELAY_BROWSER_ENV.ACME_BROWSER, FAKE_BROWSER_RELAY_PORT: RELAY_BROWSER_ENV.FAKE_BROWSER_RELAY_PORT}

    // Without the plugin: no auth commands, and deploy has no token to use.
    const before = await runBareExpecting(0, ['plugins'], home)
    expect(before.stdout).not.to.include(PLUGIN)

    // --no-install: plugin-plugins would otherwise run `npm install` in our checkout.
    const link = await runBareExpecting(0, ['plugins', 'link', REPO, '--no-install'], home)
    expect(link.stderr, 'plugins link stderr').not.to.match(/warn|error/i)
    const userPjson = JSON.parse(await readFile(join(home.dataDir, 'package.json'), 'utf8'))
    expect(userPjson.oclif.plugins).to.deep.equal([{name: PLUGIN, root: REPO, type: 'link'}])

    const list = await runBareExpecting(0, ['plugins'], home)
    expect(list.stdout).to.include(`${PLUGIN} ${version} (link) ${REPO}`)

    // Signed out: the host's `commands.require: ["deploy"]` makes the plugin stop deploy.
    const refused = await runBareExpecting(4, ['deploy'], home, env)
    expect(refused.stdout).to.equal('')
    expect(errorMessage(refused.stderr)).to.include('`bare auth login`')
    expect(issuer.counts.userinfo, 'deploy never ran').to.equal(0)

    // What ran is what we ship: the manifest and dist, not src through a TypeScript loader.
    const traced = await runBare(['deploy'], home, {...env, DEBUG: 'oclif:config:*,oclif:@tokenwise/plugin-auth:*'})
    expect(traced.code).to.equal(4)
    expect(traced.stderr).to.include(`using manifest from ${join(REPO, 'oclif.manifest.json')}`)
    expect(traced.stderr).to.include(join(REPO, 'dist', 'hooks', 'index.js'))
    expect(traced.stderr).not.to.include(join(REPO, 'src'))
    expect(traced.stderr).not.to.match(/registering tsx|ts-node/)

    const login = await runBareExpecting(0, ['auth', 'login'], home, env)
    expect(login.stdout).to.equal(`Signed in as Alice (alice) at ${issuer.issuer}.\n`)
    expect(issuer.counts.authorizationCode).to.equal(1)

    // The store is bare's, in BARE_DATA_DIR.
    await access(join(home.dataDir, 'auth', 'accounts.json'))
    const status = parseStatus((await runBareExpecting(0, ['auth', 'status', '--json'], home, env)).stdout)
    expect(status).to.include({loggedIn: true, source: 'store'})
    expect(status.accounts.map((account) => [account.subject, account.issuer, account.clientId])).to.deep.equal([
      ['alice', issuer.issuer, 'acme-cli'],
    ])

    issuer.resetCounts()
    const deploy = await runBareExpecting(0, ['deploy'], home, env)
    expect(deploy.stdout).to.equal('deployed as alice\n')
    expect(deploy.stderr).to.equal('')
    expect(issuer.counts, 'deploy asked userinfo once, with the fresh token').to.include({userinfo: 1, refresh: 0})
  })
})
