import {Command} from '@oclif/core'

/**
 * A protected command of a host that does not bundle @tokenwise/plugin-auth, so it cannot import
 * it either. The host lists `deploy` in `oclif.auth.commands.require`; once a user has added the
 * plugin, its prerun hook signs the command in (or stops it with exit 4) and hands the token over
 * in BARE_ACCESS_TOKEN, as it does for any child process.
 */
export default class Deploy extends Command {
  static summary = 'Pretend to deploy: ask the issuer who the access token belongs to.'

  async run() {
    const token = process.env.BARE_ACCESS_TOKEN
    if (!token) this.error('No access token: add the auth plugin (`bare plugins install @tokenwise/plugin-auth`) and sign in.', {exit: 4})
    const issuer = process.env.BARE_AUTH_ISSUER ?? this.config.pjson.oclif.auth.issuer
    const discovery = await (await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`)).json()
    const response = await fetch(discovery.userinfo_endpoint, {headers: {authorization: `Bearer ${token}`}})
    if (!response.ok) this.error(`The issuer answered ${response.status} to userinfo.`, {exit: 1})
    const me = await response.json()
    this.log(`deployed as ${me.sub}`)
  }
}
