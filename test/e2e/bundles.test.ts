/**
 * Onboarding bundles end to end on the local runtime (the real ASL file, dynalite, the Slack, Jira,
 * Okta and Entra adapters against the sandbox): one Jira issue naming a bundle of five items, each
 * under its own policy (automatic, manager, manager then app owner, an approver group, a manual app's
 * owner). Assertions are on what people see: the approvers' Slack messages, the Jira issue, the groups.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeSlackMessage } from '../../infra/local/sandbox/slack.js';
import { BUNDLE_APPROVE_ALL_ACTION_ID } from '../../shared/ports.js';
import { startHarness, testCatalog, type Harness } from '../support/harness.js';
import { eventually, finished } from '../support/wait.js';

const NINA = 'nina.newhire@example.com';
const MARIA = 'maria.manager@example.com';
const OMAR = 'omar.owner@example.com';
const SAM = 'sam.sec@example.com';
const ERIN = 'erin.erp@example.com';

/** Five items, one per kind of approval: auto, manager, manager then app owner, a group, a manual app's owner. */
const ONBOARDING = '[notion/member, salesforce/read-only, salesforce/admin, admin-console/break-glass, legacy-erp/clerk]';
const bundleCatalog = () => testCatalog((t) => `${t}  sales-engineer:\n    name: Sales engineer\n    items: ${ONBOARDING}\n`);

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const slackId = (email: string) => h!.sandbox.slack.users().find((u) => u.email === email)!.id;
/** The approval messages a person got (the ones with buttons or an outcome, not the notices in their threads). */
const approvalMessages = (email: string): FakeSlackMessage[] =>
  h!.sandbox.slack.messagesTo(slackId(email)).filter((m) => !m.threadTs && JSON.stringify(m.blocks).includes('Onboarding bundle'));
/** The buttons of a message, in order, as `action_id value`. */
const buttons = (m: FakeSlackMessage) =>
  (m.blocks as Array<{ type?: string; elements?: Array<{ type?: string; action_id?: string; value?: string }> }>)
    .filter((b) => b.type === 'actions')
    .flatMap((b) => (b.elements ?? []).filter((e) => e.type === 'button').map((e) => `${e.action_id} ${e.value}`));

describe('onboarding bundle: one issue, five items, each under its own policy', () => {
  it('one Slack message per approver with "Approve all", each item granted or declined on its own, one summary on the issue', async () => {
    h = await startHarness({ catalog: bundleCatalog() });
    const filed = await h.client.fileRequest({ reporter: NINA, subject: NINA, bundle: 'Sales engineer', justification: 'Joining the sales engineering team' });
    expect(filed.status).toBe(202);
    const ids = filed.body.grantIds as string[];
    expect(ids).toHaveLength(5);
    const [notion, readOnly, admin, breakGlass, erp] = ids as [string, string, string, string, string];

    // The automatic item is granted without anyone; the manager gets ONE message for her two items.
    const opened = h.sandbox.jira.issue(filed.issueKey)!.status;
    await finished(h, notion);
    expect(h.sandbox.okta.members('00gnotionmember')).toContain(NINA);
    // An item's evidence never moves the issue: only the bundle's summary does.
    expect(h.sandbox.jira.issue(filed.issueKey)!.status).toBe(opened);
    const maria = await eventually(() => {
      const messages = approvalMessages(MARIA);
      expect(messages).toHaveLength(1);
      expect(buttons(messages[0]!)).toEqual([
        `grantline_approve ${readOnly}:0`,
        `grantline_deny ${readOnly}:0`,
        `grantline_approve ${admin}:0`,
        `grantline_deny ${admin}:0`,
        `${BUNDLE_APPROVE_ALL_ACTION_ID} grant-${filed.issueKey}`,
      ]);
      return messages[0]!;
    });

    // "Approve all": both of her items approved by her, as two decisions.
    expect((await h.press(MARIA, maria, BUNDLE_APPROVE_ALL_ACTION_ID)).body).toEqual({ approved: 2, refused: 0 });
    await finished(h, readOnly);
    expect(h.sandbox.okta.members('00gsfreadonly')).toContain(NINA);

    // The admin role's second step goes to the app owner, in a message of his own; he approves its item.
    await eventually(() => expect(approvalMessages(OMAR)).toHaveLength(1));
    expect((await h.click(OMAR, admin, 1, 'approve')).body).toEqual({ outcome: 'recorded' });
    // On-call security declines the break-glass role (asked as usual: the request did not say break-glass).
    await eventually(() => expect(approvalMessages(SAM)).toHaveLength(1));
    expect((await h.click(SAM, breakGlass, 0, 'deny')).body).toEqual({ outcome: 'recorded' });
    // The manual app's owner approves: a task for her, not an identity-provider group.
    await eventually(() => expect(approvalMessages(ERIN)).toHaveLength(1));
    expect((await h.click(ERIN, erp, 0, 'approve')).body).toEqual({ outcome: 'recorded' });
    for (const id of ids) await finished(h, id);

    expect(h.sandbox.okta.members('00gsfadmin')).toContain(NINA);
    expect(h.sandbox.okta.members('00gconsolebreakglass')).not.toContain(NINA);
    // The manager's one message now shows both outcomes and no buttons.
    await eventually(() => {
      const [message] = approvalMessages(MARIA);
      expect(buttons(message!)).toEqual([]);
      expect(JSON.stringify(message!.blocks).match(/Approved by maria\.manager@example\.com/g)).toHaveLength(2);
    });
    expect(approvalMessages(MARIA)).toHaveLength(1);

    // One summary on the issue, once every item settled, which alone moved the issue's status.
    const summary = await eventually(() => {
      const found = h!.sandbox.jira.commentTexts(filed.issueKey, 'internal').filter((c) => c.includes('every item of bundle'));
      expect(found).toHaveLength(1);
      return found[0]!;
    });
    expect(summary.split('\n')[0]).toBe('Grantline: every item of bundle Sales engineer is settled: 4 of 5 granted, 1 declined, 0 failed');
    expect(summary).toContain('Internal admin console break-glass: declined: denied by sam.sec@example.com (step 1)');
    expect(summary).toMatch(/Legacy ERP clerk: granted at \S+ via manual task for erin\.erp@example\.com/);
    expect(h.sandbox.jira.issue(filed.issueKey)).toMatchObject({ status: 'Access granted', resolution: 'Done' });
    const notices = h.sandbox.jira.publicCommentTexts(filed.issueKey).map((c) => c.split('\n')[0]);
    expect(notices).toContain('Internal admin console break-glass: Your request was declined by sam.sec@example.com.');
    expect(notices.at(-1)).toBe(
      'Every item of your Sales engineer request is settled: granted Notion member, Salesforce read-only, Salesforce admin, Legacy ERP clerk; declined Internal admin console break-glass.',
    );

    // Jira delivers the webhook again: nothing new is recorded.
    const again = await h.client.sendIssueCreated(filed.issueKey, { reporter: NINA, subject: NINA, bundle: 'Sales engineer', justification: 'x' });
    expect(again.body).toMatchObject({ duplicate: true, grantIds: ids });
  });

  it('a request naming an unknown bundle, or a bundle and an app, is refused with a comment; nothing is recorded', async () => {
    h = await startHarness({ catalog: bundleCatalog() });
    const unknown = await h.client.fileRequest({ reporter: NINA, subject: NINA, bundle: 'Astronaut', justification: 'x' });
    expect(unknown.status).toBe(422);
    expect(h.sandbox.jira.publicCommentTexts(unknown.issueKey).join('\n')).toContain(
      'unknown bundle "Astronaut": choose one of Engineering new hire, Sales engineer',
    );
    const both = await h.client.fileRequest({ reporter: NINA, subject: NINA, bundle: 'Sales engineer', app: 'Figma', role: 'viewer', justification: 'x' });
    expect(both.status).toBe(422);
    expect(h.sandbox.jira.publicCommentTexts(both.issueKey).join('\n')).toContain('a request naming a bundle leaves app');
    const tooLong = await h.client.fileRequest({ reporter: NINA, subject: NINA, bundle: 'Sales engineer', duration: 'P30D', justification: 'x' });
    expect(tooLong.status).toBe(422);
    expect(h.sandbox.jira.publicCommentTexts(tooLong.issueKey).join('\n')).toContain('item 1 (notion/member): duration P30D is not offered for Notion member');
    expect(h.sandbox.okta.members('00gnotionmember')).not.toContain(NINA);
  });
});
