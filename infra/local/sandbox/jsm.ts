/**
 * Simulated Jira Service Management approvals, part of the simulated Jira (./jira.ts), configured as
 * docs/jira-setup.md §6 asks: an approval step on "Waiting for approval" whose approvers come from the
 * Approvers field (a multi-user picker), 1 approval required, approve → "In Progress", decline →
 * "Declined" (with the Resolution the recommended post function sets).
 *
 * - When the issue enters the approval status and the field holds users, JSM opens an approval
 *   (re-entering while one is still pending keeps that one). While it is pending its approvers are
 *   whoever the field holds (an agent can add someone by hand) plus whoever already answered.
 * - One approve completes it as approved; one decline completes it as declined; either moves the issue.
 * - REST (/rest/servicedeskapi, JSM's shapes: paged {size, start, limit, isLastPage, values, _links},
 *   DateDTO {iso8601, jira, friendly, epochMillis}, errors {errorMessage, i18nErrorMessage}):
 *   GET request/{key}/approval (pages of 2, whatever limit is asked: callers must follow isLastPage),
 *   GET request/{key}/approval/{id}, POST request/{key}/approval/{id} {decision: approve|decline} as the
 *   calling account (Grantline's). Refused: unknown approval 404, a decision other than approve/decline
 *   400, a caller who is not one of its approvers 403, an approval already completed (or answered by the
 *   caller, or whose issue has left its status) 400. The status codes are this sandbox's reading: JSM's
 *   reference documents only the 200 answer and "User is assigned to the approval request".
 */
import type { FakeRequest, FakeResponse, HttpFake } from './http-fake.js';

/** The parts of a simulated issue the approvals read and move. */
export interface JsmIssue {
  id: string;
  key: string;
  statusId: string;
  fields: Record<string, unknown>;
  resolutionId?: string;
  updated: string;
}

export interface JsmUser {
  accountId: string;
  email: string;
  displayName: string;
  emailVisible: boolean;
  active: boolean;
}

/** What the simulated Jira lends its approvals. */
export interface JsmHost {
  fake: HttpFake;
  url: () => string;
  /** The account the API token belongs to: the caller of every REST request. */
  botAccountId: string;
  /** The Approvers field (multi-user picker) the approval step reads. */
  fieldId: string;
  approvalStatusId: string;
  approvedStatusId: string;
  declinedStatusId: string;
  /** Set by the decline transition's post function (a done-category status needs a resolution). */
  declinedResolutionId: string;
  users: ReadonlyMap<string, JsmUser>;
  userByEmail(email: string): JsmUser | undefined;
  issueByKey(keyOrId: string): JsmIssue | undefined;
  /** Basic auth, JSON body checks and the configured delay, as every Jira route. */
  authed(handler: (req: FakeRequest) => FakeResponse): (req: FakeRequest) => Promise<FakeResponse>;
  now(): string;
}

export type JsmDecision = 'pending' | 'approved' | 'declined';

export interface FakeJsmApproval {
  id: string;
  finalDecision: JsmDecision;
  approvers: Array<{ email: string; decision: JsmDecision }>;
}

export interface FakeJsm {
  /** The issue's status changed (the transitions route calls this): entering the approval status opens an approval. */
  statusChanged(issue: JsmIssue): void;
  /** The issue's approvals, oldest first, approvers by email. */
  approvals(issueKey: string): FakeJsmApproval[];
  /** A person answers in the portal (or from the email): as POST .../approval/{id} for them; throws when JSM would refuse. */
  answer(issueKey: string, email: string, decision: 'approve' | 'decline'): void;
}

interface Approval {
  id: number;
  issueId: string;
  statusId: string;
  created: Date;
  completed?: Date;
  finalDecision: JsmDecision;
  /** Who answered, in order. */
  answers: Map<string, 'approved' | 'declined'>;
  /** The approvers when it completed (while pending they follow the field). */
  frozen?: string[];
}

/** Jira Service Management's default page size for approvals is 50; this sandbox pages by 2. */
const APPROVAL_PAGE = 2;
const NAME = 'Waiting for approval';

const jsmError = (status: number, errorMessage: string, i18nKey: string): FakeResponse => ({
  status,
  body: { errorMessage, i18nErrorMessage: { i18nKey, parameters: [] } },
});

export function addJsmApprovals(host: JsmHost): FakeJsm {
  const all: Approval[] = [];
  let nextId = 1;

  const fieldAccounts = (issue: JsmIssue): string[] => {
    const value = issue.fields[host.fieldId];
    if (!Array.isArray(value)) return [];
    return value.flatMap((u) => (isRecord(u) && typeof u.accountId === 'string' ? [u.accountId] : []));
  };
  const issueOf = (a: Approval) => host.issueByKey(a.issueId);
  const approversOf = (a: Approval): string[] => {
    if (a.frozen) return a.frozen;
    const issue = issueOf(a);
    const current = issue && issue.statusId === a.statusId ? fieldAccounts(issue) : [];
    return [...new Set([...current, ...a.answers.keys()])];
  };
  const of = (issue: JsmIssue) => all.filter((a) => a.issueId === issue.id);

  const statusChanged: FakeJsm['statusChanged'] = (issue) => {
    if (issue.statusId !== host.approvalStatusId) return;
    if (of(issue).some((a) => a.finalDecision === 'pending' && a.statusId === issue.statusId)) return;
    if (fieldAccounts(issue).length === 0) return;
    all.push({ id: nextId++, issueId: issue.id, statusId: issue.statusId, created: new Date(), finalDecision: 'pending', answers: new Map() });
  };

  /** JSM's checks, then the answer; the approval completes at the first approve or decline and moves the issue. */
  const answer = (issue: JsmIssue, a: Approval, accountId: string, decision: unknown): FakeResponse => {
    if (decision !== 'approve' && decision !== 'decline') {
      return jsmError(400, `The decision '${String(decision)}' is not valid: use approve or decline.`, 'sd.approval.error.invalid.decision');
    }
    if (a.finalDecision !== 'pending') return jsmError(400, 'This approval has already been completed.', 'sd.approval.error.already.completed');
    if (!approversOf(a).includes(accountId)) return jsmError(403, 'You are not an approver of this request.', 'sd.approval.error.not.approver');
    if (a.answers.has(accountId)) return jsmError(400, 'You have already answered this approval.', 'sd.approval.error.already.answered');
    if (issue.statusId !== a.statusId) return jsmError(400, 'This approval is no longer active: the request has moved on.', 'sd.approval.error.not.active');
    a.answers.set(accountId, decision === 'approve' ? 'approved' : 'declined');
    a.frozen = approversOf(a);
    a.finalDecision = decision === 'approve' ? 'approved' : 'declined';
    a.completed = new Date();
    // The step's Approve/Decline transitions (they skip transition screens; the post function sets the resolution).
    issue.statusId = decision === 'approve' ? host.approvedStatusId : host.declinedStatusId;
    issue.resolutionId = decision === 'approve' ? undefined : host.declinedResolutionId;
    issue.updated = host.now();
    return { status: 200, body: approvalJson(issue, a) };
  };

  const dateJson = (d: Date) => {
    const iso = d.toISOString();
    return {
      iso8601: iso.replace(/\.\d{3}Z$/, '+0000'),
      jira: iso.replace('Z', '+0000'),
      friendly: `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`,
      epochMillis: d.getTime(),
    };
  };
  const userJson = (accountId: string) => {
    const u = host.users.get(accountId);
    return {
      accountId,
      ...(u?.emailVisible ? { emailAddress: u.email } : {}),
      displayName: u?.displayName ?? accountId,
      active: u?.active ?? false,
      timeZone: 'Etc/UTC',
      _links: { jiraRest: `${host.url()}/rest/api/2/user?accountId=${encodeURIComponent(accountId)}`, avatarUrls: {}, self: '' },
    };
  };
  const approvalJson = (issue: JsmIssue, a: Approval) => {
    const approvers = approversOf(a);
    return {
      id: String(a.id),
      name: NAME,
      finalDecision: a.finalDecision,
      canAnswerApproval:
        a.finalDecision === 'pending' && issue.statusId === a.statusId && approvers.includes(host.botAccountId) && !a.answers.has(host.botAccountId),
      approvers: approvers.map((id) => ({ approver: userJson(id), approverDecision: a.answers.get(id) ?? 'pending' })),
      createdDate: dateJson(a.created),
      ...(a.completed ? { completedDate: dateJson(a.completed) } : {}),
      _links: { self: `${host.url()}/rest/servicedeskapi/request/${issue.id}/approval/${a.id}` },
    };
  };

  const withRequest = (handler: (req: FakeRequest, issue: JsmIssue) => FakeResponse) =>
    host.authed((req) => {
      const issue = host.issueByKey(req.params.key ?? '');
      return issue
        ? handler(req, issue)
        : jsmError(404, 'The request could not be found, or you do not have permission to view it.', 'sd.request.error.not.found');
    });
  const withApproval = (handler: (req: FakeRequest, issue: JsmIssue, a: Approval) => FakeResponse) =>
    withRequest((req, issue) => {
      const a = of(issue).find((x) => String(x.id) === req.params.approvalId);
      return a ? handler(req, issue, a) : jsmError(404, `The approval with id ${req.params.approvalId} does not exist.`, 'sd.approval.error.not.found');
    });

  host.fake
    .route(
      'GET',
      '/rest/servicedeskapi/request/:key/approval',
      withRequest((req, issue) => {
        const int = (name: string, fallback: number) => {
          const n = Number(req.query.get(name) ?? fallback);
          return Number.isInteger(n) && n >= 0 ? n : fallback;
        };
        const start = int('start', 0);
        const limit = Math.min(int('limit', 50) || 50, APPROVAL_PAGE);
        const list = of(issue);
        const values = list.slice(start, start + limit);
        const isLastPage = start + values.length >= list.length;
        const base = `${host.url()}/rest/servicedeskapi`;
        const here = `${base}/request/${issue.id}/approval`;
        return {
          status: 200,
          body: {
            _expands: [],
            size: values.length,
            start,
            limit,
            isLastPage,
            _links: {
              base,
              context: '',
              ...(isLastPage ? {} : { next: `${here}?start=${start + limit}&limit=${limit}` }),
              ...(start > 0 ? { prev: `${here}?start=${Math.max(0, start - limit)}&limit=${limit}` } : {}),
            },
            values: values.map((a) => approvalJson(issue, a)),
          },
        };
      }),
    )
    .route(
      'GET',
      '/rest/servicedeskapi/request/:key/approval/:approvalId',
      withApproval((_req, issue, a) => ({ status: 200, body: approvalJson(issue, a) })),
    )
    .route(
      'POST',
      '/rest/servicedeskapi/request/:key/approval/:approvalId',
      withApproval((req, issue, a) => answer(issue, a, host.botAccountId, isRecord(req.body) ? req.body.decision : undefined)),
    );

  return {
    statusChanged,
    approvals: (issueKey) => {
      const issue = host.issueByKey(issueKey);
      if (!issue) return [];
      return of(issue).map((a) => ({
        id: String(a.id),
        finalDecision: a.finalDecision,
        approvers: approversOf(a).map((id) => ({ email: host.users.get(id)?.email ?? id, decision: a.answers.get(id) ?? 'pending' })),
      }));
    },
    answer: (issueKey, email, decision) => {
      const issue = host.issueByKey(issueKey);
      const user = host.userByEmail(email);
      if (!issue || !user) throw new Error(`fake JSM: no issue ${issueKey} or no user ${email}`);
      const open = of(issue).filter((a) => a.finalDecision === 'pending' && approversOf(a).includes(user.accountId));
      const a = open.at(-1);
      if (!a) throw new Error(`fake JSM: ${email} has no pending approval on ${issueKey}`);
      const res = answer(issue, a, user.accountId, decision);
      if (res.status !== 200) throw new Error(`fake JSM refused ${email}'s answer on ${issueKey}: ${JSON.stringify(res.body)}`);
    },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
