/**
 * Forged, replayed, malformed and unauthorized input: a clear error, recorded where it matters,
 * and nothing changes (no grant, no membership, no decision). Titles name the RELIABILITY.md case.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { signJiraBody, signSlackRequest } from '../../shared/auth.js';
import { FLUSH_AFTER_MS, flushEvidence } from '../../shared/evidence.js';
import { startHarness, testCatalog, type Harness } from '../support/harness.js';
import { finished } from '../support/wait.js';

const MANAGER = 'maria.manager@example.com';
const ENGINEER = 'eli.engineer@example.com';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function pendingFigmaRequest(harness: Harness) {
  const filed = await harness.client.fileRequest({
    reporter: ENGINEER,
    subject: ENGINEER,
    app: 'Figma',
    role: 'editor',
    duration: 'PT24H',
    justification: 'Design review',
  });
  const grantId = String(filed.body.grantId);
  await harness.runtime.workflow.quiet(grantId);
  return { grantId, issueKey: filed.issueKey };
}

function clickBody(harness: Harness, email: string, grantId: string, overrides: Record<string, unknown> = {}) {
  const user = harness.sandbox.slack.users().find((u) => u.email === email)!;
  const payload = {
    type: 'block_actions',
    team: { id: 'TSANDBOX' },
    user: { id: user.id },
    actions: [{ action_id: 'grantline_approve', value: `${grantId}:0` }],
    ...overrides,
  };
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

async function stillPending(harness: Harness, grantId: string) {
  expect((await harness.runtime.deps.store.getApproval(grantId, 0))?.status).toBe('pending');
  expect(harness.sandbox.okta.members('00gfigmaeditor')).not.toContain(ENGINEER);
}

describe('Slack requests', () => {
  it('Slack: a forged signature gets 401 with no body and changes nothing', async () => {
    h = await startHarness();
    const { grantId } = await pendingFigmaRequest(h);
    const body = clickBody(h, MANAGER, grantId);
    const now = Math.floor(h.clock.now().getTime() / 1000);

    const res = await h.client.post('/webhooks/slack/interactions', body, {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(now),
      'x-slack-signature': signSlackRequest('not-the-signing-secret', now, body),
    });

    expect(res).toEqual({ status: 401, body: {} });
    await stillPending(h, grantId);
  });

  it('Slack: a replayed request signed 6 minutes ago gets 401 and changes nothing', async () => {
    h = await startHarness();
    const { grantId } = await pendingFigmaRequest(h);
    const sixMinutesAgo = Math.floor(h.clock.now().getTime() / 1000) - 360;

    const res = await h.client.postSlack('/webhooks/slack/interactions', clickBody(h, MANAGER, grantId), sixMinutesAgo);

    expect(res.status).toBe(401);
    await stillPending(h, grantId);
  });

  it('Slack: an unsigned request gets 401 and changes nothing', async () => {
    h = await startHarness();
    const { grantId } = await pendingFigmaRequest(h);

    const res = await h.client.post('/webhooks/slack/interactions', clickBody(h, MANAGER, grantId), { 'content-type': 'application/x-www-form-urlencoded' });

    expect(res.status).toBe(401);
    await stillPending(h, grantId);
  });

  it('Slack payloads: a click from another workspace is refused when SLACK_TEAM_ID is configured', async () => {
    h = await startHarness({ env: { SLACK_TEAM_ID: 'TSANDBOX' } });
    const { grantId } = await pendingFigmaRequest(h);

    const res = await h.client.postSlack(
      '/webhooks/slack/interactions',
      clickBody(h, MANAGER, grantId, { team: { id: 'TOTHER' } }),
      Math.floor(h.clock.now().getTime() / 1000),
    );

    expect(res.status).toBe(403);
    await stillPending(h, grantId);
  });

  it('Authorization: a click by someone who is not the approver is refused, they are told why, and the attempt is recorded', async () => {
    h = await startHarness();
    const { grantId, issueKey } = await pendingFigmaRequest(h);

    const res = await h.click('mallory.intruder@example.com', grantId, 0, 'approve');

    expect(res.body.outcome).toBe('refused');
    await stillPending(h, grantId);
    const mallory = h.sandbox.slack.users().find((u) => u.email === 'mallory.intruder@example.com')!;
    expect(h.sandbox.slack.messagesTo(mallory.id).at(-1)?.text).toBe('Your click was not recorded: only maria.manager@example.com can decide this step.');
    // Recorded in the ledger at once; the Jira comment follows outside Slack's 3-second window.
    h.clock.advance(FLUSH_AFTER_MS);
    expect(await flushEvidence(h.runtime.deps)).toBe(1);
    expect(h.sandbox.jira.commentTexts(issueKey).at(-1)).toMatch(
      /^Grantline: refused a decision by mallory\.intruder@example\.com: only maria\.manager@example\.com can decide this step/,
    );
    // Internal: the requester sees neither the stranger's click nor who may decide.
    expect(h.sandbox.jira.publicCommentTexts(issueKey).join('\n')).not.toMatch(/mallory|refused|maria/);
    const evidence = await h.runtime.deps.store.evidence(grantId);
    expect(evidence.filter((e) => e.type === 'approval_refused').map((e) => e.actor)).toEqual(['mallory.intruder@example.com']);
  });

  it('No self-approval: the requester cannot approve their own request even if named as approver', async () => {
    h = await startHarness({
      catalog: testCatalog((t) =>
        t.replace(
          'approval: [manager]\n        durations: [PT24H, P30D, permanent]',
          'approval: [{ user: [eli.engineer@example.com, maria.manager@example.com] }]\n        durations: [PT24H, P30D, permanent]',
        ),
      ),
    });
    const { grantId } = await pendingFigmaRequest(h);

    const res = await h.click(ENGINEER, grantId, 0, 'approve');

    expect(res.body.outcome).toBe('refused');
    await stillPending(h, grantId);
    const approval = await h.runtime.deps.store.getApproval(grantId, 0);
    expect(approval?.approvers).toEqual([MANAGER]); // the requester was never asked
    expect((await h.runtime.deps.store.getGrant(grantId))?.steps?.[0]?.kind).toBe('user');
  });

  it('Slack: a clicker whose email Slack will not reveal fails closed', async () => {
    h = await startHarness();
    const { grantId } = await pendingFigmaRequest(h);
    const hidden = h.sandbox.slack.addUser({ email: 'shadow@example.com', emailHidden: true });
    const body = `payload=${encodeURIComponent(JSON.stringify({ type: 'block_actions', user: { id: hidden }, actions: [{ action_id: 'grantline_approve', value: `${grantId}:0` }] }))}`;

    const res = await h.client.postSlack('/webhooks/slack/interactions', body, Math.floor(h.clock.now().getTime() / 1000));

    expect(res.body.outcome).toBe('refused');
    await stillPending(h, grantId);
    expect((await h.runtime.deps.store.evidence(grantId)).at(-1)?.summary).toContain('cannot see your email address');
  });

  it('Slack payloads: a button value that is not a grant reference gets 400 and changes nothing', async () => {
    h = await startHarness();
    const { grantId } = await pendingFigmaRequest(h);
    const body = clickBody(h, MANAGER, grantId, { actions: [{ action_id: 'grantline_approve', value: 'arn:aws:states:token' }] });

    const res = await h.client.postSlack('/webhooks/slack/interactions', body, Math.floor(h.clock.now().getTime() / 1000));

    expect(res.status).toBe(400);
    await stillPending(h, grantId);
  });
});

describe('Jira webhooks', () => {
  it('Jira: a wrong shared secret gets 401; no grant, no comment', async () => {
    h = await startHarness();
    const { key } = h.sandbox.jira.createIssue({ summary: 'x', reporterEmail: ENGINEER });
    const body = JSON.stringify({
      issue: {
        key,
        fields: { customfield_10071: 'Figma', customfield_10072: 'editor', customfield_10073: 'PT24H', description: 'x', reporter: { emailAddress: ENGINEER } },
      },
    });

    const res = await h.client.post('/webhooks/jira', body, { 'content-type': 'application/json', authorization: 'Bearer wrong-secret' });

    expect(res).toEqual({ status: 401, body: {} });
    expect(await h.runtime.deps.store.grantsOfUser(ENGINEER)).toEqual([]);
    expect(h.sandbox.jira.commentTexts(key)).toEqual([]);
  });

  it('Jira: a webhook signed with X-Hub-Signature (sha256 of the raw body) is accepted; a wrong one gets 401', async () => {
    h = await startHarness();
    const { key } = h.sandbox.jira.createIssue({ summary: 'x', reporterEmail: ENGINEER });
    const body = JSON.stringify({
      webhookEvent: 'jira:issue_created',
      issue: {
        key,
        fields: {
          customfield_10071: 'Notion',
          customfield_10072: 'member',
          customfield_10073: 'permanent',
          description: 'wiki',
          reporter: { emailAddress: ENGINEER },
        },
      },
    });
    const secret = h.sandbox.env.GRANTLINE_JIRA_WEBHOOK_SECRET;

    const forged = await h.client.post('/webhooks/jira', body, { 'content-type': 'application/json', 'x-hub-signature': signJiraBody('guess', body) });
    const signed = await h.client.post('/webhooks/jira', body, { 'content-type': 'application/json', 'x-hub-signature': signJiraBody(secret!, body) });

    expect(forged.status).toBe(401);
    expect(signed.status).toBe(202);
    await finished(h, String(signed.body.grantId));
    expect(h.sandbox.okta.members('00gnotionmember')).toContain(ENGINEER);
  });

  it('Jira: malformed JSON gets 400 with a clear message', async () => {
    h = await startHarness();
    const res = await h.client.post('/webhooks/jira', '{"issue": {', {
      'content-type': 'application/json',
      authorization: `Bearer ${h.sandbox.env.GRANTLINE_JIRA_WEBHOOK_SECRET}`,
    });
    expect(res).toEqual({ status: 400, body: { error: 'request body is not valid JSON' } });
  });

  it('Jira: a payload without an issue key gets 400 and names the field', async () => {
    h = await startHarness();
    const res = await h.client.post('/webhooks/jira', JSON.stringify({ issue: { key: 'not a key' } }), {
      'content-type': 'application/json',
      authorization: `Bearer ${h.sandbox.env.GRANTLINE_JIRA_WEBHOOK_SECRET}`,
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toContain('issue.key must be a Jira issue key');
  });

  it('an unknown app gets 422 and a Jira comment telling the requester what to fix; nothing is granted', async () => {
    h = await startHarness();
    const res = await h.client.fileRequest({ reporter: ENGINEER, subject: ENGINEER, app: 'Photoshop', role: 'editor', duration: 'PT1H', justification: 'x' });

    expect(res.status).toBe(422);
    expect(res.body.error).toBe(
      'unknown app "Photoshop": choose one of Figma, Salesforce, Notion, Internal admin console, GitHub Enterprise, Looker, Legacy ERP',
    );
    const [comment] = h.sandbox.jira.commentTexts(res.issueKey);
    expect(comment).toContain('Grantline could not accept this access request');
    expect(comment).toContain('unknown app "Photoshop"');
    expect(await h.runtime.deps.store.grantsOfUser(ENGINEER)).toEqual([]);
  });

  it('an unknown role and a missing justification are both reported at once', async () => {
    h = await startHarness();
    const res = await h.client.fileRequest({ reporter: ENGINEER, subject: ENGINEER, app: 'Figma', role: 'owner', duration: 'PT1H' });

    expect(res.status).toBe(422);
    expect(res.body.problems).toEqual([
      'justification (Jira field description) is missing: say why the access is needed',
      'unknown role "owner" for Figma: choose one of viewer, editor',
    ]);
  });

  it('a duration over the maximum gets 422 naming the maximum, and a Jira comment', async () => {
    h = await startHarness();
    const res = await h.client.fileRequest({
      reporter: ENGINEER,
      subject: ENGINEER,
      app: 'Salesforce',
      role: 'admin',
      duration: 'P2D',
      justification: 'Audit',
    });

    expect(res.status).toBe(422);
    expect(res.body.error).toBe('duration P2D (2 days) is longer than the maximum PT24H for Salesforce admin');
    expect(h.sandbox.jira.commentTexts(res.issueKey)[0]).toContain('longer than the maximum PT24H');
  });

  it('Duplicates: a repeated webhook for the same issue answers 2xx and starts nothing new', async () => {
    h = await startHarness();
    const { key } = h.sandbox.jira.createIssue({ summary: 'x', reporterEmail: ENGINEER });
    const body = JSON.stringify({
      issue: {
        key,
        fields: {
          customfield_10071: 'Notion',
          customfield_10072: 'member',
          customfield_10073: 'permanent',
          description: 'wiki',
          reporter: { emailAddress: ENGINEER },
        },
      },
    });
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${h.sandbox.env.GRANTLINE_JIRA_WEBHOOK_SECRET}` };

    const first = await h.client.post('/webhooks/jira', body, headers);
    await finished(h, String(first.body.grantId));
    const again = await h.client.post('/webhooks/jira', body, headers);

    expect(first.status).toBe(202);
    expect(again).toMatchObject({ status: 200, body: { grantId: first.body.grantId, duplicate: true } });
    expect(h.sandbox.jira.commentTexts(key).filter((c) => c.includes('requested Notion member'))).toHaveLength(1);
    expect(h.sandbox.okta.fake.requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
  });

  it('a deactivated approver is not asked; the other members of the approver group are', async () => {
    h = await startHarness();
    const sam = (await h.runtime.deps.idp('okta').findUserByEmail('sam.sec@example.com'))!;
    h.sandbox.okta.setUserStatus(sam.id, 'SUSPENDED');
    const res = await h.client.fileRequest({
      reporter: ENGINEER,
      subject: ENGINEER,
      app: 'Internal admin console',
      role: 'break-glass',
      duration: 'PT1H',
      justification: 'INC-1',
    });
    const grantId = String(res.body.grantId);
    await h.runtime.workflow.quiet(grantId);

    expect((await h.runtime.deps.store.getApproval(grantId, 0))?.approvers).toEqual(['sasha.sec@example.com']);
    expect(h.sandbox.jira.commentTexts(res.issueKey).join('\n')).toContain('sam.sec@example.com deactivated in okta, so cannot approve');
    const click = await h.click('sam.sec@example.com', grantId, 0, 'approve');
    expect(click.body.outcome).toBe('refused');
  });

  it('a deactivated subject cannot be granted access: denied with evidence', async () => {
    h = await startHarness();
    const res = await h.client.fileRequest({
      reporter: MANAGER,
      subject: 'dave.departed@example.com',
      app: 'Notion',
      role: 'member',
      duration: 'permanent',
      justification: 'x',
    });
    const run = await finished(h, String(res.body.grantId));

    expect(run.states).toEqual(['Advance', 'Route', 'Closed']);
    expect(h.sandbox.okta.members('00gnotionmember')).not.toContain('dave.departed@example.com');
    expect(h.sandbox.jira.commentTexts(res.issueKey, 'internal').at(-1)).toContain(
      "denied: dave.departed@example.com's okta account is deactivated or suspended",
    );
    expect(h.sandbox.jira.issue(res.issueKey)?.status).toBe('Declined');
  });
});

describe('audit list routes', () => {
  it('a forged cursor or an out-of-range page size gets 400 with a clear message', async () => {
    h = await startHarness();
    const forged = Buffer.from(JSON.stringify({ pk: 'GRANT#x', sk: 'GRANT', gsi2pk: 'APP#salesforce', gsi2sk: 'x' })).toString('base64url');

    const foreign = await h.client.audit(`/grants?app=figma&cursor=${forged}`);
    const garbage = await h.client.audit('/grants?app=figma&cursor=%7B%7D');
    const tooMany = await h.client.audit('/grants?app=figma&limit=10000');

    expect(foreign).toEqual({ status: 400, body: { error: 'cursor is not one this list gave out: start again without it' } });
    expect(garbage.status).toBe(400);
    expect(tooMany).toEqual({ status: 400, body: { error: 'limit must be a whole number from 1 to 500' } });
  });
});
