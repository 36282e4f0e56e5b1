/**
 * Quorum approval steps (`{group: security-oncall, quorum: 2}`), as the people involved see them:
 * what the catalog accepts, who is asked, what each click answers, the Slack messages, the evidence
 * on the Jira issue, the grant's status and the audit answer. The ledger is dynalite, so the
 * conditional writes the races rest on are the real ones.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advance, decide, expireApproval, requestApproval } from '../../shared/approval.js';
import { answersFor } from '../../shared/audit.js';
import { formatProblem, parseCatalog } from '../../shared/catalog/load.js';
import { catalogJsonSchema } from '../../shared/catalog/schema.js';
import { parseConfig } from '../../shared/config.js';
import { approvalBlocks, progressLine } from '../../shared/connectors/slack.js';
import type { Approval, EvidenceEvent } from '../../shared/grants/model.js';
import { submitRequest } from '../../shared/intake.js';
import { receiveApprovalCompleted } from '../../shared/jsm-approvals.js';
import { noticeText } from '../../shared/notices.js';
import type { ApprovalOutcome, ApprovalPrompt, ChatMessageRef } from '../../shared/ports.js';
import { provision } from '../../shared/provisioning.js';
import type { LifecycleDeps } from '../../shared/services.js';
import type { TestDynamo } from '../support/dynamo.js';
import { ELI, type Directory, type Recorder, startUnitWorld } from '../support/fakes.js';
import { testCatalog } from '../support/catalog.js';

const SAM = 'sam.sec@example.com';
const SASHA = 'sasha.sec@example.com';
const SID = 'sid.sec@example.com';
const ONCALL = 'security-oncall: [sam.sec@example.com, sasha.sec@example.com]';

/** The repository's catalog with a third on-call member and break-glass needing `quorum` of them (then `more` steps). */
function quorumCatalog(quorum = 2, more = '') {
  return testCatalog((t) =>
    t
      .replace(ONCALL, `security-oncall: [${SAM}, ${SASHA}, ${SID}]`)
      .replace('approval: [{ group: security-oncall }]', `approval: [{ group: security-oncall, quorum: ${quorum} }${more}]`),
  );
}

let dynamo: TestDynamo;
let directory: Directory;
let ports: Recorder;
let deps: LifecycleDeps;

beforeEach(async () => {
  ({ dynamo, directory, ports, deps } = await startUnitWorld());
  deps = { ...deps, catalog: quorumCatalog() };
});
afterEach(async () => dynamo.close());

async function request(issueKey = 'ACC-1', requester = ELI): Promise<string> {
  const grant = await submitRequest(deps, {
    issueKey,
    requester,
    subject: requester,
    app: 'admin-console',
    role: 'break-glass',
    duration: 'PT1H',
    justification: 'incident',
    source: 'jira',
  });
  return grant.id;
}

async function waiting(issueKey = 'ACC-1'): Promise<string> {
  const id = await request(issueKey);
  expect(await advance(deps, id)).toMatchObject({ next: 'approval', step: 0 });
  await requestApproval(deps, { grantId: id, step: 0, taskToken: 'token-0' });
  return id;
}

function click(grantId: string, who: string, decision: 'approved' | 'denied' = 'approved', step = 0, d: LifecycleDeps = deps) {
  return decide(d, { grantId, step, decision, clickerEmail: who, clickerRef: `U-${who}`, via: 'slack' });
}

async function events(grantId: string, type?: string): Promise<EvidenceEvent[]> {
  return (await dynamo.store.evidence(grantId)).filter((e) => !type || e.type === type);
}

describe('the catalog', () => {
  const yaml = (approval: string, groups = `  security-oncall: [${SAM}, ${SASHA}]`) => `version: 1
approverGroups:
${groups}
apps:
  console:
    name: Console
    owner: ivan.infra@example.com
    roles:
      admin:
        group: 00gconsole
        risk: critical
        approval: ${approval} # the-step
        durations: [PT1H]
        maxDuration: PT1H
`;
  const problems = (text: string) => {
    const parsed = parseCatalog(text);
    return parsed.ok ? [] : parsed.problems.map(formatProblem);
  };
  const line = (text: string) => text.split('\n').findIndex((l) => l.includes('# the-step')) + 1;

  it('takes {group, quorum: N}, and a group step without one needs one approver', () => {
    const parsed = parseCatalog(yaml('[{ group: security-oncall, quorum: 2 }, { group: security-oncall }]'));
    expect(parsed.ok && parsed.catalog.apps.console?.roles.admin?.approval).toEqual([{ group: 'security-oncall', quorum: 2 }, { group: 'security-oncall' }]);
  });

  it('refuses a quorum larger than the group, with its line and path', () => {
    const text = yaml('[{ group: security-oncall, quorum: 3 }]', `  security-oncall: [${SAM}, ${SASHA}, Sam.Sec@Example.com]`);
    expect(problems(text)).toEqual([
      `line ${line(text)}, apps.console.roles.admin.approval[0].quorum: quorum 3 is more than the 2 members of approver group "security-oncall": the step could never be approved`,
    ]);
  });

  it('refuses a quorum on a step that is not a group, and a quorum that is not a whole number of at least 1', () => {
    const at = 'apps.console.roles.admin.approval[0]';
    const notGroup = yaml(`[{ user: ${SAM}, quorum: 2 }]`);
    expect(problems(notGroup)).toEqual([`line ${line(notGroup)}, ${at}: quorum applies only to an approver group step: {group: name, quorum: N}`]);
    const zero = yaml('[{ group: security-oncall, quorum: 0 }]');
    expect(problems(zero)).toEqual([`line ${line(zero)}, ${at}.quorum: quorum must be a whole number of approvers, 1 or more`]);
    const half = yaml('[{ group: security-oncall, quorum: 1.5 }]');
    expect(problems(half)).toEqual([`line ${line(half)}, ${at}: quorum must be a whole number of approvers, 1 or more`]);
  });

  it('publishes quorum in the JSON Schema', () => {
    expect(JSON.stringify(catalogJsonSchema())).toMatch(/"quorum":\{[^}]*"description":"How many distinct members of the group must approve \(default 1\)/);
  });
});

describe('planning', () => {
  it('the step carries its quorum and every eligible member is asked; the evidence says how many must approve', async () => {
    const id = await waiting();

    expect((await dynamo.store.getGrant(id))?.steps).toEqual([
      { kind: 'group', approvers: [SAM, SASHA, SID], reason: 'member of approver group security-oncall', quorum: 2 },
    ]);
    expect((await dynamo.store.getApproval(id, 0))?.messages.map((m) => m.approver)).toEqual([SAM, SASHA, SID]);
    const [asked] = await events(id, 'approval_requested');
    expect(asked?.summary).toBe(`approval asked of ${SAM}, ${SASHA}, ${SID}: 2 of them must approve (step 1 of 1)`);
    expect(asked?.details.Quorum).toBe('2 distinct approvers must approve; a deny by any one of them ends the request');
  });

  it('a quorum larger than the approvers left once the requester is removed denies the request at planning', async () => {
    directory.users[SAM] = { id: 'u-sam', email: SAM, active: true };
    deps = { ...deps, catalog: quorumCatalog(3) };
    const id = await request('ACC-1', SAM);

    expect((await advance(deps, id)).next).toBe('end');

    const reason = `approval step 1 (group) needs 3 distinct approvers but only 2 are eligible (${SASHA}, ${SID}): member of approver group security-oncall; the requester and the subject cannot approve`;
    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'denied', denialReason: reason, decidedBy: 'policy' });
    expect((await events(id, 'denied'))[0]?.summary).toBe(`denied: ${reason}`);
    expect(ports.notices.map((n) => n.text)).toEqual([`Your request ACC-1 for Internal admin console break-glass was denied: ${reason}.`]);
  });

  it('a quorum larger than the active approvers denies the request at planning', async () => {
    directory.users[SID] = { id: 'u-sid', email: SID, active: false };
    deps = { ...deps, catalog: quorumCatalog(3) };
    const id = await request();

    expect((await advance(deps, id)).next).toBe('end');

    expect((await dynamo.store.getGrant(id))?.denialReason).toBe(
      `approval step 1 needs 3 distinct approvers but only 2 are eligible (${SAM}, ${SASHA}): member of approver group security-oncall; ${SID} deactivated in okta, so cannot approve`,
    );
  });
});

describe('deciding', () => {
  it('2 of 3 approve: each approval is recorded and shown, the step closes at the second, the request is approved', async () => {
    const id = await waiting();

    expect(await click(id, SAM)).toEqual({ outcome: 'recorded', decision: 'approved' });
    expect(ports.completed).toEqual([]);
    expect((await dynamo.store.getApproval(id, 0))?.status).toBe('pending');
    // Every message of the step shows the approval so far; the buttons stay for the others.
    expect(ports.progress).toEqual([SAM, SASHA, SID].map((who) => ({ message: `D-U-${who}/1.1`, progress: { approvedBy: [SAM], needed: 2 } })));
    expect(await advance(deps, id)).toMatchObject({ next: 'approval', step: 0 });

    expect(await click(id, SID)).toEqual({ outcome: 'recorded', decision: 'approved' });
    expect(ports.completed).toEqual([{ token: 'token-0', decision: 'approved' }]);
    expect(ports.progress).toHaveLength(3);

    const approved = await events(id, 'approved');
    expect(approved.map((e) => [e.key, e.actor, e.summary])).toEqual([
      [`approved#0#${SAM}`, SAM, `approved by ${SAM} in Slack (1 of 2 needed, step 1 of 1)`],
      [`approved#0#${SID}`, SID, `approved by ${SID} in Slack (2 of 2 needed, step 1 of 1)`],
    ]);
    expect(approved[1]?.details).toEqual({ Approver: SID, Step: '1 of 1', Quorum: '2 of 2', 'Approved so far': `${SAM}, ${SID}` });
    // What the requester reads on the issue.
    expect(approved.map(noticeText)).toEqual([`${SAM} approved your request; 1 more approval is needed.`, `Your request was approved by ${SAM}, ${SID}.`]);

    expect((await advance(deps, id)).next).toBe('provision');
    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'approved', decidedBy: SID });
    // The outcome replaces the buttons on each of the three messages.
    expect(ports.outcomes).toEqual(Array(3).fill({ kind: 'approved', by: `${SAM}, ${SID}`, at: '2026-03-02T09:00:00.000Z' }));
    expect(ports.comments.filter((c) => c.startsWith('Grantline: approved'))).toEqual([
      `Grantline: approved by ${SAM} in Slack (1 of 2 needed, step 1 of 1)`,
      `Grantline: approved by ${SID} in Slack (2 of 2 needed, step 1 of 1)`,
    ]);
    // A click after the step closed is told who approved it.
    expect(await click(id, SASHA)).toEqual({ outcome: 'already_decided', reason: `this request was already approved by ${SAM}, ${SID}` });

    await provision(deps, id);
    expect(directory.groups.get('00gconsolebreakglass')).toEqual(new Set(['u-eli']));
    const approvals = [(await dynamo.store.getApproval(id, 0))!];
    expect(answersFor((await dynamo.store.getGrant(id))!, approvals).approvedBy).toEqual([
      { step: 1, by: SAM, at: '2026-03-02T09:00:00.000Z', via: 'slack' },
      { step: 1, by: SID, at: '2026-03-02T09:00:00.000Z', via: 'slack' },
    ]);
  });

  it('a deny after one approval ends the request at once; the approval stays recorded', async () => {
    const id = await waiting();
    await click(id, SAM);

    expect(await click(id, SASHA, 'denied')).toEqual({ outcome: 'recorded', decision: 'denied' });
    expect(ports.completed).toEqual([{ token: 'token-0', decision: 'denied' }]);

    expect((await advance(deps, id)).next).toBe('end');
    expect(await dynamo.store.getGrant(id)).toMatchObject({ status: 'denied', denialReason: `denied by ${SASHA} (step 1)`, decidedBy: SASHA });
    expect((await dynamo.store.getApproval(id, 0))?.approvals).toEqual([{ by: SAM, at: '2026-03-02T09:00:00.000Z', via: 'slack' }]);
    expect((await events(id)).map((e) => [e.type, e.actor])).toEqual([
      ['requested', ELI],
      ['approval_requested', 'grantline'],
      ['approved', SAM],
      ['denied', SASHA],
    ]);
    const [denied] = await events(id, 'denied');
    expect(denied?.details).toEqual({ Approver: SASHA, Step: '1 of 1', 'Approved before the denial': `${SAM} (1 of 2 needed)` });
    expect(ports.outcomes).toEqual(Array(3).fill({ kind: 'denied', by: SASHA, at: '2026-03-02T09:00:00.000Z' }));
    expect(await click(id, SID)).toEqual({ outcome: 'already_decided', reason: `this request was already denied by ${SASHA}` });
    const approvals = [(await dynamo.store.getApproval(id, 0))!];
    expect(answersFor((await dynamo.store.getGrant(id))!, approvals).approvedBy).toEqual([]);
  });

  it('the same approver twice is refused and recorded, and counts once', async () => {
    const id = await waiting();
    await click(id, SAM);

    expect(await click(id, SAM)).toEqual({ outcome: 'refused', reason: 'you already approved this step' });

    expect(await dynamo.store.getApproval(id, 0)).toMatchObject({ status: 'pending', approvals: [{ by: SAM }] });
    const [refused] = await events(id, 'approval_refused');
    expect(refused).toMatchObject({ actor: SAM, summary: `refused a decision by ${SAM}: you already approved this step` });
    expect(ports.completed).toEqual([]);
  });

  it('two approvals at once when one more is needed: both recorded, exactly one closes the step, the task completes once', async () => {
    const id = await waiting();
    await click(id, SAM);
    // Both appends land before either closing write.
    let appended = 0;
    let bothAppended: () => void = () => {};
    const barrier = new Promise<void>((resolve) => {
      bothAppended = resolve;
    });
    const store = Object.assign(Object.create(dynamo.store) as TestDynamo['store'], {
      addQuorumApproval: async (...args: Parameters<TestDynamo['store']['addQuorumApproval']>) => {
        const result = await dynamo.store.addQuorumApproval(...args);
        if (++appended === 2) bothAppended();
        await barrier;
        return result;
      },
    });
    const racing = { ...deps, store };

    const answers = await Promise.all([click(id, SASHA, 'approved', 0, racing), click(id, SID, 'approved', 0, racing)]);

    expect(answers).toEqual([
      { outcome: 'recorded', decision: 'approved' },
      { outcome: 'recorded', decision: 'approved' },
    ]);
    expect(ports.completed).toEqual([{ token: 'token-0', decision: 'approved' }]);
    const approval = (await dynamo.store.getApproval(id, 0))!;
    expect(approval.approvals?.map((a) => a.by)).toEqual([SAM, SASHA, SID]);
    // The decision is the approval that reached the quorum, whichever write closed the step.
    expect(approval).toMatchObject({ status: 'approved', decidedBy: SASHA });
    const approved = await events(id, 'approved');
    expect(approved.map((e) => e.summary).sort()).toEqual([
      `approved by ${SAM} in Slack (1 of 2 needed, step 1 of 1)`,
      `approved by ${SASHA} in Slack (2 of 2 needed, step 1 of 1)`,
      `approved by ${SID} in Slack (3 approvals, 2 needed, step 1 of 1)`,
    ]);
    expect(noticeText(approved.find((e) => e.actor === SID)!)).toBe(`${SID} also approved your request.`);
    expect((await advance(deps, id)).next).toBe('provision');
  });

  it('two approvals at once, unscripted: neither lost nor counted twice, one completion', async () => {
    deps = { ...deps, catalog: quorumCatalog(3) };
    const id = await waiting();

    const answers = await Promise.all([click(id, SAM), click(id, SASHA), click(id, SID)]);

    expect(answers.every((a) => a.outcome === 'recorded')).toBe(true);
    const approval = (await dynamo.store.getApproval(id, 0))!;
    expect(approval.approvals?.map((a) => a.by).sort()).toEqual([SAM, SASHA, SID].sort());
    expect(approval.status).toBe('approved');
    expect(ports.completed).toEqual([{ token: 'token-0', decision: 'approved' }]);
    expect(await events(id, 'approved')).toHaveLength(3);
  });

  it('an approval racing a deny: whichever closes the step first decides it, and the approval is kept', async () => {
    const id = await waiting();
    await click(id, SAM);
    // The deny lands between the last approval's append and its closing write.
    const store = Object.assign(Object.create(dynamo.store) as TestDynamo['store'], {
      closeQuorum: async (...args: Parameters<TestDynamo['store']['closeQuorum']>) => {
        await click(id, SID, 'denied');
        return dynamo.store.closeQuorum(...args);
      },
    });

    expect(await click(id, SASHA, 'approved', 0, { ...deps, store })).toEqual({ outcome: 'recorded', decision: 'approved' });

    expect(await dynamo.store.getApproval(id, 0)).toMatchObject({ status: 'denied', decidedBy: SID, approvals: [{ by: SAM }, { by: SASHA }] });
    expect(ports.completed).toEqual([{ token: 'token-0', decision: 'denied' }]);
    expect((await advance(deps, id)).next).toBe('end');
    expect((await dynamo.store.getGrant(id))?.denialReason).toBe(`denied by ${SID} (step 1)`);
  });

  it('a last approval whose closing write was lost (a crash) closes with the next event: a repeated click, the re-driven task or the timeout', async () => {
    const crash = async (id: string) => {
      for (const by of [SAM, SASHA]) await dynamo.store.addQuorumApproval(id, 0, { by, at: '2026-03-02T09:00:00.000Z', via: 'slack' });
    };
    const repeated = await waiting('ACC-1');
    await crash(repeated);
    expect(await click(repeated, SASHA)).toEqual({ outcome: 'refused', reason: 'you already approved this step' });
    expect(ports.completed).toEqual([{ token: 'token-0', decision: 'approved' }]);

    const redriven = await waiting('ACC-2');
    await crash(redriven);
    await requestApproval(deps, { grantId: redriven, step: 0, taskToken: 'redriven' });
    expect(ports.completed.at(-1)).toEqual({ token: 'redriven', decision: 'approved' });

    const timedOut = await waiting('ACC-3');
    await crash(timedOut);
    await expireApproval(deps, { grantId: timedOut, step: 0 });
    expect(await events(timedOut, 'approval_expired')).toEqual([]);

    for (const id of [repeated, redriven, timedOut]) {
      expect((await advance(deps, id)).next).toBe('provision');
      expect((await events(id, 'approved')).map((e) => e.actor)).toEqual([SAM, SASHA]);
    }
  });

  it('nobody reaches the quorum in time: denied, and the evidence names who had approved', async () => {
    const id = await waiting();
    await click(id, SAM);

    await expireApproval(deps, { grantId: id, step: 0 });

    expect((await advance(deps, id)).next).toBe('end');
    expect((await events(id, 'approval_expired'))[0]?.details['Approved before the deadline']).toBe(`${SAM} (1 of 2 needed)`);
  });

  it('an approver deactivated after approving does not count: too few approvals left deny the request', async () => {
    const id = await waiting();
    await click(id, SAM);
    await click(id, SASHA);
    directory.users[SAM] = { id: 'u-sam', email: SAM, active: false };

    expect((await advance(deps, id)).next).toBe('end');

    expect((await dynamo.store.getGrant(id))?.denialReason).toBe(
      `the approval by ${SAM} (step 1) does not count: deactivated or suspended in okta; 1 of the 2 approvals needed remain`,
    );
  });

  it('whoever approved an earlier quorum step may not approve a later one', async () => {
    deps = { ...deps, catalog: quorumCatalog(2, ', { group: security-oncall }') };
    const id = await waiting();
    await click(id, SAM);
    await click(id, SASHA);
    expect(await advance(deps, id)).toMatchObject({ next: 'approval', step: 1 });
    await requestApproval(deps, { grantId: id, step: 1, taskToken: 'token-1' });

    for (const who of [SAM, SASHA]) {
      expect(await click(id, who, 'approved', 1)).toEqual({
        outcome: 'refused',
        reason: 'you approved an earlier step; a different person must decide this one',
      });
    }
    expect(await click(id, SID, 'approved', 1)).toEqual({ outcome: 'recorded', decision: 'approved' });
    expect((await advance(deps, id)).next).toBe('provision');
  });
});

describe('in Jira Service Management', () => {
  const FIELD = 'customfield_10003';

  it('each JSM approval counts as one approval; while more are needed, Jira asks those who have not approved', async () => {
    deps = { ...deps, config: parseConfig({ JIRA_FIELD_APPROVERS: FIELD }) };
    const id = await waiting();
    const jsm = (approvalId: string, who: string) => ({
      id: approvalId,
      finalDecision: 'approved' as const,
      approvers: [{ accountId: `acc-${who}`, email: who, decision: 'approved' as const, grantline: false }],
    });
    ports.jsmApprovals = [jsm('1', SAM)];

    const first = await receiveApprovalCompleted(deps, 'ACC-1');

    expect(first.body).toMatchObject({ status: 'pending_approval', decisions: [{ approval: '1', outcome: 'recorded', by: SAM, decision: 'approved' }] });
    expect(ports.approversSet.map((s) => s.emails)).toEqual([
      [SAM, SASHA, SID],
      [SASHA, SID],
    ]);
    // The Jira webhook carries no Slack client: the Slack messages show it with the next Slack approval.
    expect(ports.progress).toEqual([]);

    ports.jsmApprovals = [jsm('1', SAM), jsm('2', SASHA)];
    const second = await receiveApprovalCompleted(deps, 'ACC-1');

    expect(second.body).toMatchObject({ status: 'pending_approval', decisions: [{ approval: '2', outcome: 'recorded', by: SASHA }] });
    expect(ports.completed).toEqual([{ token: 'token-0', decision: 'approved' }]);
    expect((await events(id, 'approved')).map((e) => e.summary)).toEqual([
      `approved by ${SAM} in Jira (1 of 2 needed, step 1 of 1)`,
      `approved by ${SASHA} in Jira (2 of 2 needed, step 1 of 1)`,
    ]);
    expect((await advance(deps, id)).next).toBe('provision');
    expect(ports.outcomes[0]).toEqual({ kind: 'approved', by: `${SAM}, ${SASHA}`, at: '2026-03-02T09:00:00.000Z', via: 'jira' });
  });
});

describe('the Slack message', () => {
  const prompt: ApprovalPrompt = {
    grantId: 'grant-ACC-1',
    step: 0,
    issueKey: 'ACC-1',
    requesterEmail: ELI,
    subjectEmail: ELI,
    app: 'Internal admin console',
    role: 'break-glass',
    duration: 'PT1H',
    justification: 'incident',
    risk: 'critical',
  };

  it('shows who approved so far above the buttons, which stay', () => {
    const blocks = JSON.stringify(approvalBlocks(prompt, { approvedBy: [SAM], needed: 2 }));

    expect(progressLine({ approvedBy: [SAM], needed: 2 })).toBe(`Approved by ${SAM} (1 of 2); 1 more approval needed`);
    expect(progressLine({ approvedBy: [SAM, SASHA], needed: 3 })).toBe(`Approved by ${SAM}, ${SASHA} (2 of 3); 1 more approval needed`);
    expect(blocks).toContain(`:white_check_mark: Approved by ${SAM} (1 of 2); 1 more approval needed`);
    expect(blocks).toContain('grantline_approve');
    expect(blocks).toContain('grantline_deny');
  });

  it('a message Slack will not update does not stop the approval', async () => {
    const id = await waiting();
    const shown: Array<{ ref: ChatMessageRef; outcome?: ApprovalOutcome }> = [];
    ports.showProgress = async (ref: ChatMessageRef) => {
      shown.push({ ref });
      throw new Error('message_not_found');
    };

    expect(await click(id, SAM)).toEqual({ outcome: 'recorded', decision: 'approved' });
    expect(shown).toHaveLength(3);
    expect((await dynamo.store.getApproval(id, 0)) as Approval).toMatchObject({ approvals: [{ by: SAM }] });
  });
});
