// No secret the issuer handed out may show up in anything the CLI prints — not in messages, not in
// errors, not in debug output — except `auth token`'s stdout, which prints one on purpose. The issuer
// fixture records every access, refresh and ID token, authorization code, device code and PKCE verifier
// it saw (issuedSecrets); this test runs everything a user can do with debug output switched on and
// looks for each of them in the output.
// Spawned: DEBUG and NODE_DEBUG are read by the debug module and by Node when a process starts.

import {expect} from 'chai'
import {readdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'

import {startIssuer} from '../fixtures/issuer.js'
import {
  issuerEnv,
  makeTempHome,
  onlyStoredSecrets,
  readCredentialsFile,
  refreshAtIssuer,
  runAcme,
  type RunOptions,
  type RunResult,
  type TempHome,
} from '../helpers/acme.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

interface Output {
  step: string
  stream: 'stdout' | 'stderr' | 'file'
  text: string
}

/** Everything a sequence of commands printed, minus what is allowed to hold a token. */
class Transcript {
  readonly outputs: Output[] = []
  /** stdout of `auth token` / `auth token --json`: tokens on purpose, kept apart. */
  readonly printedOnPurpose: Output[] = []

  constructor(private readonly baseEnv: Record<string, string | undefined>) {}

  /**
   * Run a step, record its output, and check its exit code (`null`: exit codes of this step are
   * asserted elsewhere; here only its output matters).
   */
  async run(step: string, args: string[], options: RunOptions, expectedCode: number | null, stdoutIsSecret = false): Promise<RunResult> {
    const result = await runAcme(args, {...options, env: {...this.baseEnv, ...options.env}})
    if (expectedCode !== null) expect(result.code, `${step} (acme ${args.join(' ')})\n${result.stderr}`).to.equal(expectedCode)
    ;(stdoutIsSecret ? this.printedOnPurpose : this.outputs).push({step, stream: 'stdout', text: result.stdout})
    this.outputs.push({step, stream: 'stderr', text: result.stderr})
    return result
  }

  get stderr(): string {
    return this.outputs.filter((output) => output.stream === 'stderr').map((output) => output.text).join('')
  }
}

/** Every secret the issuer issued that appears in these outputs, as "<kind> in <stream> of <step>". */
function leaks(issuer: Issuer, outputs: Output[]): string[] {
  const found: string[] = []
  for (const secret of issuer.issuedSecrets) {
    const kind = issuer.secretKinds.get(secret)
    for (const needle of fragments(secret)) {
      for (const output of outputs) {
        if (output.text.includes(needle)) {
          found.push(`${kind} ${needle === secret ? '' : '(fragment) '}in ${output.stream} of "${output.step}"`)
        }
      }
    }
  }
  return [...new Set(found)]
}

/** No leaks — and the detector does find the token `auth token` prints on purpose. */
function expectNoSecrets(issuer: Issuer, transcript: Transcript): void {
  expect(leaks(issuer, transcript.printedOnPurpose), 'the detector sees the token auth token prints').to.include(
    'access_token in stdout of "token"',
  )
  expect(leaks(issuer, transcript.outputs), 'secrets in the output').to.deep.equal([])
}

/**
 * A secret and the pieces of it a log might show: the whole value, its start and its end (truncated
 * logging such as `abcd…`). JWTs share their header with every other JWT, so for them the payload
 * and the signature stand in for the start.
 */
function fragments(secret: string): string[] {
  const parts = secret.split('.')
  if (parts.length === 3) return [secret, parts[1], parts[2]].filter((part) => part.length >= 16)
  return secret.length > 24 ? [secret, secret.slice(0, 16), secret.slice(-16)] : [secret]
}

const ALL_KINDS = ['access_token', 'refresh_token', 'id_token', 'authorization_code', 'code_verifier', 'device_code']

/**
 * Everything a user can do, in two homes: browser and device login, status, token, refresh, whoami,
 * a token piped into --with-token (and a refresh token piped in by mistake), ACME_TOKEN, failed
 * logins, failed refreshes (503, then invalid_grant), logout, and a command after logout.
 */
async function everything(issuer: Issuer, transcript: Transcript, home: TempHome, second: TempHome): Promise<void> {
  const t = transcript
  await t.run('browser login', ['auth', 'login'], {home}, 0)
  // The index and the secrets file agree with what the issuer says it issued: the capture works.
  const alice = await onlyStoredSecrets(home)
  for (const secret of [alice.accessToken, alice.refreshToken, alice.idToken]) {
    expect(issuer.issuedSecrets.has(secret!), 'the issuer fixture recorded a stored secret').to.equal(true)
  }

  await t.run('device login', ['auth', 'login', '--device'], {home, env: {FAKE_BROWSER_LOGIN: 'bob'}}, 0)
  await t.run('status', ['auth', 'status'], {home}, 0)
  await t.run('status --json', ['auth', 'status', '--json'], {home}, 0)
  const token = (await t.run('token', ['auth', 'token'], {home}, 0, true)).stdout.trim()
  await t.run('token --json', ['auth', 'token', '--json'], {home}, 0, true)
  await t.run('refresh', ['auth', 'refresh'], {home}, 0)
  await t.run('refresh --json', ['auth', 'refresh', '--json'], {home}, 0)
  await t.run('whoami', ['whoami'], {home}, 0)

  await t.run('denied login', ['auth', 'login'], {home, env: {FAKE_BROWSER_MODE: 'deny'}}, 1)
  await t.run('wrong client id', ['auth', 'login'], {home, env: {ACME_AUTH_CLIENT_ID: 'nope'}}, 2)
  await t.run('login while ACME_TOKEN is set', ['auth', 'login'], {home, env: {ACME_TOKEN: token}}, 2)
  await t.run('status with ACME_TOKEN', ['auth', 'status'], {home, env: {ACME_TOKEN: token}}, 0)
  await t.run('whoami with ACME_TOKEN', ['whoami'], {home: second, env: {ACME_TOKEN: token}}, 0)

  const bob = (await readCredentialsFile(home)).accounts[`${issuer.issuer}|acme-cli|bob`]
  await t.run('--with-token', ['auth', 'login', '--with-token'], {home: second, input: `${bob.accessToken}\n`}, 0)
  await t.run('--with-token status --json', ['auth', 'status', '--json'], {home: second}, 0)
  await t.run('--with-token whoami', ['whoami'], {home: second}, 0)
  await t.run('a refresh token piped into --with-token', ['auth', 'login', '--with-token'], {home: second, input: `${bob.refreshToken}\n`}, 1)

  // Failing refreshes: the issuer is down, then it has revoked the grant (replayed refresh token).
  issuer.setTokenFailure(503)
  try {
    await t.run('refresh while the issuer answers 503', ['auth', 'refresh'], {home}, 75)
  } finally {
    issuer.setTokenFailure(null)
  }
  const current = (await readCredentialsFile(home)).accounts[`${issuer.issuer}|acme-cli|bob`]
  expect((await refreshAtIssuer(issuer, current.refreshToken!)).status).to.equal(200)
  expect((await refreshAtIssuer(issuer, current.refreshToken!)).status).to.equal(400)
  await t.run('refresh of a revoked grant', ['auth', 'refresh'], {home}, 4)
  await t.run('token of a revoked grant', ['auth', 'token'], {home}, 0, true)
  // Its exit code is failures.test.ts's business ('whoami after the issuer revoked the login').
  await t.run('whoami with a revoked grant', ['whoami'], {home}, null)

  // Revoking the piped access token ends bob's grant at the issuer too: so only now.
  await t.run('logout of a --with-token login', ['auth', 'logout'], {home: second}, 0)
  await t.run('logout bob', ['auth', 'logout'], {home}, 0)
  await t.run('logout alice', ['auth', 'logout'], {home}, 0)
  await t.run('status after logout', ['auth', 'status', '--json'], {home}, 0)
  await t.run('whoami after logout', ['whoami'], {home}, 4)

  expect(issuer.issuedSecrets.has(token), 'auth token printed a token the issuer issued').to.equal(true)
  expect(new Set(issuer.secretKinds.values()), 'kinds of secrets the issuer recorded').to.include.all.keys(...ALL_KINDS)
}

describe('e2e: secrets never leak into output', function () {
  // One test runs some thirty commands with every debug channel on.
  this.timeout(180_000)
  let issuer: Issuer
  let home: TempHome
  let second: TempHome

  before(async () => {
    issuer = await startIssuer()
  })
  after(() => issuer?.close())
  beforeEach(async () => {
    home = await makeTempHome()
    second = await makeTempHome()
  })
  afterEach(async () => {
    issuer.setTokenFailure(null)
    await home?.cleanup()
    await second?.cleanup()
  })

  // One run with every debug channel on at once covers each channel on its own: what a command prints
  // with DEBUG=* alone, or with NODE_DEBUG=http,net,tls alone, is part of what it prints with both.
  it('with DEBUG=* and NODE_DEBUG=* together (oclif\'s and our debug output; Node\'s http and net, which the plugin\'s transport uses); and no secret in any file outside the store', async () => {
    const transcript = new Transcript(issuerEnv(issuer, {DEBUG: '*', NODE_DEBUG: '*'}))
    await everything(issuer, transcript, home, second)
    // Every channel really was in effect: oclif's debug lines, the transport's, and Node's http and net lines.
    expect(transcript.stderr).to.match(/oclif:/)
    expect(transcript.stderr).to.match(/oclif:@tokenwise\/plugin-auth:transport requests to 127\.0\.0\.1:\d+ go direct/)
    expect(transcript.stderr).to.match(/^HTTP \d+:/m)
    expect(transcript.stderr).to.match(/^NET \d+:/m)
    expectNoSecrets(issuer, transcript)
    // Every file the CLI left anywhere in either home (data, config, cache, HOME), except the store's
    // own secrets file.
    const files: Output[] = []
    for (const each of [home, second]) {
      for (const entry of await readdir(each.root, {recursive: true, withFileTypes: true})) {
        const path = join(entry.parentPath, entry.name)
        if (entry.isFile() && path !== join(each.authDir, 'credentials.json')) {
          files.push({step: path, stream: 'file', text: await readFile(path, 'utf8')})
        }
      }
    }
    expect(files.length, 'files the CLI wrote (the index at least)').to.be.greaterThan(1)
    expect(leaks(issuer, files), 'secrets in files outside the store').to.deep.equal([])
  })
})
