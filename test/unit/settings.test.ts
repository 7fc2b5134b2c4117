// Unit tests for settings resolution (flags > env > user file > host package.json > defaults),
// command auth requirements and token freshness arithmetic.

import {expect} from 'chai'
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {Interfaces} from '@oclif/core'

import {AuthError} from '../../src/errors.js'
import {loadHookSettings, loadSettings, userSettingsPath, type SettingFlags} from '../../src/settings/load.js'
import {isLoopbackHost, parseIssuer, parseScopes, parseSeconds, parseBoolean, parseStorage, ParseProblem} from '../../src/settings/parse.js'
import {layerFromFileBlock, resolveSettings, type SettingsLayer} from '../../src/settings/resolve.js'
import {DEFAULT_SCOPES, type SettingKey} from '../../src/settings/settings.js'
import {authRequirement, matchesCommand} from '../../src/session/requirement.js'
import {DEFAULT_SKEW_SECONDS, isExpired, isFresh} from '../../src/session/freshness.js'
import {authErrorFrom} from '../helpers/errors.js'

// ---------------------------------------------------------------------------------------------
// helpers

function expectConfigInvalid(error: AuthError, ...mentions: string[]): void {
  expect(error.code).to.equal('CONFIG_INVALID')
  expect(error.exitCode).to.equal(2)
  expect(error.message, 'message must be one line').to.not.match(/[\r\n]/)
  for (const mention of mentions) expect(error.message).to.include(mention)
}

function layer(kind: SettingsLayer['kind'], values: Partial<Record<SettingKey, unknown>>, name: string = kind): SettingsLayer {
  return {kind, values, describe: (key) => `${name}:${key}`}
}

const ENV_PREFIX = 'ACME_'

interface FakeConfigOptions {
  auth?: unknown
  userFile?: string | object
}

interface Fixture {
  config: Interfaces.Config
  configDir: string
  root: string
  userFile: string
  hostPjson: string
}

describe('settings', () => {
  let tempDirs: string[] = []
  let savedEnv: Record<string, string | undefined>

  beforeEach(() => {
    savedEnv = {}
    for (const key of Object.keys(process.env)) {
      if (key.startsWith(ENV_PREFIX)) {
        savedEnv[key] = process.env[key]
        delete process.env[key]
      }
    }
  })

  afterEach(async () => {
    for (const key of Object.keys(process.env)) if (key.startsWith(ENV_PREFIX)) delete process.env[key]
    for (const [key, value] of Object.entries(savedEnv)) if (value !== undefined) process.env[key] = value
    await Promise.all(tempDirs.map((dir) => rm(dir, {recursive: true, force: true})))
    tempDirs = []
  })

  async function fixture(options: FakeConfigOptions = {}): Promise<Fixture> {
    const base = await mkdtemp(join(tmpdir(), 'plugin-auth-settings-'))
    tempDirs.push(base)
    const configDir = join(base, 'config')
    const root = join(base, 'host')
    await mkdir(configDir, {recursive: true})
    await mkdir(root, {recursive: true})
    const userFile = join(configDir, 'auth.json')
    if (options.userFile !== undefined) {
      await writeFile(userFile, typeof options.userFile === 'string' ? options.userFile : JSON.stringify(options.userFile))
    }
    const oclif: Record<string, unknown> = {bin: 'acme'}
    if (options.auth !== undefined) oclif.auth = options.auth
    const config = {
      configDir,
      root,
      pjson: {name: 'acme', version: '1.0.0', oclif},
      scopedEnvVarKeys: (key: string) => [ENV_PREFIX + key],
      scopedEnvVarKey: (key: string) => ENV_PREFIX + key,
    } as unknown as Interfaces.Config
    return {config, configDir, root, userFile, hostPjson: join(root, 'package.json')}
  }

  async function load(options: FakeConfigOptions = {}, flags: SettingFlags = {}) {
    const fx = await fixture(options)
    return {fx, settings: await loadSettings(fx.config, flags)}
  }

  // -------------------------------------------------------------------------------------------
  describe('loadSettings: defaults', () => {
    it('uses the documented defaults when nothing is configured', async () => {
      const {settings} = await load()
      expect(settings.issuer).to.equal(undefined)
      expect(settings.clientId).to.equal(undefined)
      expect(settings.scopes).to.deep.equal(['openid', 'profile', 'email', 'offline_access'])
      expect(settings.storage).to.equal('auto')
      expect(settings.refreshAhead).to.equal('background')
      expect(settings.loginTimeoutSeconds).to.equal(300)
      expect(settings.lockWaitSeconds).to.equal(30)
      expect(settings.requireAuth).to.deep.equal([])
      expect(settings.allowInsecureIssuer).to.equal(false)
      expect(settings.sources.scopes).to.equal('default')
      expect(settings.sources.storage).to.equal('default')
    })

    it('the user settings file lives at <configDir>/auth.json', async () => {
      const fx = await fixture()
      expect(userSettingsPath(fx.config)).to.equal(join(fx.configDir, 'auth.json'))
    })

    it('does not hand out the shared default arrays (mutating one result must not change the next)', async () => {
      const first = resolveSettings([])
      first.scopes.push('mutated')
      first.requireAuth.push('mutated')
      const second = resolveSettings([])
      expect(second.scopes).to.deep.equal(['openid', 'profile', 'email', 'offline_access'])
      expect(second.requireAuth).to.deep.equal([])
      expect(DEFAULT_SCOPES).to.deep.equal(['openid', 'profile', 'email', 'offline_access'])
    })
  })

  // -------------------------------------------------------------------------------------------
  describe('loadSettings: precedence flags > env > user file > host > defaults', () => {
    const host = {
      issuer: 'https://host.example.com',
      clientId: 'host-client',
      scopes: ['openid', 'host'],
      storage: 'file',
    }
    const user = {
      issuer: 'https://user.example.com',
      clientId: 'user-client',
      scopes: ['openid', 'user'],
      storage: 'file',
    }

    it('host package.json beats the defaults', async () => {
      const {fx, settings} = await load({auth: host})
      expect(settings.issuer).to.equal('https://host.example.com')
      expect(settings.clientId).to.equal('host-client')
      expect(settings.scopes).to.deep.equal(['openid', 'host'])
      expect(settings.storage).to.equal('file')
      expect(settings.sources.issuer).to.equal(`oclif.auth.issuer in ${fx.hostPjson}`)
      expect(settings.sources.clientId).to.equal(`oclif.auth.clientId in ${fx.hostPjson}`)
      expect(settings.sources.scopes).to.equal(`oclif.auth.scopes in ${fx.hostPjson}`)
      expect(settings.sources.storage).to.equal(`oclif.auth.storage in ${fx.hostPjson}`)
    })

    it('the user file beats the host package.json', async () => {
      const {fx, settings} = await load({auth: host, userFile: user})
      expect(settings.issuer).to.equal('https://user.example.com')
      expect(settings.clientId).to.equal('user-client')
      expect(settings.scopes).to.deep.equal(['openid', 'user'])
      expect(settings.sources.issuer).to.equal(`issuer in ${fx.userFile}`)
      expect(settings.sources.clientId).to.equal(`clientId in ${fx.userFile}`)
      expect(settings.sources.scopes).to.equal(`scopes in ${fx.userFile}`)
      expect(settings.sources.storage).to.equal(`storage in ${fx.userFile}`)
    })

    it('env beats the user file', async () => {
      process.env.ACME_AUTH_ISSUER = 'https://env.example.com'
      process.env.ACME_AUTH_CLIENT_ID = 'env-client'
      process.env.ACME_AUTH_SCOPES = 'openid env'
      process.env.ACME_AUTH_STORAGE = 'file'
      const {settings} = await load({auth: host, userFile: user})
      expect(settings.issuer).to.equal('https://env.example.com')
      expect(settings.clientId).to.equal('env-client')
      expect(settings.scopes).to.deep.equal(['openid', 'env'])
      expect(settings.storage).to.equal('file')
      expect(settings.sources.issuer).to.equal('ACME_AUTH_ISSUER')
      expect(settings.sources.clientId).to.equal('ACME_AUTH_CLIENT_ID')
      expect(settings.sources.scopes).to.equal('ACME_AUTH_SCOPES')
      expect(settings.sources.storage).to.equal('ACME_AUTH_STORAGE')
    })

    it('flags beat env', async () => {
      process.env.ACME_AUTH_ISSUER = 'https://env.example.com'
      process.env.ACME_AUTH_CLIENT_ID = 'env-client'
      process.env.ACME_AUTH_SCOPES = 'openid env'
      process.env.ACME_AUTH_STORAGE = 'file'
      const {settings} = await load(
        {auth: host, userFile: user},
        {issuer: 'https://flag.example.com', 'client-id': 'flag-client', scopes: 'openid flag', storage: 'file'},
      )
      expect(settings.issuer).to.equal('https://flag.example.com')
      expect(settings.clientId).to.equal('flag-client')
      expect(settings.scopes).to.deep.equal(['openid', 'flag'])
      expect(settings.storage).to.equal('file')
      expect(settings.sources.issuer).to.equal('--issuer')
      expect(settings.sources.clientId).to.equal('--client-id')
      expect(settings.sources.scopes).to.equal('--scopes')
      expect(settings.sources.storage).to.equal('--storage')
    })

    it('each key falls through independently to the highest layer that sets it', async () => {
      process.env.ACME_AUTH_CLIENT_ID = 'env-client'
      const {fx, settings} = await load(
        {auth: host, userFile: {scopes: ['openid', 'user']}},
        {issuer: 'https://flag.example.com'},
      )
      expect(settings.issuer).to.equal('https://flag.example.com')
      expect(settings.clientId).to.equal('env-client')
      expect(settings.scopes).to.deep.equal(['openid', 'user'])
      expect(settings.sources.storage).to.equal(`oclif.auth.storage in ${fx.hostPjson}`)
      expect(settings.refreshAhead).to.equal('background')
    })

    it('scopes from env are space separated', async () => {
      process.env.ACME_AUTH_SCOPES = 'openid  profile\toffline_access'
      const {settings} = await load()
      expect(settings.scopes).to.deep.equal(['openid', 'profile', 'offline_access'])
    })

    it('an empty env var counts as not set', async () => {
      process.env.ACME_AUTH_ISSUER = ''
      const {settings} = await load({auth: host})
      expect(settings.issuer).to.equal('https://host.example.com')
    })

    it('reads the other settings from env, user file and host', async () => {
      process.env.ACME_AUTH_REFRESH_AHEAD = 'inline'
      process.env.ACME_AUTH_LOGIN_TIMEOUT = '45'
      const {settings} = await load({
        auth: {commands: {require: ['deploy*']}, requestTimeout: 7, allowInsecureIssuer: true, refreshAhead: 'off'},
        userFile: {loginTimeout: 30},
      })
      expect(settings.refreshAhead).to.equal('inline')
      expect(settings.loginTimeoutSeconds).to.equal(45)
      expect(settings.requestTimeoutSeconds).to.equal(7)
      expect(settings.requireAuth).to.deep.equal(['deploy*'])
      expect(settings.allowInsecureIssuer).to.equal(true)
    })
  })

  // -------------------------------------------------------------------------------------------
  describe('loadSettings: bad values name the key and where it came from', () => {
    it('unknown storage from env names ACME_AUTH_STORAGE', async () => {
      process.env.ACME_AUTH_STORAGE = 'vault'
      const error = await authErrorFrom(() => load())
      expectConfigInvalid(error, 'ACME_AUTH_STORAGE', 'vault')
    })

    it('not-a-URL issuer from a flag names --issuer', async () => {
      const error = await authErrorFrom(() => load({}, {issuer: 'not a url'}))
      expectConfigInvalid(error, '--issuer', 'not a url')
    })

    it('not-a-URL issuer in the host package.json names oclif.auth.issuer in <root>/package.json', async () => {
      const fx = await fixture({auth: {issuer: 'id.example.com'}})
      const error = await authErrorFrom(() => loadSettings(fx.config))
      expectConfigInvalid(error, `oclif.auth.issuer in ${fx.hostPjson}`)
    })

    it('not-a-URL issuer in the user file names issuer in <configDir>/auth.json', async () => {
      const fx = await fixture({userFile: {issuer: 'ftp//nope'}})
      const error = await authErrorFrom(() => loadSettings(fx.config))
      expectConfigInvalid(error, `issuer in ${fx.userFile}`)
    })

    it('a non-http(s) issuer is refused', async () => {
      const error = await authErrorFrom(() => load({}, {issuer: 'ftp://id.example.com'}))
      expectConfigInvalid(error, '--issuer')
    })

    it('an issuer with a query or fragment is refused', async () => {
      expectConfigInvalid(await authErrorFrom(() => load({}, {issuer: 'https://id.example.com/?x=1'})), '--issuer')
      expectConfigInvalid(await authErrorFrom(() => load({}, {issuer: 'https://id.example.com/#x'})), '--issuer')
    })

    it('unknown storage in the host block names it', async () => {
      const fx = await fixture({auth: {storage: 'vault'}})
      const error = await authErrorFrom(() => loadSettings(fx.config))
      expectConfigInvalid(error, `oclif.auth.storage in ${fx.hostPjson}`, 'vault')
    })

    it('unknown storage from a flag names --storage', async () => {
      const error = await authErrorFrom(() => load({}, {storage: 'vault'}))
      expectConfigInvalid(error, '--storage')
    })

    it('a bad value is reported even when a higher layer overrides it', async () => {
      const fx = await fixture({userFile: {storage: 'vault'}})
      const error = await authErrorFrom(() => loadSettings(fx.config, {storage: 'file'}))
      expectConfigInvalid(error, `storage in ${fx.userFile}`)
    })

    it('an empty scope list is refused', async () => {
      const fx = await fixture({auth: {scopes: []}})
      expectConfigInvalid(await authErrorFrom(() => loadSettings(fx.config)), `oclif.auth.scopes in ${fx.hostPjson}`)
    })

    it('a scope with a forbidden character is refused', async () => {
      const fx = await fixture({auth: {scopes: ['openid', 'bad"scope']}})
      expectConfigInvalid(await authErrorFrom(() => loadSettings(fx.config)), `oclif.auth.scopes in ${fx.hostPjson}`)
    })

    it('a clientId of the wrong type is refused', async () => {
      const fx = await fixture({userFile: {clientId: 42}})
      expectConfigInvalid(await authErrorFrom(() => loadSettings(fx.config)), `clientId in ${fx.userFile}`)
    })

    it('a bad login timeout from env names ACME_AUTH_LOGIN_TIMEOUT', async () => {
      process.env.ACME_AUTH_LOGIN_TIMEOUT = 'soon'
      expectConfigInvalid(await authErrorFrom(() => load()), 'ACME_AUTH_LOGIN_TIMEOUT')
    })

    it('the lock wait is an ordinary setting: ACME_AUTH_LOCK_WAIT over lockWait in auth.json; a bad one names the variable', async () => {
      const fromFile = await load({userFile: {lockWait: 12}})
      expect(fromFile.settings.lockWaitSeconds).to.equal(12)
      process.env.ACME_AUTH_LOCK_WAIT = '2.5'
      const fromEnv = await load({userFile: {lockWait: 12}})
      expect(fromEnv.settings.lockWaitSeconds).to.equal(2.5)
      expect(fromEnv.settings.sources.lockWaitSeconds).to.equal('ACME_AUTH_LOCK_WAIT')
      process.env.ACME_AUTH_LOCK_WAIT = 'soon'
      expectConfigInvalid(await authErrorFrom(() => load()), 'ACME_AUTH_LOCK_WAIT')
    })

    it('a bad refreshAhead mode in the host package.json names it', async () => {
      const fx = await fixture({auth: {refreshAhead: 'sometimes'}})
      expectConfigInvalid(await authErrorFrom(() => loadSettings(fx.config)), `oclif.auth.refreshAhead in ${fx.hostPjson}`)
    })

    for (const hostOnly of [{refreshAhead: 'off'}, {commands: {require: ['*']}}, {allowInsecureIssuer: true}]) {
      it(`${Object.keys(hostOnly)[0]} is the host's to set: in the user file it is an unknown setting`, async () => {
        const fx = await fixture({userFile: hostOnly})
        expectConfigInvalid(await authErrorFrom(() => loadSettings(fx.config)), Object.keys(hostOnly)[0], fx.userFile)
      })
    }

    for (const [where, options] of [['user file', {userFile: {account: 'bob'}}], ['host block', {auth: {issuer: 'https://id.example.com', account: 'bob'}}]] as const) {
      it(`account is chosen per shell (ACME_AUTH_ACCOUNT) or with auth switch: in the ${where} it is an unknown setting`, async () => {
        const fx = await fixture(options)
        expectConfigInvalid(await authErrorFrom(() => loadSettings(fx.config)), 'account', where === 'user file' ? fx.userFile : fx.hostPjson)
      })
    }

    it('an unknown key in the user file is an error (clientID typo)', async () => {
      const fx = await fixture({userFile: {clientID: 'mycli'}})
      expectConfigInvalid(await authErrorFrom(() => loadSettings(fx.config)), 'clientID', fx.userFile)
    })

    it('an unknown key in the host block is an error (clientID typo)', async () => {
      const fx = await fixture({auth: {issuer: 'https://id.example.com', clientID: 'mycli'}})
      expectConfigInvalid(await authErrorFrom(() => loadSettings(fx.config)), 'clientID', fx.hostPjson)
    })

    it('an unknown key inside commands (commands.requires typo) is an error', async () => {
      const fx = await fixture({auth: {commands: {requires: ['deploy*']}}})
      expectConfigInvalid(await authErrorFrom(() => loadSettings(fx.config)), 'requires', fx.hostPjson)
    })

    it('commands that is not an object is an error, not silently ignored', async () => {
      const fx = await fixture({auth: {commands: 'deploy*'}})
      expectConfigInvalid(await authErrorFrom(() => loadSettings(fx.config)), 'commands', fx.hostPjson)
    })

    it('a host block that is not an object is an error', async () => {
      const fx = await fixture({auth: 'https://id.example.com'})
      expectConfigInvalid(await authErrorFrom(() => loadSettings(fx.config)), fx.hostPjson)
    })

    it('a user file that is not JSON is CONFIG_INVALID naming the file', async () => {
      const fx = await fixture({userFile: '{"issuer": "https://id.example.com",'})
      expectConfigInvalid(await authErrorFrom(() => loadSettings(fx.config)), fx.userFile)
    })

    it('a user file holding a JSON list is CONFIG_INVALID naming the file', async () => {
      const fx = await fixture({userFile: '["issuer"]'})
      expectConfigInvalid(await authErrorFrom(() => loadSettings(fx.config)), fx.userFile)
    })

    it('a missing user file is fine', async () => {
      const {settings} = await load({auth: {issuer: 'https://id.example.com'}})
      expect(settings.issuer).to.equal('https://id.example.com')
    })
  })

  // -------------------------------------------------------------------------------------------
  describe('issuer transport and shape', () => {
    for (const issuer of ['http://127.0.0.1:8080', 'http://localhost:3000', 'http://[::1]:9000', 'http://127.0.0.2:1234']) {
      it(`allows plain http on loopback: ${issuer}`, async () => {
        const {settings} = await load({}, {issuer})
        expect(settings.issuer).to.equal(issuer)
      })
    }

    it('refuses http://id.example.com, naming the source', async () => {
      const fx = await fixture({auth: {issuer: 'http://id.example.com'}})
      const error = await authErrorFrom(() => loadSettings(fx.config))
      expectConfigInvalid(error, `oclif.auth.issuer in ${fx.hostPjson}`, 'https')
    })

    it('refuses http from a flag, naming --issuer', async () => {
      expectConfigInvalid(await authErrorFrom(() => load({}, {issuer: 'http://id.example.com'})), '--issuer')
    })

    it('allows http://id.example.com with allowInsecureIssuer', async () => {
      const {settings} = await load({auth: {issuer: 'http://id.example.com', allowInsecureIssuer: true}})
      expect(settings.issuer).to.equal('http://id.example.com')
    })

    it('a DNS name that merely starts with "127." is not loopback (http refused)', async () => {
      // 127.attacker.example resolves wherever its owner wants; only 127.0.0.0/8 literals are loopback.
      expect(isLoopbackHost('127.attacker.example')).to.equal(false)
      expect(isLoopbackHost('127.0.0.1.nip.io')).to.equal(false)
      expectConfigInvalid(await authErrorFrom(() => load({}, {issuer: 'http://127.attacker.example'})), '--issuer')
    })

    it('keeps the issuer path and drops a trailing slash', async () => {
      const {settings} = await load({}, {issuer: 'https://id.example.com/realms/acme/'})
      expect(settings.issuer).to.equal('https://id.example.com/realms/acme')
      const plain = await load({}, {issuer: 'https://id.example.com/realms/acme'})
      expect(plain.settings.issuer).to.equal('https://id.example.com/realms/acme')
      const bare = await load({}, {issuer: 'https://id.example.com/'})
      expect(bare.settings.issuer).to.equal('https://id.example.com')
    })
  })

  // -------------------------------------------------------------------------------------------
  describe('resolveSettings / layerFromFileBlock', () => {
    it('first layer wins, sources record the winner', () => {
      const settings = resolveSettings([
        layer('flag', {storage: 'file'}),
        layer('env', {issuer: 'https://env.example.com', storage: 'file'}),
        layer('user-file', {issuer: 'https://user.example.com', clientId: 'u'}),
        layer('host', {issuer: 'https://host.example.com', clientId: 'h', scopes: ['a']}),
      ])
      expect(settings.issuer).to.equal('https://env.example.com')
      expect(settings.clientId).to.equal('u')
      expect(settings.scopes).to.deep.equal(['a'])
      expect(settings.sources).to.include({issuer: 'env:issuer', clientId: 'user-file:clientId', scopes: 'host:scopes', storage: 'flag:storage'})
    })

    it('undefined values mean "not set here"', () => {
      const settings = resolveSettings([layer('flag', {issuer: undefined}), layer('host', {issuer: 'https://h.example.com'})])
      expect(settings.issuer).to.equal('https://h.example.com')
    })

    it('a bad value names the layer description', async () => {
      const error = await authErrorFrom(() => resolveSettings([layer('env', {storage: 'keychain-ish'}, 'MY_SOURCE')]))
      expectConfigInvalid(error, 'MY_SOURCE:storage')
    })

    it('layerFromFileBlock reads nested commands.require and describes keys by file key', () => {
      const built = layerFromFileBlock('host', {commands: {require: ['deploy*']}, loginTimeout: 10}, (k) => `X.${k}`, 'X')
      expect(built.values.requireAuth).to.deep.equal(['deploy*'])
      expect(built.values.loginTimeoutSeconds).to.equal(10)
      expect(built.describe('loginTimeoutSeconds')).to.equal('X.loginTimeout')
      expect(built.describe('requireAuth')).to.equal('X.commands.require')
    })

    it('layerFromFileBlock: undefined or null block is empty', () => {
      expect(layerFromFileBlock('user-file', undefined, (k) => k, 'B').values).to.deep.equal({})
      expect(layerFromFileBlock('user-file', null, (k) => k, 'B').values).to.deep.equal({})
    })

    it('layerFromFileBlock: unknown key names the key and the block', async () => {
      const error = await authErrorFrom(() => layerFromFileBlock('user-file', {clientID: 'x'}, (k) => k, 'settings file /p/auth.json'))
      expectConfigInvalid(error, "'clientID'", 'settings file /p/auth.json')
    })

    it('layerFromFileBlock: a list is not a settings block', async () => {
      expectConfigInvalid(await authErrorFrom(() => layerFromFileBlock('host', [], (k) => k, 'BLOCK')), 'BLOCK')
    })

    it('a bad commands.require names the source', async () => {
      const error = await authErrorFrom(() =>
        resolveSettings([layerFromFileBlock('host', {commands: {require: 'deploy*'}}, (k) => `oclif.auth.${k} in /h/package.json`, 'B')]),
      )
      expectConfigInvalid(error, 'oclif.auth.commands.require in /h/package.json')
    })
  })

  // -------------------------------------------------------------------------------------------
  describe('parsers', () => {
    it('parseIssuer keeps the path, drops trailing slashes, refuses junk', () => {
      expect(parseIssuer('https://id.example.com/realms/acme/')).to.equal('https://id.example.com/realms/acme')
      expect(parseIssuer('  https://id.example.com  ')).to.equal('https://id.example.com')
      expect(() => parseIssuer('nope')).to.throw(ParseProblem)
      expect(() => parseIssuer('')).to.throw(ParseProblem)
      expect(() => parseIssuer(5)).to.throw(ParseProblem)
      // The discovery URL pasted for the issuer: refused, naming the issuer to use instead.
      expect(() => parseIssuer('https://id.example.com/realms/acme/.well-known/openid-configuration')).to.throw(
        ParseProblem,
        /the issuer is the part before \/\.well-known\/: https:\/\/id\.example\.com\/realms\/acme$/,
      )
    })

    it('parseSeconds says what it accepts in words that fit the bound', () => {
      expect(parseSeconds('30')).to.equal(30)
      expect(() => parseSeconds('0')).to.throw(ParseProblem, /above 0 and at most 86400, got '0'/)
    })

    it('parseScopes accepts lists and space-separated strings, removes duplicates', () => {
      expect(parseScopes('openid email openid')).to.deep.equal(['openid', 'email'])
      expect(parseScopes(['openid', 'email'])).to.deep.equal(['openid', 'email'])
      expect(() => parseScopes('   ')).to.throw(ParseProblem)
      expect(() => parseScopes([1])).to.throw(ParseProblem)
      expect(() => parseScopes({})).to.throw(ParseProblem)
    })

    it('parseStorage accepts file, refuses others', () => {
      expect(parseStorage('file')).to.equal('file')
      expect(() => parseStorage('vault')).to.throw(ParseProblem)
    })

    it('parseSeconds accepts 0 < n <= 86400 as number or string', () => {
      expect(parseSeconds('30')).to.equal(30)
      expect(parseSeconds(86_400)).to.equal(86_400)
      for (const bad of [0, -1, 86_401, 'abc', '', Number.NaN, Number.POSITIVE_INFINITY, null]) {
        expect(() => parseSeconds(bad), String(bad)).to.throw(ParseProblem)
      }
    })

    it('parseBoolean', () => {
      expect(parseBoolean(true)).to.equal(true)
      expect(parseBoolean('1')).to.equal(true)
      expect(parseBoolean('false')).to.equal(false)
      expect(() => parseBoolean('yes')).to.throw(ParseProblem)
    })
  })
  describe('loadHookSettings: what the hooks read, through the same table', () => {
    it('the hooks read commands.require through the same table: bad patterns are CONFIG_INVALID naming the source', async () => {
      for (const require of ['deploy*', [1], [' ']]) {
        const fx = await fixture({auth: {commands: {require}}})
        expectConfigInvalid(await authErrorFrom(() => loadHookSettings(fx.config, ['requireAuth'])), 'oclif.auth.commands.require in')
      }
      const fx = await fixture({auth: {commands: {require: ['deploy*']}}})
      expect(loadHookSettings(fx.config, ['requireAuth']).requireAuth).to.deep.equal(['deploy*'])
      expect(loadHookSettings((await fixture()).config, ['requireAuth']).requireAuth).to.deep.equal([])
    })

    it('the hooks see refreshAhead, its window and the account from the environment first, then the host', async () => {
      const fx = await fixture({auth: {refreshAhead: 'inline', refreshAheadWindow: 120, typoKeyTheHooksIgnore: true}})
      expect(loadHookSettings(fx.config, ['refreshAhead', 'refreshAheadWindowSeconds', 'account'])).to.deep.include({refreshAhead: 'inline', refreshAheadWindowSeconds: 120})
      process.env.ACME_AUTH_REFRESH_AHEAD = 'off'
      process.env.ACME_AUTH_ACCOUNT = ' bob '
      expect(loadHookSettings(fx.config, ['refreshAhead', 'account'])).to.deep.include({refreshAhead: 'off', account: 'bob'})
      process.env.ACME_AUTH_REFRESH_AHEAD_WINDOW = '-5'
      expectConfigInvalid(await authErrorFrom(() => loadHookSettings(fx.config, ['refreshAheadWindowSeconds'])), 'ACME_AUTH_REFRESH_AHEAD_WINDOW')
    })
  })
})

// ---------------------------------------------------------------------------------------------
describe('session/requirement', () => {
  describe('matchesCommand', () => {
    it("'deploy*' matches deploy and deploy:app", () => {
      expect(matchesCommand('deploy*', 'deploy')).to.equal(true)
      expect(matchesCommand('deploy*', 'deploy:app')).to.equal(true)
      expect(matchesCommand('deploy*', 'deploy:app:now')).to.equal(true)
      expect(matchesCommand('deploy*', 'predeploy')).to.equal(false)
      expect(matchesCommand('deploy*', 'auth:login')).to.equal(false)
    })

    it('an exact pattern matches only that id', () => {
      expect(matchesCommand('deploy', 'deploy')).to.equal(true)
      expect(matchesCommand('deploy', 'deploy:app')).to.equal(false)
    })

    it('topic patterns may be written with spaces', () => {
      expect(matchesCommand('deploy app', 'deploy:app')).to.equal(true)
      expect(matchesCommand('  deploy   app  ', 'deploy:app')).to.equal(true)
      expect(matchesCommand('deploy *', 'deploy:app')).to.equal(true)
      expect(matchesCommand('deploy *', 'deploy')).to.equal(false)
      expect(matchesCommand('deploy:*', 'deploy:app')).to.equal(true)
    })

    it('regex characters in a pattern are literal', () => {
      expect(matchesCommand('a.b', 'a.b')).to.equal(true)
      expect(matchesCommand('a.b', 'axb')).to.equal(false)
      expect(matchesCommand('a+', 'aa')).to.equal(false)
    })

    it("'*' matches everything", () => {
      expect(matchesCommand('*', 'anything:at:all')).to.equal(true)
    })
  })

  describe('authRequirement', () => {
    const patterns = (list: string[]) => () => list
    const never = () => {
      throw new Error('the host patterns were read although the command declares its requirement')
    }

    it("a host's commands.require: ['*'] never locks the auth commands out", async () => {
      for (const name of ['login', 'logout', 'status', 'token', 'refresh', 'switch']) {
        const {default: command} = await import(`../../src/commands/auth/${name}.js`)
        expect(authRequirement({...command, id: `auth:${name}`, auth: command.auth}, patterns(['*'])), name).to.equal('none')
      }
      expect(authRequirement({id: 'deploy'}, patterns(['*']))).to.equal('required')
    })

    it('static auth values win, and the host patterns are then not read', () => {
      expect(authRequirement({id: 'x', auth: 'required'}, never)).to.equal('required')
      expect(authRequirement({id: 'x', auth: 'optional'}, never)).to.equal('optional')
      expect(authRequirement({id: 'deploy', auth: 'none'}, never)).to.equal('none')
    })

    it('an invalid static value is CONFIG_INVALID naming the command', async () => {
      const error = await authErrorFrom(() => authRequirement({id: 'deploy:app', auth: 'yes'}, never))
      expectConfigInvalid(error, 'deploy:app')
      const error2 = await authErrorFrom(() => authRequirement({id: 'deploy', auth: true}, never))
      expectConfigInvalid(error2, 'deploy')
    })

    it('host patterns make matching commands required', () => {
      const host = patterns(['deploy*', 'db migrate'])
      expect(authRequirement({id: 'deploy'}, host)).to.equal('required')
      expect(authRequirement({id: 'deploy:app'}, host)).to.equal('required')
      expect(authRequirement({id: 'db:migrate'}, host)).to.equal('required')
      expect(authRequirement({id: 'db:seed'}, host)).to.equal('none')
    })

    it('no patterns or no id → none', () => {
      expect(authRequirement({id: 'deploy'}, patterns([]))).to.equal('none')
      expect(authRequirement({}, patterns(['*']))).to.equal('none')
    })

  })
})

// ---------------------------------------------------------------------------------------------
describe('session/freshness', () => {
  const now = Date.parse('2030-01-01T00:00:00.000Z')
  const at = (offsetMs: number) => new Date(now + offsetMs).toISOString()

  it('the default skew is 60 s', () => {
    expect(DEFAULT_SKEW_SECONDS).to.equal(60)
  })

  it('isFresh: boundaries of the 60 s skew window', () => {
    expect(isFresh(at(3_600_000), now)).to.equal(true)
    expect(isFresh(at(60_001), now)).to.equal(true)
    expect(isFresh(at(60_000), now)).to.equal(false)
    expect(isFresh(at(59_999), now)).to.equal(false)
    expect(isFresh(at(1), now)).to.equal(false)
    expect(isFresh(at(0), now)).to.equal(false)
    expect(isFresh(at(-1_000), now)).to.equal(false)
  })

  it('isFresh: custom skew', () => {
    expect(isFresh(at(10_001), now, 10)).to.equal(true)
    expect(isFresh(at(10_000), now, 10)).to.equal(false)
    expect(isFresh(at(1), now, 0)).to.equal(true)
    expect(isFresh(at(0), now, 0)).to.equal(false)
  })

  it('isFresh: no expiry means fresh (only a 401 can tell)', () => {
    expect(isFresh(null, now)).to.equal(true)
    expect(isFresh(undefined, now)).to.equal(true)
  })

  it('isExpired: at or after expiry', () => {
    expect(isExpired(at(1), now)).to.equal(false)
    expect(isExpired(at(59_000), now)).to.equal(false)
    expect(isExpired(at(0), now)).to.equal(true)
    expect(isExpired(at(-1), now)).to.equal(true)
  })

  it('isExpired: no expiry is never expired', () => {
    expect(isExpired(null, now)).to.equal(false)
    expect(isExpired(undefined, now)).to.equal(false)
  })

  it('a token inside the skew window is not fresh but not expired either', () => {
    expect(isFresh(at(30_000), now)).to.equal(false)
    expect(isExpired(at(30_000), now)).to.equal(false)
  })
})
