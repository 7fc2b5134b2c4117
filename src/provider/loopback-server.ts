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

/** Ports the OS picks for `localhost` before giving up: each one is tried on both addresses. */
const PICKED_PORT_ATTEMPTS = 5

/**
 * Listen on every address the redirect's host name can mean, on one port. For `localhost` that is
 * 127.0.0.1 and ::1: the browser may resolve the name to either, and a port held by someone else on
 * the one we skipped would hand them the code and state (another local user listening on
 * [::1]:<port> gets the callback first). So both, or another port when the OS picks it, or a clear
 * failure when the port is fixed; ::1 is skipped only when this machine has no IPv6 loopback.
 */
async function listen(handler: (request: IncomingMessage, response: ServerResponse) => void, redirect: RedirectSettings): Promise<Server[]> {
  const addresses = redirect.host === 'localhost' ? ['127.0.0.1', '::1'] : [redirect.host === '[::1]' ? '::1' : '127.0.0.1']
  const candidates = redirect.ports ?? Array.from({length: addresses.length > 1 ? PICKED_PORT_ATTEMPTS : 1}, () => 0)
  const taken: string[] = []
  for (const candidate of candidates) {
    const result = await listenOnAll(handler, candidate, addresses)
    if (Array.isArray(result)) return result
    taken.push(result.taken)
  }
  if (redirect.ports === undefined) {
    throw new AuthError('LOGIN_FAILED', `The browser sign-in could not get one port on both addresses of ${redirect.host} (127.0.0.1 and [::1]): another program held it on one of them each of ${candidates.length} times (${taken.join(', ')}).`, {
      suggestion: 'Run the login again; if it keeps failing, set redirectHost to 127.0.0.1 (if the issuer accepts it) or sign in with --device.',
    })
  }
  const ports = candidates.join(', ')
  const both = addresses.length > 1 ? ` (both 127.0.0.1 and [::1], since the browser may use either)` : ''
  throw new AuthError('LOGIN_FAILED', `The browser sign-in needs ${candidates.length === 1 ? `port ${ports}` : `one of the ports ${ports}`} on ${redirect.host}${both} for the issuer's redirect, and ${candidates.length === 1 ? 'it is' : 'all are'} in use by another program (${taken.join(', ')}); nothing was sent to it.`, {
    suggestion: `Close the program that uses it, or set ${redirect.portsSource ?? 'redirectPort'} to another port registered at the issuer; or sign in with --device.`,
  })
}

/**
 * `port` on every one of `addresses` (0: the port the OS picks for the first), or where it was taken:
 * nothing is left listening then.
 */
async function listenOnAll(handler: (request: IncomingMessage, response: ServerResponse) => void, port: number, addresses: string[]): Promise<Server[] | {taken: string}> {
  const servers: Server[] = []
  for (const address of addresses) {
    const server = newServer(handler)
    const wanted = servers.length === 0 ? port : (servers[0].address() as AddressInfo).port
    try {
      await bind(server, wanted, address)
      servers.push(server)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // No IPv6 loopback on this machine (disabled, or ::1 not configured): nobody can hold it either.
      if (address === '::1' && servers.length > 0 && (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT')) continue
      for (const bound of servers) bound.close()
      if (code === 'EADDRINUSE' && (wanted !== 0)) return {taken: `${address.includes(':') ? `[${address}]` : address}:${wanted}`}
      throw error
    }
  }
  return servers
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
