import {createServer, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

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

const CALLBACK_PATH = '/callback'

/**
 * The redirect target of the browser flow (RFC 8252 §7.3): bound to 127.0.0.1 only, on a port the
 * OS picks, accepting exactly one callback that carries our `state`. A request with another state
 * (a stale tab, a forged link) is answered and ignored, so it can neither complete nor cancel the
 * sign-in; once one callback was accepted the server stops listening.
 */
export async function startLoopbackServer(expectedState: string): Promise<LoopbackServer> {
  let accept!: (callback: LoopbackCallback) => void
  const callback = new Promise<LoopbackCallback>((resolve) => {
    accept = resolve
  })
  let used = false

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1')
    if (request.method !== 'GET' || url.pathname !== CALLBACK_PATH) {
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
    server.close()
    const full = new URL(`${redirectUri}${url.search}`)
    accept({
      url: full,
      finish: ({ok, message}) => page(response, ok ? 200 : 400, ok, message),
    })
  })
  // Keep-alive connections would keep the process alive after the sign-in ended.
  server.keepAliveTimeout = 1000

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const {port} = server.address() as AddressInfo
  const redirectUri = `http://127.0.0.1:${port}${CALLBACK_PATH}`
  return {
    redirectUri,
    callback,
    close() {
      server.close()
      server.closeAllConnections()
    },
  }
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
