import type {HostCommands} from '../host-commands.js'
import type {StoreNextSteps} from '../store/next-steps.js'

/** The store's next steps in the host's words: `acme auth login`, `ACME_AUTH_STORAGE`. */
export function storeNextSteps(commands: HostCommands, storageVariable: string): StoreNextSteps {
  const login = commands.auth('login')
  const logoutAll = `${commands.auth('logout')} --all`
  return {
    signInAgain: commands.signInAgain(),
    keepInFile: commands.keepInFile(storageVariable),
    unlockOrSignInAgain: `If it is locked or stopped, unlock or start it and retry; else run \`${login}\` to sign in again.`,
    retryOrSignInAgain: `Retry; if the issuer then no longer accepts the login, run \`${login}\`.`,
    damagedIndexMoved: `${commands.signInAgain()} (\`${logoutAll}\` clears what is left.)`,
    damagedIndexTooLarge: `Run \`${logoutAll}\` to move it aside and clear what is left, then \`${login}\`.`,
    helperNotConfigured: (kind) => `If that helper is yours, set ${storageVariable}='${kind}' (or storage in your auth.json); else run \`${login}\` to sign in again.`,
  }
}
