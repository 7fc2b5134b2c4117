// The binding rule at resolution (settings/binding.ts): each secret, key, federated token, endpoint
// set and extra parameter is bound to the issuer and client id its own settings layer sees, and
// settingsFor() hands an operation only those bound to its issuer (and client). The end-to-end
// proof against an issuer that records what it is sent is test/e2e/issuer-binding.test.ts.

import {expect} from 'chai'

import {settingsFor} from '../../src/settings/binding.js'
import {resolveSettings, type SettingsLayer} from '../../src/settings/resolve.js'
import type {SettingKey} from '../../src/settings/settings.js'

const X = 'https://x.example.com'
const Y = 'https://y.example.com'

function layer(kind: SettingsLayer['kind'], values: Partial<Record<SettingKey, unknown>>): SettingsLayer {
  return {kind, values, describe: (key) => `${kind}:${key}`}
}

/** flags > env > user file > host, as loadSettings stacks them. */
function resolve(layers: Partial<Record<SettingsLayer['kind'], Partial<Record<SettingKey, unknown>>>>) {
  return resolveSettings((['flag', 'env', 'user-file', 'host'] as const).map((kind) => layer(kind, layers[kind] ?? {})))
}

describe('unit: binding secrets and endpoints to their issuer and client', () => {
  it('a secret is bound to the issuer and client its layer sees: its own, else those of the layers below', () => {
    const settings = resolve({env: {clientSecret: 's'}, host: {issuer: Y, clientId: 'cli'}})
    expect(settings.bindings?.clientSecret).to.deep.equal({issuer: Y, clientId: 'cli', layer: 'env'})
    expect(settingsFor(settings, {issuer: Y, clientId: 'cli'}).usable).to.include({clientSecret: 's'})
  })

  it('--issuer over an environment that configured Y: the secret is not usable at X, and says where it came from', () => {
    const settings = resolve({flag: {issuer: X}, env: {issuer: Y, clientSecret: 's'}, host: {clientId: 'cli'}})
    const {usable, misbound} = settingsFor(settings, {issuer: settings.issuer!, clientId: settings.clientId!})
    expect(usable).to.not.have.property('clientSecret')
    expect(misbound).to.deep.equal([{key: 'clientSecret', source: 'env:clientSecret', binding: {issuer: Y, clientId: 'cli', layer: 'env'}}])
  })

  it('the same issuer set again higher up (same value) keeps the binding', () => {
    const settings = resolve({flag: {issuer: Y}, host: {issuer: Y, clientId: 'cli', clientSecret: 's'}})
    expect(settingsFor(settings, {issuer: Y, clientId: 'cli'}).usable).to.include({clientSecret: 's'})
  })

  it('another client at the same issuer: the secret is not its; endpoints and extra parameters, which describe the issuer, are', () => {
    const endpoints = {authorization: `${Y}/authorize`, token: `${Y}/token`}
    const settings = resolve({host: {issuer: Y, clientId: 'cli', clientSecret: 's', endpoints, audience: 'api'}})
    const {usable, misbound} = settingsFor(settings, {issuer: Y, clientId: 'other'})
    expect(usable).to.deep.equal({endpoints, audience: 'api', authorizationParams: {}})
    expect(misbound.map((entry) => entry.key)).to.deep.equal(['clientSecret'])
  })

  it("ACME_AUTH_ISSUER=X over the host's Y: none of the host's endpoints, keys, federated tokens or parameters apply at X", () => {
    const settings = resolve({
      env: {issuer: X},
      host: {issuer: Y, clientId: 'cli', endpoints: {authorization: `${Y}/authorize`, token: `${Y}/token`}, clientAssertionKey: '/k.pem', federatedTokenFile: '/t.jwt', resource: ['https://api.y'], audience: 'api', authorizationParams: {a: 'b'}},
    })
    const {usable, misbound} = settingsFor(settings, {issuer: X, clientId: 'cli'})
    expect(usable).to.deep.equal({})
    expect(misbound.map((entry) => entry.key).sort()).to.deep.equal(['audience', 'authorizationParams', 'clientAssertionKey', 'endpoints', 'federatedTokenFile', 'resource'])
    expect(misbound.every((entry) => entry.binding.layer === 'host' && entry.binding.issuer === Y)).to.equal(true)
  })

  it('a secret with no issuer anywhere below it is bound to none', () => {
    const settings = resolve({flag: {issuer: X, clientId: 'cli'}, env: {federatedTokenFile: '/t.jwt'}})
    expect(settings.bindings?.federatedTokenFile).to.deep.equal({issuer: undefined, clientId: undefined, layer: 'env'})
    expect(settingsFor(settings, {issuer: X, clientId: 'cli'}).misbound.map((entry) => entry.key)).to.deep.equal(['federatedTokenFile'])
  })

  it('a flag is bound to whatever the sign-in is for (--client-assertion-key with --issuer)', () => {
    const settings = resolve({flag: {issuer: X, clientAssertionKey: '/k.pem'}, host: {issuer: Y, clientId: 'cli'}})
    expect(settingsFor(settings, {issuer: X, clientId: 'cli'}).usable).to.include({clientAssertionKey: '/k.pem'})
  })
})
