import {AuthError} from '../errors.js'
import type {ProxyChoice} from './proxy-choice.js'

/**
 * What a failed request means to a user, for the failures the transport can judge without knowing
 * what the request was for: the proxy on the way, and the certificate of the host. Other network
 * failures reach the caller as `fetch` reports them (a TypeError whose `cause` has the code), so
 * that the issuer's side (provider/errors.ts) can say what was being done.
 */

/** How the caFile setting is spelled in this host: `ACME_AUTH_CA_FILE`. */
export interface FailureWords {
  caFileVariable: string
}

export function proxyUnreachable(proxy: ProxyChoice, target: URL, code: string | undefined): AuthError {
  return new AuthError('TRANSIENT', `Could not reach the proxy ${proxy.hostPort} (from ${proxy.variable}) on the way to ${target.host}: ${networkReason(code)}.`, {
    reason: `proxy: ${networkReason(code)}`,
    suggestion: `This is temporary and nothing was lost: retry when the proxy answers; if it persists, check ${proxy.variable}.`,
  })
}

/**
 * The proxy answered for the target (CONNECT refused, or a forwarded request it could not pass on).
 * A 5xx is its failure to get there (squid answers 503 when the issuer does not answer, 500 when
 * its DNS fails): temporary.
 */
export function proxyRefused(proxy: ProxyChoice, target: URL, status: number): AuthError {
  if (status === 407) {
    return new AuthError('CONFIG_INVALID', `The proxy ${proxy.hostPort} (from ${proxy.variable}) asks for a user name and password (407 Proxy Authentication Required)${proxy.authorization ? ' and refused the ones given' : ''}.`, {
      suggestion: `Check the proxy user name and password in ${proxy.variable} (http://user:password@host:port, percent-encoded).`,
    })
  }
  if (status >= 500) {
    return new AuthError('TRANSIENT', `The proxy ${proxy.hostPort} (from ${proxy.variable}) could not reach ${target.host} (${status}).`, {
      reason: `proxy answered ${status}`,
      suggestion: `This is temporary and nothing was lost: retry when ${target.hostname} is reachable; if it persists, ask the proxy's administrators.`,
    })
  }
  return new AuthError('CONFIG_INVALID', `The proxy ${proxy.hostPort} (from ${proxy.variable}) refused to connect to ${target.host} (${status}).`, {
    suggestion: `Ask the proxy's administrators to allow ${target.hostname}; if it is reachable without the proxy, add it to NO_PROXY.`,
  })
}

const UNKNOWN_AUTHORITY = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE'])

/** The TLS error in words, or undefined when `code` is not a certificate or TLS failure. */
function tlsReason(code: string): {words: string; untrusted: boolean; check?: string} | undefined {
  if (code === 'SELF_SIGNED_CERT_IN_CHAIN') return {words: 'self-signed certificate in the chain', untrusted: true}
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT') return {words: 'the certificate is self-signed', untrusted: true}
  if (UNKNOWN_AUTHORITY.has(code)) return {words: 'the certificate is issued by an unknown certificate authority', untrusted: true}
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') return {words: 'the certificate is for another name', untrusted: false, check: 'Check the address'}
  if (code === 'CERT_HAS_EXPIRED') return {words: 'the certificate has expired', untrusted: false, check: "Check this machine's clock"}
  if (code === 'CERT_NOT_YET_VALID') return {words: 'the certificate is not valid yet', untrusted: false, check: "Check this machine's clock"}
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') return {words: 'the server there does not speak https', untrusted: false}
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('CERT_')) return {words: 'the TLS handshake failed', untrusted: false}
  return undefined
}

/**
 * A certificate or TLS failure with `host`: what went wrong in words and both ways to trust a
 * company's certificate authority (a TLS-inspecting proxy shows its own certificates for every
 * host). Retrying never fixes one: not temporary.
 */
export function tlsFailure(host: string, errorCode: string | undefined, words: FailureWords, cause: unknown): AuthError | undefined {
  const code = errorCode === 'EPROTO' ? opensslCode(cause) : errorCode
  const reason = code ? tlsReason(code) : undefined
  if (!reason) return undefined
  const switchOn = systemStoreSwitch(process.versions.node)
  const systemStore = switchOn ? `, or ${switchOn} to use the certificates this system trusts` : ''
  const trust = `set ${words.caFileVariable} (the caFile setting) or NODE_EXTRA_CA_CERTS to a PEM file of its certificate authority${systemStore}`
  const suggestion = reason.untrusted
    ? `If your network uses its own certificate authority (a company proxy), ${trust}; else check the address.`
    : `${reason.check ?? "Check the address and this machine's clock"}; if a company proxy inspects https here, ${trust}.`
  return new AuthError('TLS_FAILED', `Could not make a secure connection to ${host}: ${reason.words} (${code}).`, {cause, suggestion, reason: code})
}

/** node:tls reports a handshake that went wrong as EPROTO, with OpenSSL's reason in words. */
function opensslCode(error: unknown): string | undefined {
  const {reason, message} = error as {reason?: unknown; message?: unknown}
  const text = `${typeof reason === 'string' ? reason : ''} ${typeof message === 'string' ? message : ''}`
  if (/wrong version number|packet length too long|http request/i.test(text)) return 'ERR_SSL_WRONG_VERSION_NUMBER'
  return /SSL routines|ssl3_|tls_/i.test(text) ? 'ERR_SSL_HANDSHAKE' : undefined
}

/**
 * How this Node is told to trust the operating system's certificate store, if it can be: the
 * `--use-system-ca` flag came with Node 23.8 (Linux 23.9) and 22.15, the NODE_USE_SYSTEM_CA=1
 * variable with 24.6 and 22.19. Node 20 reads only its own roots and NODE_EXTRA_CA_CERTS.
 */
export function systemStoreSwitch(version: string): string | undefined {
  const [major, minor] = version.split('.').map(Number)
  if (major > 24 || (major === 24 && minor >= 6) || (major === 22 && minor >= 19)) return 'NODE_USE_SYSTEM_CA=1'
  if (major >= 23 || (major === 22 && minor >= 15)) return 'NODE_OPTIONS=--use-system-ca'
  return undefined
}

/** A request the host made with authFetch() that never got an answer: one line naming the host. */
export function hostUnreachable(target: URL, code: string | undefined, cause: unknown): AuthError {
  return new AuthError('TRANSIENT', `Could not reach ${target.host}: ${networkReason(code)}.`, {
    cause,
    reason: networkReason(code),
    suggestion: 'This is temporary: retry when it is reachable.',
  })
}

export function networkReason(code: string | undefined): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused'
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found'
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection reset'
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connection timed out'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to the host'
    default:
      return code ? `network error ${code}` : 'network error'
  }
}
