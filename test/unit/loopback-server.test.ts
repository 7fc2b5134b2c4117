import {expect} from 'chai'

import {startLoopbackServer} from '../../src/provider/loopback-server.js'

describe('loopback redirect server', () => {
  it('listens on 127.0.0.1 only, on a port the OS picked', async () => {
    const server = await startLoopbackServer('s1')
    try {
      const url = new URL(server.redirectUri)
      expect(url.hostname).to.equal('127.0.0.1')
      expect(Number(url.port)).to.be.greaterThan(1023)
      expect(url.pathname).to.equal('/callback')
    } finally {
      server.close()
    }
  })

  it('rejects a callback with the wrong state and keeps waiting for the right one', async () => {
    const server = await startLoopbackServer('expected-state')
    try {
      const forged = await fetch(`${server.redirectUri}?code=stolen&state=other`)
      expect(forged.status).to.equal(400)
      expect(await forged.text()).to.include('does not belong')
      const missing = await fetch(`${server.redirectUri}?code=x`)
      expect(missing.status).to.equal(400)

      const real = fetch(`${server.redirectUri}?code=abc&state=expected-state`)
      const callback = await server.callback
      expect(callback.url.searchParams.get('code')).to.equal('abc')
      callback.finish({ok: true, message: 'done'})
      const page = await real
      expect(page.status).to.equal(200)
      expect(page.headers.get('cache-control')).to.equal('no-store')
      expect(await page.text()).to.include('Signed in')
    } finally {
      server.close()
    }
  })

  it('accepts one callback: a second one finds nobody listening', async () => {
    const server = await startLoopbackServer('st')
    try {
      const first = fetch(`${server.redirectUri}?code=1&state=st`)
      ;(await server.callback).finish({ok: true, message: 'ok'})
      await first
      // The server stops listening once it accepted a callback: the connection is refused.
      const second = await fetch(`${server.redirectUri}?code=2&state=st`).then(
        (response) => `answered ${response.status}`,
        () => 'refused',
      )
      expect(second).to.equal('refused')
    } finally {
      server.close()
    }
  })

  it('closes on close(): nothing listens after a timeout', async () => {
    const server = await startLoopbackServer('st')
    server.close()
    let refused = false
    await fetch(`${server.redirectUri}?code=1&state=st`).catch(() => {
      refused = true
    })
    expect(refused).to.equal(true)
  })

  it('answers other paths with 404 and never echoes parameters into the page', async () => {
    const server = await startLoopbackServer('st')
    try {
      const other = await fetch(server.redirectUri.replace('/callback', '/favicon.ico'))
      expect(other.status).to.equal(404)
      const xss = await fetch(`${server.redirectUri}?state=<script>alert(1)</script>`)
      expect(await xss.text()).to.not.include('<script>alert')
    } finally {
      server.close()
    }
  })
})
