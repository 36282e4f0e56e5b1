/**
 * A Jira Service Management request as its requester sees it in the portal, and where the issue
 * ends, through the whole local flow (simulated Jira with stock JSM behaviour): the evidence is
 * internal, each outcome adds one public notice in plain words, and the transitions into resolved
 * statuses carry the Resolution their screen requires.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/logger.js';
import { tasks } from '../../shared/tasks.js';
import { startHarness, testCatalog, type Harness } from '../support/harness.js';
import { finished } from '../support/wait.js';

const MANAGER = 'maria.manager@example.com';
const ENGINEER = 'eli.engineer@example.com';
const ONCALL = ['sam.sec@example.com', 'sasha.sec@example.com'];

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function fileAndWait(harness: Harness, form: { app: string; role: string; duration: string }) {
  const filed = await harness.client.fileRequest({ reporter: ENGINEER, subject: ENGINEER, justification: 'incident', ...form });
  const grantId = String(filed.body.grantId);
  await harness.runtime.workflow.quiet(grantId);
  return { grantId, issueKey: filed.issueKey };
}

const firstLines = (texts: string[]) => texts.map((t) => t.split('\n')[0]);

describe('what the requester sees, and where the issue ends', () => {
  it('approved, granted, released early: a notice per outcome and never a group, an approver list or a refused click; the issue ends Done, resolved', async () => {
    h = await startHarness();
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });
    expect((await h.click('mallory.intruder@example.com', grantId, 0, 'approve')).body.outcome).toBe('refused');
    await h.click(MANAGER, grantId, 0, 'approve');
    await finished(h, grantId);
    expect(h.sandbox.jira.issue(issueKey)).toMatchObject({ status: 'Access granted', resolution: 'Done' });

    await tasks.Revoke(h.runtime.deps, { grantId, reason: 'early_release', actor: ENGINEER });

    expect(h.sandbox.jira.issue(issueKey)).toMatchObject({ status: 'Done', resolution: 'Done' });
    const customer = h.sandbox.jira.publicCommentTexts(issueKey);
    expect(firstLines(customer)).toEqual([
      'We have received your access request. Updates will appear here.',
      `Your request was approved by ${MANAGER}.`,
      expect.stringMatching(/^Access granted until \S+ \(UTC\)\.$/),
      'Your access has ended: it was released early.',
    ]);
    const seen = customer.join('\n');
    for (const hidden of ['00gfigmaeditor', 'okta', 'mallory', 'refused', 'approval asked', 'Approvers', 'Grantline:']) expect(seen).not.toContain(hidden);
    // The evidence is all there, for the agents.
    const agents = h.sandbox.jira.commentTexts(issueKey, 'internal').join('\n');
    expect(agents).toContain('refused a decision by mallory.intruder@example.com');
    expect(agents).toContain(`approval asked of ${MANAGER}`);
    expect(agents).toContain('removed eli.engineer@example.com from okta group 00gfigmaeditor (released early by eli.engineer@example.com)');
  });

  it('denied by the approver: the issue ends Declined with the denial resolution, and the requester is told who declined', async () => {
    h = await startHarness();
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });

    await h.click(MANAGER, grantId, 0, 'deny');
    await finished(h, grantId);

    expect(h.sandbox.jira.issue(issueKey)).toMatchObject({ status: 'Declined', resolution: "Won't Do" });
    expect(firstLines(h.sandbox.jira.publicCommentTexts(issueKey))).toEqual([
      'We have received your access request. Updates will appear here.',
      `Your request was declined by ${MANAGER}.`,
    ]);
  });

  it('nobody decided in time: Declined, resolved, and the notice names no approver', async () => {
    h = await startHarness({ catalog: testCatalog((t) => t.replace('approvalTimeout: PT1H', 'approvalTimeout: PT1S')) });
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Internal admin console', role: 'break-glass', duration: 'PT1H' });
    await finished(h, grantId, 15_000);

    expect(h.sandbox.jira.issue(issueKey)).toMatchObject({ status: 'Declined', resolution: "Won't Do" });
    const customer = h.sandbox.jira.publicCommentTexts(issueKey);
    expect(firstLines(customer).at(-1)).toBe('Your request was declined: nobody decided in time. You can open a new request.');
    for (const approver of ONCALL) expect(customer.join('\n')).not.toContain(approver);
  });

  it('a resolution the site does not offer: the issue stays where it was, the event is listed as undeliverable, and the log says what to set', async () => {
    const errors: string[] = [];
    const logger = {
      ...silentLogger,
      error: (_message: string, ...extra: unknown[]) =>
        void errors.push(...extra.map((e) => (typeof e === 'object' && e !== null && 'error' in e ? String(e.error) : ''))),
    };
    h = await startHarness({ env: { JIRA_RESOLUTION_DENIED: 'Rejected' }, logger });
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });

    await h.click(MANAGER, grantId, 0, 'deny');
    await finished(h, grantId);

    expect(h.sandbox.jira.issue(issueKey)?.status).toBe('Waiting for approval');
    const refused = (await h.runtime.deps.store.deliveriesPage('UNDELIVERABLE', { limit: 10 })).items.map((d) => d.key);
    expect(refused).toEqual(['denied#0']);
    expect(errors).toContainEqual(
      expect.stringMatching(/^Jira's transition "Decline" \(to Declined\) offers no resolution "Rejected" .*set JIRA_RESOLUTION_DENIED to one of them/),
    );
  });
});
