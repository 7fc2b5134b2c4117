import {Command} from '@oclif/core'
import {authFetch} from '@tokenwise/plugin-auth'

/**
 * `static auth = 'required'` is all it takes: the plugin's prerun hook signs the command in (or
 * stops it with exit 4), and authFetch adds the token. No token handling here.
 */
export default class Whoami extends Command {
  static summary = 'Show who you are signed in as, according to the issuer.'

  static auth = 'required'

  async run() {
    const issuer = this.config.pjson.oclif.auth.issuer
    const discovery = await (await fetch(`${process.env.ACME_AUTH_ISSUER ?? issuer}/.well-known/openid-configuration`)).json()
    const response = await authFetch(discovery.userinfo_endpoint)
    if (!response.ok) this.error(`The issuer answered ${response.status} to userinfo.`, {exit: 1})
    const me = await response.json()
    this.log(`${me.sub}${me.name ? ` (${me.name})` : ''}`)
  }
}
