import {Args, Command, Flags} from '@oclif/core'
import {authFetch, getDPoPProof, plainFetch} from '@tokenwise/plugin-auth'

/**
 * Call an API with the signed-in token, like `gh api`: authFetch adds the Authorization header and
 * retries once after a refresh when the API answers 401. Works the same for a person and for a
 * machine signed in as the client itself.
 */
export default class Api extends Command {
  static summary = 'Call an API with your access token and print the answer.'

  static auth = 'required'

  static args = {
    url: Args.string({description: 'The URL to call.', required: true}),
  }

  static flags = {
    method: Flags.string({description: 'The HTTP method.', default: 'GET'}),
    'own-request': Flags.boolean({description: 'Build the request here with getDPoPProof() instead of authFetch(), as a host with its own HTTP client does.'}),
  }

  async run() {
    const {args, flags} = await this.parse(Api)
    const response = flags['own-request'] ? await ownRequest(args.url, flags.method) : await authFetch(args.url, {method: flags.method})
    this.log(`${response.status} ${await response.text()}`)
    if (!response.ok) this.exit(1)
  }
}

/**
 * The Authorization header, and the DPoP proof when the login's tokens are DPoP-bound, for this one
 * request, sent through plainFetch: the plugin's transport (proxy, company CA), without its token logic.
 */
async function ownRequest(url, method) {
  const {authorization, dpop} = await getDPoPProof(method, url)
  const headers = {authorization}
  if (dpop) headers.dpop = dpop
  return plainFetch(url, {method, headers})
}
