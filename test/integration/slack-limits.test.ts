/**
 * Block Kit limits: the simulated Slack refuses what Slack refuses (same answer shape and wording), and every message
 * Grantline builds stays within the limits whatever the request says.
 */
import { WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PermanentError } from '../../shared/errors.js';
import { MAX_BUNDLE_ITEMS } from '../../shared/catalog/schema.js';
import type { ApprovalPrompt } from '../../shared/ports.js';
import {
  SLACK_LIMITS,
  SlackChat,
  approvalBlocks,
  bundleApprovalBlocks,
  clip,
  outcomeBlocks,
  releaseBlocks,
  slackError,
} from '../../shared/connectors/slack.js';
import { MESSAGE_TEXT_MAX, VIEW_MAX_BLOCKS, startFakeSlack, validateBlocks, type FakeSlack, type FakeSlackMessage } from '../../infra/local/sandbox/slack.js';

let slack: FakeSlack;
let alice: string;

beforeEach(async () => {
  slack = await startFakeSlack();
  alice = slack.addUser({ email: 'alice@example.com', name: 'Alice' });
});
afterEach(() => slack.close());

/** Calls the simulated Web API as any HTTP client would, to see Slack's answer unaltered by WebClient. */
async function callSlack(method: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(`${slack.apiUrl}${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${slack.token}`, 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(args),
  });
  expect(res.status).toBe(200); // Slack answers API errors with HTTP 200 and ok:false
  return (await res.json()) as Record<string, unknown>;
}

const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });
const button = (text: string) => ({ type: 'actions', elements: [{ type: 'button', action_id: 'b', value: 'v', text: { type: 'plain_text', text } }] });
/** Slack's invalid_blocks answer: each problem in `errors`, and again with an [ERROR] prefix in response_metadata.messages. */
const invalidBlocks = (...errors: string[]) => ({
  ok: false,
  error: 'invalid_blocks',
  errors,
  response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) },
});

describe('the simulated Slack enforces Block Kit limits', () => {
  it('refuses a 51-block message and accepts 50', async () => {
    const blocks = Array.from({ length: 51 }, (_, i) => section(`block ${i}`));
    expect(await callSlack('chat.postMessage', { channel: alice, text: 'many', blocks })).toEqual(
      invalidBlocks('no more than 50 items allowed [json-pointer:/blocks]'),
    );
    expect(await callSlack('chat.postMessage', { channel: alice, text: 'many', blocks: blocks.slice(0, 50) })).toMatchObject({ ok: true });
    expect(slack.messagesTo(alice)).toHaveLength(1);
  });

  it('refuses a 3,001-character section text and accepts 3,000', async () => {
    expect(await callSlack('chat.postMessage', { channel: alice, text: 't', blocks: [section('x'.repeat(3_001))] })).toEqual(
      invalidBlocks(
        'failed to match all allowed schemas [json-pointer:/blocks/0/text]',
        'must be less than 3001 characters [json-pointer:/blocks/0/text/text]',
      ),
    );
    expect(await callSlack('chat.postMessage', { channel: alice, text: 't', blocks: [section('x'.repeat(3_000))] })).toMatchObject({ ok: true });
  });

  it('refuses a 76-character button text and accepts 75', async () => {
    expect(await callSlack('chat.postMessage', { channel: alice, text: 't', blocks: [button('b'.repeat(76))] })).toEqual(
      invalidBlocks(
        'failed to match all allowed schemas [json-pointer:/blocks/0/elements/0/text]',
        'must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]',
      ),
    );
    expect(await callSlack('chat.postMessage', { channel: alice, text: 't', blocks: [button('b'.repeat(75))] })).toMatchObject({ ok: true });
  });

  it('chat.update refuses invalid blocks and keeps the message as it was', async () => {
    const posted = await callSlack('chat.postMessage', { channel: alice, text: 'before', blocks: [section('before')] });
    const answer = await callSlack('chat.update', { channel: posted.channel, ts: posted.ts, text: 'after', blocks: [section('y'.repeat(3_001))] });
    expect(answer).toMatchObject({ ok: false, error: 'invalid_blocks' });
    expect(slack.messagesTo(alice)[0]).toMatchObject({ text: 'before', blocks: [section('before')] });
  });

  it('a text over 40,000 characters: chat.postMessage truncates it with a warning, chat.update answers msg_too_long', async () => {
    const long = 'z'.repeat(MESSAGE_TEXT_MAX + 1);
    const posted = await callSlack('chat.postMessage', { channel: alice, text: long });
    expect(posted).toMatchObject({ ok: true, warning: 'message_truncated', response_metadata: { warnings: ['message_truncated'] } });
    expect(slack.messagesTo(alice)[0]!.text).toHaveLength(MESSAGE_TEXT_MAX);
    expect(await callSlack('chat.update', { channel: posted.channel, ts: posted.ts, text: long })).toEqual({ ok: false, error: 'msg_too_long' });
  });

  it('checks header, fields, context, actions, select and input limits, and lets unknown block types pass', () => {
    const refused = validateBlocks([
      { type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } },
      { type: 'section', block_id: 'i'.repeat(256), fields: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'f' })) },
      { type: 'section', fields: [{ type: 'mrkdwn', text: 'f'.repeat(2_001) }] },
      { type: 'context', elements: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'c' })) },
      {
        type: 'actions',
        elements: Array.from({ length: 26 }, () => ({ type: 'button', action_id: 'a'.repeat(256), text: { type: 'plain_text', text: 'b' } })),
      },
      {
        type: 'input',
        label: { type: 'plain_text', text: 'l'.repeat(2_001) },
        element: {
          type: 'static_select',
          placeholder: { type: 'plain_text', text: 'p'.repeat(151) },
          options: Array.from({ length: 101 }, (_, i) => ({
            text: { type: 'plain_text', text: i === 0 ? 'o'.repeat(76) : 'o' },
            value: i === 1 ? 'v'.repeat(151) : 'v',
          })),
        },
      },
      { type: 'input', label: { type: 'plain_text', text: 'Why' }, element: { type: 'plain_text_input', action_id: 'why', max_length: 3_001 } },
      { type: 'divider' },
      { type: 'some_future_block', anything: 'x'.repeat(10_000) },
    ]);
    expect(refused?.errors).toEqual([
      'failed to match all allowed schemas [json-pointer:/blocks/0/text]',
      'must be less than 151 characters [json-pointer:/blocks/0/text/text]',
      'must be less than 256 characters [json-pointer:/blocks/1/block_id]',
      'no more than 10 items allowed [json-pointer:/blocks/1/fields]',
      'failed to match all allowed schemas [json-pointer:/blocks/2/fields/0]',
      'must be less than 2001 characters [json-pointer:/blocks/2/fields/0/text]',
      'no more than 10 items allowed [json-pointer:/blocks/3/elements]',
      'no more than 25 items allowed [json-pointer:/blocks/4/elements]',
      ...Array.from({ length: 26 }, (_, j) => `must be less than 256 characters [json-pointer:/blocks/4/elements/${j}/action_id]`),
      'failed to match all allowed schemas [json-pointer:/blocks/5/label]',
      'must be less than 2001 characters [json-pointer:/blocks/5/label/text]',
      'failed to match all allowed schemas [json-pointer:/blocks/5/element/placeholder]',
      'must be less than 151 characters [json-pointer:/blocks/5/element/placeholder/text]',
      'no more than 100 items allowed [json-pointer:/blocks/5/element/options]',
      'failed to match all allowed schemas [json-pointer:/blocks/5/element/options/0/text]',
      'must be less than 76 characters [json-pointer:/blocks/5/element/options/0/text/text]',
      'must be less than 151 characters [json-pointer:/blocks/5/element/options/1/value]',
      'must be less than or equal to 3000 [json-pointer:/blocks/6/element/max_length]',
    ]);
  });

  it('checks a button\'s confirmation dialog (title 100, text 300, button labels 30), and accepts "I\'m done"', () => {
    const plainText = (text: string) => ({ type: 'plain_text', text });
    const confirming = (confirm: Record<string, unknown>) => [
      { type: 'actions', elements: [{ type: 'button', action_id: 'b', value: 'v', text: plainText('Go'), confirm }] },
    ];
    const ok = { title: plainText('t'.repeat(100)), text: plainText('x'.repeat(300)), confirm: plainText('c'.repeat(30)), deny: plainText('d'.repeat(30)) };
    expect(validateBlocks(confirming(ok))).toBeUndefined();
    expect(validateBlocks(releaseBlocks('Access granted: alice@example.com now has Figma editor (ACC-1).', 'grant-ACC-1'))).toBeUndefined();
    const tooLong = { title: plainText('t'.repeat(101)), text: plainText('x'.repeat(301)), confirm: plainText('c'.repeat(31)), deny: ok.deny };
    expect(validateBlocks(confirming(tooLong))?.errors).toEqual([
      'failed to match all allowed schemas [json-pointer:/blocks/0/elements/0/confirm/title]',
      'must be less than 101 characters [json-pointer:/blocks/0/elements/0/confirm/title/text]',
      'failed to match all allowed schemas [json-pointer:/blocks/0/elements/0/confirm/text]',
      'must be less than 301 characters [json-pointer:/blocks/0/elements/0/confirm/text/text]',
      'failed to match all allowed schemas [json-pointer:/blocks/0/elements/0/confirm/confirm]',
      'must be less than 31 characters [json-pointer:/blocks/0/elements/0/confirm/confirm/text]',
    ]);
    expect(validateBlocks(confirming({ title: plainText('t'), text: plainText('x'), confirm: plainText('c') }))?.errors).toEqual([
      'failed to match all allowed schemas [json-pointer:/blocks/0/elements/0/confirm/deny]',
    ]);
  });

  it('refuses a block_id that repeats in the message, and lets blocks without one pass', () => {
    const decision = (blockId: string) => ({ ...button('Approve'), block_id: blockId });
    expect(validateBlocks([decision('grantline_decision/0'), section('a'), section('b'), decision('grantline_decision/1')])).toBeUndefined();
    expect(validateBlocks([decision('grantline_decision'), section('a'), decision('grantline_decision')])?.errors).toEqual([
      'duplicate block_id [json-pointer:/blocks/2/block_id]',
    ]);
  });

  it('modals take 100 blocks (views.open / views.update pass maxBlocks)', () => {
    const blocks = Array.from({ length: VIEW_MAX_BLOCKS }, () => ({ type: 'divider' }));
    expect(validateBlocks(blocks, { maxBlocks: VIEW_MAX_BLOCKS })).toBeUndefined();
    expect(validateBlocks([...blocks, { type: 'divider' }], { maxBlocks: VIEW_MAX_BLOCKS })?.errors).toEqual([
      'no more than 100 items allowed [json-pointer:/blocks]',
    ]);
    expect(validateBlocks(blocks)?.errors).toEqual(['no more than 50 items allowed [json-pointer:/blocks]']);
  });

  it('WebClient surfaces the refusal as a PermanentError naming the offending field', async () => {
    const client = new WebClient(slack.token, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
    const err = await client.chat.postMessage({ channel: alice, text: 't', blocks: [section('x'.repeat(3_001))] }).then(
      () => expect.fail('expected a refusal'),
      (e: unknown) => slackError(e, 'chat.postMessage'),
    );
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain('invalid_blocks');
    expect(err.message).toContain('must be less than 3001 characters [json-pointer:/blocks/0/text/text]');
  });
});

/** An address at RFC 5321's 254-character maximum (64-character local part). */
function maxLengthEmail(local: string): string {
  const domain = `${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(63)}.example`;
  const email = `${local.padEnd(64, local.at(-1))}@${domain}`.slice(0, 254 - '.com'.length).concat('.com');
  expect(email).toHaveLength(254);
  return email;
}

const hugePrompt: ApprovalPrompt = {
  grantId: 'g-limits',
  step: 0,
  issueKey: 'ACC-4242',
  requesterEmail: maxLengthEmail('requester'),
  subjectEmail: maxLengthEmail('subject'),
  app: `Snowflake ${'A'.repeat(190)}`,
  role: 'analyst',
  duration: 'PT8H',
  justification: `Quarter close <!channel> & ${'j'.repeat(3_980)}`,
  risk: 'high',
};

const textsOf = (m: FakeSlackMessage) => (m.blocks as Array<{ type: string; text?: { text: string } }>).map((b) => b.text?.text ?? '');
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('every message Grantline sends stays within the limits', () => {
  let chat: SlackChat;
  beforeEach(() => {
    chat = new SlackChat({ token: slack.token, apiUrl: slack.apiUrl, maxRetries: 0 });
  });

  it('posts and updates an approval for a 4,000-character justification, a 200-character app and 254-character emails', async () => {
    expect(hugePrompt.app).toHaveLength(200);
    expect(hugePrompt.justification.length).toBeGreaterThanOrEqual(4_000);
    const ref = await chat.postApprovalRequest(alice, hugePrompt);
    const [posted] = slack.messagesTo(alice);
    expect(validateBlocks(posted!.blocks)).toBeUndefined();

    const [header, summary, , justification] = textsOf(posted!);
    expect(header!.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
    expect(header).toMatch(/^Access request ACC-4242: Snowflake A+… analyst$/);
    // Every fact stays visible: the long app is clipped on its own, not the sentence around it.
    expect(summary).toContain(`*${hugePrompt.requesterEmail}* requests *analyst* on *Snowflake`);
    expect(summary).toContain(`for *${hugePrompt.subjectEmail}*.`);
    expect(justification!.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    expect(justification).toMatch(/^\*Justification\*\nQuarter close &lt;!channel&gt; &amp; j+…$/);
    expect(posted!.text).toContain(hugePrompt.subjectEmail);
    expect(posted!.text.length).toBeLessThanOrEqual(SLACK_LIMITS.messageText);

    await chat.showOutcome(ref, hugePrompt, { kind: 'withdrawn', reason: `the requester cancelled: ${'r'.repeat(50_000)}` });
    const [updated] = slack.messagesTo(alice);
    expect(updated!.updatedAt).toBeDefined();
    expect(validateBlocks(updated!.blocks)).toBeUndefined();
    const outcome = (updated!.blocks.at(-1) as { elements: Array<{ text: string }> }).elements[0]!.text;
    expect(outcome).toMatch(/^:leftwards_arrow_with_hook: Withdrawn: the requester cancelled: r+…$/);
    expect(updated!.text.length).toBeLessThanOrEqual(SLACK_LIMITS.messageText);
  });

  it(`posts and redraws a bundle of ${MAX_BUNDLE_ITEMS} items with huge values, some decided, some on a quorum`, async () => {
    const reason = `the requester cancelled: ${'r'.repeat(50_000)}`;
    const view = {
      bundleId: 'g-bundle-limits',
      bundleName: `Engineering new hire ${'N'.repeat(500)}`,
      issueKey: hugePrompt.issueKey,
      requesterEmail: hugePrompt.requesterEmail,
      subjectEmail: hugePrompt.subjectEmail,
      items: Array.from({ length: MAX_BUNDLE_ITEMS }, (_, i) => ({
        prompt: { ...hugePrompt, grantId: `g-limits-${i}` },
        progress: { approvedBy: Array.from({ length: 40 }, () => maxLengthEmail('approver')), needed: 50 },
      })),
    };
    const ref = await chat.showBundleApprovals(alice, view);
    const [posted] = slack.messagesTo(alice);
    expect(validateBlocks(posted!.blocks)).toBeUndefined();
    expect(posted!.text.length).toBeLessThanOrEqual(SLACK_LIMITS.messageText);
    expect(textsOf(posted!)[0]!.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);

    const decided = { ...view, items: view.items.map((item, i) => (i % 2 ? { ...item, outcome: { kind: 'withdrawn' as const, reason } } : item)) };
    await chat.showBundleApprovals(ref, decided);
    const [redrawn] = slack.messagesTo(alice);
    expect(redrawn!.updatedAt).toBeDefined();
    expect(validateBlocks(redrawn!.blocks)).toBeUndefined();
    expect(bundleApprovalBlocks(decided)).toEqual(redrawn!.blocks);
  });

  it('escapes before clipping, never leaving half an &amp; or half a surrogate pair', () => {
    const ampersands = approvalBlocks({ ...hugePrompt, justification: '&'.repeat(4_000) });
    const shownAmps = (ampersands[3] as { text: { text: string } }).text.text;
    expect(shownAmps.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    expect(shownAmps).toMatch(/^\*Justification\*\n(&amp;)+…$/);

    const emoji = outcomeBlocks({ ...hugePrompt, justification: '😀'.repeat(3_000) }, { kind: 'expired', at: '2024-05-02T00:00:00Z' });
    const shownEmoji = (emoji[3] as { text: { text: string } }).text.text;
    expect(shownEmoji).toMatch(/^\*Justification\*\n(😀)+…$/u);
    expect(LONE_SURROGATE.test(JSON.stringify(emoji))).toBe(false);
    expect(validateBlocks(ampersands)).toBeUndefined();
    expect(validateBlocks(emoji)).toBeUndefined();
  });

  it('notify clips a long text (a refusal quoting a whole request) after escaping it', async () => {
    await chat.notify(alice, `Your click was not recorded: ${'<&>'.repeat(20_000)}.`);
    const [notice] = slack.messagesTo(alice);
    expect(notice!.text.length).toBeLessThanOrEqual(SLACK_LIMITS.messageText);
    expect(notice!.text).toMatch(/^Your click was not recorded: (&lt;&amp;&gt;)+(&lt;|&lt;&amp;)?…$/);
  });

  it('clip: the marker counts toward the limit; surrogate pairs and escapes stay whole', () => {
    expect(clip('a'.repeat(10), 10)).toBe('a'.repeat(10));
    expect(clip('a'.repeat(11), 10)).toBe(`${'a'.repeat(9)}…`);
    expect(clip('ab&amp;cd', 5)).toBe('ab…');
    expect(clip('ab&lt;cde', 8)).toBe('ab&lt;c…');
    expect(clip('a😀b', 3)).toBe('a…');
    expect(clip('R&D team', 4)).toBe('R&D…'); // a bare & is no escape and may be cut after
  });
});
