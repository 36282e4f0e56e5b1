/**
 * The grant lifecycle with an injected clock and small in-test port fakes (the ledger is dynalite):
 * timing rules an auditor checks, and the task functions' own idempotency.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ManualClock } from '../../shared/clock.js';
import { submitRequest } from '../../shared/intake.js';
import { advance, decide, requestApproval } from '../../shared/approval.js';
import { provision, recordFailure } from '../../shared/provisioning.js';
import { revoke, scheduleRevocation } from '../../shared/revocation.js';
import type { LifecycleDeps } from '../../shared/services.js';
import type { TestDynamo } from '../support/dynamo.js';
import { type Directory, ELI, MARIA, type Recorder, startUnitWorld } from '../support/fakes.js';

let dynamo: TestDynamo;
let clock: ManualClock;
let directory: Directory;
let ports: Recorder;
let deps: LifecycleDeps;

beforeEach(async () => {
  ({ dynamo, clock, directory, ports, deps } = await startUnitWorld());
});
afterEach(async () => dynamo.close());

async function approvedFigmaEditor(duration = 'PT24H') {
  const grant = await submitRequest(deps, {
    issueKey: 'ACC-1',
    requester: ELI,
    subject: ELI,
    app: 'figma',
    role: 'editor',
    duration,
    justification: 'design',
    source: 'jira',
  });
  expect((await advance(deps, grant.id)).next).toBe('approval');
  await requestApproval(deps, { grantId: grant.id, step: 0, taskToken: 'token-1' });
  clock.advance(10 * 60_000);
  expect(await decide(deps, { grantId: grant.id, step: 0, decision: 'approved', clickerEmail: MARIA, clickerRef: 'U-maria', via: 'slack' })).toEqual({
    outcome: 'recorded',
    decision: 'approved',
  });
  clock.advance(5_000);
  expect((await advance(deps, grant.id)).next).toBe('provision');
  return grant.id;
}

describe('grant lifecycle', () => {
  it('the decision completes the waiting task with the token kept in the ledger, and the message shows who decided', async () => {
    const id = await approvedFigmaEditor();
    expect(ports.completed).toEqual([{ token: 'token-1', decision: 'approved' }]);
    expect(ports.outcomes).toEqual([{ kind: 'approved', by: MARIA, at: '2026-03-02T09:10:00.000Z' }]);
    expect((await dynamo.store.getGrant(id))?.status).toBe('approved');
  });

  it('grant time is after decision time, and the expiry counts from the grant', async () => {
    const id = await approvedFigmaEditor('P30D');
    clock.advance(30_000);
    await provision(deps, id);
    const grant = (await dynamo.store.getGrant(id))!;
    expect(grant.decidedAt).toBe('2026-03-02T09:10:00.000Z');
    expect(grant.grantedAt).toBe('2026-03-02T09:10:35.000Z');
    expect(grant.expiresAt).toBe('2026-04-01T09:10:35.000Z');
    expect(new Date(grant.grantedAt!) > new Date(grant.decidedAt!)).toBe(true);
  });

  it('a re-driven approval keeps its original deadline instead of starting the clock again', async () => {
    const grant = await submitRequest(deps, {
      issueKey: 'ACC-2',
      requester: ELI,
      subject: ELI,
      app: 'salesforce',
      role: 'admin',
      duration: 'PT1H',
      justification: 'close',
      source: 'jira',
    });
    await advance(deps, grant.id);
    await requestApproval(deps, { grantId: grant.id, step: 0, taskToken: 'token-a' });
    clock.advance(3 * 3_600_000); // the catalog gives Salesforce admin 4 hours

    const next = await advance(deps, grant.id);

    expect(next).toMatchObject({ next: 'approval', step: 0, waitSeconds: 3_600, timer: 'deadline' });
  });

  it('provisioning twice adds the member once and records one provisioned event', async () => {
    const id = await approvedFigmaEditor();
    await provision(deps, id);
    await provision(deps, id);
    expect([...directory.groups.get('00gfigmaeditor')!]).toEqual(['u-eli']);
    expect((await dynamo.store.evidence(id)).filter((e) => e.type === 'provisioned')).toHaveLength(1);
  });

  it('scheduling twice keeps one schedule at the expiry; revoking twice removes once', async () => {
    const id = await approvedFigmaEditor();
    await provision(deps, id);
    await scheduleRevocation(deps, id);
    await scheduleRevocation(deps, id);
    expect(ports.schedules.get(id)?.toISOString()).toBe((await dynamo.store.getGrant(id))?.expiresAt);

    clock.advance(25 * 3_600_000);
    expect(await revoke(deps, { grantId: id, reason: 'expired' })).toEqual({ grantId: id, outcome: 'removed' });
    expect(await revoke(deps, { grantId: id, reason: 'expired' })).toEqual({ grantId: id, outcome: 'not_active' });
    const grant = (await dynamo.store.getGrant(id))!;
    expect(grant.scheduledRevocationAt).toBe(grant.expiresAt);
    expect(grant.revokedAt).toBe('2026-03-03T10:10:05.000Z');
  });

  it('a Lambda failure cause (JSON from Step Functions) becomes a plain sentence in the evidence', async () => {
    const id = await approvedFigmaEditor();
    const cause = JSON.stringify({ errorType: 'PermanentError', errorMessage: 'Okta has no group with id 00gfigmaeditor (found while adding).', trace: [] });
    await recordFailure(deps, { grantId: id, error: { Error: 'PermanentError', Cause: cause } });
    expect(ports.comments.at(-1)).toBe(
      'Grantline: could not complete the request: Okta has no group with id 00gfigmaeditor (found while adding). Nothing was granted',
    );
    expect((await dynamo.store.getGrant(id))?.failure).toBe('Okta has no group with id 00gfigmaeditor (found while adding)');
  });

  it('one approver Slack refuses: the others are asked, the refusal is in the evidence, and the request goes on (issue 7 defect 6)', async () => {
    ports.refusesDm.add('U-sasha.sec@example.com');
    const grant = await submitRequest(deps, {
      issueKey: 'ACC-7',
      requester: ELI,
      subject: ELI,
      app: 'admin-console',
      role: 'break-glass',
      duration: 'PT1H',
      justification: 'incident',
      source: 'jira',
    });
    await advance(deps, grant.id);

    await requestApproval(deps, { grantId: grant.id, step: 0, taskToken: 'token-7' });
    const answer = await decide(deps, {
      grantId: grant.id,
      step: 0,
      decision: 'approved',
      clickerEmail: 'sam.sec@example.com',
      clickerRef: 'U-sam',
      via: 'slack',
    });

    expect(answer).toEqual({ outcome: 'recorded', decision: 'approved' });
    expect((await dynamo.store.getApproval(grant.id, 0))?.messages.map((m) => m.approver)).toEqual(['sam.sec@example.com']);
    const asked = (await dynamo.store.evidence(grant.id)).find((e) => e.type === 'approval_requested');
    expect(asked?.details['Not reachable in Slack']).toContain('sasha.sec@example.com (Slack refused the message');
    expect((await advance(deps, grant.id)).next).toBe('provision');
  });

  it('when no approver can be reached the approval task fails for good instead of waiting for a click that cannot come', async () => {
    ports.refusesDm.add('U-sam.sec@example.com');
    ports.refusesDm.add('U-sasha.sec@example.com');
    const grant = await submitRequest(deps, {
      issueKey: 'ACC-8',
      requester: ELI,
      subject: ELI,
      app: 'admin-console',
      role: 'break-glass',
      duration: 'PT1H',
      justification: 'incident',
      source: 'jira',
    });
    await advance(deps, grant.id);

    await expect(requestApproval(deps, { grantId: grant.id, step: 0, taskToken: 'token-8' })).rejects.toThrow(
      'none of the approvers of step 1 can be reached in Slack',
    );
  });

  it('a click on a request that is no longer waiting (it failed) is refused and recorded, and changes nothing', async () => {
    const grant = await submitRequest(deps, {
      issueKey: 'ACC-9',
      requester: ELI,
      subject: ELI,
      app: 'figma',
      role: 'editor',
      duration: 'PT24H',
      justification: 'design',
      source: 'jira',
    });
    await advance(deps, grant.id);
    await requestApproval(deps, { grantId: grant.id, step: 0, taskToken: 'token-9' });
    await recordFailure(deps, { grantId: grant.id, error: { Error: 'PermanentError', Cause: 'Slack is gone' } });

    const answer = await decide(deps, { grantId: grant.id, step: 0, decision: 'approved', clickerEmail: MARIA, clickerRef: 'U-maria', via: 'slack' });

    expect(answer).toEqual({ outcome: 'refused', reason: 'this request is no longer waiting for a decision (it is failed)' });
    expect((await dynamo.store.getApproval(grant.id, 0))?.status).toBe('pending');
    expect((await dynamo.store.evidence(grant.id)).map((e) => e.type)).toContain('approval_refused');
    expect((await dynamo.store.evidence(grant.id)).map((e) => e.type)).not.toContain('approved');
    expect(ports.completed).toEqual([]);
  });
});
