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
 *
 * As strict as Jira Cloud where Grantline could go wrong: a comment body must be a valid ADF
 * document and at most 32,767 characters (measured on the ADF JSON), else 400 with Jira's error
 * shape. Comments are listed in pages of 10 (startAt/maxResults/total, orderBy created or
 * -created). `delayMs` makes every answer slow ("Jira is slow").
 */
import { randomUUID } from 'node:crypto';
import { HttpFake, type FakeRequest, type FakeResponse } from './http-fake.js';

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
  /** Adds (or replaces) a select-list custom field with one global context offering these options, all enabled. */
  addSelectField(fieldId: string, options: string[]): void;
  /** The field's options in Jira's order, disabled ones included; [] for an unknown field. */
  fieldOptions(fieldId: string): Array<{ value: string; disabled: boolean }>;
  /** ADF bodies of the issue's comments, oldest first. */
  comments(key: string): unknown[];
  /** Each comment flattened to plain text: one line per paragraph, "- " before list items. */
  commentTexts(key: string): string[];
  /** Every answer waits this long first (0: answer at once). */
  delayMs: number;
}

const jiraError = (status: number, errorMessages: string[], errors: Record<string, string> = {}): FakeResponse => ({
  status,
  body: { errorMessages, errors },
});
const ISSUE_NOT_FOUND = jiraError(404, ['Issue does not exist or you do not have permission to see it.']);
/** Jira Cloud's limit on a comment body. */
const COMMENT_LIMIT = 32_767;
/** Jira pages comments by up to 5000; a small page makes callers prove they follow startAt/total. */
const COMMENT_PAGE = 10;
/** Jira's timestamp format: 2024-05-01T10:00:00.000+0000 */
const jiraTime = (): string => new Date().toISOString().replace('Z', '+0000');

export async function startFakeJira(opts: { port?: number; email?: string; apiToken?: string; projectKey?: string } = {}): Promise<FakeJira> {
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
  let delayMs = 0;

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
      jsdPublic: true,
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
      },
      ...(expand.includes('transitions') ? { transitions: transitionsFrom(issue) } : {}),
    };
  };
  const transitionsFrom = (issue: Issue) =>
    JIRA_WORKFLOW.filter((s) => s.id !== issue.statusId).map((s) => ({
      id: s.transitionId,
      name: s.transitionName,
      to: statusJson(s),
      hasScreen: false,
      isGlobal: true,
      isInitial: false,
      isAvailable: true,
      isConditional: false,
      isLooped: false,
    }));

  // Every route checks basic auth first, as Jira Cloud does for API-token requests.
  const authed =
    (handler: (req: FakeRequest) => FakeResponse) =>
    async (req: FakeRequest): Promise<FakeResponse> => {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      return req.headers.authorization === expectedAuth ? handler(req) : jiraError(401, ['Client must be authenticated to access this resource.']);
    };
  const withIssue = (handler: (req: FakeRequest, issue: Issue) => FakeResponse) =>
    authed((req) => {
      const issue = issues.get(req.params.key ?? '') ?? [...issues.values()].find((i) => i.id === req.params.key);
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
        const reporterId = isRecord(reporter) && typeof reporter.id === 'string' ? reporter.id : botAccountId;
        if (!users.get(reporterId)?.active) errors.reporter = 'Specified reporter is not a user.';
        if (Object.keys(errors).length > 0 || !projectKey || !issueType || typeof summary !== 'string') {
          return jiraError(400, [], errors);
        }
        const issue = insertIssue({ projectKey, summary, reporterId, issueType, fields: rest });
        return { status: 201, body: { id: issue.id, key: issue.key, self: `${fake.url}/rest/api/3/issue/${issue.id}` } };
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
        const comment: Comment = { id: String(nextCommentId++), authorId: botAccountId, body, created: jiraTime() };
        issue.comments.push(comment);
        issue.updated = comment.created;
        return { status: 201, body: commentJson(issue, comment) };
      }),
    )
    .route(
      'GET',
      '/rest/api/3/issue/:key/transitions',
      withIssue((_req, issue) => ({ status: 200, body: { expand: 'transitions', transitions: transitionsFrom(issue) } })),
    )
    .route(
      'POST',
      '/rest/api/3/issue/:key/transitions',
      withIssue((req, issue) => {
        const transition = isRecord(req.body) && isRecord(req.body.transition) ? req.body.transition : {};
        const id = String(transition.id ?? '');
        const target = JIRA_WORKFLOW.find((s) => s.transitionId === id && s.id !== issue.statusId);
        if (!target) return jiraError(400, [`Transition id '${id}' is not valid for this issue.`]);
        issue.statusId = target.id;
        issue.updated = jiraTime();
        return { status: 204 };
      }),
    );

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
      return { id, key, summary, status: statusOf(issue).name, reporterAccountId: reporterId, issueType, fields };
    },
    addSelectField: (fieldId, options) => {
      selectFields.set(fieldId, {
        contextId: String(nextContextId++),
        options: options.map((value) => ({ id: String(nextOptionId++), value, disabled: false })),
      });
    },
    fieldOptions: (fieldId) => selectFields.get(fieldId)?.options.map(({ value, disabled }) => ({ value, disabled })) ?? [],
    comments: (key) => issues.get(key)?.comments.map((c) => c.body) ?? [],
    commentTexts: (key) => issues.get(key)?.comments.map((c) => adfToText(c.body)) ?? [],
    get delayMs() {
      return delayMs;
    },
    set delayMs(ms: number) {
      delayMs = ms;
    },
  };
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
