// Unit tests for the credential-helper backend (`storage=exec:<command>`): round trips through the
// example helper in examples/credential-helper (real child processes, temp dirs), and helpers that
// fail, hang, print garbage or do not exist — each a STORE_UNAVAILABLE naming the helper, never a
// hang, never the secret in a message or on a command line.

import {expect} from 'chai'
import {chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

import {AuthError} from '../../src/errors.js'
import type {Secrets} from '../../src/store/secrets.js'
import {ExecCredentialStore, type ExecCredentialStoreOptions} from '../../src/store/exec-store.js'
import {inAcmeWords} from '../helpers/errors.js'
import {alive} from '../helpers/wait.js'

const EXAMPLE = resolve('examples/credential-helper/file-vault.js')
const SERVICE = 'acme-auth'
const KEY = 'https://id.example.com|acme-cli|alice'
/** The store's 'keep-in-file' in the example host's words. */
const HINT = 'Retry once it answers, or keep the login in a file: sign in again with `acme auth login --storage file` (ACME_AUTH_STORAGE=file does it for every new login).'

const SECRETS: Secrets = {
  accessToken: 'at-9f8e7d6c5b4a-secret',
  tokenType: 'Bearer',
  refreshToken: 'rt-0a1b2c3d4e5f-secret',
  idToken: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.',
  expiresAt: '2030-01-01T00:00:00.000Z',
}

let dir: string
let savedVaultPath: string | undefined

function store(command: string, options: Partial<ExecCredentialStoreOptions> = {}): ExecCredentialStore {
  return new ExecCredentialStore({command, service: SERVICE, ...options})
}

/** A helper script in the temp dir, run as `node <path>`. */
async function script(name: string, body: string): Promise<string> {
  const path = join(dir, `${name}.mjs`)
  await writeFile(path, body)
  return `node ${path}`
}

/**
 * A helper written in sh: it is running its first line within milliseconds, where a node helper may
 * need more than a 300 ms time box just to start on a loaded machine (and would then die of the
 * SIGTERM it was meant to ignore).
 */
async function shellScript(name: string, body: string): Promise<string> {
  const path = join(dir, `${name}.sh`)
  await writeFile(path, `#!/bin/sh\n${body}\n`)
  await chmod(path, 0o755)
  return path
}

async function failure(promise: Promise<unknown>): Promise<AuthError> {
  try {
    await promise
  } catch (error) {
    expect(error).to.be.instanceOf(AuthError)
    return error as AuthError
  }
  expect.fail('expected an AuthError')
}

function expectUnavailable(error: AuthError, command: string): void {
  expect(error.code).to.equal('STORE_UNAVAILABLE')
  expect(error.message).to.contain(`The credential helper '${command}'`)
  expect(error.message).not.to.contain('\n')
  expect(error.next).to.equal('keep-in-file')
  expect(inAcmeWords(error).suggestion).to.equal(HINT)
  for (const value of [SECRETS.accessToken, SECRETS.refreshToken, SECRETS.idToken]) {
    expect(error.userMessage).not.to.contain(value)
    expect(JSON.stringify(error)).not.to.contain(value)
  }
}

describe('ExecCredentialStore', function () {
  // Deadlines, not expectations: each test starts a few node processes, slow on a loaded machine.
  this.timeout(60_000)

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'exec-store-'))
    savedVaultPath = process.env.FILE_VAULT_PATH
    process.env.FILE_VAULT_PATH = join(dir, 'vault', 'vault.json')
  })

  afterEach(async () => {
    if (savedVaultPath === undefined) delete process.env.FILE_VAULT_PATH
    else process.env.FILE_VAULT_PATH = savedVaultPath
    await rm(dir, {recursive: true, force: true})
  })

  describe('with the example helper', () => {
    it('names itself after the command', () => {
      const helper = store(`node ${EXAMPLE}`)
      expect(helper.kind).to.equal(`exec:node ${EXAMPLE}`)
      expect(helper.location).to.equal(`credential helper 'node ${EXAMPLE}'`)
    })

    it('round-trips get, store and erase', async () => {
      const helper = store(`node ${EXAMPLE}`)
      expect(await helper.get(KEY)).to.equal(undefined)
      await helper.set(KEY, SECRETS)
      expect(await helper.get(KEY)).to.deep.equal(SECRETS)

      const minimal: Secrets = {accessToken: 'only-this', tokenType: 'Bearer'}
      await helper.set(KEY, minimal)
      expect(await helper.get(KEY)).to.deep.equal(minimal)

      expect(await helper.delete(KEY)).to.equal(true)
      expect(await helper.get(KEY)).to.equal(undefined)
      expect(await helper.delete(KEY)).to.equal(false)
    })

    it('runs as an executable, keeps accounts and services apart, and keeps its file 0600', async () => {
      const helper = store(EXAMPLE) // #!/usr/bin/env node
      const other = new ExecCredentialStore({command: EXAMPLE, service: 'other-auth'})
      const bob = 'https://id.example.com|acme-cli|bob'
      await helper.set(KEY, SECRETS)
      await helper.set(bob, {accessToken: 'bob-token', tokenType: 'Bearer'})
      expect(await other.get(KEY)).to.equal(undefined)
      expect((await helper.get(bob))?.accessToken).to.equal('bob-token')
      expect(await helper.delete(bob)).to.equal(true)
      expect(await helper.get(KEY)).to.deep.equal(SECRETS)
      expect((await stat(process.env.FILE_VAULT_PATH!)).mode & 0o777).to.equal(0o600)
    })

    it('splits a quoted command like a shell would, without running one', async () => {
      const spaced = join(dir, 'my helpers', 'file vault.js')
      await mkdir(join(dir, 'my helpers'))
      await writeFile(spaced, await readFile(EXAMPLE))
      await chmod(spaced, 0o755)
      const helper = store(`'${spaced}'`)
      await helper.set(KEY, SECRETS)
      expect(await helper.get(KEY)).to.deep.equal(SECRETS)
    })

    it('reports what the example helper says when it cannot work', async () => {
      delete process.env.FILE_VAULT_PATH
      const error = await failure(store(EXAMPLE).get(KEY))
      expectUnavailable(error, EXAMPLE)
      expect(error.message).to.contain('file-vault: FILE_VAULT_PATH is not set')
    })
  })

  it('passes secrets on stdin only, never on the command line', async () => {
    const argvLog = join(dir, 'argv.log')
    const stdinLog = join(dir, 'stdin.log')
    const command = await script(
      'spy',
      `import {appendFileSync, readFileSync} from 'node:fs'
       appendFileSync(${JSON.stringify(argvLog)}, JSON.stringify(process.argv) + '\\n')
       const input = readFileSync(0, 'utf8')
       appendFileSync(${JSON.stringify(stdinLog)}, input)
       const request = JSON.parse(input)
       if (process.argv[2] === 'get') process.stdout.write(JSON.stringify({secret: ${JSON.stringify(JSON.stringify(SECRETS))}}))
       if (process.argv[2] === 'erase') process.stdout.write('{"deleted": true}')`,
    )
    const helper = store(command)
    await helper.set(KEY, SECRETS)
    expect(await helper.get(KEY)).to.deep.equal(SECRETS)
    expect(await helper.delete(KEY)).to.equal(true)

    const argvs = (await readFile(argvLog, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as string[])
    expect(argvs.map((argv) => argv.at(-1))).to.deep.equal(['store', 'get', 'erase'])
    for (const argv of argvs) {
      expect(argv).to.have.length(3) // node, the script, the action
      for (const value of [SECRETS.accessToken, SECRETS.refreshToken, SECRETS.idToken, KEY]) expect(argv.join(' ')).not.to.contain(value)
    }
    const requests = (await readFile(stdinLog, 'utf8')).trim().split('\n').map((line) => JSON.parse(line))
    expect(requests).to.deep.equal([
      {service: SERVICE, account: KEY, secret: JSON.stringify(SECRETS)},
      {service: SERVICE, account: KEY},
      {service: SERVICE, account: KEY},
    ])
  })

  it('a helper that exits non-zero: STORE_UNAVAILABLE with the first line of its stderr', async () => {
    const command = await script('deny', `process.stderr.write('\\n  vault: permission denied for acme-auth\\nsecond line\\n'); process.exit(3)`)
    const error = await failure(store(command).get(KEY))
    expectUnavailable(error, command)
    expect(error.message).to.equal(`The credential helper '${command}' could not read the login (\`get\` exited with status 3): vault: permission denied for acme-auth.`)
    expect(inAcmeWords(error).userMessage).to.contain(HINT)
  })

  it('a helper script that is not there (`node missing.js`): the error line, not the interpreter\'s source location', async () => {
    const missing = join(dir, 'missing-helper.js')
    const error = await failure(store(`${JSON.stringify(process.execPath)} ${JSON.stringify(missing)}`).get(KEY))
    expect(error.code).to.equal('STORE_UNAVAILABLE')
    expect(error.message).to.include(`Error: Cannot find module '${missing}'`).and.not.include('node:internal')
  })

  it('a failing helper that echoes its input on stderr does not leak the secret, and a long line is clipped', async () => {
    const command = await script(
      'echo-fail',
      `import {readFileSync} from 'node:fs'
       process.stderr.write('bad request: ' + readFileSync(0, 'utf8').trim() + 'x'.repeat(500))
       process.exit(1)`,
    )
    const error = await failure(store(command).set(KEY, SECRETS))
    expectUnavailable(error, command)
    expect(error.message).to.contain('could not save the login (`store` exited with status 1): bad request: {"service":"acme-auth"')
    expect(error.message).to.contain('[redacted]')
    expect(error.message.length).to.be.below(400)
  })

  it('a helper that exits non-zero without a word says so', async () => {
    const command = await script('mute', 'process.exit(1)')
    const error = await failure(store(command).delete(KEY))
    expectUnavailable(error, command)
    expect(error.message).to.contain('could not delete the login (`erase` exited with status 1) without saying why on stderr')
  })

  it('a helper killed by a signal says which', async () => {
    const command = await script('crash', "process.kill(process.pid, 'SIGSEGV')")
    const error = await failure(store(command).get(KEY))
    expectUnavailable(error, command)
    expect(error.message).to.contain('`get` was killed by SIGSEGV')
  })

  it('a helper that hangs is stopped at the time box', async () => {
    const pidFile = join(dir, 'pid')
    const command = await shellScript('hang', `echo $$ > ${JSON.stringify(pidFile)}\nexec sleep 1000`)
    const started = Date.now()
    const error = await failure(store(command, {timeoutMs: 500}).get(KEY))
    const took = Date.now() - started
    expectUnavailable(error, command)
    expect(error.message).to.contain('did not answer `get` within 500 ms and was stopped')
    expect(took).to.be.within(450, 1500)
    expect(alive(Number(await readFile(pidFile, 'utf8')))).to.equal(false)
  })

  it('a hanging helper that ignores SIGTERM gets SIGKILL after the grace', async () => {
    const pidFile = join(dir, 'pid')
    // SIGTERM stays ignored across exec.
    const command = await shellScript('stubborn', `trap '' TERM\necho $$ > ${JSON.stringify(pidFile)}\nexec sleep 1000`)
    const started = Date.now()
    const error = await failure(store(command, {timeoutMs: 300, killGraceMs: 300}).set(KEY, SECRETS))
    const took = Date.now() - started
    expectUnavailable(error, command)
    expect(error.message).to.contain('did not answer `store` within 300 ms')
    expect(took).to.be.within(550, 1500)
    expect(alive(Number(await readFile(pidFile, 'utf8')))).to.equal(false)
  })

  it('an inline `node -e` hang is stopped too', async () => {
    const command = 'node -e "setTimeout(()=>{},1e6)"'
    const started = Date.now()
    const error = await failure(store(command, {timeoutMs: 500}).get(KEY))
    expectUnavailable(error, command)
    expect(Date.now() - started).to.be.below(1500)
  })

  it('a helper that leaves something running in the background with its stdout open is not waited for', async () => {
    const pidFile = join(dir, 'pid')
    const command = await script(
      'daemon',
      `import {spawn} from 'node:child_process'
       import {writeFileSync} from 'node:fs'
       const agent = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1e6)'], {stdio: ['ignore', 'inherit', 'inherit'], detached: true})
       writeFileSync(${JSON.stringify(pidFile)}, String(agent.pid))
       agent.unref()
       process.stdout.write(JSON.stringify({secret: ${JSON.stringify(JSON.stringify(SECRETS))}}))`,
    )
    const started = Date.now()
    try {
      // Waiting for the agent would end in the 10 s time box's error instead; the answer came before it.
      expect(await store(command, {timeoutMs: 10_000}).get(KEY)).to.deep.equal(SECRETS)
      expect(Date.now() - started).to.be.below(10_000)
    } finally {
      const agent = Number(await readFile(pidFile, 'utf8'))
      if (alive(agent)) process.kill(agent, 'SIGKILL')
    }
  })

  it('garbage on stdout is a clear error that does not echo it', async () => {
    const garbage = `token=${SECRETS.accessToken}`
    const command = await script('garbage', `process.stdout.write(${JSON.stringify(garbage)})`)
    const error = await failure(store(command).get(KEY))
    expectUnavailable(error, command)
    expect(error.message).to.equal(`The credential helper '${command}' printed something that is not the expected JSON on \`get\`.`)
    expect(error.message).not.to.contain('token=')
  })

  it('JSON of the wrong shape is a clear error that does not echo it', async () => {
    const cases: Array<[string, string]> = [
      [JSON.stringify([SECRETS.accessToken]), 'printed JSON that is not an object on `get`'],
      [JSON.stringify({secret: SECRETS}), '"secret" is not a string'],
      [JSON.stringify({secret: SECRETS.accessToken}), 'returned a secret that is not a login saved by this CLI (it is not JSON)'],
      [JSON.stringify({secret: JSON.stringify({accessToken: SECRETS.accessToken})}), 'the secret: tokenType is not a non-empty string'],
      ['', 'printed nothing on `get`'],
    ]
    for (const [output, expected] of cases) {
      const command = await script('shape', `process.stdout.write(${JSON.stringify(output)})`)
      const error = await failure(store(command).get(KEY))
      expectUnavailable(error, command)
      expect(error.message).to.contain(expected)
    }
  })

  it('{"secret": null} is not found; erase without an answer counts as deleted; a bad answer to erase is an error', async () => {
    const nullSecret = await script('null', `process.stdout.write('{"secret": null}')`)
    expect(await store(nullSecret).get(KEY)).to.equal(undefined)
    const quiet = await script('quiet', '')
    expect(await store(quiet).delete(KEY)).to.equal(true)
    await store(quiet).set(KEY, SECRETS)
    const odd = await script('odd', `process.stdout.write('{"deleted": "yes"}')`)
    const error = await failure(store(odd).delete(KEY))
    expectUnavailable(error, odd)
    expect(error.message).to.contain('"deleted" is not true or false')
  })

  it('a command that does not exist is a clear error', async () => {
    const onPath = 'acme-no-such-credential-helper --flag'
    const error = await failure(store(onPath).get(KEY))
    expectUnavailable(error, onPath)
    expect(error.message).to.equal(`The credential helper '${onPath}' could not be started: 'acme-no-such-credential-helper' was not found on PATH.`)

    const absolute = join(dir, 'missing-helper')
    const error2 = await failure(store(absolute).set(KEY, SECRETS))
    expectUnavailable(error2, absolute)
    expect(error2.message).to.contain(`could not be started: '${absolute}' was not found.`)

    const notExecutable = join(dir, 'not-executable')
    await writeFile(notExecutable, '#!/bin/sh\n')
    await chmod(notExecutable, 0o644)
    const error3 = await failure(store(notExecutable).get(KEY))
    expectUnavailable(error3, notExecutable)
    expect(error3.message).to.contain('is not executable')
  })

  it('an empty command is a clear error', async () => {
    const error = await failure(store('  ').get(KEY))
    expect(error.code).to.equal('STORE_UNAVAILABLE')
    expect(error.message).to.contain('is an empty command')
  })
})
