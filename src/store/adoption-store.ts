import type {AccountRecord} from './account-index.js'
import type {AccountStore} from './account-store.js'
import type {SaveOutcome} from './rescued-login.js'
import type {Secrets} from './secrets.js'

// The store's side of taking over a host's earlier login (session/adopt-login.ts): its writes, each
// one read-modify-write of the index under the store lock, like every other.

/**
 * Keep a login taken over from the host's earlier code, and note in the same write that only the
 * host's old copy is left to clear. A login for the same issuer and client that got here first was
 * made since, so it is newer: it is left alone, and `saved` is false. Its secrets go where every
 * grant's answer goes: its store, or the rescue file when that store cannot take them.
 */
export async function saveAdoptedLogin(store: AccountStore, record: AccountRecord, secrets: Secrets): Promise<{saved: boolean} & SaveOutcome> {
  let saved: {saved: boolean} & SaveOutcome = {saved: false}
  await store.update(async (index) => {
    index.adoption = {state: 'clear', since: new Date().toISOString()}
    if (index.accounts.some((account) => account.issuer === record.issuer && account.clientId === record.clientId)) return
    saved = {saved: true, ...(await store.keepSecrets(record, secrets))}
    index.accounts = [...index.accounts, record]
    if (!index.defaultAccount) index.defaultAccount = record.key
  }, {purpose: 'saving the login taken over'})
  return saved
}

/** Note how far taking over the host's earlier login went (see AccountIndex.adoption). */
export async function markAdoption(store: AccountStore, state: 'clear' | 'done'): Promise<void> {
  await store.update(async (index) => {
    index.adoption = {state, since: new Date().toISOString()}
  })
}

/**
 * The adoption failed before anything was saved (the issuer did not answer, say): no command tries
 * again before `until`. Never over a later state; false when there was one.
 */
export async function postponeAdoption(store: AccountStore, until: Date): Promise<boolean> {
  let postponed = false
  await store.update(async (index) => {
    if (index.adoption && index.adoption.state !== 'waiting') return
    index.adoption = {state: 'waiting', since: new Date().toISOString(), until: until.toISOString()}
    postponed = true
  })
  return postponed
}
