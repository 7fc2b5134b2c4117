import {Command} from '@oclif/core'
import {authFetch, getSignedInAccount, plainFetch} from '@tokenwise/plugin-auth'

/**
 * `static auth = 'required'` is all it takes: the plugin's prerun hook signs the command in (or
 * stops it with exit 4), and authFetch adds the token. No token handling here. Every request goes
 * through the plugin's transport (plainFetch without a token, authFetch with one), so whoami works
 * behind the same proxy and company certificate authority as the sign-in; a network failure is the
 * plugin's one-line error (exit 75).
 */
export default class Whoami extends Command {
  static summary = 'Show who you are signed in as, according to the issuer.'

  static auth = 'required'

  async run() {
    // Ask the issuer the token belongs to (with several accounts, not necessarily the configured one).
    // A token from ACME_TOKEN carries no account: then the configured issuer.
    const account = await getSignedInAccount()
    const issuer = (account?.issuer ?? process.env.ACME_AUTH_ISSUER ?? this.config.pjson.oclif.auth.issuer).replace(/\/+$/, '')
    const found = await plainFetch(`${issuer}/.well-known/openid-configuration`)
    if (!found.ok) this.error(`${issuer} has no discovery document (it answered ${found.status}).`, {exit: 1})
    const discovery = await found.json().catch(() => this.error(`${issuer} did not answer with a discovery document (not JSON).`, {exit: 1}))
    const response = await authFetch(discovery.userinfo_endpoint)
    if (!response.ok) {
      const which = account ? '' : ` to the token in ACME_TOKEN`
      this.error(`The issuer answered ${response.status} to userinfo${which}.`, {exit: 1})
    }
    const me = await response.json()
    this.log(`${me.sub}${me.name ? ` (${me.name})` : ''}`)
  }
}
