// What every token-lifecycle suite sets up: one issuer, one real login its tests can copy, and per
// test homes that are settled (no background refresh still running) and removed afterwards.
import {startIssuer} from '../fixtures/issuer.js'
import {issuerEnv, makeTempHome, runAcmeExpecting, type TempHome} from './acme.js'
import {copyOfHome, signInOnce} from './signed-in.js'
import {refreshAheadSettled} from './wait.js'

export type Issuer = Awaited<ReturnType<typeof startIssuer>>

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

/** Register the hooks in the calling describe() and return what its tests use. */
export function lifecycleSuite(): LifecycleSuite {
  /** One real login at the issuer, copied by the tests in which the issuer rotates and revokes nothing. */
  let signedIn: TempHome
  /** The homes of the running test, settled and removed after it. */
  let homes: TempHome[] = []

  const suite: LifecycleSuite = {
    issuer: undefined as unknown as Issuer,
    env: {},
    async signInHere(at: Issuer = suite.issuer) {
      const home = await makeTempHome()
      homes.push(home)
      await runAcmeExpecting(0, ['auth', 'login'], {home, env: issuerEnv(at)})
      at.resetCounts()
      return home
    },
    async sharedSignIn() {
      const home = await copyOfHome(signedIn)
      homes.push(home)
      return home
    },
  }

  before(async () => {
    suite.issuer = await startIssuer()
    suite.env = issuerEnv(suite.issuer)
    signedIn = await signInOnce(suite.env)
  })
  after(async () => {
    await suite.issuer?.close()
    await signedIn?.cleanup()
  })
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
    for (const home of homes) await home.cleanup()
  })
  return suite
}
