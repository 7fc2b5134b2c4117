// The D-Bus preflight that keeps a missing or stopped Secret Service from blocking the CLI: every
// kind of session bus address a client may be given is either checked or left to the binding.
import {expect} from 'chai'
import {mkdtemp, rm} from 'node:fs/promises'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {checkSecretService} from '../../src/store/secret-service-check.js'

describe('store/secret-service-check', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dbus-check-'))
  })
  after(() => rm(dir, {recursive: true, force: true}))

  it('no address and no $XDG_RUNTIME_DIR/bus → a reason, at once', async () => {
    expect(await checkSecretService(1000, {XDG_RUNTIME_DIR: dir})).to.match(/no D-Bus session bus/)
  })

  it('unix:path= and unix:runtime=yes to a socket nobody listens on → a reason naming the path', async () => {
    const missing = join(dir, 'bus')
    expect(await checkSecretService(1000, {DBUS_SESSION_BUS_ADDRESS: `unix:path=${missing}`})).to.include(missing)
    expect(await checkSecretService(1000, {DBUS_SESSION_BUS_ADDRESS: 'unix:runtime=yes', XDG_RUNTIME_DIR: dir})).to.include(missing)
  })

  it('a bus that accepts the connection and never answers → a reason within the time box', async () => {
    const path = join(dir, 'silent-bus')
    const sockets: Array<{destroy(): void}> = []
    const server: Server = createServer((socket) => sockets.push(socket))
    await new Promise<void>((resolve) => server.listen(path, resolve))
    try {
      const started = Date.now()
      const reason = await checkSecretService(300, {DBUS_SESSION_BUS_ADDRESS: `unix:path=${path}`})
      expect(reason).to.match(/did not answer within/)
      expect(Date.now() - started).to.be.below(2000)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })

  it('transports it does not speak (tcp:) are left to the keychain binding', async () => {
    expect(await checkSecretService(1000, {DBUS_SESSION_BUS_ADDRESS: 'tcp:host=127.0.0.1,port=1'})).to.equal(undefined)
  })
})
