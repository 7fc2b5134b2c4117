// TEMPORARY STUB so the tree compiles while the keyring backend is being written: replace this whole file.
import type {CredentialStore, Secrets} from './credential-store.js'
export class KeyringCredentialStore implements CredentialStore {
  readonly kind = 'keyring'
  readonly location = 'stub'
  constructor(_o: {service: string; timeoutMs: number; maxEntryBytes?: number; switchHint: string}) {}
  async get(_k: string): Promise<Secrets | undefined> { throw new Error('stub') }
  async set(_k: string, _s: Secrets): Promise<void> { throw new Error('stub') }
  async delete(_k: string): Promise<boolean> { throw new Error('stub') }
}
export async function probeKeyring(_o: {service: string; timeoutMs: number}): Promise<{ok: true} | {ok: false; reason: string}> { return {ok: false, reason: 'stub'} }
