import {Command} from '@oclif/core'

/** Needs no login: the plugin's hooks must cost it next to nothing. */
export default class Hello extends Command {
  static summary = 'Say hello; needs no sign-in.'

  async run() {
    this.log('hello from acme')
  }
}
