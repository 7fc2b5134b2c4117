/**
 * Which accounts a name given by the user (`--account`, `ACME_AUTH_ACCOUNT`, `auth switch`) means:
 * the one whose key it is, else every one whose subject, email or name it is. One rule for the
 * commands and for the init hook, so refresh ahead always looks at the account commands will use;
 * imports nothing, so the hook can load it.
 */
export function accountsNamed<T extends {key: string; subject?: string; email?: string; name?: string}>(accounts: T[], wanted: string): T[] {
  const exact = accounts.find((account) => account.key === wanted)
  if (exact) return [exact]
  return accounts.filter((account) => [account.subject, account.email, account.name].includes(wanted))
}
