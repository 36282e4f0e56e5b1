/**
 * End to end through HTTP on the local runtime: the real Jira, Slack and Okta SDK adapters talk to
 * the sandbox's loopback services. Assertions are on what people see: the Okta membership, the
 * Jira comments and status, the Slack message, the audit API's answer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { GrantAnswers } from '../../shared/audit.js';
import type { Grant } from '../../shared/grants/model.js';
import { startHarness, type Harness } from '../support/harness.js';
import { eventually, finished } from '../support/wait.js';

const NEW_HIRE = 'nina.newhire@example.com';
const MANAGER = 'maria.manager@example.com';
const ENGINEER = 'eli.engineer@example.com';
const FIGMA_EDITOR = '00gfigmaeditor';
const HOUR = 3_600_000;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('request → Slack approval → Okta group → Jira evidence → timed revocation', () => {
  it('a manager requests for a new hire; the app owner approves in Slack; access is granted and recorded', async () => {
    h = await startHarness();
    const filed = await h.client.fileRequest({
      reporter: MANAGER,
      subject: NEW_HIRE,
      app: 'Figma',
      role: 'editor',
      duration: 'PT24H',
      justification: 'Joins the design team',
    });
    expect(filed.status).toBe(202);
    const grantId = String(filed.body.grantId);

    // The manager is the requester, so the app owner is asked in a Slack DM with Approve/Deny.
    const owner = h.sandbox.slack.users().find((u) => u.email === 'dana.design@example.com')!;
    const prompt = await eventually(() => {
      const [message] = h!.sandbox.slack.messagesTo(owner.id);
      if (!message) throw new Error('no approval message yet');
      return message;
    });
    expect(JSON.stringify(prompt.blocks)).toContain('grantline_approve');
    expect(JSON.stringify(prompt.blocks)).not.toMatch(/token/i);

    const click = await h.click('dana.design@example.com', grantId, 0, 'approve');
    expect(click.status).toBe(200);
    await finished(h, grantId);

    // Okta: the new hire is in the group.
    expect(h.sandbox.okta.members(FIGMA_EDITOR)).toContain(NEW_HIRE);
    // Slack: the approval message now shows the outcome and has no buttons.
    const updated = h.sandbox.slack.messagesTo(owner.id)[0]!;
    expect(updated.text).toMatch(/Approved by dana\.design@example\.com/);
    expect(JSON.stringify(updated.blocks)).not.toContain('grantline_approve');
    // Jira: one evidence comment per step (internal), and the issue moved to the granted status.
    const comments = h.sandbox.jira.commentTexts(filed.issueKey, 'internal');
    expect(comments.map((c) => c.split('\n')[0])).toEqual([
      'Grantline: maria.manager@example.com requested Figma editor for nina.newhire@example.com',
      'Grantline: approval asked of dana.design@example.com (step 1 of 1)',
      'Grantline: approved by dana.design@example.com in Slack (step 1 of 1)',
      'Grantline: added nina.newhire@example.com to okta group 00gfigmaeditor',
      expect.stringMatching(/^Grantline: revocation scheduled at /),
    ]);
    expect(h.sandbox.jira.issue(filed.issueKey)).toMatchObject({ status: 'Access granted', resolution: 'Done' });
    // What the requester sees: a notice per outcome, no group, no approver list.
    expect(h.sandbox.jira.publicCommentTexts(filed.issueKey).map((c) => c.split('\n')[0])).toEqual([
      'We have received your access request. Updates will appear here.',
      'Your request was approved by dana.design@example.com.',
      expect.stringMatching(/^Access granted until \S+ \(UTC\)\.$/),
    ]);

    // The auditor's five questions, from one call.
    const audit = await h.client.audit(`/grants/${grantId}`);
    expect(audit.status).toBe(200);
    const answers = audit.body.answers as GrantAnswers;
    expect(answers.requested).toMatchObject({ by: MANAGER, for: NEW_HIRE, what: 'Figma / editor for PT24H', jiraIssue: filed.issueKey });
    expect(answers.approvedBy).toEqual([expect.objectContaining({ by: 'dana.design@example.com', via: 'slack' })]);
    expect(answers.group).toBe('okta group 00gfigmaeditor');
    expect(new Date(answers.started!).getTime()).toBeGreaterThanOrEqual(new Date(answers.approvedBy[0]!.at).getTime());
    expect(answers.expires).toBe(new Date(new Date(answers.started!).getTime() + 24 * HOUR).toISOString());
    expect(JSON.stringify(audit.body)).not.toContain('local-'); // the task token never leaves the server
  });

  it('time-bound access is removed at expiry; a second firing changes nothing', async () => {
    h = await startHarness();
    const filed = await h.client.fileRequest({
      reporter: ENGINEER,
      subject: ENGINEER,
      app: 'Salesforce',
      role: 'admin',
      duration: 'PT1H',
      justification: 'Quarter close',
    });
    const grantId = String(filed.body.grantId);
    await h.runtime.workflow.quiet(grantId);
    await h.click(MANAGER, grantId, 0, 'approve');
    await eventually(async () => expect((await h!.runtime.deps.store.getGrant(grantId))?.currentStep).toBe(1));
    await h.runtime.workflow.quiet(grantId);
    await h.click('omar.owner@example.com', grantId, 1, 'approve');
    await finished(h, grantId);
    expect(h.sandbox.okta.members('00gsfadmin')).toContain(ENGINEER);

    h.clock.advance(30 * 60_000);
    expect(await h.runtime.scheduler.tick()).toBe(0);
    expect(h.sandbox.okta.members('00gsfadmin')).toContain(ENGINEER);

    h.clock.advance(31 * 60_000);
    expect(await h.runtime.scheduler.tick()).toBe(1);
    expect(h.sandbox.okta.members('00gsfadmin')).not.toContain(ENGINEER);
    expect(h.sandbox.jira.issue(filed.issueKey)).toMatchObject({ status: 'Done', resolution: 'Done' });
    expect(h.sandbox.jira.publicCommentTexts(filed.issueKey).at(-1)).toMatch(/^Your access has ended: the time you asked for ran out\./);
    expect(h.sandbox.jira.commentTexts(filed.issueKey, 'internal').at(-1)).toMatch(
      /^Grantline: removed eli\.engineer@example\.com from okta group 00gsfadmin \(expired\)/,
    );

    // Scheduler delivers at least once: the same revocation firing again is a no-op.
    const deletes = h.sandbox.okta.fake.requests.filter((r) => r.method === 'DELETE').length;
    expect(await h.runtime.deps.scheduler.schedule(grantId, h.clock.now())).toBe('created');
    await h.runtime.scheduler.tick();
    expect(h.sandbox.okta.fake.requests.filter((r) => r.method === 'DELETE').length).toBe(deletes);
    expect(h.sandbox.jira.commentTexts(filed.issueKey).filter((c) => c.includes('removed eli.engineer'))).toHaveLength(1);

    const audit = await h.client.audit(`/grants/${grantId}`);
    const revoked = (audit.body.answers as GrantAnswers).revoked;
    expect(revoked).toMatchObject({ reason: 'expired', scheduledFor: (audit.body.grant as Grant).expiresAt });
    expect(new Date(revoked.at!).getTime()).toBeGreaterThanOrEqual(new Date(revoked.scheduledFor!).getTime());
  });

  it('the membership stays when another active grant still needs it', async () => {
    h = await startHarness();
    const short = await h.client.fileRequest({
      reporter: ENGINEER,
      subject: ENGINEER,
      app: 'Figma',
      role: 'editor',
      duration: 'PT24H',
      justification: 'Sprint',
    });
    await h.runtime.workflow.quiet(String(short.body.grantId));
    await h.click(MANAGER, String(short.body.grantId), 0, 'approve');
    await finished(h, String(short.body.grantId));
    const lasting = await h.client.fileRequest({
      reporter: ENGINEER,
      subject: ENGINEER,
      app: 'Figma',
      role: 'editor',
      duration: 'permanent',
      justification: 'Joined design guild',
    });
    await h.runtime.workflow.quiet(String(lasting.body.grantId));
    await h.click(MANAGER, String(lasting.body.grantId), 0, 'approve');
    await finished(h, String(lasting.body.grantId));

    h.clock.advance(25 * HOUR);
    await h.runtime.scheduler.tick();

    expect(h.sandbox.okta.members(FIGMA_EDITOR)).toContain(ENGINEER);
    expect(h.sandbox.jira.commentTexts(short.issueKey, 'internal').at(-1)).toContain(`still needed by active grant ${String(lasting.body.grantId)}`);
    expect((await h.runtime.deps.store.getGrant(String(short.body.grantId)))?.status).toBe('revoked');
  });

  it('a membership that existed before the grant is never removed by it', async () => {
    h = await startHarness();
    h.sandbox.okta.addMembership(FIGMA_EDITOR, ENGINEER);
    const filed = await h.client.fileRequest({
      reporter: ENGINEER,
      subject: ENGINEER,
      app: 'Figma',
      role: 'editor',
      duration: 'PT24H',
      justification: 'Formalise access',
    });
    const grantId = String(filed.body.grantId);
    await h.runtime.workflow.quiet(grantId);
    await h.click(MANAGER, grantId, 0, 'approve');
    await finished(h, grantId);

    h.clock.advance(25 * HOUR);
    await h.runtime.scheduler.tick();

    expect(h.sandbox.okta.members(FIGMA_EDITOR)).toContain(ENGINEER);
    expect(h.sandbox.jira.commentTexts(filed.issueKey).join('\n')).toContain('the membership existed before Grantline granted it, outside Grantline');
  });

  it("GET /grants?user= returns the person's history with every evidence event", async () => {
    h = await startHarness();
    const first = await h.client.fileRequest({
      reporter: MANAGER,
      subject: NEW_HIRE,
      app: 'Notion',
      role: 'member',
      duration: 'permanent',
      justification: 'Wiki',
    });
    await finished(h, String(first.body.grantId));
    const second = await h.client.fileRequest({
      reporter: MANAGER,
      subject: NEW_HIRE,
      app: 'Figma',
      role: 'viewer',
      duration: 'permanent',
      justification: 'Specs',
    });
    await finished(h, String(second.body.grantId));

    const res = await h.client.audit(`/grants?user=${encodeURIComponent('Nina.NewHire@example.com')}`);

    expect(res.status).toBe(200);
    expect(res.body.count).toBe(2);
    const grants = res.body.grants as Array<{ grant: { app: string; status: string }; evidence: Array<{ type: string }> }>;
    expect(grants.map((g) => [g.grant.app, g.grant.status])).toEqual([
      ['notion', 'active'],
      ['figma', 'active'],
    ]);
    expect(grants[0]!.evidence.map((e) => e.type)).toEqual(['requested', 'auto_approved', 'provisioned']);
  });

  it('the audit API refuses callers without the token', async () => {
    h = await startHarness();
    const res = await fetch(`${h.runtime.url}/grants?user=${NEW_HIRE}`);
    expect(res.status).toBe(401);
  });
});
