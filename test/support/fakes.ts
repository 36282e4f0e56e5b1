/**
 * Small in-test fakes of the ports for the core's unit tests: a directory (identity provider) that
 * keeps group members in memory, and a recorder for Jira, Slack, the scheduler and the workflow.
 */
import { advance, decide, requestApproval } from '../../shared/approval.js';
import { ManualClock, type Clock } from '../../shared/clock.js';
import { parseConfig } from '../../shared/config.js';
import { PermanentError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { submitRequest } from '../../shared/intake.js';
import type { LifecycleDeps } from '../../shared/services.js';
import type { Store } from '../../shared/store/store.js';
import { testCatalog } from './catalog.js';
import { startDynamo, type TestDynamo } from './dynamo.js';
import type {
  ApprovalOutcome,
  ApprovalProgress,
  BundleApprovalView,
  Chat,
  CampaignRevokeJob,
  FilingJob,
  IdentityProvider,
  IdpUser,
  Jobs,
  JsmApproval,
  OffboardJob,
  ReleaseJob,
  RequestForm,
  ReviewMessageView,
  RevocationScheduler,
  RevokeReasonForm,
  Ticketing,
  WorkflowRuntime,
} from '../../shared/ports.js';

export const ELI = 'eli.engineer@example.com';
export const MARIA = 'maria.manager@example.com';

export class Directory implements IdentityProvider {
  readonly name = 'okta' as const;
  readonly groups = new Map<string, Set<string>>();
  users: Record<string, IdpUser> = {
    [ELI]: { id: 'u-eli', email: ELI, active: true, managerEmail: MARIA },
    [MARIA]: { id: 'u-maria', email: MARIA, active: true },
  };
  /** What a search returns; `stale` plays a search index that has not caught up (Okta documents it). */
  stale: Record<string, IdpUser> = {};
  async findUserByEmail(email: string) {
    return this.stale[email.toLowerCase()] ?? this.users[email.toLowerCase()];
  }
  async getUser(id: string) {
    return Object.values(this.users).find((u) => u.id === id);
  }
  /** What reviewProfile adds to an account (name, title, department, last sign-in), by email. */
  readonly profiles = new Map<string, IdpUser['profile']>();
  async reviewProfile(id: string) {
    const user = await this.getUser(id);
    const profile = user && this.profiles.get(user.email.toLowerCase());
    return user && (profile ? { ...user, profile } : user);
  }
  async isMember(groupId: string, userId: string) {
    return this.groups.get(groupId)?.has(userId) ?? false;
  }
  async addMember(groupId: string, userId: string) {
    const members = this.groups.get(groupId) ?? new Set<string>();
    this.groups.set(groupId, members);
    if (members.has(userId)) return 'already_member' as const;
    members.add(userId);
    return 'added' as const;
  }
  async removeMember(groupId: string, userId: string) {
    return this.groups.get(groupId)?.delete(userId) ? ('removed' as const) : ('already_absent' as const);
  }
  /** Ids of the users whose sessions were ended, oldest first. */
  readonly sessionsEnded: string[] = [];
  async endSessions(userId: string) {
    if (!Object.values(this.users).some((u) => u.id === userId)) return 'no_account' as const;
    this.sessionsEnded.push(userId);
    return 'ended' as const;
  }
  async listGroups() {
    return [];
  }
  async listMembers(groupId: string) {
    return [...(this.groups.get(groupId) ?? [])].map((id) => ({ id, email: Object.values(this.users).find((u) => u.id === id)?.email ?? '' }));
  }
  async testConnection() {}
}

export class Recorder implements Ticketing, Chat, RevocationScheduler, WorkflowRuntime, Jobs {
  /** Titles of the internal comments (the evidence, agents only), oldest first. */
  readonly comments: string[] = [];
  /** Titles of the public comments: what the requester sees (notices, intake refusals). */
  readonly publicComments: string[] = [];
  readonly schedules = new Map<string, Date>();
  readonly completed: Array<{ token: string; decision: string }> = [];
  readonly outcomes: ApprovalOutcome[] = [];
  async addComment(_issueKey: string, comment: { title: string; internal: boolean }) {
    (comment.internal ? this.comments : this.publicComments).push(comment.title);
  }
  async hasComment() {
    return false;
  }
  async transition() {
    return true;
  }
  async userEmail() {
    return undefined;
  }
  async createIssue() {
    return { key: 'ACC-99' };
  }
  async findIssueByLabel(): Promise<string | undefined> {
    return undefined;
  }
  async syncFieldOptions() {
    return { added: [], enabled: [], disabled: [], unchanged: [] };
  }
  /** JSM approvals: the Approvers field as set, the approvals Jira reports, and Grantline's answers. */
  readonly approversSet: Array<{ issueKey: string; fieldId: string; emails: string[] }> = [];
  jsmApprovals: JsmApproval[] = [];
  readonly jsmAnswers: Array<{ issueKey: string; approvalId: string; decision: 'approve' | 'decline' }> = [];
  async setApprovers(issueKey: string, fieldId: string, emails: string[]): Promise<{ missing: string[] }> {
    this.approversSet.push({ issueKey, fieldId, emails });
    return { missing: [] };
  }
  async approvals() {
    return this.jsmApprovals;
  }
  async answerApproval(issueKey: string, approvalId: string, decision: 'approve' | 'decline') {
    this.jsmAnswers.push({ issueKey, approvalId, decision });
    return 'answered' as const;
  }
  /** Files attached to issues, oldest first: one per issue and file name (a second attach answers 'exists'). */
  readonly attachments: Array<{ issueKey: string; filename: string; content: string; contentType: string }> = [];
  async attachFile(issueKey: string, file: { filename: string; content: string; contentType: string }) {
    if (this.attachments.some((a) => a.issueKey === issueKey && a.filename === file.filename)) return 'exists' as const;
    this.attachments.push({ issueKey, ...file });
    return 'attached' as const;
  }
  async userIdByEmail(email: string): Promise<string | undefined> {
    return `U-${email}`;
  }
  async emailOfUser(userId: string) {
    return userId.replace(/^U-/, '');
  }
  /** Slack users whose DMs Slack refuses (left the workspace, DMs closed). */
  readonly refusesDm = new Set<string>();
  async postApprovalRequest(userId: string) {
    if (this.refusesDm.has(userId)) throw new PermanentError(`Slack refused the message to ${userId}: cannot_dm_bot`);
    return { channel: `D-${userId}`, ts: '1.1' };
  }
  async showOutcome(_ref: unknown, _prompt: unknown, outcome: ApprovalOutcome) {
    this.outcomes.push(outcome);
  }
  /** Quorum progress shown on approval messages (`channel/ts` of the message). */
  readonly progress: Array<{ message: string; progress: ApprovalProgress }> = [];
  async showProgress(ref: { channel: string; ts: string }, _prompt: unknown, progress: ApprovalProgress) {
    this.progress.push({ message: `${ref.channel}/${ref.ts}`, progress });
  }
  /** Bundle approval messages posted or redrawn: `to` is the user id (a post) or `channel/ts` (a redraw). */
  readonly bundleMessages: Array<{ to: string; view: BundleApprovalView }> = [];
  async showBundleApprovals(to: string | { channel: string; ts: string }, view: BundleApprovalView) {
    const where = typeof to === 'string' ? to : `${to.channel}/${to.ts}`;
    this.bundleMessages.push({ to: where, view });
    return typeof to === 'string' ? { channel: `D-${to}`, ts: `b${this.bundleMessages.length}` } : to;
  }
  /**
   * Slack messages sent to people: `to` is the user id of a DM, or the message replied to (`channel/ts`);
   * `release`, the grant id of the "I'm done" button the message carries; `review`, of its "Reviewed" button.
   */
  readonly notices: Array<{ to: string; text: string; release?: string; review?: string }> = [];
  async notify(to: string | { channel: string; ts: string }, text: string, options: { release?: string; review?: string } = {}) {
    const where = typeof to === 'string' ? to : `${to.channel}/${to.ts}`;
    this.notices.push({ to: where, text, ...(options.release ? { release: options.release } : {}), ...(options.review ? { review: options.review } : {}) });
    return { channel: typeof to === 'string' ? `D-${to}` : to.channel, ts: `${this.notices.length}.1` };
  }
  /** Messages whose "I'm done" button was replaced by what happened (`channel/ts` of the message). */
  readonly releasedMessages: Array<{ message: string; text: string; outcome: string }> = [];
  async showReleased(ref: { channel: string; ts: string }, text: string, outcome: string) {
    this.releasedMessages.push({ message: `${ref.channel}/${ref.ts}`, text, outcome });
  }
  /** Request forms opened (views.open) and redrawn (views.update), in order. */
  readonly forms: Array<{ viewId: string; form: RequestForm }> = [];
  async openRequestForm(triggerId: string, form: RequestForm) {
    this.forms.push({ viewId: `V-${triggerId}`, form });
  }
  async updateRequestForm(viewId: string, _hash: string | undefined, form: RequestForm) {
    this.forms.push({ viewId, form });
  }
  /** Access review messages posted or redrawn: `to` is the user id (a post) or `channel/ts` (a redraw). */
  readonly reviewMessages: Array<{ to: string; view: ReviewMessageView }> = [];
  async showReviewItems(to: string | { channel: string; ts: string }, view: ReviewMessageView) {
    const where = typeof to === 'string' ? to : `${to.channel}/${to.ts}`;
    this.reviewMessages.push({ to: where, view });
    return typeof to === 'string' ? { channel: `D-${to}`, ts: `r${this.reviewMessages.length}` } : to;
  }
  /** Revoke-reason modals opened (views.open), in order. */
  readonly revokeForms: Array<{ triggerId: string; form: RevokeReasonForm }> = [];
  async openRevokeReason(triggerId: string, form: RevokeReasonForm) {
    this.revokeForms.push({ triggerId, form });
  }
  /** Filing jobs handed over. */
  readonly filingJobs: FilingJob[] = [];
  async fileRequest(job: FilingJob) {
    this.filingJobs.push(job);
  }
  /** Offboardings handed over (a Jira offboarding issue). */
  readonly offboardJobs: OffboardJob[] = [];
  async offboard(job: OffboardJob) {
    this.offboardJobs.push(job);
  }
  /** Early releases handed over ("I'm done"). */
  readonly releaseJobs: ReleaseJob[] = [];
  async release(job: ReleaseJob) {
    this.releaseJobs.push(job);
  }
  /** Review Revokes decided in Slack, handed over to be carried out. */
  readonly campaignRevokeJobs: CampaignRevokeJob[] = [];
  async campaignRevoke(job: CampaignRevokeJob) {
    this.campaignRevokeJobs.push(job);
  }
  async schedule(grantId: string, at: Date) {
    const exists = this.schedules.has(grantId);
    this.schedules.set(grantId, at);
    return exists ? ('exists' as const) : ('created' as const);
  }
  async reschedule(grantId: string, at: Date) {
    this.schedules.set(grantId, at);
  }
  async cancel(grantId: string) {
    this.schedules.delete(grantId);
  }
  async start() {
    return 'started' as const;
  }
  async completeApproval(token: string, output: { decision: string }) {
    this.completed.push({ token, decision: output.decision });
    return 'delivered' as const;
  }
}

/** A fresh ledger (dynalite, closed by the caller), a clock at a fixed time, a directory and a recorder, wired as the core's dependencies. */
export async function startUnitWorld<D extends IdentityProvider = Directory>(
  options: { directory?: D; logger?: Logger } = {},
): Promise<{ dynamo: TestDynamo; clock: ManualClock; directory: D; ports: Recorder; deps: LifecycleDeps }> {
  const dynamo = await startDynamo();
  const clock = new ManualClock(new Date('2026-03-02T09:00:00.000Z'));
  const directory = options.directory ?? (new Directory() as unknown as D);
  const ports = new Recorder();
  const deps = unitDeps({ store: dynamo.store, clock, directory, ports, ...(options.logger ? { logger: options.logger } : {}) });
  return { dynamo, clock, directory, ports, deps };
}

/** The core's dependencies with the ledger in dynalite and every other port faked. */
export function unitDeps(parts: { store: Store; clock: Clock; directory: IdentityProvider; ports: Recorder; logger?: Logger }): LifecycleDeps {
  const { store, clock, directory, ports } = parts;
  return {
    config: parseConfig({}),
    clock,
    logger: parts.logger ?? silentLogger,
    store,
    catalog: testCatalog(),
    ticketing: ports,
    chat: ports,
    idp: () => directory,
    scheduler: ports,
    workflow: ports,
    jobs: ports,
  };
}

/**
 * A request taken through intake, planning and every approval step, ready to provision. `approvers`
 * are the people who click Approve at each step (Maria, Eli's manager, by default).
 */
export async function approvedGrant(
  deps: LifecycleDeps,
  request: { issueKey: string; app?: string; role?: string; duration?: string; subject?: string; approvers?: string[]; endDate?: string },
): Promise<string> {
  const grant = await submitRequest(deps, {
    issueKey: request.issueKey,
    requester: ELI,
    subject: request.subject ?? ELI,
    app: request.app ?? 'figma',
    role: request.role ?? 'editor',
    duration: request.duration ?? 'PT24H',
    justification: 'design',
    source: 'jira',
    ...(request.endDate ? { endDate: request.endDate } : {}),
  });
  let next = await advance(deps, grant.id);
  for (const approver of request.approvers ?? [MARIA]) {
    if (next.next !== 'approval') break;
    await requestApproval(deps, { grantId: grant.id, step: next.step, taskToken: `token-${request.issueKey}-${next.step}` });
    await decide(deps, { grantId: grant.id, step: next.step, decision: 'approved', clickerEmail: approver, clickerRef: `U-${approver}`, via: 'slack' });
    next = await advance(deps, grant.id);
  }
  return grant.id;
}
