/**
 * Break-glass end to end on the local runtime, through the real Jira, Slack and Okta SDK adapters
 * against the sandbox: an engineer takes the admin console in an incident with a reference and a
 * reason, security on-call and the incidents channel are told, and one of them confirms it after
 * the fact (or nobody does, and it is flagged, or revoked). Assertions are on what people see: the
 * Jira evidence and notices, the Slack messages and buttons, the Okta group, the audit answer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalRuntime } from '../../infra/local/runtime.js';
import { SandboxClient } from '../../infra/local/sandbox/index.js';
import type { FakeSlackMessage } from '../../infra/local/sandbox/slack.js';
import type { GrantRecord } from '../../shared/audit.js';
import { flushEvidence } from '../../shared/evidence.js';
import { silentLogger } from '../../shared/logger.js';
import { REVIEW_ACTION_ID } from '../../shared/ports.js';
import { tasks } from '../../shared/tasks.js';
import { startHarness, testCatalog, type Harness } from '../support/harness.js';
import { restartableWorld } from '../support/restartable.js';
import { eventually, finished } from '../support/wait.js';

const ELI = 'eli.engineer@example.com';
const SAM = 'sam.sec@example.com';
const SASHA = 'sasha.sec@example.com';
const MALLORY = 'mallory.intruder@example.com';
const GROUP = '00gconsolebreakglass';
const CHANNEL = 'C0SECINCIDENTS';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** The sample catalog, with the review due after `within` and what happens when nobody confirms it. */
const catalogWith = (within = 'PT24H', onUnreviewed = 'flag') =>
  testCatalog((t) => t.replace('reviewWithin: PT24H', `reviewWithin: ${within}`).replace('onUnreviewed: flag', `onUnreviewed: ${onUnreviewed}`));

const slackId = (harness: Harness, email: string) => harness.sandbox.slack.users().find((u) => u.email === email)!.id;
const messagesTo = (harness: Harness, email: string) => harness.sandbox.slack.messagesTo(slackId(harness, email));
const reviewNotice = (messages: FakeSlackMessage[]) => messages.find((m) => m.text.startsWith('Break-glass: '));
const hasReviewButton = (m: FakeSlackMessage | undefined) => JSON.stringify(m?.blocks ?? []).includes(`"action_id":"${REVIEW_ACTION_ID}"`);
const firstLines = (texts: string[]) => texts.map((c) => c.split('\n')[0]);

/** Eli files a break-glass request for the admin console in Jira (the break-glass box ticked, the incident, the reason). */
async function breakGlass(harness: Harness, form: { incident?: string; justification?: string; app?: string; role?: string; duration?: string } = {}) {
  const filed = await harness.client.fileRequest({
    reporter: ELI,
    subject: ELI,
    app: form.app ?? 'Internal admin console',
    role: form.role ?? 'break-glass',
    ...(form.duration === '' ? {} : { duration: form.duration ?? 'PT1H' }),
    justification: form.justification ?? 'primary database down, failing over',
    breakGlass: 'Break-glass',
    ...(form.incident === undefined ? { incident: 'INC-42' } : form.incident ? { incident: form.incident } : {}),
  });
  return { ...filed, grantId: String(filed.body.grantId ?? `grant-${filed.issueKey}`) };
}

async function auditOf(harness: Harness, grantId: string): Promise<GrantRecord> {
  const res = await harness.client.audit(`/grants/${grantId}`);
  expect(res.status).toBe(200);
  return res.body as unknown as GrantRecord;
}

describe('break-glass in an incident', () => {
  it('starts at once with the reference and the reason on the issue; on-call and the channel are told; a reviewer confirms it', async () => {
    h = await startHarness();
    const { status, issueKey, grantId } = await breakGlass(h, { duration: '' });
    expect(status).toBe(202);
    await h.runtime.workflow.quiet(grantId);

    // The access, for the role's maximum (6 hours), with no approver asked.
    expect(h.sandbox.okta.members(GROUP)).toContain(ELI);
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'active', duration: 'PT6H', decidedBy: ELI });
    expect(firstLines(h.sandbox.jira.commentTexts(issueKey, 'internal'))).toEqual([
      `Grantline: ${ELI} requested Internal admin console break-glass for ${ELI}`,
      `Grantline: approved by ${ELI} under break-glass, incident INC-42: primary database down, failing over`,
      `Grantline: added ${ELI} to okta group ${GROUP}`,
      expect.stringMatching(/^Grantline: revocation scheduled at /),
      expect.stringMatching(new RegExp(`^Grantline: review after the fact asked of ${SAM}, ${SASHA}: one of them must confirm this break-glass by \\S+$`)),
    ]);
    const approved = h.sandbox.jira.commentTexts(issueKey, 'internal')[1]!;
    expect(approved).toContain('Incident: INC-42');
    expect(approved).toContain('Reason: primary database down, failing over');
    expect(approved).toContain(`Review after the fact: by one of ${SAM}, ${SASHA} within 1 day`);
    expect(firstLines(h.sandbox.jira.publicCommentTexts(issueKey))).toEqual([
      'We have received your access request. Updates will appear here.',
      'Approved under break-glass (incident INC-42): the access starts now, and it is reviewed after the fact.',
      expect.stringMatching(/^Access granted until /),
    ]);

    // Every on-call member by DM and the incidents channel, each with the Reviewed button; not the requester.
    const notices = [...[SAM, SASHA].map((who) => reviewNotice(messagesTo(h!, who))), reviewNotice(h.sandbox.slack.messagesIn(CHANNEL))];
    for (const notice of notices) {
      expect(notice?.text).toMatch(
        /^Break-glass: eli\.engineer@example\.com took Internal admin console break-glass for 6 hours until .* \(ACC-1\), incident INC-42, reason: primary database down, failing over\. Review it by .* UTC: one of sam\.sec@example\.com, sasha\.sec@example\.com must confirm it with Reviewed\.$/,
      );
      expect(hasReviewButton(notice)).toBe(true);
    }
    expect(reviewNotice(messagesTo(h, ELI))).toBeUndefined();

    h.clock.advance(3_600_000);
    expect((await h.press(SASHA, notices[2]!, REVIEW_ACTION_ID)).body).toEqual({ outcome: 'recorded' });

    // Every notice now says who reviewed it, without the button.
    for (const notice of notices) {
      const now = h.sandbox.slack.messages().find((m) => m.ts === notice!.ts && m.channel === notice!.channel);
      expect(hasReviewButton(now)).toBe(false);
      expect(JSON.stringify(now!.blocks)).toContain(`Reviewed by ${SASHA} at `);
    }
    // The confirmation reaches the issue with the next evidence flush (Slack's 3 seconds are not spent on Jira).
    h.clock.advance(11_000);
    await flushEvidence(h.runtime.deps);
    expect(h.sandbox.jira.commentTexts(issueKey, 'internal').at(-1)).toMatch(/^Grantline: break-glass reviewed by sasha\.sec@example\.com at \S+\n/);
    const { answers } = await auditOf(h, grantId);
    expect(answers.approvedBy).toEqual([expect.objectContaining({ by: `${ELI} (the requester, under break-glass)`, via: 'break-glass' })]);
    expect(answers.breakGlass).toMatchObject({ incident: 'INC-42', reviewers: [SAM, SASHA], review: 'confirmed', reviewedBy: SASHA, flagged: false });
  });

  it('a click by the requester, by someone outside on-call, or after a confirmation is refused, told why and recorded; nothing changes', async () => {
    h = await startHarness();
    const { grantId } = await breakGlass(h);
    await h.runtime.workflow.quiet(grantId);
    const channelNotice = reviewNotice(h.sandbox.slack.messagesIn(CHANNEL))!;

    expect((await h.press(ELI, channelNotice, REVIEW_ACTION_ID)).body).toEqual({ outcome: 'refused' });
    expect((await h.press(MALLORY, channelNotice, REVIEW_ACTION_ID)).body).toEqual({ outcome: 'refused' });
    expect((await h.press(SAM, channelNotice, REVIEW_ACTION_ID)).body).toEqual({ outcome: 'recorded' });
    expect((await h.press(SASHA, channelNotice, REVIEW_ACTION_ID)).body).toEqual({ outcome: 'already_settled' });

    expect(messagesTo(h, ELI).at(-1)?.text).toBe('Your review was not recorded: you cannot review a break-glass you used or asked for.');
    expect(messagesTo(h, MALLORY).map((m) => m.text)).toEqual([`Your review was not recorded: only ${SAM}, ${SASHA} can review this break-glass.`]);
    expect(messagesTo(h, SASHA).at(-1)?.text).toMatch(/^Your review was not recorded: this break-glass was already reviewed by sam\.sec@example\.com at /);
    const events = await h.runtime.deps.store.evidence(grantId);
    expect(events.filter((e) => e.type === 'break_glass_review_refused').map((e) => e.actor)).toEqual([ELI, MALLORY, SASHA]);
    expect(events.filter((e) => e.type === 'break_glass_reviewed').map((e) => e.actor)).toEqual([SAM]);
    expect(h.sandbox.okta.members(GROUP)).toContain(ELI);
  });

  it('not confirmed in time: flagged on the issue and in the audit, the notices say so; the access runs its course', async () => {
    h = await startHarness({ catalog: catalogWith('PT1S') });
    const { issueKey, grantId } = await breakGlass(h);

    await finished(h, grantId);

    expect(h.sandbox.jira.commentTexts(issueKey, 'internal').at(-1)).toMatch(
      /^Grantline: FLAGGED: break-glass not reviewed within 1 second: nobody confirmed incident INC-42 by \S+\n(.|\n)*On unreviewed: flag: kept in the audit as not reviewed/,
    );
    expect(h.sandbox.okta.members(GROUP)).toContain(ELI);
    const notice = reviewNotice(messagesTo(h, SAM))!;
    expect(hasReviewButton(notice)).toBe(false);
    expect(JSON.stringify(notice.blocks)).toMatch(/Not reviewed by .* UTC: flagged on ACC-1\./);
    expect((await auditOf(h, grantId)).answers.breakGlass).toMatchObject({ review: 'not reviewed', flagged: true, onUnreviewed: 'flag' });
    // What `grantline grants --user` reads.
    const listed = await h.client.audit(`/grants?user=${encodeURIComponent(ELI)}`);
    expect((listed.body.grants as GrantRecord[]).map((r) => r.answers.breakGlass?.flagged)).toEqual([true]);
  });

  it('not confirmed in time with onUnreviewed: revoke: flagged, removed from the group, and the requester is told why', async () => {
    h = await startHarness({ catalog: catalogWith('PT1S', 'revoke') });
    const { issueKey, grantId } = await breakGlass(h);

    await finished(h, grantId);

    expect(h.sandbox.okta.members(GROUP)).not.toContain(ELI);
    const internal = firstLines(h.sandbox.jira.commentTexts(issueKey, 'internal'));
    expect(internal.slice(-2)).toEqual([
      expect.stringMatching(
        /^Grantline: FLAGGED: break-glass not reviewed within 1 second: nobody confirmed incident INC-42 by \S+; the access is revoked now$/,
      ),
      `Grantline: removed ${ELI} from okta group ${GROUP} (break-glass not reviewed in time)`,
    ]);
    expect(firstLines(h.sandbox.jira.publicCommentTexts(issueKey)).at(-1)).toBe(
      'Your access has ended: nobody confirmed the break-glass use in time, so it ended now.',
    );
    expect(await h.runtime.deps.store.getSchedule(`revoke-${grantId}`)).toBeUndefined();
    expect((await auditOf(h, grantId)).answers).toMatchObject({ revoked: { reason: 'unreviewed_break_glass' }, breakGlass: { flagged: true } });
  });
});

describe('break-glass refused at intake', () => {
  it('without an incident reference: 422, the requester is told what to fix, the ledger records the attempt, nothing is granted', async () => {
    h = await startHarness();
    const { status, body, issueKey, grantId } = await breakGlass(h, { incident: '' });

    expect(status).toBe(422);
    expect(JSON.stringify(body)).toContain('a break-glass request must name its incident (a reference matching ^INC-\\\\d+$)');
    expect(h.sandbox.jira.publicCommentTexts(issueKey)).toEqual([
      expect.stringMatching(
        /^Grantline could not accept this access request\n- Problem 1: incident \(Jira field customfield_10077\) is missing: a break-glass request must name its incident/,
      ),
    ]);
    expect(firstLines(h.sandbox.jira.commentTexts(issueKey, 'internal'))).toEqual([
      expect.stringMatching(/^Grantline: refused a break-glass request by eli\.engineer@example\.com: incident \(Jira field customfield_10077\) is missing/),
    ]);
    expect((await h.runtime.deps.store.evidence(grantId)).map((e) => [e.type, e.actor])).toEqual([['break_glass_refused', ELI]]);
    expect(await h.runtime.deps.store.getGrant(grantId)).toBeUndefined();
    expect(h.sandbox.okta.members(GROUP)).not.toContain(ELI);
    expect(h.sandbox.slack.messages().filter((m) => m.text.startsWith('Break-glass'))).toEqual([]);
  });

  it('a reference that does not match the pattern, and a role that does not allow break-glass, are refused with what to do instead', async () => {
    h = await startHarness();
    const malformed = await breakGlass(h, { incident: 'the db outage' });
    const wrongRole = await breakGlass(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });

    expect([malformed.status, wrongRole.status]).toEqual([422, 422]);
    await eventually(() => {
      expect(h!.sandbox.jira.publicCommentTexts(malformed.issueKey).join('\n')).toContain(
        'incident (Jira field customfield_10077) "the db outage" is not an incident reference: it must match ^INC-\\d+$',
      );
      expect(h!.sandbox.jira.publicCommentTexts(wrongRole.issueKey).join('\n')).toContain(
        'Figma editor does not allow break-glass: ask for it without break-glass (it is approved as usual), or choose a role that allows it (Internal admin console break-glass)',
      );
    });
    expect(h.sandbox.okta.members('00gfigmaeditor')).not.toContain(ELI);
  });

  it('the same role without the break-glass box goes through security on-call as usual', async () => {
    h = await startHarness();
    const filed = await h.client.fileRequest({
      reporter: ELI,
      subject: ELI,
      app: 'Internal admin console',
      role: 'break-glass',
      duration: 'PT1H',
      justification: 'planned maintenance',
    });
    const grantId = String(filed.body.grantId);
    const run = await h.runtime.workflow.quiet(grantId);

    expect(run.waitingForApproval).toBe(true);
    expect(h.sandbox.okta.members(GROUP)).not.toContain(ELI);
    await h.click(SAM, grantId, 0, 'approve');
    expect((await finished(h, grantId)).states).not.toContain('OpenReview');
    expect(h.sandbox.okta.members(GROUP)).toContain(ELI);
  });
});

describe('break-glass across a restart of the local runtime', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('the open review is re-driven from the ledger: the wait resumes, nobody is told twice, and a review whose access has ended is still awaited', async () => {
    const { catalog, sandbox, env } = await restartableWorld(cleanups);
    const form = { reporter: ELI, subject: ELI, app: 'Internal admin console', role: 'break-glass', duration: 'PT1H', breakGlass: 'Break-glass' };

    const before = await startLocalRuntime({ env, logger: silentLogger, catalog, tickMs: false });
    const client = new SandboxClient(sandbox, before.url, env);
    const active = String((await client.fileRequest({ ...form, justification: 'failover', incident: 'INC-1' })).body.grantId);
    const ended = String((await client.fileRequest({ ...form, justification: 'failover', incident: 'INC-2' })).body.grantId);
    await before.workflow.quiet(active);
    await before.workflow.quiet(ended);
    // The second one's access ends (released early) before the restart; its review stays open.
    await tasks.Revoke(before.deps, { grantId: ended, reason: 'early_release', actor: ELI });
    await before.close();
    const noticesBefore = sandbox.slack.messages().filter((m) => m.text.startsWith('Break-glass: ')).length;

    const after = await startLocalRuntime({ env, logger: silentLogger, catalog, tickMs: false });
    cleanups.unshift(() => after.close());
    expect((await after.redrive()).sort()).toEqual([active, ended].sort());
    const [resumed, stillAwaited] = [await after.workflow.quiet(active), await after.workflow.quiet(ended)];

    expect(resumed).toMatchObject({ waitingForReview: true, states: ['Advance', 'Route', 'Provision', 'NeedsRevocation', 'OpenReview', 'AwaitReview'] });
    expect(stillAwaited).toMatchObject({ waitingForReview: true, states: ['Advance', 'Route', 'OpenReview', 'AwaitReview'] });
    expect(sandbox.slack.messages().filter((m) => m.text.startsWith('Break-glass: '))).toHaveLength(noticesBefore);
    const notice = reviewNotice(sandbox.slack.messagesIn(CHANNEL).filter((m) => m.text.includes('INC-2')))!;
    expect((await new SandboxClient(sandbox, after.url, env).press(SAM, notice, REVIEW_ACTION_ID)).body).toEqual({ outcome: 'recorded' });
  });
});
