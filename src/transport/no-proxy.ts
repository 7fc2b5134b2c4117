import {BlockList, isIP} from 'node:net'

/**
 * Whether NO_PROXY covers a host, by curl's rules and Go's: `*`; a domain (`example.com`,
 * `.example.com`, `*.example.com`) covers itself and its subdomains; `host:port` only that port; IP
 * addresses are compared as addresses (`::1`, `[::1]` and `0:0::1` are one); CIDR ranges
 * (`10.0.0.0/8`, `fd00::/8`) cover the addresses in them. Names are not resolved to match addresses.
 * Our own, not `proxy-from-env`'s: that one reads `process.env` only, and a command may run with an
 * environment of its own (run-environment.ts); it also lacks the bare domain, addresses and ranges.
 */
export function noProxyCovers(hostname: string, port: number, noProxy: string): boolean {
  const host = unbracket(hostname.toLowerCase()).replace(/\.$/, '')
  const ipFamily = isIP(host)
  for (const raw of noProxy.toLowerCase().split(/[\s,]+/)) {
    if (!raw) continue
    const entry = splitPort(raw)
    if (entry.port !== undefined && entry.port !== port) continue
    const pattern = unbracket(entry.host).replace(/\.$/, '')
    if (pattern === '*') return true
    const slash = pattern.indexOf('/')
    if (slash !== -1) {
      if (ipFamily && inRange(host, ipFamily, pattern.slice(0, slash), pattern.slice(slash + 1))) return true
      continue
    }
    if (isIP(pattern)) {
      if (ipFamily && sameAddress(host, ipFamily, pattern)) return true
      continue
    }
    const domain = pattern.replace(/^\*?\./, '')
    if (domain && domain !== '*' && (host === domain || host.endsWith(`.${domain}`))) return true
  }
  return false
}

/** `host:port` and `[v6]:port`; a bare IPv6 address has colons but no port. */
function splitPort(entry: string): {host: string; port?: number} {
  const bracketed = /^(\[[^\]]+\])(?::(\d+))?$/.exec(entry)
  if (bracketed) return {host: bracketed[1], port: bracketed[2] === undefined ? undefined : Number(bracketed[2])}
  const withPort = /^([^:]+):(\d+)$/.exec(entry)
  if (withPort) return {host: withPort[1], port: Number(withPort[2])}
  return {host: entry}
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}

function family(version: number): 'ipv4' | 'ipv6' {
  return version === 4 ? 'ipv4' : 'ipv6'
}

function sameAddress(host: string, hostFamily: number, address: string): boolean {
  const list = new BlockList()
  list.addAddress(address, family(isIP(address)))
  return list.check(host, family(hostFamily))
}

function inRange(host: string, hostFamily: number, network: string, prefixText: string): boolean {
  const networkFamily = isIP(network)
  const prefix = Number(prefixText)
  if (!networkFamily || !/^\d+$/.test(prefixText) || prefix > (networkFamily === 4 ? 32 : 128)) return false
  const list = new BlockList()
  list.addSubnet(network, prefix, family(networkFamily))
  return list.check(host, family(hostFamily))
}

/**
 * Loopback never goes through a proxy, whatever the variables say (Go's net/http does the same):
 * the sign-in's own redirect and a local issuer are on this machine, and a proxy cannot reach them.
 */
export function isLoopback(hostname: string): boolean {
  const host = unbracket(hostname.toLowerCase()).replace(/\.$/, '')
  if (host === 'localhost' || host.endsWith('.localhost')) return true
  const version = isIP(host)
  if (version === 4) return host.startsWith('127.')
  if (version === 6) return inRange(host, 6, '::1', '128') || inRange(host, 6, '::ffff:127.0.0.0', '104')
  return false
}
