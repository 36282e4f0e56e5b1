/**
 * Input that used to get through or crash intake (issue 7, defects 3, 4, 7 and 8): over-long
 * fields, identities with stray whitespace, deeply nested documents and a deployment missing a
 * setting. Each answer is what Jira (and the requester reading the issue) sees.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../shared/logger.js';
import { startHarness, type Harness } from '../support/harness.js';

const MANAGER = 'maria.manager@example.com';
const ENGINEER = 'eli.engineer@example.com';
const FIGMA_OWNER = 'dana.design@example.com';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Sends what an automation rule would, with the given issue fields, for a freshly filed issue. */
async function sendWebhook(harness: Harness, fields: Record<string, unknown>, rawFields?: string) {
  const { key } = harness.sandbox.jira.createIssue({ summary: 'Access request', reporterEmail: ENGINEER });
  const body = rawFields
    ? `{"webhookEvent":"jira:issue_created","issue":{"key":"${key}","fields":${rawFields}}}`
    : JSON.stringify({ webhookEvent: 'jira:issue_created', issue: { key, fields } });
  const res = await harness.client.post('/webhooks/jira', body, {
    'content-type': 'application/json',
    authorization: `Bearer ${harness.sandbox.env.GRANTLINE_JIRA_WEBHOOK_SECRET}`,
  });
  return { issueKey: key, ...res };
}

describe('limits at intake (issue 7 #3)', () => {
  it('a 200,000-character justification gets 422 naming the field and the limit, and a Jira comment; nothing is recorded', async () => {
    h = await startHarness();

    const res = await h.client.fileRequest({
      reporter: ENGINEER,
      subject: ENGINEER,
      app: 'Figma',
      role: 'editor',
      duration: 'PT24H',
      justification: 'x'.repeat(200_000),
    });

    expect(res.status).toBe(422);
    expect(res.body.error).toBe('justification (Jira field description) is too long: 200,000 characters, the limit is 4,000');
    const comments = h.sandbox.jira.commentTexts(res.issueKey);
    expect(comments).toHaveLength(1);
    expect(comments[0]).toContain('Grantline could not accept this access request');
    expect(comments[0]).toContain('justification (Jira field description) is too long: 200,000 characters, the limit is 4,000');
    expect(comments[0]!.length).toBeLessThan(1_000);
    expect(await h.runtime.deps.store.grantsOfUser(ENGINEER)).toEqual([]);
  });

  it('every over-long field is reported at once, without quoting the oversized values', async () => {
    h = await startHarness();
    const longSubject = `${'a'.repeat(300)}@example.com`;

    const res = await h.client.fileRequest({
      reporter: ENGINEER,
      subject: longSubject,
      app: 'Figma',
      role: 'r'.repeat(500),
      duration: 'PT24H',
      justification: 'Design review',
    });

    expect(res.status).toBe(422);
    expect(res.body.problems).toEqual([
      'subject (Jira field customfield_10070) is too long: 312 characters, the limit is 254',
      'role (Jira field customfield_10072) is too long: 500 characters, the limit is 100',
    ]);
    const [comment] = h.sandbox.jira.commentTexts(res.issueKey);
    expect(comment).toContain('role (Jira field customfield_10072) is too long');
    expect(comment).not.toContain('rrrrrrrrrr');
  });
});

describe('identities are normalised once at the edge (issue 7 #4)', () => {
  it('No self-approval: a manager filing as " maria.manager@example.com" (stray space) for a report cannot approve it; the app owner decides', async () => {
    h = await startHarness();

    const filed = await h.client.fileRequest({
      reporter: ` ${MANAGER}`,
      subject: ENGINEER,
      app: 'Figma',
      role: 'editor',
      duration: 'PT24H',
      justification: 'Design review',
    });
    const grantId = String(filed.body.grantId);
    await h.runtime.workflow.quiet(grantId);
    const click = await h.click(MANAGER, grantId, 0, 'approve');

    expect(filed.status).toBe(202);
    expect(click.body.outcome).toBe('refused');
    const maria = h.sandbox.slack.users().find((u) => u.email === MANAGER)!;
    expect(h.sandbox.slack.messagesTo(maria.id).at(-1)?.text).toContain('Your click was not recorded');
    expect((await h.runtime.deps.store.getApproval(grantId, 0))?.approvers).toEqual([FIGMA_OWNER]);
    expect(h.sandbox.okta.members('00gfigmaeditor')).not.toContain(ENGINEER);
    expect(h.sandbox.jira.commentTexts(filed.issueKey)[0]).toContain(`${MANAGER} requested Figma editor for ${ENGINEER}`);
  });

  it('a subject in another case and with spaces is the same person: " Eli.Engineer@Example.com " is recorded as eli.engineer@example.com', async () => {
    h = await startHarness();

    const filed = await h.client.fileRequest({
      reporter: MANAGER,
      subject: ' Eli.Engineer@Example.com ',
      app: 'Figma',
      role: 'viewer',
      duration: 'permanent',
      justification: 'Design review',
    });

    expect(filed.status).toBe(202);
    expect((await h.runtime.deps.store.getGrant(String(filed.body.grantId)))?.subject).toBe(ENGINEER);
  });

  it('a requester that is not an email address after trimming gets 422 and a Jira comment', async () => {
    h = await startHarness();

    const res = await sendWebhook(h, {
      customfield_10070: ENGINEER,
      customfield_10071: 'Figma',
      customfield_10072: 'viewer',
      customfield_10073: 'permanent',
      description: 'x',
      reporter: { emailAddress: 'maria manager' },
    });

    expect(res.status).toBe(422);
    expect(res.body.error).toBe('the requester "maria manager" is not an email address');
    expect(h.sandbox.jira.commentTexts(res.issueKey)[0]).toContain('the requester "maria manager" is not an email address');
  });
});

describe('deeply nested documents (issue 7 #7)', () => {
  it('a description nested 17,000 levels deep gets 400 naming the field (not a 500 that Jira retries), and a Jira comment', async () => {
    h = await startHarness();
    const depth = 17_000;
    const description = `{"type":"doc","version":1,"content":[${'{"content":['.repeat(depth)}{"type":"text","text":"x"}${']}'.repeat(depth)}]}`;
    const fields = `{"customfield_10070":"${ENGINEER}","customfield_10071":"Figma","customfield_10072":"viewer","customfield_10073":"permanent","reporter":{"emailAddress":"${ENGINEER}"},"description":${description}}`;

    const res = await sendWebhook(h, {}, fields);

    expect(res).toMatchObject({ status: 400, body: { error: 'description is nested more than 100 levels deep; Grantline reads at most 100' } });
    expect(h.sandbox.jira.commentTexts(res.issueKey)[0]).toContain('description is nested more than 100 levels deep');
    expect(await h.runtime.deps.store.grantsOfUser(ENGINEER)).toEqual([]);
  });

  it('a select field given as arrays nested 100,000 deep gets 400, and deep JSON in a field Grantline does not read changes nothing', async () => {
    h = await startHarness();
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const base = `"customfield_10070":"${ENGINEER}","customfield_10072":"viewer","customfield_10073":"permanent","description":"Design review","reporter":{"emailAddress":"${ENGINEER}"}`;

    const deepApp = await sendWebhook(h, {}, `{${base},"customfield_10071":${deep}}`);
    const deepUnread = await sendWebhook(h, {}, `{${base},"customfield_10071":"Figma","customfield_19999":${deep}}`);

    expect(deepApp).toMatchObject({ status: 400, body: { error: 'customfield_10071 is nested more than 100 levels deep; Grantline reads at most 100' } });
    expect(deepUnread.status).toBe(202);
  });
});

describe('configuration errors (issue 7 #8)', () => {
  it('a webhook reaching a deployment without its Jira secret gets 503 naming nothing; the setting is logged at ERROR', async () => {
    const errors: Array<[string, unknown[]]> = [];
    const logger: Logger = { debug() {}, info() {}, warn() {}, error: (message, ...extra) => errors.push([message, extra]) };
    h = await startHarness({ env: { GRANTLINE_JIRA_WEBHOOK_SECRET: '' }, logger });

    const res = await h.client.fileRequest({ reporter: ENGINEER, subject: ENGINEER, app: 'Figma', role: 'viewer', duration: 'permanent', justification: 'x' });

    expect(res.status).toBe(503);
    expect(JSON.stringify(res.body)).not.toMatch(/GRANTLINE_|secret|webhook/i);
    expect(res.body).toEqual({ error: 'service unavailable: Grantline is not fully configured; try again later' });
    expect(errors).toContainEqual(['configuration error', [expect.objectContaining({ setting: 'GRANTLINE_JIRA_WEBHOOK_SECRET' })]]);
    expect(await h.runtime.deps.store.grantsOfUser(ENGINEER)).toEqual([]);
  });
});
