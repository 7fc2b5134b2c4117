// Issue 20, item 5: another local user holds [::1]:<port> before a sign-in whose redirect is
// http://localhost:<port>/callback (redirectHost localhost with a fixed redirectPort, as Cognito and
// Entra ID need). The browser may resolve localhost to ::1, so a CLI listening on 127.0.0.1 alone
// would hand that user the code and the state. The squatter here is a real process of a second Unix
// user (nobody), listening before the CLI starts.

import {expect} from 'chai'
import {spawn, type ChildProcess} from 'node:child_process'
import {createServer} from 'node:net'

import {exactRedirectClient, startIssuer} from '../fixtures/issuer.js'
import {
  closedPort,
  describeRun,
  errorMessage,
  issuerEnv,
  makeTempHome,
  storeSnapshot,
  type TempHome,
} from '../helpers/acme.js'
import {runAcme} from '../helpers/in-process.js'
import {OTHER_UID, waitFor} from '../helpers/hostile.js'

type Issuer = Awaited<ReturnType<typeof startIssuer>>

interface Squatter {
  /** Every request line it received (method, path and query). */
  received: string[]
  stop(): void
}

// Answers every request with a page like the CLI's own and prints what it was sent: a code stolen.
const SQUATTER = `
const port = Number(process.argv[1])
require('node:http').createServer((request, response) => {
  console.log('GOT ' + request.method + ' ' + request.url)
  response.end('<h1>Signed in</h1>')
}).listen(port, '::1', () => console.log('LISTENING'))
`

/** `node -e SQUATTER <port>` as the other user (uid and gid 65534), through sudo -n unless we are root. */
async function squatAsOtherUser(port: number): Promise<Squatter> {
  const argv = ['setpriv', `--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, '--clear-groups', process.execPath, '-e', SQUATTER, String(port)]
  const [command, ...args] = process.getuid?.() === 0 ? argv : ['sudo', '-n', ...argv]
  const child: ChildProcess = spawn(command, args, {stdio: ['ignore', 'pipe', 'pipe']})
  const received: string[] = []
  let output = ''
  let errors = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk
    for (const line of chunk.split('\n')) if (line.startsWith('GOT ')) received.push(line.slice(4))
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk))
  let exited = false
  child.on('exit', () => (exited = true))
  await waitFor(() => output.includes('LISTENING') || exited, 10_000, 'the squatter to listen')
  if (!output.includes('LISTENING')) throw new Error(`The squatter did not start as uid ${OTHER_UID} (this attack needs root or passwordless sudo): ${errors.trim()}`)
  return {
    received,
    // setpriv execs node, so this pid is the squatter itself (as root we may signal another user's process).
    stop: () => void child.kill('SIGKILL'),
  }
}

/** A port free on both 127.0.0.1 and ::1, from the range the OS does not hand out for port 0. */
async function portFreeOnBoth(): Promise<number> {
  for (;;) {
    const port = await closedPort()
    const server = createServer()
    const free = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false))
      server.listen(port, '::1', () => resolve(true))
    })
    if (!free) continue
    await new Promise<void>((resolve) => server.close(() => resolve()))
    return port
  }
}

describe('e2e: a squatted [::1] callback port (issue 20)', function () {
  this.timeout(60_000)
  let issuer: Issuer
  let home: TempHome
  let port: number

  before(async () => {
    port = await portFreeOnBoth()
    // An issuer that takes exactly these redirect URIs, as Cognito does: the sign-in is otherwise fine.
    issuer = await startIssuer({clients: [exactRedirectClient(port)]})
  })
  after(() => issuer?.close())
  beforeEach(async () => {
    issuer.resetCounts()
    home = await makeTempHome()
  })
  afterEach(() => home?.cleanup())

  it('redirectHost localhost with a fixed port that another user holds on [::1]: exit 1 naming it, the squatter receives nothing', async () => {
    const squatter = await squatAsOtherUser(port)
    try {
      const args = ['auth', 'login']
      const login = await runAcme(args, {home, env: issuerEnv(issuer, {ACME_AUTH_CLIENT_ID: 'acme-exact', ACME_AUTH_REDIRECT_HOST: 'localhost', ACME_AUTH_REDIRECT_PORT: String(port)})})
      expect(login.code, describeRun(args, login)).to.equal(1)
      const message = errorMessage(login.stderr)
      expect(message).to.include(`port ${port} on localhost`).and.include(`[::1]:${port}`).and.include('in use by another program')
      expect(message).to.include('ACME_AUTH_REDIRECT_PORT')
      // Nothing started: the issuer saw no authorization request, so no code exists to be stolen.
      expect(issuer.requests, 'requests the issuer saw').to.deep.equal([])
      expect(squatter.received, 'requests the squatter received').to.deep.equal([])
      expect((await storeSnapshot(home)).credentials, 'credentials.json').to.equal(undefined)
    } finally {
      squatter.stop()
    }
  })

  it('with the squatter gone, the same settings sign in', async () => {
    const args = ['auth', 'login', '--json']
    const login = await runAcme(args, {home, env: issuerEnv(issuer, {ACME_AUTH_CLIENT_ID: 'acme-exact', ACME_AUTH_REDIRECT_HOST: 'localhost', ACME_AUTH_REDIRECT_PORT: String(port)})})
    expect(login.code, describeRun(args, login)).to.equal(0)
    expect(issuer.counts.authorizationCode).to.equal(1)
  })
})
