import type {Interfaces} from '@oclif/core'

import {runEnvironment} from '../run-environment.js'
import {loadSettings} from '../settings/load.js'
import {transportFetch, type Fetch} from '../transport/transport-fetch.js'

/** One per process: the settings are read once, and the connections are kept between requests. */
let cached: {config?: Interfaces.Config; fetch: Promise<Fetch>} | undefined

/**
 * The fetch a host's requests go through (`authFetch`, `plainFetch`): the plugin's transport with the
 * same proxy and caFile as its own requests, failures as AuthErrors (exit 75 naming the host or the
 * proxy), answers streamed and not capped (a host's API may send files). Outside an oclif command
 * (no config) there is no caFile setting to read; the proxy variables still apply.
 */
export function hostTransport(config: Interfaces.Config | undefined): Promise<Fetch> {
  if (cached && cached.config === config) return cached.fetch
  const fetch = (async () => {
    if (!config) return transportFetch({caFileVariable: 'the caFile setting', hostErrors: true})
    const {caFile, sources} = await loadSettings(config)
    return transportFetch({
      caFile: caFile ? {path: caFile, source: sources.caFile ?? 'caFile'} : undefined,
      caFileVariable: config.scopedEnvVarKey('AUTH_CA_FILE'),
      env: runEnvironment(config).env,
      hostErrors: true,
    })
  })()
  // A failure (a bad setting) is not kept: the next call says it again, as a new command would.
  fetch.catch(() => {
    if (cached?.fetch === fetch) cached = undefined
  })
  cached = {config, fetch}
  return fetch
}
