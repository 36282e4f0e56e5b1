/**
 * The people the connector tests read from each simulated identity provider, as IdpUser (with the
 * profile an access review shows), and the check that a person who never signed in has no last sign-in.
 */
import { expect } from 'vitest';
import type { IdentityProvider, IdpUser } from '../../shared/ports.js';

/** Alice (alice.smith@example.com, managed by boss@example.com, never signed in) as every user read answers her. */
export function aliceAsRead(id: string): IdpUser {
  return { id, email: 'alice.smith@example.com', active: true, managerEmail: 'boss@example.com', profile: { name: 'Alice Smith' } };
}

/** Carol, a Staff Engineer in Platform who last signed in on CAROL_LAST_LOGIN, as reviewProfile answers her. */
export const CAROL = { email: 'carol.jones@example.com', title: 'Staff Engineer', department: 'Platform' } as const;
export const CAROL_LAST_LOGIN = '2026-02-20T08:15:00.000Z';

export function carolReviewed(id: string, name = 'Carol Jones'): IdpUser {
  return { id, email: CAROL.email, active: true, profile: { name, title: CAROL.title, department: CAROL.department, lastLogin: CAROL_LAST_LOGIN } };
}

/** reviewProfile of someone who never signed in has no lastLogin; once `signIn(at)` on the fake, it has that instant. */
export async function expectLastLoginOnceSignedIn(idp: IdentityProvider, id: string, name: string, signIn: (at: string) => void): Promise<void> {
  expect((await idp.reviewProfile(id))?.profile).toEqual({ name });
  const at = '2026-03-01T09:00:00.000Z';
  signIn(at);
  expect((await idp.reviewProfile(id))?.profile).toEqual({ name, lastLogin: at });
}
