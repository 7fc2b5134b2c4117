// Suggestions name our commands the way the host spells them: oclif's default topic separator is
// ':' (`mycli auth:login`); hosts that set topicSeparator ' ' get `mycli auth login`.
import {expect} from 'chai'

import {HostCommands} from '../../src/host-commands.js'

describe('HostCommands', () => {
  it("follows the host's topic separator", () => {
    expect(new HostCommands('acme', ' ').auth('login')).to.equal('acme auth login')
    expect(new HostCommands('mycli', ':').auth('logout')).to.equal('mycli auth:logout')
  })

  it('every sign-in hint names the same command', () => {
    const commands = new HostCommands('mycli', ':')
    expect(commands.signIn()).to.equal('Run `mycli auth:login`.')
    expect(commands.signInAgain()).to.equal('Run `mycli auth:login` to sign in again.')
    expect(commands.keepInFile('MYCLI_AUTH_STORAGE')).to.include('`mycli auth:login --storage file`').and.include('MYCLI_AUTH_STORAGE=file')
  })
})
