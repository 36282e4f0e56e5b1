/**
 * Contractor end dates on the local runtime, against the sandbox: the Okta user carries an end date
 * in a custom profile attribute (the catalog's `endDates.okta: endDate`), read by the real Okta SDK
 * adapter. It caps the grant's expiry and the revocation fires then; past it, the request is refused
 * with the reason. The request's own end-date field (JIRA_FIELD_END_DATE) shortens the access, and a
 * malformed one is a 422 telling the requester what to fix.
 */
import { afterEach, describe, expect, it } from 'vitest';
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
const FIGMA_EDITOR = '00gfigmaeditor';
const DAY = 24 * 3600_000;
const END_DATE_FIELD = 'customfield_10074';

/** The UTC day `days` from the harness clock, as YYYY-MM-DD. */
const dayFromNow = (harness: Harness, days: number) => new Date(harness.clock.now().getTime() + days * DAY).toISOString().slice(0, 10);
/** When access with this end date ends: 00:00 UTC after the last day. */
const endOfDay = (date: string) => new Date(Date.parse(date) + DAY).toISOString();
const slackTo = (harness: Harness, email: string) => {
  const user = harness.sandbox.slack.users().find((u) => u.email === email)!;
  return harness.sandbox.slack.messagesTo(user.id).map((m) => m.text);
};

/** Maria asks for Figma editor for Nina (her report): Dana, the app owner, decides. */
async function requestForNina(harness: Harness, extra: { duration?: string; endDate?: string } = {}) {
  const filed = await harness.client.fileRequest({
    reporter: MARIA,
    subject: NINA,
    app: 'Figma',
    role: 'editor',
    duration: extra.duration ?? 'P30D',
    justification: 'Contract design work',
    ...(extra.endDate ? { endDate: extra.endDate } : {}),
  });
  const grantId = String(filed.body.grantId);
  await harness.runtime.workflow.quiet(grantId);
  return { ...filed, grantId };
}

describe('an end date in Okta', () => {
  it('caps a P30D grant at the end of the contract, says so on the issue, and the revocation fires then', async () => {
    h = await startHarness();
    const endDate = dayFromNow(h, 10);
    h.sandbox.okta.setAttributes(NINA, { endDate });
    const { grantId, issueKey } = await requestForNina(h);

    await h.click(DANA, grantId, 0, 'approve');
    await finished(h, grantId);

    const endsAt = endOfDay(endDate);
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'active', duration: 'P30D', expiresAt: endsAt });
    expect(h.sandbox.okta.members(FIGMA_EDITOR)).toContain(NINA);
    const internal = h.sandbox.jira.commentTexts(issueKey, 'internal');
    expect(internal.some((c) => c.includes(`Expires: ${endsAt} (capped by the end date ${endDate} from Okta endDate)`))).toBe(true);
    expect(internal.some((c) => c.startsWith(`Grantline: revocation scheduled at ${endsAt}`))).toBe(true);
    expect(slackTo(h, NINA).at(-1)).toBe(`Access granted: ${NINA} now has Figma editor until ${endsAt} (${issueKey}).`);
    // The requester's public notice on the issue (the first line; a reference line follows).
    expect(h.sandbox.jira.publicCommentTexts(issueKey).at(-1)?.split('\n')[0]).toBe(
      `Access granted until ${endsAt} (UTC), capped by the end date ${endDate} from Okta endDate.`,
    );

    h.clock.advance(Date.parse(endsAt) - h.clock.now().getTime() - 60_000);
    expect(await h.runtime.scheduler.tick()).toBe(0);
    expect(h.sandbox.okta.members(FIGMA_EDITOR)).toContain(NINA);
    h.clock.advance(2 * 60_000);
    expect(await h.runtime.scheduler.tick()).toBe(1);
    expect(h.sandbox.okta.members(FIGMA_EDITOR)).not.toContain(NINA);
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'revoked', revokeReason: 'expired', scheduledRevocationAt: endsAt });
  });

  it('a permanent role becomes time-bound to the end date', async () => {
    h = await startHarness();
    const endDate = dayFromNow(h, 45);
    h.sandbox.okta.setAttributes(NINA, { endDate });
    const { grantId } = await requestForNina(h, { duration: 'permanent' });

    await h.click(DANA, grantId, 0, 'approve');
    await finished(h, grantId);

    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'active', duration: 'permanent', expiresAt: endOfDay(endDate) });
  });

  it('a request past the end date is refused at once with the reason: on the issue, in the ledger, to the requester and the subject', async () => {
    h = await startHarness();
    const endDate = dayFromNow(h, -1);
    h.sandbox.okta.setAttributes(NINA, { endDate });
    const { grantId, issueKey } = await requestForNina(h);
    await finished(h, grantId);

    const reason = `${NINA}'s contract ends ${endDate} (Okta endDate), which has passed: no access is granted past the end date`;
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'denied', denialReason: reason, decidedBy: 'policy' });
    expect(h.sandbox.jira.issue(issueKey)?.status).toBe('Declined');
    expect(h.sandbox.jira.commentTexts(issueKey, 'internal').some((c) => c.startsWith(`Grantline: denied: ${reason}`))).toBe(true);
    const told = `Your request ${issueKey} for Figma editor was denied: ${reason}.`;
    expect(slackTo(h, MARIA).at(-1)).toBe(told);
    expect(slackTo(h, NINA).at(-1)).toBe(told);
    expect(slackTo(h, DANA)).toEqual([]); // nobody was asked to approve
    expect(h.sandbox.okta.members(FIGMA_EDITOR)).not.toContain(NINA);
  });
});

describe("the request's own end date (JIRA_FIELD_END_DATE)", () => {
  it('shortens the access; the earlier of it and Okta wins', async () => {
    h = await startHarness({ env: { JIRA_FIELD_END_DATE: END_DATE_FIELD } });
    h.sandbox.okta.setAttributes(NINA, { endDate: dayFromNow(h, 20) });
    const endDate = dayFromNow(h, 3);
    const { grantId, issueKey } = await requestForNina(h, { endDate });

    await h.click(DANA, grantId, 0, 'approve');
    await finished(h, grantId);

    const endsAt = endOfDay(endDate);
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'active', requestedEndDate: endDate, expiresAt: endsAt });
    expect(
      h.sandbox.jira
        .commentTexts(issueKey, 'internal')
        .some((c) => c.includes(`Expires: ${endsAt} (capped by the end date ${endDate} from the request's end date)`)),
    ).toBe(true);
  });

  it('one that is not a YYYY-MM-DD day is refused with 422, and the requester is told on the issue what to fix', async () => {
    h = await startHarness({ env: { JIRA_FIELD_END_DATE: END_DATE_FIELD } });
    const filed = await h.client.fileRequest({
      reporter: MARIA,
      subject: NINA,
      app: 'Figma',
      role: 'editor',
      duration: 'P30D',
      justification: 'Contract design work',
      endDate: '31/12/2026',
    });

    expect(filed.status).toBe(422);
    const problem = `end date (Jira field ${END_DATE_FIELD}) "31/12/2026" is not a date: give the last day as YYYY-MM-DD, e.g. 2026-03-31`;
    expect(filed.body.error).toBe(problem);
    expect(h.sandbox.jira.publicCommentTexts(filed.issueKey).at(-1)).toContain(problem);
    expect(await h.runtime.deps.store.getGrant(`grant-${filed.issueKey}`)).toBeUndefined();
  });
});
