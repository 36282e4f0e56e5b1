/**
 * Offboarding and ending sessions end to end on the local runtime (the real adapters against the
 * sandbox's Jira, Slack, Okta, Entra and Google): a Jira offboarding issue ends every active grant of
 * the person through the revoke path, ends their sessions at every identity provider, and writes one
 * summary; replayed, it changes nothing. A role with `endSessions: true` ends the sessions when it expires.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, testCatalog, type Harness } from '../support/harness.js';
import { eventually, finished } from '../support/wait.js';

const ELI = 'eli.engineer@example.com';
const HR = 'maria.manager@example.com';
const ERIN = 'erin.erp@example.com';
const GITHUB_GROUP = '3f2a6c1e-8b4d-4e7a-9c1f-2d5e8a7b6c40';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Eli files a request for himself and the workflow finishes (auto-approved, or approved by `approver`). */
async function granted(harness: Harness, app: string, role: string, duration: string, approver?: string): Promise<{ grantId: string; issueKey: string }> {
  const filed = await harness.client.fileRequest({ reporter: ELI, subject: ELI, app, role, duration, justification: 'work' });
  expect(filed.status).toBe(202);
  const grantId = String(filed.body.grantId);
  if (approver) {
    await eventually(async () => expect((await harness.runtime.deps.store.getApproval(grantId, 0))?.messages.length).toBeGreaterThan(0));
    await harness.click(approver, grantId, 0, 'approve');
  }
  await finished(harness, grantId);
  expect((await harness.runtime.deps.store.getGrant(grantId))?.status).toBe('active');
  return { grantId, issueKey: filed.issueKey };
}

describe('offboarding from a Jira issue', () => {
  it("ends every active grant of the person (Okta, Entra, Google, a manual app's task), their sessions everywhere, one summary; a replay changes nothing", async () => {
    h = await startHarness();
    const notion = await granted(h, 'Notion', 'member', 'permanent');
    const figma = await granted(h, 'Figma', 'viewer', 'permanent');
    const salesforce = await granted(h, 'Salesforce', 'read-only', 'P90D', HR);
    const github = await granted(h, 'GitHub Enterprise', 'maintainer', 'P30D', HR);
    const looker = await granted(h, 'Looker', 'viewer', 'P90D');
    const erp = await granted(h, 'Legacy ERP', 'clerk', 'P30D', ERIN);
    expect(h.sandbox.okta.members('00gnotionmember')).toContain(ELI);
    expect(h.sandbox.google.members('looker-viewers@example.com')).toContain(ELI);
    expect(h.sandbox.graph.members(GITHUB_GROUP)).toContain(ELI);

    const offboarding = await h.client.fileOffboarding(HR, ELI);
    expect(offboarding.status).toBe(202);
    expect(offboarding.body).toEqual({ offboarding: ELI, issueKey: offboarding.issueKey });
    await h.runtime.jobs.idle();

    // Each grant ended through the revoke path, with its evidence on its own issue.
    for (const { grantId } of [notion, figma, salesforce, github, looker, erp])
      expect(await h.runtime.deps.store.getGrant(grantId)).toMatchObject({ status: 'revoked', revokeReason: 'offboarding' });
    for (const group of ['00gnotionmember', '00gfigmaviewer', '00gsfreadonly']) expect(h.sandbox.okta.members(group)).not.toContain(ELI);
    expect(h.sandbox.graph.members(GITHUB_GROUP)).not.toContain(ELI);
    expect(h.sandbox.google.members('looker-viewers@example.com')).not.toContain(ELI);
    await eventually(() => {
      expect(h!.sandbox.jira.commentTexts(notion.issueKey, 'internal').join('\n')).toContain(`removed ${ELI} from okta group 00gnotionmember (offboarding)`);
      expect(h!.sandbox.jira.commentTexts(erp.issueKey, 'internal').join('\n')).toContain(`manual removal task for ${ERIN}`);
    });
    // Sessions ended at every provider the catalog uses, once each.
    expect(h.sandbox.okta.sessionsEnded(ELI)).toHaveLength(1);
    expect(h.sandbox.graph.sessionsEnded(ELI)).toHaveLength(1);
    expect(h.sandbox.google.sessionsEnded(ELI)).toHaveLength(1);

    // One summary on the offboarding issue, for the agents, and a notice for whoever filed it.
    const summary = await eventually(() => {
      const found = h!.sandbox.jira.commentTexts(offboarding.issueKey, 'internal');
      expect(found).toHaveLength(1);
      return found[0]!;
    });
    expect(summary.split('\n')[0]).toBe(`Grantline: offboarded ${ELI}: 6 grants ended, sessions ended at okta, entra, google`);
    expect(summary).toContain('Legacy ERP clerk');
    expect(summary).toContain("owner's removal task");
    expect(h.sandbox.jira.publicCommentTexts(offboarding.issueKey)[0]).toContain(`Offboarding done for ${ELI}`);

    // Jira delivers the webhook again: nothing is handed over twice.
    expect((await h.client.sendOffboarding(offboarding.issueKey, HR)).body).toMatchObject({ duplicate: true });
    await h.runtime.jobs.idle();
    expect(h.sandbox.okta.sessionsEnded(ELI)).toHaveLength(1);
    // POST /offboard for the same issue (an operator after the alarm): nothing active is left, the summary is not posted again.
    const again = await h.client.post('/offboard', JSON.stringify({ email: ELI, issueKey: offboarding.issueKey }), {
      'content-type': 'application/json',
      authorization: `Bearer ${h.runtime.config.GRANTLINE_AUDIT_TOKEN}`,
    });
    expect(again.status).toBe(200);
    expect(again.body.grants).toEqual([]);
    expect(h.sandbox.jira.commentTexts(offboarding.issueKey, 'internal')).toHaveLength(1);
  });

  it('an offboarding issue without an email in the person field is refused with a comment; nothing changes', async () => {
    h = await startHarness();
    const notion = await granted(h, 'Notion', 'member', 'permanent');
    const refused = await h.client.fileOffboarding(HR, 'Eli from platform');
    expect(refused.status).toBe(422);
    expect(h.sandbox.jira.publicCommentTexts(refused.issueKey).join('\n')).toContain('the person leaving "Eli from platform"');
    await h.runtime.jobs.idle();
    expect((await h.runtime.deps.store.getGrant(notion.grantId))?.status).toBe('active');
    expect(h.sandbox.okta.sessionsEnded(ELI)).toEqual([]);
  });
});

describe('endSessions on a role', () => {
  it("ends the person's sessions when the access ends, and says so in the evidence", async () => {
    h = await startHarness({
      catalog: testCatalog((t) =>
        t.replace(
          '        durations: [P90D, permanent]\n        maxDuration: permanent\n      editor:',
          '        durations: [P90D, permanent]\n        maxDuration: permanent\n        endSessions: true\n      editor:',
        ),
      ),
    });
    const looker = await granted(h, 'Looker', 'viewer', 'P90D');
    const revoked = await h.client.post(`/grants/${looker.grantId}/revoke`, JSON.stringify({ reason: 'access_review', by: HR }), {
      'content-type': 'application/json',
      authorization: `Bearer ${h.runtime.config.GRANTLINE_AUDIT_TOKEN}`,
    });
    expect(revoked.body).toMatchObject({ outcome: 'removed' });
    expect(h.sandbox.google.sessionsEnded(ELI)).toHaveLength(1);
    expect(h.sandbox.okta.sessionsEnded(ELI)).toEqual([]);
    const ended = (await h.runtime.deps.store.evidence(looker.grantId)).find((e) => e.type === 'revoked');
    expect(ended?.details.Sessions).toBe('ended in google');
  });
});
