import {AuthError} from '../errors.js'
import {rememberSecret} from '../safe-text.js'
import {isLoopback, noProxyCovers} from './no-proxy.js'

/** The proxy a request goes through, as the environment named it. */
export interface ProxyChoice {
  /** Without user name and password: what the agents, logs and messages get. */
  url: URL
  /** The variable it came from, as set: `HTTPS_PROXY`, `https_proxy`, `ALL_PROXY`, … */
  variable: string
  /** `Basic …` for a proxy URL with a user name and password (percent-decoded), else undefined. */
  authorization?: string
  /** `host:port`, how messages name it. */
  hostPort: string
  /** The URL as `auth status` and debug output show it: `http://***@proxy:3128` when it has credentials. */
  shown: string
}

/**
 * The proxy for a request to `target`, read from `env` (the command's environment) the way curl reads it:
 * `https_proxy`/`HTTPS_PROXY` for https, `http_proxy`/`HTTP_PROXY` for http, then
 * `all_proxy`/`ALL_PROXY`, the lowercase name first; none when `no_proxy`/`NO_PROXY` covers the
 * host, and never for loopback. Throws a one-line CONFIG_INVALID for a variable that is not an
 * http(s) proxy URL.
 */
export function chooseProxy(target: URL, env: NodeJS.ProcessEnv = process.env): ProxyChoice | undefined {
  if (isLoopback(target.hostname)) return undefined
  const scheme = target.protocol.replace(/:$/, '')
  const variable = [`${scheme}_proxy`, `${scheme.toUpperCase()}_PROXY`, 'all_proxy', 'ALL_PROXY'].find((name) => env[name])
  if (!variable) return undefined
  const port = Number(target.port) || (scheme === 'https' ? 443 : 80)
  if (noProxyCovers(target.hostname, port, env.no_proxy || env.NO_PROXY || '')) return undefined
  return parseProxy(variable, env[variable]!)
}

/** Parse a proxy variable's value; `proxy:3128` without a scheme is http, as curl takes it. */
export function parseProxy(variable: string, value: string): ProxyChoice {
  const text = value.trim()
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    throw malformed(variable, text, 'is not a URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw malformed(variable, text, `uses ${url.protocol.replace(/:$/, '')}://, which is not supported (only http:// and https:// proxies)`)
  if (!url.hostname || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) throw malformed(variable, text, 'is not a proxy address')
  let authorization: string | undefined
  if (url.username || url.password) {
    let user: string
    let password: string
    try {
      user = decodeURIComponent(url.username)
      password = decodeURIComponent(url.password)
    } catch {
      throw malformed(variable, text, 'has a user name or password that is not percent-encoded correctly')
    }
    rememberSecret(password)
    rememberSecret(url.password)
    authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
    rememberSecret(authorization)
  }
  const shown = authorization ? `${url.protocol}//***@${url.host}` : `${url.protocol}//${url.host}`
  const bare = new URL(`${url.protocol}//${url.host}`)
  const port = bare.port || (bare.protocol === 'https:' ? '443' : '80')
  return {url: bare, variable, authorization, hostPort: `${bare.hostname}:${port}`, shown}
}

function malformed(variable: string, value: string, problem: string): AuthError {
  // The value may hold a password: shown with anything between "//" and "@" masked.
  const shown = value.replace(/\/\/[^/@]*@/, '//***@').replace(/^[^/@]*@/, '***@')
  return new AuthError('CONFIG_INVALID', `${variable}: '${shown}' ${problem}.`, {
    suggestion: `Set ${variable} to the proxy as http://host:port (or http://user:password@host:port, percent-encoded), or unset it.`,
  })
}
