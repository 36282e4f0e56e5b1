/**
 * Everyone concerned hears the outcome in Slack: the requester (in the thread of the message that
 * said their Slack request was filed), the person the access is for, and the approvers asked (in
 * the thread of their approval message). A role with an approval channel is decided there.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { testCatalog } from '../support/catalog.js';
import { startHarness, type Harness } from '../support/harness.js';
import { finished } from '../support/wait.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const MARIA = 'maria.manager@example.com';
const NINA = 'nina.newhire@example.com';
const DANA = 'dana.design@example.com';
const now = (harness: Harness) => Math.floor(harness.clock.now().getTime() / 1000);
const slackId = (harness: Harness, email: string) => harness.sandbox.slack.users().find((u) => u.email === email)!.id;
const messagesTo = (harness: Harness, email: string) => harness.sandbox.slack.messagesTo(slackId(harness, email));

/** Maria asks in Slack for Figma editor for Nina (her report): the app owner, Dana, decides, as Maria is the requester. */
async function requestInSlack(harness: Harness): Promise<string> {
  const { viewId } = await harness.client.slashAccess(MARIA, 'figma editor', { timestamp: now(harness) });
  for (const [field, value] of [
    ['duration', 'PT24H'],
    ['justification', 'Design onboarding'],
    ['subject', NINA],
  ] as const) {
    await harness.client.fillForm(viewId!, field, value);
  }
  await harness.client.submitForm(viewId!, { timestamp: now(harness) });
  await harness.runtime.jobs.idle();
  await harness.runtime.workflow.quiet('grant-ACC-1');
  return 'grant-ACC-1';
}

describe('the outcome is told to everyone concerned', () => {
  it('granted: the requester in the thread of "Filed …", the new hire by DM, the approver in the thread of the approval message', async () => {
    h = await startHarness();
    const grantId = await requestInSlack(h);
    const [filedMessage] = messagesTo(h, MARIA);
    const [approvalMessage] = messagesTo(h, DANA);

    await h.click(DANA, grantId, 0, 'approve');
    await finished(h, grantId);

    const granted = /^Access granted: nina\.newhire@example\.com now has Figma editor until \S+ \(ACC-1\)\.$/;
    expect(filedMessage!.text).toMatch(/^Filed ACC-1: Figma editor for nina\.newhire@example\.com \(PT24H\)/);
    const toMaria = messagesTo(h, MARIA).slice(1);
    expect(toMaria.map((m) => [m.text, m.threadTs])).toEqual([[expect.stringMatching(granted), filedMessage!.ts]]);
    expect(messagesTo(h, NINA).map((m) => m.text)).toEqual([expect.stringMatching(granted)]);
    const toDana = messagesTo(h, DANA).slice(1);
    expect(toDana.map((m) => [m.text, m.threadTs])).toEqual([[expect.stringMatching(granted), approvalMessage!.ts]]);
  });

  it('denied: the requester and the new hire are told by whom; the approval message shows it', async () => {
    h = await startHarness();
    const grantId = await requestInSlack(h);

    await h.click(DANA, grantId, 0, 'deny');
    await finished(h, grantId);

    const denied = 'Your request ACC-1 for Figma editor was denied: denied by dana.design@example.com (step 1).';
    expect(messagesTo(h, MARIA).at(-1)).toMatchObject({ text: denied, threadTs: messagesTo(h, MARIA)[0]!.ts });
    expect(messagesTo(h, NINA).map((m) => m.text)).toEqual([denied]);
    expect(messagesTo(h, DANA)).toHaveLength(1);
    expect(messagesTo(h, DANA)[0]!.text).toContain('Denied by dana.design@example.com');
  });
});

describe('a role with an approval channel', () => {
  const withChannel = () =>
    testCatalog((text) =>
      text.replace(
        '        approval: [{ group: security-oncall }]\n',
        '        approval: [{ group: security-oncall }]\n        approvalChannel: C0SECAPPROVALS\n',
      ),
    );

  it('posts the request once in the channel with the buttons, DMs no group member, and takes the decision of a member clicking there', async () => {
    h = await startHarness({ catalog: withChannel() });
    const channel = h.sandbox.slack.addChannel('sec-approvals', { id: 'C0SECAPPROVALS' });
    const filed = await h.client.fileRequest({
      reporter: MARIA,
      subject: NINA,
      app: 'Internal admin console',
      role: 'break-glass',
      duration: 'PT1H',
      justification: 'INC-1',
    });
    const grantId = String(filed.body.grantId);
    await h.runtime.workflow.quiet(grantId);

    const posted = h.sandbox.slack.messagesIn(channel);
    const intruder = await h.click('mallory.intruder@example.com', grantId, 0, 'approve');
    await h.click('sam.sec@example.com', grantId, 0, 'approve');
    await finished(h, grantId);

    expect(posted).toHaveLength(1);
    expect(JSON.stringify(posted[0]!.blocks)).toContain(`"value":"${grantId}:0"`);
    expect(messagesTo(h, 'sam.sec@example.com')).toEqual([]);
    expect(messagesTo(h, 'sasha.sec@example.com')).toEqual([]);
    expect(intruder.body.outcome).toBe('refused');
    const inChannel = h.sandbox.slack.messagesIn(channel);
    expect(JSON.stringify(inChannel[0]!.blocks)).toContain('Approved by sam.sec@example.com');
    expect(inChannel.slice(1).map((m) => [m.threadTs, m.text])).toEqual([
      [posted[0]!.ts, expect.stringMatching(/^Access granted: nina\.newhire@example\.com now has/)],
    ]);
    expect(h.sandbox.okta.members('00gconsolebreakglass')).toContain(NINA);
  });

  it('a channel the app is not in: the approvers are asked by DM instead, and the evidence says why', async () => {
    h = await startHarness({ catalog: withChannel() });
    h.sandbox.slack.addChannel('sec-approvals', { id: 'C0SECAPPROVALS', joined: false });
    const filed = await h.client.fileRequest({
      reporter: MARIA,
      subject: NINA,
      app: 'Internal admin console',
      role: 'break-glass',
      duration: 'PT1H',
      justification: 'INC-1',
    });
    await h.runtime.workflow.quiet(String(filed.body.grantId));

    expect(messagesTo(h, 'sam.sec@example.com')).toHaveLength(1);
    expect(messagesTo(h, 'sasha.sec@example.com')).toHaveLength(1);
    const ledger = await h.runtime.deps.store.evidence(String(filed.body.grantId));
    expect(ledger.find((e) => e.type === 'approval_requested')?.details['Not reachable in Slack']).toContain(
      'channel C0SECAPPROVALS (Slack refused the message: Slack chat.postMessage failed (not_in_channel)',
    );
  });
});
