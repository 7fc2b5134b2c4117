import {X509Certificate} from 'node:crypto'
import {readFileSync} from 'node:fs'
import * as tls from 'node:tls'

import {AuthError} from '../errors.js'

/** The caFile setting: a PEM file of certificate authorities to trust besides Node's own. */
export interface CaFileSetting {
  path: string
  /** Where the setting came from (`ACME_AUTH_CA_FILE`, `caFile in <configDir>/auth.json`, …), named in errors. */
  source: string
}

/** Read once per file per process: every request of a command uses the same list. */
const cache = new Map<string, string[]>()

/**
 * The certificate authorities a request trusts when caFile is set: Node's (its bundled roots, the
 * ones NODE_EXTRA_CA_CERTS added at start and, from Node 22.15/23.8, the system store when
 * --use-system-ca or NODE_USE_SYSTEM_CA=1 asked for it) and the file's. Given as `ca`, a list
 * replaces Node's for that connection, so Node's are part of it.
 */
export function trustedRoots(caFile: CaFileSetting): string[] {
  const known = cache.get(caFile.path)
  if (known) return known
  const roots = [...nodeDefaultRoots(), ...readCertificates(caFile)]
  cache.set(caFile.path, roots)
  return roots
}

function nodeDefaultRoots(): string[] {
  // tls.getCACertificates('default') (Node 22.15+) is what Node itself trusts, extras and system
  // store included; Node 20 lacks it, and there the bundled roots and NODE_EXTRA_CA_CERTS are all there is.
  const getCACertificates = (tls as {getCACertificates?: (type: string) => string[]}).getCACertificates
  if (getCACertificates) return getCACertificates('default')
  const extraFile = process.env.NODE_EXTRA_CA_CERTS
  // Node already warned at start if it could not read the file; it trusts none of it then, nor do we.
  const extra = extraFile ? pemCertificates(readQuietly(extraFile)) : []
  return [...tls.rootCertificates, ...extra]
}

function readQuietly(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
}

function readCertificates(caFile: CaFileSetting): string[] {
  const problem = (what: string) =>
    new AuthError('CONFIG_INVALID', `Invalid ${caFile.source}: ${caFile.path} ${what}.`, {
      suggestion: 'Point it at a PEM file of one or more certificates (-----BEGIN CERTIFICATE-----), such as your company\'s root certificate authority.',
    })
  let text: string
  try {
    text = readFileSync(caFile.path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw problem(code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a folder' : `cannot be read (${code ?? 'error'})`)
  }
  const certificates = pemCertificates(text)
  if (certificates.length === 0) throw problem('holds no PEM certificate')
  certificates.forEach((pem, index) => {
    try {
      new X509Certificate(pem)
    } catch {
      throw problem(`holds a certificate that cannot be read (number ${index + 1})`)
    }
  })
  return certificates
}
