// One real sign-in shared by the tests that only read a signed-in state. `auth login` (a CLI process,
// the scripted browser, the issuer) is the most expensive step of most tests; a test that only reads
// the login it starts from gets a copy of the data folder one real login made, at the same issuer.
//
// A copy shares its grant with the original: a test that refreshes, logs out or revokes must sign in
// for itself. With rotation, a second copy sending the rotated-away refresh token would have the issuer
// revoke the grant for every later copy (the storm of DESIGN.md story 4).
import {cp} from 'node:fs/promises'

import {startIssuer} from '../fixtures/issuer.js'
import {issuerEnv, makeTempHome, runAcmeExpecting, type RunOptions, type RunResult, type TempHome} from './acme.js'

/** How a helper runs the one `auth login` it makes: spawned (acme.ts) or in-process (in-process.ts), as the suite does. */
export type RunExpecting = (code: number, args: string[], options: RunOptions) => Promise<RunResult>

export type Issuer = Awaited<ReturnType<typeof startIssuer>>

export interface IssuerWithLogin {
  issuer: Issuer
  /** The environment that points acme at the issuer. */
  env: Record<string, string | undefined>
  /** alice's login there, made once: the template the tests copy (copyOfHome). */
  signedIn: TempHome
}

/**
 * In the calling describe(): a test issuer and one real `auth login` at it (made by `run`), started
 * before its tests and ended after them. The fields are set once that `before` hook has run.
 */
export function issuerWithLogin(run: RunExpecting = runAcmeExpecting): IssuerWithLogin {
  const shared = {} as IssuerWithLogin
  before(async () => {
    shared.issuer = await startIssuer()
    shared.env = issuerEnv(shared.issuer)
    shared.signedIn = await signInOnce(shared.env, run)
  })
  after(async () => {
    await shared.issuer?.close()
    await shared.signedIn?.cleanup()
  })
  return shared
}

/** `acme auth login` once, into a home of its own: the template copies are made from. */
export async function signInOnce(env: Record<string, string | undefined>, run: RunExpecting = runAcmeExpecting): Promise<TempHome> {
  const template = await makeTempHome()
  await run(0, ['auth', 'login'], {home: template, env})
  return template
}

/**
 * A new home whose data and config folders are byte-for-byte copies of `template`'s (modes kept: the
 * store's 0600 files and 0700 folders stay so), as if this home had signed in itself.
 */
export async function copyOfHome(template: TempHome): Promise<TempHome> {
  const home = await makeTempHome()
  await copyLoginInto(template, home)
  return home
}

/** `template`'s data and config folders copied into an existing `home`, as copyOfHome does. */
export async function copyLoginInto(template: TempHome, home: TempHome): Promise<void> {
  await cp(template.dataDir, home.dataDir, {recursive: true, preserveTimestamps: true})
  await cp(template.configDir, home.configDir, {recursive: true, preserveTimestamps: true})
}
