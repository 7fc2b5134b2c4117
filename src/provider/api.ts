/**
 * Everything the session asks of the issuer, in one module the session loads on first use (see
 * `AuthContext.provider`): a command with a fresh token never loads openid-client.
 */
export {browserSignIn} from './browser-flow.js'
export {clientCredentialsGrant, type ClientCredential} from './client-credentials.js'
export {connect, type ClientOf, type ConnectOptions, type Issuer} from './connect.js'
export {deviceSignIn} from './device-flow.js'
export {dpopHandle, dpopSupport, dpopThumbprint, newDPoPKey, type DPoPHandle} from './dpop.js'
export {demandsDPoP} from './errors.js'
export {refreshAsSignIn, refreshTokens, revokeToken} from './refresh.js'
export {acceptsAccessToken, accessTokenRefused, fetchIdentity, type Identity, type SignIn} from './tokens.js'
export type {SignInUi} from './sign-in-ui.js'
