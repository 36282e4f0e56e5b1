/**
 * The access review message and the revoke-reason modal: the real SlackChat against the simulated Slack (which refuses
 * what Slack refuses), and the sandbox client pressing and submitting them as a reviewer does.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CampaignItem } from '../../shared/campaigns.js';
import { PermanentError } from '../../shared/errors.js';
import {
  CAMPAIGN_KEEP_ACTION_ID,
  CAMPAIGN_KEEP_RECOMMENDED_ACTION_ID,
  CAMPAIGN_PAGE_ACTION_IDS,
  CAMPAIGN_REVOKE_ACTION_ID,
  REVIEW_PAGE_SIZE,
  REVOKE_REASON_FORM,
  type ChatMessageRef,
  type ReviewMessageView,
} from '../../shared/ports.js';
import { SLACK_LIMITS, SlackChat, reviewMessageBlocks, revokeReasonView } from '../../shared/connectors/slack.js';
import { HttpFake, type FakeRequest } from '../../infra/local/sandbox/http-fake.js';
import { SANDBOX_PEOPLE, SandboxClient, startSandbox, type Sandbox } from '../../infra/local/sandbox/index.js';
import {
  MESSAGE_MAX_BLOCKS,
  PRIVATE_METADATA_MAX,
  startFakeSlack,
  validateBlocks,
  type FakeSlack,
  type FakeSlackMessage,
} from '../../infra/local/sandbox/slack.js';
import { testCatalog } from '../support/catalog.js';

const CAMPAIGN = 'review-20260302-4f9c1a';
const OWNER = 'olivia.owner@example.com';
const MARIA = 'maria.manager@example.com';

/** An item as the snapshot takes it: a Grantline grant, signed in recently, recommended to keep. */
function item(n: number, more: Partial<CampaignItem> = {}): CampaignItem {
  return {
    campaignId: CAMPAIGN,
    itemId: String(n).padStart(5, '0'),
    app: 'snowflake',
    appName: 'Snowflake',
    role: 'analyst',
    provider: 'okta',
    group: '00g1snowflakeanalyst',
    email: `analyst${n}@example.com`,
    name: `Analyst ${n}`,
    title: 'Financial analyst',
    department: 'Finance',
    manager: MARIA,
    lastLogin: '2026-02-20T08:15:00.000Z',
    grant: { grantId: `g-acc-${100 + n}`, issueKey: `ACC-${100 + n}`, approvedBy: MARIA, approvedAt: '2026-01-05T10:00:00.000Z' },
    recommendation: 'keep',
    reason: 'held through Grantline; signed in 10 day(s) ago',
    reviewer: OWNER,
    ...more,
  };
}

/** Item n of page `page`: a mix of what a real page holds (decided, outside Grantline, inactive, last sign-in unknown). */
function pageItems(page: number): CampaignItem[] {
  return Array.from({ length: REVIEW_PAGE_SIZE }, (_, i) => {
    const n = page * REVIEW_PAGE_SIZE + i + 1;
    switch (i) {
      case 0:
        return item(n, { decision: { outcome: 'keep', by: OWNER, at: '2026-03-03T10:00:00.000Z' } });
      case 1:
        return item(n, {
          recommendation: 'revoke',
          reason: 'no sign-in for 120 days (inactive after 90)',
          lastLogin: '2025-11-02T09:00:00.000Z',
          decision: { outcome: 'revoke', by: OWNER, at: '2026-03-03T10:05:00.000Z', reason: 'Moved to the Sales team in January.' },
          result: 'grant g-acc-102: revoked',
        });
      case 2: {
        const { grant: _none, ...outside } = item(n);
        return { ...outside, recommendation: 'revoke', reason: 'access outside Grantline: no request or approval on record' };
      }
      case 3:
        return item(n, { recommendation: 'revoke', reason: 'no sign-in for 120 days (inactive after 90)', lastLogin: '2025-11-02T09:00:00.000Z' });
      case 4: {
        const { name: _n, title: _t, department: _d, ...unnamed } = item(n);
        return { ...unnamed, lastLogin: 'unknown', reason: 'held through Grantline; last sign-in unknown (the identity provider does not say)' };
      }
      default:
        return item(n);
    }
  });
}

function view(more: Partial<ReviewMessageView> = {}): ReviewMessageView {
  const page = more.page ?? 0;
  return {
    campaignId: CAMPAIGN,
    apps: 'Snowflake, Figma',
    dueAt: '2026-03-16T09:00:00.000Z',
    page,
    pageCount: 3,
    total: 25,
    decided: 2,
    recommendedKeepsWaiting: 12,
    items: pageItems(page),
    closed: false,
    ...more,
  };
}

interface Button {
  action_id: string;
  style?: string;
  value: string;
  text: { text: string };
  confirm?: Record<string, { text: string }>;
}
type Block = { type: string; block_id?: string; text?: { text: string }; elements?: unknown[] };
const blocksOf = (m: FakeSlackMessage) => m.blocks as Block[];
const buttons = (m: FakeSlackMessage) =>
  blocksOf(m)
    .filter((b) => b.type === 'actions')
    .flatMap((b) => (b.elements ?? []) as Button[]);
const itemButtons = (m: FakeSlackMessage) => buttons(m).filter((b) => b.action_id === CAMPAIGN_KEEP_ACTION_ID || b.action_id === CAMPAIGN_REVOKE_ACTION_ID);
/** The footer's buttons, as [action id, value, label]. */
const footer = (m: FakeSlackMessage) =>
  buttons(m)
    .filter((b) => b.action_id !== CAMPAIGN_KEEP_ACTION_ID && b.action_id !== CAMPAIGN_REVOKE_ACTION_ID)
    .map((b) => [b.action_id, b.value, b.text.text]);
const sections = (m: FakeSlackMessage) => blocksOf(m).flatMap((b) => (b.type === 'section' && b.text ? [b.text.text] : []));
const contextTexts = (m: FakeSlackMessage) =>
  blocksOf(m).flatMap((b) => (b.type === 'context' ? ((b.elements ?? []) as Array<{ text: string }>).map((e) => e.text) : []));

let slack: FakeSlack;
let chat: SlackChat;
let owner: string;

/** A fresh simulated Slack for each test of the enclosing describe, with the real SlackChat and the owner as a user. */
function useFakeSlack(): void {
  beforeEach(async () => {
    slack = await startFakeSlack();
    chat = new SlackChat({ token: slack.token, apiUrl: slack.apiUrl, maxRetries: 0 });
    owner = slack.addUser({ email: OWNER, name: 'Olivia' });
  });
  afterEach(() => slack.close());
}

describe('the access review message (SlackChat against the simulated Slack)', () => {
  useFakeSlack();

  it(`DMs a full page of ${REVIEW_PAGE_SIZE} items within Slack's limits: each item's facts, Keep/Revoke while undecided, the decision once made`, async () => {
    const ref = await chat.showReviewItems(owner, view());

    const msgs = slack.messagesTo(owner);
    expect(msgs).toHaveLength(1);
    const msg = msgs[0]!;
    expect(msg).toMatchObject({ channel: ref.channel, ts: ref.ts, user: owner });
    expect(validateBlocks(msg.blocks)).toBeUndefined();
    // Header, status line, two blocks an item, footer.
    expect(msg.blocks).toHaveLength(2 + 2 * REVIEW_PAGE_SIZE + 1);
    expect(msg.blocks.length).toBeLessThan(MESSAGE_MAX_BLOCKS);
    expect(reviewMessageBlocks(view())).toEqual(msg.blocks);
    expect(msg.text).toBe('Access review of Snowflake, Figma: 2 of 25 decided (due 2026-03-16).');
    expect(blocksOf(msg)[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Access review: Snowflake, Figma' } });
    expect(contextTexts(msg)[0]).toBe('Due *2026-03-16 09:00 UTC* · *2 of 25* decided · page 1 of 3');

    const [kept, revoked, outside, inactive, unnamed] = sections(msg);
    expect(kept).toBe(
      [
        '*Analyst 1* (analyst1@example.com) · Financial analyst, Finance',
        '*Snowflake* analyst · group 00g1snowflakeanalyst (okta)',
        'From grant g-acc-101 (Jira ACC-101), approved by maria.manager@example.com on 2026-01-05',
        'Last sign-in 2026-02-20',
        'Recommend: *keep* — held through Grantline; signed in 10 day(s) ago',
      ].join('\n'),
    );
    expect(revoked).toContain('Recommend: *revoke* — no sign-in for 120 days (inactive after 90)');
    expect(outside).toContain('From outside Grantline\n');
    expect(inactive).toContain('Last sign-in 2025-11-02\n');
    expect(unnamed).toMatch(/^\*analyst5@example\.com\*\n/);
    expect(unnamed).toContain('Last sign-in unknown\n');

    // Decided items show who decided and when (and why, for a revocation) instead of buttons.
    expect(contextTexts(msg)).toContain(':white_check_mark: Kept by olivia.owner@example.com at 2026-03-03 10:00 UTC');
    expect(contextTexts(msg)).toContain(':no_entry: Revoked by olivia.owner@example.com at 2026-03-03 10:05 UTC: Moved to the Sales team in January.');
    const undecided = [3, 4, 5, 6, 7, 8, 9, 10].map((n) => `${CAMPAIGN}:${String(n).padStart(5, '0')}`);
    expect(itemButtons(msg).map((b) => [b.text.text, b.action_id, b.style, b.value])).toEqual(
      undecided.flatMap((value) => [
        ['Keep', CAMPAIGN_KEEP_ACTION_ID, 'primary', value],
        ['Revoke', CAMPAIGN_REVOKE_ACTION_ID, 'danger', value],
      ]),
    );
    const blockIds = blocksOf(msg).flatMap((b) => (b.block_id ? [b.block_id] : []));
    expect(new Set(blockIds).size).toBe(blockIds.length);
  });

  it('the footer: "Keep all recommended keeps (N)" behind a confirmation, and on the first page "Next page" but no "Previous page"', async () => {
    await chat.showReviewItems(owner, view());
    const [msg] = slack.messagesTo(owner);
    expect(footer(msg!)).toEqual([
      [CAMPAIGN_KEEP_RECOMMENDED_ACTION_ID, CAMPAIGN, 'Keep all recommended keeps (12)'],
      [CAMPAIGN_PAGE_ACTION_IDS.next, `${CAMPAIGN}:1`, 'Next page'],
    ]);
    const keepAll = buttons(msg!).find((b) => b.action_id === CAMPAIGN_KEEP_RECOMMENDED_ACTION_ID)!;
    expect(Object.keys(keepAll.confirm ?? {}).sort()).toEqual(['confirm', 'deny', 'text', 'title']);
    expect(keepAll.confirm?.title?.text).toBe('Keep 12 items recommended to keep?');
  });

  it('a redraw (chat.update) keeps the message and shows the page asked for: a middle page has both page buttons, the last only "Previous page"', async () => {
    const ref = await chat.showReviewItems(owner, view());

    const redrawn = await chat.showReviewItems(ref, view({ page: 1, decided: 5, recommendedKeepsWaiting: 9 }));

    expect(redrawn).toEqual(ref);
    const msgs = slack.messagesTo(owner);
    expect(msgs).toHaveLength(1);
    const msg = msgs[0]!;
    expect(msg).toMatchObject({ ts: ref.ts, updatedAt: expect.any(String) });
    expect(validateBlocks(msg.blocks)).toBeUndefined();
    expect(contextTexts(msg)[0]).toBe('Due *2026-03-16 09:00 UTC* · *5 of 25* decided · page 2 of 3');
    expect(itemButtons(msg)[0]?.value).toBe(`${CAMPAIGN}:00013`);
    expect(footer(msg)).toEqual([
      [CAMPAIGN_KEEP_RECOMMENDED_ACTION_ID, CAMPAIGN, 'Keep all recommended keeps (9)'],
      [CAMPAIGN_PAGE_ACTION_IDS.previous, `${CAMPAIGN}:0`, 'Previous page'],
      [CAMPAIGN_PAGE_ACTION_IDS.next, `${CAMPAIGN}:2`, 'Next page'],
    ]);

    await chat.showReviewItems(ref, view({ page: 2, items: pageItems(2).slice(0, 5), recommendedKeepsWaiting: 0 }));
    const [last] = slack.messagesTo(owner);
    expect(footer(last!)).toEqual([[CAMPAIGN_PAGE_ACTION_IDS.previous, `${CAMPAIGN}:1`, 'Previous page']]);
  });

  it('a single page with no recommended keep waiting has no footer at all', async () => {
    await chat.showReviewItems(owner, view({ pageCount: 1, total: 10, recommendedKeepsWaiting: 0 }));
    const [msg] = slack.messagesTo(owner);
    expect(footer(msg!)).toEqual([]);
    expect(msg!.blocks).toHaveLength(2 + 2 * REVIEW_PAGE_SIZE);
  });

  it('a closed campaign: no buttons at all, a line saying it is closed, the decisions and what nobody reviewed', async () => {
    const ref = await chat.showReviewItems(owner, view());

    await chat.showReviewItems(ref, view({ page: 1, closed: true }));

    const [msg] = slack.messagesTo(owner);
    expect(validateBlocks(msg!.blocks)).toBeUndefined();
    expect(buttons(msg!)).toEqual([]);
    expect(blocksOf(msg!).filter((b) => b.type === 'actions')).toEqual([]);
    expect(contextTexts(msg!)).toContain(':lock: This review is closed: the decisions below are final and no more can be made.');
    expect(contextTexts(msg!)).toContain(':white_check_mark: Kept by olivia.owner@example.com at 2026-03-03 10:00 UTC');
    expect(contextTexts(msg!).filter((t) => t === ':heavy_minus_sign: Not reviewed before the review closed')).toHaveLength(8);
    expect(msg!.text).toBe('Access review of Snowflake, Figma: 2 of 25 decided (closed).');
  });

  it('user-controlled text is escaped and clipped: a 500-character name, mentions, links and huge values still post, every fact visible', async () => {
    const email = `${'very.long.local.part'.padEnd(64, 'x')}@${'d'.repeat(177)}.example.com`;
    expect(email).toHaveLength(254);
    const hostile = (n: number): CampaignItem =>
      item(n, {
        name: `*bold* <!channel> & ${'N'.repeat(480)}`,
        title: `<https://evil.example|Head of R&D> ${'t'.repeat(400)}`,
        department: `<@U123> ${'d'.repeat(400)}`,
        email,
        appName: `R&D <!here> tools ${'A'.repeat(300)}`,
        role: `<https://evil.example|admin> ${'r'.repeat(300)}`,
        group: `group-${'g'.repeat(400)}`,
        grant: { grantId: `g-${'i'.repeat(200)}`, issueKey: `ACC-${'9'.repeat(200)}`, approvedBy: email, approvedAt: '2026-01-05T10:00:00.000Z' },
        reason: `no sign-in for 120 days ${'&'.repeat(2_000)}`,
        recommendation: 'revoke',
        ...(n % 2 ? { decision: { outcome: 'revoke' as const, by: email, at: '2026-03-03T10:05:00.000Z', reason: `<!everyone> ${'w'.repeat(5_000)}` } } : {}),
      });
    const items = Array.from({ length: REVIEW_PAGE_SIZE }, (_, i) => hostile(i + 1));
    expect(items[0]!.name).toHaveLength(500);

    const ref = await chat.showReviewItems(owner, view({ apps: `Snowflake <!here> ${'S'.repeat(500)}`, items }));
    await chat.showReviewItems(ref, view({ items, closed: true }));

    const [msg] = slack.messagesTo(owner);
    expect(validateBlocks(msg!.blocks)).toBeUndefined();
    expect(msg!.text.length).toBeLessThanOrEqual(SLACK_LIMITS.messageText);
    const facts = sections(msg!);
    expect(facts).toHaveLength(REVIEW_PAGE_SIZE);
    for (const text of facts) {
      expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
      // Each fact is clipped on its own: the name is cut, the recommendation at the end still shows.
      expect(text).toMatch(/^\*\*bold\* &lt;!channel&gt; &amp; N+…\* \(/);
      expect(text).toMatch(/\nRecommend: \*revoke\* — no sign-in for 120 days (&amp;)+…$/);
      expect(text).toContain('*R&amp;D &lt;!here&gt; tools A');
    }
    for (const line of contextTexts(msg!)) expect(line.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
    // Header blocks are plain_text, which Slack never parses; everything else is mrkdwn.
    const mrkdwnParts = msg!.text + JSON.stringify(blocksOf(msg!).filter((b) => b.type !== 'header'));
    expect(mrkdwnParts).not.toMatch(/<[!h@]/);
    expect((blocksOf(msg!)[0]!.text?.text ?? '').length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
  });
});

describe('the revoke-reason modal', () => {
  useFakeSlack();

  const inactive = item(4, { recommendation: 'revoke', reason: 'no sign-in for 120 days (inactive after 90)', lastLogin: '2025-11-02T09:00:00.000Z' });

  it('opens with the person, the app role and the recommendation, one required multiline input of at most 1,000 characters, and the message in private_metadata', async () => {
    const message = await chat.showReviewItems(owner, view());

    await chat.openRevokeReason(slack.issueTrigger(owner), { campaignId: CAMPAIGN, item: inactive, message });

    const [modal] = slack.views();
    expect(modal).toMatchObject({ user: owner, callbackId: REVOKE_REASON_FORM.callbackId });
    expect(JSON.parse(modal!.privateMetadata ?? '')).toEqual({ campaignId: CAMPAIGN, itemId: '00004', channel: message.channel, ts: message.ts });
    const [summary, input] = modal!.blocks as Array<Record<string, unknown>>;
    expect(modal!.blocks).toHaveLength(2);
    expect(summary).toEqual({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: 'Revoke the access of *Analyst 4* (analyst4@example.com) to *Snowflake* analyst?\nRecommend: *revoke* — no sign-in for 120 days (inactive after 90)',
      },
    });
    expect(input).toMatchObject({
      type: 'input',
      block_id: REVOKE_REASON_FORM.reason,
      element: { type: 'plain_text_input', action_id: REVOKE_REASON_FORM.reason, multiline: true, max_length: 1_000 },
    });
    expect(input!.optional).toBeFalsy();
    expect(modal!.values).toEqual({ [REVOKE_REASON_FORM.reason]: { [REVOKE_REASON_FORM.reason]: { type: 'plain_text_input', value: null } } });
    expect(revokeReasonView({ campaignId: CAMPAIGN, item: inactive })).toMatchObject({
      type: 'modal',
      title: { type: 'plain_text', text: 'Revoke access' },
      submit: { type: 'plain_text', text: 'Revoke' },
      close: { type: 'plain_text', text: 'Cancel' },
    });
  });

  it('without the message, private_metadata carries the campaign and the item only; a trigger used once is refused the second time', async () => {
    const trigger = slack.issueTrigger(owner);
    await chat.openRevokeReason(trigger, { campaignId: CAMPAIGN, item: inactive });
    expect(JSON.parse(slack.views()[0]!.privateMetadata ?? '')).toEqual({ campaignId: CAMPAIGN, itemId: '00004' });

    const again = await chat.openRevokeReason(trigger, { campaignId: CAMPAIGN, item: inactive }).then(
      () => expect.fail('expected a refusal'),
      (err: unknown) => err,
    );
    expect(again).toBeInstanceOf(PermanentError);
    expect((again as Error).message).toContain('expired_trigger_id');
  });

  it('the simulated Slack refuses a private_metadata over 3,000 characters, as Slack does; the modal builder refuses to build one', async () => {
    const open = async (privateMetadata: string) => {
      const res = await fetch(`${slack.apiUrl}views.open`, {
        method: 'POST',
        headers: { authorization: `Bearer ${slack.token}`, 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify({
          trigger_id: slack.issueTrigger(owner),
          view: { ...revokeReasonView({ campaignId: CAMPAIGN, item: inactive }), private_metadata: privateMetadata },
        }),
      });
      return (await res.json()) as Record<string, unknown>;
    };
    expect(await open('m'.repeat(PRIVATE_METADATA_MAX + 1))).toEqual({
      ok: false,
      error: 'invalid_arguments',
      response_metadata: { messages: ['[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]'] },
    });
    expect(await open('m'.repeat(PRIVATE_METADATA_MAX))).toMatchObject({ ok: true, view: { private_metadata: 'm'.repeat(PRIVATE_METADATA_MAX) } });
    expect(() => revokeReasonView({ campaignId: 'c'.repeat(PRIVATE_METADATA_MAX), item: inactive })).toThrow(PermanentError);
  });

  it('escapes the person and the app in the modal, and Slack accepts it with a 500-character name', async () => {
    const hostile = item(7, { name: `<!channel> *bold* ${'N'.repeat(482)}`, appName: 'R&D <!here> tools' });
    expect(hostile.name).toHaveLength(500);
    await chat.openRevokeReason(slack.issueTrigger(owner), { campaignId: CAMPAIGN, item: hostile });
    const text = JSON.stringify(slack.views()[0]!.blocks);
    expect(text).toContain('&lt;!channel&gt; *bold* N');
    expect(text).toContain('*R&amp;D &lt;!here&gt; tools*');
    expect(text).not.toMatch(/<[!h@]/);
  });
});

/** The parts of Slack's interaction payloads (block_actions, view_submission) these tests read. */
interface Interaction {
  type: string;
  trigger_id: string;
  user: { id: string };
  actions?: Array<{ action_id: string; block_id: string; value: string }>;
  container?: { channel_id: string; message_ts: string };
  view?: { callback_id: string; private_metadata: string; state: { values: Record<string, Record<string, { value: string | null }>> } };
}

describe('a reviewer in the sandbox: pressing Keep and Revoke, typing the reason, submitting', () => {
  let sandbox: Sandbox;
  let grantline: HttpFake;
  let client: SandboxClient;
  let chat: SlackChat;
  /** What Slack posted to the stand-in for Grantline's interactions endpoint, parsed. */
  let received: Interaction[];

  beforeEach(async () => {
    sandbox = await startSandbox(testCatalog());
    chat = new SlackChat({ token: sandbox.slack.token, apiUrl: sandbox.slack.apiUrl, maxRetries: 0 });
    received = [];
    // Stands in for Grantline: a Revoke click opens the reason modal with the trigger Slack sent, as the handler will.
    grantline = new HttpFake('grantline').route('POST', '/webhooks/slack/interactions', async (req: FakeRequest) => {
      const payload = JSON.parse(new URLSearchParams(req.rawBody).get('payload') ?? '{}') as Interaction;
      received.push(payload);
      const action = payload.actions?.[0];
      if (action?.action_id === CAMPAIGN_REVOKE_ACTION_ID && payload.container) {
        const [campaignId = '', itemId = ''] = action.value.split(':');
        const message: ChatMessageRef = { channel: payload.container.channel_id, ts: payload.container.message_ts };
        await chat.openRevokeReason(payload.trigger_id, { campaignId, item: item(Number(itemId)), message });
      }
      return { status: 200, body: {} };
    });
    client = new SandboxClient(sandbox, await grantline.listen());
  });
  afterEach(async () => {
    await grantline.close();
    await sandbox.close();
  });

  const reviewer = SANDBOX_PEOPLE.manager;
  const reviewerId = () => sandbox.slack.users().find((u) => u.email === reviewer)!.id;

  it('press picks a Keep among many by its value; without a value the first; an absent value is an error naming it', async () => {
    await chat.showReviewItems(reviewerId(), view());
    const [msg] = sandbox.slack.messagesTo(reviewerId());

    await client.press(reviewer, msg!, CAMPAIGN_KEEP_ACTION_ID, { value: `${CAMPAIGN}:00007` });
    await client.press(reviewer, msg!, CAMPAIGN_KEEP_ACTION_ID);

    expect(received.map((p) => [p.type, p.actions?.[0]?.action_id, p.actions?.[0]?.block_id, p.actions?.[0]?.value])).toEqual([
      ['block_actions', CAMPAIGN_KEEP_ACTION_ID, 'grantline_campaign_item/00007', `${CAMPAIGN}:00007`],
      ['block_actions', CAMPAIGN_KEEP_ACTION_ID, 'grantline_campaign_item/00003', `${CAMPAIGN}:00003`],
    ]);
    await expect(client.press(reviewer, msg!, CAMPAIGN_KEEP_ACTION_ID, { value: `${CAMPAIGN}:00001` })).rejects.toThrow(
      `has no button ${CAMPAIGN_KEEP_ACTION_ID} with value ${CAMPAIGN}:00001`,
    );
  });

  it('Revoke opens the modal; the reason typed and the private_metadata come back in view_submission as Slack sends them', async () => {
    await chat.showReviewItems(reviewerId(), view());
    const [msg] = sandbox.slack.messagesTo(reviewerId());

    const pressed = await client.press(reviewer, msg!, CAMPAIGN_REVOKE_ACTION_ID, { value: `${CAMPAIGN}:00004` });
    expect(pressed.viewId).toBeDefined();
    client.typeIn(pressed.viewId!, REVOKE_REASON_FORM.reason, 'Left the Finance team in February <!channel>.');
    await client.submitForm(pressed.viewId!);

    const submission = received.at(-1)!;
    expect(submission.type).toBe('view_submission');
    expect(submission.user.id).toBe(reviewerId());
    expect(submission.view?.callback_id).toBe(REVOKE_REASON_FORM.callbackId);
    expect(JSON.parse(submission.view?.private_metadata ?? '')).toEqual({ campaignId: CAMPAIGN, itemId: '00004', channel: msg!.channel, ts: msg!.ts });
    expect(submission.view?.state.values[REVOKE_REASON_FORM.reason]?.[REVOKE_REASON_FORM.reason]?.value).toBe('Left the Finance team in February <!channel>.');
  });
});
