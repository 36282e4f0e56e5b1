/**
 * An access review campaign as its reviewers and its auditor meet it, on the local runtime (the real
 * Okta, Jira and Slack adapters against the sandbox, dynalite): two apps and 49 members (grants and
 * memberships outside Grantline, recent, stale and unknown sign-ins); each reviewer's paged Slack
 * message with Keep / Revoke (a reason asked in a modal) and "Keep all recommended keeps"; the owner's
 * own access routed away; reminders, and the due date acting by the campaign's rule (revoke, or
 * escalate to the reviewer's manager); the summary and the CSV on the campaign's Jira issue.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeSlackMessage } from '../../infra/local/sandbox/slack.js';
import { type Campaign, type CampaignItem, CAMPAIGN_CSV_COLUMNS, sweepCampaigns } from '../../shared/campaigns.js';
import {
  CAMPAIGN_KEEP_ACTION_ID,
  CAMPAIGN_KEEP_RECOMMENDED_ACTION_ID,
  CAMPAIGN_PAGE_ACTION_IDS,
  CAMPAIGN_REVOKE_ACTION_ID,
  REVOKE_REASON_FORM,
} from '../../shared/ports.js';
import { notionMember, startHarness, testCatalog, type Harness } from '../support/harness.js';
import { eventually } from '../support/wait.js';

const ELI = 'eli.engineer@example.com';
const NINA = 'nina.newhire@example.com';
const NORA = 'nora.notion@example.com';
const DANA = 'dana.design@example.com';
const MARIA = 'maria.manager@example.com';
const SAM = 'sam.sec@example.com';
const NOTION = '00gnotionmember';
const FIGMA_VIEWERS = '00gfigmaviewer';
const DAY = 86_400_000;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function call(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const auth = { authorization: `Bearer ${h!.runtime.config.GRANTLINE_AUDIT_TOKEN}`, ...headers };
  if (body === undefined) {
    const res = await fetch(`${h!.runtime.url}${path}`, { headers: auth });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  return h!.client.post(path, JSON.stringify(body), { 'content-type': 'application/json', ...auth });
}

const slackId = (email: string) => h!.sandbox.slack.users().find((u) => u.email === email)!.id;
/** A reviewer's review message (not the notices in its thread), as Slack shows it now. */
const reviewMessage = (email: string): FakeSlackMessage => {
  const messages = h!.sandbox.slack.messagesTo(slackId(email)).filter((m) => !m.threadTs && m.text.startsWith('Access review of'));
  expect(messages).toHaveLength(1);
  return messages[0]!;
};
/** The replies in the thread of a reviewer's message (reminders, escalations). */
const threadOf = (email: string) => {
  const message = reviewMessage(email);
  return h!.sandbox.slack.messagesTo(slackId(email)).filter((m) => m.threadTs === message.ts);
};
const buttons = (m: FakeSlackMessage) =>
  (m.blocks as Array<{ type?: string; elements?: Array<{ type?: string; action_id?: string; value?: string }> }>)
    .filter((b) => b.type === 'actions')
    .flatMap((b) => (b.elements ?? []).filter((e) => e.type === 'button').map((e) => `${e.action_id} ${e.value}`));
const shownText = (m: FakeSlackMessage) => JSON.stringify(m.blocks);
const now = () => Math.floor(h!.clock.now().getTime() / 1000);

/** People only the identity provider knows (no Slack, no Jira), each in `group` outside Grantline, signed in `daysAgo` (null: never). */
function outsiders(prefix: string, group: string, count: number, daysAgo: (i: number) => number | null): string[] {
  const emails: string[] = [];
  for (let i = 1; i <= count; i++) {
    const email = `${prefix}${String(i).padStart(2, '0')}@example.com`;
    h!.sandbox.okta.addUser({ email, firstName: prefix, lastName: String(i) });
    h!.sandbox.okta.addMembership(group, email);
    const days = daysAgo(i);
    h!.sandbox.okta.setLastLogin(email, days === null ? null : new Date(h!.clock.now().getTime() - days * DAY).toISOString());
    emails.push(email);
  }
  return emails;
}

describe('a campaign over two apps, reviewed in Slack', () => {
  it('49 items with recommendations; reviewers decide in their paged messages; reminders; the due date revokes what nobody reviewed; summary and CSV on the issue', async () => {
    h = await startHarness({ env: { GRANTLINE_REVIEW_FALLBACK: SAM } });
    const elis = await notionMember(h, ELI);
    const ninas = await notionMember(h, NINA);
    const t0 = h.clock.now().getTime();
    h.sandbox.okta.setLastLogin(ELI, new Date(t0 - 2 * DAY).toISOString());
    h.sandbox.okta.setLastLogin(NINA, new Date(t0 - 120 * DAY).toISOString());
    // Nora owns Notion and is in its group: her own item goes to the configured fallback reviewer.
    h.sandbox.okta.addMembership(NOTION, NORA);
    const notionOutside = outsiders('wiki', NOTION, 22, (i) => (i % 2 === 0 ? 5 : 200));
    const figmaOutside = outsiders('viewer', FIGMA_VIEWERS, 24, (i) => (i === 1 ? null : 10));

    const key = { 'idempotency-key': 'start-q4-review' };
    const issuesFiled = () => h!.sandbox.jira.fake.requests.filter((r) => r.method === 'POST' && r.path === '/rest/api/3/issue').length;
    const filedBefore = issuesFiled();
    const started = await call('/reviews', { apps: ['notion', 'figma'], due: 'P7D', onUnreviewed: 'revoke' }, key);
    expect(started.status).toBe(201);
    const campaign = started.body.campaign as Campaign;
    const items = started.body.items as CampaignItem[];
    expect(items).toHaveLength(49);
    // The same start again (a lost answer) is the same campaign: no second issue, no second message.
    const again = await call('/reviews', { apps: ['notion', 'figma'], due: 'P7D', onUnreviewed: 'revoke' }, key);
    expect(again.status).toBe(200);
    expect((again.body.campaign as Campaign).id).toBe(campaign.id);
    expect(issuesFiled()).toBe(filedBefore + 1);
    expect(h.sandbox.jira.issue(campaign.issueKey!)?.summary).toMatch(/^Access review: Notion, Figma \(due \d{4}-\d{2}-\d{2}\)$/);

    const itemOf = (email: string) => items.find((i) => i.email === email)!;
    expect(itemOf(ELI)).toMatchObject({ recommendation: 'keep', reviewer: NORA, grant: { grantId: elis } });
    expect(itemOf(NINA)).toMatchObject({ recommendation: 'revoke', reason: 'no sign-in for 120 days (inactive after 90)', grant: { grantId: ninas } });
    expect(itemOf(NORA)).toMatchObject({ recommendation: 'revoke', reviewer: SAM });
    expect(itemOf(figmaOutside[0]!)).toMatchObject({
      lastLogin: 'unknown',
      reviewer: DANA,
      reason: 'access outside Grantline: no request or approval on record',
    });
    expect(items.filter((i) => i.reviewer === NORA)).toHaveLength(24);
    expect(items.filter((i) => i.reviewer === DANA)).toHaveLength(24);

    // Each reviewer has one message: a page of 10 with Keep / Revoke per item.
    const nora = reviewMessage(NORA);
    expect(shownText(nora)).toContain('page 1 of 3');
    expect(buttons(nora).filter((b) => b.startsWith(`${CAMPAIGN_KEEP_ACTION_ID} `))).toHaveLength(10);
    expect(buttons(nora)).toContain(`${CAMPAIGN_PAGE_ACTION_IDS.next} ${campaign.id}:1`);
    expect(buttons(nora)).toContain(`${CAMPAIGN_KEEP_RECOMMENDED_ACTION_ID} ${campaign.id}`);
    expect(shownText(reviewMessage(SAM))).toContain(NORA);
    const value = (email: string) => `${campaign.id}:${itemOf(email).itemId}`;

    // Revoke asks why in a modal; an empty reason is refused under the field.
    const asked = await h.press(NORA, nora, CAMPAIGN_REVOKE_ACTION_ID, value(NINA));
    expect(asked.body).toEqual({ outcome: 'asked' });
    const empty = await h.client.submitForm(asked.viewId!, { timestamp: now() });
    expect(empty.body).toEqual({ response_action: 'errors', errors: { [REVOKE_REASON_FORM.reason]: 'Say why this access is revoked' } });
    h.client.typeIn(asked.viewId!, REVOKE_REASON_FORM.reason, 'no longer on the team');
    expect((await h.client.submitForm(asked.viewId!, { timestamp: now() })).status).toBe(200);
    // The job carries it out through the revoke path: the grant ends, the group loses her.
    await eventually(async () => expect(await h!.runtime.deps.store.getGrant(ninas)).toMatchObject({ status: 'revoked', revokeReason: 'access_review' }));
    expect(h.sandbox.okta.members(NOTION)).not.toContain(NINA);

    // Two memberships outside Grantline revoked: out of the group, evidence on the campaign's issue.
    for (const email of [notionOutside[0]!, notionOutside[2]!]) {
      const opened = await h.press(NORA, reviewMessage(NORA), CAMPAIGN_REVOKE_ACTION_ID, value(email));
      h.client.typeIn(opened.viewId!, REVOKE_REASON_FORM.reason, 'contractor engagement ended');
      await h.client.submitForm(opened.viewId!, { timestamp: now() });
    }
    await eventually(() => expect(h!.sandbox.okta.members(NOTION)).not.toContain(notionOutside[2]));
    expect(h.sandbox.okta.members(NOTION)).not.toContain(notionOutside[0]);
    await eventually(() =>
      expect(h!.sandbox.jira.commentTexts(campaign.issueKey!, 'internal').filter((c) => c.includes('(access outside Grantline)'))).toHaveLength(2),
    );

    // A click on someone else's item, and a second decision on a decided one, change nothing.
    expect((await h.press(ELI, reviewMessage(NORA), CAMPAIGN_KEEP_ACTION_ID, value(notionOutside[1]!))).body).toEqual({ outcome: 'refused' });
    expect(h.sandbox.slack.messagesTo(slackId(ELI)).at(-1)?.text).toBe(`Your Keep was not recorded: only ${NORA} reviews this item.`);
    const nina = await call(`/campaigns/${campaign.id}/decisions`, { item: itemOf(NINA).itemId, outcome: 'keep', by: NORA });
    expect(nina.status).toBe(409);
    expect(nina.body.reason).toMatch(/^already decided: revoke by nora\.notion@example\.com at /);

    // "Keep all recommended keeps" keeps Eli (her only such item); the rest she keeps one by one, page by page.
    expect((await h.press(NORA, reviewMessage(NORA), CAMPAIGN_KEEP_RECOMMENDED_ACTION_ID)).body).toEqual({ outcome: 'recorded', kept: 1 });
    for (let page = 0; page < 3; page++) {
      const message = reviewMessage(NORA);
      expect(shownText(message)).toContain(`page ${page + 1} of 3`);
      for (const keep of buttons(message).filter((b) => b.startsWith(`${CAMPAIGN_KEEP_ACTION_ID} `))) {
        expect((await h.press(NORA, reviewMessage(NORA), CAMPAIGN_KEEP_ACTION_ID, keep.split(' ')[1])).body).toEqual({ outcome: 'recorded' });
      }
      if (page < 2) await h.press(NORA, reviewMessage(NORA), CAMPAIGN_PAGE_ACTION_IDS.next, `${campaign.id}:${page + 1}`);
    }
    expect(shownText(reviewMessage(NORA))).toContain('24 of 24');
    expect(buttons(reviewMessage(NORA)).filter((b) => !b.startsWith('grantline_campaign_page'))).toEqual([]);
    // Dana keeps all but two of hers through the API (the CLI's route); Sam does not review Nora's item.
    const danas = items.filter((i) => i.reviewer === DANA);
    for (const item of danas.slice(2))
      expect((await call(`/campaigns/${campaign.id}/decisions`, { item: item.itemId, outcome: 'keep', by: DANA })).status).toBe(200);

    // Reminders: three days before the due date, then one day before; each once, to those with items waiting.
    const due = Date.parse(campaign.dueAt);
    h.clock.set(new Date(due - 3 * DAY + 60_000));
    expect((await sweepCampaigns(h.runtime.deps)).reminded).toEqual([campaign.id]);
    expect((await sweepCampaigns(h.runtime.deps)).reminded).toEqual([]);
    expect(threadOf(DANA).map((m) => m.text)).toEqual([expect.stringMatching(/^Reminder: 2 item\(s\) of access review .* still need your decision by /)]);
    expect(threadOf(SAM)).toHaveLength(1);
    expect(threadOf(NORA)).toEqual([]);
    h.clock.set(new Date(due - DAY + 60_000));
    await sweepCampaigns(h.runtime.deps);
    expect(threadOf(DANA)).toHaveLength(2);

    // The due date: the rule revokes what nobody reviewed (Dana's two, Nora's own), then the summary and the CSV, once.
    h.clock.set(new Date(due + 60_000));
    expect((await sweepCampaigns(h.runtime.deps)).closed).toEqual([campaign.id]);
    expect((await sweepCampaigns(h.runtime.deps)).closed).toEqual([]);
    expect(h.sandbox.okta.members(FIGMA_VIEWERS)).not.toContain(danas[0]!.email);
    expect(h.sandbox.okta.members(FIGMA_VIEWERS)).toContain(danas[2]!.email);
    expect(h.sandbox.okta.members(NOTION)).not.toContain(NORA);
    expect(h.sandbox.okta.members(NOTION)).toContain(ELI);
    const summaries = h.sandbox.jira.commentTexts(campaign.issueKey!, 'internal').filter((c) => c.includes(' closed: '));
    expect(summaries).toHaveLength(1);
    expect(summaries[0]!.split('\n')[0]).toBe(`Grantline: access review ${campaign.id} closed: 49 item(s), 43 kept, 6 revoked, 3 not reviewed`);
    const attached = h.sandbox.jira.attachments(campaign.issueKey!);
    expect(attached.map((a) => `${a.filename} ${a.mimeType}`)).toEqual([`${campaign.id}.csv text/csv`]);
    const rows = attached[0]!.content.trimEnd().split('\r\n');
    expect(rows[0]).toBe(CAMPAIGN_CSV_COLUMNS.join(','));
    expect(rows).toHaveLength(50);
    expect(rows.find((r) => r.includes(NINA))).toContain(`,revoke,${NORA},`);
    // The messages show the campaign closed: no buttons left.
    for (const reviewer of [NORA, DANA, SAM]) expect(buttons(reviewMessage(reviewer)).filter((b) => !b.startsWith('grantline_campaign_page'))).toEqual([]);
  });

  it('escalate: at the due date what nobody reviewed goes to the reviewer’s manager with three more days; still unreviewed then, it is kept and said so', async () => {
    const catalog = testCatalog((t) => t.replace('managers:\n', `managers:\n  ${NORA}: ${MARIA}\n`));
    h = await startHarness({ catalog });
    await notionMember(h, ELI);
    outsiders('wiki', NOTION, 2, () => 1);
    const started = await call('/reviews', { apps: ['notion'], due: 'P2D', onUnreviewed: 'escalate' });
    const campaign = started.body.campaign as Campaign;
    const items = started.body.items as CampaignItem[];
    expect(items.map((i) => i.reviewer)).toEqual([NORA, NORA, NORA]);
    // Nora keeps one; two wait at the due date.
    await call(`/campaigns/${campaign.id}/decisions`, { item: items[0]!.itemId, outcome: 'keep', by: NORA });
    h.clock.set(new Date(Date.parse(campaign.dueAt) + 60_000));
    expect((await sweepCampaigns(h.runtime.deps)).escalated).toEqual([campaign.id]);
    const escalated = (await call(`/campaigns/${campaign.id}`)).body as { campaign: Campaign; items: CampaignItem[] };
    expect(escalated.campaign.dueAt).toBe(new Date(Date.parse(campaign.dueAt) + 3 * DAY).toISOString());
    expect(escalated.items.map((i) => `${i.reviewer} ${i.escalatedFrom ?? '-'}`)).toEqual([`${NORA} -`, `${MARIA} ${NORA}`, `${MARIA} ${NORA}`]);
    expect(buttons(reviewMessage(MARIA)).filter((b) => b.startsWith(`${CAMPAIGN_KEEP_ACTION_ID} `))).toHaveLength(2);
    expect(h.sandbox.jira.commentTexts(campaign.issueKey!, 'internal').join('\n')).toContain('2 item(s) not reviewed by the due date escalated');
    // Nora can no longer decide them; Maria revokes one.
    const noras = await call(`/campaigns/${campaign.id}/decisions`, { item: items[1]!.itemId, outcome: 'keep', by: NORA });
    expect(noras.body).toEqual({ outcome: 'refused', reason: `only ${MARIA} reviews this item` });
    await call(`/campaigns/${campaign.id}/decisions`, { item: items[1]!.itemId, outcome: 'revoke', by: MARIA, reason: 'unknown account' });
    // A sweep before the new due date closes nothing; at it, the last item is kept by the rule.
    expect((await sweepCampaigns(h.runtime.deps)).closed).toEqual([]);
    h.clock.set(new Date(Date.parse(escalated.campaign.dueAt) + 60_000));
    expect((await sweepCampaigns(h.runtime.deps)).closed).toEqual([campaign.id]);
    expect(h.sandbox.okta.members(NOTION)).toContain(items[2]!.email);
    const summary = h.sandbox.jira.commentTexts(campaign.issueKey!, 'internal').find((c) => c.includes(' closed: '))!;
    expect(summary.split('\n')[0]).toBe(`Grantline: access review ${campaign.id} closed: 3 item(s), 1 kept, 1 revoked, 1 not reviewed`);
    expect(summary).toContain("kept (escalated to the reviewers' managers at");
  });
});

describe('a campaign cut short', () => {
  it('a start whose Jira filing failed is resumed by the sweep; a Revoke whose job was lost is carried out by the sweep', async () => {
    h = await startHarness();
    await notionMember(h, ELI);
    outsiders('wiki', NOTION, 1, () => 1);
    h.sandbox.jira.fake.injectFault({ method: 'POST', path: /^\/rest\/api\/3\/issue\/?$/, action: 'answer', status: 500, times: 10 });
    const failed = await call('/reviews', { apps: ['notion'], due: 'P7D' }, { 'idempotency-key': 'k1' });
    expect(failed.status).toBeGreaterThanOrEqual(500);
    h.sandbox.jira.fake.clearFaults();
    // Asked again at once: the campaign exists, still starting (202); the sweep leaves a fresh start alone.
    const again = await call('/reviews', { apps: ['notion'], due: 'P7D' }, { 'idempotency-key': 'k1' });
    expect(again.status).toBe(202);
    const id = (again.body.campaign as Campaign).id;
    expect((await sweepCampaigns(h.runtime.deps)).resumed).toEqual([]);
    h.clock.set(new Date(h.clock.now().getTime() + 16 * 60_000));
    expect((await sweepCampaigns(h.runtime.deps)).resumed).toEqual([id]);
    const report = (await call(`/campaigns/${id}`)).body as { campaign: Campaign; items: CampaignItem[] };
    expect(report.campaign.status).toBe('open');
    expect(report.items).toHaveLength(2);
    expect(reviewMessage(NORA)).toBeDefined();

    // The Revoke is recorded in Slack, but its job is lost (the process died): the sweep carries it out.
    h.runtime.deps.jobs.campaignRevoke = async () => undefined;
    const outsider = report.items.find((i) => !i.grant)!;
    const opened = await h.press(NORA, reviewMessage(NORA), CAMPAIGN_REVOKE_ACTION_ID, `${id}:${outsider.itemId}`);
    h.client.typeIn(opened.viewId!, REVOKE_REASON_FORM.reason, 'not a known person');
    await h.client.submitForm(opened.viewId!, { timestamp: now() });
    expect(h.sandbox.okta.members(NOTION)).toContain(outsider.email);
    await sweepCampaigns(h.runtime.deps);
    expect(h.sandbox.okta.members(NOTION)).not.toContain(outsider.email);
    expect((await call(`/campaigns/${id}`)).body.items).toContainEqual(
      expect.objectContaining({ email: outsider.email, result: 'outside Grantline: removed' }),
    );
  });
});

describe('forged and stray clicks on a review message', () => {
  it('a forged value is refused (400); a tampered revoke form, a click on another reviewer’s page and a click after the close change nothing', async () => {
    h = await startHarness();
    await notionMember(h, ELI);
    outsiders('wiki', NOTION, 12, () => 1);
    outsiders('viewer', FIGMA_VIEWERS, 1, () => 1);
    const started = await call('/reviews', { apps: ['notion', 'figma'], due: 'P7D' });
    const campaign = started.body.campaign as Campaign;
    const items = started.body.items as CampaignItem[];
    const noraUser = h.sandbox.slack.users().find((u) => u.email === NORA)!;
    const interaction = (payload: Record<string, unknown>) =>
      h!.client.postSlack(
        '/webhooks/slack/interactions',
        `payload=${encodeURIComponent(JSON.stringify({ team: { id: 'TSANDBOX' }, api_app_id: 'ASANDBOX', user: { id: noraUser.id }, ...payload }))}`,
        now(),
      );

    // A button value that is no item reference.
    const forged = await interaction({ type: 'block_actions', actions: [{ action_id: CAMPAIGN_KEEP_ACTION_ID, value: `${campaign.id}:../00001` }] });
    expect(forged.status).toBe(400);
    // A revoke form whose metadata was rewritten to an item of the campaign Nora does not review: refused, nothing decided.
    const danas = items.find((i) => i.reviewer === DANA)!;
    const tampered = await interaction({
      type: 'view_submission',
      view: {
        id: 'V123',
        callback_id: REVOKE_REASON_FORM.callbackId,
        private_metadata: JSON.stringify({ campaignId: campaign.id, itemId: danas.itemId }),
        state: { values: { [REVOKE_REASON_FORM.reason]: { [REVOKE_REASON_FORM.reason]: { type: 'plain_text_input', value: 'because' } } } },
      },
    });
    expect(tampered.status).toBe(200);
    expect(h.sandbox.slack.messagesTo(noraUser.id).at(-1)?.text).toBe(`Your Revoke was not recorded: only ${DANA} reviews this item.`);
    expect((await call(`/campaigns/${campaign.id}`)).body.items).not.toContainEqual(expect.objectContaining({ decision: expect.anything() }));
    const garbled = await interaction({
      type: 'view_submission',
      view: { id: 'V124', callback_id: REVOKE_REASON_FORM.callbackId, private_metadata: '{not json', state: { values: {} } },
    });
    expect(garbled.status).toBe(200);
    const garbledWithReason = await interaction({
      type: 'view_submission',
      view: {
        id: 'V125',
        callback_id: REVOKE_REASON_FORM.callbackId,
        private_metadata: '{not json',
        state: { values: { [REVOKE_REASON_FORM.reason]: { [REVOKE_REASON_FORM.reason]: { type: 'plain_text_input', value: 'because' } } } },
      },
    });
    expect(garbledWithReason.status).toBe(400);

    // Eli turns the page of Nora's message: her message stays on its page.
    const before = reviewMessage(NORA);
    await h.press(ELI, before, CAMPAIGN_PAGE_ACTION_IDS.next, `${campaign.id}:1`);
    expect(shownText(reviewMessage(NORA))).toContain('page 1 of 2');

    // After the close a Keep is refused and said so.
    await call(`/campaigns/${campaign.id}/close`, {});
    const late = await interaction({ type: 'block_actions', actions: [{ action_id: CAMPAIGN_KEEP_ACTION_ID, value: `${campaign.id}:${items[0]!.itemId}` }] });
    expect(late.body).toEqual({ outcome: 'refused' });
    expect(h.sandbox.slack.messagesTo(noraUser.id).at(-1)?.text).toBe('Your Keep was not recorded: the review is closed.');
  });
});
