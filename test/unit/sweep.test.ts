/**
 * Issue 8 #4: the expiry safety net. A grant whose revocation schedule went missing is still
 * revoked once overdue, and a missing schedule of a grant due soon is recreated; either raises the
 * alarm (an ERROR line the stack's metric filter counts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advance, decide, requestApproval } from '../../shared/approval.js';
import type { ManualClock } from '../../shared/clock.js';
import { submitRequest } from '../../shared/intake.js';
import type { Logger } from '../../shared/logger.js';
import { provision } from '../../shared/provisioning.js';
import { revoke, scheduleRevocation } from '../../shared/revocation.js';
import type { LifecycleDeps } from '../../shared/services.js';
import { OVERDUE_AFTER_MS, sweepExpiries } from '../../shared/sweep.js';
import type { TestDynamo } from '../support/dynamo.js';
import { type Directory, ELI, MARIA, type Recorder, startUnitWorld } from '../support/fakes.js';

let dynamo: TestDynamo;
let clock: ManualClock;
let directory: Directory;
let ports: Recorder;
let errors: Array<{ message: string; extra: unknown }>;
let deps: LifecycleDeps;

beforeEach(async () => {
  errors = [];
  const logger: Logger = { debug() {}, info() {}, warn() {}, error: (message, extra) => void errors.push({ message, extra }) };
  ({ dynamo, clock, directory, ports, deps } = await startUnitWorld({ logger }));
});
afterEach(async () => dynamo.close());

/** An active, scheduled Figma editor grant for Eli (PT24H). */
async function activeGrant(issueKey: string): Promise<string> {
  const grant = await submitRequest(deps, {
    issueKey,
    requester: ELI,
    subject: ELI,
    app: 'figma',
    role: 'editor',
    duration: 'PT24H',
    justification: 'design',
    source: 'jira',
  });
  await advance(deps, grant.id);
  await requestApproval(deps, { grantId: grant.id, step: 0, taskToken: 't' });
  await decide(deps, { grantId: grant.id, step: 0, decision: 'approved', clickerEmail: MARIA, clickerRef: 'U-maria', via: 'slack' });
  await advance(deps, grant.id);
  await provision(deps, grant.id);
  await scheduleRevocation(deps, grant.id);
  return grant.id;
}

describe('the expiry sweeper', () => {
  it('revokes a grant past its expiry whose schedule went missing, and raises the alarm', async () => {
    const id = await activeGrant('ACC-1');
    ports.schedules.delete(id); // the schedule went missing
    clock.advance(24 * 3_600_000 + OVERDUE_AFTER_MS + 1);

    const swept = await sweepExpiries(deps);

    expect(swept.revoked).toEqual([id]);
    expect(directory.groups.get('00gfigmaeditor')?.has('u-eli')).toBe(false);
    expect((await dynamo.store.getGrant(id))?.status).toBe('revoked');
    expect(ports.comments.at(-1)).toContain('removed eli.engineer@example.com from okta group 00gfigmaeditor (expired)');
    expect(errors.map((e) => e.message)).toEqual(['expiry sweeper repaired missing revocations']);
  });

  it('leaves a grant the scheduler is about to revoke (due less than the grace period ago) to the scheduler', async () => {
    const id = await activeGrant('ACC-1');
    clock.advance(24 * 3_600_000 + 30_000);

    expect(await sweepExpiries(deps)).toEqual({ revoked: [], rescheduled: [], failed: [] });
    expect((await dynamo.store.getGrant(id))?.status).toBe('active');
    expect(errors).toEqual([]);
  });

  it('recreates the missing schedule of a grant that falls due soon, and only that one', async () => {
    const soon = await activeGrant('ACC-1');
    clock.advance(23 * 3_600_000);
    const later = await activeGrant('ACC-2');
    ports.schedules.delete(soon);
    ports.schedules.delete(later); // due in 24 hours: checked once it comes within the window
    const dueAt = (await dynamo.store.getGrant(soon))!.expiresAt;

    const swept = await sweepExpiries(deps);

    expect(swept).toEqual({ revoked: [], rescheduled: [soon], failed: [] });
    expect(ports.schedules.get(soon)?.toISOString()).toBe(dueAt);
    expect(errors).toHaveLength(1);
  });

  it('a revocation that fails is reported and tried again on the next sweep', async () => {
    const id = await activeGrant('ACC-1');
    ports.schedules.delete(id);
    clock.advance(25 * 3_600_000);
    const removeMember = directory.removeMember.bind(directory);
    directory.removeMember = async () => {
      throw new Error('Okta answered 503');
    };

    expect((await sweepExpiries(deps)).failed).toEqual([{ grantId: id, error: 'Okta answered 503' }]);
    directory.removeMember = removeMember;
    expect((await sweepExpiries(deps)).revoked).toEqual([id]);
    expect(directory.groups.get('00gfigmaeditor')?.has('u-eli')).toBe(false);
  });
});

describe('the expiry sweeper, what it reports', () => {
  it('a grant another path revoked after the sweep read the index is not reported as revoked, and raises no alarm', async () => {
    const id = await activeGrant('ACC-1');
    clock.advance(25 * 3_600_000);
    const stale = (await dynamo.store.getGrant(id))!;
    await revoke(deps, { grantId: id, reason: 'expired' }); // the scheduler got there first
    const racing = Object.assign(Object.create(dynamo.store) as typeof dynamo.store, { expiringBefore: async () => [stale] });

    const swept = await sweepExpiries({ ...deps, store: racing });

    expect(swept).toEqual({ revoked: [], rescheduled: [], failed: [] });
    expect(errors).toEqual([]);
  });

  it('a sweep that only failed still raises the alarm, naming the grant and the error', async () => {
    const id = await activeGrant('ACC-1');
    ports.schedules.delete(id);
    clock.advance(25 * 3_600_000);
    directory.removeMember = async () => {
      throw new Error('Okta answered 503');
    };

    await sweepExpiries(deps);

    expect(errors).toEqual([
      {
        message: 'expiry sweeper repaired missing revocations',
        extra: { revoked: [], rescheduled: [], failed: [{ grantId: id, error: 'Okta answered 503' }] },
      },
    ]);
  });

  it('the alarm line lists what was repaired', async () => {
    const id = await activeGrant('ACC-1');
    ports.schedules.delete(id);
    clock.advance(24 * 3_600_000 + OVERDUE_AFTER_MS + 1);

    await sweepExpiries(deps);

    expect(errors[0]?.extra).toEqual({ revoked: [id], rescheduled: [], failed: [] });
  });

  it('waits the full grace period (5 minutes) before revoking, and checks schedules 2 hours ahead', async () => {
    const due = await activeGrant('ACC-1');
    clock.advance(2 * 3_600_000 - 1);
    const soon = await activeGrant('ACC-2');
    ports.schedules.delete(soon);
    clock.advance(24 * 3_600_000 - 2 * 3_600_000 + 1 + 5 * 60_000 - 1); // ACC-1 due 4:59.999 ago, ACC-2 due in 1:59:59.999
    const first = await sweepExpiries(deps);
    clock.advance(2);
    const second = await sweepExpiries(deps);

    expect(first).toEqual({ revoked: [], rescheduled: [soon], failed: [] });
    expect(second.revoked).toEqual([due]);
  });
});

describe('the expiry sweeper without a grace period (the local scheduler fires due schedules just before it sweeps)', () => {
  it('revokes a grant a millisecond past its expiry', async () => {
    const id = await activeGrant('ACC-1');
    clock.advance(24 * 3_600_000 + 1);

    expect((await sweepExpiries(deps, { overdueAfterMs: 0 })).revoked).toEqual([id]);
    expect((await dynamo.store.getGrant(id))?.status).toBe('revoked');
  });
});
