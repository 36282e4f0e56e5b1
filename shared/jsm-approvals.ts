/**
 * Approvals in Jira Service Management, beside Slack (on when JIRA_FIELD_APPROVERS names JSM's
 * "Approvers" field). One decision path: a JSM decision goes through the same decide() as a Slack
 * click, so the same rules hold (only a named approver of the current step, never the requester or
 * subject, the first decision wins), and whichever surface decides first, the other is brought in line:
 * - asking: the step's approvers and Grantline's own account go into the Approvers field before the
 *   issue enters the approval status (the approval_requested evidence moves it), so JSM opens an
 *   approval for them (putApproversOnIssue);
 * - a decision in JSM: Jira's "Approval completed" automation rule posts the issue key to
 *   /webhooks/jira; nothing in the body is trusted: the approvals are read back from JSM and each
 *   completed one not taken yet is decided for the request's current step (receiveApprovalCompleted);
 * - a decision in Slack (or a timeout): the workflow's next step answers the JSM approval as
 *   Grantline's account, so the issue moves on in Jira too (answerInJira).
 */
import { decide } from './approval.js';
import type { Config } from './config.js';
import { normalizeEmail } from './email.js';
import { errorMessage, RetryableError } from './errors.js';
import { type Approval, type Grant, grantIdFor } from './grants/model.js';
import { json, type HttpResponse } from './http.js';
import type { JsmApproval } from './ports.js';
import type { Services } from './services.js';

export type JsmDeps = Pick<Services, 'config' | 'clock' | 'logger' | 'store' | 'ticketing' | 'workflow'>;

/** The `webhookEvent` the "Approval completed" automation rule sends (docs/jira-setup.md §6). */
export const APPROVAL_COMPLETED_EVENT = 'jira:approval_completed';

type JiraApprovers = NonNullable<Approval['jiraApprovers']>;

// ---------------------------------------------------------------- Asking

/**
 * Puts the step's approvers (and Grantline's account) into the issue's Approvers field, once per
 * step (recorded on the approval, so a retried task does not redo it). A later step first closes the
 * previous step's JSM approval: JSM opens a new one only when the issue enters the approval status
 * again. A transient Jira fault is thrown (the workflow retries the task; Slack was asked already);
 * a permanent one is returned as `problem`, for the evidence. undefined: JSM approvals are off.
 */
export async function putApproversOnIssue(deps: JsmDeps, grant: Grant, approval: Approval): Promise<JiraApprovers | undefined> {
  const fieldId = deps.config.JIRA_FIELD_APPROVERS;
  // A bundle's items share one issue, whose one Approvers field cannot ask each item's own approvers: they decide in Slack.
  if (!fieldId || grant.bundle) return undefined;
  if (approval.jiraApprovers) return approval.jiraApprovers;
  if (approval.step > 0) {
    const previous = await deps.store.getApproval(grant.id, approval.step - 1);
    if (previous) await answerInJira(deps, grant, previous, { retry: true });
  }
  let record: JiraApprovers;
  try {
    const { missing } = await deps.ticketing.setApprovers(grant.issueKey, fieldId, approval.approvers);
    record = { at: deps.clock.now().toISOString(), missing };
  } catch (err) {
    if (err instanceof RetryableError) throw err;
    deps.logger.warn('could not put the approvers on the Jira issue; they are asked in Slack', { grantId: grant.id, error: errorMessage(err) });
    record = { at: deps.clock.now().toISOString(), missing: [], problem: errorMessage(err) };
  }
  if (await deps.store.setJiraApprovers(grant.id, approval.step, record)) return record;
  // A concurrent attempt recorded it first: its record stands.
  return (await deps.store.getApproval(grant.id, approval.step))?.jiraApprovers ?? record;
}

/**
 * What the approval_requested evidence says about Jira; whether the issue goes to the approval status
 * (JSM opens its approval then); whether an approver can decide there (so Slack alone need not reach one).
 */
export function approversEvidence(
  config: Pick<Config, 'JIRA_FIELD_APPROVERS'>,
  jira: JiraApprovers | undefined,
  approvers: string[],
): { details: Record<string, string | undefined>; askedInJira: boolean; decidableInJira: boolean } {
  if (!jira) return { details: {}, askedInJira: false, decidableInJira: false };
  if (jira.problem) return { details: { 'Jira approval': `not set in Jira: ${jira.problem}` }, askedInJira: false, decidableInJira: false };
  return {
    details: {
      'Jira approval': `the approvers (and Grantline's account) are in ${config.JIRA_FIELD_APPROVERS}: they can also decide in Jira`,
      'Not in Jira': jira.missing.length > 0 ? `${jira.missing.join(', ')} (no Jira account with this email: Slack only)` : undefined,
    },
    askedInJira: true,
    decidableInJira: approvers.some((a) => !jira.missing.includes(a)),
  };
}

// ---------------------------------------------------------------- Answering (Slack decided first)

/**
 * A closed step's decision, given to every JSM approval still waiting for Grantline's account
 * ("already answered" is fine: JSM's own first decision stands there, and Grantline's ledger says
 * which one counted). Nothing to do when JSM decided. A fault is logged, or, with `retry`, a
 * transient one is thrown for the workflow to retry: the next step's approval needs this one closed.
 */
export async function answerInJira(deps: JsmDeps, grant: Grant, approval: Approval, options: { retry?: boolean } = {}): Promise<void> {
  if (!deps.config.JIRA_FIELD_APPROVERS || approval.status === 'pending' || !approval.jiraApprovers || approval.jiraApprovers.problem) return;
  const decision = approval.status === 'approved' ? 'approve' : 'decline';
  try {
    const open = (await deps.ticketing.approvals(grant.issueKey)).filter(
      (a) => a.finalDecision === 'pending' && a.approvers.some((x) => x.grantline && x.decision === 'pending'),
    );
    for (const jsm of open) {
      const answer = await deps.ticketing.answerApproval(grant.issueKey, jsm.id, decision);
      deps.logger.info('JSM approval answered as Grantline', { grantId: grant.id, step: approval.step, approval: jsm.id, decision, answer });
    }
  } catch (err) {
    if (options.retry && err instanceof RetryableError) throw err;
    deps.logger.warn('could not answer the JSM approval; the decision stands in Grantline', {
      grantId: grant.id,
      step: approval.step,
      error: errorMessage(err),
    });
  }
}

// ---------------------------------------------------------------- Deciding (JSM decided first)

interface Taken {
  approval: string;
  outcome: 'recorded' | 'refused' | 'already_decided' | 'skipped';
  by?: string;
  decision?: 'approved' | 'denied';
  reason?: string;
}

/**
 * The "Approval completed" webhook. Always 2xx once authenticated (a request Grantline does not know,
 * or one no longer waiting, included), so Jira's rule does not retry: the answer says what happened.
 */
export async function receiveApprovalCompleted(deps: JsmDeps, issueKey: string): Promise<HttpResponse> {
  if (!deps.config.JIRA_FIELD_APPROVERS) {
    return json(200, { issueKey, decisions: [], note: 'JSM approvals are off in Grantline (JIRA_FIELD_APPROVERS is not set): nothing was decided' });
  }
  const grant = await deps.store.getGrant(grantIdFor(issueKey));
  if (!grant) return json(200, { issueKey, decisions: [], note: `Grantline has no request for ${issueKey}: nothing was decided` });
  const taken = new Set<string>();
  for (let step = 0; step < (grant.steps?.length ?? 0); step += 1) {
    for (const id of (await deps.store.getApproval(grant.id, step))?.jiraApprovalsTaken ?? []) taken.add(id);
  }
  const completed = (await deps.ticketing.approvals(issueKey)).filter((a) => a.finalDecision !== 'pending' && !taken.has(a.id));
  const decisions: Taken[] = [];
  for (const jsm of completed) decisions.push(await takeDecision(deps, grant.id, jsm));
  return json(200, { grantId: grant.id, issueKey, status: (await deps.store.getGrant(grant.id))?.status ?? grant.status, decisions });
}

async function takeDecision(deps: JsmDeps, grantId: string, jsm: JsmApproval): Promise<Taken> {
  if (jsm.approvers.some((a) => a.grantline && a.decision !== 'pending')) {
    return { approval: jsm.id, outcome: 'skipped', reason: "answered by Grantline's account, after a decision it had recorded" };
  }
  const by = jsm.approvers.find((a) => a.decision === jsm.finalDecision) ?? jsm.approvers.find((a) => a.decision !== 'pending');
  if (!by) return { approval: jsm.id, outcome: 'skipped', reason: 'JSM names no approver who decided' };
  // Read again for each: an earlier approval of this webhook may have moved the request on.
  const grant = await deps.store.getGrant(grantId);
  const step = grant?.currentStep ?? 0;
  if (!grant || !(await deps.store.getApproval(grantId, step))) {
    return { approval: jsm.id, outcome: 'skipped', reason: 'no approval step of this request has been asked yet' };
  }
  // Jira is read before anything is taken: a fault here leaves the approval for the next call.
  const email = normalizeEmail(by.email ?? (await deps.ticketing.userEmail(by.accountId)));
  // Taken before deciding (a conditional write): a replayed or concurrent webhook decides nothing twice.
  if (!(await deps.store.takeJiraApproval(grantId, step, jsm.id))) return { approval: jsm.id, outcome: 'skipped', reason: 'already taken' };
  const decision = jsm.finalDecision === 'approved' ? 'approved' : 'denied';
  let result: Awaited<ReturnType<typeof decide>>;
  // Without Slack: the Jira webhook carries no Slack client, so a quorum step's Slack messages show a
  // Jira approval with the next approval made in Slack, or with the outcome when the step closes.
  const { config, clock, logger, store, ticketing, workflow } = deps;
  try {
    result = await decide(
      { config, clock, logger, store, ticketing, workflow },
      { grantId, step, decision, clickerEmail: email, clickerRef: `jira:${by.accountId}`, via: 'jira' },
    );
  } catch (err) {
    // The decision failed (the ledger or the workflow did not answer): give the approval back, so
    // the webhook's next delivery decides it instead of skipping it as taken.
    await deps.store.releaseJiraApproval(grantId, step, jsm.id);
    throw err;
  }
  // A refused decision, or one approval of a quorum step that still waits for more, closed the JSM approval all the same.
  if (result.outcome !== 'already_decided') await askAgain(deps, grant, step);
  return {
    approval: jsm.id,
    outcome: result.outcome,
    by: email ?? `jira:${by.accountId}`,
    decision,
    ...(result.outcome === 'recorded' ? {} : { reason: result.reason }),
  };
}

/**
 * A JSM decision Grantline refused, or one approval of a quorum step (JSM's approval needs one
 * approver), closed the JSM approval all the same (and moved the issue on): while the step still
 * waits, its approvers who have not approved are put back (dropping anyone added by hand) and the
 * issue is moved back to the approval status, so JSM opens a new approval. Best effort: Slack still asks.
 */
async function askAgain(deps: JsmDeps, grant: Grant, step: number): Promise<void> {
  const [current, approval] = await Promise.all([deps.store.getGrant(grant.id), deps.store.getApproval(grant.id, step)]);
  if (current?.status !== 'pending_approval' || current.currentStep !== step || approval?.status !== 'pending') return;
  try {
    const approved = new Set((approval.approvals ?? []).map((a) => a.by));
    await deps.ticketing.setApprovers(
      grant.issueKey,
      deps.config.JIRA_FIELD_APPROVERS!,
      approval.approvers.filter((a) => !approved.has(a)),
    );
    await deps.ticketing.transition(grant.issueKey, deps.config.JIRA_STATUS_AWAITING_APPROVAL);
  } catch (err) {
    deps.logger.warn('could not ask again in Jira after a refused JSM decision; Slack still asks', { grantId: grant.id, step, error: errorMessage(err) });
  }
}
