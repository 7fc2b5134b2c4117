// Issue 19, item 3: a certificate problem is one line naming the host and the TLS error in words.
// The company CA is trusted here (ACME_AUTH_CA_FILE), so what fails is the certificate itself: one
// that has expired, one made for another name. Real https issuers on 127.0.0.1 with certificates the
// test's CA signed (openssl); in process, since nothing here needs a process of its own (the CA file
// is the plugin's setting, read per run, not NODE_EXTRA_CA_CERTS, which Node reads at start).

import {expect} from 'chai'

import {startIssuer} from '../fixtures/issuer.js'
import {errorMessage, issuerEnv, makeTempHome, storeSnapshot, type TempHome} from '../helpers/acme.js'
import {runAcmeExpecting} from '../helpers/in-process.js'
import type {Issuer} from '../helpers/signed-in.js'
import {makeTestCa, type TestCa} from '../helpers/test-ca.js'

describe('e2e: a certificate that is wrong in itself, from an issuer whose CA is trusted', function () {
  this.timeout(60_000)
  let ca: TestCa
  const issuers: Issuer[] = []
  const homes: TempHome[] = []

  before(async () => {
    ca = await makeTestCa('127.0.0.1')
  })
  after(async () => {
    for (const issuer of issuers) await issuer.close()
    for (const home of homes) await home.cleanup()
    await ca?.cleanup()
  })

  const cases = [
    {what: 'an expired certificate', certificate: () => ca.certificateFor('127.0.0.1', -1), words: 'the certificate has expired', next: /Check this machine's clock; if a company proxy/},
    {what: 'a certificate for another name', certificate: () => ca.certificateFor('id.other.test', 2), words: 'the certificate is for another name', next: /Check the address; if a company proxy/},
  ]
  for (const {what, certificate, words, next} of cases) {
    it(`${what}: sign-in stops with one line naming the host, the error in words and what to check; nothing stored`, async () => {
      const issuer = await startIssuer({tls: await certificate()})
      issuers.push(issuer)
      const home = await makeTempHome()
      homes.push(home)
      const result = await runAcmeExpecting(1, ['auth', 'login', '--device'], {home, env: issuerEnv(issuer, {ACME_AUTH_CA_FILE: ca.caFile})})
      const message = errorMessage(result.stderr)
      expect(message).to.include(`Could not make a secure connection to ${issuer.issuer}: ${words}`)
      expect(message).to.match(next)
      expect(result.stderr, 'no stack trace').to.not.match(/\n\s+at /)
      expect(issuer.counts.tokenRequests, 'nothing reached the token endpoint').to.equal(0)
      expect(await storeSnapshot(home)).to.deep.equal({index: undefined, credentials: undefined})
    })
  }
})
