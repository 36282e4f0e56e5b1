import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../shared/errors.js';
import { MAX_BUNDLE_ITEMS } from '../../shared/catalog/schema.js';
import { BUNDLE_APPROVE_ALL_ACTION_ID, RELEASE_ACTION_ID, type ApprovalOutcome, type ApprovalPrompt, type BundleApprovalView } from '../../shared/ports.js';
import { SlackChat, approvalBlocks, bundleApprovalBlocks, outcomeBlocks } from '../../shared/connectors/slack.js';
import { MESSAGE_MAX_BLOCKS, startFakeSlack, type FakeSlack, type FakeSlackMessage } from '../../infra/local/sandbox/slack.js';
import { virtualTime } from '../support/virtual-time.js';

const prompt: ApprovalPrompt = {
  grantId: 'g-7f3a',
  step: 2,
  issueKey: 'ACC-42',
  requesterEmail: 'rita@example.com',
  subjectEmail: 'sam@example.com',
  app: 'Snowflake',
  role: 'analyst',
  duration: '8h',
  justification: 'Quarter close <!channel> & reconciliation',
  risk: 'high',
};

interface Button {
  action_id: string;
  style: string;
  value: string;
  text: { text: string };
  confirm?: Record<string, { text: string }>;
}
const blocksOf = (m: FakeSlackMessage) => m.blocks as Array<{ type: string; block_id?: string; elements?: unknown[] }>;
const buttons = (m: FakeSlackMessage) =>
  blocksOf(m)
    .filter((b) => b.type === 'actions')
    .flatMap((b) => (b.elements ?? []) as Button[]);
const visibleText = (m: FakeSlackMessage) => JSON.stringify(m.blocks);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.fail('expected a rejection'),
    (err: unknown) => err,
  );
}

let slack: FakeSlack;
let chat: SlackChat;
let alice: string;

beforeEach(async () => {
  slack = await startFakeSlack();
  chat = new SlackChat({ token: slack.token, apiUrl: slack.apiUrl, maxRetries: 1 });
  alice = slack.addUser({ email: 'alice@example.com', name: 'Alice' });
});
afterEach(() => slack.close());

describe('users', () => {
  it('looks up a user id by email, case-insensitively, and answers undefined for users_not_found', async () => {
    expect(await chat.userIdByEmail('Alice@Example.com')).toBe(alice);
    expect(await chat.userIdByEmail('nobody@example.com')).toBeUndefined();
  });

  it('reads the email of a user; hidden, deleted or unknown users give undefined', async () => {
    const hidden = slack.addUser({ email: 'hidden@example.com', emailHidden: true });
    const gone = slack.addUser({ email: 'gone@example.com', deleted: true });
    expect(await chat.emailOfUser(alice)).toBe('alice@example.com');
    expect(await chat.emailOfUser(hidden)).toBeUndefined();
    expect(await chat.emailOfUser(gone)).toBeUndefined();
    expect(await chat.emailOfUser('UNOSUCH')).toBeUndefined();
  });

  it('app without users:read.email: users.info hides emails, lookupByEmail names the missing scope', async () => {
    slack.setScopes(['users:read', 'im:write', 'chat:write']);
    expect(await chat.emailOfUser(alice)).toBeUndefined();
    const err = await rejection(chat.userIdByEmail('alice@example.com'));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(/lacks the OAuth scope users:read\.email/);
  });
});

describe('approval messages', () => {
  it('DMs the approver a summary with Approve/Deny buttons carrying only grantId:step', async () => {
    const ref = await chat.postApprovalRequest(alice, prompt);
    const [msg] = slack.messagesTo(alice);
    expect(msg).toMatchObject({ channel: ref.channel, ts: ref.ts, user: alice });
    expect(msg!.text).toContain('rita@example.com requests Snowflake analyst for sam@example.com');
    const shown = visibleText(msg!);
    for (const fact of ['ACC-42', 'Snowflake', 'analyst', 'sam@example.com', '8h', 'high']) expect(shown).toContain(fact);
    // The requester's text cannot ping the channel.
    expect(shown).toContain('&lt;!channel&gt; &amp; reconciliation');
    expect(blocksOf(msg!).find((b) => b.type === 'actions')?.block_id).toBe('grantline_decision');
    expect(buttons(msg!).map((b) => [b.text.text, b.action_id, b.style, b.value])).toEqual([
      ['Approve', 'grantline_approve', 'primary', 'g-7f3a:2'],
      ['Deny', 'grantline_deny', 'danger', 'g-7f3a:2'],
    ]);
    expect(shown.toLowerCase()).not.toContain('token');
  });

  const outcomes: Array<[ApprovalOutcome, RegExp]> = [
    [{ kind: 'approved', by: 'alice@example.com', at: '2024-05-01T12:30:00Z' }, /Approved by alice@example\.com at 2024-05-01 12:30 UTC/],
    [{ kind: 'denied', by: 'alice@example.com', at: '2024-05-01T12:30:00Z' }, /Denied by alice@example\.com at 2024-05-01 12:30 UTC/],
    [{ kind: 'expired', at: '2024-05-02T00:00:00Z' }, /Expired: no decision before the deadline/],
    [{ kind: 'withdrawn', reason: 'the requester cancelled ACC-42' }, /Withdrawn: the requester cancelled ACC-42/],
  ];
  it.each(outcomes)('showOutcome %j replaces the buttons with the outcome line', async (outcome, line) => {
    const ref = await chat.postApprovalRequest(alice, prompt);
    expect(buttons(slack.messagesTo(alice)[0]!)).toHaveLength(2);
    await chat.showOutcome(ref, prompt, outcome);
    const msgs = slack.messagesTo(alice);
    expect(msgs).toHaveLength(1);
    const msg = msgs[0]!;
    expect(msg.ts).toBe(ref.ts);
    expect(msg.updatedAt).toBeDefined();
    expect(buttons(msg)).toEqual([]);
    expect(visibleText(msg)).toMatch(line);
    expect(visibleText(msg)).toContain('ACC-42');
    expect(msg.text).toMatch(line);
  });

  it('showOutcome on a vanished message or channel is a PermanentError', async () => {
    const ref = await chat.postApprovalRequest(alice, prompt);
    const outcome: ApprovalOutcome = { kind: 'expired', at: '2024-05-02T00:00:00Z' };
    const gone = await rejection(chat.showOutcome({ ...ref, ts: '1.000001' }, prompt, outcome));
    expect(gone).toBeInstanceOf(PermanentError);
    expect((gone as Error).message).toContain('message_not_found');
    const noChannel = await rejection(chat.showOutcome({ ...ref, channel: 'DNOPE' }, prompt, outcome));
    expect(noChannel).toBeInstanceOf(PermanentError);
    expect((noChannel as Error).message).toContain('channel_not_found');
  });

  it('Jira text cannot inject a mention or link through the notification text or a DM either (Slack mrkdwn escaping)', async () => {
    const hostile = { ...prompt, app: 'R&D <!here> tools', role: '<https://evil.example|admin>' };
    await chat.postApprovalRequest(alice, hostile);
    await chat.notify(alice, 'Your request for <!channel> & <https://evil.example|R&D> was denied.');
    const [approval, notice] = slack.messagesTo(alice);
    expect(approval!.text).toContain('R&amp;D &lt;!here&gt; tools &lt;https://evil.example|admin&gt;');
    expect(notice!.text).toBe('Your request for &lt;!channel&gt; &amp; &lt;https://evil.example|R&amp;D&gt; was denied.');
    // Header blocks are plain_text, which Slack never parses for mentions or links; everything else is mrkdwn.
    const mrkdwnParts = (m: FakeSlackMessage) => m.text + JSON.stringify(blocksOf(m).filter((b) => b.type !== 'header'));
    for (const m of [approval!, notice!]) expect(mrkdwnParts(m)).not.toMatch(/<[!h]/);
  });

  it('notify sends a plain DM', async () => {
    await chat.notify(alice, 'Your access to Snowflake was granted.');
    expect(slack.messagesTo(alice).map((m) => m.text)).toEqual(['Your access to Snowflake was granted.']);
  });

  it('notify with `release`: the text and an "I\'m done" button carrying only the grant id; showReleased replaces the button with what happened', async () => {
    const ref = await chat.notify(alice, 'Access granted: alice@example.com now has <!channel> Figma editor (ACC-1).', { release: 'grant-ACC-1' });
    const [sent] = slack.messagesTo(alice);
    expect(sent!.text).toBe('Access granted: alice@example.com now has &lt;!channel&gt; Figma editor (ACC-1).');
    expect(buttons(sent!).map((b) => [b.action_id, b.value, b.text.text])).toEqual([[RELEASE_ACTION_ID, 'grant-ACC-1', "I'm done"]]);
    expect(visibleText(sent!)).not.toContain('<!channel>');

    await chat.showReleased(ref, 'Access granted: alice@example.com now has Figma editor (ACC-1).', 'Released early by alice@example.com.');

    const [after] = slack.messagesTo(alice);
    expect(buttons(after!)).toEqual([]);
    expect(visibleText(after!)).toContain('Released early by alice@example.com.');
    expect(after!.text).toBe('Access granted: alice@example.com now has Figma editor (ACC-1). Released early by alice@example.com.');
  });

  it('pure block builders: the outcome keeps the summary and drops the actions block', () => {
    const before = approvalBlocks(prompt);
    const after = outcomeBlocks(prompt, { kind: 'denied', by: 'bob@example.com', at: 'soon' });
    expect(before.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'actions']);
    expect(after.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'context']);
    expect(JSON.stringify(after)).toContain('Denied by bob@example.com at soon');
  });
});

describe('bundle approval message', () => {
  type Item = BundleApprovalView['items'][number];
  const item = (i: number, more: Partial<Item> = {}): Item => ({
    prompt: { ...prompt, grantId: `g-item-${i}`, step: 0, app: `App ${i}`, role: 'member' },
    ...more,
  });
  const bundle = (items: Item[]): BundleApprovalView => ({
    bundleId: 'g-bundle-50',
    bundleName: 'Engineering new hire',
    issueKey: 'ACC-50',
    requesterEmail: 'rita@example.com',
    subjectEmail: 'sam@example.com',
    items,
  });
  const approved: ApprovalOutcome = { kind: 'approved', by: 'alice@example.com', at: '2024-05-01T12:30:00Z' };
  const approveAll = (m: FakeSlackMessage) => buttons(m).filter((b) => b.action_id === BUNDLE_APPROVE_ALL_ACTION_ID);
  const decisions = (m: FakeSlackMessage) => buttons(m).filter((b) => b.action_id !== BUNDLE_APPROVE_ALL_ACTION_ID);

  it('DMs the approver one message: per item Approve/Deny carrying grantId:step, and "Approve all" carrying the bundle id behind a confirmation', async () => {
    const ref = await chat.showBundleApprovals(alice, bundle([item(0), item(1), item(2)]));
    const msgs = slack.messagesTo(alice);
    expect(msgs).toHaveLength(1);
    const msg = msgs[0]!;
    expect(msg).toMatchObject({ channel: ref.channel, ts: ref.ts, user: alice });
    expect(msg.text).toBe('ACC-50: rita@example.com requests the Engineering new hire bundle (3 requests) for sam@example.com.');
    const shown = visibleText(msg);
    for (const fact of ['Onboarding bundle Engineering new hire for sam@example.com', 'ACC-50', 'App 0', 'App 2', 'member', '8h', 'high']) {
      expect(shown).toContain(fact);
    }
    // The justification is shown once, for all items.
    expect(shown.split('Quarter close &lt;!channel&gt; &amp; reconciliation')).toHaveLength(2);
    expect(decisions(msg).map((b) => [b.text.text, b.action_id, b.style, b.value])).toEqual(
      [0, 1, 2].flatMap((i) => [
        ['Approve', 'grantline_approve', 'primary', `g-item-${i}:0`],
        ['Deny', 'grantline_deny', 'danger', `g-item-${i}:0`],
      ]),
    );
    const [all] = approveAll(msg);
    expect(approveAll(msg)).toHaveLength(1);
    expect(all).toMatchObject({ value: 'g-bundle-50', style: 'primary', text: { text: 'Approve all (3)' } });
    expect(Object.keys(all!.confirm ?? {}).sort()).toEqual(['confirm', 'deny', 'text', 'title']);
    const blockIds = blocksOf(msg).flatMap((b) => (b.block_id ? [b.block_id] : []));
    expect(new Set(blockIds).size).toBe(blockIds.length);
  });

  it('a redraw after one item is decided keeps the message: that item shows its outcome without buttons, "Approve all" counts the two left', async () => {
    const ref = await chat.showBundleApprovals(alice, bundle([item(0), item(1), item(2)]));
    const progress = { approvedBy: ['bob@example.com'], needed: 2 };
    const redrawn = await chat.showBundleApprovals(ref, bundle([item(0, { outcome: approved }), item(1, { progress }), item(2)]));
    expect(redrawn).toEqual(ref);
    const msgs = slack.messagesTo(alice);
    expect(msgs).toHaveLength(1);
    const msg = msgs[0]!;
    expect(msg).toMatchObject({ ts: ref.ts, updatedAt: expect.any(String) });
    expect(visibleText(msg)).toContain(':white_check_mark: Approved by alice@example.com at 2024-05-01 12:30 UTC');
    expect(visibleText(msg)).toContain('Approved by bob@example.com (1 of 2); 1 more approval needed');
    expect(decisions(msg).map((b) => b.value)).toEqual(['g-item-1:0', 'g-item-1:0', 'g-item-2:0', 'g-item-2:0']);
    expect(approveAll(msg).map((b) => [b.value, b.text.text])).toEqual([['g-bundle-50', 'Approve all (2)']]);
  });

  it('with one item left waiting the redraw has no "Approve all"', async () => {
    const ref = await chat.showBundleApprovals(alice, bundle([item(0), item(1), item(2)]));
    const denied: ApprovalOutcome = { kind: 'denied', by: 'alice@example.com', at: '2024-05-01T12:31:00Z' };
    await chat.showBundleApprovals(ref, bundle([item(0, { outcome: approved }), item(1, { outcome: denied }), item(2)]));
    const [msg] = slack.messagesTo(alice);
    expect(approveAll(msg!)).toEqual([]);
    expect(decisions(msg!).map((b) => b.value)).toEqual(['g-item-2:0', 'g-item-2:0']);
    expect(visibleText(msg!)).toContain(':no_entry: Denied by alice@example.com');
  });

  it(`a bundle of ${MAX_BUNDLE_ITEMS} items, each waiting on a quorum, fits Slack's ${MESSAGE_MAX_BLOCKS} blocks`, async () => {
    const progress = { approvedBy: ['bob@example.com'], needed: 3 };
    const view = bundle(Array.from({ length: MAX_BUNDLE_ITEMS }, (_, i) => item(i, { progress })));
    expect(bundleApprovalBlocks(view).length).toBeLessThanOrEqual(MESSAGE_MAX_BLOCKS);
    await chat.showBundleApprovals(alice, view);
    const [msg] = slack.messagesTo(alice);
    expect(msg!.blocks.length).toBeLessThanOrEqual(MESSAGE_MAX_BLOCKS);
    expect(decisions(msg!)).toHaveLength(2 * MAX_BUNDLE_ITEMS);
    expect(approveAll(msg!).map((b) => b.text.text)).toEqual([`Approve all (${MAX_BUNDLE_ITEMS})`]);
  });

  it('Jira values cannot inject a mention, a link or formatting into the bundle message', async () => {
    const hostile = (i: number) => item(i, { prompt: { ...item(i).prompt, app: '<!channel> *bold* R&D', role: '<https://evil.example|admin>' } });
    await chat.showBundleApprovals(alice, { ...bundle([hostile(0), hostile(1)]), bundleName: '<!here> new hire', subjectEmail: '<@U123>' });
    const [msg] = slack.messagesTo(alice);
    // Slack's mrkdwn has no escape for `*`: the asterisks stay as typed, which can only restyle the text.
    expect(visibleText(msg!)).toContain('&lt;!channel&gt; *bold* R&amp;D');
    expect(msg!.text).toBe('ACC-50: rita@example.com requests the &lt;!here&gt; new hire bundle (2 requests) for &lt;@U123&gt;.');
    const mrkdwnParts = msg!.text + JSON.stringify(blocksOf(msg!).filter((b) => b.type !== 'header'));
    expect(mrkdwnParts).not.toMatch(/<[!h@]/);
  });
});

describe('errors', () => {
  it('a wrong token is a PermanentError naming invalid_auth', async () => {
    const bad = new SlackChat({ token: 'xoxb-wrong', apiUrl: slack.apiUrl });
    const err = await rejection(bad.userIdByEmail('alice@example.com'));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(/invalid_auth/);
  });

  it('a short Retry-After is waited out and the call succeeds', async () => {
    const time = virtualTime();
    const timed = new SlackChat({ token: slack.token, apiUrl: slack.apiUrl, maxRetries: 1, sleep: time.sleep });
    slack.rateLimit({ method: 'chat.postMessage', retryAfterSeconds: 1 });
    await timed.notify(alice, 'hello');
    expect(time.sleeps).toEqual([1_000]);
    expect(slack.messagesTo(alice)).toHaveLength(1);
    expect(slack.fake.requests.filter((r) => r.path === '/api/chat.postMessage')).toHaveLength(2);
  });

  it('a long Retry-After surfaces at once as RetryableError with retryAfterMs', async () => {
    const time = virtualTime();
    const timed = new SlackChat({ token: slack.token, apiUrl: slack.apiUrl, maxRetries: 1, sleep: time.sleep });
    slack.rateLimit({ method: 'users.lookupByEmail', retryAfterSeconds: 120 });
    const err = await rejection(timed.userIdByEmail('alice@example.com'));
    expect(time.sleeps).toEqual([]);
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).retryAfterMs).toBe(120_000);
  });

  it('HTTP 500 is retried by WebClient, then surfaces as RetryableError', async () => {
    slack.fake.injectFault({ path: '/api/users.info', status: 500, body: 'boom', times: 1 });
    expect(await chat.emailOfUser(alice)).toBe('alice@example.com');
    slack.fake.injectFault({ path: '/api/users.info', status: 500, body: 'boom', times: 5 });
    const before = slack.fake.requests.length;
    const err = await rejection(chat.emailOfUser(alice));
    expect(slack.fake.requests.length - before).toBe(2); // the first try plus maxRetries: 1
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toMatch(/HTTP 500/);
  });

  it('an unreachable Slack is a RetryableError', async () => {
    const down = await startFakeSlack();
    await down.close();
    const err = await rejection(new SlackChat({ token: down.token, apiUrl: down.apiUrl, maxRetries: 0 }).notify(alice, 'hi'));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toMatch(/Could not reach Slack/);
  });
});
