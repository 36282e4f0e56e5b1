/**
 * Contractor end dates. A person's end date caps the expiry of every grant to them: the subject's
 * end date in the identity provider (where the catalog's `endDates` says it is kept: an Okta profile
 * attribute, Entra's employeeLeaveDateTime, a Google custom schema field) and the request's own
 * end-date field (JIRA_FIELD_END_DATE), whichever is earlier. A permanent role becomes time-bound to
 * the end date; a request whose subject's end date has passed is refused, at planning and again at
 * provisioning (both read the account by id).
 *
 * A date (YYYY-MM-DD) is the last day: access ends at the end of that day, 00:00 UTC the day after.
 * A date-time (Entra's, or an ISO-8601 value with a zone) is the instant access ends. A value that is
 * neither refuses the request: an end date nobody can read is not treated as no end date.
 */
import type { Catalog } from './catalog/schema.js';
import type { Grant } from './grants/model.js';
import { expiryFor } from './policy.js';
import type { ProviderName } from './ports.js';

export interface EndDate {
  /** As its source holds it: YYYY-MM-DD (the last day) or an ISO-8601 date-time. */
  value: string;
  /** Where it comes from, e.g. "Okta endDate", "the request's end date". */
  source: string;
  /** When access must be gone. */
  endsAt: Date;
}

/** When a grant ends, and the end date that made it end earlier than its duration (or at all). */
export interface Expiry {
  expiresAt?: Date;
  cappedBy?: EndDate;
}

export const REQUEST_END_DATE_SOURCE = "the request's end date";

const DAY_MS = 24 * 3600 * 1000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const PROVIDER_NAMES: Record<ProviderName, string> = { okta: 'Okta', entra: 'Entra', google: 'Google Workspace' };

/** A real calendar day written YYYY-MM-DD (2026-02-30 is not one). */
export function isCalendarDate(value: string): boolean {
  return startOfDay(value) !== undefined;
}

/** When an end date ends access; undefined when it is neither a calendar date nor an ISO-8601 date-time with a zone. */
export function endOf(value: string): Date | undefined {
  const day = startOfDay(value);
  if (day !== undefined) return new Date(day + DAY_MS);
  if (!DATE_TIME.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : new Date(at);
}

/** "Okta endDate", "Entra employeeLeaveDateTime", "Google Workspace HR.endDate". */
export function endDateSource(catalog: Pick<Catalog, 'endDates'>, provider: ProviderName): string {
  const where = catalog.endDates[provider];
  return where ? `${PROVIDER_NAMES[provider]} ${where}` : `the end date in ${PROVIDER_NAMES[provider]}`;
}

/**
 * The end date that applies to the grant's subject: the earlier of the identity provider's (`fromIdp`,
 * as IdpUser.endDate gives it) and the request's own. A value that is not a date is a problem.
 */
export function subjectEndDate(
  catalog: Pick<Catalog, 'endDates'>,
  grant: Pick<Grant, 'subject' | 'provider' | 'requestedEndDate'>,
  fromIdp: string | undefined,
): { end?: EndDate; problem?: string } {
  const candidates: Array<{ value: string; source: string; where: string }> = [];
  const idpValue = fromIdp?.trim();
  if (idpValue && grant.provider) {
    candidates.push({ value: idpValue, source: endDateSource(catalog, grant.provider), where: PROVIDER_NAMES[grant.provider] });
  }
  const requested = grant.requestedEndDate?.trim();
  if (requested) candidates.push({ value: requested, source: REQUEST_END_DATE_SOURCE, where: 'the request' });
  let end: EndDate | undefined;
  for (const c of candidates) {
    const endsAt = endOf(c.value);
    if (!endsAt) {
      return {
        problem: `${grant.subject}'s end date (${c.source}) is "${c.value.slice(0, 64)}", which is not a date (YYYY-MM-DD) or an ISO-8601 date-time: correct it in ${c.where}`,
      };
    }
    if (!end || endsAt < end.endsAt) end = { value: c.value, source: c.source, endsAt };
  }
  return end ? { end } : {};
}

/** Why nothing may be granted to the subject now because of their end date, or undefined when something may. */
export function endDateProblem(
  catalog: Pick<Catalog, 'endDates'>,
  grant: Pick<Grant, 'subject' | 'provider' | 'requestedEndDate'>,
  fromIdp: string | undefined,
  now: Date,
): string | undefined {
  const { end, problem } = subjectEndDate(catalog, grant, fromIdp);
  if (problem) return problem;
  if (!end || end.endsAt.getTime() > now.getTime()) return undefined;
  return `${grant.subject}'s contract ends ${end.value} (${end.source}), which has passed: no access is granted past the end date`;
}

/** expiresAt = min(grantedAt + duration, end date); a permanent duration becomes time-bound to the end date. */
export function cappedExpiry(duration: string, grantedAt: Date, end: EndDate | undefined): Expiry {
  const natural = expiryFor(duration, grantedAt);
  if (end && (!natural || end.endsAt < natural)) return { expiresAt: end.endsAt, cappedBy: end };
  return natural ? { expiresAt: natural } : {};
}

/** The evidence's "Expires" value: the instant first (provisioning reads it back), then why it is that early. */
export function describeExpiry(expiry: Expiry, never: string): string {
  if (!expiry.expiresAt) return never;
  const at = expiry.expiresAt.toISOString();
  return expiry.cappedBy ? `${at} (capped by the end date ${expiry.cappedBy.value} from ${expiry.cappedBy.source})` : at;
}

function startOfDay(value: string): number | undefined {
  const m = DATE.exec(value);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const at = Date.UTC(year, month - 1, day);
  const back = new Date(at);
  return back.getUTCFullYear() === year && back.getUTCMonth() === month - 1 && back.getUTCDate() === day ? at : undefined;
}
