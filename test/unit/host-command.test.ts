// Suggestions name our commands the way the host spells them: oclif's default topic separator is
// ':' (`mycli auth:login`); hosts that set topicSeparator ' ' get `mycli auth login`.
import {expect} from 'chai'
import {readdir, readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {AuthError, type NextStep} from '../../src/errors.js'
import {HostCommands} from '../../src/host-commands.js'
import {inHostWords} from '../../src/session/store-messages.js'

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

describe("the store's next steps in the host's words (session/store-messages.ts)", () => {
  const mycli = {bin: 'mycli', topicSeparator: ':' as const, scopedEnvVarKey: (key: string) => `MYCLI_${key}`}
  const said = (next: NextStep) => inHostWords(new AuthError('STORE_UNAVAILABLE', 'What happened.', {next}), mycli).suggestion

  it('says every next step the store names with the commands and variables of this host', () => {
    expect(said('sign-in-again')).to.equal('Run `mycli auth:login` to sign in again.')
    expect(said('keep-in-file')).to.equal('Retry once it answers, or keep the login in a file: sign in again with `mycli auth:login --storage file` (MYCLI_AUTH_STORAGE=file does it for every new login).')
    expect(said('unlock-or-sign-in-again')).to.equal('If it is locked or stopped, unlock or start it and retry; else run `mycli auth:login` to sign in again.')
    expect(said('retry-or-sign-in-again')).to.equal('Retry; if the issuer then no longer accepts the login, run `mycli auth:login`.')
    expect(said('damaged-index-moved')).to.equal('Run `mycli auth:login` to sign in again. (`mycli auth:logout --all` clears what is left.)')
    expect(said('damaged-index-too-large')).to.equal('Run `mycli auth:logout --all` to move it aside and clear what is left, then `mycli auth:login`.')
    expect(said({helperNotConfigured: 'exec:vault get'})).to.equal("If that helper is yours, set MYCLI_AUTH_STORAGE='exec:vault get' (or storage in your auth.json); else run `mycli auth:login` to sign in again.")
  })

  it('keeps the rest of the error, and an error that already says its next step as it is', () => {
    const error = new AuthError('TRANSIENT', 'What happened.', {next: 'keep-in-file', reason: 'no answer in time'})
    expect(inHostWords(error, mycli)).to.include({code: 'TRANSIENT', exitCode: 75, message: 'What happened.', reason: 'no answer in time', next: 'keep-in-file'})
    const worded = new AuthError('STORE_CORRUPT', 'What happened.', {next: 'sign-in-again', suggestion: 'Upgrade this CLI.'})
    expect(inHostWords(worded, mycli)).to.equal(worded)
    const plain = new AuthError('USAGE', 'What happened.')
    expect(inHostWords(plain, mycli)).to.equal(plain)
  })

  it('store/ names no command or variable of the host: it says what happened, the session says what to do', async () => {
    const store = fileURLToPath(new URL('../../src/store/', import.meta.url))
    const naming: string[] = []
    for (const name of await readdir(store)) {
      const code = (await readFile(join(store, name), 'utf8')).replaceAll(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')
      if (/HostCommands|scopedEnvVarKey|auth[ :](login|logout)|_AUTH_STORAGE/.test(code)) naming.push(name)
    }
    expect(naming).to.deep.equal([])
  })
})
