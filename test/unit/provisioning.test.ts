/**
 * Provisioning and failure (shared/provisioning.ts), as the people involved see it: the group,
 * the grant's status and expiry, the evidence on the Jira issue and the requester's Slack DM.
 * Written against the mutants `npm run mutate` found surviving.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ManualClock } from '../../shared/clock.js';
import { PermanentError } from '../../shared/errors.js';
import type { EvidenceEvent } from '../../shared/grants/model.js';
import { provision, recordFailure } from '../../shared/provisioning.js';
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

async function lastEvent(grantId: string, type: string): Promise<EvidenceEvent | undefined> {
  return (await dynamo.store.evidence(grantId)).filter((e) => e.type === type).at(-1);
}

function members(): string[] {
  return [...(directory.groups.get(GROUP) ?? [])];
}

function dmsToEli(): string[] {
  return ports.notices.filter((n) => n.to === `U-${ELI}`).map((n) => n.text);
}

describe('provisioning an identity-provider group', () => {
  it('reads the account found at approval by id, without searching again', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });
    expect((await dynamo.store.getGrant(id))?.idpUserId).toBe('u-eli');
    let searches = 0;
    const search = directory.findUserByEmail.bind(directory);
    directory.findUserByEmail = async (email) => {
      searches += 1;
      return search(email);
    };

    await provision(deps, id);

    expect(searches).toBe(0);
    expect(members()).toEqual(['u-eli']);
  });

  it('an account replaced since the approval (same email, new id): the new account is granted', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });
    directory.users[ELI] = { ...directory.users[ELI]!, id: 'u-eli-2' };

    await provision(deps, id);

    expect(members()).toEqual(['u-eli-2']);
    expect((await dynamo.store.getGrant(id))?.idpUserId).toBe('u-eli-2');
  });

  it('adds the person, starts the clock at the grant, and tells the issue and the requester', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });
    clock.advance(60_000);

    expect(await provision(deps, id)).toEqual({ grantId: id, scheduleRevocation: true, breakGlassReview: false, expiresAt: '2026-03-03T09:01:00.000Z' });

    expect(members()).toEqual(['u-eli']);
    expect(await dynamo.store.getGrant(id)).toMatchObject({
      status: 'active',
      grantedAt: '2026-03-02T09:01:00.000Z',
      expiresAt: '2026-03-03T09:01:00.000Z',
      idpUserId: 'u-eli',
      preexistingMembership: false,
      updatedAt: '2026-03-02T09:01:00.000Z',
    });
    const event = await lastEvent(id, 'provisioned');
    expect(event).toMatchObject({
      actor: 'grantline',
      via: 'okta',
      at: '2026-03-02T09:01:00.000Z',
      summary: `added ${ELI} to okta group ${GROUP}`,
      transitionTo: deps.config.JIRA_STATUS_GRANTED,
    });
    expect(event?.details).toEqual({
      Group: `${GROUP} (okta)`,
      'Identity provider answer': 'added',
      'Membership before this grant': 'no',
      Expires: '2026-03-03T09:01:00.000Z',
    });
    expect(dmsToEli().at(-1)).toBe(`Access granted: ${ELI} now has Figma editor until 2026-03-03T09:01:00.000Z (ACC-1).`);
  });

  it('a person already in the group from outside Grantline: confirmed, and the evidence says it will be kept', async () => {
    directory.groups.set(GROUP, new Set(['u-eli']));
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });

    await provision(deps, id);

    expect((await dynamo.store.getGrant(id))?.preexistingMembership).toBe(true);
    const event = await lastEvent(id, 'provisioned');
    expect(event?.summary).toBe(`${ELI} was already in okta group ${GROUP}; access confirmed`);
    expect(event?.details).toMatchObject({
      'Identity provider answer': 'already_member',
      'Membership before this grant': 'yes, from outside Grantline: it will be kept at expiry',
    });
  });

  it('a second grant for the same membership names the grant it shares it with', async () => {
    const first = await approvedGrant(deps, { issueKey: 'ACC-1' });
    const second = await approvedGrant(deps, { issueKey: 'ACC-2' });
    await provision(deps, first);

    await provision(deps, second);

    expect((await dynamo.store.getGrant(second))?.preexistingMembership).toBe(false);
    expect((await lastEvent(second, 'provisioned'))?.details['Membership before this grant']).toBe(`yes, from grant ${first}`);
  });

  it('a permanent grant has no expiry and no revocation to schedule', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1', duration: 'permanent' });

    expect(await provision(deps, id)).toEqual({ grantId: id, scheduleRevocation: false, breakGlassReview: false });

    const grant = (await dynamo.store.getGrant(id))!;
    expect(grant.status).toBe('active');
    expect(grant.expiresAt).toBeUndefined();
    expect((await lastEvent(id, 'provisioned'))?.details.Expires).toBe('never (permanent)');
    expect(dmsToEli().at(-1)).toBe(`Access granted: ${ELI} now has Figma editor (ACC-1).`);
  });

  it('a second call (a retried task) answers as the first did and changes nothing', async () => {
    const timed = await approvedGrant(deps, { issueKey: 'ACC-1' });
    const permanent = await approvedGrant(deps, { issueKey: 'ACC-2', app: 'figma', role: 'viewer', duration: 'permanent' });
    const first = await provision(deps, timed);
    await provision(deps, permanent);
    clock.advance(60_000);

    expect(await provision(deps, timed)).toEqual(first);
    expect(await provision(deps, permanent)).toEqual({ grantId: permanent, scheduleRevocation: false, breakGlassReview: false });
    expect((await dynamo.store.evidence(timed)).filter((e) => e.type === 'provisioned')).toHaveLength(1);
  });

  it('a grant that is not approved is refused for good', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1', approvers: [] });

    await expect(provision(deps, id)).rejects.toThrow(new PermanentError(`grant ${id} is pending_approval, not approved: nothing to provision`));
    expect(members()).toEqual([]);
  });

  it('a subject with no account is refused for good, naming the provider', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });
    delete directory.users[ELI];

    await expect(provision(deps, id)).rejects.toThrow(new PermanentError(`${ELI} has no okta account`));
    expect((await dynamo.store.getGrant(id))?.status).toBe('approved');
  });

  it('a subject suspended since the approval is refused for good, and says so', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });
    directory.users[ELI] = { ...directory.users[ELI]!, active: false };

    await expect(provision(deps, id)).rejects.toThrow(new PermanentError(`${ELI}'s okta account is deactivated or suspended`));
    expect(members()).toEqual([]);
  });

  it('a worker that loses the write to another one answers with the grant as the winner wrote it, and the evidence is recorded once', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });
    const racing = Object.assign(Object.create(dynamo.store) as typeof dynamo.store, {
      // The other worker activates the grant between this worker's evidence and its write.
      updateGrant: async (...args: Parameters<typeof dynamo.store.updateGrant>) => {
        await dynamo.store.updateGrant(...args);
        return undefined;
      },
    });

    expect(await provision({ ...deps, store: racing }, id)).toEqual({
      grantId: id,
      scheduleRevocation: true,
      breakGlassReview: false,
      expiresAt: '2026-03-03T09:00:00.000Z',
    });

    expect((await dynamo.store.evidence(id)).filter((e) => e.type === 'provisioned')).toHaveLength(1);
  });

  it('a grant failed by another task meanwhile is not scheduled for revocation', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });
    const racing = Object.assign(Object.create(dynamo.store) as typeof dynamo.store, {
      updateGrant: async (grantId: string) => {
        await dynamo.store.updateGrant(grantId, ['approved'], { status: 'failed', failure: 'timed out' });
        return undefined;
      },
    });

    expect(await provision({ ...deps, store: racing }, id)).toEqual({ grantId: id, scheduleRevocation: false, breakGlassReview: false });
  });

  it('a retry after a crash between the evidence and the write keeps the time the evidence shows', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });
    const crashing = Object.assign(Object.create(dynamo.store) as typeof dynamo.store, {
      updateGrant: async () => {
        throw new Error('process killed');
      },
    });
    await expect(provision({ ...deps, store: crashing }, id)).rejects.toThrow('process killed');
    clock.advance(10 * 60_000);

    expect(await provision(deps, id)).toEqual({ grantId: id, scheduleRevocation: true, breakGlassReview: false, expiresAt: '2026-03-03T09:00:00.000Z' });

    expect(await dynamo.store.getGrant(id)).toMatchObject({ grantedAt: '2026-03-02T09:00:00.000Z', expiresAt: '2026-03-03T09:00:00.000Z' });
    expect((await lastEvent(id, 'provisioned'))?.details.Expires).toBe('2026-03-03T09:00:00.000Z');
  });
});

describe('provisioning a manual app', () => {
  it("becomes the owner's task: active, with the expiry, and the evidence says it is not revoked automatically", async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1', app: 'legacy-erp', role: 'clerk', duration: 'P30D', approvers: [ERIN] });

    expect(await provision(deps, id)).toEqual({ grantId: id, scheduleRevocation: true, breakGlassReview: false, expiresAt: '2026-04-01T09:00:00.000Z' });

    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'active', grantedAt: '2026-03-02T09:00:00.000Z', expiresAt: '2026-04-01T09:00:00.000Z' });
    const event = await lastEvent(id, 'manual_task');
    expect(event).toMatchObject({ actor: 'grantline', via: 'system', summary: `manual task for ${ERIN}: give ${ELI} the clerk role in Legacy ERP` });
    expect(event?.details).toEqual({
      Owner: ERIN,
      Expires: '2026-04-01T09:00:00.000Z',
      Revocation: 'NOT automatically revocable: the owner must remove the access; Grantline will ask them at expiry',
    });
    expect(dmsToEli().at(-1)).toBe(`Your request ACC-1 was approved; ${ERIN} will set up Legacy ERP clerk by hand.`);
  });

  it('a permanent manual grant has nothing to schedule', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1', app: 'legacy-erp', role: 'clerk', duration: 'permanent', approvers: [ERIN] });

    expect(await provision(deps, id)).toEqual({ grantId: id, scheduleRevocation: false, breakGlassReview: false });

    expect((await dynamo.store.getGrant(id))?.expiresAt).toBeUndefined();
    expect((await lastEvent(id, 'manual_task'))?.details.Expires).toBe('never (permanent)');
  });

  it('a worker that loses the write to another one answers with the grant as the winner wrote it', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1', app: 'legacy-erp', role: 'clerk', duration: 'P30D', approvers: [ERIN] });
    const racing = Object.assign(Object.create(dynamo.store) as typeof dynamo.store, {
      updateGrant: async (...args: Parameters<typeof dynamo.store.updateGrant>) => {
        await dynamo.store.updateGrant(...args);
        return undefined;
      },
    });

    expect(await provision({ ...deps, store: racing }, id)).toEqual({
      grantId: id,
      scheduleRevocation: true,
      breakGlassReview: false,
      expiresAt: '2026-04-01T09:00:00.000Z',
    });
    expect((await dynamo.store.evidence(id)).filter((e) => e.type === 'manual_task')).toHaveLength(1);
  });
});

describe('recording a failure', () => {
  it('a plain-text cause loses its trailing full stop; the evidence names the error and the state before', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });
    clock.advance(1_000);

    await recordFailure(deps, { grantId: id, error: { Error: 'PermanentError', Cause: 'Okta has no group 00gfigmaeditor. \n' } });

    expect(await dynamo.store.getGrant(id)).toMatchObject({
      status: 'failed',
      failure: 'Okta has no group 00gfigmaeditor',
      updatedAt: '2026-03-02T09:00:01.000Z',
    });
    const event = await lastEvent(id, 'provisioning_failed');
    expect(event).toMatchObject({
      actor: 'grantline',
      via: 'okta',
      at: '2026-03-02T09:00:01.000Z',
      summary: 'could not complete the request: Okta has no group 00gfigmaeditor. Nothing was granted',
    });
    expect(event?.details).toEqual({ Error: 'PermanentError', 'State before failure': 'approved', 'Group membership': 'already_absent' });
    expect(dmsToEli().at(-1)).toBe('Your request ACC-1 could not be completed: Okta has no group 00gfigmaeditor. Nothing was granted.');
  });

  it('with no cause the error name is the reason; with neither, "unknown error"', async () => {
    const named = await approvedGrant(deps, { issueKey: 'ACC-1' });
    const unnamed = await approvedGrant(deps, { issueKey: 'ACC-2' });

    await recordFailure(deps, { grantId: named, error: { Error: 'States.Timeout' } });
    await recordFailure(deps, { grantId: unnamed, error: {} });

    expect((await dynamo.store.getGrant(named))?.failure).toBe('States.Timeout');
    expect((await dynamo.store.getGrant(unnamed))?.failure).toBe('unknown error');
    expect((await lastEvent(unnamed, 'provisioning_failed'))?.details.Error).toBe('unknown');
  });

  it('a JSON cause without a message is kept as it is', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });

    await recordFailure(deps, { grantId: id, error: { Error: 'Error', Cause: '{"errorMessage":42}' } });

    expect((await dynamo.store.getGrant(id))?.failure).toBe('{"errorMessage":42}');
  });

  it('a request that failed while waiting for approval touches no group, and says what state it was in', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1', approvers: [] });
    directory.groups.set(GROUP, new Set(['u-eli']));

    await recordFailure(deps, { grantId: id, error: { Error: 'PermanentError', Cause: 'Slack is gone' } });

    expect(members()).toEqual(['u-eli']);
    expect((await dynamo.store.getGrant(id))?.status).toBe('failed');
    expect((await lastEvent(id, 'provisioning_failed'))?.details).toEqual({ Error: 'PermanentError', 'State before failure': 'pending_approval' });
  });

  it('a manual app that fails has no group to give back', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1', app: 'legacy-erp', role: 'clerk', duration: 'P30D', approvers: [ERIN] });

    await recordFailure(deps, { grantId: id, error: { Error: 'PermanentError', Cause: 'no owner' } });

    const event = await lastEvent(id, 'provisioning_failed');
    expect(event?.via).toBe('system');
    expect(event?.details).toEqual({ Error: 'PermanentError', 'State before failure': 'approved' });
  });

  it('a subject who has no account any more: nothing to give back', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });
    delete directory.users[ELI];

    await recordFailure(deps, { grantId: id, error: { Error: 'PermanentError', Cause: 'gone' } });

    const event = await lastEvent(id, 'provisioning_failed');
    expect(event?.summary).toBe('could not complete the request: gone. Nothing was granted');
    expect(event?.details).toEqual({ Error: 'PermanentError', 'State before failure': 'approved', 'Group membership': 'already_absent' });
    expect(members()).toEqual([]);
  });

  it('an active grant is not failed, and its access stays', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });
    await provision(deps, id);

    await recordFailure(deps, { grantId: id, error: { Error: 'RetryableError', Cause: 'late' } });

    expect(members()).toEqual(['u-eli']);
    expect((await dynamo.store.getGrant(id))?.status).toBe('active');
    expect(await lastEvent(id, 'provisioning_failed')).toBeUndefined();
  });

  it('an unknown grant is ignored', async () => {
    await expect(recordFailure(deps, { grantId: 'no-such-grant', error: {} })).resolves.toBeUndefined();
  });
});

describe('races with other tasks', () => {
  it('a grant activated and revoked by others while this worker provisioned is not scheduled for revocation again', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });
    const racing = Object.assign(Object.create(dynamo.store) as typeof dynamo.store, {
      updateGrant: async (...args: Parameters<typeof dynamo.store.updateGrant>) => {
        await dynamo.store.updateGrant(...args);
        await dynamo.store.updateGrant(id, ['active'], { status: 'revoked', revokeReason: 'early_release' });
        return undefined;
      },
    });

    expect(await provision({ ...deps, store: racing }, id)).toEqual({
      grantId: id,
      scheduleRevocation: false,
      breakGlassReview: false,
      expiresAt: '2026-03-03T09:00:00.000Z',
    });
  });

  it('a failure recorded after the grant became active anyway does not tell the requester it failed', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });
    const racing = Object.assign(Object.create(dynamo.store) as typeof dynamo.store, {
      // The provisioning retry activates the grant between the failure's evidence and its write.
      updateGrant: async (...args: Parameters<typeof dynamo.store.updateGrant>) => {
        await provision(deps, id);
        return dynamo.store.updateGrant(...args);
      },
    });

    await recordFailure({ ...deps, store: racing }, { grantId: id, error: { Error: 'States.Timeout' } });

    expect((await dynamo.store.getGrant(id))?.status).toBe('active');
    expect(dmsToEli().filter((t) => t.includes('could not be completed'))).toEqual([]);
  });
});
