import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JIRA_COMMENT_LIMIT, JiraTicketing, screenValues, toAdf } from '../../shared/connectors/jira.js';
import { PermanentError, RetryableError } from '../../shared/errors.js';
import { HttpFake } from '../../infra/local/sandbox/http-fake.js';
import { startFakeJira, type FakeJira } from '../../infra/local/sandbox/jira.js';

const EMAIL = 'bot@example.com';
const TOKEN = 'secret-token';

let jira: FakeJira;
let ticketing: JiraTicketing;

beforeAll(async () => {
  jira = await startFakeJira({ email: EMAIL, apiToken: TOKEN });
  ticketing = new JiraTicketing({ baseUrl: jira.url, email: EMAIL, apiToken: TOKEN, projectKey: 'ACC' });
});
afterAll(() => jira.close());
afterEach(() => jira.fake.clearFaults());

const newIssue = () => jira.createIssue({ summary: 'Access to billing', reporterEmail: 'alice@example.com' }).key;

async function failure(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof Error)) throw new Error(`expected a rejection, got ${String(err)}`);
  return err;
}

describe('JiraTicketing against the simulated Jira Cloud', () => {
  it('posts one ADF comment showing the title, the facts and the note', async () => {
    const key = newIssue();
    await ticketing.addComment(key, {
      title: 'Access granted',
      facts: [
        { label: 'App', value: 'billing' },
        { label: 'Role', value: 'admin' },
        { label: 'Expires', value: '2030-01-01T00:00:00Z' },
      ],
      note: 'Access is revoked automatically.',
      internal: true,
    });
    expect(jira.commentTexts(key)).toEqual([
      'Access granted\n- App: billing\n- Role: admin\n- Expires: 2030-01-01T00:00:00Z\nAccess is revoked automatically.',
    ]);
    const [body] = jira.comments(key);
    expect(body).toMatchObject({ type: 'doc', version: 1 });
    expect(JSON.stringify(body)).toContain('"strong"');
  });

  it('renders facts with an empty value and no note without empty ADF text nodes', () => {
    const doc = toAdf({ title: 'Declined', facts: [{ label: 'Reason', value: '' }], internal: true });
    expect(doc.content).toHaveLength(2);
    expect(JSON.stringify(doc)).not.toContain('"text":""');
  });

  it('moves an issue by target status name, case-insensitively', async () => {
    const key = newIssue();
    expect(await ticketing.transition(key, 'waiting FOR approval')).toBe(true);
    expect(jira.issue(key)?.status).toBe('Waiting for approval');
  });

  it('moves an issue by transition name', async () => {
    const key = newIssue();
    expect(await ticketing.transition(key, 'Grant access', { resolution: 'Done' })).toBe(true);
    expect(jira.issue(key)?.status).toBe('Access granted');
  });

  it('returns true without posting when the issue is already in that status', async () => {
    const key = newIssue();
    await ticketing.transition(key, 'Declined', { resolution: "Won't Do" });
    const posts = () => jira.fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith(`${key}/transitions`));
    expect(posts()).toHaveLength(1);
    expect(await ticketing.transition(key, 'declined')).toBe(true);
    expect(posts()).toHaveLength(1);
    expect(jira.issue(key)?.status).toBe('Declined');
  });

  it('returns false for a transition the workflow does not have, leaving the status alone', async () => {
    const key = newIssue();
    expect(await ticketing.transition(key, 'Escalate to legal')).toBe(false);
    expect(jira.issue(key)?.status).toBe('Open');
  });

  it('reads a visible reporter email and returns undefined when hidden or unknown', async () => {
    const visible = jira.addUser({ email: 'Bob@Example.com', displayName: 'Bob' });
    const hidden = jira.addUser({ email: 'carol@example.com', emailVisible: false });
    expect(await ticketing.userEmail(visible)).toBe('Bob@Example.com');
    expect(await ticketing.userEmail(hidden)).toBeUndefined();
    expect(await ticketing.userEmail('712020:no-such-user')).toBeUndefined();
  });

  it('creates an issue with the reporter found by email and the given fields', async () => {
    const dave = jira.addUser({ email: 'dave@example.com', displayName: 'Dave' });
    const { key } = await ticketing.createIssue({
      summary: 'Grant Dave billing admin',
      reporterEmail: 'DAVE@example.com',
      fields: { customfield_10070: 'billing' },
    });
    expect(key).toMatch(/^ACC-\d+$/);
    expect(jira.issue(key)).toMatchObject({
      summary: 'Grant Dave billing admin',
      status: 'Open',
      reporterAccountId: dave,
      issueType: 'Task',
      fields: { customfield_10070: 'billing' },
    });
  });

  it('refuses to create an issue when no visible user has the reporter email', async () => {
    jira.addUser({ email: 'erin@example.com', emailVisible: false });
    const err = await failure(ticketing.createIssue({ summary: 'x', reporterEmail: 'erin@example.com', fields: {} }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain('erin@example.com');
  });

  it('reports a Jira validation error (400) as permanent with the field messages', async () => {
    jira.addUser({ email: 'frank@example.com' });
    const err = await failure(ticketing.createIssue({ summary: 'x'.repeat(300), reporterEmail: 'frank@example.com', fields: {} }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain('summary: Summary must be less than 255 characters.');
  });

  it('reports a project Jira does not have as permanent, naming the project and its setting', async () => {
    const other = new JiraTicketing({ baseUrl: jira.url, email: EMAIL, apiToken: TOKEN, projectKey: 'NOPE' });
    const err = await failure(other.createIssue({ summary: 'x', reporterEmail: 'frank@example.com', fields: {} }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe('Jira project NOPE does not exist or is not visible to the Grantline Jira account: check the project key (JIRA_PROJECT_KEY)');
  });

  it('reports wrong credentials as a permanent error', async () => {
    const wrong = new JiraTicketing({ baseUrl: jira.url, email: EMAIL, apiToken: 'not-the-token' });
    const err = await failure(wrong.addComment(newIssue(), { title: 't', facts: [], internal: true }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(/Jira rejected the credentials/);
    expect(err.message).not.toContain('not-the-token');
  });

  it('reports an unknown issue as a permanent error naming the key', async () => {
    const err = await failure(ticketing.addComment('ACC-9999', { title: 't', facts: [], internal: true }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain('Jira issue ACC-9999 does not exist or is not visible');
    expect(await failure(ticketing.transition('ACC-9999', 'Done'))).toBeInstanceOf(PermanentError);
  });

  it('maps 429 with Retry-After to a retryable error carrying the delay', async () => {
    const key = newIssue();
    jira.fake.injectFault({ status: 429, headers: { 'Retry-After': '2' }, body: { errorMessages: ['Rate limit'] } });
    const err = await failure(ticketing.addComment(key, { title: 't', facts: [], internal: true }));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).retryAfterMs).toBe(2000);
    expect(jira.comments(key)).toHaveLength(0);
  });

  it('maps 429 with only X-RateLimit-Reset to a retryable error with the time until the reset', async () => {
    // The wait is the reset minus the moment the answer is read, which lies between these two
    // readings of the clock, however long the call takes on a busy machine.
    const resetAt = Date.now() + 60_000;
    jira.fake.injectFault({ status: 429, headers: { 'X-RateLimit-Reset': new Date(resetAt).toISOString() } });
    const before = Date.now();
    const err = await failure(ticketing.userEmail(jira.botAccountId));
    const after = Date.now();
    expect(err).toBeInstanceOf(RetryableError);
    const waitMs = (err as RetryableError).retryAfterMs;
    expect(waitMs).toBeGreaterThanOrEqual(resetAt - after);
    expect(waitMs).toBeLessThanOrEqual(resetAt - before);
  });

  it.each([503, 500, 502])('maps %i to a retryable error', async (status) => {
    const key = newIssue();
    jira.fake.injectFault({ path: `/rest/api/3/issue/${key}`, status, body: { errorMessages: ['Internal server error'] } });
    const err = await failure(ticketing.transition(key, 'Done'));
    expect(err).toBeInstanceOf(RetryableError);
  });

  it('maps a timeout to a retryable error instead of hanging', async () => {
    const hung = new HttpFake('hung-jira');
    hung.route('GET', '/rest/api/3/user', () => new Promise(() => undefined));
    const url = await hung.listen();
    try {
      const slow = new JiraTicketing({ baseUrl: url, email: EMAIL, apiToken: TOKEN, timeoutMs: 200 });
      const err = await failure(slow.userEmail('someone'));
      expect(err).toBeInstanceOf(RetryableError);
      expect(err.message).toContain('timeout');
    } finally {
      await hung.close();
    }
  });

  it('maps a refused connection to a retryable error', async () => {
    const gone = new HttpFake('gone');
    const url = await gone.listen();
    await gone.close();
    const err = await failure(new JiraTicketing({ baseUrl: url, email: EMAIL, apiToken: TOKEN }).userEmail('x'));
    expect(err).toBeInstanceOf(RetryableError);
  });
});

describe('evidence comments as strict as Jira Cloud takes them (issue 7)', () => {
  const post = (key: string, body: unknown) =>
    fetch(`${jira.url}/rest/api/3/issue/${key}/comment`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ body }),
    });
  const paragraph = (text: string, marks?: Array<{ type: string }>) => ({
    type: 'doc',
    version: 1,
    content: [{ type: 'paragraph', content: [{ type: 'text', text, ...(marks ? { marks } : {}) }] }],
  });

  it("the simulated Jira refuses a body over 32,767 characters with Jira's error shape, and an invalid ADF document", async () => {
    const key = newIssue();
    const tooLong = await post(key, paragraph('x'.repeat(JIRA_COMMENT_LIMIT)));
    expect(tooLong.status).toBe(400);
    expect(await tooLong.json()).toEqual({ errorMessages: [], errors: { comment: expect.stringContaining('32,767') } });
    expect((await post(key, paragraph('x', [{ type: 'sparkle' }]))).status).toBe(400);
    expect((await post(key, { type: 'doc', version: 1, content: [{ type: 'blink', content: [] }] })).status).toBe(400);
    expect(jira.comments(key)).toEqual([]);
  });

  it('cuts the longest text of a comment to fit, saying how much was cut, and keeps the rest whole', async () => {
    const key = newIssue();
    const long = `${'a'.repeat(150_000)}😀${'b'.repeat(50_000)}`;
    await ticketing.addComment(key, {
      title: 'Grantline: requested',
      facts: [
        { label: 'Justification', value: long },
        { label: 'Grant', value: 'g-1' },
      ],
      ref: 'g-1/requested',
      internal: true,
    });

    const [text] = jira.commentTexts(key);
    expect(JSON.stringify(jira.comments(key)[0]).length).toBeLessThanOrEqual(JIRA_COMMENT_LIMIT);
    const cut = /- Justification: (a+)… \(cut: (\d+) characters; full text in the Grantline ledger\)\n/.exec(text ?? '');
    expect(cut).not.toBeNull();
    expect(cut![1]!.length + Number(cut![2])).toBe(long.length);
    expect(text).toMatch(/^Grantline: requested\n/);
    expect(text).toContain('\n- Grant: g-1\nEvidence id: g-1/requested');
  });

  it('hasComment finds a comment by its ref on any page, and not a ref that only appears in a field value', async () => {
    const key = newIssue();
    await ticketing.addComment(key, { title: 'first', facts: [], ref: 'g-1/requested', internal: true });
    for (let i = 0; i < 25; i++)
      await ticketing.addComment(key, {
        title: `later ${i}`,
        facts: [{ label: 'Note', value: 'g-1/approved#0' }],
        ref: `g-1/other#${i}`,
        internal: i % 2 === 0,
      });

    expect(await ticketing.hasComment(key, 'g-1/requested')).toBe(true);
    expect(await ticketing.hasComment(key, 'g-1/other#24')).toBe(true);
    expect(await ticketing.hasComment(key, 'g-1/approved#0')).toBe(false);
    const listings = jira.fake.requests.filter((r) => r.method === 'GET' && r.path === `/rest/api/3/issue/${key}/comment`);
    expect(listings.length).toBeGreaterThan(1);
    expect(await failure(ticketing.hasComment('ACC-9999', 'g-1/requested'))).toBeInstanceOf(PermanentError);
  });
});

describe('syncFieldOptions: request fields offer exactly the catalog (grantline catalog sync --jira)', () => {
  let nextField = 10070;
  /** A fresh select field per test, so tests do not see each other's options. */
  const selectField = (options: string[]): string => {
    const fieldId = `customfield_${nextField++}`;
    jira.addSelectField(fieldId, options);
    return fieldId;
  };
  /** Requests to the field's option/context endpoints made while `fn` runs. */
  async function requestsDuring(fieldId: string, fn: () => Promise<unknown>): Promise<Array<{ method: string; path: string }>> {
    const before = jira.fake.requests.length;
    await fn();
    return jira.fake.requests
      .slice(before)
      .filter((r) => r.path.startsWith(`/rest/api/3/field/${fieldId}/`))
      .map(({ method, path }) => ({ method, path }));
  }
  const writes = (requests: Array<{ method: string }>) => requests.filter((r) => r.method !== 'GET');

  it('creates the missing options, enabled, after the existing ones', async () => {
    const field = selectField(['Figma']);
    const change = await ticketing.syncFieldOptions(field, ['Figma', 'Notion', 'Salesforce']);
    expect(change).toEqual({ added: ['Notion', 'Salesforce'], enabled: [], disabled: [], unchanged: ['Figma'] });
    expect(jira.fieldOptions(field)).toEqual([
      { value: 'Figma', disabled: false },
      { value: 'Notion', disabled: false },
      { value: 'Salesforce', disabled: false },
    ]);
  });

  it('disables options no longer listed instead of deleting them', async () => {
    const field = selectField(['Figma', 'Salesforce', 'Notion']);
    const change = await ticketing.syncFieldOptions(field, ['Figma', 'Notion']);
    expect(change).toEqual({ added: [], enabled: [], disabled: ['Salesforce'], unchanged: ['Figma', 'Notion'] });
    expect(jira.fieldOptions(field)).toEqual([
      { value: 'Figma', disabled: false },
      { value: 'Salesforce', disabled: true }, // still there: existing issues keep showing it
      { value: 'Notion', disabled: false },
    ]);
  });

  it('re-enables a disabled option that is listed again rather than creating a second one', async () => {
    const field = selectField(['Figma', 'Salesforce']);
    await ticketing.syncFieldOptions(field, ['Figma']);
    const change = await ticketing.syncFieldOptions(field, ['Figma', 'Salesforce']);
    expect(change).toEqual({ added: [], enabled: ['Salesforce'], disabled: [], unchanged: ['Figma'] });
    expect(jira.fieldOptions(field)).toEqual([
      { value: 'Figma', disabled: false },
      { value: 'Salesforce', disabled: false },
    ]);
  });

  it('sends no write when the options already match, and only the toggles otherwise', async () => {
    const field = selectField(['Figma', 'Salesforce', 'Notion']);
    const same = await requestsDuring(field, () => ticketing.syncFieldOptions(field, ['Notion', 'Figma', 'Salesforce']));
    expect(writes(same)).toEqual([]);

    const before = jira.fake.requests.length;
    await ticketing.syncFieldOptions(field, ['Figma', 'Notion']);
    const put = jira.fake.requests.slice(before).find((r) => r.method === 'PUT');
    // Only the option that changes, and no value: an unchanged option is never rewritten (or renamed).
    expect(put?.body).toEqual({ options: [{ id: expect.any(String), disabled: true }] });
    expect(
      jira
        .fieldOptions(field)
        .filter((o) => !o.disabled)
        .map((o) => o.value),
    ).toEqual(['Figma', 'Notion']);
  });

  it('reads every page when the field has more options than one page holds', async () => {
    const apps = Array.from({ length: 25 }, (_, i) => `App ${String(i).padStart(2, '0')}`);
    const field = selectField(apps);
    // Keep all but the last one (on the third page) and add one: a caller that read only the
    // first page would try to re-create App 10..App 23 (Jira answers 400) and miss App 24.
    const wanted = [...apps.slice(0, 24), 'App 25'];
    let change: Awaited<ReturnType<typeof ticketing.syncFieldOptions>> | undefined;
    const requests = await requestsDuring(field, async () => (change = await ticketing.syncFieldOptions(field, wanted)));
    expect(change).toEqual({ added: ['App 25'], enabled: [], disabled: ['App 24'], unchanged: apps.slice(0, 24) });
    expect(requests.filter((r) => r.method === 'GET' && r.path.endsWith('/option'))).toHaveLength(3); // 10 + 10 + 5
    expect(writes(requests).map((r) => r.method)).toEqual(['POST', 'PUT']);
    expect(jira.fieldOptions(field)).toHaveLength(26);
  });

  it('reports an unknown field as a PermanentError naming it', async () => {
    const err = await failure(ticketing.syncFieldOptions('customfield_99999', ['Figma']));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe('Jira has no custom field customfield_99999 (or it is not a select list)');
  });

  it('maps a rate limit on the option write to a retryable error', async () => {
    const field = selectField(['Figma']);
    jira.fake.injectFault({ method: 'POST', path: `/rest/api/3/field/${field}/`, status: 429, headers: { 'Retry-After': '1' } });
    const err = await failure(ticketing.syncFieldOptions(field, ['Figma', 'Notion']));
    expect(err).toBeInstanceOf(RetryableError);
    expect(jira.fieldOptions(field)).toEqual([{ value: 'Figma', disabled: false }]);
  });
});

describe('Jira Service Management: who sees a comment', () => {
  const auth = { authorization: `Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}`, 'content-type': 'application/json' };
  const doc = { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: 'hi' }] }] };
  const postRaw = (key: string, extra: Record<string, unknown>) =>
    fetch(`${jira.url}/rest/api/3/issue/${key}/comment`, { method: 'POST', headers: auth, body: JSON.stringify({ body: doc, ...extra }) });

  it('an internal comment carries the sd.public.comment property; Jira lists it with jsdPublic false, and the customer does not see it', async () => {
    const key = newIssue();
    await ticketing.addComment(key, { title: 'Grantline: added nina to okta group 00gbilling', facts: [], ref: 'g-1/provisioned', internal: true });
    await ticketing.addComment(key, { title: 'Access granted.', facts: [], ref: 'g-1/provisioned/notice', internal: false });

    const posts = jira.fake.requests.filter((r) => r.method === 'POST' && r.path === `/rest/api/3/issue/${key}/comment`);
    expect(posts.map((r) => (r.body as { properties?: unknown }).properties)).toEqual([
      [{ key: 'sd.public.comment', value: { internal: true } }],
      [{ key: 'sd.public.comment', value: { internal: false } }],
    ]);
    const listed = (await (await fetch(`${jira.url}/rest/api/3/issue/${key}/comment`, { headers: auth })).json()) as {
      comments: Array<{ jsdPublic: boolean }>;
    };
    expect(listed.comments.map((c) => c.jsdPublic)).toEqual([false, true]);
    expect(jira.publicCommentTexts(key)).toEqual(['Access granted.\nReference: g-1/provisioned/notice']);
    expect(jira.commentTexts(key, 'internal')).toEqual(['Grantline: added nina to okta group 00gbilling\nEvidence id: g-1/provisioned']);
    // hasComment finds either by its ref, whatever the label the requester reads.
    expect(await ticketing.hasComment(key, 'g-1/provisioned/notice')).toBe(true);
  });

  it('the simulated Jira refuses properties that are not a list of {key, value}, storing nothing; without properties a comment is public', async () => {
    const key = newIssue();
    expect((await postRaw(key, { properties: { key: 'sd.public.comment', value: { internal: true } } })).status).toBe(400);
    expect((await postRaw(key, { properties: [{ value: { internal: true } }] })).status).toBe(400);
    expect((await postRaw(key, { properties: [{ key: '', value: {} }] })).status).toBe(400);
    expect(jira.comments(key)).toEqual([]);

    expect((await postRaw(key, {})).status).toBe(201);
    expect(jira.publicCommentTexts(key)).toEqual(['hi']);
  });
});

describe('transitions whose screen requires a field (stock JSM: Resolution into a resolved status)', () => {
  const transitionPosts = (key: string) => jira.fake.requests.filter((r) => r.method === 'POST' && r.path === `/rest/api/3/issue/${key}/transitions`);

  it('moves an issue to Declined with the configured resolution, sent by the name Jira spells it', async () => {
    const key = newIssue();
    expect(await ticketing.transition(key, 'Declined', { resolution: "won't do", resolutionSetting: 'JIRA_RESOLUTION_DENIED' })).toBe(true);

    expect(jira.issue(key)).toMatchObject({ status: 'Declined', resolution: "Won't Do" });
    expect(transitionPosts(key).map((r) => r.body)).toEqual([{ transition: { id: '51' }, fields: { resolution: { name: "Won't Do" } } }]);
  });

  it('without a configured resolution: a PermanentError naming the transition, the field and the setting; the issue stays put and Jira is not asked to move it', async () => {
    const key = newIssue();
    const err = await failure(ticketing.transition(key, 'Declined', { resolutionSetting: 'JIRA_RESOLUTION_DENIED' }));

    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe(
      `Jira's transition "Decline" (to Declined) requires the field Resolution (resolution): set JIRA_RESOLUTION_DENIED to the resolution to use ` +
        "(e.g. Done, Won't Do, Duplicate, Cannot Reproduce, Declined)",
    );
    expect(jira.issue(key)?.status).toBe('Open');
    expect(transitionPosts(key)).toEqual([]);
  });

  it('a resolution the site does not have: a PermanentError listing the ones it offers', async () => {
    const key = newIssue();
    const err = await failure(ticketing.transition(key, 'Done', { resolution: 'Fixed', resolutionSetting: 'JIRA_RESOLUTION_REVOKED' }));

    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain(`Jira's transition "Close" (to Done) offers no resolution "Fixed" (it offers Done, Won't Do,`);
    expect(err.message).toContain('set JIRA_RESOLUTION_REVOKED to one of them');
    expect(jira.issue(key)?.status).toBe('Open');
  });

  it('a transition without a screen gets no fields, even with a resolution configured (Jira refuses a field not on the screen)', async () => {
    const key = newIssue();
    expect(await ticketing.transition(key, 'Waiting for approval', { resolution: 'Done' })).toBe(true);

    expect(jira.issue(key)?.status).toBe('Waiting for approval');
    expect(transitionPosts(key).map((r) => r.body)).toEqual([{ transition: { id: '21' } }]);
    expect(jira.fake.requests.some((r) => r.path === `/rest/api/3/issue/${key}/transitions` && r.method === 'GET')).toBe(false);
  });

  it('the simulated Jira answers as Jira: the screen in transitions.fields, 400 without the resolution or with an unknown one, the resolution list', async () => {
    const key = newIssue();
    const headers = { authorization: `Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}`, 'content-type': 'application/json' };
    const screen = (await (await fetch(`${jira.url}/rest/api/3/issue/${key}/transitions?transitionId=61&expand=transitions.fields`, { headers })).json()) as {
      transitions: Array<{ id: string; hasScreen: boolean; fields: Record<string, unknown> }>;
    };
    expect(screen.transitions).toHaveLength(1);
    expect(screen.transitions[0]).toMatchObject({ id: '61', hasScreen: true });
    expect(screen.transitions[0]?.fields.resolution).toMatchObject({
      required: true,
      schema: { type: 'resolution', system: 'resolution' },
      name: 'Resolution',
      key: 'resolution',
      hasDefaultValue: false,
      operations: ['set'],
      allowedValues: expect.arrayContaining([expect.objectContaining({ id: '10000', name: 'Done' })]),
    });

    const move = (fields?: unknown) =>
      fetch(`${jira.url}/rest/api/3/issue/${key}/transitions`, { method: 'POST', headers, body: JSON.stringify({ transition: { id: '61' }, fields }) });
    const missing = await move();
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({ errorMessages: [], errors: { resolution: 'Resolution is required.' } });
    const unknown = await move({ resolution: { name: 'Fixed' } });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { errors: Record<string, string> }).errors).toHaveProperty('resolution');
    expect(jira.issue(key)?.status).toBe('Open');

    const resolutions = (await (await fetch(`${jira.url}/rest/api/3/resolution`, { headers })).json()) as Array<{ name: string }>;
    expect(resolutions.map((r) => r.name)).toEqual(['Done', "Won't Do", 'Duplicate', 'Cannot Reproduce', 'Declined']);
    expect((await move({ resolution: { id: '10000' } })).status).toBe(204);
    expect(jira.issue(key)).toMatchObject({ status: 'Done', resolution: 'Done' });
    // Reopened: the resolution is cleared, as a stock workflow does.
    expect(await ticketing.transition(key, 'Open')).toBe(true);
    expect(jira.issue(key)?.resolution).toBeUndefined();
  });

  it('a required field Grantline cannot fill is named with the way to fix it; one with a default, or optional, is left to Jira', () => {
    const transition = { name: 'Close', to: 'Done' };
    expect(() =>
      screenValues(transition, { customfield_10090: { required: true, hasDefaultValue: false, name: 'Root cause' } }, { resolution: 'Done' }),
    ).toThrow(
      `Jira's transition "Close" (to Done) requires the field Root cause (customfield_10090): Grantline cannot fill it: make it optional or give it a default on the transition's screen`,
    );
    expect(() => screenValues(transition, { resolution: { required: true, hasDefaultValue: false, name: 'Resolution' } }, {})).toThrow(
      'Grantline sets a resolution only when access is granted, denied or removed',
    );
    expect(
      screenValues(
        transition,
        {
          customfield_10091: { required: true, hasDefaultValue: true, name: 'Team' },
          customfield_10092: { required: false, hasDefaultValue: false, name: 'Notes' },
          resolution: { required: false, schema: { system: 'resolution' }, name: 'Resolution' },
        },
        { resolution: 'Done' },
      ),
    ).toEqual({ resolution: { name: 'Done' } });
  });
});
