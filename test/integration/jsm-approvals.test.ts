/**
 * The Jira adapter's JSM approval calls (jira.js platform and Service Desk clients) against the
 * simulated JSM (infra/local/sandbox/jsm.ts), and the simulated JSM refusing what JSM refuses.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JiraTicketing } from '../../shared/connectors/jira.js';
import { PermanentError, RetryableError } from '../../shared/errors.js';
import { startFakeJira, type FakeJira } from '../../infra/local/sandbox/jira.js';

const EMAIL = 'bot@example.com';
const TOKEN = 'secret-token';
const FIELD = 'customfield_10003';
const ANN = 'ann.approver@example.com';
const BEN = 'ben.backup@example.com';

let jira: FakeJira;
let ticketing: JiraTicketing;
let auth: string;

beforeAll(async () => {
  jira = await startFakeJira({ email: EMAIL, apiToken: TOKEN });
  ticketing = new JiraTicketing({ baseUrl: jira.url, email: EMAIL, apiToken: TOKEN, projectKey: 'ACC' });
  jira.addUser({ email: ANN, displayName: 'Ann Approver' });
  jira.addUser({ email: BEN, displayName: 'Ben Backup' });
  jira.addUser({ email: 'hidden@example.com', emailVisible: false });
  auth = `Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}`;
});
afterAll(() => jira.close());
afterEach(() => jira.fake.clearFaults());

/** An issue waiting for approval, with these approvers set through the adapter (Grantline's account added). */
async function waiting(emails: string[] = [ANN]): Promise<string> {
  const key = jira.createIssue({ summary: 'Access to billing', reporterEmail: 'alice@example.com' }).key;
  await ticketing.setApprovers(key, FIELD, emails);
  expect(await ticketing.transition(key, 'Waiting for approval')).toBe(true);
  return key;
}

async function raw(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${jira.url}${path}`, {
    method,
    headers: { authorization: auth, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

describe('JSM approvals through the Jira adapter', () => {
  it('sets the Approvers field to the approvers found by exact email plus Grantline, and reports who Jira has no visible account for', async () => {
    const key = jira.createIssue({ summary: 'Access', reporterEmail: 'alice@example.com' }).key;

    const result = await ticketing.setApprovers(key, FIELD, [ANN, 'hidden@example.com', 'nobody@example.com']);

    expect(result).toEqual({ missing: ['hidden@example.com', 'nobody@example.com'] });
    const stored = jira.issue(key)?.fields[FIELD] as Array<{ accountId: string; displayName: string }>;
    expect(stored.map((u) => u.displayName)).toEqual(['Ann Approver', 'Grantline']);
    expect(stored.map((u) => u.accountId)).toContain(jira.botAccountId);
  });

  it('a field that does not exist is a permanent error naming it', async () => {
    const key = jira.createIssue({ summary: 'Access', reporterEmail: 'alice@example.com' }).key;
    const err = await ticketing.setApprovers(key, 'customfield_99999', [ANN]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toContain("Field 'customfield_99999' cannot be set");
  });

  it('entering the approval status opens an approval; the adapter reads it, with Grantline marked', async () => {
    const key = await waiting([ANN, BEN]);

    const [approval, ...rest] = await ticketing.approvals(key);

    expect(rest).toEqual([]);
    expect(approval).toMatchObject({ finalDecision: 'pending' });
    expect(approval?.approvers.map((a) => [a.email, a.decision, a.grantline])).toEqual([
      [ANN, 'pending', false],
      [BEN, 'pending', false],
      [EMAIL, 'pending', true],
    ]);
  });

  it('reads every page of approvals (the sandbox pages by 2)', async () => {
    const key = await waiting();
    for (let i = 0; i < 2; i += 1) {
      jira.answerApproval(key, ANN, 'approve');
      expect(await ticketing.transition(key, 'Waiting for approval')).toBe(true);
    }

    const approvals = await ticketing.approvals(key);

    expect(approvals.map((a) => a.finalDecision)).toEqual(['approved', 'approved', 'pending']);
    expect(new Set(approvals.map((a) => a.id)).size).toBe(3);
    expect(approvals[0]?.completedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it('answers as Grantline; a second answer, or one after a person decided, is "already answered"', async () => {
    const key = await waiting();
    const [approval] = await ticketing.approvals(key);

    expect(await ticketing.answerApproval(key, approval!.id, 'decline')).toBe('answered');
    expect(jira.issue(key)).toMatchObject({ status: 'Declined', resolution: 'Declined' });
    expect(await ticketing.answerApproval(key, approval!.id, 'decline')).toBe('already_answered');

    const other = await waiting();
    jira.answerApproval(other, ANN, 'approve');
    const [decided] = await ticketing.approvals(other);
    expect(await ticketing.answerApproval(other, decided!.id, 'decline')).toBe('already_answered');
    expect(jira.issue(other)?.status).toBe('In Progress');
  });

  it("an answer JSM refuses for good (Grantline not an approver) is a permanent error with JSM's message; a 503 is retryable", async () => {
    const key = await waiting();
    jira.setApprovers(key, [ANN]);
    const [approval] = await ticketing.approvals(key);

    const err = await ticketing.answerApproval(key, approval!.id, 'approve').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toContain('You are not an approver of this request.');

    jira.fake.injectFault({ method: 'GET', path: '/rest/servicedeskapi/', status: 503 });
    expect(await ticketing.approvals(key).catch((e: unknown) => e)).toBeInstanceOf(RetryableError);
  });
});

describe('the simulated JSM refuses what JSM refuses', () => {
  it('an unknown approval is 404, a decision other than approve/decline 400, a caller who is not an approver 403, an answer to a completed approval 400', async () => {
    const key = await waiting();
    const [approval] = await ticketing.approvals(key);
    const path = `/rest/servicedeskapi/request/${key}/approval`;

    const unknown = await raw('POST', `${path}/9999`, { decision: 'approve' });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ errorMessage: expect.any(String), i18nErrorMessage: { i18nKey: expect.any(String), parameters: [] } });
    expect((await raw('GET', `${path}/9999`)).status).toBe(404);
    expect((await raw('POST', `${path}/${approval!.id}`, { decision: 'yes' })).status).toBe(400);

    jira.setApprovers(key, [ANN]);
    expect((await raw('POST', `${path}/${approval!.id}`, { decision: 'approve' })).status).toBe(403);

    jira.answerApproval(key, ANN, 'approve');
    jira.setApprovers(key, [ANN, EMAIL]);
    expect((await raw('POST', `${path}/${approval!.id}`, { decision: 'approve' })).status).toBe(400);
  });

  it("answers in JSM's shapes: a paged list and DateDTOs", async () => {
    const key = await waiting();
    const page = await raw('GET', `/rest/servicedeskapi/request/${key}/approval?start=0&limit=50`);

    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ size: 1, start: 0, limit: 2, isLastPage: true, _links: { base: `${jira.url}/rest/servicedeskapi` } });
    const [value] = page.body.values as Array<Record<string, unknown>>;
    expect(value).toMatchObject({
      name: 'Waiting for approval',
      finalDecision: 'pending',
      canAnswerApproval: true,
      createdDate: {
        iso8601: expect.stringMatching(/\+0000$/),
        jira: expect.stringMatching(/\.\d{3}\+0000$/),
        friendly: expect.any(String),
        epochMillis: expect.any(Number),
      },
    });
    expect(value).not.toHaveProperty('completedDate');
  });
});
