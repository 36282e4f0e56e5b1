/**
 * The ports the core owns. Concrete adapters (AWS, SaaS SDKs, local runtime) implement them in
 * shared/connectors and infra/; the core never imports an adapter.
 *
 * Error contract for every adapter: throw RetryableError (429, 5xx, timeouts, network) or
 * PermanentError (anything retrying cannot fix) from shared/errors.ts, with a message a person
 * reading the Jira evidence understands.
 */

import type { CampaignItem } from './campaigns.js';

export type ProviderName = 'okta' | 'entra' | 'google';

export interface IdpUser {
  /** The provider's own id for the user. */
  id: string;
  email: string;
  /** false when the account is deactivated/suspended: such a user is never granted access and never approves. */
  active: boolean;
  /** Email of the user's manager when the provider knows it. */
  managerEmail?: string;
  /**
   * The person's end date (a contractor's last day), as the provider holds it: an ISO-8601 date
   * (YYYY-MM-DD, the last day) or date-time (the instant). Read only where the catalog's `endDates`
   * names where this provider keeps it; absent when it does not, or the person has none. The policy
   * checks it (shared/end-dates.ts): an unreadable value refuses the request.
   */
  endDate?: string;
  /**
   * Who the person is and when they last signed in, for access review campaigns (shared/campaigns.ts):
   * absent when the provider does not say. `lastLogin` is an ISO-8601 instant (Okta `lastLogin`, Graph
   * `signInActivity.lastSignInDateTime` where the tenant's licence and permissions allow it, Google `lastLoginTime`).
   */
  profile?: { name?: string; title?: string; department?: string; lastLogin?: string };
}

export interface IdentityProvider {
  readonly name: ProviderName;
  /** Case-insensitive match on email. undefined when no such user exists. */
  findUserByEmail(email: string): Promise<IdpUser | undefined>;
  /** Strongly consistent read of one account by the provider's id (Okta GET /api/v1/users/{id}, Graph GET /users/{id}, Google users.get): use before granting and before accepting a decision. undefined when it no longer exists. */
  getUser(id: string): Promise<IdpUser | undefined>;
  /**
   * The account as an access review shows it: getUser's answer plus `profile` (name, title, department,
   * last sign-in). Reads what a review needs even where it costs more permission than granting does
   * (Graph's signInActivity); a provider that will not say leaves lastLogin out rather than failing.
   */
  reviewProfile(id: string): Promise<IdpUser | undefined>;
  isMember(groupId: string, userId: string): Promise<boolean>;
  /** "Already a member" is success. */
  addMember(groupId: string, userId: string): Promise<'added' | 'already_member'>;
  /** "Not a member" is success. */
  removeMember(groupId: string, userId: string): Promise<'removed' | 'already_absent'>;
  /**
   * Ends the person's sessions at the identity provider, so the access that just ended cannot be used
   * through a session opened before (Okta DELETE /api/v1/users/{id}/sessions, Graph POST
   * /users/{id}/revokeSignInSessions, Google users.signOut). Idempotent: a person with no session is success.
   * 'no_account' when the provider has no such user (nothing to end).
   */
  endSessions(userId: string): Promise<'ended' | 'no_account'>;
  /** Every group the provider has (for `grantline catalog sync`). */
  listGroups(): Promise<IdpGroup[]>;
  /** Direct members of a group, with lower-case emails (for access reviews). PermanentError when the group does not exist. */
  listMembers(groupId: string): Promise<IdpMember[]>;
  /** Cheap authenticated call proving the credentials work; throws PermanentError/RetryableError otherwise. */
  testConnection(): Promise<void>;
}

export interface IdpMember {
  id: string;
  email: string;
}

export interface IdpGroup {
  id: string;
  name: string;
  /** false when the API cannot change its members (Okta APP_GROUP/BUILT_IN, Graph dynamic or role-assignable groups). */
  manageable: boolean;
}

/** Evidence posted to the ticket: a heading line and labelled facts, rendered to ADF by the Jira adapter. */
export interface TicketComment {
  title: string;
  facts: Array<{ label: string; value: string }>;
  /** Optional closing sentence, e.g. what the requester must fix. */
  note?: string;
  /** An id the comment carries on the ticket (evidence: `<grantId>/<event key>`), for hasComment. */
  ref?: string;
  /**
   * true: agents only (Jira Service Management's internal note). false: public, so the requester
   * sees it in the portal and is emailed it. Required: on a JSM issue a comment is public unless it says otherwise.
   */
  internal: boolean;
}

export interface NewTicket {
  summary: string;
  /**
   * The requester. Made the issue's reporter when Jira lets Grantline set it (Modify Reporter
   * permission); otherwise Grantline's account is the reporter and the description names them.
   */
  reporterEmail: string;
  /**
   * Plain text by Jira field id (a user field given as an email). The adapter shapes each value as
   * the field's type takes it (select option, document, account); an empty value is not sent.
   */
  fields: Record<string, string>;
  /** The setting that names each field id (e.g. customfield_10071 → JIRA_FIELD_APP), so an error can say what to fix. */
  fieldSettings?: Record<string, string>;
  /** Jira labels (no spaces): Grantline marks an issue it files with one naming the submission (findIssueByLabel). */
  labels?: string[];
}

export interface Ticketing {
  addComment(issueKey: string, comment: TicketComment): Promise<void>;
  /** Whether the issue already has a comment carrying `ref` (a post whose answer was lost to a crash or a timeout). */
  hasComment(issueKey: string, ref: string): Promise<boolean>;
  /**
   * Moves the issue through the transition whose name or target status name matches; false when none does.
   * Fills the fields the transition's screen requires from `options`; PermanentError when it requires one Grantline cannot fill.
   */
  transition(issueKey: string, statusOrTransitionName: string, options?: TransitionOptions): Promise<boolean>;
  /** Email of a Jira account (reporter), when Jira lets us see it. */
  userEmail(accountId: string): Promise<string | undefined>;
  createIssue(ticket: NewTicket): Promise<{ key: string }>;
  /**
   * The issue in Grantline's project carrying this label, if any (JQL search): how a retried filing
   * finds the issue an earlier attempt created when its answer was lost. Jira's search catches up
   * with a new issue within seconds, not at once.
   */
  findIssueByLabel(label: string): Promise<string | undefined>;
  /**
   * Makes the options of a select-list custom field's context (the global one, else the first)
   * equal `values`: missing ones are created, options no longer in `values` are DISABLED (never
   * deleted: existing issues keep their value), disabled ones that are back in `values` are
   * re-enabled. Matching is case-sensitive on the option value. Throws PermanentError when the
   * field does not exist or is not a select list.
   */
  syncFieldOptions(fieldId: string, values: string[]): Promise<FieldOptionsChange>;
  /**
   * Jira Service Management approvals. Sets the issue's Approvers field (`fieldId`, a multi-user
   * picker) to the Jira accounts whose visible email is exactly one of `emails`, plus Grantline's
   * own account (so Grantline can answer the approval when the decision is made in Slack).
   * `missing`: the emails Jira has no such account for (left out of the field).
   */
  setApprovers(issueKey: string, fieldId: string, emails: string[]): Promise<{ missing: string[] }>;
  /** Every JSM approval of the issue (GET /rest/servicedeskapi/request/{key}/approval, all pages), oldest first. */
  approvals(issueKey: string): Promise<JsmApproval[]>;
  /**
   * Answers a JSM approval as Grantline's account. 'already_answered' when the approval was
   * completed (or Grantline had answered) before: the first decision wins, in Jira as in Grantline.
   */
  answerApproval(issueKey: string, approvalId: string, decision: 'approve' | 'decline'): Promise<'answered' | 'already_answered'>;
  /**
   * Attaches a file to the issue (POST /rest/api/3/issue/{key}/attachments: multipart/form-data with
   * the X-Atlassian-Token: no-check header Jira requires). Idempotent by file name: 'exists' when the
   * issue already has an attachment of that name (an earlier attempt whose answer was lost).
   */
  attachFile(issueKey: string, file: { filename: string; content: string; contentType: string }): Promise<'attached' | 'exists'>;
}

/** One approval of a Jira Service Management request, as JSM reports it. */
export interface JsmApproval {
  id: string;
  /** 'pending' until enough approvers have answered (any value JSM adds later reads as pending). */
  finalDecision: 'pending' | 'approved' | 'declined';
  approvers: JsmApprover[];
  /** When JSM completed it (ISO-8601), once it has a final decision. */
  completedAt?: string;
}

export interface JsmApprover {
  accountId: string;
  /** As JSM shows it; absent when the person's profile hides it (look it up with userEmail). */
  email?: string;
  decision: 'pending' | 'approved' | 'declined';
  /** Grantline's own Jira account (an approver so that it can mirror a decision made in Slack). */
  grantline: boolean;
}

/** What syncFieldOptions did, as option values: created, re-enabled, disabled, left as they were. */
export interface FieldOptionsChange {
  added: string[];
  enabled: string[];
  disabled: string[];
  unchanged: string[];
}

/** What a transition's screen may require (stock JSM: a Resolution on the way to a resolved status). */
export interface TransitionOptions {
  /** Resolution name, e.g. "Done"; sent only when the transition's screen has the Resolution field. */
  resolution?: string;
  /** The setting that gives `resolution`, named in the error when the screen requires one and none is set. */
  resolutionSetting?: string;
}

export interface ApprovalPrompt {
  grantId: string;
  step: number;
  issueKey: string;
  requesterEmail: string;
  subjectEmail: string;
  app: string;
  role: string;
  duration: string;
  justification: string;
  risk: string;
}

export interface ChatMessageRef {
  channel: string;
  ts: string;
}

export type ApprovalOutcome =
  | { kind: 'approved'; by: string; at: string; via?: 'slack' | 'jira' }
  | { kind: 'denied'; by: string; at: string; via?: 'slack' | 'jira' }
  | { kind: 'expired'; at: string }
  | { kind: 'withdrawn'; reason: string };

/** A quorum step still waiting: who approved so far (in order) and how many approvals it needs. */
export interface ApprovalProgress {
  approvedBy: string[];
  needed: number;
}

/**
 * The one approval message of an onboarding bundle (shared/bundles.ts) for one approver: every item
 * of the bundle this approver was asked to decide, each with its own Approve/Deny buttons while it
 * waits (values `${grantId}:${step}`, as on a single request's message) or its outcome once closed.
 */
export interface BundleApprovalView {
  /** The bundle's id (the issue's grant id): the "Approve all" button's value. */
  bundleId: string;
  /** The bundle's display name, e.g. "Engineering new hire". */
  bundleName: string;
  issueKey: string;
  requesterEmail: string;
  subjectEmail: string;
  /** In the bundle's order. */
  items: Array<{ prompt: ApprovalPrompt; outcome?: ApprovalOutcome; progress?: ApprovalProgress }>;
}

/**
 * One reviewer's message of an access review campaign (shared/campaigns.ts): a page of their items,
 * each with Keep/Revoke (values `${campaignId}:${itemId}`) while undecided or its decision once made;
 * "Keep all recommended keeps" (value the campaign id, with a confirmation) while any such item waits;
 * previous/next page buttons (values `${campaignId}:${page}`, the page they show) when there are more pages.
 */
export interface ReviewMessageView {
  campaignId: string;
  /** The apps in scope, e.g. "Notion, Figma". */
  apps: string;
  dueAt: string;
  /** Zero-based page shown, of `pageCount` (REVIEW_PAGE_SIZE items a page). */
  page: number;
  pageCount: number;
  /** Over all of this reviewer's items, not only the page's. */
  total: number;
  decided: number;
  /** Undecided items recommended to keep: "Keep all recommended keeps" shows while this is above zero. */
  recommendedKeepsWaiting: number;
  /** The page's items, in snapshot order. */
  items: CampaignItem[];
  /** The campaign is closed: decisions are shown, no buttons. */
  closed: boolean;
}

/** Items on one page of a reviewer's message: two blocks each keeps a page well under Slack's 50. */
export const REVIEW_PAGE_SIZE = 10;

/** The revoke-reason modal of a review item (REVOKE_REASON_FORM); `message` is the reviewer's message, redrawn after the decision. */
export interface RevokeReasonForm {
  campaignId: string;
  item: CampaignItem;
  message?: ChatMessageRef;
}

export interface Chat {
  /** Slack user id for an email (users.lookupByEmail); undefined when Slack has no such user. */
  userIdByEmail(email: string): Promise<string | undefined>;
  /** Email of a Slack user (users.info); undefined when not visible. Callers fail closed on undefined. */
  emailOfUser(userId: string): Promise<string | undefined>;
  /**
   * Posts an Approve/Deny message: to a person (a user id: their DM with the app) or to a channel (a
   * channel id, the role's approvalChannel). Button values carry `${grantId}:${step}` only, never a task token.
   */
  postApprovalRequest(to: string, prompt: ApprovalPrompt): Promise<ChatMessageRef>;
  /** Replaces the approval message with the outcome and removes the buttons. */
  showOutcome(ref: ChatMessageRef, prompt: ApprovalPrompt, outcome: ApprovalOutcome): Promise<void>;
  /** A quorum step's approval message after an approval that did not close it: who approved so far, with the buttons kept for the others. */
  showProgress(ref: ChatMessageRef, prompt: ApprovalPrompt, progress: ApprovalProgress): Promise<void>;
  /**
   * Posts (`to` a user id) or redraws (`to` the message) a bundle's approval message for one approver:
   * per item Approve/Deny or its outcome, and "Approve all" (BUNDLE_APPROVE_ALL_ACTION_ID, value the
   * bundle id) while two or more items wait. Returns the message.
   */
  showBundleApprovals(to: string | ChatMessageRef, view: BundleApprovalView): Promise<ChatMessageRef>;
  /**
   * A plain message: a DM to a user id, a post in a channel (a channel id), or a reply in the thread
   * of a message Grantline sent (the requester's "Filed …", an approval message). Returns the message, to reply to later.
   * `release`: a grant id; the message then carries an "I'm done" button (RELEASE_ACTION_ID, value
   * the grant id) that ends the access early (shared/release.ts). `review`: a grant id; the message
   * carries a "Reviewed" button (REVIEW_ACTION_ID, value the grant id) that confirms a break-glass
   * use after the fact (shared/break-glass.ts). `extend`: the message carries an "Extend by …" button
   * (EXTEND_ACTION_ID, value `${grantId}:${by}`) that asks for an extension (shared/extension.ts).
   */
  notify(
    to: string | ChatMessageRef,
    text: string,
    options?: { release?: string; review?: string; extend?: { grantId: string; by: string } },
  ): Promise<ChatMessageRef>;
  /** Replaces a message that offered a button ("I'm done", "Reviewed") with its text and `outcome` below it, without the button. */
  showReleased(ref: ChatMessageRef, text: string, outcome: string): Promise<void>;
  /** Opens the request form for the person who typed the command (Slack views.open; the trigger is valid for 3 s, once). */
  openRequestForm(triggerId: string, form: RequestForm): Promise<void>;
  /** Redraws an open request form (an app or role was chosen); `hash` makes Slack refuse a stale redraw. */
  updateRequestForm(viewId: string, hash: string | undefined, form: RequestForm): Promise<void>;
  /** Posts (`to` a user id) or redraws (`to` the message) a reviewer's access review message. Returns the message. */
  showReviewItems(to: string | ChatMessageRef, view: ReviewMessageView): Promise<ChatMessageRef>;
  /**
   * Opens the modal that asks why an item is revoked (views.open; the trigger is valid for 3 s, once).
   * The view's private_metadata is JSON `{campaignId, itemId, channel?, ts?}` (REVOKE_REASON_FORM).
   */
  openRevokeReason(triggerId: string, form: RevokeReasonForm): Promise<void>;
}

/**
 * The request form (Slack modal): the catalog's apps; the roles of the chosen app; the durations of
 * the chosen role. Choosing an app or a role redraws the form. The fields' ids are REQUEST_FORM.
 */
export interface RequestForm {
  apps: FormChoice[];
  roles: FormChoice[];
  durations: FormChoice[];
  /** What is chosen so far (prefilled from `/access <app> <role>`, or chosen in the form). */
  app?: string;
  role?: string;
}

export interface FormChoice {
  value: string;
  label: string;
}

/**
 * Ids of the request form: the contract between the chat adapter (which draws the form) and the
 * interaction handler (which reads what was submitted). The role and duration fields' block ids are
 * suffixed with the app (and role) they list, so a new choice starts them empty.
 */
export const REQUEST_FORM = {
  callbackId: 'grantline_request',
  app: 'grantline_app',
  role: 'grantline_role',
  duration: 'grantline_duration',
  justification: 'grantline_justification',
  subject: 'grantline_subject',
} as const;

/**
 * Ids of the revoke-reason modal: its callback id, and the block and action id of its one text
 * input (the reason, required, at most 1,000 characters).
 */
export const REVOKE_REASON_FORM = {
  callbackId: 'grantline_campaign_revoke_reason',
  reason: 'grantline_revoke_reason',
} as const;

/** Work done after Slack has been answered (Slack allows 3 s): in AWS an asynchronous Lambda invoke, locally in the background. */
export interface Jobs {
  /** Files a request submitted in the Slack form: the Jira issue, then the grant; the person is told the outcome in Slack. */
  fileRequest(job: FilingJob): Promise<void>;
  /** Ends a grant early through the revoke path (reason early_release), as `actor` asked in Slack ("I'm done"). */
  release(job: ReleaseJob): Promise<void>;
  /** Offboards a person (shared/offboarding.ts), as a Jira offboarding issue asked. */
  offboard(job: OffboardJob): Promise<void>;
  /** Carries out a review item's Revoke decided in Slack (shared/campaigns.ts): the revoke path, or the group. */
  campaignRevoke(job: CampaignRevokeJob): Promise<void>;
}

/** A review item whose Revoke is recorded and is to be carried out. */
export interface CampaignRevokeJob {
  campaignRevoke: { campaignId: string; itemId: string };
}

/** An offboarding a Jira issue asked for: who leaves (their email), the offboarding issue, and who asked. */
export interface OffboardJob {
  offboard: { email: string; issueKey?: string; by: string };
}

/** An early release accepted in Slack: the grant to end and who ended it (their email). */
export interface ReleaseJob {
  grantId: string;
  actor: string;
}

/** What a person asks for, as typed or chosen (emails of the requester and of the person the access is for). */
export interface RequestFields {
  requester: string;
  subject: string;
  app: string;
  role: string;
  duration: string;
  justification: string;
}

export interface FilingJob extends RequestFields {
  /** The submission's receipt key (the form's view id): a second run of the job files nothing twice. */
  receiptKey: string;
  /** Slack user who submitted the form (told the outcome). */
  slackUserId: string;
}

export interface RevocationScheduler {
  /** Idempotent: a schedule named after the grant id is created once; a second call finds it. */
  schedule(grantId: string, at: Date): Promise<'created' | 'exists'>;
  /** Moves the grant's one schedule to a new time (UpdateSchedule), or creates it when it is gone. */
  reschedule(grantId: string, at: Date): Promise<void>;
  /** Idempotent: deleting a schedule that is gone is success. */
  cancel(grantId: string): Promise<void>;
}

export interface WorkflowRuntime {
  /** Starts the execution named after the grant id; a second start for the same grant is a no-op. */
  start(grantId: string): Promise<'started' | 'already_started'>;
  /** Completes a waiting approval task; 'expired' when the task is no longer waiting (timed out, already completed). */
  completeApproval(taskToken: string, output: { decision: 'approved' | 'denied' }): Promise<'delivered' | 'expired'>;
}

/** Action ids of the Approve/Deny buttons: the contract between the chat adapter and the interaction handler. */
export const APPROVE_ACTION_ID = 'grantline_approve';
export const DENY_ACTION_ID = 'grantline_deny';
/** Action id of the "I'm done" button on the "Access granted" message (value: the grant id). */
export const RELEASE_ACTION_ID = 'grantline_release';
/** Action id of the "Reviewed" button on a break-glass notice (value: the grant id). */
export const REVIEW_ACTION_ID = 'grantline_review';
/** The "Extend by …" button of the notice sent before access ends. */
export const EXTEND_ACTION_ID = 'grantline_extend';
/** The "Approve all" button of a bundle's approval message (value: the bundle id). */
export const BUNDLE_APPROVE_ALL_ACTION_ID = 'grantline_approve_all';
/** A review item's Keep and Revoke buttons (value `${campaignId}:${itemId}`); Revoke opens REVOKE_REASON_FORM. */
export const CAMPAIGN_KEEP_ACTION_ID = 'grantline_campaign_keep';
export const CAMPAIGN_REVOKE_ACTION_ID = 'grantline_campaign_revoke';
/** "Keep all recommended keeps" on a reviewer's message (value: the campaign id). */
export const CAMPAIGN_KEEP_RECOMMENDED_ACTION_ID = 'grantline_campaign_keep_recommended';
/** The previous and next page buttons of a reviewer's message (value `${campaignId}:${page}`, the page to show). */
export const CAMPAIGN_PAGE_ACTION_IDS = { previous: 'grantline_campaign_page_previous', next: 'grantline_campaign_page_next' } as const;
