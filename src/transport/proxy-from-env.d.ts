// proxy-from-env ships no types; this is the one function we use.
declare module 'proxy-from-env' {
  /** The proxy URL for a request to `url` from the environment, or '' when none applies (NO_PROXY, none set). */
  export function getProxyForUrl(url: string | URL): string
}
