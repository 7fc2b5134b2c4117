// A GitHub-style OAuth app, as two suites need it: no metadata, no ID token, a profile endpoint of
// its own (/user: id, login, email), and tokens with neither a lifetime nor a refresh token (a GitHub
// OAuth app's token lives until it is revoked). oidc-provider makes the answers; the fixture only
// takes those two fields out. The host is a copy of acme that names the endpoints and claims.
import {startIssuer} from '../fixtures/issuer.js'
import {makeHostVariant, type HostVariant} from './acme.js'
import type {Issuer} from './signed-in.js'

export async function startGitHubStyle(): Promise<{issuer: Issuer; host: HostVariant}> {
  const issuer = await startIssuer({
    metadata: {openid: false, oauth: false},
    profileEndpoint: true,
    tokenAnswer: ({expires_in: _lifetime, refresh_token: _refresh, ...answer}: Record<string, unknown>) => answer,
  })
  const at = (path: string) => `${issuer.issuer}${path}`
  const host = await makeHostVariant((auth) => ({
    ...auth,
    // Endpoints belong to the issuer set beside them (docs/security.md, Binding).
    issuer: issuer.issuer,
    scopes: ['profile', 'email'],
    endpoints: {authorization: at('/auth'), token: at('/token'), userinfo: at('/user')},
    claims: {subject: 'id', name: 'login', email: 'email'},
  }))
  return {issuer, host}
}
