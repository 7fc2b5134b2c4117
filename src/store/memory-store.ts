import type {CredentialStore} from './credential-store.js'
import type {Secrets} from './secrets.js'

/** `storage=memory`: secrets live as long as the process (tests, one-shot scripts). */
export class MemoryCredentialStore implements CredentialStore {
  readonly kind = 'memory'
  readonly location = 'memory of this process (nothing is saved)'
  private readonly entries = new Map<string, Secrets>()

  async get(accountKey: string): Promise<Secrets | undefined> {
    const secrets = this.entries.get(accountKey)
    return secrets ? {...secrets} : undefined
  }

  async set(accountKey: string, secrets: Secrets): Promise<void> {
    this.entries.set(accountKey, {...secrets})
  }

  async delete(accountKey: string): Promise<boolean> {
    return this.entries.delete(accountKey)
  }
}
