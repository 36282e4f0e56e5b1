/**
 * Filing an issue as Jira Cloud takes it: the simulated Jira refuses what Jira Cloud refuses on
 * POST /rest/api/3/issue, and JiraTicketing (real jira.js) shapes each plain value from the field's
 * type, so what is stored is a select option, an ADF document, an account id.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jiraFieldValues } from '../../shared/catalog/sync.js';
import { parseConfig } from '../../shared/config.js';
import { JiraTicketing } from '../../shared/connectors/jira.js';
import { PermanentError } from '../../shared/errors.js';
import { requestTicket } from '../../shared/request-ticket.js';
import { adfToText, startFakeJira, type FakeJira } from '../../infra/local/sandbox/jira.js';
import { testCatalog } from '../support/catalog.js';

const EMAIL = 'bot@example.com';
const TOKEN = 'secret-token';
const NINA = 'nina.newhire@example.com';

const APP = 'customfield_10071';
const ROLE = 'customfield_10072';
const DURATION = 'customfield_10073';
const SUBJECT = 'customfield_10070';
const NOTES = 'customfield_10080';
const APPROVER = 'customfield_10081';
const TEAMS = 'customfield_10082';

let jira: FakeJira;
let ticketing: JiraTicketing;

beforeEach(async () => {
  jira = await startFakeJira({ email: EMAIL, apiToken: TOKEN });
  ticketing = new JiraTicketing({ baseUrl: jira.url, email: EMAIL, apiToken: TOKEN, projectKey: 'ACC' });
  jira.addSelectField(APP, ['Figma', 'Notion', 'Salesforce']);
  jira.addSelectField(ROLE, ['viewer', 'member', 'admin']);
  jira.addSelectField(DURATION, ['PT1H', 'permanent']);
  jira.addField({ id: NOTES, name: 'Notes', type: 'textarea' });
  jira.addField({ id: APPROVER, name: 'Approver', type: 'user' });
  jira.addField({ id: TEAMS, name: 'Teams', type: 'multiselect', options: ['Design', 'Sales'] });
});
afterEach(() => jira.close());

async function failure(promise: Promise<unknown>): Promise<Error> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof Error)) throw new Error(`expected a rejection, got ${String(err)}`);
  return err;
}

/** POST /rest/api/3/issue as any client would send it (the raw body, so anything can be sent). */
async function post(body: string, contentType = 'application/json'): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${jira.url}/rest/api/3/issue`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}`, 'content-type': contentType },
    body,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Jira's XSRF refusal is plain text.
  }
  return { status: res.status, body: parsed };
}
const create = (fields: Record<string, unknown>) =>
  post(JSON.stringify({ fields: { project: { key: 'ACC' }, issuetype: { name: 'Task' }, summary: 'Access request', ...fields } }));
const refusal = (errors: Record<string, string>) => ({ status: 400, body: { errorMessages: [], errors } });
/** Issue keys are only used up by issues filed: the next one filed being ACC-1 proves nothing was. */
async function nothingWasFiled(): Promise<void> {
  const next = await create({});
  expect(next).toMatchObject({ status: 201, body: { key: 'ACC-1' } });
}

describe('the simulated Jira refuses what Jira Cloud refuses on create', () => {
  it("refuses today's string form for a select field with a 400 naming the field, and files nothing", async () => {
    const res = await create({ [APP]: 'Notion', [ROLE]: 'member' });

    expect(res).toEqual(
      refusal({
        [APP]: "Could not find valid 'id' or 'value' in the Parent Option object.",
        [ROLE]: "Could not find valid 'id' or 'value' in the Parent Option object.",
      }),
    );
    await nothingWasFiled();
  });

  it('refuses a select value that is not an option, and an option that was disabled; takes an enabled one by value or id', async () => {
    await ticketing.syncFieldOptions(APP, ['Figma', 'Notion']); // Salesforce is disabled, not deleted

    expect(await create({ [APP]: { value: 'Photoshop' } })).toEqual(refusal({ [APP]: "Option value 'Photoshop' is not valid" }));
    expect(await create({ [APP]: { value: 'Salesforce' } })).toEqual(refusal({ [APP]: "Option value 'Salesforce' is not valid" }));
    expect(await create({ [APP]: { value: 'notion' } })).toEqual(refusal({ [APP]: "Option value 'notion' is not valid" }));
    expect(await create({ [TEAMS]: { value: 'Design' } })).toEqual(refusal({ [TEAMS]: 'data was not an array' }));
    await nothingWasFiled();

    const byValue = await create({ [APP]: { value: 'Notion' }, [TEAMS]: [{ value: 'Design' }, { value: 'Sales' }] });
    expect(byValue.status).toBe(201);
    const stored = jira.issue('ACC-2')!.fields;
    expect(stored[APP]).toMatchObject({ value: 'Notion', id: expect.any(String) });
    expect(stored[TEAMS]).toMatchObject([{ value: 'Design' }, { value: 'Sales' }]);
    const byId = await create({ [APP]: { id: (stored[APP] as { id: string }).id } });
    expect(byId.status).toBe(201);
  });

  it('refuses an email, or anything but an existing account id, in a user field', async () => {
    const nina = jira.addUser({ email: NINA });

    expect(await create({ [APPROVER]: NINA })).toEqual(refusal({ [APPROVER]: 'Specify a valid value for Approver' }));
    expect(await create({ [APPROVER]: { accountId: NINA } })).toEqual(refusal({ [APPROVER]: 'Specify a valid value for Approver' }));
    expect(await create({ [APPROVER]: { emailAddress: NINA } })).toEqual(refusal({ [APPROVER]: 'Specify a valid value for Approver' }));
    await nothingWasFiled();

    expect((await create({ [APPROVER]: { accountId: nina } })).status).toBe(201);
    expect(jira.issue('ACC-2')!.fields[APPROVER]).toMatchObject({ accountId: nina });
  });

  it('refuses a plain string in a paragraph field or the description, and a document in a short text field', async () => {
    const doc = { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: 'Onboarding' }] }] };
    const notADocument = 'Operation value must be an Atlassian Document (see the Atlassian Document Format)';

    expect(await create({ [NOTES]: 'Onboarding', description: 'Onboarding' })).toEqual(refusal({ [NOTES]: notADocument, description: notADocument }));
    expect(await create({ [SUBJECT]: doc })).toEqual(refusal({ [SUBJECT]: 'Operation value must be a string' }));
    await nothingWasFiled();

    expect((await create({ [NOTES]: doc, description: doc, [SUBJECT]: NINA })).status).toBe(201);
  });

  it('refuses a field it does not have, or one that is not on the create screen', async () => {
    jira.addField({ id: 'customfield_10090', name: 'Internal score', type: 'text', onCreateScreen: false });

    expect(await create({ customfield_99999: 'x', customfield_10090: 'x' })).toEqual(
      refusal({
        customfield_99999: "Field 'customfield_99999' cannot be set. It is not on the appropriate screen, or unknown.",
        customfield_10090: "Field 'customfield_10090' cannot be set. It is not on the appropriate screen, or unknown.",
      }),
    );
    await nothingWasFiled();
  });

  it('refuses a reporter when Grantline lacks Modify Reporter, and says so in mypermissions', async () => {
    const nina = jira.addUser({ email: NINA });
    jira.modifyReporter = false;
    const permissions = await fetch(`${jira.url}/rest/api/3/mypermissions?projectKey=ACC&permissions=MODIFY_REPORTER`, {
      headers: { authorization: `Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}` },
    });

    expect(await permissions.json()).toEqual({
      permissions: { MODIFY_REPORTER: expect.objectContaining({ key: 'MODIFY_REPORTER', name: 'Modify Reporter', havePermission: false }) },
    });
    expect(await create({ reporter: { id: nina } })).toEqual(
      refusal({ reporter: "Field 'reporter' cannot be set. It is not on the appropriate screen, or unknown." }),
    );
    await nothingWasFiled();
    expect(jira.issue('ACC-1')!.reporterAccountId).toBe(jira.botAccountId);
  });

  it('refuses a body that is not JSON: 400 for unparseable JSON, 403 for a form content type (XSRF), 415 for another', async () => {
    const broken = await post('{"fields": {"summary": "x"');
    expect(broken.status).toBe(400);
    expect(broken.body).toEqual({ errorMessages: [expect.stringMatching(/^Unexpected character/)], errors: {} });

    expect(await post('fields=x', 'application/x-www-form-urlencoded')).toEqual({ status: 403, body: 'XSRF check failed' });
    expect((await post('<fields/>', 'application/xml')).status).toBe(415);
    await nothingWasFiled();
  });

  it('lists its fields as GET /rest/api/3/field does: id, key, name, custom, clauseNames and schema', async () => {
    const res = await fetch(`${jira.url}/rest/api/3/field`, { headers: { authorization: `Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}` } });
    const fields = (await res.json()) as unknown[];

    expect(fields).toContainEqual({
      id: APP,
      key: APP,
      name: 'Application',
      untranslatedName: 'Application',
      custom: true,
      orderable: true,
      navigable: true,
      searchable: true,
      clauseNames: ['cf[10071]', 'Application'],
      schema: { type: 'option', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:select', customId: 10071 },
    });
    expect(fields).toContainEqual(expect.objectContaining({ id: 'description', custom: false, schema: { type: 'string', system: 'description' } }));
    expect(fields).toContainEqual(
      expect.objectContaining({ id: NOTES, schema: { type: 'string', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:textarea', customId: 10080 } }),
    );
    expect(fields).toContainEqual(expect.objectContaining({ id: TEAMS, schema: expect.objectContaining({ type: 'array', items: 'option' }) }));
  });
});

describe('JiraTicketing.createIssue shapes plain values as each field takes them', () => {
  it('files select options as {value}, paragraphs and the description as ADF, a user by account id, short text as text', async () => {
    const nina = jira.addUser({ email: NINA });
    const maria = jira.addUser({ email: 'maria.manager@example.com' });

    const { key } = await ticketing.createIssue({
      summary: 'Access: Notion member for nina',
      reporterEmail: 'Maria.Manager@example.com',
      fields: {
        [SUBJECT]: NINA,
        [APP]: 'Notion',
        [ROLE]: 'member',
        [DURATION]: 'permanent',
        [TEAMS]: 'Design',
        [APPROVER]: 'NINA.NEWHIRE@example.com',
        [NOTES]: 'first line\n\nthird line',
        description: 'Company wiki for onboarding',
      },
    });

    const issue = jira.issue(key)!;
    expect(issue.reporterAccountId).toBe(maria);
    expect(issue.fields).toMatchObject({
      [SUBJECT]: NINA,
      [APP]: { value: 'Notion' },
      [ROLE]: { value: 'member' },
      [DURATION]: { value: 'permanent' },
      [TEAMS]: [{ value: 'Design' }],
      [APPROVER]: { accountId: nina },
      [NOTES]: {
        type: 'doc',
        version: 1,
        content: [
          { type: 'paragraph', content: [{ type: 'text', text: 'first line' }] },
          { type: 'paragraph' },
          { type: 'paragraph', content: [{ type: 'text', text: 'third line' }] },
        ],
      },
    });
    expect(adfToText(issue.fields.description)).toBe('Company wiki for onboarding');
  });

  it('without Modify Reporter, files the issue with Grantline as reporter and names the requester in the description', async () => {
    jira.modifyReporter = false;

    // The requester needs no Jira account: nobody looks them up.
    const { key } = await ticketing.createIssue({
      summary: 'Access: Notion member',
      reporterEmail: NINA,
      fields: { [APP]: 'Notion', description: 'Company wiki\nfor onboarding' },
    });

    const issue = jira.issue(key)!;
    expect(issue.reporterAccountId).toBe(jira.botAccountId);
    expect(adfToText(issue.fields.description)).toBe(`Requested by ${NINA} (filed by Grantline on their behalf)\nCompany wiki\nfor onboarding`);
    const sent = jira.fake.requests.find((r) => r.method === 'POST' && r.path === '/rest/api/3/issue');
    expect(sent?.body).not.toHaveProperty('fields.reporter');
    expect(jira.fake.requests.some((r) => r.path === '/rest/api/3/user/search')).toBe(false);
  });

  it('reads the field list and the permission once per adapter', async () => {
    jira.addUser({ email: NINA });
    await ticketing.createIssue({ summary: 'one', reporterEmail: NINA, fields: { [APP]: 'Figma' } });
    await ticketing.createIssue({ summary: 'two', reporterEmail: NINA, fields: { [APP]: 'Notion' } });

    const reads = (path: string) => jira.fake.requests.filter((r) => r.method === 'GET' && r.path === path).length;
    expect(reads('/rest/api/3/field')).toBe(1);
    expect(reads('/rest/api/3/mypermissions')).toBe(1);
  });

  it('refuses a field id Jira does not have, naming the field and the setting to fix, and sends no issue', async () => {
    jira.addUser({ email: NINA });

    const err = await failure(
      ticketing.createIssue({
        summary: 'x',
        reporterEmail: NINA,
        fields: { customfield_10999: 'Notion' },
        fieldSettings: { customfield_10999: 'JIRA_FIELD_APP' },
      }),
    );

    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe(
      'Jira has no field customfield_10999 that the Grantline Jira account can see: check JIRA_FIELD_APP (field ids are listed by GET /rest/api/3/field; docs/jira-setup.md §2)',
    );
    expect(jira.fake.requests.some((r) => r.method === 'POST' && r.path === '/rest/api/3/issue')).toBe(false);
  });

  it("passes on Jira's refusal of a value that is not an option, naming the field", async () => {
    jira.addUser({ email: NINA });

    const err = await failure(ticketing.createIssue({ summary: 'x', reporterEmail: NINA, fields: { [ROLE]: 'owner' } }));

    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain(`${ROLE}: Option value 'owner' is not valid`);
  });

  it('refuses a user field whose email no visible Jira account has, naming the field', async () => {
    jira.addUser({ email: NINA });

    const err = await failure(ticketing.createIssue({ summary: 'x', reporterEmail: NINA, fields: { [APPROVER]: 'nobody@example.com' } }));

    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain(`nobody@example.com (Jira field Approver (${APPROVER}))`);
  });

  it('a request typed in any case files the options `grantline catalog sync --jira` created', async () => {
    const catalog = testCatalog();
    const offered = jiraFieldValues(catalog);
    jira.addSelectField(APP, offered.apps);
    jira.addSelectField(ROLE, offered.roles);
    jira.addSelectField(DURATION, offered.durations);
    jira.addUser({ email: NINA });
    const config = parseConfig({});

    const ticket = requestTicket(config, catalog, {
      requester: NINA,
      subject: NINA,
      app: 'salesforce',
      role: 'Read-Only',
      duration: 'p90d',
      justification: 'Quarterly forecast',
    });
    const { key } = await ticketing.createIssue(ticket);

    expect(ticket.fields).toEqual({ [SUBJECT]: NINA, [APP]: 'Salesforce', [ROLE]: 'read-only', [DURATION]: 'P90D', description: 'Quarterly forecast' });
    expect(jira.issue(key)!.fields).toMatchObject({ [APP]: { value: 'Salesforce' }, [ROLE]: { value: 'read-only' }, [DURATION]: { value: 'P90D' } });
  });
});

describe('labels: how a retried filing finds its own issue', () => {
  it('files the labels and finds the issue by one; refuses a label with a space as Jira does', async () => {
    const { key } = await ticketing.createIssue({ summary: 'Access', reporterEmail: EMAIL, fields: {}, labels: ['grantline-abc123'] });

    expect(jira.issue(key)?.fields.labels).toEqual(['grantline-abc123']);
    expect(await ticketing.findIssueByLabel('grantline-abc123')).toBe(key);
    expect(await ticketing.findIssueByLabel('grantline-other')).toBeUndefined();
    const spaced = await post(JSON.stringify({ fields: { project: { key: 'ACC' }, issuetype: { name: 'Task' }, summary: 'x', labels: ['two words'] } }));
    expect(spaced).toEqual({ status: 400, body: { errorMessages: [], errors: { labels: "The label 'two words' contains spaces which is invalid." } } });
  });
});
