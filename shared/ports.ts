/**
 * The ports the core owns. Concrete adapters (AWS, SaaS SDKs, local runtime) implement them in
 * shared/connectors and infra/; the core never imports an adapter.
 *
 * Error contract for every adapter: throw RetryableError (429, 5xx, timeouts, network) or
 * PermanentError (anything retrying cannot fix) from shared/errors.ts, with a message a person
 * reading the Jira evidence understands.
 */

export type ProviderName = 'okta' | 'entra' | 'google';

export interface IdpUser {
  /** The provider's own id for the user. */
  id: string;
  email: string;
  /** false when the account is deactivated/suspended: such a user is never granted access and never approves. */
  active: boolean;
  /** Email of the user's manager when the provider knows it. */
  managerEmail?: string;
}

export interface IdentityProvider {
  readonly name: ProviderName;
  /** Case-insensitive match on email. undefined when no such user exists. */
  findUserByEmail(email: string): Promise<IdpUser | undefined>;
  /** Strongly consistent read of one account by the provider's id (Okta GET /api/v1/users/{id}, Graph GET /users/{id}, Google users.get): use before granting and before accepting a decision. undefined when it no longer exists. */
  getUser(id: string): Promise<IdpUser | undefined>;
  isMember(groupId: string, userId: string): Promise<boolean>;
  /** "Already a member" is success. */
  addMember(groupId: string, userId: string): Promise<'added' | 'already_member'>;
  /** "Not a member" is success. */
  removeMember(groupId: string, userId: string): Promise<'removed' | 'already_absent'>;
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
}

export interface NewTicket {
  summary: string;
  reporterEmail: string;
  fields: Record<string, unknown>;
}

export interface Ticketing {
  addComment(issueKey: string, comment: TicketComment): Promise<void>;
  /** Whether the issue already has a comment carrying `ref` (a post whose answer was lost to a crash or a timeout). */
  hasComment(issueKey: string, ref: string): Promise<boolean>;
  /** Moves the issue through the transition whose name or target status name matches; false when none does. */
  transition(issueKey: string, statusOrTransitionName: string): Promise<boolean>;
  /** Email of a Jira account (reporter), when Jira lets us see it. */
  userEmail(accountId: string): Promise<string | undefined>;
  createIssue(ticket: NewTicket): Promise<{ key: string }>;
  /**
   * Makes the options of a select-list custom field's context (the global one, else the first)
   * equal `values`: missing ones are created, options no longer in `values` are DISABLED (never
   * deleted: existing issues keep their value), disabled ones that are back in `values` are
   * re-enabled. Matching is case-sensitive on the option value. Throws PermanentError when the
   * field does not exist or is not a select list.
   */
  syncFieldOptions(fieldId: string, values: string[]): Promise<FieldOptionsChange>;
}

/** What syncFieldOptions did, as option values: created, re-enabled, disabled, left as they were. */
export interface FieldOptionsChange {
  added: string[];
  enabled: string[];
  disabled: string[];
  unchanged: string[];
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
  | { kind: 'approved'; by: string; at: string }
  | { kind: 'denied'; by: string; at: string }
  | { kind: 'expired'; at: string }
  | { kind: 'withdrawn'; reason: string };

export interface Chat {
  /** Slack user id for an email (users.lookupByEmail); undefined when Slack has no such user. */
  userIdByEmail(email: string): Promise<string | undefined>;
  /** Email of a Slack user (users.info); undefined when not visible. Callers fail closed on undefined. */
  emailOfUser(userId: string): Promise<string | undefined>;
  /** DMs the approver an Approve/Deny message. Button values carry `${grantId}:${step}` only, never a task token. */
  postApprovalRequest(approverUserId: string, prompt: ApprovalPrompt): Promise<ChatMessageRef>;
  /** Replaces the approval message with the outcome and removes the buttons. */
  showOutcome(ref: ChatMessageRef, prompt: ApprovalPrompt, outcome: ApprovalOutcome): Promise<void>;
  /** A plain DM (e.g. telling a clicker why the click was refused, or the requester the result). */
  notify(userId: string, text: string): Promise<void>;
}

export interface RevocationScheduler {
  /** Idempotent: a schedule named after the grant id is created once; a second call finds it. */
  schedule(grantId: string, at: Date): Promise<'created' | 'exists'>;
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
