/**
 * The one way an identity (requester, subject, approver, reviewer) becomes an email Grantline
 * compares. Every edge (Jira webhook, Slack click and command, review API) calls it once, so
 * " Maria@Example.com" and "maria@example.com" can never be two people: a stray space from an
 * automation-rule template must not let a manager approve their own request.
 */
import * as z from 'zod';

/** RFC 5321 caps a forward path at 256 octets, so an address is at most 254 characters. */
export const MAX_EMAIL_LENGTH = 254;

const emailSchema = z.email();

/** The trimmed, lower-cased address, or undefined when what is left is not an email address. */
export function normalizeEmail(value: string | null | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  const email = value.trim().toLowerCase();
  if (email.length === 0 || email.length > MAX_EMAIL_LENGTH) return undefined;
  return emailSchema.safeParse(email).success ? email : undefined;
}
