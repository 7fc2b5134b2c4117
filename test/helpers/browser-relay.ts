// The scripted browser inside the test process, for the CLI to open: ACME_BROWSER is
// test/fixtures/browser-relay.sh, which passes the URL here over a loopback socket, and this process
// clicks through the issuer's pages (test/fixtures/browser-walk.js, as browser.js does). A sign-in costs
// no Node.js start-up for the browser, and the walk shares this process's already warm fetch.
//
// Like the CLI's real browser, the walk outlives the command that opened it and nobody waits for it: a
// walk that fails (the CLI was killed, a page was not what a user would expect) shows in the test as the
// sign-in that did not happen; its one-line reason goes to this process's stderr.
import {createServer, type Socket} from 'node:net'
import {fileURLToPath} from 'node:url'

import {BrowserError, walk} from '../fixtures/browser-walk.js'

export const BROWSER_RELAY = fileURLToPath(new URL('../fixtures/browser-relay.sh', import.meta.url))

/** Four lines: the URL, FAKE_BROWSER_MODE, FAKE_BROWSER_LOGIN, FAKE_BROWSER_LOG (each may be empty). */
function onConnection(socket: Socket): void {
  let received = ''
  socket.setEncoding('utf8')
  socket.on('error', () => {})
  socket.on('data', (chunk: string) => {
    received += chunk
    if (received.length > 64 * 1024) {
      socket.destroy()
      return
    }
    const lines = received.split('\n')
    if (lines.length < 5) return
    socket.removeAllListeners('data')
    const [url, mode, login, logFile] = lines
    socket.end('taken\n')
    walk(url, {mode: mode || undefined, login: login || undefined, logFile: logFile || undefined}).catch((error: unknown) => {
      if (error instanceof BrowserError) console.error(`browser-relay: ${(error as Error).message}`)
      else console.error('browser-relay: the walk failed', error)
    })
  })
}

async function startRelay(): Promise<number> {
  const server = createServer(onConnection)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  // The relay must not keep a finished mocha worker alive.
  server.unref()
  return (server.address() as {port: number}).port
}

/**
 * The environment that makes the CLI's browser this process's walk. The relay listens from the moment
 * this module is loaded, so issuerEnv can stay a plain function.
 */
export const RELAY_BROWSER_ENV = {ACME_BROWSER: BROWSER_RELAY, FAKE_BROWSER_RELAY_PORT: String(await startRelay())}
