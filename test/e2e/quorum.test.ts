/**
 * A quorum step end to end on the local runtime, through the real Slack, Jira and Okta SDK adapters
 * against the sandbox: break-glass needs two of the three on-call engineers. Assertions are on what
 * people see: the Slack approval messages, the Jira evidence and notices, the Okta group, the audit answer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { GrantAnswers } from '../../shared/audit.js';
import { startHarness, testCatalog, type Harness } from '../support/harness.js';
import { eventually, finished } from '../support/wait.js';

const ENGINEER = 'eli.engineer@example.com';
const SAM = 'sam.sec@example.com';
const SASHA = 'sasha.sec@example.com';
const SID = 'sid.sec@example.com';
const BREAK_GLASS = '00gconsolebreakglass';

const quorumCatalog = () =>
  testCatalog((t) =>
    t
      .replace('security-oncall: [sam.sec@example.com, sasha.sec@example.com]', `security-oncall: [${SAM}, ${SASHA}, ${SID}]`)
      .replace('approval: [{ group: security-oncall }]', 'approval: [{ group: security-oncall, quorum: 2 }]'),
  );

let h: Harness | undefined;
/** The engineer asks for the admin console's break-glass role for an hour, through the approval chain. */
const fileBreakGlass = (harness: Harness, justification: string) =>
  harness.client.fileRequest({ reporter: ENGINEER, subject: ENGINEER, app: 'Internal admin console', role: 'break-glass', duration: 'PT1H', justification });

afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('quorum: two of the three on-call engineers approve break-glass', () => {
  it('each approval shows on every Slack message, the second closes the step; Jira and the audit name both; the engineer is added', async () => {
    h = await startHarness({ catalog: quorumCatalog() });
    const filed = await fileBreakGlass(h, 'INC-42: database failover');
    expect(filed.status).toBe(202);
    const grantId = String(filed.body.grantId);
    const slackId = (email: string) => h!.sandbox.slack.users().find((u) => u.email === email)!.id;
    // Each on-call engineer's approval message (the first message in their DM).
    const prompt = (email: string) => h!.sandbox.slack.messagesTo(slackId(email))[0]!;
    await eventually(() => {
      for (const who of [SAM, SASHA, SID]) expect(JSON.stringify(prompt(who).blocks)).toContain('grantline_approve');
    });

    expect((await h.click(SAM, grantId, 0, 'approve')).body).toEqual({ outcome: 'recorded' });

    // Every message shows the first approval and keeps its buttons for the others.
    for (const who of [SAM, SASHA, SID]) {
      expect(prompt(who).text).toContain(`Approved by ${SAM} (1 of 2); 1 more approval needed`);
      expect(JSON.stringify(prompt(who).blocks)).toContain('grantline_approve');
    }
    expect(h.sandbox.okta.members(BREAK_GLASS)).not.toContain(ENGINEER);

    // The same engineer again: refused, told why, recorded.
    expect((await h.click(SAM, grantId, 0, 'approve')).body).toEqual({ outcome: 'refused' });
    expect(h.sandbox.slack.messagesTo(slackId(SAM)).map((m) => m.text)).toContain('Your click was not recorded: you already approved this step.');

    expect((await h.click(SID, grantId, 0, 'approve')).body).toEqual({ outcome: 'recorded' });
    await finished(h, grantId);

    expect(h.sandbox.okta.members(BREAK_GLASS)).toContain(ENGINEER);
    for (const who of [SAM, SASHA, SID]) {
      expect(prompt(who).text).toMatch(/Approved by sam\.sec@example\.com, sid\.sec@example\.com at /);
      expect(JSON.stringify(prompt(who).blocks)).not.toContain('grantline_approve');
    }
    const internal = h.sandbox.jira.commentTexts(filed.issueKey, 'internal').map((c) => c.split('\n')[0]);
    expect(internal).toContain(`Grantline: approval asked of ${SAM}, ${SASHA}, ${SID}: 2 of them must approve (step 1 of 1)`);
    expect(internal.filter((c) => c?.startsWith('Grantline: approved'))).toEqual([
      `Grantline: approved by ${SAM} in Slack (1 of 2 needed, step 1 of 1)`,
      `Grantline: approved by ${SID} in Slack (2 of 2 needed, step 1 of 1)`,
    ]);
    expect(internal).toContain(`Grantline: refused a decision by ${SAM}: you already approved this step`);
    expect(h.sandbox.jira.publicCommentTexts(filed.issueKey).map((c) => c.split('\n')[0])).toEqual([
      'We have received your access request. Updates will appear here.',
      `${SAM} approved your request; 1 more approval is needed.`,
      `Your request was approved by ${SAM}, ${SID}.`,
      expect.stringMatching(/^Access granted until \S+ \(UTC\)\.$/),
    ]);

    const audit = await h.client.audit(`/grants/${grantId}`);
    expect((audit.body.answers as GrantAnswers).approvedBy).toEqual([
      expect.objectContaining({ step: 1, by: SAM, via: 'slack' }),
      expect.objectContaining({ step: 1, by: SID, via: 'slack' }),
    ]);
  });

  it('a deny by any one of them after an approval ends the request; the approval stays on the record', async () => {
    h = await startHarness({ catalog: quorumCatalog() });
    const filed = await fileBreakGlass(h, 'INC-43');
    const grantId = String(filed.body.grantId);
    await h.runtime.workflow.quiet(grantId);

    await h.click(SASHA, grantId, 0, 'approve');
    await h.click(SID, grantId, 0, 'deny');
    await finished(h, grantId);

    expect(h.sandbox.okta.members(BREAK_GLASS)).not.toContain(ENGINEER);
    expect(h.sandbox.jira.issue(filed.issueKey)?.status).toBe('Declined');
    const internal = h.sandbox.jira.commentTexts(filed.issueKey, 'internal');
    expect(internal.map((c) => c.split('\n')[0])).toEqual(
      expect.arrayContaining([`Grantline: approved by ${SASHA} in Slack (1 of 2 needed, step 1 of 1)`, `Grantline: denied by ${SID} in Slack (step 1 of 1)`]),
    );
    expect(internal.find((c) => c.startsWith('Grantline: denied'))).toContain(`${SASHA} (1 of 2 needed)`);
  });
});
