import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../shared/errors.js';
import { RELEASE_ACTION_ID, type ApprovalOutcome, type ApprovalPrompt } from '../../shared/ports.js';
import { SlackChat, approvalBlocks, outcomeBlocks } from '../../shared/connectors/slack.js';
import { startFakeSlack, type FakeSlack, type FakeSlackMessage } from '../../infra/local/sandbox/slack.js';
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
