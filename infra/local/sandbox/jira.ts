/**
 * Simulated Jira Cloud (REST v3) for the sandbox and the connector tests: basic auth, issues,
 * ADF comments, a small workflow, users with profile-privacy (hidden emails) and select-list
 * custom fields (one global context, options created/enabled/disabled, paged 10 at a time).
 *
 * Workflow: every status can move to every other status through the transition named after the
 * target (transition id / name -> status):
 *   11 "Reopen" -> Open                  21 "Request approval" -> Waiting for approval
 *   31 "Start progress" -> In Progress   41 "Grant access" -> Access granted
 *   51 "Decline" -> Declined             61 "Close" -> Done
 * New issues start in Open. The current status is not offered as a transition (as in Jira).
 * As in stock Jira Service Management workflows, the transitions into the resolved (done-category)
 * statuses Access granted, Declined and Done have a screen requiring Resolution (one of
 * JIRA_RESOLUTIONS, by name or id): without it Jira answers 400 {errors: {resolution}}; a move
 * back to an unresolved status clears it. A field sent that the transition's screen does not have is refused.
 *
 * As strict as Jira Cloud where Grantline could go wrong: a comment body must be a valid ADF
 * document and at most 32,767 characters (measured on the ADF JSON), else 400 with Jira's error
 * shape. Comments are listed in pages of 10 (startAt/maxResults/total, orderBy created or
 * -created). A comment is public (the customer sees it in the portal, `jsdPublic: true`) unless
 * its `properties` carry `sd.public.comment` = {internal: true}; a `properties` that is not an
 * array of {key, value} is refused (400). `delayMs` makes every answer slow ("Jira is slow").
 *
 * Issue creation is as strict as Jira Cloud's REST v3: fields come from a registry with types
 * (GET /rest/api/3/field): by default customfield_10070 "Access for" (short text), 10071
 * "Application", 10072 "Role" and 10073 "Duration" (select lists, no options until seeded) and
 * the description (ADF); tests add paragraph (textarea), multi-select and user-picker fields. POST
 * /rest/api/3/issue answers 400 {errorMessages, errors: {<field>: <message>}} for a select value
 * that is not an object naming an enabled option, a user that is not an existing account id, a
 * paragraph or description that is not an ADF document, a short text that is not a string, a
 * field that is unknown or not on the create screen, and a `reporter` when Grantline's account
 * lacks Modify Reporter (`modifyReporter = false`; GET /rest/api/3/mypermissions says so). A body
 * that is not JSON is refused on every route (400 for unparseable JSON, 403/415 for another
 * content type), as Jira does.
 *
 * Editing an issue (PUT /rest/api/3/issue/{key}) checks each field as creation does. Jira Service
 * Management approvals (the Approvers field, default customfield_10003, a multi-user picker, and
 * /rest/servicedeskapi/request/{key}/approval) are simulated in ./jsm.ts.
 *
 * Attachments (POST /rest/api/3/issue/{key}/attachments) are taken as Jira takes them: without
 * `X-Atlassian-Token: no-check` the XSRF check fails (403, text "XSRF check failed"); a body that is
 * not multipart/form-data is 415; a multipart body without a boundary, that does not parse, or
 * without a part named `file` is 400; an unknown issue 404; attachments turned off
 * (`attachmentsEnabled = false`) 403; a file over the size limit (`attachmentSizeLimit`, default
 * 10 MB) 413, storing nothing. Otherwise 200 with the list of attachments made. Jira keeps any
 * number of attachments of one name, and so does the fake. The issue lists them in
 * `fields.attachment` (GET /rest/api/3/issue/{key}); GET /rest/api/3/attachment/meta tells the
 * setting and the limit, GET /rest/api/3/attachment/content/{id} the file (Jira redirects to its
 * media store; the fake answers the file itself). The body is read as UTF-8 text: a text file
 * (CSV, JSON) round-trips, binary bytes do not.
 */
import { randomUUID } from 'node:crypto';
import { HttpFake, type FakeRequest, type FakeResponse } from './http-fake.js';
import { addJsmApprovals, type FakeJsmApproval } from './jsm.js';

interface Status {
  id: string;
  name: string;
  transitionId: string;
  transitionName: string;
  category: { id: number; key: string; colorName: string; name: string };
}

const TODO = { id: 2, key: 'new', colorName: 'blue-gray', name: 'To Do' };
const DOING = { id: 4, key: 'indeterminate', colorName: 'yellow', name: 'In Progress' };
const DONE = { id: 3, key: 'done', colorName: 'green', name: 'Done' };

/** Resolutions of a Jira Cloud site with Jira Service Management (GET /rest/api/3/resolution). */
export const JIRA_RESOLUTIONS: ReadonlyArray<{ id: string; name: string; description: string }> = [
  { id: '10000', name: 'Done', description: 'Work has been completed on this issue.' },
  { id: '10001', name: "Won't Do", description: "This issue won't be actioned." },
  { id: '10002', name: 'Duplicate', description: 'The problem is a duplicate of an existing issue.' },
  { id: '10003', name: 'Cannot Reproduce', description: 'All attempts at reproducing this issue failed.' },
  { id: '10004', name: 'Declined', description: 'This request was declined.' },
];

export const JIRA_WORKFLOW: readonly Status[] = [
  { id: '10000', name: 'Open', transitionId: '11', transitionName: 'Reopen', category: TODO },
  { id: '10001', name: 'Waiting for approval', transitionId: '21', transitionName: 'Request approval', category: TODO },
  { id: '10002', name: 'In Progress', transitionId: '31', transitionName: 'Start progress', category: DOING },
  { id: '10003', name: 'Access granted', transitionId: '41', transitionName: 'Grant access', category: DONE },
  { id: '10004', name: 'Declined', transitionId: '51', transitionName: 'Decline', category: DONE },
  { id: '10005', name: 'Done', transitionId: '61', transitionName: 'Close', category: DONE },
];

interface User {
  accountId: string;
  email: string;
  displayName: string;
  emailVisible: boolean;
  active: boolean;
}

interface Comment {
  id: string;
  authorId: string;
  body: unknown;
  created: string;
  /** Agents only (`sd.public.comment` internal); otherwise the customer sees it. */
  internal: boolean;
}

interface Issue {
  id: string;
  key: string;
  summary: string;
  statusId: string;
  issueType: string;
  reporterId: string;
  creatorId: string;
  fields: Record<string, unknown>;
  created: string;
  updated: string;
  comments: Comment[];
  attachments: Attachment[];
  /** Set by a transition into a resolved status, cleared by one out of it. */
  resolutionId?: string;
}

interface Attachment {
  id: string;
  filename: string;
  mimeType: string;
  /** The file as UTF-8 text. */
  content: string;
  /** In bytes. */
  size: number;
  authorId: string;
  created: string;
}

export interface FakeJiraIssue {
  id: string;
  key: string;
  summary: string;
  /** Current status name, e.g. "Access granted". */
  status: string;
  reporterAccountId: string;
  issueType: string;
  /** Extra fields (custom fields, labels...) as stored. */
  fields: Record<string, unknown>;
  /** Resolution name, once a transition into a resolved status set it. */
  resolution?: string;
}

export interface FakeJira {
  url: string;
  fake: HttpFake;
  /** The account the configured email/API token belong to (author of the comments). */
  botAccountId: string;
  close(): Promise<void>;
  addUser(user: { accountId?: string; email: string; displayName?: string; emailVisible?: boolean; active?: boolean }): string;
  createIssue(issue: { key?: string; summary: string; reporterEmail: string; fields?: Record<string, unknown> }): {
    id: string;
    key: string;
  };
  issue(key: string): FakeJiraIssue | undefined;
  /**
   * Adds (or replaces) a select-list custom field with one global context offering these options,
   * all enabled. A field already registered keeps its name unless `name` is given.
   */
  addSelectField(fieldId: string, options: string[], name?: string): void;
  /** Adds (or replaces) a custom field of this type, on the create screen unless `onCreateScreen` is false. */
  addField(field: { id: string; name: string; type: FakeFieldType; options?: string[]; onCreateScreen?: boolean }): void;
  /** Whether Grantline's account holds Modify Reporter (default true): without it a `reporter` on create is refused. */
  modifyReporter: boolean;
  /** The field's options in Jira's order, disabled ones included; [] for an unknown field. */
  fieldOptions(fieldId: string): Array<{ value: string; disabled: boolean }>;
  /** ADF bodies of the issue's comments, oldest first. */
  comments(key: string): unknown[];
  /**
   * Each comment flattened to plain text (one line per paragraph, "- " before list items), oldest
   * first: all of them (what an agent sees), only the internal ones, or only the public ones.
   */
  commentTexts(key: string, which?: 'all' | 'internal' | 'public'): string[];
  /** What the customer (the requester) sees in the portal: the public comments' texts. */
  publicCommentTexts(key: string): string[];
  /** Every answer waits this long first (0: answer at once). */
  delayMs: number;
  /** Jira Service Management's Approvers field (multi-user picker) the approval step on "Waiting for approval" reads (./jsm.ts). */
  approversFieldId: string;
  /** The issue's JSM approvals, oldest first. */
  approvals(key: string): FakeJsmApproval[];
  /** A person answers the issue's pending approval in the portal; throws when JSM would refuse (not an approver, nothing pending). */
  answerApproval(key: string, email: string, decision: 'approve' | 'decline'): void;
  /** An agent sets the Approvers field in the issue view (a pending approval follows it). */
  setApprovers(key: string, emails: string[]): void;
  /** The issue's attachments, oldest first ([] for an unknown issue). */
  attachments(key: string): Array<{ filename: string; mimeType: string; content: string }>;
  /** Largest file Jira takes, in bytes (default 10 MB): a larger one is refused with 413. */
  attachmentSizeLimit: number;
  /** Whether the site allows attachments (default true): when off, an upload is refused with 403. */
  attachmentsEnabled: boolean;
}

/** Custom field types the simulated Jira checks on create (text: single line; textarea: paragraph, ADF). */
export type FakeFieldType = 'text' | 'textarea' | 'select' | 'multiselect' | 'user' | 'multiuser';

interface CustomField {
  id: string;
  name: string;
  type: FakeFieldType;
  onCreateScreen: boolean;
}

/** How GET /rest/api/3/field describes each type (schema.type, schema.items, schema.custom). */
const CUSTOM_FIELD_SCHEMAS: Record<FakeFieldType, { type: string; items?: string; custom: string }> = {
  text: { type: 'string', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:textfield' },
  textarea: { type: 'string', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:textarea' },
  select: { type: 'option', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:select' },
  multiselect: { type: 'array', items: 'option', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:multiselect' },
  user: { type: 'user', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:userpicker' },
  multiuser: { type: 'array', items: 'user', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:multiuserpicker' },
};

/** The system fields issue creation takes, as GET /rest/api/3/field lists them (id, name, schema.type). */
const SYSTEM_FIELDS: ReadonlyArray<readonly [string, string, string]> = [
  ['summary', 'Summary', 'string'],
  ['description', 'Description', 'string'],
  ['reporter', 'Reporter', 'user'],
  ['project', 'Project', 'project'],
  ['issuetype', 'Issue Type', 'issuetype'],
  ['labels', 'Labels', 'array'],
];

/** The sandbox's request fields (the defaults of JIRA_FIELD_SUBJECT/APP/ROLE/DURATION). */
const DEFAULT_FIELDS: ReadonlyArray<{ id: string; name: string; type: FakeFieldType }> = [
  { id: 'customfield_10070', name: 'Access for', type: 'text' },
  { id: 'customfield_10071', name: 'Application', type: 'select' },
  { id: 'customfield_10072', name: 'Role', type: 'select' },
  { id: 'customfield_10073', name: 'Duration', type: 'select' },
];

/** Project permissions GET /rest/api/3/mypermissions describes by name (any other key is answered as granted). */
const PERMISSIONS: Record<string, { id: string; name: string; description: string }> = {
  BROWSE_PROJECTS: { id: '10', name: 'Browse Projects', description: 'Ability to browse projects and the issues within them.' },
  CREATE_ISSUES: { id: '11', name: 'Create Issues', description: 'Ability to create issues.' },
  ADD_COMMENTS: { id: '15', name: 'Add Comments', description: 'Ability to comment on issues.' },
  MODIFY_REPORTER: { id: '30', name: 'Modify Reporter', description: 'Ability to modify the reporter when creating or editing an issue.' },
  TRANSITION_ISSUES: { id: '46', name: 'Transition Issues', description: 'Ability to transition issues.' },
};

/** Jira's answer for a field the create screen does not have (or no field at all). */
const cannotBeSet = (fieldId: string) => `Field '${fieldId}' cannot be set. It is not on the appropriate screen, or unknown.`;
/** Labels as Jira takes them: a list of strings, none with a space, each at most 255 characters. */
function labelsValue(value: unknown): { value: string[] } | { error: string } {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return { error: 'data was not an array' };
  const spaced = value.find((v) => /\s/.test(v));
  if (spaced !== undefined) return { error: `The label '${spaced}' contains spaces which is invalid.` };
  if (value.some((v) => v.length > 255)) return { error: 'The label must not exceed 255 characters.' };
  return { value };
}

/** Jira Cloud's answer for a plain string (or anything but a document) in a paragraph field or the description. */
const NOT_A_DOCUMENT = 'Operation value must be an Atlassian Document (see the Atlassian Document Format)';
/** Jira Cloud's limit on a single-line text field. */
const SHORT_TEXT_LIMIT = 255;

const jiraError = (status: number, errorMessages: string[], errors: Record<string, string> = {}): FakeResponse => ({
  status,
  body: { errorMessages, errors },
});
const ISSUE_NOT_FOUND = jiraError(404, ['Issue does not exist or you do not have permission to see it.']);
/** Jira Cloud's limit on a comment body. */
const COMMENT_LIMIT = 32_767;
/** Jira pages comments by up to 5000; a small page makes callers prove they follow startAt/total. */
const COMMENT_PAGE = 10;
/** Jira's default attachment size limit here (GET /rest/api/3/attachment/meta `uploadLimit`), 10 MB. */
const ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024;
/** Jira's timestamp format: 2024-05-01T10:00:00.000+0000 */
const jiraTime = (): string => new Date().toISOString().replace('Z', '+0000');

export async function startFakeJira(
  opts: {
    port?: number;
    email?: string;
    apiToken?: string;
    projectKey?: string;
    /** JSM's Approvers field (default customfield_10003). */
    approversFieldId?: string;
    /** Largest attachment taken, in bytes (default 10 MB). */
    attachmentSizeLimit?: number;
  } = {},
): Promise<FakeJira> {
  const email = opts.email ?? 'grantline-bot@example.com';
  const apiToken = opts.apiToken ?? 'fake-jira-api-token';
  const defaultProject = opts.projectKey ?? 'ACC';
  const expectedAuth = `Basic ${Buffer.from(`${email}:${apiToken}`).toString('base64')}`;
  const fake = new HttpFake('jira');
  const users = new Map<string, User>();
  const issues = new Map<string, Issue>();
  const projects = new Map<string, { id: string; next: number }>();
  let nextIssueId = 10000;
  let nextCommentId = 10000;
  let nextAttachmentId = 10000;
  let delayMs = 0;
  let attachmentSizeLimit = opts.attachmentSizeLimit ?? ATTACHMENT_SIZE_LIMIT;
  let attachmentsEnabled = true;

  const project = (key: string) => {
    let p = projects.get(key);
    if (!p) {
      p = { id: String(10000 + projects.size), next: 1 };
      projects.set(key, p);
    }
    return p;
  };
  project(defaultProject);

  const userByEmail = (address: string) => [...users.values()].find((u) => u.email.toLowerCase() === address.toLowerCase());

  const addUser: FakeJira['addUser'] = (u) => {
    const existing = u.accountId ? users.get(u.accountId) : userByEmail(u.email);
    const accountId = existing?.accountId ?? u.accountId ?? `712020:${randomUUID()}`;
    users.set(accountId, {
      accountId,
      email: u.email,
      displayName: u.displayName ?? existing?.displayName ?? u.email.split('@')[0] ?? u.email,
      emailVisible: u.emailVisible ?? existing?.emailVisible ?? true,
      active: u.active ?? existing?.active ?? true,
    });
    return accountId;
  };
  const botAccountId = addUser({ email, displayName: 'Grantline' });

  const insertIssue = (i: {
    projectKey: string;
    key?: string;
    summary: string;
    reporterId: string;
    issueType: string;
    fields: Record<string, unknown>;
  }): Issue => {
    const p = project(i.projectKey);
    let key = i.key ?? '';
    if (key) p.next = Math.max(p.next, Number(key.split('-')[1] ?? 0) + 1);
    else
      do key = `${i.projectKey}-${p.next++}`;
      while (issues.has(key));
    const now = jiraTime();
    const issue: Issue = {
      id: String(nextIssueId++),
      key,
      summary: i.summary,
      statusId: JIRA_WORKFLOW[0]!.id,
      issueType: i.issueType,
      reporterId: i.reporterId,
      creatorId: botAccountId,
      fields: i.fields,
      created: now,
      updated: now,
      comments: [],
      attachments: [],
    };
    issues.set(key, issue);
    return issue;
  };

  const userJson = (u: User) => ({
    self: `${fake.url}/rest/api/3/user?accountId=${encodeURIComponent(u.accountId)}`,
    accountId: u.accountId,
    accountType: 'atlassian',
    // Profile privacy: Jira omits emailAddress rather than returning null.
    ...(u.emailVisible ? { emailAddress: u.email } : {}),
    displayName: u.displayName,
    active: u.active,
    timeZone: 'Etc/UTC',
  });
  const statusJson = (s: Status) => ({
    self: `${fake.url}/rest/api/3/status/${s.id}`,
    description: '',
    name: s.name,
    id: s.id,
    statusCategory: { self: `${fake.url}/rest/api/3/statuscategory/${s.category.id}`, ...s.category },
  });
  const statusOf = (issue: Issue) => JIRA_WORKFLOW.find((s) => s.id === issue.statusId)!;
  const commentJson = (issue: Issue, c: Comment) => {
    const author = users.get(c.authorId);
    return {
      self: `${fake.url}/rest/api/3/issue/${issue.id}/comment/${c.id}`,
      id: c.id,
      author: author && userJson(author),
      body: c.body,
      updateAuthor: author && userJson(author),
      created: c.created,
      updated: c.created,
      jsdPublic: !c.internal,
    };
  };
  const attachmentJson = (a: Attachment) => {
    const author = users.get(a.authorId);
    return {
      self: `${fake.url}/rest/api/3/attachment/${a.id}`,
      id: a.id,
      filename: a.filename,
      author: author && userJson(author),
      created: a.created,
      size: a.size,
      mimeType: a.mimeType,
      content: `${fake.url}/rest/api/3/attachment/content/${a.id}`,
    };
  };
  const issueJson = (issue: Issue, expand: string[] = []) => {
    const p = project(issue.key.split('-')[0] ?? defaultProject);
    const reporter = users.get(issue.reporterId);
    const creator = users.get(issue.creatorId);
    return {
      expand: 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations',
      id: issue.id,
      self: `${fake.url}/rest/api/3/issue/${issue.id}`,
      key: issue.key,
      fields: {
        ...issue.fields,
        summary: issue.summary,
        status: statusJson(statusOf(issue)),
        issuetype: { id: '10001', name: issue.issueType, subtask: false },
        project: { id: p.id, key: issue.key.split('-')[0], self: `${fake.url}/rest/api/3/project/${p.id}` },
        reporter: reporter && userJson(reporter),
        creator: creator && userJson(creator),
        created: issue.created,
        updated: issue.updated,
        resolution: resolutionOf(issue) ?? null,
        attachment: issue.attachments.map(attachmentJson),
      },
      ...(expand.includes('transitions') || expand.includes('transitions.fields')
        ? { transitions: transitionsFrom(issue, expand.includes('transitions.fields')) }
        : {}),
    };
  };
  const resolutionJson = (r: (typeof JIRA_RESOLUTIONS)[number]) => ({ self: `${fake.url}/rest/api/3/resolution/${r.id}`, ...r });
  const resolutionOf = (issue: Issue) => {
    const found = JIRA_RESOLUTIONS.find((r) => r.id === issue.resolutionId);
    return found && resolutionJson(found);
  };
  /** The screen of the transition into `s`: stock JSM asks for the Resolution on the way into a resolved status. */
  const screenOf = (s: Status) =>
    s.category.key === 'done'
      ? {
          resolution: {
            required: true,
            schema: { type: 'resolution', system: 'resolution' },
            name: 'Resolution',
            key: 'resolution',
            hasDefaultValue: false,
            operations: ['set'],
            allowedValues: JIRA_RESOLUTIONS.map(resolutionJson),
          },
        }
      : undefined;
  const transitionsFrom = (issue: Issue, withFields = false, onlyId?: string) =>
    JIRA_WORKFLOW.filter((s) => s.id !== issue.statusId && (onlyId === undefined || s.transitionId === onlyId)).map((s) => ({
      id: s.transitionId,
      name: s.transitionName,
      to: statusJson(s),
      hasScreen: screenOf(s) !== undefined,
      isGlobal: true,
      isInitial: false,
      isAvailable: true,
      isConditional: false,
      isLooped: false,
      // Jira lists the screen's fields only when asked (expand=transitions.fields); a transition without a screen has none.
      ...(withFields ? { fields: screenOf(s) ?? {} } : {}),
    }));

  // Every route checks basic auth first, as Jira Cloud does for API-token requests; then the body's
  // type: JSON everywhere but on the attachment upload, which takes multipart/form-data only.
  const authed =
    (handler: (req: FakeRequest) => FakeResponse, body: 'json' | 'multipart' = 'json') =>
    async (req: FakeRequest): Promise<FakeResponse> => {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (req.headers.authorization !== expectedAuth) return jiraError(401, ['Client must be authenticated to access this resource.']);
      return (body === 'json' ? notJson(req) : notMultipart(req)) ?? handler(req);
    };
  const issueOf = (req: FakeRequest) => issues.get(req.params.key ?? '') ?? [...issues.values()].find((i) => i.id === req.params.key);
  const withIssue = (handler: (req: FakeRequest, issue: Issue) => FakeResponse) =>
    authed((req) => {
      const issue = issueOf(req);
      return issue ? handler(req, issue) : ISSUE_NOT_FOUND;
    });

  // Select-list custom fields: one global context each, options paged 10 at a time (Jira pages at
  // 100; a small page makes callers prove they follow isLast/startAt).
  interface SelectOption {
    id: string;
    value: string;
    disabled: boolean;
  }
  interface SelectField {
    contextId: string;
    options: SelectOption[];
  }
  const selectFields = new Map<string, SelectField>();
  let nextOptionId = 10100;
  let nextContextId = 10200;
  const OPTION_PAGE = 10;
  const MAX_OPTIONS_PER_REQUEST = 1000;
  const FIELD_NOT_FOUND = jiraError(404, ['The custom field was not found.']);

  // Every custom field with its type: what GET /rest/api/3/field lists and issue creation checks.
  const customFields = new Map<string, CustomField>();
  let modifyReporter = true;
  const addField: FakeJira['addField'] = ({ id, name, type, options = [], onCreateScreen = true }) => {
    customFields.set(id, { id, name, type, onCreateScreen });
    if (type === 'select' || type === 'multiselect') {
      selectFields.set(id, { contextId: String(nextContextId++), options: options.map((value) => ({ id: String(nextOptionId++), value, disabled: false })) });
    } else selectFields.delete(id);
  };
  for (const field of DEFAULT_FIELDS) addField(field);

  const fieldsJson = () => [
    ...SYSTEM_FIELDS.map(([id, name, type]) => ({
      id,
      key: id,
      name,
      custom: false,
      orderable: true,
      navigable: true,
      searchable: true,
      clauseNames: [id],
      schema: { type, ...(type === 'array' ? { items: 'string' } : {}), system: id },
    })),
    ...[...customFields.values()].map((f) => {
      const customId = Number(f.id.replace(/^customfield_/, ''));
      return {
        id: f.id,
        key: f.id,
        name: f.name,
        untranslatedName: f.name,
        custom: true,
        orderable: true,
        navigable: true,
        searchable: true,
        clauseNames: [`cf[${customId}]`, f.name],
        schema: { ...CUSTOM_FIELD_SCHEMAS[f.type], customId },
      };
    }),
  ];

  type Checked = { value: unknown } | { error: string };
  const documentValue = (value: unknown): Checked => (isAdfDoc(value) ? { value } : { error: NOT_A_DOCUMENT });
  /** A select value names an ENABLED option by id or by exact value; stored as Jira returns it. */
  const optionValue = (field: CustomField, value: unknown): Checked => {
    if (!isRecord(value) || (typeof value.value !== 'string' && value.id === undefined)) {
      return { error: "Could not find valid 'id' or 'value' in the Parent Option object." };
    }
    const enabled = (selectFields.get(field.id)?.options ?? []).filter((o) => !o.disabled);
    const byId = value.id !== undefined;
    const option = byId ? enabled.find((o) => o.id === String(value.id)) : enabled.find((o) => o.value === value.value);
    if (!option) return { error: byId ? `Option id '${String(value.id)}' is not valid` : `Option value '${String(value.value)}' is not valid` };
    return { value: { self: `${fake.url}/rest/api/3/customFieldOption/${option.id}`, value: option.value, id: option.id } };
  };
  /** A custom field's value on create, as Jira stores it, or Jira's message refusing it. */
  const customValue = (field: CustomField, value: unknown): Checked => {
    switch (field.type) {
      case 'text':
        if (typeof value !== 'string') return { error: 'Operation value must be a string' };
        if (value.length > SHORT_TEXT_LIMIT) return { error: `The entered text is too long. It exceeds the allowed limit of ${SHORT_TEXT_LIMIT} characters.` };
        return { value };
      case 'textarea':
        return documentValue(value);
      case 'select':
        return optionValue(field, value);
      case 'multiselect': {
        if (!Array.isArray(value)) return { error: 'data was not an array' };
        const chosen: unknown[] = [];
        for (const item of value) {
          const checked = optionValue(field, item);
          if ('error' in checked) return checked;
          chosen.push(checked.value);
        }
        return { value: chosen };
      }
      case 'user': {
        // An account id only: Jira Cloud does not take an email (or a name) for a user.
        const accountId = isRecord(value) ? (value.accountId ?? value.id) : undefined;
        const user = typeof accountId === 'string' ? users.get(accountId) : undefined;
        return user?.active ? { value: userJson(user) } : { error: `Specify a valid value for ${field.name}` };
      }
      case 'multiuser': {
        // A list of {accountId}; it replaces what the field held.
        if (!Array.isArray(value)) return { error: 'data was not an array' };
        const chosen: unknown[] = [];
        for (const item of value) {
          const checked = customValue({ ...field, type: 'user' }, item);
          if ('error' in checked) return checked;
          chosen.push(checked.value);
        }
        return { value: chosen };
      }
    }
  };
  const withField = (handler: (req: FakeRequest, field: SelectField) => FakeResponse) =>
    authed((req) => {
      const field = selectFields.get(req.params.fieldId ?? '');
      if (!field) return FIELD_NOT_FOUND;
      if (req.params.contextId !== undefined && req.params.contextId !== field.contextId) {
        return jiraError(404, ['The context was not found.']);
      }
      return handler(req, field);
    });
  const optionsIn = (body: unknown): Array<Record<string, unknown>> => (isRecord(body) && Array.isArray(body.options) ? body.options.filter(isRecord) : []);
  /** Jira's PageBean: startAt/maxResults from the query, maxResults capped at `cap`. */
  const pageOf = <T>(req: FakeRequest, items: T[], cap: number) => {
    const int = (name: string, fallback: number) => {
      const n = Number(req.query.get(name) ?? fallback);
      return Number.isInteger(n) && n >= 0 ? n : fallback;
    };
    const startAt = int('startAt', 0);
    const maxResults = Math.min(int('maxResults', cap) || cap, cap);
    const values = items.slice(startAt, startAt + maxResults);
    return { maxResults, startAt, total: items.length, isLast: startAt + values.length >= items.length, values };
  };
  const optionJson = (o: SelectOption) => ({ id: o.id, value: o.value, disabled: o.disabled });

  fake
    .route(
      'GET',
      '/rest/api/3/field/:fieldId/context',
      withField((req, field) => {
        const contexts = [
          {
            id: field.contextId,
            name: 'Default Configuration Scheme',
            description: 'Default configuration scheme generated by Jira',
            isGlobalContext: true,
            isAnyIssueType: true,
          },
        ].filter(
          // Jira applies these filters when present (jira.js sends "false" for both when given a bare field id).
          (c) =>
            [['isGlobalContext', c.isGlobalContext] as const, ['isAnyIssueType', c.isAnyIssueType] as const].every(
              ([name, actual]) => !req.query.has(name) || req.query.get(name) === String(actual),
            ),
        );
        return { status: 200, body: pageOf(req, contexts, 50) };
      }),
    )
    .route(
      'GET',
      '/rest/api/3/field/:fieldId/context/:contextId/option',
      withField((req, field) => ({ status: 200, body: pageOf(req, field.options.map(optionJson), OPTION_PAGE) })),
    )
    .route(
      'POST',
      '/rest/api/3/field/:fieldId/context/:contextId/option',
      withField((req, field) => {
        const requested = optionsIn(req.body);
        if (requested.length === 0) return jiraError(400, ['At least one option must be provided.']);
        if (requested.length > MAX_OPTIONS_PER_REQUEST) {
          return jiraError(400, [`No more than ${MAX_OPTIONS_PER_REQUEST} options can be created in one request.`]);
        }
        const seen = new Set(field.options.map((o) => o.value));
        for (const o of requested) {
          if (typeof o.value !== 'string' || !o.value.trim()) return jiraError(400, ['The option value must not be empty.']);
          if (seen.has(o.value)) return jiraError(400, [`The option value '${o.value}' already exists.`]);
          seen.add(o.value);
        }
        // Validated as a whole first: a rejected request creates nothing.
        const created = requested.map((o) => ({ id: String(nextOptionId++), value: String(o.value), disabled: o.disabled === true }));
        field.options.push(...created);
        return { status: 200, body: { options: created.map(optionJson) } };
      }),
    )
    .route(
      'PUT',
      '/rest/api/3/field/:fieldId/context/:contextId/option',
      withField((req, field) => {
        const requested = optionsIn(req.body);
        // "If any of the options are not found, no options are updated."
        const missing = requested.find((o) => !field.options.some((e) => e.id === String(o.id)));
        if (missing) return jiraError(400, [`The option with ID ${String(missing.id)} was not found.`]);
        const updated: SelectOption[] = [];
        for (const o of requested) {
          const option = field.options.find((e) => e.id === String(o.id))!;
          const value = typeof o.value === 'string' ? o.value : option.value;
          const disabled = typeof o.disabled === 'boolean' ? o.disabled : option.disabled;
          // Options whose request matches their current state are not updated nor reported.
          if (value === option.value && disabled === option.disabled) continue;
          option.value = value;
          option.disabled = disabled;
          updated.push(option);
        }
        return { status: 200, body: { options: updated.map(optionJson) } };
      }),
    )
    .route(
      'GET',
      '/rest/api/3/field',
      authed(() => ({ status: 200, body: fieldsJson() })),
    )
    .route(
      'GET',
      '/rest/api/3/mypermissions',
      authed((req) => {
        const keys = (req.query.get('permissions') ?? '')
          .split(',')
          .map((k) => k.trim())
          .filter(Boolean);
        if (keys.length === 0) return jiraError(400, ['The permissions query parameter is required.']);
        const projectKey = req.query.get('projectKey');
        if (projectKey && !projects.has(projectKey)) return jiraError(404, [`No project could be found with key '${projectKey}'.`]);
        const permissions = Object.fromEntries(
          keys.map((key) => {
            const known = PERMISSIONS[key] ?? { id: '0', name: key, description: '' };
            return [key, { ...known, key, type: 'PROJECT', havePermission: key !== 'MODIFY_REPORTER' || modifyReporter }];
          }),
        );
        return { status: 200, body: { permissions } };
      }),
    )
    .route(
      'GET',
      '/rest/api/3/myself',
      authed(() => ({ status: 200, body: userJson(users.get(botAccountId)!) })),
    )
    .route(
      'GET',
      '/rest/api/3/user',
      authed((req) => {
        const accountId = req.query.get('accountId');
        if (!accountId) return jiraError(400, ['The accountId query parameter needs to be provided.']);
        const user = users.get(accountId);
        return user ? { status: 200, body: userJson(user) } : jiraError(404, [`Specified user does not exist or you do not have required permissions`]);
      }),
    )
    .route(
      'GET',
      '/rest/api/3/user/search',
      authed((req) => {
        const query = (req.query.get('query') ?? '').toLowerCase();
        if (!query) return jiraError(400, ["One of 'query', 'accountId' or 'property' query parameters must be provided."]);
        // Prefix match on email and display name; hidden emails still match, they are just not returned.
        const found = [...users.values()].filter((u) => u.active && (u.email.toLowerCase().startsWith(query) || u.displayName.toLowerCase().startsWith(query)));
        return { status: 200, body: found.map(userJson) };
      }),
    )
    .route(
      'POST',
      '/rest/api/3/issue',
      authed((req) => {
        const fields = isRecord(req.body) && isRecord(req.body.fields) ? req.body.fields : {};
        const { project: proj, issuetype, summary, reporter, ...rest } = fields;
        const errors: Record<string, string> = {};
        const projectKey = isRecord(proj) && typeof proj.key === 'string' ? proj.key : undefined;
        if (!projectKey || !projects.has(projectKey)) errors.project = 'valid project is required';
        const issueType = isRecord(issuetype) && typeof issuetype.name === 'string' ? issuetype.name : undefined;
        if (!issueType) errors.issuetype = 'Specify an issue type';
        if (typeof summary !== 'string' || !summary.trim()) errors.summary = 'You must specify a summary of the issue.';
        else if (summary.length > 255) errors.summary = 'Summary must be less than 255 characters.';
        // Only with Modify Reporter is `reporter` on the create screen; without a reporter, the caller is it.
        const reporterAccount = isRecord(reporter) ? (reporter.id ?? reporter.accountId) : undefined;
        const reporterId = typeof reporterAccount === 'string' ? reporterAccount : botAccountId;
        if (reporter !== undefined && !modifyReporter) errors.reporter = cannotBeSet('reporter');
        else if (!users.get(reporterId)?.active) errors.reporter = 'Specified reporter is not a user.';
        const stored: Record<string, unknown> = {};
        for (const [fieldId, value] of Object.entries(rest)) {
          const field = customFields.get(fieldId);
          const checked =
            fieldId === 'description'
              ? documentValue(value)
              : fieldId === 'labels'
                ? labelsValue(value)
                : field?.onCreateScreen
                  ? customValue(field, value)
                  : { error: cannotBeSet(fieldId) };
          if ('error' in checked) errors[fieldId] = checked.error;
          else stored[fieldId] = checked.value;
        }
        if (Object.keys(errors).length > 0 || !projectKey || !issueType || typeof summary !== 'string') {
          return jiraError(400, [], errors);
        }
        const issue = insertIssue({ projectKey, summary, reporterId, issueType, fields: stored });
        return { status: 201, body: { id: issue.id, key: issue.key, self: `${fake.url}/rest/api/3/issue/${issue.id}` } };
      }),
    )
    .route(
      'POST',
      '/rest/api/3/search/jql',
      authed((req) => {
        // The one query Grantline makes (findIssueByLabel); anything else is refused as Jira refuses a query it cannot parse.
        const jql = isRecord(req.body) && typeof req.body.jql === 'string' ? req.body.jql : '';
        const match = /^(?:project\s*=\s*"?([A-Z][A-Z0-9_]*)"?\s+AND\s+)?labels\s*=\s*"?([^"\s]+)"?$/i.exec(jql.trim());
        if (!match) return jiraError(400, [`Error in the JQL Query: the simulated Jira answers only 'project = KEY AND labels = "x"' (got: ${jql})`]);
        const [, projectKey, label] = match;
        const found = [...issues.values()].filter(
          (i) => (!projectKey || i.key.startsWith(`${projectKey}-`)) && Array.isArray(i.fields.labels) && i.fields.labels.includes(label),
        );
        const max = isRecord(req.body) && typeof req.body.maxResults === 'number' ? req.body.maxResults : 50;
        return { status: 200, body: { issues: found.slice(0, max).map((i) => ({ id: i.id, key: i.key, fields: {} })), isLast: found.length <= max } };
      }),
    )
    .route(
      'GET',
      '/rest/api/3/issue/:key',
      withIssue((req, issue) => ({ status: 200, body: issueJson(issue, (req.query.get('expand') ?? '').split(',')) })),
    )
    .route(
      'GET',
      '/rest/api/3/issue/:key/comment',
      withIssue((req, issue) => {
        const orderBy = req.query.get('orderBy') ?? 'created';
        if (!['created', '+created', '-created'].includes(orderBy)) return jiraError(400, [`Invalid orderBy: ${orderBy}`]);
        const ordered = orderBy === '-created' ? [...issue.comments].reverse() : issue.comments;
        const { values, ...page } = pageOf(req, ordered, COMMENT_PAGE);
        return {
          status: 200,
          body: { startAt: page.startAt, maxResults: page.maxResults, total: page.total, comments: values.map((c) => commentJson(issue, c)) },
        };
      }),
    )
    .route(
      'POST',
      '/rest/api/3/issue/:key/comment',
      withIssue((req, issue) => {
        const body = isRecord(req.body) ? req.body.body : undefined;
        if (!isAdfDoc(body)) return jiraError(400, [], { comment: 'INVALID_INPUT' });
        if (JSON.stringify(body).length > COMMENT_LIMIT) {
          return jiraError(400, [], { comment: 'The entered text is too long. It exceeds the allowed limit of 32,767 characters.' });
        }
        const properties = isRecord(req.body) ? req.body.properties : undefined;
        if (properties !== undefined && !isEntityPropertyList(properties)) {
          return jiraError(400, ['The comment properties must be a list of entity properties, each with a key of at most 255 characters.']);
        }
        const internal = (properties ?? []).some((p) => p.key === 'sd.public.comment' && isRecord(p.value) && p.value.internal === true);
        const comment: Comment = { id: String(nextCommentId++), authorId: botAccountId, body, created: jiraTime(), internal };
        issue.comments.push(comment);
        issue.updated = comment.created;
        return { status: 201, body: commentJson(issue, comment) };
      }),
    )
    .route(
      'GET',
      '/rest/api/3/issue/:key/transitions',
      withIssue((req, issue) => {
        const withFields = (req.query.get('expand') ?? '').split(',').includes('transitions.fields');
        // An unknown (or unavailable) transitionId gives an empty list, as in Jira.
        const transitions = transitionsFrom(issue, withFields, req.query.get('transitionId') ?? undefined);
        return { status: 200, body: { expand: 'transitions', transitions } };
      }),
    )
    .route(
      'GET',
      '/rest/api/3/resolution',
      authed(() => ({ status: 200, body: JIRA_RESOLUTIONS.map(resolutionJson) })),
    )
    .route(
      'POST',
      '/rest/api/3/issue/:key/transitions',
      withIssue((req, issue) => {
        const transition = isRecord(req.body) && isRecord(req.body.transition) ? req.body.transition : {};
        const id = String(transition.id ?? '');
        const target = JIRA_WORKFLOW.find((s) => s.transitionId === id && s.id !== issue.statusId);
        if (!target) return jiraError(400, [`Transition id '${id}' is not valid for this issue.`]);
        const screen: Record<string, unknown> = screenOf(target) ?? {};
        const fields = isRecord(req.body) && isRecord(req.body.fields) ? req.body.fields : {};
        const errors: Record<string, string> = {};
        for (const field of Object.keys(fields)) {
          if (!(field in screen)) errors[field] = `Field '${field}' cannot be set. It is not on the appropriate screen, or unknown.`;
        }
        let resolutionId: string | undefined;
        if ('resolution' in screen) {
          const given = isRecord(fields.resolution) ? fields.resolution : undefined;
          const found = given && JIRA_RESOLUTIONS.find((r) => r.id === String(given.id ?? '') || r.name === given.name);
          if (!given) errors.resolution = 'Resolution is required.';
          else if (!found) errors.resolution = `Resolution '${String(given.name ?? given.id ?? '')}' is not valid.`;
          resolutionId = found?.id;
        }
        if (Object.keys(errors).length > 0) return jiraError(400, [], errors);
        issue.statusId = target.id;
        issue.resolutionId = resolutionId;
        issue.updated = jiraTime();
        jsm.statusChanged(issue);
        return { status: 204 };
      }),
    );

  // Editing an issue (PUT /rest/api/3/issue/{key}, 204): every custom field is on the edit screen, checked as on create.
  fake.route(
    'PUT',
    '/rest/api/3/issue/:key',
    withIssue((req, issue) => {
      const fields = isRecord(req.body) && isRecord(req.body.fields) ? req.body.fields : {};
      const errors: Record<string, string> = {};
      const stored: Record<string, unknown> = {};
      for (const [fieldId, value] of Object.entries(fields)) {
        const field = customFields.get(fieldId);
        const checked = fieldId === 'description' ? documentValue(value) : field ? customValue(field, value) : { error: cannotBeSet(fieldId) };
        if ('error' in checked) errors[fieldId] = checked.error;
        else stored[fieldId] = checked.value;
      }
      if (Object.keys(errors).length > 0) return jiraError(400, [], errors);
      Object.assign(issue.fields, stored);
      issue.updated = jiraTime();
      return { status: 204 };
    }),
  );

  // Attachments: multipart/form-data, the files in parts named "file" (several may come at once).
  const attachmentById = (id: string) => [...issues.values()].flatMap((i) => i.attachments).find((a) => a.id === id);
  fake
    .route(
      'POST',
      '/rest/api/3/issue/:key/attachments',
      authed((req) => {
        const issue = issueOf(req);
        if (!issue) return ISSUE_NOT_FOUND;
        if (!attachmentsEnabled) return jiraError(403, ['Attachments are disabled on this Jira site.']);
        const parts = multipartParts(req);
        if (!parts) return jiraError(400, ['The request was rejected because the multipart/form-data body could not be parsed.']);
        const files = parts.filter((p) => p.name === 'file' && p.filename !== undefined);
        if (files.length === 0) return jiraError(400, ["The multipart/form-data request has no part named 'file' holding a file to attach."]);
        if (files.some((f) => Buffer.byteLength(f.content, 'utf8') > attachmentSizeLimit)) {
          return jiraError(413, [`The field file exceeds its maximum permitted size of ${attachmentSizeLimit} bytes.`]);
        }
        const created = jiraTime();
        const made = files.map((f) => ({
          id: String(nextAttachmentId++),
          filename: f.filename ?? '',
          mimeType: f.contentType ?? 'application/octet-stream',
          content: f.content,
          size: Buffer.byteLength(f.content, 'utf8'),
          authorId: botAccountId,
          created,
        }));
        issue.attachments.push(...made);
        issue.updated = created;
        return { status: 200, body: made.map(attachmentJson) };
      }, 'multipart'),
    )
    .route(
      'GET',
      '/rest/api/3/attachment/meta',
      authed(() => ({ status: 200, body: { enabled: attachmentsEnabled, uploadLimit: attachmentSizeLimit } })),
    )
    .route(
      'GET',
      '/rest/api/3/attachment/content/:id',
      authed((req) => {
        const attachment = attachmentById(req.params.id ?? '');
        if (!attachment) return jiraError(404, [`The attachment with id ${req.params.id ?? ''} does not exist.`]);
        return { status: 200, headers: { 'content-type': attachment.mimeType }, body: attachment.content };
      }),
    );

  // Jira Service Management approvals (./jsm.ts).
  const approversFieldId = opts.approversFieldId ?? 'customfield_10003';
  addField({ id: approversFieldId, name: 'Approvers', type: 'multiuser', onCreateScreen: false });
  const statusNamed = (name: string) => JIRA_WORKFLOW.find((s) => s.name === name)!.id;
  const jsm = addJsmApprovals({
    fake,
    url: () => fake.url,
    botAccountId,
    fieldId: approversFieldId,
    approvalStatusId: statusNamed('Waiting for approval'),
    approvedStatusId: statusNamed('In Progress'),
    declinedStatusId: statusNamed('Declined'),
    declinedResolutionId: JIRA_RESOLUTIONS.find((r) => r.name === 'Declined')!.id,
    users,
    userByEmail,
    issueByKey: (keyOrId) => issues.get(keyOrId) ?? [...issues.values()].find((i) => i.id === keyOrId),
    authed,
    now: jiraTime,
  });

  const url = await fake.listen(opts.port ?? 0);

  return {
    url,
    fake,
    botAccountId,
    close: () => fake.close(),
    addUser,
    createIssue: ({ key, summary, reporterEmail, fields = {} }) => {
      const reporterId = userByEmail(reporterEmail)?.accountId ?? addUser({ email: reporterEmail });
      const projectKey = key?.split('-')[0] ?? defaultProject;
      if (key && issues.has(key)) throw new Error(`fake Jira: issue ${key} already exists`);
      const issue = insertIssue({ projectKey, key, summary, reporterId, issueType: 'Task', fields });
      return { id: issue.id, key: issue.key };
    },
    issue: (key) => {
      const issue = issues.get(key);
      if (!issue) return undefined;
      const { id, summary, reporterId, issueType, fields } = issue;
      const resolution = resolutionOf(issue)?.name;
      return { id, key, summary, status: statusOf(issue).name, reporterAccountId: reporterId, issueType, fields, ...(resolution ? { resolution } : {}) };
    },
    addSelectField: (fieldId, options, name) => addField({ id: fieldId, name: name ?? customFields.get(fieldId)?.name ?? fieldId, type: 'select', options }),
    addField,
    get modifyReporter() {
      return modifyReporter;
    },
    set modifyReporter(granted: boolean) {
      modifyReporter = granted;
    },
    fieldOptions: (fieldId) => selectFields.get(fieldId)?.options.map(({ value, disabled }) => ({ value, disabled })) ?? [],
    comments: (key) => issues.get(key)?.comments.map((c) => c.body) ?? [],
    commentTexts: (key, which = 'all') =>
      (issues.get(key)?.comments ?? []).filter((c) => which === 'all' || c.internal === (which === 'internal')).map((c) => adfToText(c.body)),
    publicCommentTexts: (key) => (issues.get(key)?.comments ?? []).filter((c) => !c.internal).map((c) => adfToText(c.body)),
    get delayMs() {
      return delayMs;
    },
    set delayMs(ms: number) {
      delayMs = ms;
    },
    approversFieldId,
    approvals: (key) => jsm.approvals(key),
    answerApproval: (key, email, decision) => jsm.answer(key, email, decision),
    setApprovers: (key, emails) => {
      const issue = issues.get(key);
      if (!issue) throw new Error(`fake Jira: no issue ${key}`);
      issue.fields[approversFieldId] = emails.map((email) => {
        const user = userByEmail(email);
        if (!user) throw new Error(`fake Jira: no user ${email}`);
        return userJson(user);
      });
    },
    attachments: (key) => (issues.get(key)?.attachments ?? []).map(({ filename, mimeType, content }) => ({ filename, mimeType, content })),
    get attachmentSizeLimit() {
      return attachmentSizeLimit;
    },
    set attachmentSizeLimit(bytes: number) {
      attachmentSizeLimit = bytes;
    },
    get attachmentsEnabled() {
      return attachmentsEnabled;
    },
    set attachmentsEnabled(enabled: boolean) {
      attachmentsEnabled = enabled;
    },
  };
}

/**
 * Jira's answer to a request body it does not read as JSON, before any route runs (the HTTP fake
 * hands a route an unparseable body as its raw text): the "simple" content types a browser form
 * can send fail Jira's XSRF check (403), other non-JSON types are 415, and JSON that does not
 * parse is 400 with the parser's message in errorMessages. undefined: the body is fine (or none).
 */
function notJson(req: FakeRequest): FakeResponse | undefined {
  if (!req.rawBody) return undefined;
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'].includes(type) && req.headers['x-atlassian-token'] !== 'no-check') {
    return { status: 403, headers: { 'content-type': 'text/plain' }, body: 'XSRF check failed' };
  }
  if (type !== 'application/json' && !type.endsWith('+json')) return { status: 415, body: { errorMessages: ['Unsupported Media Type'], errors: {} } };
  try {
    JSON.parse(req.rawBody);
    return undefined;
  } catch (err) {
    // Jira quotes its JSON parser (Jackson); Node's parser says the same thing in its own words.
    return jiraError(400, [`Unexpected character: the request body is not valid JSON (${(err as Error).message})`]);
  }
}

/**
 * Jira's answer to an attachment upload whose request it does not take, before the issue is looked
 * up: no `X-Atlassian-Token: no-check` fails the XSRF check (403, whatever the body), a body that is
 * not multipart/form-data is 415. undefined: the request may go on.
 */
function notMultipart(req: FakeRequest): FakeResponse | undefined {
  if (req.headers['x-atlassian-token'] !== 'no-check') return { status: 403, headers: { 'content-type': 'text/plain' }, body: 'XSRF check failed' };
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (type !== 'multipart/form-data') return { status: 415, body: { errorMessages: ['Unsupported Media Type'], errors: {} } };
  return undefined;
}

interface MultipartPart {
  name?: string;
  filename?: string;
  contentType?: string;
  content: string;
}

/**
 * The parts of a multipart/form-data body (RFC 7578), each with its form name, file name, type and
 * content; undefined when there is no boundary or the body does not follow it. Names come as
 * browsers and undici/axios write them: `"`, CR and LF percent-escaped.
 */
function multipartParts(req: FakeRequest): MultipartPart[] | undefined {
  const contentType = String(req.headers['content-type'] ?? '');
  const boundary = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const delimiter = boundary?.[1] ?? boundary?.[2];
  if (!delimiter) return undefined;
  // A delimiter starts a line: the CRLF before it belongs to it, not to the part before.
  const sections = `\r\n${req.rawBody}`.split(`\r\n--${delimiter}`);
  const last = sections.at(-1);
  if (sections.length < 3 || !last?.startsWith('--')) return undefined;
  const parts: MultipartPart[] = [];
  for (const section of sections.slice(1, -1)) {
    const headEnd = section.indexOf('\r\n\r\n');
    if (!section.startsWith('\r\n') && !/^[ \t]*\r\n/.test(section)) return undefined;
    if (headEnd < 0) return undefined;
    const headers = new Map<string, string>();
    for (const line of section.slice(0, headEnd).split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const disposition = headers.get('content-disposition') ?? '';
    if (!/^form-data\b/i.test(disposition)) return undefined;
    const param = (key: string) => {
      const found = new RegExp(`;\\s*${key}="([^"]*)"`, 'i').exec(disposition)?.[1];
      return found?.replace(/%22|%0D|%0A/gi, (m) => ({ '%22': '"', '%0d': '\r', '%0a': '\n' })[m.toLowerCase()] ?? m);
    };
    const name = param('name');
    const filename = param('filename');
    const partType = headers.get('content-type');
    parts.push({
      content: section.slice(headEnd + 4),
      ...(name !== undefined ? { name } : {}),
      ...(filename !== undefined ? { filename } : {}),
      ...(partType ? { contentType: partType } : {}),
    });
  }
  return parts;
}

/** Flattens ADF to text: blocks on their own lines, list items prefixed "- ". */
export function adfToText(node: unknown): string {
  if (!isRecord(node)) return '';
  const children = Array.isArray(node.content) ? node.content : [];
  switch (node.type) {
    case 'text':
      return typeof node.text === 'string' ? node.text : '';
    case 'hardBreak':
      return '\n';
    case 'doc':
    case 'bulletList':
    case 'orderedList':
      return children.map(adfToText).join('\n');
    case 'listItem':
      return `- ${children.map(adfToText).join('\n')}`;
    default:
      return children.map(adfToText).join('');
  }
}

const ADF_NODES = new Set([
  'paragraph',
  'text',
  'hardBreak',
  'bulletList',
  'orderedList',
  'listItem',
  'heading',
  'blockquote',
  'codeBlock',
  'rule',
  'panel',
  'table',
  'tableRow',
  'tableHeader',
  'tableCell',
  'mention',
  'emoji',
  'date',
  'status',
  'inlineCard',
]);
const ADF_MARKS = new Set(['strong', 'em', 'code', 'strike', 'underline', 'link', 'subsup', 'textColor']);

/**
 * The checks Jira applies before storing a comment: a version-1 doc of known nodes; text nodes
 * carry non-empty text, known marks and no content; every other node's content is an array.
 */
function isAdfDoc(body: unknown): boolean {
  if (!isRecord(body) || body.type !== 'doc' || body.version !== 1 || !Array.isArray(body.content)) return false;
  const valid = (node: unknown): boolean => {
    if (!isRecord(node) || typeof node.type !== 'string' || !ADF_NODES.has(node.type)) return false;
    if (
      node.marks !== undefined &&
      !(Array.isArray(node.marks) && node.marks.every((m) => isRecord(m) && typeof m.type === 'string' && ADF_MARKS.has(m.type)))
    ) {
      return false;
    }
    if (node.type === 'text') return typeof node.text === 'string' && node.text.length > 0 && node.content === undefined;
    return node.content === undefined || (Array.isArray(node.content) && node.content.every(valid));
  };
  return body.content.every(valid);
}

/** Jira's EntityProperty list: objects with a key (1 to 255 characters) and any value. */
function isEntityPropertyList(value: unknown): value is Array<{ key: string; value?: unknown }> {
  return Array.isArray(value) && value.every((p) => isRecord(p) && typeof p.key === 'string' && p.key.length > 0 && p.key.length <= 255);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
