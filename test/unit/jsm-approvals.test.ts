/**
 * JSM approvals in the core (shared/jsm-approvals.ts through shared/approval.ts), with the ports
 * faked: the approvers put on the issue once per step and after Slack, a Jira fault never holding
 * back Slack, the closed step's decision given to JSM, the webhook deciding through decide().
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advance, decide, requestApproval } from '../../shared/approval.js';
import { parseConfig } from '../../shared/config.js';
import { PermanentError, RetryableError } from '../../shared/errors.js';
import type { EvidenceEvent } from '../../shared/grants/model.js';
import { submitRequest } from '../../shared/intake.js';
import { receiveApprovalCompleted } from '../../shared/jsm-approvals.js';
import type { JsmApproval } from '../../shared/ports.js';
import type { LifecycleDeps } from '../../shared/services.js';
import type { TestDynamo } from '../support/dynamo.js';
import { ELI, MARIA, type Recorder, startUnitWorld } from '../support/fakes.js';

const FIELD = 'customfield_10003';
const OMAR = 'omar.owner@example.com';

let dynamo: TestDynamo;
let ports: Recorder;
let deps: LifecycleDeps;

beforeEach(async () => {
  ({ dynamo, ports, deps } = await startUnitWorld());
  deps = { ...deps, config: parseConfig({ JIRA_FIELD_APPROVERS: FIELD }) };
});
afterEach(async () => dynamo.close());

async function waiting(app = 'figma', role = 'editor', duration = 'PT24H'): Promise<string> {
  const grant = await submitRequest(deps, { issueKey: 'ACC-1', requester: ELI, subject: ELI, app, role, duration, justification: 'design', source: 'jira' });
  await advance(deps, grant.id);
  return grant.id;
}

async function events(grantId: string, type: string): Promise<EvidenceEvent[]> {
  return (await dynamo.store.evidence(grantId)).filter((e) => e.type === type);
}

const jsm = (id: string, finalDecision: JsmApproval['finalDecision'], approvers: Array<[string, JsmApproval['finalDecision'], boolean?]>): JsmApproval => ({
  id,
  finalDecision,
  approvers: approvers.map(([email, decision, grantline = false]) => ({ accountId: `acc-${email}`, email, decision, grantline })),
});

describe('asking in Jira', () => {
  it('puts the approvers on the issue after Slack, once per step, and moves the issue to the approval status', async () => {
    const id = await waiting();

    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't0' });
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't0-retry' });

    expect(ports.approversSet).toEqual([{ issueKey: 'ACC-1', fieldId: FIELD, emails: [MARIA] }]);
    expect((await dynamo.store.getApproval(id, 0))?.jiraApprovers).toEqual({ at: '2026-03-02T09:00:00.000Z', missing: [] });
    const [asked] = await events(id, 'approval_requested');
    expect(asked?.details['Jira approval']).toBe(`the approvers (and Grantline's account) are in ${FIELD}: they can also decide in Jira`);
    expect(asked?.transitionTo).toBe('Waiting for approval');
  });

  it('a Jira refusal is recorded in the evidence ("not set in Jira") and Slack still asks', async () => {
    const id = await waiting();
    ports.setApprovers = async () => {
      throw new PermanentError('Jira rejected the request to set the approvers (400): customfield_10003: Field cannot be set');
    };

    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't0' });

    expect((await dynamo.store.getApproval(id, 0))?.messages.map((m) => m.approver)).toEqual([MARIA]);
    const [asked] = await events(id, 'approval_requested');
    expect(asked?.details['Jira approval']).toBe(
      'not set in Jira: Jira rejected the request to set the approvers (400): customfield_10003: Field cannot be set',
    );
  });

  it('a transient Jira fault fails the task for a retry after Slack was asked; the retry asks nobody in Slack twice', async () => {
    const id = await waiting();
    const setApprovers = ports.setApprovers.bind(ports);
    ports.setApprovers = async () => {
      throw new RetryableError('Jira is rate-limited');
    };

    await expect(requestApproval(deps, { grantId: id, step: 0, taskToken: 't0' })).rejects.toBeInstanceOf(RetryableError);
    expect((await dynamo.store.getApproval(id, 0))?.messages).toHaveLength(1);
    expect(await events(id, 'approval_requested')).toEqual([]);

    ports.setApprovers = setApprovers;
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't0-retry' });
    expect((await dynamo.store.getApproval(id, 0))?.messages).toHaveLength(1);
    expect(ports.approversSet).toHaveLength(1);
  });

  it('approvers without a Jira account are named; nobody reachable in Slack is fine while someone can decide in Jira', async () => {
    const id = await waiting();
    ports.refusesDm.add(`U-${MARIA}`);
    ports.setApprovers = async () => ({ missing: [] });

    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't0' });
    expect((await events(id, 'approval_requested'))[0]?.details['Not reachable in Slack']).toMatch(/^maria\.manager@example\.com/);

    const other = await submitRequest(deps, {
      issueKey: 'ACC-2',
      requester: ELI,
      subject: ELI,
      app: 'figma',
      role: 'editor',
      duration: 'PT24H',
      justification: 'x',
      source: 'jira',
    });
    await advance(deps, other.id);
    ports.setApprovers = async (_key, _field, emails) => ({ missing: emails });
    await expect(requestApproval(deps, { grantId: other.id, step: 0, taskToken: 't1' })).rejects.toThrow(/can be reached in Slack/);
  });
});

describe('answering in Jira after a decision elsewhere', () => {
  it("the workflow's next step answers the JSM approval waiting for Grantline, and only that one", async () => {
    const id = await waiting();
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't0' });
    ports.jsmApprovals = [
      jsm('7', 'approved', [[MARIA, 'approved']]),
      jsm('8', 'pending', [
        [MARIA, 'pending'],
        ['bot', 'pending', true],
      ]),
    ];

    await decide(deps, { grantId: id, step: 0, decision: 'denied', clickerEmail: MARIA, clickerRef: 'U-maria', via: 'slack' });
    await advance(deps, id);

    expect(ports.jsmAnswers).toEqual([{ issueKey: 'ACC-1', approvalId: '8', decision: 'decline' }]);
  });

  it("a later step first closes the previous step's JSM approval (a transient fault is retried), then sets its approvers", async () => {
    const id = await waiting('salesforce', 'admin', 'PT1H');
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't0' });
    await decide(deps, { grantId: id, step: 0, decision: 'approved', clickerEmail: MARIA, clickerRef: 'U-maria', via: 'slack' });
    ports.approvals = async () => {
      throw new RetryableError('Jira answered 503');
    };
    expect(await advance(deps, id)).toMatchObject({ next: 'approval', step: 1 }); // the decision does not wait on Jira

    await expect(requestApproval(deps, { grantId: id, step: 1, taskToken: 't1' })).rejects.toBeInstanceOf(RetryableError);
    ports.approvals = async () => [
      jsm('3', 'pending', [
        [MARIA, 'pending'],
        ['bot', 'pending', true],
      ]),
    ];
    await requestApproval(deps, { grantId: id, step: 1, taskToken: 't1-retry' });

    expect(ports.jsmAnswers).toEqual([{ issueKey: 'ACC-1', approvalId: '3', decision: 'approve' }]);
    expect(ports.approversSet.map((s) => s.emails)).toEqual([[MARIA], [OMAR]]);
    expect((await events(id, 'approval_requested'))[1]?.transitionTo).toBe('Waiting for approval');
  });
});

describe('the Approval completed webhook', () => {
  it('a decision that fails after the JSM approval was taken gives it back: the next delivery decides it', async () => {
    const id = await waiting();
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't0' });
    ports.jsmApprovals = [jsm('4', 'approved', [[MARIA, 'approved']])];
    const decideApproval = dynamo.store.decideApproval.bind(dynamo.store);
    dynamo.store.decideApproval = async () => {
      throw new Error('DynamoDB: ProvisionedThroughputExceededException');
    };

    await expect(receiveApprovalCompleted(deps, 'ACC-1')).rejects.toThrow(/ProvisionedThroughputExceeded/);
    dynamo.store.decideApproval = decideApproval;
    const retried = await receiveApprovalCompleted(deps, 'ACC-1');

    expect(retried.body).toMatchObject({ decisions: [{ approval: '4', outcome: 'recorded', by: MARIA, decision: 'approved' }] });
    expect((await dynamo.store.getApproval(id, 0))?.status).toBe('approved');
  });

  it("decides the current step as the JSM approver, once; Grantline's own answers and replays decide nothing", async () => {
    const id = await waiting();
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't0' });
    ports.jsmApprovals = [
      jsm('4', 'approved', [
        [MARIA, 'approved'],
        ['bot', 'pending', true],
      ]),
      jsm('5', 'declined', [['bot', 'declined', true]]),
    ];

    const first = await receiveApprovalCompleted(deps, 'ACC-1');
    const replay = await receiveApprovalCompleted(deps, 'ACC-1');

    expect(first.body).toMatchObject({
      decisions: [
        { approval: '4', outcome: 'recorded', by: MARIA, decision: 'approved' },
        { approval: '5', outcome: 'skipped' },
      ],
    });
    expect(replay.body).toMatchObject({ decisions: [{ approval: '5', outcome: 'skipped' }] });
    expect(await dynamo.store.getApproval(id, 0)).toMatchObject({ status: 'approved', decidedBy: MARIA, channel: 'jira', jiraApprovalsTaken: ['4'] });
    expect(ports.completed).toEqual([{ token: 't0', decision: 'approved' }]);
  });

  it('an approver whose email Jira hides is refused and recorded, and asked again in Jira', async () => {
    const id = await waiting();
    await requestApproval(deps, { grantId: id, step: 0, taskToken: 't0' });
    ports.jsmApprovals = [{ id: '9', finalDecision: 'approved', approvers: [{ accountId: 'acc-hidden', decision: 'approved', grantline: false }] }];

    const res = await receiveApprovalCompleted(deps, 'ACC-1');

    expect(res.body).toMatchObject({
      decisions: [
        { outcome: 'refused', by: 'jira:acc-hidden', reason: 'Grantline cannot see your email address in Jira, so it cannot check that you are the approver' },
      ],
    });
    expect((await events(id, 'approval_refused')).map((e) => [e.actor, e.via])).toEqual([['jira user jira:acc-hidden', 'jira']]);
    expect(ports.approversSet).toHaveLength(2);
    expect((await dynamo.store.getGrant(id))?.status).toBe('pending_approval');
  });
});
