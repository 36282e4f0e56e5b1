/**
 * Duplicates, races, lateness and downstream faults (RELIABILITY.md): nothing is lost, nothing is
 * granted twice, nothing is revoked that another grant still needs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/logger.js';
import { tasks } from '../../shared/tasks.js';
import { startLocalRuntime } from '../../infra/local/runtime.js';
import { SandboxClient } from '../../infra/local/sandbox/index.js';
import { startHarness, testCatalog, type Harness } from '../support/harness.js';
import { restartableWorld } from '../support/restartable.js';
import { eventually, finished } from '../support/wait.js';

const MANAGER = 'maria.manager@example.com';
const ENGINEER = 'eli.engineer@example.com';
const ONCALL = ['sam.sec@example.com', 'sasha.sec@example.com'];

let h: Harness | undefined;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function fileAndWait(harness: Harness, form: { app: string; role: string; duration: string; reporter?: string; subject?: string }) {
  const filed = await harness.client.fileRequest({ reporter: ENGINEER, subject: ENGINEER, justification: 'incident', ...form });
  const grantId = String(filed.body.grantId);
  await harness.runtime.workflow.quiet(grantId);
  return { grantId, issueKey: filed.issueKey };
}

describe('races', () => {
  it('Two approvers at once: one decision wins, the other is told it is already decided, one grant', async () => {
    h = await startHarness();
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Internal admin console', role: 'break-glass', duration: 'PT1H' });
    expect((await h.runtime.deps.store.getApproval(grantId, 0))?.approvers).toEqual(ONCALL);

    const [a, b] = await Promise.all([h.click(ONCALL[0]!, grantId, 0, 'approve'), h.click(ONCALL[1]!, grantId, 0, 'deny')]);
    await finished(h, grantId);

    expect([a.body.outcome, b.body.outcome].sort()).toEqual(['already_decided', 'recorded']);
    const approval = await h.runtime.deps.store.getApproval(grantId, 0);
    const winner = approval?.status === 'approved' ? ONCALL[0]! : ONCALL[1]!;
    expect(approval?.decidedBy).toBe(winner);
    const decisions = h.sandbox.jira.commentTexts(issueKey).filter((c) => /^Grantline: (approved|denied) by/.test(c));
    expect(decisions).toHaveLength(1);
    expect(h.sandbox.okta.fake.requests.filter((r) => r.method === 'PUT').length).toBeLessThanOrEqual(1);
    // Both approvers' messages show the one outcome.
    const loser = h.sandbox.slack.users().find((u) => u.email === (winner === ONCALL[0] ? ONCALL[1] : ONCALL[0]))!;
    expect(h.sandbox.slack.messagesTo(loser.id).some((m) => m.text.includes(`by ${winner}`))).toBe(true);
    // The late click is answered (the thread replies after it tell the access outcome).
    expect(h.sandbox.slack.messagesTo(loser.id).some((m) => !m.threadTs && /already (approved|denied) by/.test(m.text))).toBe(true);
  });

  it('Two clicks by the same approver: the second is told the request is already decided', async () => {
    h = await startHarness();
    const { grantId } = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });
    const first = await h.click(MANAGER, grantId, 0, 'approve');
    const second = await h.click(MANAGER, grantId, 0, 'deny');
    await finished(h, grantId);

    expect(first.body.outcome).toBe('recorded');
    expect(second.body.outcome).toBe('already_decided');
    expect((await h.runtime.deps.store.getGrant(grantId))?.status).toBe('active');
  });

  it('Approval after the timeout: the late click is told it expired and the message says "Expired"', async () => {
    h = await startHarness({ catalog: testCatalog((t) => t.replace('approvalTimeout: PT1H', 'approvalTimeout: PT1S')) });
    const { grantId } = await fileAndWait(h, { app: 'Internal admin console', role: 'break-glass', duration: 'PT1H' });
    await finished(h, grantId, 15_000);

    const late = await h.click(ONCALL[0]!, grantId, 0, 'approve');

    expect(late.body.outcome).toBe('already_decided');
    const sam = h.sandbox.slack.users().find((u) => u.email === ONCALL[0])!;
    const messages = h.sandbox.slack.messagesTo(sam.id);
    expect(messages[0]?.text).toContain('Expired');
    expect(messages.at(-1)?.text).toBe('Your click was not recorded: this request expired before anyone decided.');
    expect(h.sandbox.okta.members('00gconsolebreakglass')).not.toContain(ENGINEER);
  });

  it('Segregation of duties: the same person cannot approve two steps of one chain', async () => {
    // Make the manager also the Salesforce owner: step 2 would be the same person.
    h = await startHarness({ catalog: testCatalog((t) => t.replace('owner: omar.owner@example.com', `owner: ${MANAGER}`)) });
    const { grantId } = await fileAndWait(h, { app: 'Salesforce', role: 'admin', duration: 'PT1H' });
    await h.click(MANAGER, grantId, 0, 'approve');
    await eventually(async () => expect((await h!.runtime.deps.store.getGrant(grantId))?.currentStep).toBe(1));
    await h.runtime.workflow.quiet(grantId);

    const second = await h.click(MANAGER, grantId, 1, 'approve');

    expect(second.body.outcome).toBe('refused');
    expect(h.sandbox.okta.members('00gsfadmin')).not.toContain(ENGINEER);
  });
});

describe('lateness and early revocation', () => {
  it('An expiry already in the past when the grant is made is revoked at once', async () => {
    h = await startHarness();
    const { grantId } = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });
    await h.click(MANAGER, grantId, 0, 'approve');
    await finished(h, grantId);
    h.clock.advance(25 * 3_600_000);

    await tasks.ScheduleRevocation(h.runtime.deps, { grantId });

    expect(h.sandbox.okta.members('00gfigmaeditor')).not.toContain(ENGINEER);
    expect((await h.runtime.deps.store.getGrant(grantId))?.status).toBe('revoked');
  });

  it('Early revocation deletes the schedule; a firing that still arrives is a no-op', async () => {
    h = await startHarness();
    const { grantId, issueKey } = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });
    await h.click(MANAGER, grantId, 0, 'approve');
    await finished(h, grantId);

    const early = await tasks.Revoke(h.runtime.deps, { grantId, reason: 'early_release', actor: ENGINEER });
    expect(early).toEqual({ grantId, outcome: 'removed' });
    expect(await h.runtime.deps.store.getSchedule(`revoke-${grantId}`)).toBeUndefined();

    const late = await tasks.Revoke(h.runtime.deps, { grantId, reason: 'expired' });
    expect(late).toEqual({ grantId, outcome: 'not_active' });
    expect(h.sandbox.jira.commentTexts(issueKey).filter((c) => c.includes('removed eli.engineer'))).toHaveLength(1);
    expect(h.sandbox.jira.commentTexts(issueKey, 'internal').at(-1)).toContain('(released early by eli.engineer@example.com)');
    expect(h.sandbox.jira.publicCommentTexts(issueKey).at(-1)).toMatch(/^Your access has ended: it was released early\./);
  });

  it('Twin grants for one person and group (two Jira issues, the email in another case), approved at once: both expire, the person is out of the group', async () => {
    h = await startHarness();
    const first = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });
    const second = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H', subject: 'Eli.Engineer@Example.com' });

    await Promise.all([h.click(MANAGER, first.grantId, 0, 'approve'), h.click(MANAGER, second.grantId, 0, 'approve')]);
    await Promise.all([finished(h, first.grantId), finished(h, second.grantId)]);
    h.clock.advance(25 * 3_600_000);
    await h.runtime.scheduler.tick();

    expect(h.sandbox.okta.members('00gfigmaeditor')).not.toContain(ENGINEER);
    const comments = [...h.sandbox.jira.commentTexts(first.issueKey), ...h.sandbox.jira.commentTexts(second.issueKey)].join('\n');
    expect(comments).not.toContain('outside Grantline');
    expect(comments).toContain(`removed ${ENGINEER} from okta group 00gfigmaeditor (expired)`);
  });

  it('A failed revocation (Okta 500) stays scheduled and succeeds on the next firing', async () => {
    h = await startHarness();
    const { grantId } = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });
    await h.click(MANAGER, grantId, 0, 'approve');
    await finished(h, grantId);
    h.clock.advance(25 * 3_600_000);
    h.sandbox.okta.fake.injectFault({ method: 'DELETE', status: 500, body: { errorCode: 'E0000009', errorSummary: 'Internal Server Error' }, times: 10 });

    expect(await h.runtime.scheduler.tick()).toBe(0);
    expect(h.sandbox.okta.members('00gfigmaeditor')).toContain(ENGINEER);
    expect(await h.runtime.deps.store.getSchedule(`revoke-${grantId}`)).toBeDefined();

    h.sandbox.okta.fake.clearFaults();
    expect(await h.runtime.scheduler.tick()).toBe(1);
    expect(h.sandbox.okta.members('00gfigmaeditor')).not.toContain(ENGINEER);
  });
});

describe('downstream faults', () => {
  it('Jira down while writing evidence: the evidence is kept in the ledger and delivered later', async () => {
    h = await startHarness();
    h.sandbox.jira.fake.injectFault({
      method: 'POST',
      path: /\/comment$/,
      status: 503,
      headers: { 'Retry-After': '30' },
      body: { errorMessages: ['Service unavailable'], errors: {} },
      times: 100,
    });
    const filed = await h.client.fileRequest({
      reporter: ENGINEER,
      subject: ENGINEER,
      app: 'Notion',
      role: 'member',
      duration: 'permanent',
      justification: 'wiki',
    });
    const grantId = String(filed.body.grantId);
    await finished(h, grantId);

    expect(h.sandbox.okta.members('00gnotionmember')).toContain(ENGINEER); // Jira's outage does not block access
    expect(h.sandbox.jira.commentTexts(filed.issueKey)).toEqual([]);
    expect((await h.runtime.deps.store.evidence(grantId)).map((e) => e.type)).toEqual(['requested', 'auto_approved', 'provisioned']);

    h.sandbox.jira.fake.clearFaults();
    const { FLUSH_AFTER_MS, flushEvidence } = await import('../../shared/evidence.js');
    h.clock.advance(FLUSH_AFTER_MS); // the periodic flush takes what waited longer than its own workflow step
    expect(await flushEvidence(h.runtime.deps)).toBe(3);

    expect(h.sandbox.jira.commentTexts(filed.issueKey, 'internal').map((c) => c.split('\n')[0])).toEqual([
      'Grantline: eli.engineer@example.com requested Notion member for eli.engineer@example.com',
      'Grantline: approved automatically by policy',
      'Grantline: added eli.engineer@example.com to okta group 00gnotionmember',
    ]);
    expect(h.sandbox.jira.publicCommentTexts(filed.issueKey)).toHaveLength(3); // one notice per step, delivered with it
    expect(h.sandbox.jira.issue(filed.issueKey)?.status).toBe('Access granted');
    expect(await flushEvidence(h.runtime.deps)).toBe(0);
  });

  it('Slack rate limit (429 + Retry-After) on the approval message is waited out', async () => {
    h = await startHarness();
    h.sandbox.slack.rateLimit({ method: 'chat.postMessage', retryAfterSeconds: 1, times: 1 });
    const { grantId } = await fileAndWait(h, { app: 'Figma', role: 'editor', duration: 'PT24H' });

    const maria = h.sandbox.slack.users().find((u) => u.email === MANAGER)!;
    expect(h.sandbox.slack.messagesTo(maria.id)).toHaveLength(1);
    expect((await h.runtime.deps.store.getApproval(grantId, 0))?.messages).toHaveLength(1);
  });
});

describe('restart', () => {
  it('a pending approval survives a restart of the local runtime: the workflow is re-driven from the ledger', async () => {
    const { catalog, sandbox, env } = await restartableWorld(cleanups);

    const before = await startLocalRuntime({ env, logger: silentLogger, catalog, tickMs: false });
    const filed = await new SandboxClient(sandbox, before.url, env).fileRequest({
      reporter: ENGINEER,
      subject: ENGINEER,
      app: 'Figma',
      role: 'editor',
      duration: 'PT24H',
      justification: 'x',
    });
    const grantId = String(filed.body.grantId);
    await before.workflow.quiet(grantId);
    await before.close();

    const after = await startLocalRuntime({ env, logger: silentLogger, catalog, tickMs: false });
    cleanups.unshift(() => after.close());
    expect(await after.redrive()).toEqual([grantId]);
    await after.workflow.quiet(grantId);
    const click = await new SandboxClient(sandbox, after.url, env).click(MANAGER, grantId, 0, 'approve');

    expect(click.body.outcome).toBe('recorded');
    await eventually(() => expect(sandbox.okta.members('00gfigmaeditor')).toContain(ENGINEER));
    const maria = sandbox.slack.users().find((u) => u.email === MANAGER)!;
    expect(sandbox.slack.messagesTo(maria.id).filter((m) => m.text.includes('requests'))).toHaveLength(1); // not asked twice
  });
});
