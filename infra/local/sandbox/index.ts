/**
 * The sandbox: simulated Jira, Slack, Okta, Microsoft Graph (https, self-signed) and Google Admin
 * on loopback, seeded with the catalog's people and groups, so a newcomer sees the whole flow with no credentials. The real SDK adapters talk to
 * these servers exactly as they would to the vendors. `SandboxClient` plays the parts the vendors
 * play: Jira's automation rule posting the webhook, and Slack posting a signed button click.
 */
import { randomBytes } from 'node:crypto';
import { signSlackRequest } from '../../../shared/auth.js';
import type { Catalog } from '../../../shared/catalog/schema.js';
import { APPROVE_ACTION_ID, DENY_ACTION_ID } from '../../../shared/ports.js';
import { fileURLToPath } from 'node:url';
import { startFakeGraph, type FakeGraph } from './entra.js';
import { startFakeGoogleAdmin, type FakeGoogleAdmin } from './google.js';
import { startFakeJira, type FakeJira } from './jira.js';
import { startFakeOkta, type FakeOkta } from './okta.js';
import { startFakeSlack, type FakeSlack } from './slack.js';

/** People the sandbox knows besides the catalog's owners and approvers. */
export const SANDBOX_PEOPLE = {
  newHire: 'nina.newhire@example.com',
  manager: 'maria.manager@example.com',
  engineer: 'eli.engineer@example.com',
  intruder: 'mallory.intruder@example.com',
  departed: 'dave.departed@example.com',
} as const;

export interface Sandbox {
  jira: FakeJira;
  slack: FakeSlack;
  okta: FakeOkta;
  graph: FakeGraph;
  google: FakeGoogleAdmin;
  /** Members of a mapped group, whichever provider holds it. */
  members(provider: string, groupId: string): string[];
  /** Environment for the local runtime: every connector pointed at the simulated services. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startSandbox(catalog: Catalog): Promise<Sandbox> {
  const jiraEmail = 'grantline-bot@example.com';
  const jiraToken = `sandbox-${randomBytes(6).toString('hex')}`;
  const [jira, slack, okta, graph, google] = await Promise.all([
    startFakeJira({ email: jiraEmail, apiToken: jiraToken, projectKey: 'ACC' }),
    startFakeSlack(),
    startFakeOkta(),
    startFakeGraph(),
    startFakeGoogleAdmin({ domains: ['example.com'] }),
  ]);

  const people = new Set<string>(Object.values(SANDBOX_PEOPLE));
  for (const app of Object.values(catalog.apps)) people.add(app.owner);
  for (const members of Object.values(catalog.approverGroups)) for (const m of members) people.add(m);
  for (const [person, manager] of Object.entries(catalog.managers)) people.add(person).add(manager);

  const managerOf: Record<string, string> = {
    [SANDBOX_PEOPLE.newHire]: SANDBOX_PEOPLE.manager,
    [SANDBOX_PEOPLE.engineer]: SANDBOX_PEOPLE.manager,
  };
  // Managers first, so reports can point at them (Graph's manager is an object id).
  const ordered = [...people].sort((a, b) => Number(Object.values(managerOf).includes(b)) - Number(Object.values(managerOf).includes(a)));
  const graphIds = new Map<string, string>();
  for (const email of ordered) {
    const [first = 'user', last = 'example'] = email.split('@')[0]!.split('.');
    const manager = managerOf[email];
    const departed = email === SANDBOX_PEOPLE.departed;
    const id = okta.addUser({ email, firstName: capital(first), lastName: capital(last), ...(manager ? { managerId: manager } : {}) });
    if (departed) okta.setUserStatus(id, 'DEPROVISIONED');
    const managerGraphId = manager ? graphIds.get(manager) : undefined;
    graphIds.set(email, graph.addUser({ mail: email, accountEnabled: !departed, ...(managerGraphId ? { managerId: managerGraphId } : {}) }));
    google.addUser({ email, suspended: departed, ...(manager ? { managerEmail: manager } : {}) });
    slack.addUser({ email, name: first });
    jira.addUser({ email, displayName: `${capital(first)} ${capital(last)}` });
  }
  for (const app of Object.values(catalog.apps)) {
    for (const [roleKey, role] of Object.entries(app.roles)) {
      if (role.group === 'manual') continue;
      const provider = role.provider ?? app.provider ?? catalog.defaults.provider;
      const name = `${app.name} ${roleKey}`;
      if (provider === 'okta') okta.addGroup({ id: role.group, name });
      if (provider === 'entra') graph.addGroup({ id: role.group, displayName: name });
      if (provider === 'google') google.addGroup({ email: role.group, name });
    }
  }

  const env = {
    JIRA_BASE_URL: jira.url,
    JIRA_EMAIL: jiraEmail,
    JIRA_API_TOKEN: jiraToken,
    JIRA_PROJECT_KEY: 'ACC',
    JIRA_ISSUE_TYPE: 'Access request',
    SLACK_API_URL: slack.apiUrl,
    SLACK_BOT_TOKEN: slack.token,
    SLACK_SIGNING_SECRET: randomBytes(16).toString('hex'),
    OKTA_ORG_URL: okta.url,
    OKTA_API_TOKEN: okta.token,
    GRAPH_BASE_URL: graph.url,
    AZURE_AUTHORITY_HOST: graph.url,
    AZURE_TENANT_ID: graph.tenantId,
    AZURE_CLIENT_ID: graph.clientId,
    AZURE_CLIENT_SECRET: graph.clientSecret,
    GRAPH_EXTRA_CA_FILE: fileURLToPath(new URL('./certs/graph-localhost.crt', import.meta.url)),
    GOOGLE_ADMIN_ROOT_URL: google.url,
    GOOGLE_ACCESS_TOKEN: google.token,
    GRANTLINE_JIRA_WEBHOOK_SECRET: randomBytes(16).toString('hex'),
    GRANTLINE_AUDIT_TOKEN: randomBytes(16).toString('hex'),
  };
  return {
    jira,
    slack,
    okta,
    graph,
    google,
    env,
    members(provider, groupId) {
      return provider === 'entra' ? graph.members(groupId) : provider === 'google' ? google.members(groupId) : okta.members(groupId);
    },
    async close() {
      await Promise.all([jira.close(), slack.close(), okta.close(), graph.close(), google.close()]);
    },
  };
}

export interface RequestForm {
  reporter: string;
  subject?: string;
  app?: string;
  role?: string;
  duration?: string;
  justification?: string;
}

/** Acts as Jira's automation rule and as Slack, against a running Grantline. */
export class SandboxClient {
  constructor(
    private readonly sandbox: Sandbox,
    private readonly grantlineUrl: string,
    private readonly env: Record<string, string | undefined> = sandbox.env,
  ) {}

  /** Files the issue in (simulated) Jira, then sends what the automation rule sends on "issue created". */
  async fileRequest(form: RequestForm): Promise<{ issueKey: string; status: number; body: Record<string, unknown> }> {
    const key = this.fileIssue(form);
    const res = await this.sendIssueCreated(key, form);
    return { issueKey: key, ...res };
  }

  /** Files the issue in (simulated) Jira only; returns its key. */
  fileIssue(form: RequestForm): string {
    const fields: Record<string, unknown> = {};
    const f = (name: string | undefined, fallback: string) => name ?? fallback;
    if (form.subject) fields[f(this.env.JIRA_FIELD_SUBJECT, 'customfield_10070')] = form.subject;
    if (form.app) fields[f(this.env.JIRA_FIELD_APP, 'customfield_10071')] = { value: form.app };
    if (form.role) fields[f(this.env.JIRA_FIELD_ROLE, 'customfield_10072')] = form.role;
    if (form.duration) fields[f(this.env.JIRA_FIELD_DURATION, 'customfield_10073')] = form.duration;
    if (form.justification) fields[f(this.env.JIRA_FIELD_JUSTIFICATION, 'description')] = form.justification;
    return this.sandbox.jira.createIssue({ summary: `Access request: ${form.app ?? '?'} ${form.role ?? ''}`.trim(), reporterEmail: form.reporter, fields }).key;
  }

  /** Sends the automation rule's "issue created" webhook for an issue already filed (again: a duplicate delivery). */
  async sendIssueCreated(issueKey: string, form: RequestForm): Promise<{ status: number; body: Record<string, unknown> }> {
    const issue = this.sandbox.jira.issue(issueKey);
    if (!issue) throw new Error(`no issue ${issueKey} in the sandbox's Jira`);
    const payload = { webhookEvent: 'jira:issue_created', issue: { key: issueKey, fields: { ...issue.fields, reporter: { emailAddress: form.reporter } } } };
    return this.post('/webhooks/jira', JSON.stringify(payload), {
      'content-type': 'application/json',
      authorization: `Bearer ${this.env.GRANTLINE_JIRA_WEBHOOK_SECRET}`,
    });
  }

  /** Clicks Approve or Deny on an approval message as the given Slack user, signed as Slack signs it. */
  async click(
    clickerEmail: string,
    grantId: string,
    step: number,
    decision: 'approve' | 'deny',
    opts: { timestamp?: number } = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const user = this.sandbox.slack.users().find((u) => u.email === clickerEmail.toLowerCase());
    if (!user) throw new Error(`no Slack user ${clickerEmail} in the sandbox`);
    const payload = {
      type: 'block_actions',
      team: { id: 'TSANDBOX' },
      api_app_id: 'ASANDBOX',
      user: { id: user.id, username: user.name },
      actions: [
        { action_id: decision === 'approve' ? APPROVE_ACTION_ID : DENY_ACTION_ID, block_id: 'grantline_decision', value: `${grantId}:${step}`, type: 'button' },
      ],
    };
    return this.postSlack('/webhooks/slack/interactions', `payload=${encodeURIComponent(JSON.stringify(payload))}`, opts.timestamp);
  }

  async postSlack(path: string, body: string, timestamp = Math.floor(Date.now() / 1000)): Promise<{ status: number; body: Record<string, unknown> }> {
    return this.post(path, body, {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signSlackRequest(this.env.SLACK_SIGNING_SECRET ?? '', timestamp, body),
    });
  }

  async audit(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${this.grantlineUrl}${path}`, { headers: { authorization: `Bearer ${this.env.GRANTLINE_AUDIT_TOKEN}` } });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
  }

  async post(path: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${this.grantlineUrl}${path}`, { method: 'POST', headers, body });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }
}

function capital(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
