// The dpop setting (issue 24) through the settings machinery: off by default, on/auto from the
// environment, the user's auth.json or the host's package.json, and a bad value named where it came from.

import {expect} from 'chai'
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {Interfaces} from '@oclif/core'

import {loadSettings} from '../../src/settings/load.js'
import {authErrorFrom} from '../helpers/errors.js'

describe('settings: dpop', () => {
  const dirs: string[] = []
  afterEach(async () => {
    delete process.env.ACME_AUTH_DPOP
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, {recursive: true, force: true})))
  })

  async function configWith(options: {host?: unknown; user?: unknown} = {}): Promise<{config: Interfaces.Config; userFile: string; hostPjson: string}> {
    const base = await mkdtemp(join(tmpdir(), 'plugin-auth-dpop-'))
    dirs.push(base)
    const configDir = join(base, 'config')
    const root = join(base, 'host')
    await mkdir(configDir, {recursive: true})
    await mkdir(root, {recursive: true})
    const userFile = join(configDir, 'auth.json')
    if (options.user !== undefined) await writeFile(userFile, JSON.stringify(options.user))
    const oclif: Record<string, unknown> = {bin: 'acme', ...(options.host === undefined ? {} : {auth: options.host})}
    const config = {
      configDir,
      root,
      pjson: {name: 'acme', version: '1.0.0', oclif},
      scopedEnvVarKeys: (key: string) => [`ACME_${key}`],
      scopedEnvVarKey: (key: string) => `ACME_${key}`,
    } as unknown as Interfaces.Config
    return {config, userFile, hostPjson: join(root, 'package.json')}
  }

  it('is off unless set', async () => {
    const settings = await loadSettings((await configWith()).config)
    expect(settings.dpop).to.equal('off')
    expect(settings.sources.dpop).to.equal('default')
  })

  it('comes from ACME_AUTH_DPOP before the user file, and the user file before the host', async () => {
    const {config, userFile} = await configWith({host: {dpop: 'on'}, user: {dpop: 'auto'}})
    expect((await loadSettings(config)).dpop).to.equal('auto')
    expect((await loadSettings(config)).sources.dpop).to.include(userFile)
    process.env.ACME_AUTH_DPOP = 'off'
    const settings = await loadSettings(config)
    expect(settings.dpop).to.equal('off')
    expect(settings.sources.dpop).to.equal('ACME_AUTH_DPOP')
  })

  it('the host sets it with oclif.auth.dpop', async () => {
    const {config} = await configWith({host: {dpop: 'on'}})
    expect((await loadSettings(config)).dpop).to.equal('on')
  })

  it('a value that is not off, on or auto is one clear error naming its source', async () => {
    process.env.ACME_AUTH_DPOP = 'yes'
    const error = await authErrorFrom(async () => loadSettings((await configWith()).config))
    expect(error.code).to.equal('CONFIG_INVALID')
    expect(error.message).to.include('ACME_AUTH_DPOP').and.include("'yes'").and.include('off, on, auto')
  })
})
