/**
 * The state machine, executed from statemachines/access-request.asl.json by the local runner with
 * the real task functions, the sandbox's simulated Jira/Slack/Okta and dynalite. Each test asserts
 * on the states entered and on what a user sees (group membership, Jira evidence).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, testCatalog, type Harness } from '../support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const NEW_HIRE = 'nina.newhire@example.com';
const MANAGER = 'maria.manager@example.com';
const ENGINEER = 'eli.engineer@example.com';

async function file(
  harness: Harness,
  form: { reporter?: string; subject?: string; app: string; role: string; duration: string; breakGlass?: string; incident?: string },
) {
  const res = await harness.client.fileRequest({ reporter: form.reporter ?? MANAGER, subject: form.subject ?? NEW_HIRE, justification: 'onboarding', ...form });
  expect(res.status).toBe(202);
  const grantId = String(res.body.grantId);
  return { grantId, issueKey: res.issueKey };
}

describe('access-request state machine', () => {
  it('auto-approve: a low-risk role goes straight to provisioning and needs no schedule when permanent', async () => {
    h = await startHarness();
    const { grantId, issueKey } = await file(h, { app: 'Notion', role: 'member', duration: 'permanent' });

    const run = await h.runtime.workflow.quiet(grantId);

    expect(run.status).toBe('SUCCEEDED');
    expect(run.states).toEqual(['Advance', 'Route', 'Provision', 'NeedsRevocation', 'Granted']);
    expect(h.sandbox.okta.members('00gnotionmember')).toContain(NEW_HIRE);
    expect(h.sandbox.jira.commentTexts(issueKey).join('\n')).toContain('approved automatically by policy');
    // Only "granted" notices, to the requester and to the new hire: no approval request.
    expect(h.sandbox.slack.messages().map((m) => m.text.split(':')[0])).toEqual(['Access granted', 'Access granted']);
  });

  it('approve: waits for the approver, then provisions and schedules the revocation of a time-bound grant', async () => {
    h = await startHarness();
    const { grantId } = await file(h, { reporter: ENGINEER, subject: ENGINEER, app: 'Figma', role: 'editor', duration: 'PT24H' });
    const waiting = await h.runtime.workflow.quiet(grantId);
    expect(waiting.waitingForApproval).toBe(true);
    expect(h.sandbox.okta.members('00gfigmaeditor')).not.toContain(ENGINEER);

    await h.click(MANAGER, grantId, 0, 'approve');
    const run = await waitDone(h, grantId);

    expect(run.states).toEqual(['Advance', 'Route', 'RequestApproval', 'Advance', 'Route', 'Provision', 'NeedsRevocation', 'ScheduleRevocation', 'Granted']);
    expect(h.sandbox.okta.members('00gfigmaeditor')).toContain(ENGINEER);
    expect(await h.runtime.deps.store.getSchedule(`revoke-${grantId}`)).toBeDefined();
  });

  it('JSM approvals (JIRA_FIELD_APPROVERS): the approvers are put on the issue, and a decision in Jira releases the same wait', async () => {
    h = await startHarness({ env: { JIRA_FIELD_APPROVERS: 'customfield_10003' } });
    const { grantId, issueKey } = await file(h, { reporter: ENGINEER, subject: ENGINEER, app: 'Figma', role: 'editor', duration: 'PT24H' });
    const waiting = await h.runtime.workflow.quiet(grantId);
    expect(waiting.waitingForApproval).toBe(true);
    expect(h.sandbox.jira.approvals(issueKey).map((a) => a.approvers.map((x) => x.email))).toEqual([[MANAGER, 'grantline-bot@example.com']]);

    h.sandbox.jira.answerApproval(issueKey, MANAGER, 'approve');
    await h.client.sendApprovalCompleted(issueKey);
    const run = await waitDone(h, grantId);

    expect(run.states).toEqual(['Advance', 'Route', 'RequestApproval', 'Advance', 'Route', 'Provision', 'NeedsRevocation', 'ScheduleRevocation', 'Granted']);
    expect(h.sandbox.okta.members('00gfigmaeditor')).toContain(ENGINEER);
  });

  it('several steps in order: manager, then app owner; provisioning only after both', async () => {
    h = await startHarness();
    const { grantId } = await file(h, { reporter: ENGINEER, subject: ENGINEER, app: 'Salesforce', role: 'admin', duration: 'PT1H' });
    await h.runtime.workflow.quiet(grantId);
    await h.click(MANAGER, grantId, 0, 'approve');
    await waitStep(h, grantId, 1);
    expect(h.sandbox.okta.members('00gsfadmin')).not.toContain(ENGINEER);

    await h.click('omar.owner@example.com', grantId, 1, 'approve');
    const run = await waitDone(h, grantId);

    expect(run.states.filter((s) => s === 'RequestApproval')).toHaveLength(2);
    expect(h.sandbox.okta.members('00gsfadmin')).toContain(ENGINEER);
  });

  describe('quorum: {group: security-oncall, quorum: 2} of three on-call members', () => {
    const ONCALL = ['sam.sec@example.com', 'sasha.sec@example.com', 'sid.sec@example.com'] as const;
    const quorumCatalog = () =>
      testCatalog((t) =>
        t
          .replace('security-oncall: [sam.sec@example.com, sasha.sec@example.com]', `security-oncall: [${ONCALL.join(', ')}]`)
          .replace('approval: [{ group: security-oncall }]', 'approval: [{ group: security-oncall, quorum: 2 }]'),
      );
    const breakGlass = { reporter: ENGINEER, subject: ENGINEER, app: 'Internal admin console', role: 'break-glass', duration: 'PT1H' };

    it('2 of 3: the one wait ends at the second approval, then provisioning', async () => {
      h = await startHarness({ catalog: quorumCatalog() });
      const { grantId, issueKey } = await file(h, breakGlass);
      await h.runtime.workflow.quiet(grantId);

      await h.click(ONCALL[0], grantId, 0, 'approve');
      const between = await h.runtime.workflow.quiet(grantId);
      expect(between).toMatchObject({ status: 'RUNNING', waitingForApproval: true, states: ['Advance', 'Route', 'RequestApproval'] });
      expect(h.sandbox.okta.members('00gconsolebreakglass')).not.toContain(ENGINEER);

      await h.click(ONCALL[2], grantId, 0, 'approve');
      const run = await waitDone(h, grantId);

      expect(run.states).toEqual(['Advance', 'Route', 'RequestApproval', 'Advance', 'Route', 'Provision', 'NeedsRevocation', 'ScheduleRevocation', 'Granted']);
      expect(h.sandbox.okta.members('00gconsolebreakglass')).toContain(ENGINEER);
      expect(h.sandbox.jira.commentTexts(issueKey).filter((c) => c.startsWith('Grantline: approved'))).toHaveLength(2);
    });

    it('a deny after one approval ends the request: no provisioning', async () => {
      h = await startHarness({ catalog: quorumCatalog() });
      const { grantId, issueKey } = await file(h, breakGlass);
      await h.runtime.workflow.quiet(grantId);

      await h.click(ONCALL[0], grantId, 0, 'approve');
      await h.runtime.workflow.quiet(grantId);
      await h.click(ONCALL[1], grantId, 0, 'deny');
      const run = await waitDone(h, grantId);

      expect(run.states).toEqual(['Advance', 'Route', 'RequestApproval', 'Advance', 'Route', 'Closed']);
      expect(h.sandbox.okta.members('00gconsolebreakglass')).not.toContain(ENGINEER);
      expect(h.sandbox.jira.issue(issueKey)?.status).toBe('Declined');
    });
  });

  it('deny: the request closes without touching the group', async () => {
    h = await startHarness();
    const { grantId, issueKey } = await file(h, { reporter: ENGINEER, subject: ENGINEER, app: 'Figma', role: 'editor', duration: 'PT24H' });
    await h.runtime.workflow.quiet(grantId);

    await h.click(MANAGER, grantId, 0, 'deny');
    const run = await waitDone(h, grantId);

    expect(run.states).toEqual(['Advance', 'Route', 'RequestApproval', 'Advance', 'Route', 'Closed']);
    expect(h.sandbox.okta.members('00gfigmaeditor')).not.toContain(ENGINEER);
    expect(h.sandbox.jira.issue(issueKey)?.status).toBe('Declined');
  });

  it('approval timeout: nobody decides in time, the request is denied and that is recorded', async () => {
    h = await startHarness({ catalog: testCatalog((t) => t.replace('approvalTimeout: PT4H', 'approvalTimeout: PT1S')) });
    const { grantId, issueKey } = await file(h, { reporter: ENGINEER, subject: ENGINEER, app: 'Salesforce', role: 'admin', duration: 'PT1H' });

    const run = await waitDone(h, grantId, 15_000);

    expect(run.states).toEqual(['Advance', 'Route', 'RequestApproval', 'ApprovalTimer', 'Advance', 'Route', 'Closed']);
    expect((await h.runtime.deps.store.getGrant(grantId))?.status).toBe('denied');
    expect(h.sandbox.jira.commentTexts(issueKey).join('\n')).toMatch(/denied: nobody decided within 1 second/);
    expect(h.sandbox.slack.messages().some((m) => m.text.includes('Expired'))).toBe(true);
  });

  it('reminder, then escalation, then approval by the escalation approver: each timer is a pass through ApprovalTimer', async () => {
    const timers = (t: string) =>
      t.replace(
        '        approvalTimeout: PT1H\n',
        '        approvalTimeout: PT1H\n        remindAfter: PT1S\n        escalateAfter: PT2S\n        escalateTo: ivan.infra@example.com\n',
      );
    h = await startHarness({ catalog: testCatalog(timers) });
    const { grantId, issueKey } = await file(h, {
      reporter: ENGINEER,
      subject: ENGINEER,
      app: 'Internal admin console',
      role: 'break-glass',
      duration: 'PT1H',
    });
    for (let i = 0; i < 1_000 && (h.runtime.workflow.execution(grantId)?.states.filter((s) => s === 'RequestApproval').length ?? 0) < 3; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await h.runtime.workflow.quiet(grantId);
    expect(h.sandbox.slack.messages().filter((m) => m.text.startsWith('Reminder: ')).length).toBe(2); // sam and sasha, once each

    await h.click('ivan.infra@example.com', grantId, 0, 'approve');
    const run = await waitDone(h, grantId);

    expect(run.states).toEqual([
      ...['Advance', 'Route', 'RequestApproval', 'ApprovalTimer'],
      ...['Advance', 'Route', 'RequestApproval', 'ApprovalTimer'],
      ...['Advance', 'Route', 'RequestApproval'],
      ...['Advance', 'Route', 'Provision', 'NeedsRevocation', 'ScheduleRevocation', 'Granted'],
    ]);
    expect(h.sandbox.okta.members('00gconsolebreakglass')).toContain(ENGINEER);
    const comments = h.sandbox.jira.commentTexts(issueKey).join('\n');
    expect(comments).toContain('reminded sam.sec@example.com, sasha.sec@example.com');
    expect(comments).toContain('escalated to ivan.infra@example.com');
    expect(comments).toContain('approved by ivan.infra@example.com in Slack');
  });

  it('provisioning 429-then-success: Okta rate limit is retried and the grant completes once', async () => {
    h = await startHarness();
    const reset = String(Math.floor(Date.now() / 1000) + 120); // too far to wait in-process: the state machine retries
    h.sandbox.okta.fake.injectFault({
      method: 'PUT',
      path: '/api/v1/groups/',
      status: 429,
      headers: { 'X-Rate-Limit-Reset': reset },
      body: { errorCode: 'E0000047', errorSummary: 'API call exceeded rate limit due to too many requests.' },
      times: 2,
    });
    const { grantId, issueKey } = await file(h, { app: 'Notion', role: 'member', duration: 'permanent' });

    const run = await waitDone(h, grantId);

    expect(run.status).toBe('SUCCEEDED');
    expect(run.retries).toEqual(['Provision', 'Provision']);
    expect(h.sandbox.okta.members('00gnotionmember')).toEqual(expect.arrayContaining([NEW_HIRE]));
    expect(h.sandbox.jira.commentTexts(issueKey).filter((c) => c.includes('added nina.newhire'))).toHaveLength(1);
  });

  it('provisioning permanent failure: an APP_GROUP cannot be changed; the grant fails and the evidence says why', async () => {
    h = await startHarness();
    h.sandbox.okta.addGroup({ id: '00gnotionmember', name: 'Notion (app-managed)', type: 'APP_GROUP' });
    const { grantId, issueKey } = await file(h, { app: 'Notion', role: 'member', duration: 'permanent' });

    const run = await waitDone(h, grantId);

    expect(run.status).toBe('FAILED');
    expect(run.states).toEqual(['Advance', 'Route', 'Provision', 'RecordFailure', 'Failed']);
    expect((await h.runtime.deps.store.getGrant(grantId))?.status).toBe('failed');
    expect(h.sandbox.jira.commentTexts(issueKey).join('\n')).toMatch(/could not complete the request: .*APP_GROUP.*Nothing was granted/s);
  });

  it('manual app: the owner gets a task, the grant is marked not automatically revocable', async () => {
    h = await startHarness();
    const { grantId, issueKey } = await file(h, { reporter: ENGINEER, subject: ENGINEER, app: 'Legacy ERP', role: 'clerk', duration: 'P30D' });
    await h.runtime.workflow.quiet(grantId);
    await h.click('erin.erp@example.com', grantId, 0, 'approve');

    const run = await waitDone(h, grantId);

    expect(run.states.slice(-4)).toEqual(['Provision', 'NeedsRevocation', 'ScheduleRevocation', 'Granted']);
    const comments = h.sandbox.jira.commentTexts(issueKey).join('\n');
    expect(comments).toContain('manual task for erin.erp@example.com');
    expect(comments).toContain('NOT automatically revocable');
    expect((await h.runtime.deps.store.getGrant(grantId))?.manual).toBe(true);
  });

  it('permanent grant: provisioned with no revocation schedule', async () => {
    h = await startHarness();
    const { grantId } = await file(h, { reporter: ENGINEER, subject: ENGINEER, app: 'Figma', role: 'editor', duration: 'permanent' });
    await h.runtime.workflow.quiet(grantId);
    await h.click(MANAGER, grantId, 0, 'approve');

    const run = await waitDone(h, grantId);

    expect(run.states).not.toContain('ScheduleRevocation');
    expect(await h.runtime.deps.store.getSchedule(`revoke-${grantId}`)).toBeUndefined();
    expect((await h.runtime.deps.store.getGrant(grantId))?.expiresAt).toBeUndefined();
  });

  it('a revocation schedule that cannot be made ends the access at once instead of leaving it with no end (issue 8 #3)', async () => {
    h = await startHarness();
    h.runtime.scheduler.schedule = async () => {
      throw new Error('EventBridge Scheduler is unavailable');
    };
    const { grantId, issueKey } = await file(h, { reporter: ENGINEER, subject: ENGINEER, app: 'Figma', role: 'editor', duration: 'PT24H' });
    await h.runtime.workflow.quiet(grantId);
    await h.click(MANAGER, grantId, 0, 'approve');

    const run = await waitDone(h, grantId);

    expect(run.states.slice(-3)).toEqual(['ScheduleRevocation', 'RevokeNow', 'RevokedForLackOfSchedule']);
    expect(run.status).toBe('FAILED');
    expect(h.sandbox.okta.members('00gfigmaeditor')).not.toContain(ENGINEER);
    expect((await h.runtime.deps.store.getGrant(grantId))?.status).toBe('revoked');
    expect(h.sandbox.jira.commentTexts(issueKey, 'internal').at(-1)).toContain('no revocation schedule could be created, so the access ends now');
  });
});

describe('break-glass: the requester approves their own request with an incident reference; the review after the fact waits in the state machine', () => {
  const ONCALL = ['sam.sec@example.com', 'sasha.sec@example.com'];
  const request = { reporter: ENGINEER, subject: ENGINEER, app: 'Internal admin console', role: 'break-glass', duration: 'PT1H', breakGlass: 'Break-glass' };
  /** The sample catalog with a review due seconds after the approval (a real Wait state), and what happens to an unreviewed one. */
  const reviewIn = (within: string, onUnreviewed = 'flag') =>
    testCatalog((t) => t.replace('reviewWithin: PT24H', `reviewWithin: ${within}`).replace('onUnreviewed: flag', `onUnreviewed: ${onUnreviewed}`));

  it('with a valid reference: no approval is asked, the access starts at once, the review is opened and waited for; confirmed, the execution closes at the deadline', async () => {
    h = await startHarness({ catalog: reviewIn('PT2S') });
    const { grantId, issueKey } = await file(h, { ...request, incident: 'INC-42' });

    const waiting = await h.runtime.workflow.quiet(grantId);
    expect(waiting).toMatchObject({ status: 'RUNNING', waitingForApproval: false, waitingForReview: true });
    expect(waiting.states).toEqual(['Advance', 'Route', 'Provision', 'NeedsRevocation', 'OpenReview', 'AwaitReview']);
    expect(h.sandbox.okta.members('00gconsolebreakglass')).toContain(ENGINEER);
    expect(await h.runtime.deps.store.getSchedule(`revoke-${grantId}`)).toBeDefined();
    const reviewMessage = h.sandbox.slack.messagesTo(h.sandbox.slack.users().find((u) => u.email === ONCALL[0])!.id)[0]!;
    expect((await h.press(ONCALL[0]!, reviewMessage, 'grantline_review')).body).toEqual({ outcome: 'recorded' });

    const run = await waitDone(h, grantId);

    expect(run.states).toEqual([
      ...['Advance', 'Route', 'Provision', 'NeedsRevocation', 'OpenReview', 'AwaitReview'],
      ...['ReviewDue', 'UnreviewedRevokes', 'ReviewClosed'],
    ]);
    expect(run.status).toBe('SUCCEEDED');
    const comments = h.sandbox.jira.commentTexts(issueKey, 'internal').map((c) => c.split('\n')[0]);
    expect(comments).toContain(`Grantline: approved by ${ENGINEER} under break-glass, incident INC-42: onboarding`);
    expect(comments.filter((c) => c?.startsWith('Grantline: approval asked'))).toEqual([]);
    expect(comments).toContainEqual(expect.stringMatching(/^Grantline: break-glass reviewed by sam\.sec@example\.com at /));
    expect(comments.filter((c) => c?.startsWith('Grantline: FLAGGED'))).toEqual([]);
    expect(h.sandbox.okta.members('00gconsolebreakglass')).toContain(ENGINEER); // the access runs its hour
  });

  it('without a valid reference: refused at intake (422), no execution, nothing granted', async () => {
    h = await startHarness();
    const missing = await h.client.fileRequest({ ...request, justification: 'onboarding' });
    const malformed = await h.client.fileRequest({ ...request, justification: 'onboarding', incident: 'the database' });

    expect([missing.status, malformed.status]).toEqual([422, 422]);
    for (const { issueKey } of [missing, malformed]) {
      expect(h.runtime.workflow.execution(`grant-${issueKey}`)).toBeUndefined();
      expect(await h.runtime.deps.store.getGrant(`grant-${issueKey}`)).toBeUndefined();
      expect((await h.runtime.deps.store.evidence(`grant-${issueKey}`)).map((e) => e.type)).toEqual(['break_glass_refused']);
    }
    expect(h.sandbox.okta.members('00gconsolebreakglass')).not.toContain(ENGINEER);
  });

  it('not reviewed in time with onUnreviewed: revoke: flagged, then revoked through the revoke path', async () => {
    h = await startHarness({ catalog: reviewIn('PT1S', 'revoke') });
    const { grantId, issueKey } = await file(h, { ...request, incident: 'INC-7' });

    const run = await waitDone(h, grantId);

    expect(run.states.slice(-5)).toEqual(['AwaitReview', 'ReviewDue', 'UnreviewedRevokes', 'RevokeUnreviewed', 'ReviewClosed']);
    expect(h.sandbox.okta.members('00gconsolebreakglass')).not.toContain(ENGINEER);
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({
      status: 'revoked',
      revokeReason: 'unreviewed_break_glass',
      breakGlassReview: { outcome: 'unreviewed' },
    });
    expect(h.sandbox.jira.commentTexts(issueKey, 'internal').join('\n')).toMatch(
      /FLAGGED: break-glass not reviewed within 1 second: nobody confirmed incident INC-7/,
    );
  });
});

async function waitDone(harness: Harness, grantId: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = harness.runtime.workflow.execution(grantId);
    if (run && run.status !== 'RUNNING') return run;
    if (Date.now() > deadline) throw new Error(`execution ${grantId} still running: ${run?.states.join(' > ')}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function waitStep(harness: Harness, grantId: string, step: number) {
  for (let i = 0; i < 500; i++) {
    const grant = await harness.runtime.deps.store.getGrant(grantId);
    const run = harness.runtime.workflow.execution(grantId);
    if (grant?.currentStep === step && run?.waitingForApproval) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`grant ${grantId} never reached step ${step}`);
}
