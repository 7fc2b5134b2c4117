// A company's certificate authority, made by the test with the openssl CLI: a root CA no trust store
// knows, and a server certificate it signed for the issuer's address. The issuer serves the certificate
// with the CA after it, as a TLS-inspecting proxy does, so a client that does not trust the CA sees a
// self-signed certificate in the chain. Nothing here is secret outside the test: every key is new.
import {execFile} from 'node:child_process'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {isIP} from 'node:net'
import {promisify} from 'node:util'

const run = promisify(execFile)

export interface TestCa {
  /** The CA's certificate (PEM), what ACME_AUTH_CA_FILE / NODE_EXTRA_CA_CERTS point at. */
  caFile: string
  /** A PEM file with an unrelated CA first and this CA second: "one or more certificates". */
  bundleFile: string
  /** For the issuer fixture's `tls` option: the server key, and its certificate followed by the CA's. */
  tls: {key: string; cert: string}
  cleanup(): Promise<void>
}

/** A new CA and a certificate it signed for `address`: an IP address (SAN IP:) or a host name (SAN DNS:). */
export async function makeTestCa(address: string): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'acme-ca-'))
  const path = (name: string) => join(dir, name)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await run('openssl', ['req', '-x509', ...ec, '-keyout', path('ca-key.pem'), '-out', path('ca.pem'), '-days', '2', '-subj', '/O=Tokenwise Test Corp/CN=Tokenwise Test Corp Root CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  await run('openssl', ['req', '-x509', ...ec, '-keyout', path('other-key.pem'), '-out', path('other.pem'), '-days', '2', '-subj', '/CN=Some Other Test Root', '-addext', 'basicConstraints=critical,CA:TRUE'])
  await run('openssl', ['req', ...ec, '-keyout', path('server-key.pem'), '-out', path('server.csr'), '-subj', `/CN=${address}`])
  await writeFile(path('server.ext'), `subjectAltName=${isIP(address) ? 'IP' : 'DNS'}:${address}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`)
  await run('openssl', ['x509', '-req', '-in', path('server.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca-key.pem'), '-CAcreateserial', '-out', path('server.pem'), '-days', '2', '-extfile', path('server.ext')])
  const ca = await readFile(path('ca.pem'), 'utf8')
  await writeFile(path('bundle.pem'), `${await readFile(path('other.pem'), 'utf8')}${ca}`)
  return {
    caFile: path('ca.pem'),
    bundleFile: path('bundle.pem'),
    tls: {key: await readFile(path('server-key.pem'), 'utf8'), cert: `${await readFile(path('server.pem'), 'utf8')}${ca}`},
    async cleanup() {
      await rm(dir, {recursive: true, force: true})
    },
  }
}
