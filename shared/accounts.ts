/**
 * The account as the identity provider knows it now. Search by email is eventually consistent
 * (Okta documents that search "may not reflect the latest information"): it only finds the id,
 * and the decision to grant or to accept a decision rests on the read by id.
 */
import type { IdentityProvider, IdpUser } from './ports.js';

export async function currentAccount(idp: IdentityProvider, email: string, knownId?: string): Promise<IdpUser | undefined> {
  // The id found earlier for this grant saves the search, while it still names this email's account.
  if (knownId) {
    const known = await idp.getUser(knownId);
    if (known && known.email.toLowerCase() === email.toLowerCase()) return known;
  }
  const found = await idp.findUserByEmail(email);
  if (!found) return undefined;
  const current = await idp.getUser(found.id);
  return current && { ...current, managerEmail: current.managerEmail ?? found.managerEmail };
}

/** Why this account may not be granted access or decide, or undefined when it may. */
export function ineligibility(account: IdpUser | undefined, email: string, provider: string): string | undefined {
  if (!account) return `${email} has no ${provider} account`;
  if (!account.active) return `${email}'s ${provider} account is deactivated or suspended`;
  return undefined;
}
