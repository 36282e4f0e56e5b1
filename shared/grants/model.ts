import type { ProviderName } from '../ports.js';

/**
 * A grant's life: requested → (pending_approval →)* approved → active → revoked
 * with exits to denied (a decision, a timeout, no eligible approver, an ineligible subject) and
 * failed (provisioning could not complete). `manual` grants become active when the owner's task
 * is created and are never removed automatically.
 */
export type GrantStatus = 'requested' | 'pending_approval' | 'approved' | 'active' | 'denied' | 'failed' | 'revoked' | 'extended';

export const ACTIVE_STATUSES: readonly GrantStatus[] = ['active'];

export interface ApprovalStepPlan {
  /** What the catalog asked for: auto, manager, app_owner, user, group. */
  kind: string;
  /** Who may decide (lower-case emails), after removing the requester and the subject. */
  approvers: string[];
  /** Why these people, e.g. "manager of nina@x (from Okta)". */
  reason: string;
  /** A `{group, quorum}` step: how many distinct approvers must approve (a deny by any one ends it). Absent: 1. */
  quorum?: number;
}

/** Counted from when each step is asked, all before approvalTimeoutSeconds (shared/catalog/catalog.ts checks). */
export interface ApprovalTimers {
  /** The approvers who have not decided are reminded in Slack. */
  remindAfterSeconds?: number;
  /** These people (lower-case emails) are added as approvers of the step; `why` says who they are. */
  escalation?: { afterSeconds: number; to: string[]; why: string };
}

export interface Grant {
  id: string;
  issueKey: string;
  requester: string;
  subject: string;
  app: string;
  appName: string;
  role: string;
  appOwner: string;
  risk: string;
  provider?: ProviderName;
  groupId?: string;
  /** No identity-provider group: a person grants and removes the access. */
  manual: boolean;
  duration: string;
  /**
   * The request's own end date (JIRA_FIELD_END_DATE, YYYY-MM-DD, the last day): like the subject's
   * end date in the identity provider, it caps the expiry; it can only shorten the access.
   */
  requestedEndDate?: string;
  justification: string;
  approvalTimeoutSeconds: number;
  /** The reminder and escalation of each unanswered step, fixed from the catalog when the request was made. */
  approvalTimers?: ApprovalTimers;
  /** A break-glass request (shared/break-glass.ts): approved by its requester, reviewed after the fact. */
  breakGlass?: BreakGlass;
  /** The review after the fact of a break-glass grant, settled once (a conditional write): confirmed by a reviewer, or not in time. */
  breakGlassReview?: BreakGlassReview;
  /** The Slack messages that opened the review (a DM per reviewer, the channel's post): kept as they are posted, so a retry posts none twice. */
  breakGlassMessages?: Array<{ to: string; channel: string; ts: string }>;
  status: GrantStatus;
  steps?: ApprovalStepPlan[];
  currentStep?: number;
  requestedAt: string;
  decidedAt?: string;
  decidedBy?: string;
  denialReason?: string;
  grantedAt?: string;
  expiresAt?: string;
  idpUserId?: string;
  /** The subject was already in the group before this grant, outside Grantline: never removed by it. */
  preexistingMembership?: boolean;
  /** A revocation has begun (write-ahead, shared/store/store.ts markEnding): no extension may move the expiry from then on. */
  endingAt?: string;
  /**
   * An extension request: a grant of its own (same issue, app, role and person) that goes through the
   * role's policy; approved, it moves the expiry of the grant it extends from `from` to `until` (and
   * that grant's one schedule) and ends as 'extended'. shared/extension.ts.
   */
  extends?: { grantId: string; by: string; from: string; until: string };
  /** The expiry whose notice (shared/extension.ts noticeBeforeExpiry) was sent. */
  expiryNoticeFor?: string;
  /**
   * An item of an onboarding bundle (shared/bundles.ts): the issue's request named the bundle, and
   * this grant is its `index`-th item of `of` (1-based), under its own role's policy. Its evidence
   * never moves the issue's status: the bundle's summary does, once every item is settled.
   */
  bundle?: BundleItemOf;
  /** The extension requests of this grant, in order (their grant ids). */
  extensions?: string[];
  revokedAt?: string;
  revokeReason?: string;
  /** When the schedule was due (expiry), kept beside revokedAt so lateness is visible. */
  scheduledRevocationAt?: string;
  failure?: string;
  executionName: string;
  source: 'jira' | 'slack';
  updatedAt: string;
}

export interface BundleItemOf {
  /** The bundle's id: the grant id the issue's key gives (grantIdFor), which no grant has. */
  id: string;
  /** The catalog's key of the bundle, and its display name. */
  key: string;
  name: string;
  /** The item as the requester reads it, e.g. "Figma viewer": each item's evidence and notices say it. */
  item: string;
  index: number;
  of: number;
}

/** A break-glass request, as made (incident and the catalog's settings at the time) and, once self-approved, who reviews it by when. */
export interface BreakGlass {
  /** The incident reference, checked against the catalog's referencePattern. (The reason is the justification.) */
  incident: string;
  reviewWithinSeconds: number;
  onUnreviewed: 'flag' | 'revoke';
  /** The Slack channel told of the use (the catalog's breakGlass.notifyChannel). */
  notifyChannel?: string;
  /** Set when the requester's approval is recorded: the approver group's members who may confirm it (never the requester or the subject). */
  reviewers?: string[];
  /** When the review is due (the self-approval plus reviewWithin). */
  reviewDueAt?: string;
}

export interface BreakGlassReview {
  /** confirmed: a reviewer confirmed it; unreviewed: nobody did by the deadline (flagged). */
  outcome: 'confirmed' | 'unreviewed';
  /** The reviewer who confirmed it. */
  by?: string;
  at: string;
}

/** Whose membership: the provider's group and the provider's own user id (aliases and email case cannot split it). */
export interface MembershipKey {
  provider: ProviderName;
  groupId: string;
  userId: string;
}

/**
 * Who needs one person's membership of one group. Decided before any identity-provider call and
 * changed only by versioned conditional writes, so concurrent grants, a retry after a crash and a
 * retry after a lost reply all read it instead of guessing from "is a member now".
 */
export interface MembershipRecord extends MembershipKey {
  email: string;
  /** Grants that need the membership. A grant joins before its add and leaves before any remove. */
  holders: string[];
  /** The person was in the group when Grantline first needed the membership: Grantline never removes it. */
  preexisting: boolean;
  /** A removal in flight (write-ahead): while it stands nobody joins, and a retry of that grant finishes it. */
  removing?: { grantId: string; at: string };
  /** What the last finished change did, so a retry after a crash reports the same outcome. */
  last?: { grantId: string; outcome: 'removed' | 'already_absent' | 'kept'; at: string };
  version: number;
}

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired';

export interface Approval {
  grantId: string;
  step: number;
  status: ApprovalStatus;
  approvers: string[];
  /** Callback token of the waiting workflow task; kept server-side only, never sent to Slack. */
  taskToken: string;
  /**
   * The Slack messages asking this step. `bundle`: the approver's one message for the whole onboarding
   * bundle (shared/bundles.ts), redrawn whole from the bundle's record, which keeps its channel and ts.
   */
  messages: Array<{ approver: string; channel: string; ts: string; bundle?: string }>;
  requestedAt: string;
  decidedBy?: string;
  decidedAt?: string;
  channel?: 'slack' | 'jira' | 'timeout';
  /**
   * JSM approvals (JIRA_FIELD_APPROVERS set): when this step's approvers were put on the Jira issue,
   * who Jira has no account for, or why it could not be done. Written once: a retried task does not redo it.
   */
  jiraApprovers?: { at: string; missing: string[]; problem?: string };
  /** Ids of the JSM approvals whose decision was taken for this step, each recorded before deciding: a replayed webhook decides nothing twice. */
  jiraApprovalsTaken?: string[];
  /** When the approvers who had not decided were reminded (set once, before the reminder is sent). */
  remindedAt?: string;
  /** When the step was escalated, and who was added to its approvers then (set once, with the approvers, by one write). */
  escalatedAt?: string;
  escalatedTo?: string[];
  /** A quorum step (ApprovalStepPlan.quorum): the distinct approvals it needs to close as approved. Absent: 1. */
  quorum?: number;
  /**
   * A quorum step's approvals, in the order they were recorded, each approver at most once; appended
   * only while the step is pending (a versioned write: shared/store/store.ts addQuorumApproval).
   */
  approvals?: QuorumApproval[];
}

export interface QuorumApproval {
  by: string;
  at: string;
  via: 'slack' | 'jira';
}

export type EvidenceType =
  | 'requested'
  | 'auto_approved'
  | 'approval_requested'
  | 'approval_refused'
  | 'approval_reminded'
  | 'approval_escalated'
  | 'approved'
  | 'denied'
  | 'approval_expired'
  | 'provisioned'
  | 'manual_task'
  | 'provisioning_failed'
  | 'revocation_scheduled'
  | 'revoked'
  | 'revocation_kept_membership'
  | 'manual_removal_task'
  /** "I'm done" clicked in Slack by the person who holds the access (or asked for it): the revocation follows. */
  | 'release_requested'
  /** "I'm done" clicked by someone who may not end this access: nothing changed. */
  | 'release_refused'
  /** A break-glass request approved by its requester, with the incident and the reason. */
  | 'break_glass_approved'
  /** A break-glass request refused at intake (no or a malformed incident reference, no reason, a role without break-glass): nothing recorded but this. */
  | 'break_glass_refused'
  /** The review after the fact asked of the approver group (and the channel told). */
  | 'break_glass_review_opened'
  /** A reviewer confirmed the break-glass use. */
  | 'break_glass_reviewed'
  /** Nobody confirmed it in time: flagged (and, with onUnreviewed: revoke, revoked). */
  | 'break_glass_unreviewed'
  /** "Reviewed" clicked by someone who may not confirm it, or too late: nothing changed. */
  | 'break_glass_review_refused'
  | 'extension_requested'
  | 'extension_refused'
  | 'extended'
  /** Every item of an onboarding bundle is settled (granted, denied or failed): one summary on the issue, under the bundle's id. */
  | 'bundle_settled'
  /** A person's offboarding: every active grant ended, sessions ended; one summary on the offboarding issue, under its own id. */
  | 'offboarded';

/** One append-only ledger entry; written once, never updated. */
export interface EvidenceEvent {
  grantId: string;
  /** Unique per grant and deterministic, so a retried step writes nothing new. */
  key: string;
  /** Its place in the grant's ledger: the order of its comments on the Jira issue (absent on events recorded before numbering). */
  seq?: number;
  type: EvidenceType;
  at: string;
  /** Who acted: an email, or "grantline" / "policy" / "scheduler". */
  actor: string;
  /** Where: jira, slack, idp, scheduler, policy. */
  via: string;
  summary: string;
  details: Record<string, string>;
  issueKey: string;
  /** Jira status to move the issue to with this evidence, when the step changes what the requester waits for. */
  transitionTo?: string;
  /** Its link in the grant's hash chain, once sealed (shared/chain.ts): the previous event's hash, and its own. */
  prevHash?: string;
  hash?: string;
}

export function grantIdFor(issueKey: string): string {
  // Execution names and schedule names both accept [0-9A-Za-z-_.]: an issue key already fits.
  return `grant-${issueKey.replace(/[^0-9A-Za-z-_]/g, '_')}`.slice(0, 64);
}

/** The grant of an onboarding bundle's `index`-th item (1-based): the issue's grant id and the item's number. */
export function bundleItemId(bundleId: string, index: number): string {
  return `${bundleId}-item${index}`;
}

/** EventBridge schedule names are 1–64 of [0-9a-zA-Z-_.]: derived from the grant id, so a retry finds the first. */
export function scheduleNameFor(grantId: string): string {
  return `revoke-${grantId}`.replace(/[^0-9A-Za-z-_.]/g, '_').slice(0, 64);
}
