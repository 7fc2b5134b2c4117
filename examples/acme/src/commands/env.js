import {Command} from '@oclif/core'
import {getAccessToken} from '@tokenwise/plugin-auth'
import {execFileSync} from 'node:child_process'

/**
 * What a program this command starts can see: the plugin exports the token as ACME_ACCESS_TOKEN to
 * child processes unless the host sets `exportToken: false`, while getAccessToken() works either way.
 * Prints whether each has a token, never the token (test/e2e/hostile-*.test.ts use it).
 */
export default class Env extends Command {
  static summary = 'Say whether a child process sees ACME_ACCESS_TOKEN and whether getAccessToken() works; prints no token.'

  static auth = 'required'

  async run() {
    const child = execFileSync(process.execPath, ['-e', 'process.stdout.write(process.env.ACME_ACCESS_TOKEN ? "set" : "not set")'], {encoding: 'utf8'})
    this.log(`ACME_ACCESS_TOKEN in a child process: ${child}`)
    this.log(`getAccessToken(): ${(await getAccessToken()) ? 'a token' : 'none'}`)
  }
}
