import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JiraTicketing } from '../../shared/connectors/jira.js';
import { PermanentError, RetryableError } from '../../shared/errors.js';
import { startFakeJira, type FakeJira } from '../../infra/local/sandbox/jira.js';
import { failure } from '../support/failure.js';

const EMAIL = 'bot@example.com';
const TOKEN = 'secret-token';
const AUTH = `Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}`;

let jira: FakeJira;
let ticketing: JiraTicketing;

beforeAll(async () => {
  jira = await startFakeJira({ email: EMAIL, apiToken: TOKEN });
  ticketing = new JiraTicketing({ baseUrl: jira.url, email: EMAIL, apiToken: TOKEN, projectKey: 'ACC' });
});
afterAll(() => jira.close());
afterEach(() => {
  jira.fake.clearFaults();
  jira.attachmentSizeLimit = 10 * 1024 * 1024;
  jira.attachmentsEnabled = true;
});

const newIssue = () => jira.createIssue({ summary: 'Access to billing', reporterEmail: 'alice@example.com' }).key;
const csv = (filename = 'access-review.csv') => ({
  filename,
  content: 'email,app,role,decision\nnina@example.com,billing,admin,keep\nomar@example.com,billing,viewer,revoke\n',
  contentType: 'text/csv',
});
const uploads = (key: string) => jira.fake.requests.filter((r) => r.method === 'POST' && r.path === `/rest/api/3/issue/${key}/attachments`);

describe('attachFile: JiraTicketing (jira.js) against the simulated Jira Cloud', () => {
  it('attaches a CSV that the issue then shows with its name, type and content', async () => {
    const key = newIssue();

    expect(await ticketing.attachFile(key, csv())).toBe('attached');

    expect(jira.attachments(key)).toEqual([{ filename: 'access-review.csv', mimeType: 'text/csv', content: csv().content }]);
    const [upload] = uploads(key);
    expect(upload?.headers['x-atlassian-token']).toBe('no-check');
    expect(upload?.headers['content-type']).toMatch(/^multipart\/form-data; ?boundary=/);
    // As Jira lists it on the issue, with a content URL that gives the file back.
    const issue = (await (await fetch(`${jira.url}/rest/api/3/issue/${key}?fields=attachment`, { headers: { authorization: AUTH } })).json()) as {
      fields: { attachment: Array<{ filename: string; mimeType: string; size: number; content: string; author: { accountId: string } }> };
    };
    expect(issue.fields.attachment).toEqual([
      expect.objectContaining({
        filename: 'access-review.csv',
        mimeType: 'text/csv',
        size: Buffer.byteLength(csv().content),
        author: expect.objectContaining({ accountId: jira.botAccountId }),
      }),
    ]);
    const download = await fetch(issue.fields.attachment[0]!.content, { headers: { authorization: AUTH } });
    expect(await download.text()).toBe(csv().content);
  });

  it("answers 'exists' for a name the issue already has, uploading nothing", async () => {
    const key = newIssue();
    await ticketing.attachFile(key, csv());

    expect(await ticketing.attachFile(key, { ...csv(), content: 'a second version' })).toBe('exists');

    expect(uploads(key)).toHaveLength(1);
    expect(jira.attachments(key).map((a) => a.content)).toEqual([csv().content]);
    // Another name is another file.
    expect(await ticketing.attachFile(key, csv('access-review-2.csv'))).toBe('attached');
    expect(jira.attachments(key).map((a) => a.filename)).toEqual(['access-review.csv', 'access-review-2.csv']);
  });

  it('an upload whose answer was lost is not made twice: the retry finds the file and answers exists', async () => {
    const key = newIssue();
    jira.fake.injectFault({ method: 'POST', path: `/rest/api/3/issue/${key}/attachments`, action: 'reply_lost', status: 502 });

    const err = (await failure(() => ticketing.attachFile(key, csv()))).err;
    expect(err).toBeInstanceOf(RetryableError);
    expect(await ticketing.attachFile(key, csv())).toBe('exists');

    expect(jira.attachments(key)).toHaveLength(1);
  });

  it('maps 429 on the upload to a RetryableError carrying Retry-After, attaching nothing; the retry attaches', async () => {
    const key = newIssue();
    jira.fake.injectFault({
      method: 'POST',
      path: `/rest/api/3/issue/${key}/attachments`,
      status: 429,
      headers: { 'Retry-After': '3' },
      body: { errorMessages: ['Rate limit exceeded.'], errors: {} },
    });

    const err = (await failure(() => ticketing.attachFile(key, csv()))).err;
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).retryAfterMs).toBe(3000);
    expect(jira.attachments(key)).toEqual([]);

    expect(await ticketing.attachFile(key, csv())).toBe('attached');
    expect(jira.attachments(key)).toHaveLength(1);
  });

  it.each([500, 502, 503])('maps %i (on the look-up or the upload) to a RetryableError, attaching nothing', async (status) => {
    const key = newIssue();
    jira.fake.injectFault({ method: 'GET', path: `/rest/api/3/issue/${key}`, status, body: { errorMessages: ['Internal server error'], errors: {} } });
    expect((await failure(() => ticketing.attachFile(key, csv()))).err).toBeInstanceOf(RetryableError);
    jira.fake.injectFault({
      method: 'POST',
      path: `/rest/api/3/issue/${key}/attachments`,
      status,
      body: { errorMessages: ['Internal server error'], errors: {} },
    });
    expect((await failure(() => ticketing.attachFile(key, csv()))).err).toBeInstanceOf(RetryableError);

    expect(jira.attachments(key)).toEqual([]);
  });

  it('a file over the size limit: a PermanentError that says the file is too large (413), nothing attached', async () => {
    const key = newIssue();
    jira.attachmentSizeLimit = 1024;

    const err = (await failure(() => ticketing.attachFile(key, { filename: 'big.csv', content: 'x'.repeat(2048), contentType: 'text/csv' }))).err;

    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain('Jira refused to attach big.csv to');
    expect(err.message).toContain("the file (2,048 bytes) is larger than the Jira site's attachment size limit (413)");
    expect(jira.attachments(key)).toEqual([]);
  });

  it('attachments turned off: a PermanentError that says so (403); an unknown issue: a PermanentError naming it', async () => {
    const key = newIssue();
    jira.attachmentsEnabled = false;
    const off = (await failure(() => ticketing.attachFile(key, csv()))).err;
    expect(off).toBeInstanceOf(PermanentError);
    expect(off.message).toContain('(403): attachments are turned off on the Jira site, or the Grantline Jira account lacks the Create Attachments permission');
    expect(jira.attachments(key)).toEqual([]);

    const missing = (await failure(() => ticketing.attachFile('ACC-9999', csv()))).err;
    expect(missing).toBeInstanceOf(PermanentError);
    expect(missing.message).toContain('Jira issue ACC-9999 does not exist or is not visible');
  });
});

describe('the simulated Jira takes attachments only as Jira does', () => {
  const form = (name = 'file') => {
    const body = new FormData();
    body.append(name, new Blob(['a,b\n1,2\n'], { type: 'text/csv' }), 'raw.csv');
    return body;
  };
  const post = (key: string, init: { headers?: Record<string, string>; body: FormData | string }) =>
    fetch(`${jira.url}/rest/api/3/issue/${key}/attachments`, { method: 'POST', headers: { authorization: AUTH, ...init.headers }, body: init.body });

  it('refuses an upload without X-Atlassian-Token: no-check (403, XSRF check failed)', async () => {
    const key = newIssue();
    const res = await post(key, { body: form() });
    expect(res.status).toBe(403);
    expect(await res.text()).toBe('XSRF check failed');
    expect(jira.attachments(key)).toEqual([]);
  });

  it('refuses a body that is not multipart/form-data (415), and a form without a part named "file" (400)', async () => {
    const key = newIssue();
    const json = await post(key, {
      headers: { 'x-atlassian-token': 'no-check', 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'raw.csv', content: 'a,b' }),
    });
    expect(json.status).toBe(415);
    const unnamed = await post(key, { headers: { 'x-atlassian-token': 'no-check' }, body: form('upload') });
    expect(unnamed.status).toBe(400);
    expect(((await unnamed.json()) as { errorMessages: string[] }).errorMessages[0]).toContain("no part named 'file'");
    const noBoundary = await post(key, { headers: { 'x-atlassian-token': 'no-check', 'content-type': 'multipart/form-data' }, body: 'file=raw.csv' });
    expect(noBoundary.status).toBe(400);
    expect(jira.attachments(key)).toEqual([]);
  });

  it('takes a well-formed upload (200, the attachments made) and answers 404 for an unknown issue', async () => {
    const key = newIssue();
    const ok = await post(key, { headers: { 'x-atlassian-token': 'no-check' }, body: form() });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual([expect.objectContaining({ filename: 'raw.csv', mimeType: 'text/csv', size: 8, id: expect.any(String) })]);
    expect(jira.attachments(key)).toEqual([{ filename: 'raw.csv', mimeType: 'text/csv', content: 'a,b\n1,2\n' }]);

    expect((await post('ACC-9999', { headers: { 'x-atlassian-token': 'no-check' }, body: form() })).status).toBe(404);
  });
});
