/**
 * Early release from Slack ("I'm done"): the person who holds the access ends it from the "Access
 * granted" message. What people see: the button on their message (and on nobody else's), the Okta
 * group, the schedule, the Jira evidence and notice, the message after the click, and what a
 * refused or repeated click is told.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeSlackMessage } from '../../infra/local/sandbox/slack.js';
import { RELEASE_ACTION_ID } from '../../shared/ports.js';
import { startHarness, type Harness } from '../support/harness.js';
import { finished } from '../support/wait.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const ELI = 'eli.engineer@example.com';
const MARIA = 'maria.manager@example.com';
const NINA = 'nina.newhire@example.com';
const MALLORY = 'mallory.intruder@example.com';
const GROUP = '00gfigmaeditor';

const slackId = (harness: Harness, email: string) => harness.sandbox.slack.users().find((u) => u.email === email)!.id;
const messagesTo = (harness: Harness, email: string) => harness.sandbox.slack.messagesTo(slackId(harness, email));
const grantedMessage = (harness: Harness, email: string) => messagesTo(harness, email).find((m) => m.text.startsWith('Access granted:'));
const hasReleaseButton = (m: FakeSlackMessage | undefined) => JSON.stringify(m?.blocks ?? []).includes(`"action_id":"${RELEASE_ACTION_ID}"`);

/** Eli asks in Jira for Figma editor for 24 hours; Maria, his manager, approves in Slack. */
async function grantedForADay(harness: Harness, opts: { subject?: string; app?: string; role?: string; duration?: string } = {}) {
  const filed = await harness.client.fileRequest({
    reporter: ELI,
    subject: opts.subject ?? ELI,
    app: opts.app ?? 'Figma',
    role: opts.role ?? 'editor',
    duration: opts.duration ?? 'PT24H',
    justification: 'design sprint',
  });
  const grantId = String(filed.body.grantId);
  await harness.runtime.workflow.quiet(grantId);
  await harness.click(MARIA, grantId, 0, 'approve');
  await finished(harness, grantId);
  return { grantId, issueKey: filed.issueKey };
}

describe('"I\'m done" in Slack', () => {
  it('a release whose job was lost with its process (handed over, never run) is run by the next start, once', async () => {
    h = await startHarness();
    const { grantId } = await grantedForADay(h);
    const jobs = h.runtime.deps.jobs;
    h.runtime.deps.jobs = { ...jobs, fileRequest: (job) => jobs.fileRequest(job), offboard: (job) => jobs.offboard(job), release: async () => undefined }; // the process died here
    expect((await h.press(ELI, grantedMessage(h, ELI)!, RELEASE_ACTION_ID)).body).toEqual({ outcome: 'accepted' });
    h.runtime.deps.jobs = jobs;
    expect(h.sandbox.okta.members(GROUP)).toContain(ELI);

    expect(await h.runtime.resumeJobs()).toEqual([`slack-release:${grantId}`]);
    await h.runtime.jobs.idle();
    expect(await h.runtime.resumeJobs()).toEqual([]);

    expect(h.sandbox.okta.members(GROUP)).not.toContain(ELI);
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'revoked', revokeReason: 'early_release' });
  });

  it('the person who holds the access ends it: out of the group, schedule deleted, Jira says who released it, the message loses its button', async () => {
    h = await startHarness();
    const { grantId, issueKey } = await grantedForADay(h);
    const message = grantedMessage(h, ELI);
    expect(h.sandbox.okta.members(GROUP)).toContain(ELI);
    expect(await h.runtime.deps.store.getSchedule(`revoke-${grantId}`)).toBeDefined();
    expect(hasReleaseButton(message)).toBe(true);

    const res = await h.press(ELI, message!, RELEASE_ACTION_ID);
    await h.runtime.jobs.idle();

    expect(res).toEqual({ status: 200, body: { outcome: 'accepted' } });
    expect(h.sandbox.okta.members(GROUP)).not.toContain(ELI);
    expect(await h.runtime.deps.store.getSchedule(`revoke-${grantId}`)).toBeUndefined();
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'revoked', revokeReason: 'early_release' });
    const internal = h.sandbox.jira.commentTexts(issueKey, 'internal');
    expect(internal.at(-2)).toMatch(/^Grantline: eli\.engineer@example\.com ended the access early in Slack \("I'm done"\); Grantline removes it now\n/);
    expect(internal.at(-1)).toMatch(
      /^Grantline: removed eli\.engineer@example\.com from okta group 00gfigmaeditor \(released early by eli\.engineer@example\.com\)\n(.|\n)*Reason: early release/,
    );
    expect(h.sandbox.jira.publicCommentTexts(issueKey).at(-1)).toMatch(/^Your access has ended: it was released early\./);
    const after = h.sandbox.slack.messages().find((m) => m.ts === message!.ts && m.channel === message!.channel);
    expect(hasReleaseButton(after)).toBe(false);
    expect(JSON.stringify(after!.blocks)).toContain('Released early by eli.engineer@example.com at ');
    expect(after!.text).toMatch(/^Access granted: eli\.engineer@example\.com now has Figma editor until \S+ \(ACC-1\)\. Released early by /);
  });

  it('a click by anyone else is refused: they are told why, the ledger records it, and nothing changes', async () => {
    h = await startHarness();
    const { grantId, issueKey } = await grantedForADay(h);
    const message = grantedMessage(h, ELI)!;
    const commentsBefore = h.sandbox.jira.commentTexts(issueKey);

    const res = await h.press(MALLORY, message, RELEASE_ACTION_ID);
    await h.runtime.jobs.idle();

    expect(res).toEqual({ status: 200, body: { outcome: 'refused' } });
    expect(messagesTo(h, MALLORY).map((m) => m.text)).toEqual([
      'Grantline did not end this access: only eli.engineer@example.com, whose access it is, can end it early.',
    ]);
    expect(h.sandbox.okta.members(GROUP)).toContain(ELI);
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'active' });
    expect(await h.runtime.deps.store.getSchedule(`revoke-${grantId}`)).toBeDefined();
    expect(hasReleaseButton(h.sandbox.slack.messages().find((m) => m.ts === message.ts && m.channel === message.channel))).toBe(true);
    const refused = (await h.runtime.deps.store.evidence(grantId)).filter((e) => e.type === 'release_refused');
    expect(refused).toEqual([
      expect.objectContaining({
        actor: MALLORY,
        via: 'slack',
        summary: `refused an early release ("I'm done") by ${MALLORY}: only ${ELI}, whose access it is, can end it early`,
      }),
    ]);
    expect(h.sandbox.jira.commentTexts(issueKey)).toEqual(commentsBefore);

    // The holder can still end it.
    expect((await h.press(ELI, message, RELEASE_ACTION_ID)).body.outcome).toBe('accepted');
  });

  it('a second click (a double click, a replayed payload) releases once; a click after the access ended says so and changes nothing', async () => {
    h = await startHarness();
    const { grantId, issueKey } = await grantedForADay(h);
    const message = grantedMessage(h, ELI)!; // as shown before the first click, button included

    const [first, second] = await Promise.all([h.press(ELI, message, RELEASE_ACTION_ID), h.press(ELI, message, RELEASE_ACTION_ID)]);
    await h.runtime.jobs.idle();
    const later = await h.press(ELI, message, RELEASE_ACTION_ID);
    await h.runtime.jobs.idle();

    // One is accepted; the other finds the release under way (or, if the job was quicker, already done).
    const outcomes = [first.body.outcome, second.body.outcome];
    expect(outcomes.filter((o) => o === 'accepted')).toHaveLength(1);
    expect(outcomes.find((o) => o !== 'accepted')).toMatch(/^(under_way|already_ended)$/);
    expect(later.body.outcome).toBe('already_ended');
    const events = await h.runtime.deps.store.evidence(grantId);
    expect(events.filter((e) => e.type === 'release_requested')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'revoked')).toHaveLength(1);
    expect(h.sandbox.jira.commentTexts(issueKey).filter((c) => c.startsWith('Grantline: removed eli.engineer'))).toHaveLength(1);
    const told = messagesTo(h, ELI)
      .map((m) => m.text)
      .filter((t) => t.startsWith('Nothing to do'));
    expect(told).toHaveLength(2);
    expect(told[0]).toMatch(/^Nothing to do: this access (is already being released|already ended at .*)\.$/);
    expect(told[1]).toMatch(/^Nothing to do: this access already ended at \S+ \S+ UTC \(early release\)\.$/);
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'revoked', revokeReason: 'early_release' });
  });

  it('a click after the access expired says so, and the message loses its button', async () => {
    h = await startHarness();
    const { grantId } = await grantedForADay(h);
    const message = grantedMessage(h, ELI)!;
    h.clock.advance(25 * 3_600_000);
    expect(await h.runtime.scheduler.tick()).toBe(1);

    const res = await h.press(ELI, message, RELEASE_ACTION_ID);

    expect(res.body.outcome).toBe('already_ended');
    expect(messagesTo(h, ELI).at(-1)?.text).toMatch(/^Nothing to do: this access already ended at .* \(expired\)\.$/);
    const after = h.sandbox.slack.messages().find((m) => m.ts === message.ts && m.channel === message.channel);
    expect(hasReleaseButton(after)).toBe(false);
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'revoked', revokeReason: 'expired' });
    expect((await h.runtime.deps.store.evidence(grantId)).filter((e) => e.type.startsWith('release_'))).toEqual([]);
  });
});

describe('who is offered "I\'m done"', () => {
  it('the person the access is for, not the requester who asked for them nor the approver; and the requester may end it too', async () => {
    h = await startHarness();
    const { grantId } = await grantedForADay(h, { subject: NINA });

    expect(hasReleaseButton(grantedMessage(h, NINA))).toBe(true);
    expect(grantedMessage(h, ELI)).toBeDefined();
    expect(hasReleaseButton(grantedMessage(h, ELI))).toBe(false);
    expect(messagesTo(h, MARIA).filter((m) => m.text.startsWith('Access granted:'))).toHaveLength(1);
    expect(messagesTo(h, MARIA).some((m) => hasReleaseButton(m))).toBe(false);

    // The requester ends what they asked for (a manager for a new hire): accepted, and the evidence names them.
    const res = await h.press(ELI, grantedMessage(h, NINA)!, RELEASE_ACTION_ID);
    await h.runtime.jobs.idle();
    expect(res.body.outcome).toBe('accepted');
    expect(h.sandbox.okta.members(GROUP)).not.toContain(NINA);
    expect((await h.runtime.deps.store.evidence(grantId)).find((e) => e.type === 'release_requested')?.details['Released by']).toBe(
      `${ELI} (who asked for it)`,
    );
  });

  it('no button where Grantline cannot end the access itself: a membership from outside Grantline, a manual app', async () => {
    h = await startHarness();
    h.sandbox.okta.addMembership(GROUP, ELI); // added by hand in Okta before the request
    await grantedForADay(h);
    expect(grantedMessage(h, ELI)).toBeDefined();
    expect(hasReleaseButton(grantedMessage(h, ELI))).toBe(false);

    const manual = await h.client.fileRequest({ reporter: ELI, subject: ELI, app: 'Legacy ERP', role: 'clerk', duration: 'P30D', justification: 'month end' });
    const grantId = String(manual.body.grantId);
    await h.runtime.workflow.quiet(grantId);
    await h.click('erin.erp@example.com', grantId, 0, 'approve');
    await finished(h, grantId);
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'active', manual: true });
    expect(messagesTo(h, ELI).some((m) => hasReleaseButton(m))).toBe(false);
  });

  it('the Slack message keeps its text for a requester filing in Slack for themselves, in the thread of "Filed …", with the button', async () => {
    h = await startHarness();
    const now = () => Math.floor(h!.clock.now().getTime() / 1000);
    const { viewId } = await h.client.slashAccess(ELI, 'figma editor', { timestamp: now() });
    for (const [field, value] of [
      ['duration', 'PT24H'],
      ['justification', 'Design sprint'],
    ] as const) {
      await h.client.fillForm(viewId!, field, value);
    }
    await h.client.submitForm(viewId!, { timestamp: now() });
    await h.runtime.jobs.idle();
    await h.runtime.workflow.quiet('grant-ACC-1');
    await h.click(MARIA, 'grant-ACC-1', 0, 'approve');
    await finished(h, 'grant-ACC-1');

    const [filed] = messagesTo(h, ELI);
    const granted = grantedMessage(h, ELI);
    expect(granted).toMatchObject({ threadTs: filed!.ts });
    expect(granted!.text).toMatch(/^Access granted: eli\.engineer@example\.com now has Figma editor until \S+ \(ACC-1\)\.$/);
    expect(hasReleaseButton(granted)).toBe(true);
  });
});
