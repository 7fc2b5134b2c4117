#!/usr/bin/env node
// `npm run issuer`: the test issuer on http://127.0.0.1:4010, the issuer examples/acme is configured
// for, until Ctrl-C. For trying the example host by hand; sign in on its development pages with any
// name and password. `--port N` picks another port (then set ACME_AUTH_ISSUER to match).
import {startIssuer} from '../test/fixtures/issuer.js'

const at = process.argv.indexOf('--port')
const port = at === -1 ? 4010 : Number(process.argv[at + 1])
let issuer
try {
  issuer = await startIssuer({port})
} catch (error) {
  console.error(`Could not start the issuer on 127.0.0.1:${port} (${error.code ?? error.message}). Is one running already? Pick another with --port.`)
  process.exit(1)
}
console.log(`Issuer running at ${issuer.issuer} (client id ${issuer.clientId}); Ctrl-C stops it.`)
console.log('In another terminal:')
console.log('  node examples/acme/bin/run.js auth login     # sign in with any name and password')
console.log('  node examples/acme/bin/run.js whoami')
if (port !== 4010) console.log(`  (set ACME_AUTH_ISSUER=${issuer.issuer} first: the example is configured for port 4010)`)
const stop = async () => {
  await issuer.close()
  console.log(`Stopped. It saw: ${JSON.stringify(issuer.counts)}`)
  process.exit(0)
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
