/**
 * Approval (shared/approval.ts), as the people involved see it: who is asked in Slack, what a
 * click answers, the grant's status, the requester's DM and the evidence on the Jira issue.
 * Written against the mutants `npm run mutate` found surviving.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advance, decide, expireApproval, requestApproval } from '../../shared/approval.js';
import type { ManualClock } from '../../shared/clock.js';
import { PermanentError, RetryableError } from '../../shared/errors.js';
import type { Approval, EvidenceEvent } from '../../shared/grants/model.js';
import { submitRequest } from '../../shared/intake.js';
import type { ApprovalOutcome, ApprovalPrompt, Chat, ChatMessageRef } from '../../shared/ports.js';
import { provision, recordFailure } from '../../shared/provisioning.js';
import type { LifecycleDeps } from '../../shared/services.js';
import type { TestDynamo } from '../support/dynamo.js';
import { approvedGrant, type Directory, ELI, MARIA, type Recorder, startUnitWorld } from '../support/fakes.js';
import { testCatalog } from '../support/harness.js';

const OMAR = 'omar.owner@example.com';
const SAM = 'sam.sec@example.com';
const SASHA = 'sasha.sec@example.com';
const NINA = 'nina.newhire@example.com';

let dynamo: TestDynamo;
let clock: ManualClock;
let directory: Directory;
let ports: Recorder;
let deps: LifecycleDeps;

beforeEach(async () => {
  ({ dynamo, clock, directory, ports, deps } = await startUnitWorld());
});
afterEach(async () => dynamo.close());

async function request(issueKey: string, app = 'figma', role = 'editor', duration = 'PT24H', subject = ELI): Promise<string> {
  const grant = await submitRequest(deps, { issueKey, requester: ELI, subject, app, role, duration, justification: 'design', source: 'jira' });
  return grant.id;
}

async function events(grantId: string, type: string): Promise<EvidenceEvent[]> {
  return (await dynamo.store.evidence(grantId)).filter((e) => e.type === type);
}

/** A request whose comment Jira did not take (503) at intake; Jira is back afterwards. */
async function requestWhileJiraIsDown(...args: Parameters<typeof request>): Promise<string> {
  const addComment = ports.addComment.bind(ports);
  ports.addComment = async () => {
    throw new RetryableError('Jira answered 503');
  };
  const id = await request(...args);
  ports.addComment = addComment;
  expect(ports.comments).toEqual([]);
  return id;
}

function dmsToEli(): string[] {
  return ports.notices.filter((n) => n.to === `U-${ELI}`).map((n) => n.text);
}

function click(grantId: string, who: string | undefined, decision: 'approved' | 'denied' = 'approved', step = 0) {
  return decide(deps, { grantId, step, decision, clickerEmail: who, clickerRef: `U-${who ?? 'anon'}`, via: 'slack' });
}

describe('planning', () => {
  it('a role the catalog approves automatically goes straight to provisioning, and the evidence says why', async () => {
    const id = await request('ACC-1', 'figma', 'viewer', 'permanent');

    expect(await advance(deps, id)).toEqual({ grantId: id, next: 'provision', step: 0, waitSeconds: 86_400, timer: 'deadline' });

    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'approved', decidedBy: 'policy', decidedAt: '2026-03-02T09:00:00.000Z' });
    const [auto] = await events(id, 'auto_approved');
    expect(auto).toMatchObject({ actor: 'policy', via: 'policy', summary: 'approved automatically by policy' });
    expect(auto?.details).toEqual({ Reason: 'Figma viewer is a low-risk role the catalog approves automatically' });
  });

  it('a manager approval asks the manager the identity provider names', async () => {
    const id = await request('ACC-1');

    expect(await advance(deps, id)).toEqual({ grantId: id, next: 'approval', step: 0, waitSeconds: 86_400, timer: 'deadline' });

    const grant = (await dynamo.store.getGrant(id))!;
    expect(grant).toMatchObject({ status: 'pending_approval', currentStep: 0 });
    expect(grant.steps).toEqual([{ kind: 'manager', approvers: [MARIA], reason: `manager of ${ELI} (from okta)` }]);
  });

  it('a suspended subject is denied before anyone is asked; the requester hears why', async () => {
    directory.users[ELI] = { ...directory.users[ELI]!, active: false };
    const id = await request('ACC-1');

    expect((await advance(deps, id)).next).toBe('end');

    const reason = `${ELI}'s okta account is deactivated or suspended`;
    expect(await dynamo.store.getGrant(id)).toMatchObject({
      status: 'denied',
      denialReason: reason,
      decidedBy: 'policy',
      decidedAt: '2026-03-02T09:00:00.000Z',
    });
    const [denied] = await events(id, 'denied');
    expect(denied).toMatchObject({
      key: 'denied#policy',
      actor: 'policy',
      via: 'policy',
      summary: `denied: ${reason}`,
      transitionTo: deps.config.JIRA_STATUS_DENIED,
    });
    expect(denied?.details).toEqual({ Reason: reason });
    expect(dmsToEli()).toEqual([`Your request ACC-1 for Figma editor was denied: ${reason}.`]);
  });

  it('a role removed from the catalog since the request is denied', async () => {
    const id = await request('ACC-1');
    deps = {
      ...deps,
      catalog: testCatalog((t) =>
        t.replace('      editor:\n        description: Edit files in team projects', '      designer:\n        description: Edit files in team projects'),
      ),
    };

    expect((await advance(deps, id)).next).toBe('end');

    expect((await dynamo.store.getGrant(id))?.denialReason).toBe('figma editor is no longer in the catalog');
  });

  it('a request nobody may approve is denied by policy', async () => {
    const id = await request('ACC-1', 'figma', 'editor', 'PT24H', MARIA);

    expect((await advance(deps, id)).next).toBe('end');

    expect((await dynamo.store.getGrant(id))?.denialReason).toBe(
      `approval step 1 (manager) has no eligible approver: no manager is known for ${MARIA}; the requester and the subject cannot approve`,
    );
  });

  it('a deactivated approver is dropped from the step, and the step says so', async () => {
    directory.users[SAM] = { id: 'u-sam', email: SAM, active: false };
    const id = await request('ACC-1', 'admin-console', 'break-glass', 'PT1H');

    await advance(deps, id);

    expect((await dynamo.store.getGrant(id))?.steps).toEqual([
      { kind: 'group', approvers: [SASHA], reason: `member of approver group security-oncall; ${SAM} deactivated in okta, so cannot approve` },
    ]);
  });

  it('when every approver of a step is deactivated the request is denied', async () => {
    directory.users[SAM] = { id: 'u-sam', email: SAM, active: false };
    directory.users[SASHA] = { id: 'u-sasha', email: SASHA, active: false };
    const id = await request('ACC-1', 'admin-console', 'break-glass', 'PT1H');

    expect((await advance(deps, id)).next).toBe('end');

    expect((await dynamo.store.getGrant(id))?.denialReason).toBe(
      `approval step 1 has no eligible approver: member of approver group security-oncall; ${SAM}, ${SASHA} deactivated in okta, so cannot approve`,
    );
  });

  it('a role the owner grants by hand needs no identity-provider account: the owner is asked', async () => {
    const contractor = 'carl.contractor@example.com';
    const id = await request('ACC-1', 'legacy-erp', 'clerk', 'P30D', contractor);

    expect(await advance(deps, id)).toMatchObject({ next: 'approval', step: 0 });

    expect(await dynamo.store.getGrant(id)).toMatchObject({
      status: 'pending_approval',
      steps: [{ kind: 'app_owner', approvers: ['erin.erp@example.com'], reason: 'owner of Legacy ERP' }],
    });
  });

  it('an automatic approval goes to provisioning without waiting on Jira: the issue hears of it after the add', async () => {
    const id = await requestWhileJiraIsDown('ACC-1', 'figma', 'viewer', 'permanent');
    const commentsAtAdd: string[][] = [];
    const add = directory.addMember.bind(directory);
    directory.addMember = async (groupId: string, userId: string) => {
      commentsAtAdd.push([...ports.comments]);
      return add(groupId, userId);
    };

    expect((await advance(deps, id)).next).toBe('provision');
    await provision(deps, id);

    expect(commentsAtAdd).toEqual([[]]);
    expect(ports.comments.slice(0, 2)).toEqual([`Grantline: ${ELI} requested Figma viewer for ${ELI}`, 'Grantline: approved automatically by policy']);
  });

  it('a request Jira could not take at intake reaches the issue once the workflow waits for approval', async () => {
    const id = await requestWhileJiraIsDown('ACC-1');

    expect((await advance(deps, id)).next).toBe('approval');

    expect(ports.comments).toEqual([`Grantline: ${ELI} requested Figma editor for ${ELI}`]);
  });

  it('advancing a grant twice plans it once', async () => {
    const id = await request('ACC-1');
    await advance(deps, id);
    clock.advance(60_000);

    expect(await advance(deps, id)).toMatchObject({ next: 'approval', step: 0 });
    expect((await dynamo.store.getGrant(id))?.updatedAt).toBe('2026-03-02T09:00:00.000Z');
  });
});

describe('asking in Slack', () => {
  it('DMs the approvers, moves the issue to waiting, and records who was asked and until when', async () => {
    const id = await request('ACC-1');
    await advance(deps, id);
    clock.advance(1_000);

    await requestApproval(deps, { grantId: id, step: 0, taskToken: 'token-1' });

    const approval = (await dynamo.store.getApproval(id, 0))!;
    expect(approval).toMatchObject({ status: 'pending', approvers: [MARIA], taskToken: 'token-1', requestedAt: '2026-03-02T09:00:01.000Z' });
    expect(approval.messages).toEqual([{ approver: MARIA, channel: `D-U-${MARIA}`, ts: '1.1' }]);
    const [asked] = await events(id, 'approval_requested');
    expect(asked).toMatchObject({
      key: 'approval_requested#0',
      actor: 'grantline',
      via: 'slack',
      at: '2026-03-02T09:00:01.000Z',
      summary: `approval asked of ${MARIA} (step 1 of 1)`,
      transitionTo: deps.config.JIRA_STATUS_AWAITING_APPROVAL,
    });
    expect(asked?.details).toEqual({
      Approvers: MARIA,
      Why: `manager of ${ELI} (from okta)`,
      Deadline: '2026-03-03T09:00:01.000Z (denied if nobody decides by then)',
    });
  });

  it('an approver with no Slack account is skipped and named in the evidence', async () => {
    ports.userIdByEmail = async (email: string) => (email === SAM ? undefined : `U-${email}`);
    const id = await request('ACC-1', 'admin-console', 'break-glass', 'PT1H');
    await advance(deps, id);

    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't' });

    expect((await dynamo.store.getApproval(id, 0))?.messages.map((m) => m.approver)).toEqual([SASHA]);
    expect((await events(id, 'approval_requested'))[0]?.details['Not reachable in Slack']).toBe(`${SAM} (no Slack account with this email)`);
  });

  it('nobody reachable: the task fails for good, naming each approver and why', async () => {
    ports.userIdByEmail = async () => undefined;
    const id = await request('ACC-1');
    await advance(deps, id);

    await expect(requestApproval(deps, { grantId: id, step: 0, taskToken: 't' })).rejects.toThrow(
      `none of the approvers of step 1 can be reached in Slack (${MARIA}: no Slack account with this email)`,
    );
  });

  it('Slack unavailable (a retryable fault) fails the task for a retry, which asks nobody twice', async () => {
    const id = await request('ACC-1', 'admin-console', 'break-glass', 'PT1H');
    await advance(deps, id);
    const post = ports.postApprovalRequest.bind(ports);
    let calls = 0;
    ports.postApprovalRequest = async (userId: string) => {
      calls += 1;
      if (calls === 2) throw new RetryableError('Slack answered 503');
      return post(userId);
    };

    await expect(requestApproval(deps, { grantId: id, step: 0, taskToken: 't1' })).rejects.toThrow(RetryableError);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't2' });

    expect(calls).toBe(3);
    expect((await dynamo.store.getApproval(id, 0))?.messages.map((m) => m.approver)).toEqual([SAM, SASHA]);
    expect((await dynamo.store.getApproval(id, 0))?.taskToken).toBe('t2');
  });

  it('a re-driven task for a step already decided releases the workflow at once', async () => {
    const id = await request('ACC-1');
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 'first' });
    await click(id, MARIA, 'denied');

    await requestApproval(deps, { grantId: id, step: 0, taskToken: 'redriven' });

    expect(ports.completed).toEqual([
      { token: 'first', decision: 'denied' },
      { token: 'redriven', decision: 'denied' },
    ]);
  });

  it('a re-driven task for an approved step answers approved', async () => {
    const id = await request('ACC-1');
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 'first' });
    await click(id, MARIA);

    await requestApproval(deps, { grantId: id, step: 0, taskToken: 'redriven' });

    expect(ports.completed.at(-1)).toEqual({ token: 'redriven', decision: 'approved' });
  });

  it('a task for a step the grant is not waiting on fails for good', async () => {
    const id = await request('ACC-1');
    await advance(deps, id);

    await expect(requestApproval(deps, { grantId: id, step: 1, taskToken: 't' })).rejects.toThrow(
      new PermanentError(`grant ${id} is pending_approval at step 0, not waiting for approval step 1`),
    );
    const auto = await request('ACC-2', 'figma', 'viewer', 'permanent');
    await advance(deps, auto);
    await expect(requestApproval(deps, { grantId: auto, step: 0, taskToken: 't' })).rejects.toThrow(PermanentError);
  });

  it('a task for a request that failed before its approvers were asked asks nobody', async () => {
    const id = await request('ACC-1');
    await advance(deps, id);
    await recordFailure(deps, { grantId: id, error: { Error: 'PermanentError', Cause: 'Jira is gone' } });

    await expect(requestApproval(deps, { grantId: id, step: 0, taskToken: 't' })).rejects.toThrow(
      new PermanentError(`grant ${id} is failed at step 0, not waiting for approval step 0`),
    );
    expect(await dynamo.store.getApproval(id, 0)).toBeUndefined();
    expect(await events(id, 'approval_requested')).toEqual([]);
  });

  it('the DM tells the approver who asks, for whom, what, for how long and why', async () => {
    directory.users[NINA] = { id: 'u-nina', email: NINA, active: true };
    const prompts: Array<{ userId: string; prompt: ApprovalPrompt }> = [];
    const chat: Chat = Object.assign(Object.create(ports) as Recorder, {
      postApprovalRequest: async (userId: string, prompt: ApprovalPrompt) => {
        prompts.push({ userId, prompt });
        return ports.postApprovalRequest(userId);
      },
    });
    const id = await request('ACC-1', 'figma', 'editor', 'PT24H', NINA);
    await advance(deps, id);

    await requestApproval({ ...deps, chat }, { grantId: id, step: 0, taskToken: 't' });

    expect(prompts).toEqual([
      {
        userId: `U-${MARIA}`,
        prompt: {
          grantId: id,
          step: 0,
          issueKey: 'ACC-1',
          requesterEmail: ELI,
          subjectEmail: NINA,
          app: 'Figma',
          role: 'editor',
          duration: 'PT24H',
          justification: 'design',
          risk: 'medium',
        },
      },
    ]);
  });

  it('a task for the second step while the first is still open fails for good and asks nobody', async () => {
    const id = await request('ACC-1', 'salesforce', 'admin', 'PT1H');
    await advance(deps, id);

    await expect(requestApproval(deps, { grantId: id, step: 1, taskToken: 't1' })).rejects.toThrow(
      new PermanentError(`grant ${id} is pending_approval at step 0, not waiting for approval step 1`),
    );
    expect(await dynamo.store.getApproval(id, 1)).toBeUndefined();
    expect(await events(id, 'approval_requested')).toEqual([]);
  });

  it('a task that starts while an earlier attempt is creating the approval takes it over: the click releases the newer task', async () => {
    const id = await request('ACC-1');
    await advance(deps, id);
    const racing = Object.assign(Object.create(dynamo.store) as TestDynamo['store'], {
      createApproval: async (approval: Approval) => {
        await dynamo.store.createApproval({ ...approval, taskToken: 'earlier' });
        return dynamo.store.createApproval(approval);
      },
    });

    await requestApproval({ ...deps, store: racing }, { grantId: id, step: 0, taskToken: 'newer' });
    await click(id, MARIA);

    expect(ports.completed).toEqual([{ token: 'newer', decision: 'approved' }]);
  });

  it('a re-driven wait keeps the deadline, and one already past waits a second', async () => {
    const id = await request('ACC-1');
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't' });
    clock.advance(3_600_000 + 500);

    expect((await advance(deps, id)).waitSeconds).toBe(82_800);
    clock.advance(86_400_000);
    expect((await advance(deps, id)).waitSeconds).toBe(1);
  });
});

describe('a click', () => {
  async function waiting(issueKey = 'ACC-1'): Promise<string> {
    const id = await request(issueKey);
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: `token-${issueKey}` });
    return id;
  }

  it('an approval is recorded, released to the workflow and shown on the message; the grant is approved', async () => {
    const id = await waiting();
    clock.advance(60_000);

    expect(await click(id, MARIA)).toEqual({ outcome: 'recorded', decision: 'approved' });
    const [approved] = await events(id, 'approved');
    expect(approved).toMatchObject({ key: 'approved#0', actor: MARIA, via: 'slack', summary: `approved by ${MARIA} in Slack (step 1 of 1)` });
    expect(approved?.transitionTo).toBeUndefined();
    expect(approved?.details).toEqual({ Approver: MARIA, Step: '1 of 1' });
    expect(ports.comments).not.toContain(`Grantline: approved by ${MARIA} in Slack (step 1 of 1)`);

    clock.advance(5_000);
    expect((await advance(deps, id)).next).toBe('provision');
    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'approved', decidedBy: MARIA, decidedAt: '2026-03-02T09:01:00.000Z' });
    expect(ports.comments).toContain(`Grantline: approved by ${MARIA} in Slack (step 1 of 1)`);
  });

  it('a decision in Jira says so', async () => {
    const id = await waiting();

    await decide(deps, { grantId: id, step: 0, decision: 'approved', clickerEmail: MARIA, clickerRef: 'jira-maria', via: 'jira' });

    expect((await events(id, 'approved'))[0]).toMatchObject({ via: 'jira', summary: `approved by ${MARIA} in Jira (step 1 of 1)` });
  });

  it('a denial closes the request, moves the issue and tells the requester', async () => {
    const id = await waiting();

    expect(await click(id, MARIA, 'denied')).toEqual({ outcome: 'recorded', decision: 'denied' });
    expect((await events(id, 'denied'))[0]).toMatchObject({ key: 'denied#0', transitionTo: deps.config.JIRA_STATUS_DENIED });
    expect((await advance(deps, id)).next).toBe('end');

    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'denied', denialReason: `denied by ${MARIA} (step 1)`, decidedBy: MARIA });
    expect(ports.outcomes).toEqual([{ kind: 'denied', by: MARIA, at: '2026-03-02T09:00:00.000Z' }]);
    expect(dmsToEli()).toEqual([`Your request ACC-1 for Figma editor was denied: denied by ${MARIA} (step 1).`]);
  });

  it('from someone Slack cannot name, the requester, or a stranger: refused, recorded, not delivered yet', async () => {
    const id = await waiting();

    expect(await click(id, undefined)).toEqual({
      outcome: 'refused',
      reason: 'Grantline cannot see your email address in Slack, so it cannot check that you are the approver',
    });
    expect(await click(id, ELI)).toEqual({ outcome: 'refused', reason: 'you cannot approve a request you made or that gives you access' });
    expect(await click(id, OMAR, 'denied')).toEqual({ outcome: 'refused', reason: `only ${MARIA} can decide this step` });

    const refused = await events(id, 'approval_refused');
    expect(refused.map((e) => e.actor)).toEqual(['slack user U-anon', ELI, OMAR]);
    expect(refused[0]?.summary).toBe(
      'refused a decision by Slack user U-anon: Grantline cannot see your email address in Slack, so it cannot check that you are the approver',
    );
    expect(refused[2]?.details).toEqual({ Attempted: 'denied', Step: '1' });
    expect(ports.comments.filter((c) => c.includes('refused'))).toEqual([]);
    expect((await dynamo.store.getApproval(id, 0))?.status).toBe('pending');
    expect(ports.completed).toEqual([]);
  });

  it('the subject of a request made by someone else cannot approve it either', async () => {
    directory.users['nina.newhire@example.com'] = { id: 'u-nina', email: 'nina.newhire@example.com', active: true };
    const id = await request('ACC-1', 'figma', 'editor', 'PT24H', 'nina.newhire@example.com');
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't' });

    expect(await click(id, 'nina.newhire@example.com')).toMatchObject({
      outcome: 'refused',
      reason: 'you cannot approve a request you made or that gives you access',
    });
  });

  it('the requester of a request for someone else cannot approve it', async () => {
    directory.users[NINA] = { id: 'u-nina', email: NINA, active: true };
    const id = await request('ACC-1', 'figma', 'editor', 'PT24H', NINA);
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't' });

    expect(await click(id, ELI)).toEqual({ outcome: 'refused', reason: 'you cannot approve a request you made or that gives you access' });
  });

  it('a denial is dated when it was clicked, not when the workflow closed the request', async () => {
    const id = await waiting();
    clock.advance(60_000);
    await click(id, MARIA, 'denied');
    clock.advance(300_000);

    await advance(deps, id);

    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'denied', decidedBy: MARIA, decidedAt: '2026-03-02T09:01:00.000Z' });
  });

  it('a decision whose evidence was lost in a crash is recorded by the next step, dated when it was clicked', async () => {
    const id = await waiting();
    clock.advance(60_000);
    // The click's ledger write, then the crash before its evidence.
    await dynamo.store.decideApproval(id, 0, { status: 'denied', by: MARIA, at: clock.now().toISOString(), channel: 'slack' });
    clock.advance(300_000);

    await advance(deps, id);

    expect(await events(id, 'denied')).toMatchObject([
      { key: 'denied#0', actor: MARIA, at: '2026-03-02T09:01:00.000Z', summary: `denied by ${MARIA} in Slack (step 1 of 1)` },
    ]);
  });

  it('a click on a step nobody has been asked about yet is refused and changes nothing', async () => {
    const id = await request('ACC-1', 'salesforce', 'admin', 'PT1H');
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't0' });

    expect(await click(id, OMAR, 'approved', 1)).toEqual({ outcome: 'refused', reason: 'this request is unknown to Grantline' });
    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'pending_approval', currentStep: 0 });
    expect(ports.completed).toEqual([]);
  });

  it('a second click is told who decided first', async () => {
    const id = await waiting();
    await click(id, MARIA);

    expect(await click(id, MARIA, 'denied')).toEqual({ outcome: 'already_decided', reason: `this request was already approved by ${MARIA}` });
    expect(ports.completed).toHaveLength(1);
  });

  it('a click after the deadline is told the request expired', async () => {
    const id = await waiting();
    await expireApproval(deps, { grantId: id, step: 0 });

    expect(await click(id, MARIA)).toEqual({ outcome: 'already_decided', reason: 'this request expired before anyone decided' });
  });

  it('a click that loses the race to another approver is told who won', async () => {
    const id = await waiting();
    const racing = Object.assign(Object.create(dynamo.store) as TestDynamo['store'], {
      decideApproval: async (...args: Parameters<TestDynamo['store']['decideApproval']>) => {
        await dynamo.store.decideApproval(id, 0, { status: 'denied', by: MARIA, at: '2026-03-02T09:00:00.000Z', channel: 'jira' });
        return dynamo.store.decideApproval(...args);
      },
    });

    const answer = await decide(
      { ...deps, store: racing },
      { grantId: id, step: 0, decision: 'approved', clickerEmail: MARIA, clickerRef: 'U-maria', via: 'slack' },
    );

    expect(answer).toEqual({ outcome: 'already_decided', reason: `this request was already denied by ${MARIA}` });
    expect(await events(id, 'approved')).toEqual([]);
  });

  it('a click on a request Grantline does not know is refused', async () => {
    expect(await click('no-such-grant', MARIA)).toEqual({ outcome: 'refused', reason: 'this request is unknown to Grantline' });
  });
});

describe('after the decision', () => {
  it('the outcome replaces the buttons on every approver DM', async () => {
    const shown: Array<{ ref: ChatMessageRef; prompt: ApprovalPrompt; outcome: ApprovalOutcome }> = [];
    ports.showOutcome = async (ref: ChatMessageRef, prompt: ApprovalPrompt, outcome: ApprovalOutcome) => {
      shown.push({ ref, prompt, outcome });
    };
    const id = await request('ACC-1', 'admin-console', 'break-glass', 'PT1H');
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't' });
    await click(id, SAM);

    await advance(deps, id);

    expect(shown.map((s) => s.ref)).toEqual([
      { channel: `D-U-${SAM}`, ts: '1.1' },
      { channel: `D-U-${SASHA}`, ts: '1.1' },
    ]);
    expect(shown[1]?.prompt).toMatchObject({ grantId: id, issueKey: 'ACC-1', subjectEmail: ELI, app: 'Internal admin console', role: 'break-glass' });
    expect(shown[1]?.outcome).toEqual({ kind: 'approved', by: SAM, at: '2026-03-02T09:00:00.000Z' });
  });

  it('an approval the workflow acted on stands: a re-driven execution after the approver is suspended does not deny', async () => {
    const id = await request('ACC-1');
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't' });
    await click(id, MARIA);
    await advance(deps, id);
    directory.users[MARIA] = { ...directory.users[MARIA]!, active: false };

    expect((await advance(deps, id)).next).toBe('provision');

    expect((await dynamo.store.getGrant(id))?.status).toBe('approved');
    expect(await events(id, 'denied')).toEqual([]);
    expect(ports.outcomes).toHaveLength(1);
  });

  it('a re-driven execution of a grant already active goes on to provisioning, which keeps its end scheduled', async () => {
    const id = await approvedGrant(deps, { issueKey: 'ACC-1' });
    await provision(deps, id);
    expect((await dynamo.store.getGrant(id))?.status).toBe('active');

    expect((await advance(deps, id)).next).toBe('provision');
  });
});

describe('two executions of one request at once', () => {
  /** The ledger as one execution sees it when the other runs its whole step just before this one's write of the grant. */
  function overtaken(grantId: string): LifecycleDeps {
    let raced = false;
    const store = Object.assign(Object.create(dynamo.store) as TestDynamo['store'], {
      updateGrant: async (...args: Parameters<TestDynamo['store']['updateGrant']>) => {
        if (!raced) {
          raced = true;
          await advance(deps, grantId);
        }
        return dynamo.store.updateGrant(...args);
      },
    });
    return { ...deps, store };
  }

  it('planning an automatic approval: both go on to provisioning, approved once', async () => {
    const id = await request('ACC-1', 'figma', 'viewer', 'permanent');

    expect(await advance(overtaken(id), id)).toMatchObject({ next: 'provision' });

    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'approved', decidedBy: 'policy' });
    expect(await events(id, 'auto_approved')).toHaveLength(1);
  });

  it('planning approval steps: both wait for the same approver', async () => {
    const id = await request('ACC-1');

    expect(await advance(overtaken(id), id)).toMatchObject({ next: 'approval', step: 0 });

    expect((await dynamo.store.getGrant(id))?.steps).toEqual([{ kind: 'manager', approvers: [MARIA], reason: `manager of ${ELI} (from okta)` }]);
  });

  it('closing an approved request: both go on to provisioning', async () => {
    const id = await request('ACC-1');
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't' });
    await click(id, MARIA);

    expect(await advance(overtaken(id), id)).toMatchObject({ next: 'provision' });

    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'approved', decidedBy: MARIA });
  });

  it('closing a denied request: both end, and the requester is told once', async () => {
    const id = await request('ACC-1');
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't' });
    await click(id, MARIA, 'denied');

    expect(await advance(overtaken(id), id)).toMatchObject({ next: 'end' });

    expect(dmsToEli()).toEqual([`Your request ACC-1 for Figma editor was denied: denied by ${MARIA} (step 1).`]);
  });
});

describe('two approval steps', () => {
  it('the manager, then the app owner; the issue moves only at the first ask; the grant is approved by the last', async () => {
    const id = await request('ACC-1', 'salesforce', 'admin', 'PT1H');
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't0' });

    expect(await click(id, MARIA)).toEqual({ outcome: 'recorded', decision: 'approved' });
    expect(await advance(deps, id)).toEqual({ grantId: id, next: 'approval', step: 1, waitSeconds: 14_400, timer: 'deadline' });
    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'pending_approval', currentStep: 1 });
    expect(await click(id, MARIA, 'denied', 0)).toEqual({ outcome: 'already_decided', reason: `this request was already approved by ${MARIA}` });

    await requestApproval(deps, { grantId: id, step: 1, taskToken: 't1' });
    const asked = await events(id, 'approval_requested');
    expect(asked.map((e) => e.summary)).toEqual([`approval asked of ${MARIA} (step 1 of 2)`, `approval asked of ${OMAR} (step 2 of 2)`]);
    expect(asked[1]?.transitionTo).toBeUndefined();

    clock.advance(60_000);
    expect(await click(id, OMAR, 'approved', 1)).toEqual({ outcome: 'recorded', decision: 'approved' });
    expect((await events(id, 'approved')).map((e) => e.summary)).toEqual([
      `approved by ${MARIA} in Slack (step 1 of 2)`,
      `approved by ${OMAR} in Slack (step 2 of 2)`,
    ]);
    expect((await advance(deps, id)).next).toBe('provision');
    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'approved', decidedBy: OMAR, decidedAt: '2026-03-02T09:01:00.000Z' });
  });

  it('one person may not approve two steps of the same chain', async () => {
    directory.users[ELI] = { ...directory.users[ELI]!, managerEmail: OMAR };
    const id = await request('ACC-1', 'salesforce', 'admin', 'PT1H');
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't0' });
    await click(id, OMAR);
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 1, taskToken: 't1' });

    expect(await click(id, OMAR, 'approved', 1)).toEqual({
      outcome: 'refused',
      reason: 'you approved an earlier step; a different person must decide this one',
    });
    expect((await dynamo.store.getApproval(id, 1))?.status).toBe('pending');
  });
});

describe('no decision in time', () => {
  it('the step expires, the issue moves to denied, and the request closes with the reason', async () => {
    const id = await request('ACC-1');
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't' });
    clock.advance(86_400_000);

    await expireApproval(deps, { grantId: id, step: 0 });

    const [expired] = await events(id, 'approval_expired');
    expect(expired).toMatchObject({
      key: 'approval_expired#0',
      actor: 'grantline',
      via: 'timeout',
      at: '2026-03-03T09:00:00.000Z',
      summary: 'denied: nobody decided within 1 day (step 1)',
      transitionTo: deps.config.JIRA_STATUS_DENIED,
    });
    expect(expired?.details).toEqual({ Approvers: MARIA, 'Asked at': '2026-03-02T09:00:00.000Z' });
    expect((await advance(deps, id)).next).toBe('end');
    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'denied', denialReason: 'no decision within 1 day (step 1)', decidedBy: 'grantline' });
    expect(ports.outcomes).toEqual([{ kind: 'expired', at: '2026-03-03T09:00:00.000Z' }]);
  });

  it('a timeout whose evidence was lost in a crash is recorded by the next step, dated at the deadline', async () => {
    const id = await request('ACC-1');
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't' });
    clock.advance(86_400_000);
    // The timeout's ledger write, then the crash before its evidence.
    await dynamo.store.decideApproval(id, 0, { status: 'expired', by: 'grantline', at: clock.now().toISOString(), channel: 'timeout' });
    clock.advance(300_000);

    await advance(deps, id);

    expect(await events(id, 'approval_expired')).toMatchObject([{ key: 'approval_expired#0', at: '2026-03-03T09:00:00.000Z' }]);
    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'denied', decidedAt: '2026-03-03T09:00:00.000Z' });
  });

  it('a timeout that loses the race to a decision changes nothing', async () => {
    const id = await request('ACC-1');
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't' });
    await click(id, MARIA);

    await expireApproval(deps, { grantId: id, step: 0 });

    expect(await events(id, 'approval_expired')).toEqual([]);
    expect((await advance(deps, id)).next).toBe('provision');
  });

  it('a Slack message that cannot be updated does not stop the request', async () => {
    const id = await request('ACC-1');
    await advance(deps, id);
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't' });
    await click(id, MARIA);
    ports.showOutcome = async () => {
      throw new Error('message_not_found');
    };

    expect((await advance(deps, id)).next).toBe('provision');
  });
});
