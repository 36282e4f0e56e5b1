/**
 * The sandbox: simulated Jira, Slack, Okta, Microsoft Graph (https, self-signed) and Google Admin
 * on loopback, seeded with the catalog's people and groups, so a newcomer sees the whole flow with no credentials. The real SDK adapters talk to
 * these servers exactly as they would to the vendors. `SandboxClient` plays the parts the vendors
 * play: Jira's automation rule posting the webhook, and Slack posting a signed button click.
 */
import { randomBytes } from 'node:crypto';
import { signSlackRequest } from '../../../shared/auth.js';
import type { Catalog } from '../../../shared/catalog/schema.js';
import { jiraFieldValues } from '../../../shared/catalog/sync.js';
import { adfParagraphs } from '../../../shared/connectors/jira.js';
import { APPROVE_ACTION_ID, DENY_ACTION_ID, REQUEST_FORM } from '../../../shared/ports.js';
import { fileURLToPath } from 'node:url';
import { startFakeGraph, type FakeGraph } from './entra.js';
import { startFakeGoogleAdmin, type FakeGoogleAdmin } from './google.js';
import { startFakeJira, type FakeJira } from './jira.js';
import { startFakeOkta, type FakeOkta } from './okta.js';
import { startFakeSlack, type FakeSlack, type FakeSlackMessage } from './slack.js';

/** The simulated Jira's request fields: the defaults of JIRA_FIELD_SUBJECT/APP/ROLE/DURATION/JUSTIFICATION. */
const SANDBOX_JIRA_FIELDS = {
  subject: 'customfield_10070',
  app: 'customfield_10071',
  role: 'customfield_10072',
  duration: 'customfield_10073',
  justification: 'description',
  /** Break-glass requests: JIRA_FIELD_BREAK_GLASS (a checkbox) and JIRA_FIELD_INCIDENT (text), which the sandbox sets. */
  breakGlass: 'customfield_10076',
  incident: 'customfield_10077',
  /** Onboarding bundles: JIRA_FIELD_BUNDLE (a select of the catalog's bundles). */
  bundle: 'customfield_10078',
} as const;

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
  // The request fields offer exactly what `grantline catalog sync --jira` makes them offer: the
  // options Slack's /access selects must exist and be enabled, as in a synced Jira.
  const offered = jiraFieldValues(catalog);
  jira.addSelectField(SANDBOX_JIRA_FIELDS.app, offered.apps);
  jira.addSelectField(SANDBOX_JIRA_FIELDS.role, offered.roles);
  jira.addSelectField(SANDBOX_JIRA_FIELDS.duration, offered.durations);
  // The channel told of every break-glass use, with the app in it.
  if (catalog.breakGlass.notifyChannel) slack.addChannel('security-incidents', { id: catalog.breakGlass.notifyChannel });

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
    JIRA_FIELD_BREAK_GLASS: SANDBOX_JIRA_FIELDS.breakGlass,
    JIRA_FIELD_INCIDENT: SANDBOX_JIRA_FIELDS.incident,
    JIRA_FIELD_BUNDLE: SANDBOX_JIRA_FIELDS.bundle,
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
  /** The request's end date (YYYY-MM-DD), put into JIRA_FIELD_END_DATE's field; left out when that setting is unset. */
  endDate?: string;
  /** Break-glass: the checkbox's option as Jira sends it (e.g. "Break-glass"), and the incident reference. */
  breakGlass?: string;
  incident?: string;
  /** An onboarding bundle's name, put into JIRA_FIELD_BUNDLE's select (the app and role left empty). */
  bundle?: string;
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

  /**
   * Files the issue in (simulated) Jira only, as the portal does; returns its key. Values are in the
   * shapes Jira stores (select options as {value}, the description as an ADF document) but are not
   * checked against the options: a test can file what a stale or hand-edited request would carry.
   */
  fileIssue(form: RequestForm): string {
    const fields: Record<string, unknown> = {};
    const f = (name: string | undefined, fallback: string) => name ?? fallback;
    if (form.subject) fields[f(this.env.JIRA_FIELD_SUBJECT, SANDBOX_JIRA_FIELDS.subject)] = form.subject;
    if (form.app) fields[f(this.env.JIRA_FIELD_APP, SANDBOX_JIRA_FIELDS.app)] = { value: form.app };
    if (form.role) fields[f(this.env.JIRA_FIELD_ROLE, SANDBOX_JIRA_FIELDS.role)] = { value: form.role };
    if (form.duration) fields[f(this.env.JIRA_FIELD_DURATION, SANDBOX_JIRA_FIELDS.duration)] = { value: form.duration };
    // A Jira date field's value is the day as YYYY-MM-DD.
    if (form.endDate && this.env.JIRA_FIELD_END_DATE) fields[this.env.JIRA_FIELD_END_DATE] = form.endDate;
    // A checkbox field's value is the list of ticked options.
    if (form.breakGlass && this.env.JIRA_FIELD_BREAK_GLASS) fields[this.env.JIRA_FIELD_BREAK_GLASS] = [{ value: form.breakGlass }];
    if (form.incident && this.env.JIRA_FIELD_INCIDENT) fields[this.env.JIRA_FIELD_INCIDENT] = form.incident;
    if (form.bundle && this.env.JIRA_FIELD_BUNDLE) fields[this.env.JIRA_FIELD_BUNDLE] = { value: form.bundle };
    if (form.justification) {
      const field = f(this.env.JIRA_FIELD_JUSTIFICATION, SANDBOX_JIRA_FIELDS.justification);
      fields[field] = field === 'description' ? adfParagraphs(form.justification) : form.justification;
    }
    const what = form.bundle ? `bundle ${form.bundle}` : `${form.app ?? '?'} ${form.role ?? ''}`.trim();
    return this.sandbox.jira.createIssue({ summary: `Access request: ${what}`, reporterEmail: form.reporter, fields }).key;
  }

  /**
   * Files an offboarding issue (the person leaving in the subject field) and sends what its automation
   * rule sends: the issue with `"action": "offboard"` (docs/jira-setup.md). Returns the issue key and Grantline's answer.
   */
  async fileOffboarding(reporter: string, leaving: string): Promise<{ issueKey: string; status: number; body: Record<string, unknown> }> {
    const field = this.env.JIRA_FIELD_SUBJECT ?? SANDBOX_JIRA_FIELDS.subject;
    const issueKey = this.sandbox.jira.createIssue({ summary: `Offboarding: ${leaving}`, reporterEmail: reporter, fields: { [field]: leaving } }).key;
    return { issueKey, ...(await this.sendOffboarding(issueKey, reporter)) };
  }

  /** The offboarding rule's webhook for an issue already filed (again: a duplicate delivery). */
  async sendOffboarding(issueKey: string, reporter: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const issue = this.sandbox.jira.issue(issueKey);
    if (!issue) throw new Error(`no issue ${issueKey} in the sandbox's Jira`);
    const payload = {
      webhookEvent: 'jira:issue_created',
      action: 'offboard',
      issue: { key: issueKey, fields: { ...issue.fields, reporter: { emailAddress: reporter } } },
    };
    return this.post('/webhooks/jira', JSON.stringify(payload), {
      'content-type': 'application/json',
      authorization: `Bearer ${this.env.GRANTLINE_JIRA_WEBHOOK_SECRET}`,
    });
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

  /**
   * Sends what the "Approval completed" automation rule sends (docs/jira-setup.md §6) when a JSM
   * approval of the issue completes: the issue key (Grantline reads the approvals back from JSM).
   */
  async sendApprovalCompleted(issueKey: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const payload = { webhookEvent: 'jira:approval_completed', issue: { key: issueKey } };
    return this.post('/webhooks/jira', JSON.stringify(payload), {
      'content-type': 'application/json',
      authorization: `Bearer ${this.env.GRANTLINE_JIRA_WEBHOOK_SECRET}`,
    });
  }

  /**
   * Types `/access [text]` in Slack as this person: Slack posts the command with a fresh trigger id.
   * Returns Grantline's answer and the id of the form it opened, if it opened one.
   */
  async slashAccess(email: string, text = '', opts: { timestamp?: number } = {}): Promise<{ status: number; body: Record<string, unknown>; viewId?: string }> {
    const user = this.slackUser(email);
    const before = new Set(this.sandbox.slack.views().map((v) => v.id));
    const body = new URLSearchParams({
      command: '/access',
      text,
      user_id: user.id,
      team_id: 'TSANDBOX',
      api_app_id: 'ASANDBOX',
      trigger_id: this.sandbox.slack.issueTrigger(user.id),
      response_url: 'https://hooks.slack.com/commands/TSANDBOX/1/x',
    }).toString();
    const res = await this.postSlack('/webhooks/slack/commands', body, opts.timestamp);
    const opened = this.sandbox.slack.views().find((v) => !before.has(v.id));
    return { ...res, ...(opened ? { viewId: opened.id } : {}) };
  }

  /**
   * Chooses or types a value in an open request form as its owner: an app key, a role key, a duration, the
   * justification text, or the email of the person the request is for. Choosing an app or a role sends
   * the block action Slack sends (the form is redrawn).
   */
  async fillForm(
    viewId: string,
    field: Exclude<keyof typeof REQUEST_FORM, 'callbackId'>,
    value: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const view = this.view(viewId);
    const entered = field === 'subject' ? this.slackUser(value).id : value;
    const { blockId, actionId } = this.sandbox.slack.enter(viewId, REQUEST_FORM[field], entered);
    if (field !== 'app' && field !== 'role') return { status: 200, body: {} };
    const after = this.view(viewId);
    const payload = {
      type: 'block_actions',
      team: { id: 'TSANDBOX' },
      api_app_id: 'ASANDBOX',
      user: { id: view.user },
      container: { type: 'view', view_id: viewId },
      trigger_id: this.sandbox.slack.issueTrigger(view.user),
      view: { id: viewId, hash: after.hash, callback_id: after.callbackId, state: { values: after.values } },
      actions: [{ type: 'static_select', action_id: actionId, block_id: blockId, selected_option: after.values[blockId]?.[actionId]?.selected_option }],
    };
    return this.postSlack('/webhooks/slack/interactions', `payload=${encodeURIComponent(JSON.stringify(payload))}`);
  }

  /**
   * Types `text` into an open modal's text input (the block whose id starts with `blockPrefix`), as its owner. A plain
   * text input sends nothing to the app until the modal is submitted (submitForm).
   */
  typeIn(viewId: string, blockPrefix: string, text: string): void {
    this.sandbox.slack.enter(viewId, blockPrefix, text);
  }

  /** Presses a modal's submit button (the request form's Request): Slack posts view_submission with the view's state and private_metadata. */
  async submitForm(viewId: string, opts: { timestamp?: number } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const view = this.view(viewId);
    const payload = {
      type: 'view_submission',
      team: { id: 'TSANDBOX' },
      api_app_id: 'ASANDBOX',
      user: { id: view.user },
      trigger_id: this.sandbox.slack.issueTrigger(view.user),
      view: {
        id: viewId,
        hash: view.hash,
        callback_id: view.callbackId,
        // As Slack: the metadata the app set on the view, an empty string when it set none.
        private_metadata: view.privateMetadata ?? '',
        state: { values: view.values },
      },
    };
    return this.postSlack('/webhooks/slack/interactions', `payload=${encodeURIComponent(JSON.stringify(payload))}`, opts.timestamp);
  }

  private view(viewId: string) {
    const view = this.sandbox.slack.views().find((v) => v.id === viewId);
    if (!view) throw new Error(`no open Slack form ${viewId} in the sandbox`);
    return view;
  }

  private slackUser(email: string) {
    const user = this.sandbox.slack.users().find((u) => u.email === email.toLowerCase());
    if (!user) throw new Error(`no Slack user ${email} in the sandbox`);
    return user;
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

  /**
   * Clicks a button of a message Grantline sent (the one with `actionId`, e.g. "I'm done") as this
   * Slack user, signed as Slack signs it; the payload names the message clicked, as Slack's does.
   * Throws when the message (as given: a copy taken earlier replays an old click) has no such button. When several
   * buttons share the action id (a review item's Keep), `opts.value` picks the one with that value. Returns Grantline's
   * answer and the id of the modal the click opened, if it opened one (Revoke's reason).
   */
  async press(
    clickerEmail: string,
    message: FakeSlackMessage,
    actionId: string,
    opts: { timestamp?: number; value?: string } = {},
  ): Promise<{ status: number; body: Record<string, unknown>; viewId?: string }> {
    const user = this.slackUser(clickerEmail);
    const found = (message.blocks as Array<{ type?: string; block_id?: string; elements?: Array<Record<string, unknown>> }>)
      .filter((b) => b.type === 'actions')
      .flatMap((b) => (b.elements ?? []).map((element) => ({ blockId: b.block_id, element })))
      .find(({ element }) => element.type === 'button' && element.action_id === actionId && (opts.value === undefined || element.value === opts.value));
    if (!found) throw new Error(`the Slack message ${message.ts} has no button ${actionId}${opts.value === undefined ? '' : ` with value ${opts.value}`}`);
    const before = new Set(this.sandbox.slack.views().map((v) => v.id));
    const payload = {
      type: 'block_actions',
      team: { id: 'TSANDBOX' },
      api_app_id: 'ASANDBOX',
      user: { id: user.id, username: user.name },
      trigger_id: this.sandbox.slack.issueTrigger(user.id),
      container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: false },
      channel: { id: message.channel },
      message: { type: 'message', ts: message.ts, text: message.text, blocks: message.blocks, ...(message.threadTs ? { thread_ts: message.threadTs } : {}) },
      response_url: 'https://hooks.slack.com/actions/TSANDBOX/1/x',
      actions: [{ type: 'button', action_id: actionId, block_id: found.blockId, value: found.element.value, action_ts: String(Date.now() / 1000) }],
    };
    const res = await this.postSlack('/webhooks/slack/interactions', `payload=${encodeURIComponent(JSON.stringify(payload))}`, opts.timestamp);
    const opened = this.sandbox.slack.views().find((v) => !before.has(v.id));
    return { ...res, ...(opened ? { viewId: opened.id } : {}) };
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
