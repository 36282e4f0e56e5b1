/**
 * The drift report end to end on the local runtime (the real Okta and Jira adapters against the
 * sandbox): memberships outside Grantline and grants whose membership vanished, on one Jira issue per
 * app and day that is updated, not duplicated; with `driftFix: true` the outside memberships go.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DriftReport } from '../../shared/drift.js';
import { notionMember, startHarness, testCatalog, type Harness } from '../support/harness.js';

const ELI = 'eli.engineer@example.com';
const NINA = 'nina.newhire@example.com';
const MALLORY = 'mallory.intruder@example.com';
const NOTION = '00gnotionmember';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function drift(harness: Harness, body: Record<string, unknown>): Promise<DriftReport> {
  const res = await harness.client.post('/drift', JSON.stringify(body), {
    'content-type': 'application/json',
    authorization: `Bearer ${harness.runtime.config.GRANTLINE_AUDIT_TOKEN}`,
  });
  expect(res.status).toBe(200);
  return (res.body.reports as DriftReport[])[0]!;
}

/** The findings as `kind email (new)`. */
const shown = (report: DriftReport) => report.findings.map((f) => `${f.kind} ${f.email}${f.new ? ' (new)' : ''}${f.fixed ? ` ${f.fixed}` : ''}`);

describe('the drift report', () => {
  it('finds a membership outside Grantline and a grant whose membership vanished; one issue a day, a comment only when the findings change', async () => {
    h = await startHarness();
    await notionMember(h, ELI);
    const ninas = await notionMember(h, NINA);
    h.sandbox.okta.addMembership(NOTION, MALLORY);
    // An admin removes Nina in Okta, outside Grantline.
    const okta = h.runtime.deps.idp('okta');
    await okta.removeMember(NOTION, (await okta.findUserByEmail(NINA))!.id);

    const first = await drift(h, { app: 'notion' });
    expect(shown(first)).toEqual([`outside ${MALLORY} (new)`, `missing ${NINA} (new)`]);
    expect(first.findings.find((f) => f.kind === 'missing')?.grantId).toBe(ninas);
    const issueKey = first.issueKey!;
    expect(h.sandbox.jira.issue(issueKey)?.summary).toMatch(/^Access drift in Notion on \d{4}-\d{2}-\d{2} \(app owner nora\.notion@example\.com\)$/);
    const comments = () => h!.sandbox.jira.commentTexts(issueKey, 'internal');
    expect(comments()).toHaveLength(1);
    expect(comments()[0]).toContain(`${MALLORY} is in okta group ${NOTION} (role member) with no active Grantline grant`);
    expect(comments()[0]).toContain(`${NINA} is no longer in okta group ${NOTION} (role member), though grant ${ninas} is active`);
    // Nothing removed: Notion has no driftFix.
    expect(h.sandbox.okta.members(NOTION)).toContain(MALLORY);

    // The same findings again (a second run the same day): the same issue, no second comment; nothing is new any more.
    const second = await drift(h, { app: 'notion' });
    expect(second.issueKey).toBe(issueKey);
    expect(shown(second)).toEqual([`outside ${MALLORY}`, `missing ${NINA}`]);
    expect(comments()).toHaveLength(1);

    // One more outside member: the day's issue gets a second comment, the newcomer marked new.
    h.sandbox.okta.addMembership(NOTION, 'dave.departed@example.com');
    const third = await drift(h, { app: 'notion' });
    expect(third.issueKey).toBe(issueKey);
    expect(shown(third)).toContain('outside dave.departed@example.com (new)');
    expect(comments()).toHaveLength(2);
  });

  it('with driftFix: true, removes the memberships outside Grantline and says so; a grant-held membership stays', async () => {
    h = await startHarness({ catalog: testCatalog((t) => t.replace('    name: Notion\n', '    name: Notion\n    driftFix: true\n')) });
    await notionMember(h, ELI);
    h.sandbox.okta.addMembership(NOTION, MALLORY);
    const report = await drift(h, { app: 'notion' });
    expect(shown(report)).toEqual([`outside ${MALLORY} (new) removed`]);
    expect(h.sandbox.okta.members(NOTION)).not.toContain(MALLORY);
    expect(h.sandbox.okta.members(NOTION)).toContain(ELI);
    expect(h.sandbox.jira.commentTexts(report.issueKey!, 'internal')[0]).toContain('removed by Grantline (driftFix)');
    // `fix: false` reports without removing.
    h.sandbox.okta.addMembership(NOTION, MALLORY);
    expect(shown(await drift(h, { app: 'notion', fix: false }))).toEqual([`outside ${MALLORY}`]);
    expect(h.sandbox.okta.members(NOTION)).toContain(MALLORY);
  });

  it('a revocation under way (the member already out of the group, the grant not yet ended) is not drift', async () => {
    h = await startHarness();
    const elis = await notionMember(h, ELI);
    // A revocation cut short by a crash after the removal: marked as ending, out of the group, still active.
    expect(await h.runtime.deps.store.markEnding(elis, h.clock.now().toISOString())).toBe(true);
    const okta = h.runtime.deps.idp('okta');
    await okta.removeMember(NOTION, (await okta.findUserByEmail(ELI))!.id);
    expect((await drift(h, { app: 'notion' })).findings).toEqual([]);
  });

  it('an app with nothing to report files no issue', async () => {
    h = await startHarness();
    await notionMember(h, ELI);
    const report = await drift(h, { app: 'notion' });
    expect(report.findings).toEqual([]);
    expect(report.issueKey).toBeUndefined();
  });
});
