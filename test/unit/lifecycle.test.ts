/**
 * The grant lifecycle with an injected clock and small in-test port fakes (the ledger is dynalite):
 * timing rules an auditor checks, and the task functions' own idempotency.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config.js';
import { ManualClock } from '../../shared/clock.js';
import { submitRequest } from '../../shared/intake.js';
import { advance, decide, provision, recordFailure, requestApproval, revoke, scheduleRevocation, type LifecycleDeps } from '../../shared/lifecycle.js';
import { silentLogger } from '../../shared/logger.js';
import type { ApprovalOutcome, Chat, IdentityProvider, IdpUser, RevocationScheduler, Ticketing, WorkflowRuntime } from '../../shared/ports.js';
import { startDynamo, type TestDynamo } from '../support/dynamo.js';
import { testCatalog } from '../support/harness.js';

const ELI = 'eli.engineer@example.com';
const MARIA = 'maria.manager@example.com';

class Directory implements IdentityProvider {
  readonly name = 'okta' as const;
  readonly groups = new Map<string, Set<string>>();
  users: Record<string, IdpUser> = {
    [ELI]: { id: 'u-eli', email: ELI, active: true, managerEmail: MARIA },
    [MARIA]: { id: 'u-maria', email: MARIA, active: true },
  };
  async findUserByEmail(email: string) {
    return this.users[email.toLowerCase()];
  }
  async isMember(groupId: string, userId: string) {
    return this.groups.get(groupId)?.has(userId) ?? false;
  }
  async addMember(groupId: string, userId: string) {
    const members = this.groups.get(groupId) ?? new Set<string>();
    this.groups.set(groupId, members);
    if (members.has(userId)) return 'already_member' as const;
    members.add(userId);
    return 'added' as const;
  }
  async removeMember(groupId: string, userId: string) {
    return this.groups.get(groupId)?.delete(userId) ? ('removed' as const) : ('already_absent' as const);
  }
  async listGroups() {
    return [];
  }
  async listMembers(groupId: string) {
    return [...(this.groups.get(groupId) ?? [])].map((id) => ({ id, email: Object.values(this.users).find((u) => u.id === id)?.email ?? '' }));
  }
  async testConnection() {}
}

class Recorder implements Ticketing, Chat, RevocationScheduler, WorkflowRuntime {
  readonly comments: string[] = [];
  readonly schedules = new Map<string, Date>();
  readonly completed: Array<{ token: string; decision: string }> = [];
  readonly outcomes: ApprovalOutcome[] = [];
  async addComment(_issueKey: string, comment: { title: string }) {
    this.comments.push(comment.title);
  }
  async transition() {
    return true;
  }
  async userEmail() {
    return undefined;
  }
  async createIssue() {
    return { key: 'ACC-99' };
  }
  async syncFieldOptions() {
    return { added: [], enabled: [], disabled: [], unchanged: [] };
  }
  async userIdByEmail(email: string) {
    return `U-${email}`;
  }
  async emailOfUser(userId: string) {
    return userId.replace(/^U-/, '');
  }
  async postApprovalRequest(userId: string) {
    return { channel: `D-${userId}`, ts: '1.1' };
  }
  async showOutcome(_ref: unknown, _prompt: unknown, outcome: ApprovalOutcome) {
    this.outcomes.push(outcome);
  }
  async notify() {}
  async schedule(grantId: string, at: Date) {
    const exists = this.schedules.has(grantId);
    this.schedules.set(grantId, at);
    return exists ? ('exists' as const) : ('created' as const);
  }
  async cancel(grantId: string) {
    this.schedules.delete(grantId);
  }
  async start() {
    return 'started' as const;
  }
  async completeApproval(token: string, output: { decision: string }) {
    this.completed.push({ token, decision: output.decision });
    return 'delivered' as const;
  }
}

let dynamo: TestDynamo;
let clock: ManualClock;
let directory: Directory;
let ports: Recorder;
let deps: LifecycleDeps;

beforeEach(async () => {
  dynamo = await startDynamo();
  clock = new ManualClock(new Date('2026-03-02T09:00:00.000Z'));
  directory = new Directory();
  ports = new Recorder();
  deps = {
    config: parseConfig({}),
    clock,
    logger: silentLogger,
    store: dynamo.store,
    catalog: testCatalog(),
    ticketing: ports,
    chat: ports,
    idp: () => directory,
    scheduler: ports,
    workflow: ports,
  };
});
afterEach(async () => dynamo.close());

async function approvedFigmaEditor(duration = 'PT24H') {
  const grant = await submitRequest(deps, { issueKey: 'ACC-1', requester: ELI, subject: ELI, app: 'figma', role: 'editor', duration, justification: 'design', source: 'jira' });
  expect((await advance(deps, grant.id)).next).toBe('approval');
  await requestApproval(deps, { grantId: grant.id, step: 0, taskToken: 'token-1' });
  clock.advance(10 * 60_000);
  expect(await decide(deps, { grantId: grant.id, step: 0, decision: 'approved', clickerEmail: MARIA, clickerRef: 'U-maria', via: 'slack' })).toEqual({ outcome: 'recorded', decision: 'approved' });
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
    const grant = await submitRequest(deps, { issueKey: 'ACC-2', requester: ELI, subject: ELI, app: 'salesforce', role: 'admin', duration: 'PT1H', justification: 'close', source: 'jira' });
    await advance(deps, grant.id);
    await requestApproval(deps, { grantId: grant.id, step: 0, taskToken: 'token-a' });
    clock.advance(3 * 3_600_000); // the catalog gives Salesforce admin 4 hours

    const next = await advance(deps, grant.id);

    expect(next).toMatchObject({ next: 'approval', step: 0, approvalTimeoutSeconds: 3_600 });
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
    expect(ports.comments.at(-1)).toBe('Grantline: could not complete the request: Okta has no group with id 00gfigmaeditor (found while adding). Nothing was granted');
    expect((await dynamo.store.getGrant(id))?.failure).toBe('Okta has no group with id 00gfigmaeditor (found while adding)');
  });
});
