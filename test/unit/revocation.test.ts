/**
 * Revocation (shared/revocation.ts), as the people involved see it: whether the person is still
 * in the group, the grant's status, the schedule, and what the evidence (the Jira comment) says.
 * Written against the mutants `npm run mutate` found surviving.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ManualClock } from '../../shared/clock.js';
import type { EvidenceEvent } from '../../shared/grants/model.js';
import { scheduleNameFor } from '../../shared/grants/model.js';
import { provision } from '../../shared/provisioning.js';
import { revoke, scheduleRevocation } from '../../shared/revocation.js';
import type { LifecycleDeps } from '../../shared/services.js';
import type { TestDynamo } from '../support/dynamo.js';
import { approvedGrant, type Directory, ELI, type Recorder, startUnitWorld } from '../support/fakes.js';

const GROUP = '00gfigmaeditor';
const ERIN = 'erin.erp@example.com';

let dynamo: TestDynamo;
let clock: ManualClock;
let directory: Directory;
let ports: Recorder;
let deps: LifecycleDeps;

beforeEach(async () => {
  ({ dynamo, clock, directory, ports, deps } = await startUnitWorld());
});
afterEach(async () => dynamo.close());

async function activeGrant(issueKey: string, request: { duration?: string } = {}): Promise<string> {
  const id = await approvedGrant(deps, { issueKey, ...request });
  await provision(deps, id);
  return id;
}

/** A Legacy ERP clerk grant: no identity-provider group, the owner Erin adds the account by hand. */
async function activeManualGrant(issueKey: string): Promise<string> {
  const id = await approvedGrant(deps, { issueKey, app: 'legacy-erp', role: 'clerk', duration: 'P30D', approvers: [ERIN] });
  await provision(deps, id);
  return id;
}

async function lastEvent(grantId: string, type: string): Promise<EvidenceEvent | undefined> {
  return (await dynamo.store.evidence(grantId)).filter((e) => e.type === type).at(-1);
}

/** The ledger as it reads for a grant recorded before the identity-provider id was kept on it. */
function storeWithoutUserIds(): TestDynamo['store'] {
  return Object.assign(Object.create(dynamo.store) as TestDynamo['store'], {
    getGrant: async (grantId: string) => {
      const stored = await dynamo.store.getGrant(grantId);
      if (!stored) return stored;
      const { idpUserId: _recordedBeforeMemberships, ...rest } = stored;
      return rest;
    },
  });
}

function members(): string[] {
  return [...(directory.groups.get(GROUP) ?? [])];
}

describe('scheduling the revocation', () => {
  it('schedules at the expiry and records the schedule in the evidence', async () => {
    const id = await activeGrant('ACC-1');
    const expiresAt = (await dynamo.store.getGrant(id))!.expiresAt!;

    expect(await scheduleRevocation(deps, id)).toEqual({ scheduled: true });

    expect(ports.schedules.get(id)?.toISOString()).toBe(expiresAt);
    const event = await lastEvent(id, 'revocation_scheduled');
    expect(event).toMatchObject({ actor: 'grantline', via: 'scheduler', summary: `revocation scheduled at ${expiresAt}` });
    expect(event?.details).toEqual({ 'Revoke at': expiresAt, Schedule: scheduleNameFor(id), 'Schedule state': 'created' });
  });

  it('a manual grant schedules a reminder for the owner', async () => {
    const id = await activeManualGrant('ACC-1');
    const expiresAt = (await dynamo.store.getGrant(id))!.expiresAt!;

    expect(await scheduleRevocation(deps, id)).toEqual({ scheduled: true });

    expect((await lastEvent(id, 'revocation_scheduled'))?.summary).toBe(`removal reminder for ${ERIN} scheduled at ${expiresAt}`);
  });

  it('a permanent grant is not scheduled', async () => {
    const id = await activeGrant('ACC-1', { duration: 'permanent' });

    expect(await scheduleRevocation(deps, id)).toEqual({ scheduled: false });

    expect(ports.schedules.size).toBe(0);
    expect(await lastEvent(id, 'revocation_scheduled')).toBeUndefined();
  });

  it('a grant that is not active (not provisioned yet) is not scheduled', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });

    expect(await scheduleRevocation(deps, id)).toEqual({ scheduled: false });

    expect(ports.schedules.size).toBe(0);
  });

  it('a grant whose expiry passed before the schedule was made (to the millisecond) is revoked at once instead', async () => {
    const id = await activeGrant('ACC-1');
    clock.advance(24 * 3_600_000);

    expect(await scheduleRevocation(deps, id)).toEqual({ scheduled: false });

    expect(ports.schedules.size).toBe(0);
    expect(members()).toEqual([]);
    expect((await dynamo.store.getGrant(id))?.status).toBe('revoked');
    expect((await lastEvent(id, 'revoked'))?.actor).toBe('scheduler');
  });

  it('a millisecond before the expiry, the schedule is made', async () => {
    const id = await activeGrant('ACC-1');
    clock.advance(24 * 3_600_000 - 1);

    expect(await scheduleRevocation(deps, id)).toEqual({ scheduled: true });
    expect(members()).toEqual(['u-eli']);
  });
});

describe('revoking', () => {
  it('at expiry: removes the member, closes the grant, leaves the fired schedule alone, and says so on the issue', async () => {
    const id = await activeGrant('ACC-1');
    await scheduleRevocation(deps, id);
    const expiresAt = (await dynamo.store.getGrant(id))!.expiresAt!;
    clock.advance(24 * 3_600_000 + 60_000);

    expect(await revoke(deps, { grantId: id, reason: 'expired' })).toEqual({ grantId: id, outcome: 'removed' });

    expect(members()).toEqual([]);
    expect(ports.schedules.has(id)).toBe(true);
    const grant = (await dynamo.store.getGrant(id))!;
    expect(grant).toMatchObject({ status: 'revoked', revokeReason: 'expired', revokedAt: '2026-03-03T09:01:00.000Z', scheduledRevocationAt: expiresAt });
    const event = await lastEvent(id, 'revoked');
    expect(event).toMatchObject({
      actor: 'scheduler',
      via: 'okta',
      at: '2026-03-03T09:01:00.000Z',
      summary: `removed ${ELI} from okta group ${GROUP} (expired)`,
      transitionTo: deps.config.JIRA_STATUS_REVOKED,
    });
    expect(event?.details).toEqual({
      'Scheduled for': expiresAt,
      'Revoked at': '2026-03-03T09:01:00.000Z',
      Reason: 'expired',
      Group: `${GROUP} (okta)`,
      'Identity provider answer': 'removed',
    });
  });

  it('early release: cancels the schedule and names grantline (or the given actor) as the one who revoked', async () => {
    const first = await activeGrant('ACC-1');
    await scheduleRevocation(deps, first);

    await revoke(deps, { grantId: first, reason: 'early_release' });

    expect(ports.schedules.has(first)).toBe(false);
    expect(await lastEvent(first, 'revoked')).toMatchObject({ actor: 'grantline', summary: `removed ${ELI} from okta group ${GROUP} (early release)` });
    expect((await dynamo.store.getGrant(first))?.revokeReason).toBe('early_release');

    const second = await activeGrant('ACC-2');
    await revoke(deps, { grantId: second, reason: 'access_review', actor: 'rita.reviewer@example.com' });
    expect(await lastEvent(second, 'revoked')).toMatchObject({
      actor: 'rita.reviewer@example.com',
      summary: `removed ${ELI} from okta group ${GROUP} (access review)`,
    });
  });

  it('a permanent grant revoked has no scheduled time in the evidence or on the grant', async () => {
    const id = await activeGrant('ACC-1', { duration: 'permanent' });

    await revoke(deps, { grantId: id, reason: 'offboarding' });

    expect((await dynamo.store.getGrant(id))?.scheduledRevocationAt).toBeUndefined();
    expect((await lastEvent(id, 'revoked'))?.details).toEqual({
      'Revoked at': '2026-03-02T09:00:00.000Z',
      Reason: 'offboarding',
      Group: `${GROUP} (okta)`,
      'Identity provider answer': 'removed',
    });
  });

  it('no schedule could be made: the evidence says the access ends now', async () => {
    const id = await activeGrant('ACC-1');

    await revoke(deps, { grantId: id, reason: 'no_schedule' });

    expect((await lastEvent(id, 'revoked'))?.details.Reason).toBe('no revocation schedule could be created, so the access ends now');
  });

  it('a membership another grant still needs is kept, and the evidence says which grant', async () => {
    const first = await activeGrant('ACC-1');
    const second = await activeGrant('ACC-2');

    expect(await revoke(deps, { grantId: first, reason: 'early_release' })).toEqual({ grantId: first, outcome: 'kept' });

    expect(members()).toEqual(['u-eli']);
    expect((await dynamo.store.getGrant(first))?.status).toBe('revoked');
    const event = await lastEvent(first, 'revocation_kept_membership');
    expect(event).toMatchObject({
      actor: 'grantline',
      via: 'okta',
      summary: `grant ended (early release); ${ELI} stays in okta group ${GROUP}: still needed by active grant ${second}`,
      transitionTo: deps.config.JIRA_STATUS_REVOKED,
    });
    expect(event?.details).toMatchObject({ Reason: 'early release', Group: `${GROUP} (okta)` });
  });

  it('a manual grant becomes a removal task for the owner', async () => {
    const id = await activeManualGrant('ACC-1');
    await scheduleRevocation(deps, id);
    const expiresAt = (await dynamo.store.getGrant(id))!.expiresAt!;

    expect(await revoke(deps, { grantId: id, reason: 'early_release' })).toEqual({ grantId: id, outcome: 'manual_task' });

    expect((await dynamo.store.getGrant(id))?.status).toBe('revoked');
    expect(ports.schedules.has(id)).toBe(false);
    const event = await lastEvent(id, 'manual_removal_task');
    expect(event).toMatchObject({
      actor: 'grantline',
      via: 'system',
      summary: `manual removal task for ${ERIN}: remove ${ELI}'s clerk role in Legacy ERP (early release)`,
      transitionTo: deps.config.JIRA_STATUS_REVOKED,
    });
    expect(event?.details).toEqual({
      'Scheduled for': expiresAt,
      'Revoked at': '2026-03-02T09:00:00.000Z',
      Reason: 'early release',
      Owner: ERIN,
      Note: 'not automatically revocable: Grantline cannot confirm the removal',
    });
  });

  it('a person no longer in the identity provider: nothing to remove, the grant still ends', async () => {
    const id = await activeGrant('ACC-1');
    delete directory.users[ELI];
    const withoutUserId = storeWithoutUserIds();

    expect(await revoke({ ...deps, store: withoutUserId }, { grantId: id, reason: 'offboarding' })).toEqual({ grantId: id, outcome: 'already_absent' });

    expect((await dynamo.store.getGrant(id))?.status).toBe('revoked');
    expect((await lastEvent(id, 'revoked'))?.details['Identity provider answer']).toBe('already_absent');
  });

  it('a grant recorded without its identity-provider id is found by email and removed', async () => {
    const id = await activeGrant('ACC-1');
    const withoutUserId = storeWithoutUserIds();

    expect(await revoke({ ...deps, store: withoutUserId }, { grantId: id, reason: 'expired' })).toEqual({ grantId: id, outcome: 'removed' });
    expect(members()).toEqual([]);
  });

  it('two revocations at once: the one that loses the write cancels nothing, and the issue gets one end event', async () => {
    const id = await activeGrant('ACC-1');
    await scheduleRevocation(deps, id);
    const racing = Object.assign(Object.create(dynamo.store) as typeof dynamo.store, {
      // The other revocation closes the grant between this one's evidence and its write.
      updateGrant: async (...args: Parameters<typeof dynamo.store.updateGrant>) => {
        await dynamo.store.updateGrant(...args);
        return undefined;
      },
    });

    expect(await revoke({ ...deps, store: racing }, { grantId: id, reason: 'early_release' })).toEqual({ grantId: id, outcome: 'not_active' });

    expect(ports.schedules.has(id)).toBe(true);
    expect((await dynamo.store.evidence(id)).filter((e) => e.key === 'revoked')).toHaveLength(1);
  });

  it('a retry after a crash between the evidence and the write keeps the time the evidence shows', async () => {
    const id = await activeGrant('ACC-1');
    const crashing = Object.assign(Object.create(dynamo.store) as typeof dynamo.store, {
      updateGrant: async () => {
        throw new Error('process killed');
      },
    });
    await expect(revoke({ ...deps, store: crashing }, { grantId: id, reason: 'early_release' })).rejects.toThrow('process killed');
    clock.advance(60_000);

    expect(await revoke(deps, { grantId: id, reason: 'early_release' })).toEqual({ grantId: id, outcome: 'removed' });
    expect((await dynamo.store.getGrant(id))?.revokedAt).toBe('2026-03-02T09:00:00.000Z');
    expect((await lastEvent(id, 'revoked'))?.details['Revoked at']).toBe('2026-03-02T09:00:00.000Z');
  });
});

describe('a grant that is not active', () => {
  it('released early, then its schedule step runs late: no schedule is made', async () => {
    const id = await activeGrant('ACC-1');
    await revoke(deps, { grantId: id, reason: 'early_release' });

    expect(await scheduleRevocation(deps, id)).toEqual({ scheduled: false });
    expect(ports.schedules.size).toBe(0);
  });

  it('approved and half-provisioned (the add happened, the write did not): a revoke leaves the access to the provisioning retry', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });
    const crashing = Object.assign(Object.create(dynamo.store) as typeof dynamo.store, {
      updateGrant: async () => {
        throw new Error('process killed');
      },
    });
    await expect(provision({ ...deps, store: crashing }, id)).rejects.toThrow('process killed');

    expect(await revoke(deps, { grantId: id, reason: 'access_review' })).toEqual({ grantId: id, outcome: 'not_active' });

    expect(members()).toEqual(['u-eli']);
    expect(await lastEvent(id, 'revoked')).toBeUndefined();
  });
});
