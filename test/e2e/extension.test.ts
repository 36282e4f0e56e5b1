/**
 * Extending active time-bound access (shared/extension.ts) on the local runtime: the request goes
 * through the role's approval again (a Slack click), and on approval the grant's one schedule moves;
 * the person stays in the group across the old expiry (no gap) and leaves at the new one. What people
 * see: the Okta group, the schedule, the Jira issue's comments and status, the HTTP answers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EXTEND_ACTION_ID } from '../../shared/ports.js';
import { tasks } from '../../shared/tasks.js';
import { startHarness, testCatalog, type Harness } from '../support/harness.js';
import { finished } from '../support/wait.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const ELI = 'eli.engineer@example.com';
const MARIA = 'maria.manager@example.com';
const GROUP = '00gfigmaeditor';
const HOUR = 3_600_000;

/** Figma editor, which may last two days in all counting extensions. */
const catalog = () =>
  testCatalog((t) =>
    t.replace(
      'durations: [PT24H, P30D, permanent]\n        maxDuration: permanent',
      'durations: [PT24H, P30D, permanent]\n        maxDuration: permanent\n        maxTotal: P2D',
    ),
  );

/** Eli asks for Figma editor for 24 hours; Maria, his manager, approves in Slack. */
async function grantedForADay(harness: Harness) {
  const filed = await harness.client.fileRequest({
    reporter: ELI,
    subject: ELI,
    app: 'Figma',
    role: 'editor',
    duration: 'PT24H',
    justification: 'design sprint',
  });
  const grantId = String(filed.body.grantId);
  await harness.runtime.workflow.quiet(grantId);
  await harness.click(MARIA, grantId, 0, 'approve');
  await finished(harness, grantId);
  const grant = (await harness.runtime.deps.store.getGrant(grantId))!;
  return { grantId, issueKey: filed.issueKey, expiresAt: grant.expiresAt! };
}

async function extend(harness: Harness, grantId: string, body: Record<string, unknown>) {
  return harness.client.post(`/grants/${grantId}/extend`, JSON.stringify(body), {
    'content-type': 'application/json',
    authorization: `Bearer ${harness.runtime.config.GRANTLINE_AUDIT_TOKEN}`,
  });
}

describe('extending access', () => {
  it('approved: the expiry and the one schedule move, the person stays in the group past the old end, and leaves at the new one', async () => {
    h = await startHarness({ catalog: catalog() });
    const { grantId, issueKey, expiresAt } = await grantedForADay(h);
    const until = new Date(new Date(expiresAt).getTime() + 24 * HOUR).toISOString();

    const asked = await extend(h, grantId, { by: 'PT24H', requester: ELI, reason: 'sprint runs over' });
    expect(asked).toEqual({ status: 202, body: { outcome: 'requested', extensionId: `${grantId}-ext1`, until } });
    await h.runtime.workflow.quiet(`${grantId}-ext1`);
    await h.click(MARIA, `${grantId}-ext1`, 0, 'approve');
    await finished(h, `${grantId}-ext1`);

    // The extension's own execution of the state machine: the role's approval, then Provision moves the end; no schedule of its own.
    expect(h.runtime.workflow.execution(`${grantId}-ext1`)?.states).toEqual([
      'Advance',
      'Route',
      'RequestApproval',
      'Advance',
      'Route',
      'Provision',
      'NeedsRevocation',
      'Granted',
    ]);
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'active', expiresAt: until });
    expect(await h.runtime.deps.store.getSchedule(`revoke-${grantId}`)).toMatchObject({ at: until });
    expect(await h.runtime.deps.store.getGrant(`${grantId}-ext1`)).toMatchObject({ status: 'extended', decidedBy: MARIA });
    const comments = h.sandbox.jira.commentTexts(issueKey, 'internal').join('\n');
    expect(comments).toContain(`${ELI} asked to extend the access by 1 day, until ${until}`);
    expect(comments).toContain(`extended until ${until} (1 day more, asked by ${ELI}, approved by ${MARIA}); the revocation schedule moved with it`);
    expect(h.sandbox.jira.issue(issueKey)?.status).toBe('Access granted');
    expect(h.sandbox.okta.fake.requests.filter((r) => r.method === 'PUT' && r.path.includes(GROUP))).toHaveLength(1); // added once, never again

    h.clock.set(new Date(new Date(expiresAt).getTime() + 60_000)); // the old end passes: nothing happens
    await h.runtime.scheduler.tick();
    expect(h.sandbox.okta.members(GROUP)).toContain(ELI);
    h.clock.set(new Date(new Date(until).getTime() + 60_000));
    await h.runtime.scheduler.tick();
    expect(h.sandbox.okta.members(GROUP)).not.toContain(ELI);
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'revoked', revokeReason: 'expired', scheduledRevocationAt: until });
  });

  it('the notice before the end offers "Extend" once; a click asks, the approver approves, and the new end gets its own notice', async () => {
    h = await startHarness({ catalog: catalog() });
    const { grantId, expiresAt } = await grantedForADay(h);
    const eli = h.sandbox.slack.users().find((u) => u.email === ELI)!.id;
    const notices = () => h!.sandbox.slack.messagesTo(eli).filter((m) => m.text.startsWith('Your access to Figma editor'));

    h.clock.set(new Date(new Date(expiresAt).getTime() - 30 * 60_000));
    await h.runtime.scheduler.tick();
    await h.runtime.scheduler.tick();
    expect(notices().map((m) => m.text)).toEqual([
      `Your access to Figma editor (ACC-1) ends at ${expiresAt}. Need more time? Ask to extend it by 1 day: it goes to the approvers again.`,
    ]);

    expect((await h.press(ELI, notices()[0]!, EXTEND_ACTION_ID)).body).toEqual({ outcome: 'requested' });
    expect(h.sandbox.slack.messagesTo(eli).at(-1)?.text).toMatch(/^Extension asked: until .* if approved\. Your current access continues meanwhile\.$/);
    await h.runtime.workflow.quiet(`${grantId}-ext1`);
    await h.click(MARIA, `${grantId}-ext1`, 0, 'approve');
    await finished(h, `${grantId}-ext1`);
    const until = (await h.runtime.deps.store.getGrant(grantId))!.expiresAt!;
    expect(until).toBe(new Date(new Date(expiresAt).getTime() + 24 * HOUR).toISOString());

    // The role allows two days in all: the notice before the new end offers no more.
    h.clock.set(new Date(new Date(until).getTime() - 30 * 60_000));
    await h.runtime.scheduler.tick();
    expect(notices().at(-1)?.text).toBe(`Your access to Figma editor (ACC-1) ends at ${until}. It cannot be extended further (the role allows no more).`);
    expect(JSON.stringify(notices().at(-1)?.blocks ?? [])).not.toContain(EXTEND_ACTION_ID);
  });

  it('denied: the access keeps its end and the issue its status', async () => {
    h = await startHarness({ catalog: catalog() });
    const { grantId, issueKey, expiresAt } = await grantedForADay(h);
    await extend(h, grantId, { by: 'PT24H', requester: ELI });
    await h.runtime.workflow.quiet(`${grantId}-ext1`);
    await h.click(MARIA, `${grantId}-ext1`, 0, 'deny');
    await finished(h, `${grantId}-ext1`);

    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'active', expiresAt });
    expect(await h.runtime.deps.store.getSchedule(`revoke-${grantId}`)).toMatchObject({ at: expiresAt });
    expect(h.sandbox.jira.issue(issueKey)?.status).toBe('Access granted');
    expect(h.sandbox.jira.commentTexts(issueKey, 'internal').join('\n')).toContain(`denied by ${MARIA} in Slack`);
  });

  it('refused with the reason, on the issue, changing nothing: past the maximum, by someone else, while one waits', async () => {
    h = await startHarness({ catalog: catalog() });
    const { grantId, issueKey, expiresAt } = await grantedForADay(h);

    const tooLong = await extend(h, grantId, { by: 'PT25H', requester: ELI });
    expect(tooLong.status).toBe(422);
    expect(String(tooLong.body.reason)).toMatch(/^it would end at .*, past the maximum P2D \(2 days\) counted from the start/);
    const stranger = await extend(h, grantId, { by: 'PT1H', requester: 'mallory.intruder@example.com' });
    expect(stranger.body).toEqual({ outcome: 'refused', reason: `only ${ELI}, whose access it is, can ask to extend it` });
    expect((await extend(h, grantId, { by: 'PT1H', requester: ELI })).status).toBe(202);
    expect((await extend(h, grantId, { by: 'PT1H', requester: ELI })).body).toEqual({
      outcome: 'refused',
      reason: `an extension (${grantId}-ext1) is already waiting for approval`,
    });

    const refusals = (await h.runtime.deps.store.evidence(grantId)).filter((e) => e.type === 'extension_refused');
    expect(refusals.map((e) => e.actor)).toEqual([ELI, 'mallory.intruder@example.com', ELI]);
    expect(h.sandbox.jira.commentTexts(issueKey, 'internal').join('\n')).toContain(
      'refused an extension by PT25H asked by eli.engineer@example.com: it would end at',
    );
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ expiresAt });
  });

  it('an extension approved after the access ended fails with that reason; the ended access stays ended', async () => {
    h = await startHarness({ catalog: catalog() });
    const { grantId, expiresAt } = await grantedForADay(h);
    await extend(h, grantId, { by: 'PT1H', requester: ELI });
    await h.runtime.workflow.quiet(`${grantId}-ext1`);
    h.clock.set(new Date(new Date(expiresAt).getTime() + 60_000));
    await h.runtime.scheduler.tick(); // the schedule fires before anyone decides

    await h.click(MARIA, `${grantId}-ext1`, 0, 'approve');
    await finished(h, `${grantId}-ext1`);

    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'revoked', expiresAt });
    expect(await h.runtime.deps.store.getGrant(`${grantId}-ext1`)).toMatchObject({
      status: 'failed',
      failure: expect.stringContaining('the access ended before the extension was approved'),
    });
    expect(h.sandbox.okta.members(GROUP)).not.toContain(ELI);
  });

  it('a schedule that fires at the old time after an extension moved the expiry ends nothing', async () => {
    h = await startHarness({ catalog: catalog() });
    const { grantId, expiresAt } = await grantedForADay(h);
    await extend(h, grantId, { by: 'PT24H', requester: ELI });
    await h.runtime.workflow.quiet(`${grantId}-ext1`);
    await h.click(MARIA, `${grantId}-ext1`, 0, 'approve');
    await finished(h, `${grantId}-ext1`);

    // A firing made for the old expiry arrives late (EventBridge delivers at least once).
    h.clock.set(new Date(new Date(expiresAt).getTime() + 60_000));
    expect(await tasks.Revoke(h.runtime.deps, { grantId, reason: 'expired', expiry: expiresAt })).toEqual({ grantId, outcome: 'not_active' });
    expect(h.sandbox.okta.members(GROUP)).toContain(ELI);
    expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'active' });
  });
});
