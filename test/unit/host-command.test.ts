// Suggestions name our commands the way the host spells them: oclif's default topic separator is
// ':' (`mycli auth:login`); hosts that set topicSeparator ' ' get `mycli auth login`.
import type {Interfaces} from '@oclif/core'
import {expect} from 'chai'

import {hostAuthCommand} from '../../src/session/context.js'

describe('hostAuthCommand', () => {
  it("follows the host's topic separator", () => {
    expect(hostAuthCommand({bin: 'acme', topicSeparator: ' '} as Interfaces.Config, 'login')).to.equal('acme auth login')
    expect(hostAuthCommand({bin: 'mycli', topicSeparator: ':'} as Interfaces.Config, 'logout')).to.equal('mycli auth:logout')
  })
})
