import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Approval, EvidenceEvent, Grant } from '../../shared/grants/model.js';
import type { Store } from '../../shared/store/store.js';
import { startDynamo, type TestDynamo } from '../support/dynamo.js';

const T0 = '2026-01-05T09:00:00.000Z';

let dynamo: TestDynamo;
let store: Store;

beforeEach(async () => {
  dynamo = await startDynamo();
  store = dynamo.store;
});
afterEach(async () => {
  await dynamo.close();
});

function grant(overrides: Partial<Grant> = {}): Grant {
  const id = overrides.id ?? 'grant-ACC-1';
  return {
    id,
    issueKey: 'ACC-1',
    requester: 'nina@example.com',
    subject: 'nina@example.com',
    app: 'billing',
    appName: 'Billing',
    role: 'admin',
    appOwner: 'owner@example.com',
    risk: 'high',
    provider: 'okta',
    groupId: 'grp-billing-admin',
    manual: false,
    duration: '8h',
    justification: 'incident INC-42',
    approvalTimeoutSeconds: 3600,
    status: 'requested',
    currentStep: 0,
    requestedAt: T0,
    executionName: id,
    source: 'jira',
    updatedAt: T0,
    ...overrides,
  };
}

function approval(overrides: Partial<Approval> = {}): Approval {
  return {
    grantId: 'grant-ACC-1',
    step: 0,
    status: 'pending',
    approvers: ['alice@example.com', 'bob@example.com'],
    taskToken: 'token-1',
    messages: [],
    requestedAt: T0,
    ...overrides,
  };
}

function event(overrides: Partial<EvidenceEvent> = {}): EvidenceEvent {
  return {
    grantId: 'grant-ACC-1',
    key: 'requested',
    type: 'requested',
    at: T0,
    actor: 'nina@example.com',
    via: 'jira',
    summary: 'Access requested',
    details: {},
    issueKey: 'ACC-1',
    ...overrides,
  };
}

const ids = (grants: Grant[]) => grants.map((g) => g.id);

describe('grants', () => {
  it('a duplicate webhook creates the grant once and does not overwrite it', async () => {
    expect(await store.createGrant(grant({ justification: 'incident INC-42' }))).toBe('created');
    expect(await store.createGrant(grant({ justification: 'something else', requester: 'mallory@example.com' }))).toBe('exists');

    const stored = await store.getGrant('grant-ACC-1');
    expect(stored).toEqual(grant({ justification: 'incident INC-42' }));
    expect(await store.grantsWithStatus(['requested'])).toHaveLength(1);
  });

  it('updateGrant changes a grant only from the expected status, once', async () => {
    await store.createGrant(grant());

    const first = await store.updateGrant('grant-ACC-1', ['requested'], { status: 'pending_approval', updatedAt: '2026-01-05T09:01:00.000Z' });
    expect(first).toMatchObject({ id: 'grant-ACC-1', status: 'pending_approval', updatedAt: '2026-01-05T09:01:00.000Z' });

    const second = await store.updateGrant('grant-ACC-1', ['requested'], { status: 'denied', denialReason: 'late', updatedAt: '2026-01-05T09:02:00.000Z' });
    expect(second).toBeUndefined();
    const stored = await store.getGrant('grant-ACC-1');
    expect(stored).toEqual(grant({ status: 'pending_approval', updatedAt: '2026-01-05T09:01:00.000Z' }));
    expect(stored?.denialReason).toBeUndefined();
  });

  it('updateGrant returns undefined for a grant that does not exist and creates nothing', async () => {
    expect(await store.updateGrant('grant-NOPE-1', ['requested'], { status: 'approved' })).toBeUndefined();
    expect(await store.getGrant('grant-NOPE-1')).toBeUndefined();
  });

  it('the step option guards against a stale approval step', async () => {
    await store.createGrant(grant({ status: 'pending_approval', currentStep: 0 }));

    expect(await store.updateGrant('grant-ACC-1', ['pending_approval'], { currentStep: 1 }, { step: 0 })).toMatchObject({ currentStep: 1 });
    // A late decision for step 0 arrives after the grant moved on to step 1.
    expect(await store.updateGrant('grant-ACC-1', ['pending_approval'], { status: 'approved', decidedBy: 'alice@example.com' }, { step: 0 })).toBeUndefined();

    const stored = await store.getGrant('grant-ACC-1');
    expect(stored).toMatchObject({ status: 'pending_approval', currentStep: 1 });
    expect(stored?.decidedBy).toBeUndefined();

    expect(await store.updateGrant('grant-ACC-1', ['pending_approval'], { status: 'approved', decidedBy: 'bob@example.com' }, { step: 1 })).toMatchObject({
      status: 'approved',
      decidedBy: 'bob@example.com',
    });
  });

  it('two concurrent revocations: exactly one revokes the grant', async () => {
    await store.createGrant(grant({ status: 'active', grantedAt: T0, expiresAt: '2026-01-05T17:00:00.000Z' }));

    const results = await Promise.all([
      store.updateGrant('grant-ACC-1', ['active'], { status: 'revoked', revokedAt: '2026-01-05T17:00:00.000Z', revokeReason: 'expired' }),
      store.updateGrant('grant-ACC-1', ['active'], { status: 'revoked', revokedAt: '2026-01-05T17:00:01.000Z', revokeReason: 'revoked by owner' }),
    ]);

    const winners = results.filter((r): r is Grant => r !== undefined);
    expect(winners).toHaveLength(1);
    const stored = await store.getGrant('grant-ACC-1');
    expect(stored).toMatchObject({ status: 'revoked', revokeReason: winners[0]?.revokeReason, revokedAt: winners[0]?.revokedAt });
  });

  it('grantsWithStatus lists the grants in the given statuses only', async () => {
    await store.createGrant(grant({ id: 'grant-ACC-1', status: 'requested' }));
    await store.createGrant(grant({ id: 'grant-ACC-2', status: 'pending_approval' }));
    await store.createGrant(grant({ id: 'grant-ACC-3', status: 'active' }));
    await store.createGrant(grant({ id: 'grant-ACC-4', status: 'revoked' }));
    // Non-grant items in the same partitions are not grants.
    await store.appendEvidence(event({ grantId: 'grant-ACC-1' }));
    await store.createApproval(approval({ grantId: 'grant-ACC-2' }));
    await store.putSchedule({ name: 'grant-ACC-3', at: '2026-01-05T17:00:00.000Z', grantId: 'grant-ACC-3' });

    expect(ids(await store.grantsWithStatus(['requested', 'pending_approval'])).sort()).toEqual(['grant-ACC-1', 'grant-ACC-2']);
    expect(ids(await store.grantsWithStatus(['active']))).toEqual(['grant-ACC-3']);
    expect(await store.grantsWithStatus(['failed'])).toEqual([]);
  });
});

describe('approvals', () => {
  it('double approval: exactly one decision wins and later ones change nothing', async () => {
    await store.createGrant(grant({ status: 'pending_approval' }));
    expect(await store.createApproval(approval())).toBe('created');
    expect(await store.createApproval(approval({ taskToken: 'token-2' }))).toBe('exists');

    expect(await store.pendingApprovalsFor('Alice@Example.com')).toEqual([{ grantId: 'grant-ACC-1', step: 0 }]);
    expect(await store.pendingApprovalsFor('bob@example.com')).toEqual([{ grantId: 'grant-ACC-1', step: 0 }]);

    const results = await Promise.all([
      store.decideApproval('grant-ACC-1', 0, { status: 'approved', by: 'alice@example.com', at: '2026-01-05T09:05:00.000Z', channel: 'slack' }),
      store.decideApproval('grant-ACC-1', 0, { status: 'denied', by: 'bob@example.com', at: '2026-01-05T09:05:00.001Z', channel: 'jira' }),
    ]);
    const winners = results.filter((r): r is Approval => r !== undefined);
    expect(winners).toHaveLength(1);
    const winner = winners[0];

    const stored = await store.getApproval('grant-ACC-1', 0);
    expect(stored).toMatchObject({
      status: winner?.status,
      decidedBy: winner?.decidedBy,
      decidedAt: winner?.decidedAt,
      channel: winner?.channel,
      taskToken: 'token-1',
    });
    // The stored decision is one of the two as a whole, never alice's vote with bob's name.
    expect([
      { status: 'approved', decidedBy: 'alice@example.com', channel: 'slack' },
      { status: 'denied', decidedBy: 'bob@example.com', channel: 'jira' },
    ]).toContainEqual({ status: stored?.status, decidedBy: stored?.decidedBy, channel: stored?.channel });

    expect(
      await store.decideApproval('grant-ACC-1', 0, { status: 'expired', by: 'scheduler', at: '2026-01-05T10:00:00.000Z', channel: 'timeout' }),
    ).toBeUndefined();
    expect(await store.getApproval('grant-ACC-1', 0)).toEqual(stored);

    expect(await store.pendingApprovalsFor('alice@example.com')).toEqual([]);
    expect(await store.pendingApprovalsFor('bob@example.com')).toEqual([]);
  });

  it('a decision on an approval that does not exist returns undefined', async () => {
    expect(await store.decideApproval('grant-ACC-1', 3, { status: 'approved', by: 'alice@example.com', at: T0, channel: 'slack' })).toBeUndefined();
    expect(await store.getApproval('grant-ACC-1', 3)).toBeUndefined();
  });
});

describe('evidence', () => {
  it('is append-only: the same key is written once and keeps the first event', async () => {
    const first = event({ key: 'approved#0', type: 'approved', actor: 'alice@example.com', via: 'slack', summary: 'Approved by alice' });
    expect(await store.appendEvidence(first)).toBe(true);
    expect(
      await store.appendEvidence(
        event({ key: 'approved#0', type: 'denied', actor: 'bob@example.com', via: 'jira', summary: 'Denied by bob', at: '2026-01-05T09:10:00.000Z' }),
      ),
    ).toBe(false);

    expect(await store.evidence('grant-ACC-1')).toEqual([first]);
    expect(await store.getEvidence('grant-ACC-1', 'approved#0')).toEqual(first);
  });

  it('lists a grant’s events in time order, lifecycle order within the same instant, and only that grant’s', async () => {
    await store.createGrant(grant());
    await store.appendEvidence(event({ key: 'revoked', type: 'revoked', at: '2026-01-05T17:00:00.000Z', summary: 'Revoked' }));
    await store.appendEvidence(event({ key: 'provisioned', type: 'provisioned', at: '2026-01-05T09:06:00.000Z', summary: 'Provisioned' }));
    await store.appendEvidence(event({ key: 'approved#0', type: 'approved', at: '2026-01-05T09:05:00.000Z', summary: 'Approved' }));
    await store.appendEvidence(event({ key: 'requested', type: 'requested', at: T0, summary: 'Requested' }));
    await store.appendEvidence(event({ key: 'approval_requested#0', type: 'approval_requested', at: T0, summary: 'Approval requested' }));
    await store.appendEvidence(event({ grantId: 'grant-ACC-2', issueKey: 'ACC-2', key: 'requested', at: T0, summary: 'Other grant' }));

    const events = await store.evidence('grant-ACC-1');
    expect(events.map((e) => e.type)).toEqual(['requested', 'approval_requested', 'approved', 'provisioned', 'revoked']);
    expect(events.every((e) => e.grantId === 'grant-ACC-1')).toBe(true);
  });
});

describe('indexes', () => {
  it('grantsOfUser finds a user’s grants whatever the email’s case; grantsOfApp finds an app’s grants', async () => {
    await store.createGrant(grant({ id: 'grant-ACC-1', subject: 'nina@example.com', app: 'billing', requestedAt: '2026-01-05T09:00:00.000Z' }));
    await store.createGrant(grant({ id: 'grant-ACC-2', subject: 'nina@example.com', app: 'crm', requestedAt: '2026-01-05T10:00:00.000Z' }));
    await store.createGrant(grant({ id: 'grant-ACC-3', subject: 'omar@example.com', app: 'billing', requestedAt: '2026-01-05T11:00:00.000Z' }));
    await store.appendEvidence(event({ grantId: 'grant-ACC-1' }));

    expect(ids(await store.grantsOfUser('Nina@Example.COM'))).toEqual(['grant-ACC-1', 'grant-ACC-2']);
    expect(ids(await store.grantsOfUser('omar@example.com'))).toEqual(['grant-ACC-3']);
    expect(await store.grantsOfUser('nobody@example.com')).toEqual([]);

    expect(ids(await store.grantsOfApp('billing'))).toEqual(['grant-ACC-1', 'grant-ACC-3']);
    expect(ids(await store.grantsOfApp('crm'))).toEqual(['grant-ACC-2']);
    // A grant read through an index is the grant, without the table's key attributes.
    expect((await store.grantsOfApp('crm'))[0]).toEqual(await store.getGrant('grant-ACC-2'));
  });

  it('activeGrantsIn lists only active grants of that provider, group and user, until revoked', async () => {
    await store.createGrant(grant({ id: 'grant-ACC-1', status: 'requested' }));
    await store.createGrant(grant({ id: 'grant-ACC-2', status: 'active', grantedAt: T0 }));
    await store.createGrant(grant({ id: 'grant-ACC-3', status: 'active', groupId: 'grp-billing-viewer' }));
    await store.createGrant(grant({ id: 'grant-ACC-4', status: 'active', subject: 'omar@example.com' }));
    await store.createGrant(grant({ id: 'grant-ACC-5', status: 'active', provider: 'entra' }));
    await store.createGrant(grant({ id: 'grant-ACC-6', status: 'revoked' }));

    expect(ids(await store.activeGrantsIn('okta', 'grp-billing-admin', 'Nina@example.com'))).toEqual(['grant-ACC-2']);

    // A grant that becomes active appears; once revoked it is no longer listed.
    await store.updateGrant('grant-ACC-1', ['requested'], { status: 'active', grantedAt: T0 });
    expect(ids(await store.activeGrantsIn('okta', 'grp-billing-admin', 'nina@example.com'))).toEqual(['grant-ACC-1', 'grant-ACC-2']);
    await store.updateGrant('grant-ACC-2', ['active'], { status: 'revoked', revokedAt: '2026-01-05T17:00:00.000Z' });
    await store.updateGrant('grant-ACC-1', ['active'], { status: 'revoked', revokedAt: '2026-01-05T17:00:00.000Z' });
    expect(await store.activeGrantsIn('okta', 'grp-billing-admin', 'nina@example.com')).toEqual([]);
    expect(ids(await store.activeGrantsIn('okta', 'grp-billing-viewer', 'nina@example.com'))).toEqual(['grant-ACC-3']);
  });

  it('expiringBefore lists only active grants expiring at or before the time, oldest first', async () => {
    await store.createGrant(grant({ id: 'grant-ACC-1', status: 'active', expiresAt: '2026-01-05T12:00:00.000Z' }));
    await store.createGrant(grant({ id: 'grant-ACC-2', status: 'active', expiresAt: '2026-01-05T10:00:00.000Z' }));
    await store.createGrant(grant({ id: 'grant-ACC-3', status: 'active', expiresAt: '2026-01-05T12:00:00.001Z' }));
    await store.createGrant(grant({ id: 'grant-ACC-4', status: 'approved', expiresAt: '2026-01-05T09:30:00.000Z' }));
    await store.createGrant(grant({ id: 'grant-ACC-5', status: 'revoked', expiresAt: '2026-01-05T09:30:00.000Z' }));
    await store.createGrant(grant({ id: 'grant-ACC-6', status: 'active', manual: true, provider: undefined, groupId: undefined }));

    expect(ids(await store.expiringBefore('2026-01-05T12:00:00.000Z'))).toEqual(['grant-ACC-2', 'grant-ACC-1']);
    expect(await store.expiringBefore('2026-01-05T09:59:59.999Z')).toEqual([]);

    await store.updateGrant('grant-ACC-2', ['active'], { status: 'revoked', revokedAt: '2026-01-05T10:00:00.000Z' });
    expect(ids(await store.expiringBefore('2026-01-05T13:00:00.000Z'))).toEqual(['grant-ACC-1', 'grant-ACC-3']);
  });
});

describe('schedules', () => {
  it('are created once, listed when due and removed when deleted', async () => {
    const morning = { name: 'grant-ACC-1', at: '2026-01-05T10:00:00.000Z', grantId: 'grant-ACC-1' };
    const evening = { name: 'grant-ACC-2', at: '2026-01-05T18:00:00.000Z', grantId: 'grant-ACC-2' };
    expect(await store.putSchedule(morning)).toBe('created');
    expect(await store.putSchedule({ ...morning, at: '2026-01-06T10:00:00.000Z' })).toBe('exists');
    expect(await store.putSchedule(evening)).toBe('created');
    expect(await store.getSchedule('grant-ACC-1')).toEqual(morning);

    expect(await store.dueSchedules('2026-01-05T09:59:59.999Z')).toEqual([]);
    expect(await store.dueSchedules('2026-01-05T10:00:00.000Z')).toEqual([morning]);
    expect(await store.dueSchedules('2026-01-05T18:00:00.000Z')).toEqual([morning, evening]);

    await store.deleteSchedule('grant-ACC-1');
    expect(await store.getSchedule('grant-ACC-1')).toBeUndefined();
    expect(await store.dueSchedules('2026-01-05T18:00:00.000Z')).toEqual([evening]);
    // Deleting a schedule that is gone is not an error.
    await store.deleteSchedule('grant-ACC-1');
  });
});

describe('Slack command receipts', () => {
  it('expire a day after the command, through the table time to live; ledger items carry no expiry', async () => {
    await store.commands.claim('trigger-1', '2026-01-05T09:00:00.000Z');
    await store.appendEvidence(event({ grantId: 'grant-ACC-1' }));

    const items = (await dynamo.client.send(new ScanCommand({ TableName: store.table }))).Items ?? [];
    const receipt = items.find((i) => i.pk?.S === 'COMMAND#trigger-1');
    expect(receipt?.expiresAtEpoch).toEqual({ N: String(Date.parse('2026-01-06T09:00:00.000Z') / 1000) });
    expect(items.filter((i) => i.expiresAtEpoch)).toHaveLength(1);
  });
});
