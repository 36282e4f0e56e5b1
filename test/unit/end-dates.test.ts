/**
 * Contractor end dates (shared/end-dates.ts): the subject's end date in the identity provider and the
 * request's own end date cap every grant's expiry; a permanent role becomes time-bound to it; a
 * request past it is refused with the reason, on the ledger and told to the requester.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advance } from '../../shared/approval.js';
import type { ManualClock } from '../../shared/clock.js';
import { cappedExpiry, endDateProblem, endOf, isCalendarDate, subjectEndDate } from '../../shared/end-dates.js';
import { PermanentError } from '../../shared/errors.js';
import type { EvidenceEvent } from '../../shared/grants/model.js';
import { submitRequest } from '../../shared/intake.js';
import { provision, recordFailure } from '../../shared/provisioning.js';
import { scheduleRevocation } from '../../shared/revocation.js';
import type { LifecycleDeps } from '../../shared/services.js';
import type { TestDynamo } from '../support/dynamo.js';
import { approvedGrant, type Directory, ELI, type Recorder, startUnitWorld } from '../support/fakes.js';

// The clock stands at 2026-03-02T09:00:00Z; the catalog (catalog.yaml) names Okta's endDate attribute.
const GROUP = '00gfigmaeditor';

let dynamo: TestDynamo;
let clock: ManualClock;
let directory: Directory;
let ports: Recorder;
let deps: LifecycleDeps;

beforeEach(async () => {
  ({ dynamo, clock, directory, ports, deps } = await startUnitWorld());
});
afterEach(async () => dynamo.close());

/** Eli's end date as Okta holds it (what the adapter reads into IdpUser.endDate). */
function eliEnds(endDate: string | undefined): void {
  const { endDate: _old, ...eli } = directory.users[ELI]!;
  directory.users[ELI] = endDate === undefined ? eli : { ...eli, endDate };
}

async function lastEvent(grantId: string, type: string): Promise<EvidenceEvent | undefined> {
  return (await dynamo.store.evidence(grantId)).filter((e) => e.type === type).at(-1);
}

const dmsToEli = () => ports.notices.filter((n) => n.to === `U-${ELI}`).map((n) => n.text);

describe('an end date caps the expiry', () => {
  it('a P30D request for someone whose contract ends in 10 days gets access until the end of that day, and the revocation is scheduled then', async () => {
    eliEnds('2026-03-12');
    const id = await approvedGrant(deps, { issueKey: 'ACC-1', duration: 'P30D' });

    expect(await provision(deps, id)).toEqual({ grantId: id, scheduleRevocation: true, breakGlassReview: false, expiresAt: '2026-03-13T00:00:00.000Z' });
    expect(await scheduleRevocation(deps, id)).toEqual({ scheduled: true });

    expect(ports.schedules.get(id)).toEqual(new Date('2026-03-13T00:00:00.000Z'));
    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'active', duration: 'P30D', expiresAt: '2026-03-13T00:00:00.000Z' });
    expect((await lastEvent(id, 'provisioned'))?.details.Expires).toBe('2026-03-13T00:00:00.000Z (capped by the end date 2026-03-12 from Okta endDate)');
    expect((await lastEvent(id, 'revocation_scheduled'))?.details['Revoke at']).toBe('2026-03-13T00:00:00.000Z');
    expect(dmsToEli().at(-1)).toBe(`Access granted: ${ELI} now has Figma editor until 2026-03-13T00:00:00.000Z (ACC-1).`);
  });

  it('a permanent role becomes time-bound to the end date, with a revocation scheduled', async () => {
    eliEnds('2026-03-12');
    const id = await approvedGrant(deps, { issueKey: 'ACC-1', duration: 'permanent' });

    expect(await provision(deps, id)).toEqual({ grantId: id, scheduleRevocation: true, breakGlassReview: false, expiresAt: '2026-03-13T00:00:00.000Z' });
    await scheduleRevocation(deps, id);

    expect(ports.schedules.get(id)).toEqual(new Date('2026-03-13T00:00:00.000Z'));
    expect((await lastEvent(id, 'provisioned'))?.details.Expires).toBe('2026-03-13T00:00:00.000Z (capped by the end date 2026-03-12 from Okta endDate)');
  });

  it('an end date after the natural expiry changes nothing', async () => {
    eliEnds('2026-12-31');
    const id = await approvedGrant(deps, { issueKey: 'ACC-1', duration: 'PT24H' });

    expect((await provision(deps, id)).expiresAt).toBe('2026-03-03T09:00:00.000Z');
    expect((await lastEvent(id, 'provisioned'))?.details.Expires).toBe('2026-03-03T09:00:00.000Z');
  });

  it('an instant (as Entra gives employeeLeaveDateTime) ends the access at that instant', async () => {
    eliEnds('2026-03-05T17:30:00Z');
    const id = await approvedGrant(deps, { issueKey: 'ACC-1', duration: 'P30D' });

    expect((await provision(deps, id)).expiresAt).toBe('2026-03-05T17:30:00.000Z');
  });

  it('the end date is read again at provisioning: one moved earlier while the request waited counts', async () => {
    eliEnds('2026-03-20');
    const id = await approvedGrant(deps, { issueKey: 'ACC-1', duration: 'P30D' });
    eliEnds('2026-03-09');

    expect((await provision(deps, id)).expiresAt).toBe('2026-03-10T00:00:00.000Z');
  });

  it("the request's own end date shortens the access; the identity provider's wins when it is earlier", async () => {
    eliEnds('2026-03-12');
    const shorter = await approvedGrant(deps, { issueKey: 'ACC-1', duration: 'P30D', endDate: '2026-03-05' });
    const longer = await approvedGrant(deps, { issueKey: 'ACC-2', duration: 'P30D', endDate: '2026-03-20' });

    expect((await provision(deps, shorter)).expiresAt).toBe('2026-03-06T00:00:00.000Z');
    expect((await provision(deps, longer)).expiresAt).toBe('2026-03-13T00:00:00.000Z');

    expect((await lastEvent(shorter, 'provisioned'))?.details.Expires).toBe(
      "2026-03-06T00:00:00.000Z (capped by the end date 2026-03-05 from the request's end date)",
    );
    expect((await lastEvent(shorter, 'requested'))?.details['End date']).toBe(
      "2026-03-05 (the request's end date: the access ends with that day at the latest)",
    );
  });

  it("a manual app is capped by the request's own end date", async () => {
    const id = await approvedGrant(deps, {
      issueKey: 'ACC-1',
      app: 'legacy-erp',
      role: 'clerk',
      duration: 'permanent',
      approvers: ['erin.erp@example.com'],
      endDate: '2026-04-30',
    });

    expect(await provision(deps, id)).toEqual({ grantId: id, scheduleRevocation: true, breakGlassReview: false, expiresAt: '2026-05-01T00:00:00.000Z' });
    expect((await lastEvent(id, 'manual_task'))?.details.Expires).toBe(
      "2026-05-01T00:00:00.000Z (capped by the end date 2026-04-30 from the request's end date)",
    );
  });

  it('a retry after a crash between the evidence and the write keeps the capped expiry the evidence shows', async () => {
    eliEnds('2026-03-12');
    const id = await approvedGrant(deps, { issueKey: 'ACC-1', duration: 'P30D' });
    const crashing = Object.assign(Object.create(dynamo.store) as typeof dynamo.store, {
      updateGrant: async () => {
        throw new Error('process killed');
      },
    });
    await expect(provision({ ...deps, store: crashing }, id)).rejects.toThrow('process killed');
    eliEnds('2026-03-20'); // moved by HR in between: the evidence already says what was granted
    clock.advance(60_000);

    expect((await provision(deps, id)).expiresAt).toBe('2026-03-13T00:00:00.000Z');
  });
});

describe('a request past the end date is refused', () => {
  async function planned(endDate?: string) {
    const grant = await submitRequest(deps, {
      issueKey: 'ACC-1',
      requester: ELI,
      subject: ELI,
      app: 'figma',
      role: 'editor',
      duration: 'P30D',
      justification: 'design',
      source: 'jira',
      ...(endDate ? { endDate } : {}),
    });
    await advance(deps, grant.id);
    return grant.id;
  }

  it('at planning, with the reason on the ledger, in the evidence, on the issue and told to the requester', async () => {
    eliEnds('2026-03-01');
    const id = await planned();
    const reason = `${ELI}'s contract ends 2026-03-01 (Okta endDate), which has passed: no access is granted past the end date`;

    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'denied', denialReason: reason, decidedBy: 'policy' });
    expect((await lastEvent(id, 'denied'))?.details).toEqual({ Reason: reason });
    expect(ports.comments).toContain(`Grantline: denied: ${reason}`);
    expect(dmsToEli().at(-1)).toBe(`Your request ACC-1 for Figma editor was denied: ${reason}.`);
    expect(directory.groups.get(GROUP)).toBeUndefined();
  });

  it('the last day itself is still allowed (the contract ends with it)', async () => {
    eliEnds('2026-03-02');
    const id = await planned();

    expect((await dynamo.store.getGrant(id))?.status).toBe('pending_approval');
  });

  it('a request whose own end date has passed is refused the same way', async () => {
    const id = await planned('2026-02-27');

    expect((await dynamo.store.getGrant(id))?.denialReason).toBe(
      `${ELI}'s contract ends 2026-02-27 (the request's end date), which has passed: no access is granted past the end date`,
    );
  });

  it('an end date in the identity provider that is not a date refuses the request rather than granting without one', async () => {
    eliEnds('31/03/2026');
    const id = await planned();

    expect((await dynamo.store.getGrant(id))?.denialReason).toBe(
      `${ELI}'s end date (Okta endDate) is "31/03/2026", which is not a date (YYYY-MM-DD) or an ISO-8601 date-time: correct it in Okta`,
    );
  });

  it('an end date that passes while the request waits for approval refuses it at provisioning, for good, and nothing is granted', async () => {
    eliEnds('2026-03-03');
    const id = await approvedGrant(deps, { issueKey: 'ACC-1', duration: 'P30D' });
    clock.advance(2 * 24 * 3600_000);
    const reason = `${ELI}'s contract ends 2026-03-03 (Okta endDate), which has passed: no access is granted past the end date`;

    await expect(provision(deps, id)).rejects.toThrow(new PermanentError(reason));
    await recordFailure(deps, { grantId: id, error: { Error: 'PermanentError', Cause: reason } });

    expect(directory.groups.get(GROUP) ?? new Set()).toEqual(new Set());
    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'failed', failure: reason });
    expect(dmsToEli().at(-1)).toBe(`Your request ACC-1 could not be completed: ${reason}. Nothing was granted.`);
  });
});

describe('reading end dates', () => {
  const catalog = { endDates: { okta: 'endDate', google: 'HR.endDate' } };

  it('a date is the last day: access ends at 00:00 UTC the day after; a date-time is the instant', () => {
    expect(endOf('2026-03-31')).toEqual(new Date('2026-04-01T00:00:00.000Z'));
    expect(endOf('2026-12-31')).toEqual(new Date('2027-01-01T00:00:00.000Z'));
    expect(endOf('2026-03-31T23:59:59Z')).toEqual(new Date('2026-03-31T23:59:59.000Z'));
    expect(endOf('2026-03-31T18:00:00+02:00')).toEqual(new Date('2026-03-31T16:00:00.000Z'));
  });

  it('anything else is not an end date', () => {
    for (const bad of ['2026-02-30', '2026-13-01', '31/03/2026', '2026-03-31T10:00:00', 'tomorrow', '']) expect(endOf(bad)).toBeUndefined();
    expect(isCalendarDate('2026-02-28')).toBe(true);
    expect(isCalendarDate('2026-02-29')).toBe(false);
    expect(isCalendarDate('2028-02-29')).toBe(true);
  });

  it('takes the earlier of the identity provider and the request, naming where it came from', () => {
    const grant = { subject: ELI, provider: 'google' as const, requestedEndDate: '2026-05-01' };
    expect(subjectEndDate(catalog, grant, '2026-04-15').end).toMatchObject({ value: '2026-04-15', source: 'Google Workspace HR.endDate' });
    expect(subjectEndDate(catalog, grant, '2026-06-15').end).toMatchObject({ value: '2026-05-01', source: "the request's end date" });
    expect(subjectEndDate(catalog, { subject: ELI, provider: 'entra' }, '2026-06-15T10:00:00Z').end?.source).toBe('the end date in Entra');
    expect(subjectEndDate(catalog, { subject: ELI, provider: 'okta' }, undefined)).toEqual({});
  });

  it('caps: min(start + duration, end date); a permanent duration takes the end date; no end date, no cap', () => {
    const at = new Date('2026-03-02T09:00:00.000Z');
    const end = { value: '2026-03-12', source: 'Okta endDate', endsAt: new Date('2026-03-13T00:00:00.000Z') };
    expect(cappedExpiry('P30D', at, end)).toEqual({ expiresAt: end.endsAt, cappedBy: end });
    expect(cappedExpiry('permanent', at, end)).toEqual({ expiresAt: end.endsAt, cappedBy: end });
    expect(cappedExpiry('PT6H', at, end)).toEqual({ expiresAt: new Date('2026-03-02T15:00:00.000Z') });
    expect(cappedExpiry('permanent', at, undefined)).toEqual({});
  });

  it('refuses only once the end has passed', () => {
    const grant = { subject: ELI, provider: 'okta' as const };
    expect(endDateProblem(catalog, grant, '2026-03-02', new Date('2026-03-02T23:59:59.999Z'))).toBeUndefined();
    expect(endDateProblem(catalog, grant, '2026-03-02', new Date('2026-03-03T00:00:00.000Z'))).toMatch(
      /contract ends 2026-03-02 \(Okta endDate\), which has passed/,
    );
  });
});
