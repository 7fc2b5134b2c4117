import {existsSync, readFileSync, renameSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

/**
 * acme's own init hook: before this plugin, acme kept its login in plain text in
 * `<configDir>/config.json`, with the Astro CLI's field names:
 *
 *     {"context": "prod", "contexts": {"prod": {"token": "…", "refreshtoken": "…", "domain": "…"}}}
 *
 * adoptLogin() moves that login into the plugin's store once, then this hook's clear() removes the
 * two token fields, leaving the rest of the file as it was. Runs before every command, so it returns
 * after one small file read when there is nothing to adopt, and loads the plugin only when there is.
 */
export default async function adoptEarlierLogin({config}) {
  const file = join(config.configDir, 'config.json')
  if (!existsSync(file)) return
  const found = readContext(file)
  if (!found?.entry.token && !found?.entry.refreshtoken) return
  const {adoptLogin} = await import('@tokenwise/plugin-auth')
  await adoptLogin(config, {
    location: file,
    read() {
      const entry = readContext(file)?.entry
      if (!entry?.token && !entry?.refreshtoken) return undefined
      // The Astro CLI stores the header value: "Bearer <token>".
      const accessToken = typeof entry.token === 'string' ? entry.token.replace(/^Bearer\s+/i, '') : entry.token
      return {accessToken: accessToken || undefined, refreshToken: entry.refreshtoken || undefined}
    },
    clear() {
      const current = readContext(file)
      if (!current) return
      delete current.entry.token
      delete current.entry.refreshtoken
      // Written whole and renamed over the old file: a crash leaves the old file or the new one.
      const temporary = `${file}.${process.pid}.tmp`
      writeFileSync(temporary, `${JSON.stringify(current.settings, null, 2)}\n`, {mode: statSync(file).mode & 0o777, flag: 'wx'})
      renameSync(temporary, file)
    },
  })
}

/** The file and the context it names (`context`, else `default`); undefined when it holds none. */
function readContext(file) {
  let settings
  try {
    settings = JSON.parse(readFileSync(file, 'utf8'))
  } catch {
    return undefined
  }
  const name = typeof settings?.context === 'string' ? settings.context : 'default'
  const entry = settings?.contexts?.[name]
  return entry && typeof entry === 'object' ? {settings, entry} : undefined
}
