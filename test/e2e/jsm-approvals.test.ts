/**
 * Approvals in Jira Service Management, end to end on the local runtime: the real jira.js (platform
 * and Service Desk clients) against the sandbox's simulated JSM (infra/local/sandbox/jsm.ts), the
 * "Approval completed" automation rule played by SandboxClient.sendApprovalCompleted. A decision in
 * JSM goes through the same decide() as a Slack click; whichever surface decides first wins and the
 * other is brought in line; a later decision from either is refused and recorded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { GrantAnswers } from '../../shared/audit.js';
import type { EvidenceEvent } from '../../shared/grants/model.js';
import { startHarness, type Harness } from '../support/harness.js';
import { eventually, finished } from '../support/wait.js';

const JSM = { JIRA_FIELD_APPROVERS: 'customfield_10003' };
const BOT = 'grantline-bot@example.com';
const MANAGER = 'maria.manager@example.com';
const ENGINEER = 'eli.engineer@example.com';
const NEW_HIRE = 'nina.newhire@example.com';
const OWNER = 'omar.owner@example.com';
const DESIGN_OWNER = 'dana.design@example.com';
const INTRUDER = 'mallory.intruder@example.com';
const ONCALL = ['sam.sec@example.com', 'sasha.sec@example.com'] as const;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function fileAndWait(harness: Harness, form: { app: string; role: string; duration: string; reporter?: string; subject?: string }) {
  const filed = await harness.client.fileRequest({ reporter: ENGINEER, subject: ENGINEER, justification: 'needed for work', ...form });
  expect(filed.status).toBe(202);
  const grantId = String(filed.body.grantId);
  await harness.runtime.workflow.quiet(grantId);
  return { grantId, issueKey: filed.issueKey };
}

async function evidence(harness: Harness, grantId: string, type?: string): Promise<EvidenceEvent[]> {
  return (await harness.runtime.deps.store.evidence(grantId)).filter((e) => type === undefined || e.type === type);
}

function slackMessagesTo(harness: Harness, email: string) {
  const user = harness.sandbox.slack.users().find((u) => u.email === email)!;
  return harness.sandbox.slack.messagesTo(user.id);
}

/** The internal evidence comments' first lines. */
function evidenceTitles(harness: Harness, issueKey: string): string[] {
  return harness.sandbox.jira.commentTexts(issueKey, 'internal').map((c) => c.split('\n')[0]!);
}

describe('approvals in Jira Service Management', () => {
  it('approved in JSM: the access is granted, the evidence says "in Jira", the Slack prompt says so, a later Slack click is refused and recorded', async () => {
    h = await startHarness({ env: JSM });
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });

    // Asked in both places: Slack DM, and a JSM approval for Maria and Grantline's own account.
    expect(slackMessagesTo(h, MANAGER)).toHaveLength(1);
    expect(h.sandbox.jira.issue(issueKey)?.status).toBe('Waiting for approval');
    expect(h.sandbox.jira.approvals(issueKey)).toEqual([
      {
        id: expect.any(String),
        finalDecision: 'pending',
        approvers: [
          { email: MANAGER, decision: 'pending' },
          { email: BOT, decision: 'pending' },
        ],
      },
    ]);
    const [asked] = await evidence(h, grantId, 'approval_requested');
    expect(asked?.details['Jira approval']).toBe("the approvers (and Grantline's account) are in customfield_10003: they can also decide in Jira");

    h.sandbox.jira.answerApproval(issueKey, MANAGER, 'approve');
    const res = await h.client.sendApprovalCompleted(issueKey);

    expect(res.status).toBe(200);
    expect(res.body.decisions).toEqual([expect.objectContaining({ outcome: 'recorded', by: MANAGER, decision: 'approved' })]);
    await finished(h, grantId);
    expect(h.sandbox.okta.members('00gfigmaeditor')).toContain(ENGINEER);
    expect(evidenceTitles(h, issueKey)).toContain('Grantline: approved by maria.manager@example.com in Jira (step 1 of 1)');
    expect(h.sandbox.jira.issue(issueKey)).toMatchObject({ status: 'Access granted', resolution: 'Done' });
    // Slack: the approval message says where it was decided, and has no buttons left.
    const prompt = slackMessagesTo(h, MANAGER)[0]!;
    expect(prompt.text).toMatch(/Approved in Jira by maria\.manager@example\.com/);
    expect(JSON.stringify(prompt.blocks)).not.toContain('grantline_approve');
    const audit = await h.client.audit(`/grants/${grantId}`);
    expect((audit.body.answers as GrantAnswers).approvedBy).toEqual([expect.objectContaining({ by: MANAGER, via: 'jira' })]);

    // Maria clicks the (already updated) Slack message's stale copy anyway: refused, and recorded.
    const late = await h.click(MANAGER, grantId, 0, 'deny');
    expect(late.body.outcome).toBe('already_decided');
    expect((await evidence(h, grantId, 'approval_refused')).map((e) => [e.actor, e.via, e.summary])).toEqual([
      [MANAGER, 'slack', `refused a decision by ${MANAGER}: this request was already approved by ${MANAGER}`],
    ]);
  });

  it('decided in Slack: Grantline answers the JSM approval as its own account, and its own answer decides nothing', async () => {
    h = await startHarness({ env: JSM });
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });

    await h.click(MANAGER, grantId, 0, 'approve');
    await finished(h, grantId);

    expect(h.sandbox.jira.approvals(issueKey)).toEqual([
      {
        id: expect.any(String),
        finalDecision: 'approved',
        approvers: [
          { email: MANAGER, decision: 'pending' },
          { email: BOT, decision: 'approved' },
        ],
      },
    ]);
    expect(h.sandbox.jira.issue(issueKey)).toMatchObject({ status: 'Access granted', resolution: 'Done' });
    // Jira's rule fires for Grantline's own answer too: nothing is decided twice, nothing is refused.
    const res = await h.client.sendApprovalCompleted(issueKey);
    expect(res.status).toBe(200);
    expect(res.body.decisions).toEqual([expect.objectContaining({ outcome: 'skipped', reason: expect.stringMatching(/Grantline's account/) })]);
    expect(await evidence(h, grantId, 'approval_refused')).toEqual([]);
    expect((await evidence(h, grantId, 'approved')).map((e) => [e.actor, e.via])).toEqual([[MANAGER, 'slack']]);
  });

  it('denied in Slack: the JSM approval is declined and the issue is declined once', async () => {
    h = await startHarness({ env: JSM });
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });

    await h.click(MANAGER, grantId, 0, 'deny');
    await finished(h, grantId);

    expect(h.sandbox.jira.approvals(issueKey).map((a) => a.finalDecision)).toEqual(['declined']);
    expect(h.sandbox.jira.issue(issueKey)?.status).toBe('Declined');
    expect((await h.runtime.deps.store.getGrant(grantId))?.status).toBe('denied');
  });

  it('a race: decided in JSM and in Slack at once, one wins, the other is refused and recorded with where it came from', async () => {
    h = await startHarness({ env: JSM });
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Internal admin console', role: 'break-glass', duration: 'PT1H' });

    h.sandbox.jira.answerApproval(issueKey, ONCALL[0], 'approve');
    const [jira, slack] = await Promise.all([h.client.sendApprovalCompleted(issueKey), h.click(ONCALL[1], grantId, 0, 'deny')]);
    await finished(h, grantId);

    const jiraOutcome = (jira.body.decisions as Array<{ outcome: string }>)[0]?.outcome;
    expect([jiraOutcome, slack.body.outcome].sort()).toEqual(['already_decided', 'recorded']);
    const approval = await h.runtime.deps.store.getApproval(grantId, 0);
    const [winner, loser] = approval?.channel === 'jira' ? (['jira', 'slack'] as const) : (['slack', 'jira'] as const);
    expect(approval?.decidedBy).toBe(winner === 'jira' ? ONCALL[0] : ONCALL[1]);
    const decisions = [...(await evidence(h, grantId, 'approved')), ...(await evidence(h, grantId, 'denied'))];
    expect(decisions.map((e) => e.via)).toEqual([winner]);
    const refused = await evidence(h, grantId, 'approval_refused');
    expect(refused.map((e) => e.via)).toEqual([loser]);
    expect(refused[0]?.summary).toMatch(/this request was already (approved|denied) by/);
    expect(h.sandbox.okta.members('00gconsolebreakglass').includes(ENGINEER)).toBe(winner === 'jira');
  });

  it('a two-step chain across surfaces: step 1 in Slack, step 2 in Jira', async () => {
    h = await startHarness({ env: JSM });
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Salesforce', role: 'admin', duration: 'PT1H' });

    await h.click(MANAGER, grantId, 0, 'approve');
    await eventually(async () => expect((await h!.runtime.deps.store.getGrant(grantId))?.currentStep).toBe(1));
    await h.runtime.workflow.quiet(grantId);

    // Step 1's JSM approval was answered by Grantline; the issue went back to waiting, and JSM asks the owner.
    expect(h.sandbox.jira.issue(issueKey)?.status).toBe('Waiting for approval');
    expect(h.sandbox.jira.approvals(issueKey).map((a) => [a.finalDecision, a.approvers.map((x) => x.email)])).toEqual([
      ['approved', [MANAGER, BOT]],
      ['pending', [OWNER, BOT]],
    ]);
    expect(h.sandbox.okta.members('00gsfadmin')).not.toContain(ENGINEER);

    h.sandbox.jira.answerApproval(issueKey, OWNER, 'approve');
    const res = await h.client.sendApprovalCompleted(issueKey);
    // Step 1's approval, answered by Grantline, is read again and skipped; step 2's is decided.
    expect(res.body.decisions).toEqual([
      expect.objectContaining({ outcome: 'skipped', reason: expect.stringMatching(/Grantline's account/) }),
      expect.objectContaining({ outcome: 'recorded', by: OWNER, decision: 'approved' }),
    ]);
    await finished(h, grantId);

    expect(h.sandbox.okta.members('00gsfadmin')).toContain(ENGINEER);
    expect(evidenceTitles(h, issueKey).filter((t) => /^Grantline: approved by/.test(t))).toEqual([
      'Grantline: approved by maria.manager@example.com in Slack (step 1 of 2)',
      'Grantline: approved by omar.owner@example.com in Jira (step 2 of 2)',
    ]);
    expect(h.sandbox.jira.issue(issueKey)?.status).toBe('Access granted');
  });

  it('a two-step chain across surfaces: step 1 in Jira, step 2 in Slack', async () => {
    h = await startHarness({ env: JSM });
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Salesforce', role: 'admin', duration: 'PT1H' });

    h.sandbox.jira.answerApproval(issueKey, MANAGER, 'approve');
    await h.client.sendApprovalCompleted(issueKey);
    await eventually(async () => expect((await h!.runtime.deps.store.getGrant(grantId))?.currentStep).toBe(1));
    await h.runtime.workflow.quiet(grantId);
    expect(h.sandbox.jira.approvals(issueKey).map((a) => a.finalDecision)).toEqual(['approved', 'pending']);

    await h.click(OWNER, grantId, 1, 'approve');
    await finished(h, grantId);

    expect(h.sandbox.okta.members('00gsfadmin')).toContain(ENGINEER);
    expect(h.sandbox.jira.approvals(issueKey).map((a) => [a.finalDecision, a.approvers.filter((x) => x.decision !== 'pending').map((x) => x.email)])).toEqual([
      ['approved', [MANAGER]],
      ['approved', [BOT]],
    ]);
    expect((await evidence(h, grantId, 'approved')).map((e) => [e.actor, e.via])).toEqual([
      [MANAGER, 'jira'],
      [OWNER, 'slack'],
    ]);
  });

  it('an agent added to the Approvers field by hand approves in JSM: refused and recorded, the request stays pending and JSM asks the named approver again', async () => {
    h = await startHarness({ env: JSM });
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });

    h.sandbox.jira.setApprovers(issueKey, [MANAGER, BOT, INTRUDER]);
    h.sandbox.jira.answerApproval(issueKey, INTRUDER, 'approve');
    const res = await h.client.sendApprovalCompleted(issueKey);

    expect(res.status).toBe(200);
    expect(res.body.decisions).toEqual([expect.objectContaining({ outcome: 'refused', by: INTRUDER, reason: `only ${MANAGER} can decide this step` })]);
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'pending_approval', currentStep: 0 });
    expect(h.sandbox.okta.members('00gfigmaeditor')).not.toContain(ENGINEER);
    expect((await evidence(h, grantId, 'approval_refused')).map((e) => [e.actor, e.via])).toEqual([[INTRUDER, 'jira']]);
    // JSM asks again, without the hand-added agent.
    expect(h.sandbox.jira.issue(issueKey)?.status).toBe('Waiting for approval');
    expect(h.sandbox.jira.approvals(issueKey).map((a) => [a.finalDecision, a.approvers.map((x) => x.email)])).toEqual([
      ['approved', [MANAGER, BOT, INTRUDER]],
      ['pending', [MANAGER, BOT]],
    ]);

    // The named approver decides in JSM: that one counts.
    h.sandbox.jira.answerApproval(issueKey, MANAGER, 'approve');
    expect((await h.client.sendApprovalCompleted(issueKey)).body.decisions).toEqual([expect.objectContaining({ outcome: 'recorded', by: MANAGER })]);
    await finished(h, grantId);
    expect(h.sandbox.okta.members('00gfigmaeditor')).toContain(ENGINEER);
  });

  it('the requester approving their own request in JSM is refused', async () => {
    h = await startHarness({ env: JSM });
    // Maria asks for the new hire: the app owner decides.
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H', reporter: MANAGER, subject: NEW_HIRE });
    h.sandbox.jira.setApprovers(issueKey, [DESIGN_OWNER, BOT, MANAGER]);

    h.sandbox.jira.answerApproval(issueKey, MANAGER, 'approve');
    const res = await h.client.sendApprovalCompleted(issueKey);

    expect(res.body.decisions).toEqual([
      expect.objectContaining({ outcome: 'refused', by: MANAGER, reason: 'you cannot approve a request you made or that gives you access' }),
    ]);
    expect((await h.runtime.deps.store.getGrant(grantId))?.status).toBe('pending_approval');
    expect(h.sandbox.okta.members('00gfigmaeditor')).not.toContain(NEW_HIRE);
  });

  it('a replayed approval webhook decides nothing twice, even when both copies arrive at once', async () => {
    h = await startHarness({ env: JSM });
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });
    h.sandbox.jira.answerApproval(issueKey, MANAGER, 'approve');

    const [a, b] = await Promise.all([h.client.sendApprovalCompleted(issueKey), h.client.sendApprovalCompleted(issueKey)]);
    await finished(h, grantId);
    const again = await h.client.sendApprovalCompleted(issueKey);

    const outcomes = [...(a.body.decisions as Array<{ outcome: string }>), ...(b.body.decisions as Array<{ outcome: string }>)].map((d) => d.outcome);
    expect(outcomes.filter((o) => o === 'recorded')).toHaveLength(1);
    expect(again.status).toBe(200);
    expect(again.body.decisions).toEqual([]);
    expect(await evidence(h, grantId, 'approved')).toHaveLength(1);
    expect(await evidence(h, grantId, 'approval_refused')).toEqual([]);
    expect(await h.runtime.deps.store.getApproval(grantId, 0)).toMatchObject({ jiraApprovalsTaken: [expect.any(String)] });
  });

  it('an approval webhook for an issue Grantline does not know answers 200 and decides nothing', async () => {
    h = await startHarness({ env: JSM });
    const issueKey = h.client.fileIssue({ reporter: ENGINEER, app: 'Figma', role: 'editor', duration: 'PT24H', justification: 'never sent' });

    const res = await h.client.sendApprovalCompleted(issueKey);

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ issueKey, decisions: [], note: `Grantline has no request for ${issueKey}: nothing was decided` });
  });

  it('without JIRA_FIELD_APPROVERS nothing is asked in Jira and an approval webhook decides nothing', async () => {
    h = await startHarness();
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });

    expect(h.sandbox.jira.approvals(issueKey)).toEqual([]);
    const res = await h.client.sendApprovalCompleted(issueKey);
    expect(res.status).toBe(200);
    expect(res.body.decisions).toEqual([]);
    expect((await h.runtime.deps.store.getGrant(grantId))?.status).toBe('pending_approval');
  });
});
