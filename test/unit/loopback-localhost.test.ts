import {expect} from 'chai'
import {createServer, type Server} from 'node:net'

import {AuthError} from '../../src/errors.js'
import {startLoopbackServer} from '../../src/provider/loopback-server.js'

/** Hold `port` on `host` (0: one the OS picks) until close(). */
async function hold(port: number, host: string): Promise<{port: number; server: Server}> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  return {port: (server.address() as {port: number}).port, server}
}

/** What answers a callback sent to `host`: the redirect server's page, or a refusal. */
async function answerAt(host: string, port: number): Promise<string> {
  return fetch(`http://${host}:${port}/callback?state=other`).then(
    (response) => `answered ${response.status}`,
    () => 'refused',
  )
}

describe('loopback redirect server: redirectHost localhost owns both loopback addresses', () => {
  it('listens on 127.0.0.1 and [::1] with the same port', async () => {
    const server = await startLoopbackServer('st', {host: 'localhost', path: '/callback'})
    try {
      const url = new URL(server.redirectUri)
      expect(url.hostname).to.equal('localhost')
      const port = Number(url.port)
      expect(await answerAt('127.0.0.1', port)).to.equal('answered 400')
      expect(await answerAt('[::1]', port)).to.equal('answered 400')
    } finally {
      server.close()
    }
  })

  it('a fixed port held on [::1] only: refused with the address named, nothing left listening', async () => {
    const squatter = await hold(0, '::1')
    try {
      const failure = await startLoopbackServer('st', {host: 'localhost', ports: [squatter.port], path: '/callback', portsSource: 'ACME_AUTH_REDIRECT_PORT'}).then(
        () => undefined,
        (error: unknown) => error,
      )
      expect(failure).to.be.instanceOf(AuthError)
      expect((failure as AuthError).message).to.include(`port ${squatter.port} on localhost`).and.include(`[::1]:${squatter.port}`)
      expect((failure as AuthError).suggestion).to.include('ACME_AUTH_REDIRECT_PORT')
      // The 127.0.0.1 half was given back.
      expect(await answerAt('127.0.0.1', squatter.port)).to.equal('refused')
    } finally {
      squatter.server.close()
    }
  })

  it('of several fixed ports, the first held on [::1] is passed over for the next free on both', async () => {
    const squatter = await hold(0, '::1')
    const spare = await hold(0, '127.0.0.1')
    const next = spare.port
    spare.server.close()
    const server = await startLoopbackServer('st', {host: 'localhost', ports: [squatter.port, next], path: '/callback'})
    try {
      expect(Number(new URL(server.redirectUri).port)).to.equal(next)
      expect(await answerAt('[::1]', next)).to.equal('answered 400')
    } finally {
      server.close()
      squatter.server.close()
    }
  })

  it('127.0.0.1 as the redirect host: [::1] is not ours to own (the browser never goes there)', async () => {
    const server = await startLoopbackServer('st', {host: '127.0.0.1', path: '/callback'})
    try {
      expect(await answerAt('[::1]', Number(new URL(server.redirectUri).port))).to.equal('refused')
    } finally {
      server.close()
    }
  })
})
