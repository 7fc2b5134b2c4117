import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

import {AuthError} from '../errors.js'

/** What the browser delivered to the redirect URI, and a way to tell the user how it ended. */
export interface LoopbackCallback {
  url: URL
  /** Answer the waiting browser tab. */
  finish(outcome: {ok: boolean; message: string}): void
}

export interface LoopbackServer {
  redirectUri: string
  /** Settles with the first callback that carries our `state`. */
  callback: Promise<LoopbackCallback>
  close(): void
}

/** Where the browser is sent back to: as the issuer has it registered (RFC 8252 §7.3). */
export interface RedirectSettings {
  /** `127.0.0.1` (default), `localhost` or `[::1]`: issuers compare it as a string. */
  host: string
  /** Tried in order; none: a port the OS picks (most issuers accept any port for a loopback redirect). */
  ports?: number[]
  path: string
  /** How to name the ports setting in a message: `ACME_AUTH_REDIRECT_PORT`. */
  portsSource?: string
}

export const DEFAULT_REDIRECT: RedirectSettings = {host: '127.0.0.1', path: '/callback'}

/**
 * The redirect target of the browser flow (RFC 8252 §7.3): bound to a loopback address only, on a
 * port the OS picks or the first free one of the configured ports, accepting exactly one callback
 * that carries our `state`. A request with another state (a stale tab, a forged link) is answered
 * and ignored, so it can neither complete nor cancel the sign-in; once one callback was accepted the
 * server stops listening.
 */
export async function startLoopbackServer(expectedState: string, redirect: RedirectSettings = DEFAULT_REDIRECT): Promise<LoopbackServer> {
  let accept!: (callback: LoopbackCallback) => void
  const callback = new Promise<LoopbackCallback>((resolve) => {
    accept = resolve
  })
  let used = false
  let redirectUri = ''

  const handler = (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    if (request.method !== 'GET' || url.pathname !== redirect.path) {
      page(response, 404, false, 'Nothing here.')
      return
    }
    if (used) {
      page(response, 409, false, 'This sign-in has already been completed. You can close this tab.')
      return
    }
    if (url.searchParams.get('state') !== expectedState) {
      page(response, 400, false, 'This sign-in link does not belong to the sign-in that is waiting in your terminal.')
      return
    }
    used = true
    for (const server of servers) server.close()
    const full = new URL(`${redirectUri}${url.search}`)
    accept({
      url: full,
      finish: ({ok, message}) => page(response, ok ? 200 : 400, ok, message),
    })
  }

  const servers = await listen(handler, redirect)
  const {port} = servers[0].address() as AddressInfo
  redirectUri = `http://${redirect.host}:${port}${redirect.path}`
  return {
    redirectUri,
    callback,
    close() {
      for (const server of servers) {
        server.close()
        server.closeAllConnections()
      }
    },
  }
}

/**
 * Listen on the loopback address the redirect names; for `localhost` on 127.0.0.1 and, where the
 * machine has it, ::1 as well, since the browser may resolve the name to either.
 */
async function listen(handler: (request: IncomingMessage, response: ServerResponse) => void, redirect: RedirectSettings): Promise<Server[]> {
  const primary = redirect.host === '[::1]' ? '::1' : '127.0.0.1'
  const candidates = redirect.ports ?? [0]
  for (const candidate of candidates) {
    const server = newServer(handler)
    try {
      await bind(server, candidate, primary)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE' && candidate !== 0) continue
      throw error
    }
    const servers = [server]
    if (redirect.host === 'localhost') {
      const second = newServer(handler)
      const {port} = server.address() as AddressInfo
      if (await bind(second, port, '::1').then(() => true, () => false)) servers.push(second)
    }
    return servers
  }
  const ports = candidates.join(', ')
  throw new AuthError('LOGIN_FAILED', `The browser sign-in needs ${candidates.length === 1 ? `port ${ports}` : `one of the ports ${ports}`} on ${redirect.host} for the issuer's redirect, and ${candidates.length === 1 ? 'it is' : 'all are'} in use by another program.`, {
    suggestion: `Close the program that uses it, or set ${redirect.portsSource ?? 'redirectPort'} to another port registered at the issuer; or sign in with --device.`,
  })
}

function newServer(handler: (request: IncomingMessage, response: ServerResponse) => void): Server {
  const server = createServer(handler)
  // Keep-alive connections would keep the process alive after the sign-in ended.
  server.keepAliveTimeout = 1000
  return server
}

function bind(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

function page(response: ServerResponse, status: number, ok: boolean, message: string): void {
  const title = ok ? 'Signed in' : 'Sign-in not completed'
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
  body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; background: #f5f6f8; color: #1d2330;
         display: flex; min-height: 100vh; margin: 0; align-items: center; justify-content: center; }
  main { background: #fff; border-radius: 12px; box-shadow: 0 2px 12px rgba(0,0,0,.08); padding: 40px 48px; max-width: 460px; text-align: center; }
  .mark { font-size: 44px; line-height: 1; color: ${ok ? '#1a7f37' : '#cf222e'}; }
  h1 { font-size: 22px; margin: 16px 0 8px; }
  p { margin: 0; color: #4b5565; }
</style></head>
<body><main><div class="mark">${ok ? '&#10003;' : '&#10007;'}</div><h1>${title}</h1><p>${escapeHtml(message)}</p></main></body></html>
`
  response.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    connection: 'close',
  })
  response.end(html)
}

function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;')
}
