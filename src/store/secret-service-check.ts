import {statSync} from 'node:fs'
import {connect, type Socket} from 'node:net'

import {formatDuration} from '../durations.js'

/*
 * Is the Secret Service there, answering and unlocked? Asked with a few D-Bus messages of our own,
 * asynchronous and time-boxed, before @napi-rs/keyring is used: its entry constructor blocks the
 * event loop on a stopped bus (see keyring-store.ts). Hand-written because the D-Bus libraries for
 * Node are unmaintained or heavy, and the four messages needed here are small and fixed.
 */

const SECRETS_NAME = 'org.freedesktop.secrets'
const DEFAULT_COLLECTION = '/org/freedesktop/secrets/aliases/default'

/**
 * Ask the session bus, without blocking the event loop and within `timeoutMs`, whether a Secret Service
 * answers and whether its default keyring is unlocked. Returns a reason when the keychain cannot be
 * used, undefined when it can (or when the bus address is of a kind we do not speak: then the
 * binding decides). Leaves nothing running: the socket is closed whatever happens.
 */
export async function checkSecretService(timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const addresses = sessionBusAddresses(env)
  if (typeof addresses === 'string') return addresses
  if (addresses.length === 0) return undefined
  // Elapsed time, not token time: the monotonic clock, which a wall-clock step cannot stretch or cut.
  const deadline = performance.now() + timeoutMs
  let lastProblem = 'no D-Bus session bus'
  for (const path of addresses) {
    const left = deadline - performance.now()
    if (left <= 0) return `the D-Bus session bus did not answer within ${formatDuration(timeoutMs)}`
    let result = await askSecretService(path, left, timeoutMs)
    // The Secret Service exited with our question in hand (gnome-keyring's #196): D-Bus starts it
    // again on the next message, as a desktop session does. Asked once more, in the same time box.
    if (result.kind === 'answer' && result.vanished) result = await askSecretService(path, Math.max(1, deadline - performance.now()), timeoutMs)
    if (result.kind === 'answer') return result.problem
    lastProblem = result.problem
  }
  return lastProblem
}

/** Unix socket paths to try, in order (abstract ones start with NUL); a string is a reason to give up; [] means "not ours to check". */
function sessionBusAddresses(env: NodeJS.ProcessEnv): string[] | string {
  const raw = env.DBUS_SESSION_BUS_ADDRESS
  if (raw === undefined || raw === '') {
    // libdbus's own fallback when the variable is not set.
    const runtime = env.XDG_RUNTIME_DIR
    const fallback = runtime ? `${runtime}/bus` : undefined
    if (fallback && isSocket(fallback)) return [fallback]
    return 'no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)'
  }
  const paths: string[] = []
  for (const address of raw.split(';')) {
    if (address.trim() === '') continue
    const colon = address.indexOf(':')
    const transport = address.slice(0, colon)
    const params = new Map<string, string>()
    for (const pair of address.slice(colon + 1).split(',')) {
      const eq = pair.indexOf('=')
      if (eq > 0) params.set(pair.slice(0, eq), unescapeAddress(pair.slice(eq + 1)))
    }
    if (transport !== 'unix') return [] // tcp:, unixexec:, systemd:, … — let the binding handle it
    const path = params.get('path')
    const abstract = params.get('abstract')
    if (path) paths.push(path)
    else if (abstract) paths.push(`\0${abstract}`)
    else if (params.get('runtime') === 'yes' && env.XDG_RUNTIME_DIR) paths.push(`${env.XDG_RUNTIME_DIR}/bus`)
    else return []
  }
  return paths.length > 0 ? paths : 'no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is empty)'
}

function unescapeAddress(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket()
  } catch {
    return false
  }
}

/** `vanished`: the bus answered NoReply for the Secret Service well inside our time box, so it exited without replying. */
type BusResult = {kind: 'answer'; problem: string | undefined; vanished?: boolean} | {kind: 'no-bus'; problem: string}

function askSecretService(path: string, ms: number, timeoutMs: number): Promise<BusResult> {
  return new Promise<BusResult>((resolve) => {
    const shown = path.startsWith('\0') ? `@${path.slice(1)}` : path
    let stage: 'connect' | 'auth' | 'hello' | 'secrets' = 'connect'
    let buffer = Buffer.alloc(0)
    let done = false
    const socket: Socket = connect({path})
    const finish = (result: BusResult) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => {
      const who = stage === 'secrets' ? 'the Secret Service' : 'the D-Bus session bus'
      finish({kind: 'answer', problem: `${who} did not answer within ${formatDuration(timeoutMs)}`})
    }, ms)
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (stage === 'connect') finish({kind: 'no-bus', problem: `no D-Bus session bus at ${shown} (${error.code ?? error.message})`})
      else finish({kind: 'answer', problem: `the D-Bus session bus closed the connection (${error.code ?? error.message})`})
    })
    socket.on('close', () => finish({kind: 'answer', problem: 'the D-Bus session bus closed the connection'}))
    socket.on('connect', () => {
      stage = 'auth'
      const uid = process.getuid?.() ?? 0
      socket.write(`\0AUTH EXTERNAL ${Buffer.from(String(uid)).toString('hex')}\r\n`)
    })
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data])
      if (stage === 'auth') {
        const end = buffer.indexOf('\r\n')
        if (end < 0) return
        const line = buffer.subarray(0, end).toString('latin1')
        buffer = buffer.subarray(end + 2)
        if (!line.startsWith('OK ')) return finish({kind: 'answer', problem: 'the D-Bus session bus refused to let us in'})
        stage = 'hello'
        socket.write(
          Buffer.concat([
            Buffer.from('BEGIN\r\n'),
            methodCall(1, {destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', iface: 'org.freedesktop.DBus', member: 'Hello'}),
            methodCall(2, {
              destination: SECRETS_NAME,
              path: DEFAULT_COLLECTION,
              iface: 'org.freedesktop.DBus.Properties',
              member: 'Get',
              args: ['org.freedesktop.Secret.Collection', 'Locked'],
            }),
          ]),
        )
        if (buffer.length === 0) return
      }
      for (;;) {
        let message: BusMessage | undefined
        try {
          const parsed = readMessage(buffer)
          if (!parsed) return
          message = parsed.message
          buffer = buffer.subarray(parsed.size)
        } catch {
          return finish({kind: 'answer', problem: 'the D-Bus session bus sent something we could not read'})
        }
        if (message.replySerial === 1) {
          if (message.type === ERROR) return finish({kind: 'answer', problem: `the D-Bus session bus refused us (${message.errorName})`})
          stage = 'secrets'
        } else if (message.replySerial === 2) {
          return finish({kind: 'answer', problem: judgeLockedReply(message), vanished: message.type === ERROR && /NoReply/.test(message.errorName ?? '')})
        }
      }
    })
  })
}

/** The answer to Properties.Get(Collection, Locked) on the default keyring, as a reason or undefined. */
function judgeLockedReply(message: BusMessage): string | undefined {
  if (message.type === ERROR) {
    const name = message.errorName ?? ''
    if (/ServiceUnknown|NameHasNoOwner|Spawn\./.test(name)) return 'no Secret Service on D-Bus'
    if (/NoReply|Timeout|TimedOut/.test(name)) return 'the Secret Service did not answer'
    if (/AccessDenied/.test(name)) return 'D-Bus does not let us talk to the Secret Service'
    // No default keyring (NoSuchObject / UnknownObject …) or no such property: it answered, so let
    // the binding go on and say precisely what it can or cannot do.
    return undefined
  }
  if (message.type === METHOD_RETURN && message.lockedValue === true) return 'the keychain is locked'
  return undefined
}

const METHOD_RETURN = 2
const ERROR = 3

interface BusMessage {
  type: number
  replySerial?: number
  errorName?: string
  /** For a reply whose body is a variant holding a boolean: its value. */
  lockedValue?: boolean
}

/** Build a little-endian METHOD_CALL with string arguments. */
function methodCall(serial: number, call: {destination: string; path: string; iface: string; member: string; args?: string[]}): Buffer {
  const body = new Writer()
  for (const arg of call.args ?? []) body.string(arg)
  const out = new Writer()
  out.byte(0x6c) // 'l'
  out.byte(1) // METHOD_CALL
  out.byte(0) // flags: reply expected, auto-start allowed
  out.byte(1) // protocol version
  out.uint32(body.length)
  out.uint32(serial)
  const arrayLengthAt = out.length
  out.uint32(0)
  const arrayStart = out.length // 16, already 8-aligned
  const field = (code: number, signature: 'o' | 's' | 'g', value: string) => {
    out.align(8)
    out.byte(code)
    out.signature(signature)
    if (signature === 'g') out.signature(value)
    else out.string(value)
  }
  field(1, 'o', call.path)
  field(2, 's', call.iface)
  field(3, 's', call.member)
  field(6, 's', call.destination)
  if (call.args?.length) field(8, 'g', 's'.repeat(call.args.length))
  out.setUint32(arrayLengthAt, out.length - arrayStart)
  out.align(8)
  return Buffer.concat([out.toBuffer(), body.toBuffer()])
}

class Writer {
  private bytes: number[] = []

  get length(): number {
    return this.bytes.length
  }

  align(n: number): void {
    while (this.bytes.length % n !== 0) this.bytes.push(0)
  }

  byte(value: number): void {
    this.bytes.push(value & 0xff)
  }

  uint32(value: number): void {
    this.align(4)
    this.bytes.push(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff)
  }

  setUint32(at: number, value: number): void {
    this.bytes.splice(at, 4, value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff)
  }

  string(value: string): void {
    const data = Buffer.from(value, 'utf8')
    this.uint32(data.length)
    this.bytes.push(...data, 0)
  }

  signature(value: string): void {
    this.bytes.push(value.length, ...Buffer.from(value, 'latin1'), 0)
  }

  toBuffer(): Buffer {
    return Buffer.from(this.bytes)
  }
}

/** Read one whole message from the front of `buffer`, or undefined when more bytes are needed. */
function readMessage(buffer: Buffer): {message: BusMessage; size: number} | undefined {
  if (buffer.length < 16) return undefined
  const little = buffer[0] === 0x6c
  if (!little && buffer[0] !== 0x42) throw new Error('bad endianness')
  const u32 = (at: number) => (little ? buffer.readUInt32LE(at) : buffer.readUInt32BE(at))
  const bodyLength = u32(4)
  const fieldsLength = u32(12)
  const bodyStart = align(16 + fieldsLength, 8)
  const size = bodyStart + bodyLength
  if (size > 64 * 1024 * 1024) throw new Error('message too large')
  if (buffer.length < size) return undefined
  const message: BusMessage = {type: buffer[1]!}
  let at = 16
  const fieldsEnd = 16 + fieldsLength
  while (at < fieldsEnd) {
    at = align(at, 8)
    const code = buffer[at]!
    const sigLength = buffer[at + 1]!
    const signature = buffer.toString('latin1', at + 2, at + 2 + sigLength)
    at += 2 + sigLength + 1
    if (signature === 's' || signature === 'o') {
      at = align(at, 4)
      const length = u32(at)
      const value = buffer.toString('utf8', at + 4, at + 4 + length)
      at += 4 + length + 1
      if (code === 4) message.errorName = value
    } else if (signature === 'g') {
      at += 1 + buffer[at]! + 1
    } else if (signature === 'u' || signature === 'h') {
      at = align(at, 4)
      if (code === 5) message.replySerial = u32(at)
      at += 4
    } else {
      throw new Error(`unexpected header field type ${signature}`)
    }
  }
  if (message.type === METHOD_RETURN && bodyLength >= 8) {
    // Body of Properties.Get: a variant, signature length 1, "b", NUL, then a 4-aligned uint32.
    const body = bodyStart
    if (buffer[body] === 1 && buffer[body + 1] === 0x62 && buffer[body + 2] === 0) message.lockedValue = u32(align(body + 3, 4)) !== 0
  }
  return {message, size}
}

function align(at: number, n: number): number {
  return Math.ceil(at / n) * n
}
