/**
 * An access review campaign end to end on the local runtime (the real Okta and Jira adapters against
 * the sandbox): the snapshot at start with last sign-in and recommendations, one decision per item by
 * its reviewer, a Revoke through the revoke path (a grant) or out of the group (outside Grantline),
 * and the close that settles what nobody reviewed and posts the summary.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Campaign, CampaignItem } from '../../shared/campaigns.js';
import { notionMember, startHarness, type Harness } from '../support/harness.js';

const ELI = 'eli.engineer@example.com';
const NINA = 'nina.newhire@example.com';
const MALLORY = 'mallory.intruder@example.com';
const NORA = 'nora.notion@example.com';
const NOTION = '00gnotionmember';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function call(harness: Harness, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const auth = { authorization: `Bearer ${harness.runtime.config.GRANTLINE_AUDIT_TOKEN}` };
  if (body === undefined) {
    const res = await fetch(`${harness.runtime.url}${path}`, { headers: auth });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  return harness.client.post(path, JSON.stringify(body), { 'content-type': 'application/json', ...auth });
}

describe('an access review campaign', () => {
  it('snapshots the group with last sign-in and recommendations; each item decided once by its reviewer; the close settles the rest', async () => {
    h = await startHarness();
    const elis = await notionMember(h, ELI);
    const ninas = await notionMember(h, NINA);
    h.sandbox.okta.addMembership(NOTION, MALLORY);
    const now = h.clock.now().getTime();
    h.sandbox.okta.setLastLogin(ELI, new Date(now - 3 * 86_400_000).toISOString());
    h.sandbox.okta.setLastLogin(NINA, new Date(now - 120 * 86_400_000).toISOString());

    const started = await call(h, '/reviews', { apps: ['notion'], due: 'P14D', onUnreviewed: 'revoke' });
    expect(started.status).toBe(201);
    const campaign = started.body.campaign as Campaign;
    const items = started.body.items as CampaignItem[];
    const itemOf = (email: string) => items.find((i) => i.email === email)!;
    expect(items.map((i) => `${i.email} ${i.recommendation} (${i.reviewer})`).sort()).toEqual([
      `${ELI} keep (${NORA})`,
      `${MALLORY} revoke (${NORA})`,
      `${NINA} revoke (${NORA})`,
    ]);
    expect(itemOf(MALLORY).reason).toBe('access outside Grantline: no request or approval on record');
    expect(itemOf(NINA).reason).toMatch(/^no sign-in for 120 days \(inactive after 90\)$/);
    expect(itemOf(ELI)).toMatchObject({ grant: { grantId: elis }, lastLogin: new Date(now - 3 * 86_400_000).toISOString() });
    expect(h.sandbox.jira.issue(campaign.issueKey!)?.summary).toMatch(/^Access review: Notion \(due \d{4}-\d{2}-\d{2}\)$/);
    expect(h.sandbox.jira.commentTexts(campaign.issueKey!, 'internal')[0]).toContain(`access review ${campaign.id} started: 3 item(s) in Notion`);

    const decide = (item: CampaignItem, outcome: 'keep' | 'revoke', by: string, reason?: string) =>
      call(h!, `/campaigns/${campaign.id}/decisions`, { item: item.itemId, outcome, by, ...(reason ? { reason } : {}) });
    // Only the item's reviewer decides; a revoke needs a reason.
    expect((await decide(itemOf(MALLORY), 'revoke', ELI, 'x')).body).toEqual({ outcome: 'refused', reason: `only ${NORA} reviews this item` });
    expect((await decide(itemOf(MALLORY), 'revoke', NORA)).body).toEqual({ outcome: 'refused', reason: 'a revocation needs a reason' });
    // Access outside Grantline: out of the group, with evidence on the campaign's issue.
    expect((await decide(itemOf(MALLORY), 'revoke', NORA, 'contractor left')).body).toEqual({ outcome: 'recorded', result: 'outside Grantline: removed' });
    expect(h.sandbox.okta.members(NOTION)).not.toContain(MALLORY);
    expect(h.sandbox.jira.commentTexts(campaign.issueKey!, 'internal').join('\n')).toContain(
      `removed ${MALLORY} from okta group ${NOTION} (access outside Grantline)`,
    );
    // Keep Eli; a second decision on his item changes nothing.
    expect((await decide(itemOf(ELI), 'keep', NORA)).body).toEqual({ outcome: 'recorded' });
    expect((await decide(itemOf(ELI), 'revoke', NORA, 'changed my mind')).status).toBe(409);
    expect(h.sandbox.okta.members(NOTION)).toContain(ELI);

    // Nobody reviewed Nina by the close: the campaign's rule revokes her grant through the revoke path.
    const closed = await call(h, `/campaigns/${campaign.id}/close`, {});
    expect((closed.body.campaign as Campaign).status).toBe('closed');
    expect(await h.runtime.deps.store.getGrant(ninas)).toMatchObject({ status: 'revoked', revokeReason: 'access_review' });
    expect(h.sandbox.okta.members(NOTION)).not.toContain(NINA);
    const summary = h.sandbox.jira.commentTexts(campaign.issueKey!, 'internal').filter((c) => c.includes('closed:'));
    expect(summary).toHaveLength(1);
    expect(summary[0]!.split('\n')[0]).toBe(`Grantline: access review ${campaign.id} closed: 3 item(s), 1 kept, 2 revoked, 1 not reviewed`);
    // A second close changes nothing and posts nothing.
    await call(h, `/campaigns/${campaign.id}/close`, {});
    expect(h.sandbox.jira.commentTexts(campaign.issueKey!, 'internal').filter((c) => c.includes('closed:'))).toHaveLength(1);
    // The report: every item with its decision.
    const report = await call(h, `/campaigns/${campaign.id}`);
    expect((report.body.items as CampaignItem[]).map((i) => `${i.email} ${i.decision?.outcome} ${i.decision?.by}`).sort()).toEqual([
      `${ELI} keep ${NORA}`,
      `${MALLORY} revoke ${NORA}`,
      `${NINA} revoke grantline`,
    ]);
  });

  it('refuses an unknown app and a due date that is not a duration', async () => {
    h = await startHarness();
    expect((await call(h, '/reviews', { apps: ['nope'], due: 'P14D' })).status).toBe(422);
    expect((await call(h, '/reviews', { apps: ['notion'], due: 'next week' })).status).toBe(422);
  });
});
