/**
 * Jira Cloud adapter (REST v3 through jira.js): evidence comments in ADF, workflow transitions,
 * reporter email look-up and issue creation. Errors are mapped once, in toJiraError; no retries
 * here, the state machine retries RetryableError.
 */
import { HttpException, ServiceDeskClient, Version3Client, type ServiceDesk, type Version3 } from 'jira.js';
import { PermanentError, RetryableError } from '../errors.js';
import type { FieldOptionsChange, JsmApproval, NewTicket, TicketComment, Ticketing, TransitionOptions } from '../ports.js';

export interface JiraTicketingOptions {
  baseUrl: string;
  email: string;
  apiToken: string;
  projectKey?: string;
  /** Issue type for createIssue (default "Task"). */
  issueTypeName?: string;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
}

export interface AdfNode {
  type: string;
  text?: string;
  marks?: Array<{ type: string }>;
  content?: AdfNode[];
}

export interface AdfDoc {
  type: 'doc';
  version: 1;
  content: AdfNode[];
}

const text = (value: string, bold = false): AdfNode => (bold ? { type: 'text', text: value, marks: [{ type: 'strong' }] } : { type: 'text', text: value });

/** Jira Cloud refuses a comment body over 32,767 characters (400); measured here on the ADF as sent, the stricter reading. */
export const JIRA_COMMENT_LIMIT = 32_767;

/**
 * Renders evidence as one ADF document within Jira's limit: bold title, "label: value" bullets,
 * optional note, and the comment's ref as a code-marked "Evidence id" line ("Reference" on a public
 * comment, which the requester reads; hasComment looks for the code-marked ref alone, and field
 * values are plain text, so no value can pass for it). The longest texts are cut, each
 * with a note saying how much is left out: the ledger keeps the full event.
 */
export function toAdf(comment: TicketComment): AdfDoc {
  const texts = [comment.title, ...comment.facts.map((f) => f.value), comment.note ?? ''];
  const keep = texts.map((t) => t.length);
  for (;;) {
    const [title = '', ...rest] = texts.map((t, i) => cut(t, keep[i]!));
    const doc = renderAdf({ ...comment, title, facts: comment.facts.map((f, i) => ({ ...f, value: rest[i]! })), note: rest.at(-1) });
    const excess = JSON.stringify(doc).length - JIRA_COMMENT_LIMIT;
    const longest = keep.indexOf(Math.max(...keep));
    if (excess <= 0 || keep[longest] === 0) return doc;
    // Leave room for the cut note; escaped characters make the JSON longer than the text, hence the loop.
    keep[longest] = Math.max(0, keep[longest]! - excess - CUT_NOTE_ROOM);
  }
}

const CUT_NOTE_ROOM = 80;

function cut(value: string, keep: number): string {
  if (keep >= value.length) return value;
  // Never split a surrogate pair: a lone half is not valid text for Jira.
  const end = keep > 0 && /[\uD800-\uDBFF]/.test(value[keep - 1]!) ? keep - 1 : keep;
  return `${value.slice(0, end)}… (cut: ${value.length - end} characters; full text in the Grantline ledger)`;
}

function renderAdf(comment: TicketComment): AdfDoc {
  // ADF rejects empty text nodes, so empty strings are left out rather than sent.
  const content: AdfNode[] = [{ type: 'paragraph', content: [text(comment.title || '(untitled)', true)] }];
  if (comment.facts.length > 0) {
    content.push({
      type: 'bulletList',
      content: comment.facts.map((fact) => ({
        type: 'listItem',
        content: [
          {
            type: 'paragraph',
            content: [text(`${fact.label}:`, true), ...(fact.value ? [text(` ${fact.value}`)] : [])],
          },
        ],
      })),
    });
  }
  if (comment.note) content.push({ type: 'paragraph', content: [text(comment.note)] });
  if (comment.ref) {
    const label = comment.internal ? 'Evidence id:' : 'Reference:';
    content.push({ type: 'paragraph', content: [text(`${label} `), { type: 'text', text: comment.ref, marks: [{ type: 'code' }] }] });
  }
  return { type: 'doc', version: 1, content };
}

/** Whether an ADF body carries the ref line renderAdf writes. */
function carriesRef(body: unknown, ref: string): boolean {
  const nodes: unknown[] = [body];
  for (let node = nodes.pop(); node !== undefined; node = nodes.pop()) {
    if (!isRecord(node)) continue;
    if (node.type === 'text' && node.text === ref && Array.isArray(node.marks) && node.marks.some((m) => isRecord(m) && m.type === 'code')) return true;
    if (Array.isArray(node.content)) nodes.push(...(node.content as unknown[]));
  }
  return false;
}

export class JiraTicketing implements Ticketing {
  private readonly client: Version3Client;
  /** Jira Service Management's API (/rest/servicedeskapi): approvals. */
  private readonly serviceDesk: ServiceDeskClient;
  /** Grantline's own Jira account id (GET /rest/api/3/myself), read once. */
  private readonly myAccountId: () => Promise<string>;
  private readonly projectKey: string | undefined;
  private readonly issueTypeName: string;
  private readonly fieldsById: () => Promise<Map<string, FieldDetails>>;
  /** Whether Grantline's account holds Modify Reporter in the project (else Jira refuses a `reporter`). */
  private readonly reporterSettable: () => Promise<boolean>;

  constructor(options: JiraTicketingOptions) {
    this.client = new Version3Client({
      host: options.baseUrl,
      authentication: { basic: { email: options.email, apiToken: options.apiToken } },
      // jira.js sets no timeout of its own: without one a hung Jira would hang the Lambda until it dies.
      baseRequestConfig: { timeout: options.timeoutMs ?? 10_000 },
    });
    this.serviceDesk = new ServiceDeskClient({
      host: options.baseUrl,
      authentication: { basic: { email: options.email, apiToken: options.apiToken } },
      baseRequestConfig: { timeout: options.timeoutMs ?? 10_000 },
    });
    this.myAccountId = keepOnSuccess(
      async () => (await call('read the Grantline Jira account', undefined, () => this.client.myself.getCurrentUser())).accountId,
    );
    this.projectKey = options.projectKey;
    this.issueTypeName = options.issueTypeName ?? 'Task';
    // Read once per adapter: field types and permissions change only when an admin reconfigures Jira.
    this.fieldsById = keepOnSuccess(() => this.readFields());
    this.reporterSettable = keepOnSuccess(() => this.readModifyReporter());
  }

  async addComment(issueKey: string, comment: TicketComment): Promise<void> {
    await call(`comment on ${issueKey}`, issueKey, () =>
      this.client.issueComments.addComment({ issueIdOrKey: path(issueKey), comment: toAdf(comment), properties: [visibilityProperty(comment)] }),
    );
  }

  async hasComment(issueKey: string, ref: string): Promise<boolean> {
    const action = `look for evidence ${ref} on ${issueKey}`;
    let startAt = 0;
    for (let guard = 0; guard < 1000; guard += 1) {
      // Newest first: a post whose answer was lost is among the latest comments.
      const page = await call(action, issueKey, () =>
        this.client.issueComments.getComments({ issueIdOrKey: path(issueKey), startAt, maxResults: 100, orderBy: '-created' }),
      );
      const comments = page.comments ?? [];
      if (comments.some((c) => carriesRef(c.body, ref))) return true;
      startAt = (page.startAt ?? startAt) + comments.length;
      if (comments.length === 0 || startAt >= (page.total ?? 0)) return false;
    }
    return false;
  }

  async transition(issueKey: string, statusOrTransitionName: string, options: TransitionOptions = {}): Promise<boolean> {
    const wanted = statusOrTransitionName.trim().toLowerCase();
    const action = `move ${issueKey} to "${statusOrTransitionName}"`;
    // One read gives both the current status and the transitions available from it.
    const issue = await call(action, issueKey, () => this.client.issues.getIssue({ issueIdOrKey: path(issueKey), fields: ['status'], expand: 'transitions' }));
    const transitions = issue.transitions ?? [];
    const current = statusName(issue.fields)?.toLowerCase();
    const match = transitions.find((t) => t.name?.toLowerCase() === wanted) ?? transitions.find((t) => t.to?.name?.toLowerCase() === wanted);
    if (current === wanted || (match?.to?.name !== undefined && match.to.name.toLowerCase() === current)) return true;
    const id = match?.id;
    if (!id) return false;
    // A transition with a screen may require fields (stock JSM: Resolution into a resolved status); without them Jira answers 400.
    let fields: Record<string, unknown> = {};
    if (match.hasScreen !== false) {
      const screen = await call(action, issueKey, () =>
        this.client.issues.getTransitions({ issueIdOrKey: path(issueKey), transitionId: id, expand: 'transitions.fields' }),
      );
      const described = screen.transitions?.find((t) => t.id === id);
      fields = screenValues({ name: match.name ?? id, to: match.to?.name ?? statusOrTransitionName }, described?.fields, options);
    }
    await call(action, issueKey, () =>
      this.client.issues.doTransition({ issueIdOrKey: path(issueKey), transition: { id }, ...(Object.keys(fields).length > 0 ? { fields } : {}) }),
    );
    return true;
  }

  async userEmail(accountId: string): Promise<string | undefined> {
    try {
      const user = await this.client.users.getUser({ accountId });
      return user.emailAddress || undefined;
    } catch (err) {
      if (err instanceof HttpException && err.status === 404) return undefined;
      throw toJiraError(err, `look up Jira user ${accountId}`);
    }
  }

  async createIssue(ticket: NewTicket): Promise<{ key: string }> {
    if (!this.projectKey) throw new PermanentError('Cannot create a Jira issue: no Jira project key is configured');
    const action = `create an issue in Jira project ${this.projectKey}`;
    const [fields, reporterSettable] = await Promise.all([this.fieldsById(), this.reporterSettable()]);
    const texts = { ...ticket.fields };
    let reporter: { id: string } | undefined;
    if (reporterSettable) reporter = { id: await this.accountIdOf(action, ticket.reporterEmail, 'the reporter') };
    else {
      // Without Modify Reporter Jira makes Grantline's account the reporter (and refuses a `reporter`):
      // the description's first line says who asked, where people reading the issue look.
      texts.description = [`Requested by ${ticket.reporterEmail.trim()} (filed by Grantline on their behalf)`, texts.description ?? ''].join('\n');
    }
    const values: Record<string, unknown> = {};
    for (const [fieldId, text] of Object.entries(texts)) {
      if (!text.trim()) continue;
      values[fieldId] = await this.fieldValue(action, fieldId, text, fields.get(fieldId), ticket.fieldSettings?.[fieldId]);
    }
    const created = await call(action, undefined, () =>
      this.client.issues.createIssue({
        fields: {
          ...values,
          project: { key: this.projectKey },
          issuetype: { name: this.issueTypeName },
          summary: ticket.summary,
          ...(reporter ? { reporter } : {}),
          ...(ticket.labels?.length ? { labels: ticket.labels } : {}),
        },
      }),
    );
    return { key: created.key };
  }

  async findIssueByLabel(label: string): Promise<string | undefined> {
    if (!this.projectKey) throw new PermanentError('Cannot search Jira: no Jira project key is configured');
    const jql = `project = "${this.projectKey}" AND labels = "${label}"`;
    const found = await call(`look for the issue labelled ${label}`, undefined, () =>
      this.client.issueSearch.searchForIssuesUsingJqlEnhancedSearchPost({ jql, fields: ['key'], maxResults: 1 }),
    );
    return found.issues?.[0]?.key;
  }

  /**
   * A plain text as the field's type takes it in REST v3: a select list `{value}` (a multi-select a
   * list of one), a paragraph field or the description an ADF document, a user `{accountId}` (found
   * by email), a single-line text field the text itself.
   */
  private async fieldValue(action: string, fieldId: string, text: string, field: FieldDetails | undefined, setting: string | undefined): Promise<unknown> {
    const fix = setting ? `check ${setting}` : 'check the setting that names it';
    const schema = field?.schema;
    if (!field || !schema) {
      throw new PermanentError(
        `Jira has no field ${fieldId} that the Grantline Jira account can see: ${fix} (field ids are listed by GET /rest/api/3/field; docs/jira-setup.md §2)`,
      );
    }
    const name = `${field.name ?? fieldId} (${fieldId})`;
    if (schema.type === 'option') return { value: text.trim() };
    if (schema.type === 'array' && schema.items === 'option') return [{ value: text.trim() }];
    if (schema.type === 'user') return { accountId: await this.accountIdOf(action, text, `Jira field ${name}`) };
    const paragraphs = RICH_TEXT_SYSTEM_FIELDS.has(schema.system ?? '') || schema.custom?.endsWith(':textarea') === true;
    if (schema.type === 'string') return paragraphs ? adfParagraphs(text) : text.trim();
    throw new PermanentError(
      `Grantline cannot fill Jira field ${name}: it writes text, paragraph, select list and user fields, and this one is of type "${schema.type}"; ${fix}`,
    );
  }

  private async readFields(): Promise<Map<string, FieldDetails>> {
    const fields = await call('read the Jira field list', undefined, () => this.client.issueFields.getFields());
    return new Map(fields.flatMap((f) => (f.id ? [[f.id, f] as const] : [])));
  }

  private async readModifyReporter(): Promise<boolean> {
    const projectKey = this.projectKey ?? '';
    let answer: Version3.Version3Models.Permissions;
    try {
      answer = await this.client.permissions.getMyPermissions({ projectKey, permissions: 'MODIFY_REPORTER' });
    } catch (err) {
      if (err instanceof HttpException && err.status === 404) {
        throw new PermanentError(
          `Jira project ${projectKey} does not exist or is not visible to the Grantline Jira account: check the project key (JIRA_PROJECT_KEY)`,
        );
      }
      throw toJiraError(err, `read Grantline's permissions in Jira project ${projectKey}`);
    }
    const permission = isRecord(answer.permissions) ? answer.permissions.MODIFY_REPORTER : undefined;
    return isRecord(permission) && permission.havePermission === true;
  }

  /** The account id of the one active Jira user whose visible email is exactly `email`. */
  private async accountIdOf(action: string, email: string, role: string): Promise<string> {
    const user = await this.findAccountId(action, email);
    if (!user) {
      throw new PermanentError(
        `No active Jira user with the email ${email.trim()} (${role}) is visible to the Grantline Jira account ` +
          '(unknown user, or the email is hidden by the profile privacy settings)',
      );
    }
    return user;
  }

  /** The account id of the one active Jira user whose visible email is exactly `email`; undefined when there is none. */
  private async findAccountId(action: string, email: string): Promise<string | undefined> {
    const wanted = email.trim().toLowerCase();
    const users = await call(action, undefined, () => this.client.userSearch.findUsers({ query: wanted }));
    // Only an exact, visible email match: the query also prefix-matches display names, which users choose themselves.
    return users.find((u) => u.active !== false && u.emailAddress?.toLowerCase() === wanted)?.accountId;
  }

  async syncFieldOptions(fieldId: string, values: string[]): Promise<FieldOptionsChange> {
    const action = `update the options of Jira field ${fieldId}`;
    // jira.js puts fieldId into the URL as is.
    const field = encodeURIComponent(fieldId);
    const jira = <T>(fn: () => Promise<T>): Promise<T> => callField(action, fieldId, fn);

    // The object form matters: the string form of getContextsForField sends isGlobalContext=false
    // (and isAnyIssueType=false...), which filters the global context out.
    const contexts = await allPages((startAt) =>
      jira(() => this.client.issueCustomFieldContexts.getContextsForField({ fieldId: field, startAt, maxResults: 50 })),
    );
    const context = contexts.find((c) => c.isGlobalContext) ?? contexts[0];
    if (!context) throw new PermanentError(`Jira field ${fieldId} has no context to hold options (is it a select list?)`);
    const contextId = Number(context.id);

    const options = await allPages((startAt) =>
      jira(() => this.client.issueCustomFieldOptions.getOptionsForContext({ fieldId: field, contextId, startAt, maxResults: 100 })),
    );
    // Cascading child options (optionId = their parent) are not choices of the field itself.
    const existing = options.filter((o) => o.optionId === undefined);
    const wanted = new Set(values);
    const byValue = new Map<string, CustomFieldContextOption>();
    for (const o of existing) if (!byValue.has(o.value)) byValue.set(o.value, o);

    const change: FieldOptionsChange = {
      added: [...wanted].filter((v) => !byValue.has(v)),
      enabled: existing.filter((o) => wanted.has(o.value) && o.disabled === true).map((o) => o.value),
      disabled: existing.filter((o) => !wanted.has(o.value) && o.disabled !== true).map((o) => o.value),
      unchanged: existing.filter((o) => wanted.has(o.value) && o.disabled !== true).map((o) => o.value),
    };
    // Jira takes at most 1000 options per request.
    for (const batch of chunks(change.added, 1000)) {
      await jira(() =>
        this.client.issueCustomFieldOptions.createCustomFieldOption({
          fieldId: field,
          contextId,
          options: batch.map((value) => ({ value })),
        }),
      );
    }
    const toggles = [
      ...existing.filter((o) => change.enabled.includes(o.value)).map((o) => ({ id: o.id, disabled: false })),
      ...existing.filter((o) => change.disabled.includes(o.value)).map((o) => ({ id: o.id, disabled: true })),
    ];
    for (const batch of chunks(toggles, 1000)) {
      // Only id and disabled: leaving value out can never rename an option.
      await jira(() => this.client.issueCustomFieldOptions.updateCustomFieldOption({ fieldId: field, contextId, options: batch }));
    }
    return change;
  }

  async setApprovers(issueKey: string, fieldId: string, emails: string[]): Promise<{ missing: string[] }> {
    const action = `set the approvers (${fieldId}) of ${issueKey}`;
    const accounts = new Set<string>();
    const missing: string[] = [];
    for (const email of emails) {
      const accountId = await this.findAccountId(action, email);
      if (accountId) accounts.add(accountId);
      else missing.push(email);
    }
    accounts.add(await this.myAccountId());
    // A multi-user picker takes a list of {accountId} in REST v3; the list replaces what the field held.
    await call(action, issueKey, () =>
      this.client.issues.editIssue({ issueIdOrKey: path(issueKey), fields: { [fieldId]: [...accounts].map((accountId) => ({ accountId })) } }),
    );
    return { missing };
  }

  async approvals(issueKey: string): Promise<JsmApproval[]> {
    const action = `read the approvals of ${issueKey}`;
    const me = await this.myAccountId();
    const out: JsmApproval[] = [];
    let start = 0;
    for (let guard = 0; guard < 1000; guard += 1) {
      const page = await call(action, issueKey, () => this.serviceDesk.request.getApprovals({ issueIdOrKey: path(issueKey), start, limit: 50 }));
      const values = page.values ?? [];
      out.push(...values.flatMap((a) => jsmApproval(a, me)));
      // `start` advances by what JSM returned: it may cap the page below the limit asked for.
      start = (page.start ?? start) + values.length;
      if (page.isLastPage !== false || values.length === 0) break;
    }
    return out;
  }

  async answerApproval(issueKey: string, approvalId: string, decision: 'approve' | 'decline'): Promise<'answered' | 'already_answered'> {
    const action = `${decision} approval ${approvalId} of ${issueKey}`;
    const id = Number(approvalId);
    if (!Number.isSafeInteger(id)) throw new PermanentError(`Cannot ${action}: "${approvalId}" is not a JSM approval id`);
    try {
      await this.serviceDesk.request.answerApproval({ issueIdOrKey: path(issueKey), approvalId: id, decision });
      return 'answered';
    } catch (err) {
      // JSM refuses an answer to an approval that is no longer pending (and one Grantline already gave):
      // read it back rather than rely on the status code, and take "already decided" as done.
      if (!(err instanceof HttpException) || err.status >= 500 || err.status === 401 || err.status === 429) throw toJiraError(err, action, issueKey);
      const me = await this.myAccountId();
      const current = await call(action, issueKey, () => this.serviceDesk.request.getApprovalById({ issueIdOrKey: path(issueKey), approvalId: id }));
      const [now] = jsmApproval(current, me);
      if (now && (now.finalDecision !== 'pending' || now.approvers.some((a) => a.grantline && a.decision !== 'pending'))) return 'already_answered';
      throw toJiraError(err, action, issueKey);
    }
  }

  async attachFile(issueKey: string, file: { filename: string; content: string; contentType: string }): Promise<'attached' | 'exists'> {
    const action = `attach ${file.filename} to ${issueKey}`;
    // Jira keeps any number of attachments of one name: the name is looked for first, so a retry
    // after an upload whose answer was lost does not attach the file a second time.
    const issue = await call(action, issueKey, () => this.client.issues.getIssue({ issueIdOrKey: path(issueKey), fields: ['attachment'] }));
    // An issue without attachments may leave the field out.
    const attached: Array<{ filename?: string }> = issue.fields?.attachment ?? [];
    if (attached.some((a) => a.filename === file.filename)) return 'exists';
    const bytes = Buffer.from(file.content, 'utf8');
    try {
      // jira.js sends multipart/form-data, the file in the part named "file", with X-Atlassian-Token: no-check.
      await this.client.issueAttachments.addAttachment({
        issueIdOrKey: path(issueKey),
        attachment: { filename: file.filename, file: bytes, mimeType: file.contentType },
      });
    } catch (err) {
      throw attachmentError(err, action, issueKey, bytes.byteLength);
    }
    return 'attached';
  }
}

/** toJiraError, with what Jira's answers to an upload mean: 413 the site's size limit, 403 attachments off or not permitted. */
function attachmentError(err: unknown, action: string, issueKey: string, size: number): RetryableError | PermanentError {
  if (err instanceof HttpException && isRecord(err.cause) && isRecord(err.cause.response)) {
    const detail = jiraMessages(isRecord(err.response) ? err.response.data : undefined);
    const suffix = detail ? ` (Jira: ${detail})` : '';
    if (err.status === 413) {
      return new PermanentError(
        `Jira refused to ${action}: the file (${size.toLocaleString('en-US')} bytes) is larger than the Jira site's attachment size limit (413)${suffix}`,
      );
    }
    if (err.status === 403) {
      return new PermanentError(
        `Jira refused to ${action} (403): attachments are turned off on the Jira site, or the Grantline Jira account lacks the Create Attachments permission in the project${suffix}`,
      );
    }
  }
  return toJiraError(err, action, issueKey);
}

/** JSM's approval as the port describes it ([] when it has no id); `me`: Grantline's account id. */
function jsmApproval(a: ServiceDesk.ServiceDeskModels.Approval, me: string): JsmApproval[] {
  if (!a.id) return [];
  const decision = (value: string | undefined): 'pending' | 'approved' | 'declined' => (value === 'approved' || value === 'declined' ? value : 'pending');
  const completedAt = a.completedDate?.iso8601;
  return [
    {
      id: String(a.id),
      finalDecision: decision(a.finalDecision),
      approvers: (a.approvers ?? []).flatMap((x) =>
        x.approver?.accountId
          ? [
              {
                accountId: x.approver.accountId,
                ...(x.approver.emailAddress ? { email: x.approver.emailAddress } : {}),
                decision: decision(x.approverDecision),
                grantline: x.approver.accountId === me,
              },
            ]
          : [],
      ),
      ...(completedAt ? { completedAt } : {}),
    },
  ];
}

interface Page<T> {
  startAt?: number;
  maxResults?: number;
  total?: number;
  isLast?: boolean;
  values?: T[];
}

/**
 * Every item of a Jira PageBean listing. startAt advances by what Jira returned, not by the
 * maxResults asked for: Jira caps the page size without saying so in the request.
 */
async function allPages<T>(fetch: (startAt: number) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  let startAt = 0;
  for (let guard = 0; guard < 1000; guard += 1) {
    const page = await fetch(startAt);
    const values = page.values ?? [];
    items.push(...values);
    startAt = (page.startAt ?? startAt) + values.length;
    const last = page.isLast ?? (page.total === undefined || startAt >= page.total);
    if (last || values.length === 0) break;
  }
  return items;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** As call(), but a 404 means the field (not an issue) is missing. */
async function callField<T>(action: string, fieldId: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof HttpException && err.status === 404 && isRecord(err.cause) && isRecord(err.cause.response)) {
      throw new PermanentError(`Jira has no custom field ${fieldId} (or it is not a select list)`);
    }
    throw toJiraError(err, action);
  }
}

type CustomFieldContextOption = Version3.Version3Models.CustomFieldContextOption;
type FieldDetails = Version3.Version3Models.FieldDetails;

/** System text fields REST v3 takes as ADF (custom paragraph fields are told by their `:textarea` type). */
const RICH_TEXT_SYSTEM_FIELDS = new Set(['description', 'environment']);

/** Text as an ADF document, one paragraph per line (ADF refuses empty text nodes: a blank line is an empty paragraph). */
export function adfParagraphs(value: string): AdfDoc {
  return {
    type: 'doc',
    version: 1,
    content: value
      .trim()
      .split(/\r?\n/)
      .map((line) => (line ? { type: 'paragraph', content: [text(line)] } : { type: 'paragraph' })),
  };
}

/** Keeps the first successful answer for the adapter's life; a failed read is forgotten, so the next call asks again. */
function keepOnSuccess<T>(read: () => Promise<T>): () => Promise<T> {
  let kept: Promise<T> | undefined;
  return () => {
    if (!kept) {
      const reading = read();
      kept = reading;
      reading.catch(() => {
        if (kept === reading) kept = undefined;
      });
    }
    return kept;
  };
}

/**
 * Jira Service Management shows a comment posted through the platform API to the customer (and
 * emails it) unless this property marks it internal. Sent for public comments too: the intent is
 * then explicit on the comment rather than left to the default.
 */
function visibilityProperty(comment: TicketComment): { key: string; value: { internal: boolean } } {
  return { key: 'sd.public.comment', value: { internal: comment.internal } };
}

/**
 * The `fields` of a transition request: every field of its screen that Grantline can fill (the
 * Resolution, when one is configured), and a PermanentError naming the transition, the field and
 * the fix for a required field without a default that it cannot fill (Jira would answer 400).
 */
export function screenValues(transition: { name: string; to: string }, screen: unknown, options: TransitionOptions): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  if (!isRecord(screen)) return values;
  const which = `Jira's transition "${transition.name}" (to ${transition.to})`;
  for (const [fieldId, meta] of Object.entries(screen)) {
    if (!isRecord(meta)) continue;
    const label = typeof meta.name === 'string' && meta.name !== fieldId ? `${meta.name} (${fieldId})` : fieldId;
    const isResolution = fieldId === 'resolution' || (isRecord(meta.schema) && meta.schema.system === 'resolution');
    const allowed = Array.isArray(meta.allowedValues) ? meta.allowedValues.filter(isRecord).flatMap((v) => (typeof v.name === 'string' ? [v.name] : [])) : [];
    if (isResolution && options.resolution) {
      const wanted = options.resolution.toLowerCase();
      const name = allowed.length === 0 ? options.resolution : allowed.find((a) => a.toLowerCase() === wanted);
      if (name === undefined) {
        throw new PermanentError(
          `${which} offers no resolution "${options.resolution}" (it offers ${allowed.join(', ')}): ` +
            `set ${options.resolutionSetting ?? 'the resolution setting'} to one of them, or add the resolution in Jira`,
        );
      }
      values[fieldId] = { name };
      continue;
    }
    if (meta.required !== true || meta.hasDefaultValue === true) continue;
    const choices = allowed.length > 0 ? ` (e.g. ${allowed.join(', ')})` : '';
    const fix = isResolution
      ? options.resolutionSetting
        ? `set ${options.resolutionSetting} to the resolution to use${choices}`
        : "Grantline sets a resolution only when access is granted, denied or removed: take the field off this transition's screen"
      : "Grantline cannot fill it: make it optional or give it a default on the transition's screen, or move the issue to a status whose transition has no such field";
    throw new PermanentError(`${which} requires the field ${label}: ${fix}`);
  }
  return values;
}

/** Keys come from webhooks: keep them inside their path segment. */
const path = (issueKey: string): string => encodeURIComponent(issueKey);

function statusName(fields: unknown): string | undefined {
  if (!isRecord(fields) || !isRecord(fields.status)) return undefined;
  return typeof fields.status.name === 'string' ? fields.status.name : undefined;
}

async function call<T>(action: string, issueKey: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toJiraError(err, action, issueKey);
  }
}

/**
 * jira.js throws an HttpException (status, response.data = Jira's body, cause = the AxiosError
 * with the response headers) when Jira answered, and the bare AxiosError (no response) on network
 * errors and timeouts. Neither is kept as `cause`: the AxiosError's config holds the Basic
 * Authorization header, which would end up in logs.
 */
export function toJiraError(err: unknown, action: string, issueKey?: string): RetryableError | PermanentError {
  if (err instanceof RetryableError || err instanceof PermanentError) return err;
  if (err instanceof HttpException && isRecord(err.cause) && isRecord(err.cause.response)) {
    const status = err.status;
    const data = isRecord(err.response) ? err.response.data : undefined;
    const headers = err.cause.response.headers;
    const detail = jiraMessages(data);
    const suffix = detail ? `: ${detail}` : '';
    if (status === 429 || status === 503) {
      const what = status === 429 ? 'rate-limited' : 'unavailable (503)';
      return new RetryableError(`Jira is ${what} while trying to ${action}`, retryAfterMs(headers));
    }
    if (status >= 500) return new RetryableError(`Jira failed (${status}) while trying to ${action}${suffix}`);
    if (status === 401) {
      return new PermanentError(`Jira rejected the credentials (401) while trying to ${action}: check the Jira email and API token`);
    }
    if (status === 403) return new PermanentError(`The Grantline Jira account is not permitted to ${action} (403)${suffix}`);
    if (status === 404 && issueKey) {
      return new PermanentError(`Jira issue ${issueKey} does not exist or is not visible to the Grantline Jira account`);
    }
    if (status === 400) return new PermanentError(`Jira rejected the request to ${action} (400)${suffix}`);
    return new PermanentError(`Jira answered ${status} while trying to ${action}${suffix}`);
  }
  if (isRecord(err) && err.isAxiosError === true) {
    const code = typeof err.code === 'string' ? err.code : 'network error';
    const timedOut = code === 'ECONNABORTED' || code === 'ETIMEDOUT';
    return new RetryableError(`Jira did not answer (${timedOut ? 'timeout' : code}) while trying to ${action}`);
  }
  return new PermanentError(`Unexpected failure while trying to ${action}: ${err instanceof Error ? err.message : String(err)}`);
}

/** Jira's error body: {errorMessages: string[], errors: {field: message}}. */
function jiraMessages(data: unknown): string {
  if (!isRecord(data)) return typeof data === 'string' ? data.slice(0, 300) : '';
  const messages = Array.isArray(data.errorMessages) ? data.errorMessages.filter((m) => typeof m === 'string') : [];
  // Jira Service Management's API (/rest/servicedeskapi) answers {errorMessage, i18nErrorMessage}.
  if (typeof data.errorMessage === 'string') messages.push(data.errorMessage);
  const fields = isRecord(data.errors) ? Object.entries(data.errors).map(([field, m]) => `${field}: ${String(m)}`) : [];
  return [...messages, ...fields].join('; ');
}

function retryAfterMs(headers: unknown): number | undefined {
  if (!isRecord(headers)) return undefined;
  const retryAfter = header(headers, 'retry-after');
  if (retryAfter !== undefined) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(0, at - Date.now());
  }
  const reset = header(headers, 'x-ratelimit-reset');
  const at = reset === undefined ? NaN : Date.parse(reset);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** AxiosHeaders keeps Node's lower-cased names, but accept any casing. */
function header(headers: Record<string, unknown>, name: string): string | undefined {
  const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === name);
  const value = entry?.[1];
  return typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
