// What every command of the host pays for the plugin (issue 11, part 3): oclif imports one hook module
// for both events, and a signed-in command with nothing due loads at most two files of ours. The
// modules are seen by a `--import` preload that records every module the process resolves
// (test/fixtures/module-recorder.mjs); the hooks by oclif's own debug lines. The time itself is for
// `npm run bench`, not a timed test.
// Spawned: what a new process loads is what is measured.

import {expect} from 'chai'
import {cp, mkdir, mkdtemp, readFile, rm, symlink} from 'node:fs/promises'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {errorMessage, runAcmeExpecting, type TempHome} from '../helpers/acme.js'
import {copyOfHome, issuerWithLogin, type Issuer} from '../helpers/signed-in.js'

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url))
const DIST_URL = new URL('../../dist/', import.meta.url).href
const MODULE_RECORDER = new URL('../fixtures/module-recorder.mjs', import.meta.url).href
const HOT_PATH_LIMIT = 2
const REPO = fileURLToPath(new URL('../../', import.meta.url))
const ARTIFACTS = join(REPO, 'test-artifacts')

describe('e2e: the hot path (a signed-in command with nothing due)', () => {
  let issuer: Issuer
  let signedIn: TempHome
  let home: TempHome
  let env: Record<string, string | undefined>

  const shared = issuerWithLogin()
  before(() => ({issuer, env, signedIn} = shared))
  beforeEach(async () => {
    // Read only: nothing is refreshed or revoked, so a copy of the one login will do.
    home = await copyOfHome(signedIn)
    issuer.resetCounts()
  })
  afterEach(() => home?.cleanup())

  /** Run acme recording the modules it loads; returns the result and the files of ours under dist/. */
  async function runRecorded(args: string[], extra: Record<string, string> = {}) {
    const list = join(home.root, 'modules.txt')
    const recorded = {NODE_OPTIONS: `--import=${MODULE_RECORDER}`, RECORD_MODULES: list, ...extra}
    const result = await runAcmeExpecting(0, args, {home, env: {...env, ...recorded}})
    const urls = (await readFile(list, 'utf8')).split('\n')
    const ours = [...new Set(urls.filter((url) => url.startsWith(DIST_URL)).map((url) => url.slice(DIST_URL.length)))]
    return {result, ours}
  }

  it(`acme hello loads at most ${HOT_PATH_LIMIT} files of ours, and asks the issuer nothing`, async () => {
    const {result, ours} = await runRecorded(['hello'])
    expect(result.stdout).to.equal('hello from acme\n')
    // Not a vacuous pass: the recorder did see the hooks being imported.
    expect(ours, 'files of ours loaded').to.include('hooks/index.js')
    expect(ours.length, `files of ours loaded: ${ours.join(', ')}`).to.be.at.most(HOT_PATH_LIMIT)
    expect(issuer.counts.tokenRequests, 'token requests').to.equal(0)
  })

  it('oclif imports one hook module, and both init and prerun run from it', async () => {
    const {result} = await runRecorded(['hello'], {DEBUG: 'oclif:@tokenwise/plugin-auth:hooks:*'})
    const hookModule = join(DIST, 'hooks', 'index.js')
    for (const event of ['init', 'prerun']) {
      // oclif skips a `{target, identifier}` entry whose export is missing, saying so only here.
      expect(result.stderr, `${event} ran from ${hookModule}`).to.match(new RegExp(`plugin-auth:hooks:${event} start \\(import\\) ${escape(hookModule)}`))
      expect(result.stderr).to.match(new RegExp(`plugin-auth:hooks:${event} done`))
    }
    expect(result.stderr).not.to.include('No hook found')
    const started = result.stderr.match(/plugin-auth:hooks:\w+ start \(import\) (\S+)/g) ?? []
    expect(new Set(started.map((line) => line.split(' ').at(-1))).size, 'hook modules imported').to.equal(1)
  })

  it('a command that needs a token loads the session code on demand', async () => {
    const {result, ours} = await runRecorded(['whoami'])
    expect(result.stdout).to.equal('alice (Alice)\n')
    expect(ours).to.include.members(['hooks/index.js', 'session/provide-token.js'])
  })
  it('a plugin file that fails to load stops a command that needs a token (exit 1), and leaves the others alone', async () => {
    // oclif runs a command anyway when its prerun hook throws: loading the session code on demand must
    // not turn "a file is missing" into "no token needed". A damaged install: the plugin as npm would
    // install it, without that file, in a copy of acme. Under the repository, so both find the
    // repository's node_modules by walking up.
    await mkdir(ARTIFACTS, {recursive: true})
    const scratch = await mkdtemp(join(ARTIFACTS, 'damaged-install-'))
    try {
      const plugin = join(scratch, 'plugin')
      for (const entry of ['package.json', 'oclif.manifest.json', 'dist']) await cp(join(REPO, entry), join(plugin, entry), {recursive: true})
      await rm(join(plugin, 'dist', 'session', 'provide-token.js'))
      const host = join(scratch, 'host')
      for (const entry of ['bin', 'src', 'oclif.manifest.json', 'package.json']) await cp(join(REPO, 'examples', 'acme', entry), join(host, entry), {recursive: true})
      await mkdir(join(host, 'node_modules', '@tokenwise'), {recursive: true})
      await symlink(plugin, join(host, 'node_modules', '@tokenwise', 'plugin-auth'), 'dir')
      const bin = join(host, 'bin', 'run.js')

      const refused = await runAcmeExpecting(1, ['whoami'], {home, env, bin})
      expect(refused.stdout, 'the command did not run').to.equal('')
      expect(errorMessage(refused.stderr)).to.include('Part of the sign-in plugin could not be loaded').and.include('Reinstall')
      expect((await runAcmeExpecting(0, ['hello'], {home, env, bin})).stdout).to.equal('hello from acme\n')
    } finally {
      await rm(scratch, {recursive: true, force: true})
    }
  })
})

function escape(text: string): string {
  return text.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
