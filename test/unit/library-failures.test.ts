// Issue 20: no library error code is ever the only explanation a user gets. Every code openid-client
// and oauth4webapi report (their exported constants) becomes words; the shapes are those the library
// attaches (a ClientError whose cause is the processing error, whose cause holds the details).

import {expect} from 'chai'
import * as oidc from 'openid-client'

import {toAuthError} from '../../src/provider/errors.js'

const ISSUER = 'https://id.example.com/o/typo'
const CONTEXT = {issuer: ISSUER, clientId: 'acme-cli', operation: 'code-exchange' as const}

/** What openid-client throws for a code: ClientError → processing error (message) → details. */
function coded(code: string, details: Record<string, unknown> = {}, message = 'library words') {
  return new oidc.ClientError('library summary', {code, cause: Object.assign(new Error(message), {cause: details})} as ErrorOptions)
}

const CODES = [
  'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
  'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  'OAUTH_KEY_SELECTION_FAILED',
  'OAUTH_UNSUPPORTED_OPERATION',
  'OAUTH_DECRYPTION_FAILED',
  'OAUTH_HTTP_REQUEST_FORBIDDEN',
  'OAUTH_REQUEST_PROTOCOL_FORBIDDEN',
  'OAUTH_MISSING_SERVER_METADATA',
  'OAUTH_INVALID_SERVER_METADATA',
  'OAUTH_RESPONSE_IS_NOT_JSON',
  'OAUTH_PARSE_ERROR',
  'OAUTH_INVALID_RESPONSE',
  'OAUTH_RESPONSE_IS_NOT_CONFORM',
  'OAUTH_JWT_USERINFO_EXPECTED',
  'OAUTH_ABORT',
  'OAUTH_SOMETHING_NEW',
]

describe('library failures: every openid-client code said in words (issue 20)', () => {
  it('no message is a library code alone: each says what happened, the code only in brackets after it', () => {
    for (const code of CODES) {
      const error = toAuthError(coded(code), CONTEXT)
      const words = error.message.replace(` (${code})`, '')
      expect(words, code).not.to.include('OAUTH_')
      expect(words.length, `${code}: ${error.message}`).to.be.greaterThan(50)
      expect(error.message, code).to.include(code)
    }
  })

  it('an ID token naming another issuer: CONFIG_INVALID (exit 2) naming both issuers', () => {
    const error = toAuthError(coded('OAUTH_JWT_CLAIM_COMPARISON_FAILED', {claim: 'iss', expected: ISSUER, claims: {iss: 'https://id.example.com/o'}}), CONTEXT)
    expect(error).to.include({code: 'CONFIG_INVALID', exitCode: 2})
    expect(error.message).to.include(`names the issuer https://id.example.com/o, but the issuer setting is ${ISSUER}`)
    expect(error.suggestion).to.include('Set the issuer to https://id.example.com/o')
  })

  it('an ID token for another client, and one whose nonce differs, say so', () => {
    expect(toAuthError(coded('OAUTH_JWT_CLAIM_COMPARISON_FAILED', {claim: 'aud', claims: {aud: 'other-app'}}), CONTEXT).message).to.include("made for another client (its aud is 'other-app', this CLI is client 'acme-cli')")
    expect(toAuthError(coded('OAUTH_JWT_CLAIM_COMPARISON_FAILED', {claim: 'nonce', claims: {nonce: 'x'}}), CONTEXT).message).to.include('does not belong to this sign-in')
  })

  it("an expired ID token points at this machine's clock; a missing device endpoint at the browser sign-in", () => {
    expect(toAuthError(coded('OAUTH_JWT_TIMESTAMP_CHECK_FAILED', {claim: 'exp'}), CONTEXT).suggestion).to.include("this machine's date")
    const device = toAuthError(coded('OAUTH_MISSING_SERVER_METADATA', {attribute: 'device_authorization_endpoint'}), {...CONTEXT, operation: 'device-authorization'})
    expect(device).to.include({code: 'CONFIG_INVALID'})
    expect(device.message).to.include('names no device authorization endpoint')
    expect(device.suggestion).to.include('without --device')
  })

  it('consent_required is the user declining; a refresh refused with invalid_request is "sign in again" (exit 4)', () => {
    const consent = toAuthError(new oidc.AuthorizationResponseError('x', {cause: new URLSearchParams({error: 'consent_required'})}), CONTEXT)
    expect(consent).to.include({code: 'ACCESS_DENIED'})
    expect(consent.message).to.include('declined')
    const refresh = toAuthError(new oidc.ResponseBodyError('x', {cause: {error: 'invalid_request'}, response: new Response(null, {status: 400})}), {...CONTEXT, operation: 'refresh'})
    expect(refresh).to.include({code: 'REAUTH_REQUIRED', exitCode: 4})
  })
})
