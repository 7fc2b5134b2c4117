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
  /**
   * Another server certificate from this CA, for the `tls` option: for `name` (an IP address or a host
   * name), valid for `days` from now; a negative number makes one that has already expired.
   */
  certificateFor(name: string, days: number): Promise<{key: string; cert: string}>
  cleanup(): Promise<void>
}

/** A new CA and a certificate it signed for `address`: an IP address (SAN IP:) or a host name (SAN DNS:). */
export async function makeTestCa(address: string): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'acme-ca-'))
  const path = (name: string) => join(dir, name)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await run('openssl', ['req', '-x509', ...ec, '-keyout', path('ca-key.pem'), '-out', path('ca.pem'), '-days', '2', '-subj', '/O=Tokenwise Test Corp/CN=Tokenwise Test Corp Root CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  await run('openssl', ['req', '-x509', ...ec, '-keyout', path('other-key.pem'), '-out', path('other.pem'), '-days', '2', '-subj', '/CN=Some Other Test Root', '-addext', 'basicConstraints=critical,CA:TRUE'])
  const serverCertificate = async (name: string, days: number, file: string) => {
    await run('openssl', ['req', ...ec, '-keyout', path(`${file}-key.pem`), '-out', path(`${file}.csr`), '-subj', `/CN=${name}`])
    await writeFile(path(`${file}.ext`), `subjectAltName=${isIP(name) ? 'IP' : 'DNS'}:${name}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`)
    await run('openssl', ['x509', '-req', '-in', path(`${file}.csr`), '-CA', path('ca.pem'), '-CAkey', path('ca-key.pem'), '-CAcreateserial', '-out', path(`${file}.pem`), '-days', String(days), '-extfile', path(`${file}.ext`)])
    return {key: await readFile(path(`${file}-key.pem`), 'utf8'), cert: `${await readFile(path(`${file}.pem`), 'utf8')}${await readFile(path('ca.pem'), 'utf8')}`}
  }
  const server = await serverCertificate(address, 2, 'server')
  let made = 0
  const ca = await readFile(path('ca.pem'), 'utf8')
  await writeFile(path('bundle.pem'), `${await readFile(path('other.pem'), 'utf8')}${ca}`)
  return {
    caFile: path('ca.pem'),
    bundleFile: path('bundle.pem'),
    tls: server,
    certificateFor: (name, days) => serverCertificate(name, days, `server-${++made}`),
    async cleanup() {
      await rm(dir, {recursive: true, force: true})
    },
  }
}
