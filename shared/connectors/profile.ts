/**
 * IdpUser.profile as the connectors fill it from what their provider returned: who the person is
 * and when they last signed in, each part left out when the provider does not say.
 */
import type { IdpUser } from '../ports.js';

type IdpProfile = NonNullable<IdpUser['profile']>;

/**
 * The profile of the given values: text trimmed, blank and missing parts left out, `lastLogin` as an
 * ISO-8601 instant (a Date or a date-time text; unreadable, or the epoch a provider answers for
 * "never", is left out). undefined when nothing is left.
 */
function idpProfile(values: { name?: unknown; title?: unknown; department?: unknown; lastLogin?: unknown }): IdpProfile | undefined {
  const profile: IdpProfile = {};
  const name = text(values.name);
  const title = text(values.title);
  const department = text(values.department);
  const lastLogin = instant(values.lastLogin);
  if (name) profile.name = name;
  if (title) profile.title = title;
  if (department) profile.department = department;
  if (lastLogin) profile.lastLogin = lastLogin;
  return Object.keys(profile).length > 0 ? profile : undefined;
}

/** `{ profile }` to spread into an IdpUser, or nothing when the profile is empty. */
export function withProfile(values: Parameters<typeof idpProfile>[0]): { profile?: IdpProfile } {
  const profile = idpProfile(values);
  return profile ? { profile } : {};
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** An instant after the epoch; Google answers 1970-01-01T00:00:00.000Z for an account that never signed in. */
function instant(value: unknown): string | undefined {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' && value.trim() !== '' ? Date.parse(value) : Number.NaN;
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : undefined;
}
