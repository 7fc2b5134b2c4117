/**
 * The most an issuer's answer may hold. Metadata, token responses and userinfo are a few KB; a
 * token response with an ID token full of group claims stays well under 100 KB. A hostile or broken
 * issuer must not make us hold, store or export megabytes.
 */
export const MAX_RESPONSE_BYTES = 1024 * 1024

/**
 * The largest token we keep. A JWT with many group claims runs to a few KB; anything near this is
 * broken or hostile, and would break every child process it is exported to (E2BIG).
 */
export const MAX_TOKEN_BYTES = 64 * 1024
