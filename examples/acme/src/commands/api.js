import {Args, Command, Flags} from '@oclif/core'
import {authFetch} from '@tokenwise/plugin-auth'

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
  }

  async run() {
    const {args, flags} = await this.parse(Api)
    const response = await authFetch(args.url, {method: flags.method})
    this.log(`${response.status} ${await response.text()}`)
    if (!response.ok) this.exit(1)
  }
}
