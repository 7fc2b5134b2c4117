// What every token-lifecycle suite sets up: one issuer, one real login its tests can copy, and per
// test homes that are settled (no background refresh still running) and removed afterwards.
import {issuerEnv, makeTempHome, runAcmeExpecting, type TempHome} from './acme.js'
import {copyOfHome, issuerWithLogin, type Issuer, type RunExpecting} from './signed-in.js'
import {refreshAheadSettled} from './wait.js'

export type {Issuer} from './signed-in.js'

export interface LifecycleSuite {
  /** The suite's issuer (set once its `before` hook has run). */
  issuer: Issuer
  /** The environment that points acme at it. */
  env: Record<string, string | undefined>
  /** A home with its own `auth login` (its own grant): for tests whose commands make the issuer rotate or revoke. */
  signInHere(at?: Issuer): Promise<TempHome>
  /** A copy of the shared login: for tests in which the issuer rotates and revokes nothing. */
  sharedSignIn(): Promise<TempHome>
}

/** Register the hooks in the calling describe() and return what its tests use; its logins are made by `run`. */
export function lifecycleSuite(run: RunExpecting = runAcmeExpecting): LifecycleSuite {
  /** The issuer, and one real login at it copied by the tests in which the issuer rotates and revokes nothing. */
  const shared = issuerWithLogin(run)
  /** The homes of the running test, settled and removed after it. */
  let homes: TempHome[] = []

  const suite: LifecycleSuite = {
    get issuer() {
      return shared.issuer
    },
    get env() {
      return shared.env
    },
    async signInHere(at: Issuer = suite.issuer) {
      const home = await makeTempHome()
      homes.push(home)
      await run(0, ['auth', 'login'], {home, env: issuerEnv(at)})
      at.resetCounts()
      return home
    },
    async sharedSignIn() {
      const home = await copyOfHome(shared.signedIn)
      homes.push(home)
      return home
    },
  }

  beforeEach(() => {
    homes = []
    suite.issuer.resetCounts()
  })
  afterEach(async () => {
    // A background refresh a test started ends before the issuer is back to normal service: one that
    // got through afterwards would rotate a grant that later tests share.
    for (const home of homes) await refreshAheadSettled(home)
    suite.issuer.setTokenFailure(null)
    suite.issuer.setTokenDelay(0)
    suite.issuer.releaseTokenRequests()
    suite.issuer.releaseTokenAnswers()
    for (const home of homes) await home.cleanup()
  })
  return suite
}
