/**
 * Approval: from a recorded request to a decision. Plans the approval steps from the catalog,
 * asks each step's approvers in Slack (and in Jira Service Management with JIRA_FIELD_APPROVERS:
 * shared/jsm-approvals.ts), takes their decisions (only a named approver of the current
 * step, never the requester or subject, the first decision wins) and closes the request as approved
 * or denied. Every function re-reads the ledger and changes state only by conditional writes.
 */
import { currentAccount, ineligibility } from './accounts.js';
import { askInBundle, isQuorum, outcomeOf, promptFor, redrawBundleMessage } from './approval-messages.js';
import { approveBreakGlass, breakGlassReviewers, noReviewerReason, reviewOpen } from './break-glass.js';
import { resolveRole } from './catalog/catalog.js';
import type { Config } from './config.js';
import { describeDuration } from './duration.js';
import { normalizeEmail } from './email.js';
import { errorMessage, PermanentError, RetryableError } from './errors.js';
import { endDateProblem } from './end-dates.js';
import { deliverPending, recordEvidence, type EvidenceInput } from './evidence.js';
import { loadGrant } from './grants/load.js';
import { requestedEvidence } from './intake.js';
import { answerInJira, approversEvidence, putApproversOnIssue } from './jsm-approvals.js';
import type { Approval, ApprovalStepPlan, Grant, QuorumApproval } from './grants/model.js';
import { settleBundle } from './bundles.js';
import { tellOutcome } from './notify.js';
import { planApprovals, quorumShortfall } from './policy.js';
import type { Chat, IdentityProvider } from './ports.js';
import type { LifecycleDeps, Services } from './services.js';
import type { Store } from './store/store.js';

/** What the state machine does next (the Choice state reads `next`). */
export interface NextStep {
  grantId: string;
  /** review: a break-glass grant whose access has ended while its review after the fact is still open (a re-driven execution). */
  next: 'approval' | 'provision' | 'review' | 'end';
  step: number;
  /**
   * While waiting for the step's decision: the seconds until its next timer (RequestApproval's
   * TimeoutSecondsPath), and which timer that is (ApprovalTimer's input).
   */
  waitSeconds: number;
  timer: ApprovalTimerName;
}

/** A step's timers, in the order they fall due: remind the approvers, add the escalation approvers, deny. */
export const APPROVAL_TIMERS = ['remind', 'escalate', 'deadline'] as const;
export type ApprovalTimerName = (typeof APPROVAL_TIMERS)[number];

// ---------------------------------------------------------------- Advance

export async function advance(deps: LifecycleDeps, grantId: string): Promise<NextStep> {
  let grant = await loadGrant(deps.store, grantId);
  if (grant.status === 'requested') grant = await plan(deps, grant);
  if (grant.status === 'pending_approval') grant = await afterDecision(deps, grant);
  const next: NextStep['next'] =
    grant.status === 'pending_approval'
      ? 'approval'
      : grant.status === 'approved' || grant.status === 'active'
        ? 'provision'
        : grant.status === 'revoked' && reviewOpen(grant)
          ? 'review'
          : 'end';
  // What was recorded so far (the request, a Slack decision recorded within Slack's 3 seconds, an
  // automatic approval) reaches Jira now, or, on the way to the access, with the provisioning's own
  // evidence right after the add: the access waits on nothing Jira does.
  if (next !== 'provision') await deliverPending(deps, grantId);
  // A bundle's item declined: the bundle's summary, once every item is settled.
  if (next === 'end') await settleBundle(deps, grant);
  const step = grant.currentStep ?? 0;
  const wait = next === 'approval' ? nextTimer(grant, await deps.store.getApproval(grant.id, step), deps.clock.now()) : undefined;
  return { grantId, next, step, waitSeconds: wait?.seconds ?? grant.approvalTimeoutSeconds, timer: wait?.timer ?? 'deadline' };
}

/**
 * The step's next timer and the seconds until it falls due, counted from when the step was first
 * asked (now, when it has not been asked yet): a re-driven or resumed wait keeps the original times
 * instead of starting the clock again, and a timer already done (reminded, escalated) is skipped.
 */
export function nextTimer(grant: Grant, approval: Approval | undefined, now: Date): { timer: ApprovalTimerName; seconds: number } {
  const askedAt = approval ? new Date(approval.requestedAt).getTime() : now.getTime();
  const timers = grant.approvalTimers;
  const due: Array<[ApprovalTimerName, number | undefined, boolean]> = [
    ['remind', timers?.remindAfterSeconds, Boolean(approval?.remindedAt)],
    ['escalate', timers?.escalation?.afterSeconds, Boolean(approval?.escalatedAt)],
    ['deadline', grant.approvalTimeoutSeconds, false],
  ];
  // A timer at or after the deadline would never fire (the catalog check refuses one; a grant recorded before keeps its own).
  const pending = due.filter(([name, after, done]) => !done && after !== undefined && (name === 'deadline' || after < grant.approvalTimeoutSeconds));
  const [timer, afterSeconds] = pending.sort((a, b) => a[1]! - b[1]!)[0]!;
  return { timer, seconds: Math.max(1, Math.ceil((askedAt + afterSeconds! * 1000 - now.getTime()) / 1000)) };
}

async function plan(deps: LifecycleDeps, grant: Grant): Promise<Grant> {
  await recordEvidence(deps, grant, requestedEvidence(grant), { deliverNow: false });
  let managerFromIdp: string | undefined;
  let idpUserId: string | undefined;
  let endDate: string | undefined;
  if (grant.provider) {
    const user = await currentAccount(deps.idp(grant.provider), grant.subject);
    const ineligible = ineligibility(user, grant.subject, grant.provider);
    if (ineligible) return deny(deps, grant, { reason: ineligible, by: 'policy', via: 'policy' });
    managerFromIdp = normalizeEmail(user?.managerEmail);
    idpUserId = user?.id;
    endDate = user?.endDate;
  }
  // The subject's end date (the identity provider's, the request's): one that has passed refuses the request.
  const ended = endDateProblem(deps.catalog, grant, endDate, deps.clock.now());
  if (ended) return deny(deps, grant, { reason: ended, by: 'policy', via: 'policy' });
  // The account's id goes with the grant, so provisioning reads it by id without searching again.
  const account = idpUserId ? { idpUserId } : {};
  const resolved = resolveRole(deps.catalog, grant.app, grant.role);
  if (!resolved) return deny(deps, grant, { reason: `${grant.app} ${grant.role} is no longer in the catalog`, by: 'policy', via: 'policy' });
  if (grant.breakGlass) {
    // Break-glass (shared/break-glass.ts): the requester's own approval, if someone is left to review it after the fact.
    if (!resolved.role.breakGlass)
      return deny(deps, grant, { reason: `${grant.appName} ${grant.role} no longer allows break-glass`, by: 'policy', via: 'policy' });
    const reviewers = await breakGlassReviewers(deps, grant, resolved);
    if (reviewers.length === 0) return deny(deps, grant, { reason: noReviewerReason(resolved), by: 'policy', via: 'policy' });
    return approveBreakGlass(deps, grant, reviewers, account);
  }
  const decision = planApprovals(deps.catalog, resolved, {
    requester: grant.requester,
    subject: grant.subject,
    ...(managerFromIdp ? { managerFromIdp } : {}),
    ...(grant.provider ? { providerLabel: grant.provider } : {}),
  });
  const now = deps.clock.now().toISOString();
  if (decision.kind === 'denied') return deny(deps, grant, { reason: decision.reason, by: 'policy', via: 'policy' });
  if (decision.kind === 'auto') {
    // Evidence first: only the workflow approves automatically, and a crash before the state change
    // is retried with the evidence's own time, so the ledger never has the change without its evidence.
    const recorded = await recordEvidence(
      deps,
      grant,
      { type: 'auto_approved', actor: 'policy', via: 'policy', at: now, summary: `approved automatically by policy`, details: { Reason: decision.reason } },
      { deliverNow: false },
    );
    const at = recorded.at;
    return (
      (await deps.store.updateGrant(grant.id, ['requested'], { status: 'approved', decidedAt: at, decidedBy: 'policy', updatedAt: at, ...account })) ??
      loadGrant(deps.store, grant.id)
    );
  }
  const steps = grant.provider ? await withoutInactiveApprovers(deps.idp(grant.provider), decision.steps) : decision.steps;
  const empty = steps.findIndex((s) => s.approvers.length === 0);
  if (empty >= 0) {
    return deny(deps, grant, { reason: `approval step ${empty + 1} has no eligible approver: ${steps[empty]!.reason}`, by: 'policy', via: 'policy' });
  }
  // A quorum step left with fewer active approvers than it needs could never be approved.
  const short = steps.findIndex((s) => s.approvers.length < (s.quorum ?? 1));
  if (short >= 0) {
    const s = steps[short]!;
    return deny(deps, grant, { reason: `approval step ${short + 1} ${quorumShortfall(s.quorum ?? 1, s.approvers)}: ${s.reason}`, by: 'policy', via: 'policy' });
  }
  return (
    (await deps.store.updateGrant(grant.id, ['requested'], { status: 'pending_approval', steps, currentStep: 0, updatedAt: now, ...account })) ??
    loadGrant(deps.store, grant.id)
  );
}

/** A deactivated or suspended account cannot approve: it is dropped from its step, and the step says so. */
async function withoutInactiveApprovers(idp: IdentityProvider, steps: ApprovalStepPlan[]): Promise<ApprovalStepPlan[]> {
  const out: ApprovalStepPlan[] = [];
  for (const step of steps) {
    const inactive: string[] = [];
    for (const approver of step.approvers) {
      const user = await currentAccount(idp, approver);
      if (user && !user.active) inactive.push(approver);
    }
    out.push(
      inactive.length === 0
        ? step
        : {
            ...step,
            approvers: step.approvers.filter((a) => !inactive.includes(a)),
            reason: `${step.reason}; ${inactive.join(', ')} deactivated in ${idp.name}, so cannot approve`,
          },
    );
  }
  return out;
}

/** Looks at the current step's approval: moves to the next step, to provisioning, or to denied. */
async function afterDecision(deps: LifecycleDeps, grant: Grant): Promise<Grant> {
  const step = grant.currentStep ?? 0;
  const approval = await deps.store.getApproval(grant.id, step);
  if (!approval || approval.status === 'pending') return grant;
  // Before the evidence, whose transition may move the issue out of the approval status, where JSM still takes an answer.
  await answerInJira(deps, grant, approval);
  await recordStepEvidence(deps, grant, approval);
  await showOutcome(deps, grant, approval);
  const now = deps.clock.now().toISOString();
  if (approval.status === 'approved') {
    const suspended = await approverNoLongerActive(deps, grant, approval);
    if (suspended) return deny(deps, grant, { reason: suspended, by: 'policy', via: 'policy' });
    const lastStep = step + 1 >= (grant.steps?.length ?? 1);
    const changes: Partial<Grant> = lastStep
      ? { status: 'approved', decidedAt: approval.decidedAt ?? now, decidedBy: approval.decidedBy ?? '', updatedAt: now }
      : { currentStep: step + 1, updatedAt: now };
    return (await deps.store.updateGrant(grant.id, ['pending_approval'], changes, { step })) ?? loadGrant(deps.store, grant.id);
  }
  const reason =
    approval.status === 'expired'
      ? `no decision within ${describeDuration(`PT${grant.approvalTimeoutSeconds}S`)} (step ${step + 1})`
      : `denied by ${approval.decidedBy} (step ${step + 1})`;
  // The denial evidence is in the ledger (written above, or when the click or the timeout happened); here the grant closes.
  return finishDenied(deps, grant, reason, approval.decidedBy ?? 'grantline', approval.decidedAt ?? now);
}

/**
 * A Slack click is taken within Slack's 3 seconds without calling the identity provider; the
 * approval counts only if the approver's account, read by id, is still active when the workflow
 * moves on. Fails closed: a suspended approver's approval denies the request.
 */
async function approverNoLongerActive(deps: LifecycleDeps, grant: Grant, approval: Approval): Promise<string | undefined> {
  if (grant.provider && isQuorum(approval)) return quorumNoLongerMet(deps.idp(grant.provider), grant, approval);
  if (!grant.provider || !approval.decidedBy) return undefined;
  const account = await currentAccount(deps.idp(grant.provider), approval.decidedBy);
  if (!account || account.active) return undefined;
  return `the approval by ${approval.decidedBy} (step ${approval.step + 1}) does not count: their ${grant.provider} account is deactivated or suspended`;
}

async function deny(deps: LifecycleDeps, grant: Grant, d: { reason: string; by: string; via: string }): Promise<Grant> {
  const now = deps.clock.now().toISOString();
  await recordEvidence(deps, grant, {
    type: 'denied',
    key: 'denied#policy',
    actor: d.by,
    via: d.via,
    at: now,
    summary: `denied: ${d.reason}`,
    details: { Reason: d.reason },
    transitionTo: deps.config.JIRA_STATUS_DENIED,
  });
  return finishDenied(deps, grant, d.reason, d.by, now);
}

async function finishDenied(deps: LifecycleDeps, grant: Grant, reason: string, by: string, at: string): Promise<Grant> {
  const updated = await deps.store.updateGrant(grant.id, ['requested', 'pending_approval'], {
    status: 'denied',
    denialReason: reason,
    decidedAt: at,
    decidedBy: by,
    updatedAt: deps.clock.now().toISOString(),
  });
  // The approvers' own messages already show the decision (showOutcome).
  if (updated) await tellOutcome(deps, grant, `Your request ${grant.issueKey} for ${grant.appName} ${grant.role} was denied: ${reason}.`);
  return updated ?? loadGrant(deps.store, grant.id);
}

// ---------------------------------------------------------------- RequestApproval

/**
 * Asks the current step's approvers in Slack and keeps the workflow's callback token in the ledger.
 * The token is never sent to Slack: a button carries only `grantId:step`.
 */
export async function requestApproval(deps: LifecycleDeps, input: { grantId: string; step: number; taskToken: string }): Promise<void> {
  const grant = await loadGrant(deps.store, input.grantId);
  let existing = await deps.store.getApproval(grant.id, input.step);
  // A quorum step whose last approval was recorded but not closed (a crash between the two writes) closes now.
  if (existing && (await closeIfQuorumReached(deps.store, existing))) existing = await deps.store.getApproval(grant.id, input.step);
  if (existing && existing.status !== 'pending') {
    // Decided before this task (re)started, e.g. a re-driven execution: release the workflow at once.
    await deps.workflow.completeApproval(input.taskToken, { decision: existing.status === 'approved' ? 'approved' : 'denied' });
    return;
  }
  const planStep = grant.steps?.[input.step];
  if (grant.status !== 'pending_approval' || grant.currentStep !== input.step || !planStep) {
    throw new PermanentError(`grant ${grant.id} is ${grant.status} at step ${grant.currentStep}, not waiting for approval step ${input.step}`);
  }
  const now = deps.clock.now();
  const approval: Approval = existing
    ? { ...existing, taskToken: input.taskToken }
    : {
        grantId: grant.id,
        step: input.step,
        status: 'pending',
        approvers: planStep.approvers,
        taskToken: input.taskToken,
        messages: [],
        requestedAt: now.toISOString(),
        ...(planStep.quorum ? { quorum: planStep.quorum } : {}),
      };
  if (existing) await deps.store.replaceApprovalToken(grant.id, input.step, input.taskToken);
  else if ((await deps.store.createApproval(approval)) === 'exists') await deps.store.replaceApprovalToken(grant.id, input.step, input.taskToken);

  const { messages, unreachable } = await askApprovers(deps, grant, approval);
  // JSM approvals (JIRA_FIELD_APPROVERS): after Slack, so a Jira fault never holds back the Slack prompts.
  const jira = approversEvidence(deps.config, await putApproversOnIssue(deps, grant, approval), approval.approvers);
  if (messages.length === 0 && !jira.decidableInJira) {
    throw new PermanentError(
      `none of the approvers of step ${input.step + 1} can be reached in Slack (${unreachable.map((u) => `${u.approver}: ${u.why}`).join('; ')})`,
    );
  }
  const deadline = stepDeadline(grant, approval);
  await recordEvidence(deps, grant, {
    type: 'approval_requested',
    key: `approval_requested#${input.step}`,
    actor: 'grantline',
    via: 'slack',
    at: approval.requestedAt,
    summary: `approval asked of ${approval.approvers.join(', ')}${isQuorum(approval) ? `: ${approval.quorum} of them must approve` : ''} (step ${input.step + 1} of ${grant.steps?.length ?? 1})`,
    details: {
      Approvers: approval.approvers.join(', '),
      Why: planStep.reason,
      Quorum: isQuorum(approval) ? `${approval.quorum} distinct approvers must approve; a deny by any one of them ends the request` : undefined,
      Deadline: `${deadline} (denied if nobody decides by then)`,
      'Not reachable in Slack': unreachable.map((u) => `${u.approver} (${u.why})`).join(', ') || undefined,
      ...jira.details,
    },
    // JSM opens an approval each time the issue enters the approval status: every step goes there when asked in Jira.
    ...(input.step === 0 || jira.askedInJira ? { transitionTo: deps.config.JIRA_STATUS_AWAITING_APPROVAL } : {}),
  });
}

/**
 * DMs every approver not yet asked, keeping each message as soon as it is posted, so a retried
 * task never asks anyone twice. One approver Slack refuses (left the workspace, DMs closed) is
 * recorded and skipped; a transient fault (429, 5xx) is retried by the workflow.
 */
async function askApprovers(
  deps: LifecycleDeps,
  grant: Grant,
  approval: Approval,
): Promise<{ messages: Approval['messages']; unreachable: Array<{ approver: string; why: string }> }> {
  const prompt = promptFor(grant, approval.step);
  const messages = [...approval.messages];
  const unreachable: Array<{ approver: string; why: string }> = [];
  // A role with an approval channel: the request is posted there once, with the buttons, and an
  // approver group's members read it there instead of each getting a DM; named approvers still get one.
  const channel = resolveRole(deps.catalog, grant.app, grant.role)?.role.approvalChannel;
  const channelKey = `channel:${channel}`;
  if (channel && !messages.some((m) => m.approver === channelKey)) {
    try {
      messages.push({ approver: channelKey, ...(await deps.chat.postApprovalRequest(channel, prompt)) });
      await deps.store.setApprovalMessages(grant.id, approval.step, messages);
    } catch (err) {
      if (err instanceof RetryableError) throw err;
      deps.logger.warn('the approval channel cannot be posted to; asking the approvers directly', { grantId: grant.id, channel, error: errorMessage(err) });
      unreachable.push({ approver: `channel ${channel}`, why: `Slack refused the message: ${errorMessage(err)}` });
    }
  }
  const seenInChannel = messages.some((m) => m.approver === channelKey) && grant.steps?.[approval.step]?.kind === 'group';
  for (const approver of approval.approvers) {
    if (seenInChannel || messages.some((m) => m.approver === approver)) continue;
    let why: string;
    try {
      const userId = await deps.chat.userIdByEmail(approver);
      if (userId) {
        // A bundle's item is asked in the approver's one message for the bundle (shared/approval-messages.ts).
        messages.push(
          grant.bundle
            ? await askInBundle(deps, grant, approval.step, approver, userId)
            : { approver, ...(await deps.chat.postApprovalRequest(userId, prompt)) },
        );
        await deps.store.setApprovalMessages(grant.id, approval.step, messages);
        continue;
      }
      why = 'no Slack account with this email';
    } catch (err) {
      if (err instanceof RetryableError) throw err;
      why = `Slack refused the message: ${errorMessage(err)}`;
    }
    deps.logger.warn('approver cannot be reached in Slack; asking the others', { grantId: grant.id, approver, why });
    unreachable.push({ approver, why });
  }
  return { messages, unreachable };
}

/**
 * A step's timer fell due while it waited (RequestApproval's timeout, set by Advance to the next
 * timer): a reminder to the approvers who have not decided, the escalation, or the deadline. Each
 * happens once, marked by a conditional write on the step before anyone is told; a step decided
 * meanwhile is left to Advance.
 */
export async function approvalTimer(deps: LifecycleDeps, input: { grantId: string; step: number; timer: ApprovalTimerName }): Promise<void> {
  if (input.timer === 'deadline') return expireApproval(deps, input);
  const grant = await loadGrant(deps.store, input.grantId);
  const approval = await deps.store.getApproval(grant.id, input.step);
  if (approval?.status !== 'pending') return;
  if (input.timer === 'remind') await remind(deps, grant, approval);
  else await escalate(deps, grant, approval);
}

/**
 * Reminds the approvers who have not decided: a DM to each, a thread reply under a channel post.
 * The evidence first, then the mark: a retry after a crash between them sends the reminder once.
 */
async function remind(deps: LifecycleDeps, grant: Grant, approval: Approval): Promise<void> {
  if (approval.remindedAt) return;
  const now = deps.clock.now();
  const approved = new Set((approval.approvals ?? []).map((a) => a.by));
  const waitingOn = approval.approvers.filter((a) => !approved.has(a));
  const asked = describeDuration(`PT${Math.max(1, Math.round((now.getTime() - new Date(approval.requestedAt).getTime()) / 1000))}S`);
  const deadline = stepDeadline(grant, approval);
  await recordEvidence(deps, grant, {
    type: 'approval_reminded',
    key: `approval_reminded#${approval.step}`,
    actor: 'grantline',
    via: 'slack',
    at: now.toISOString(),
    summary: `reminded ${waitingOn.join(', ')}: no decision ${asked} after asking (step ${approval.step + 1} of ${grant.steps?.length ?? 1})`,
    details: { 'Waiting on': waitingOn.join(', '), 'Approved so far': approvedSoFar(approval), Deadline: `${deadline} (denied if nobody decides by then)` },
  });
  if (!(await deps.store.markReminded(grant.id, approval.step, now.toISOString()))) return;
  const text =
    `Reminder: ${grant.issueKey}, ${grant.appName} ${grant.role} for ${grant.subject}, still waits for your decision (asked ${asked} ago). ` +
    `Without a decision it is denied at ${deadline}.`;
  for (const message of approval.messages) {
    const inChannel = message.approver.startsWith('channel:');
    if (!inChannel && !waitingOn.includes(message.approver)) continue;
    try {
      const userId = inChannel ? undefined : await deps.chat.userIdByEmail(message.approver);
      await deps.chat.notify(userId ?? { channel: message.channel, ts: message.ts }, text);
    } catch (err) {
      deps.logger.warn('could not send an approval reminder in Slack', { grantId: grant.id, approver: message.approver, error: errorMessage(err) });
    }
  }
}

/**
 * Adds the escalation's people to the step's approvers (the requester, the subject and those already
 * asked left out) by one conditional write, then the evidence, built from the written record so a
 * retry after a crash between the two writes it. The workflow then asks them in Slack, as it asks
 * any approver not yet asked; the step's deadline stays where it was.
 */
async function escalate(deps: LifecycleDeps, grant: Grant, approval: Approval): Promise<void> {
  const escalation = grant.approvalTimers?.escalation;
  if (!escalation) return;
  const added = escalation.to.filter((e) => e !== grant.requester && e !== grant.subject && !approval.approvers.includes(e));
  const written =
    (await deps.store.escalateApproval(grant.id, approval.step, added, deps.clock.now().toISOString())) ??
    (await deps.store.getApproval(grant.id, approval.step));
  if (!written?.escalatedAt) return;
  const to = written.escalatedTo ?? [];
  const total = grant.steps?.length ?? 1;
  await recordEvidence(deps, grant, {
    type: 'approval_escalated',
    key: `approval_escalated#${approval.step}`,
    actor: 'grantline',
    via: 'policy',
    at: written.escalatedAt,
    summary:
      to.length > 0
        ? `escalated to ${to.join(', ')}: no decision ${describeDuration(`PT${escalation.afterSeconds}S`)} after asking (step ${approval.step + 1} of ${total})`
        : `escalation found nobody new to ask (${escalation.to.join(', ')}: already asked, the requester or the subject) (step ${approval.step + 1} of ${total})`,
    details: {
      'Added approvers': to.join(', ') || undefined,
      Why: escalation.why,
      'Approvers now': written.approvers.join(', '),
      Deadline: `${stepDeadline(grant, written)} (unchanged)`,
    },
  });
}

const stepDeadline = (grant: Grant, approval: Approval): string =>
  new Date(new Date(approval.requestedAt).getTime() + grant.approvalTimeoutSeconds * 1000).toISOString();

/** The approval task timed out: the step is closed as expired (if no decision won the race) and the request is denied. */
export async function expireApproval(deps: LifecycleDeps, input: { grantId: string; step: number }): Promise<void> {
  const grant = await loadGrant(deps.store, input.grantId);
  const now = deps.clock.now().toISOString();
  // A quorum reached before the deadline whose closing write was lost (a crash after the last
  // approval) closes as approved: the approvals were given in time.
  const current = await deps.store.getApproval(grant.id, input.step);
  const closed = current ? await closeIfQuorumReached(deps.store, current) : undefined;
  if (closed) {
    await recordStepEvidence(deps, grant, closed);
    return;
  }
  const decided = await deps.store.decideApproval(grant.id, input.step, { status: 'expired', by: 'grantline', at: now, channel: 'timeout' });
  if (decided) {
    await answerInJira(deps, grant, decided);
    await recordEvidence(deps, grant, decisionEvidence(deps.config, grant, decided));
  }
}

/**
 * The evidence of a closed approval step, built from the approval record alone: the click (or the
 * timeout) writes it, and the workflow's next step writes it again (a no-op when it exists) so a
 * crash between the decision and its evidence loses nothing.
 */
function decisionEvidence(config: Config, grant: Grant, approval: Approval): EvidenceInput {
  const step = approval.step;
  const total = grant.steps?.length ?? 1;
  if (approval.status === 'expired') {
    return {
      type: 'approval_expired',
      key: `approval_expired#${step}`,
      actor: 'grantline',
      via: 'timeout',
      ...(approval.decidedAt ? { at: approval.decidedAt } : {}),
      summary: `denied: nobody decided within ${describeDuration(`PT${grant.approvalTimeoutSeconds}S`)} (step ${step + 1})`,
      details: { Approvers: approval.approvers.join(', '), 'Asked at': approval.requestedAt, 'Approved before the deadline': approvedSoFar(approval) },
      transitionTo: config.JIRA_STATUS_DENIED,
    };
  }
  const decision = approval.status === 'approved' ? 'approved' : 'denied';
  const who = approval.decidedBy ?? 'unknown';
  return {
    type: decision,
    key: `${decision}#${step}`,
    actor: who,
    via: approval.channel ?? 'slack',
    ...(approval.decidedAt ? { at: approval.decidedAt } : {}),
    summary: `${decision} by ${who} in ${approval.channel === 'jira' ? 'Jira' : 'Slack'} (step ${step + 1} of ${total})`,
    details: { Approver: who, Step: `${step + 1} of ${total}`, ...(decision === 'denied' ? { 'Approved before the denial': approvedSoFar(approval) } : {}) },
    // A denial at any step is final: the issue moves with it.
    ...(decision === 'denied' ? { transitionTo: config.JIRA_STATUS_DENIED } : {}),
  };
}

/**
 * Everything a closed step's evidence holds, each event written once (deterministic keys): a quorum
 * step's approvals one by one, then the decision (none for a quorum step closed as approved: its
 * approvals are the decision).
 */
function stepEvidence(config: Config, grant: Grant, approval: Approval): EvidenceInput[] {
  const approvals = (approval.approvals ?? []).map((_, index) => quorumApprovalEvidence(grant, approval, index));
  return isQuorum(approval) && approval.status === 'approved' ? approvals : [...approvals, decisionEvidence(config, grant, approval)];
}

async function recordStepEvidence(deps: LifecycleDeps, grant: Grant, approval: Approval): Promise<void> {
  const events = stepEvidence(deps.config, grant, approval);
  // Delivered together, after the last is recorded.
  for (const [i, event] of events.entries()) await recordEvidence(deps, grant, event, i < events.length - 1 ? { deliverNow: false } : {});
}

/**
 * One approval of a quorum step, from the approval record alone (so the click and the workflow's
 * next step write the same event): "approved by sam@x in Slack (1 of 2 needed, step 1 of 1)". Keyed
 * by approver: a retry writes nothing new, and each approver is in a step's list once.
 */
function quorumApprovalEvidence(grant: Grant, approval: Approval, index: number): EvidenceInput {
  const approvals = approval.approvals ?? [];
  const entry = approvals[index]!;
  const needed = approval.quorum ?? 1;
  const position = index + 1;
  const step = `${approval.step + 1} of ${grant.steps?.length ?? 1}`;
  // Two approvals at once when one more was needed are both kept: the later one is beyond the quorum.
  const count = position <= needed ? `${position} of ${needed} needed` : `${position} approvals, ${needed} needed`;
  return {
    type: 'approved',
    key: `approved#${approval.step}#${entry.by}`,
    actor: entry.by,
    via: entry.via,
    at: entry.at,
    summary: `approved by ${entry.by} in ${entry.via === 'jira' ? 'Jira' : 'Slack'} (${count}, step ${step})`,
    details: {
      Approver: entry.by,
      Step: step,
      Quorum: position <= needed ? `${position} of ${needed}` : `${needed} of ${needed} reached before this approval`,
      'Approved so far': approvals
        .slice(0, position)
        .map((a) => a.by)
        .join(', '),
    },
  };
}

/** "sam@x (1 of 2 needed)": a quorum step's approvals when it was denied or expired. */
function approvedSoFar(approval: Approval): string | undefined {
  const approvals = approval.approvals ?? [];
  if (approvals.length === 0) return undefined;
  return `${approvals.map((a) => a.by).join(', ')} (${approvals.length} of ${approval.quorum ?? 1} needed)`;
}

/** A pending quorum step with the approvals it needs: closing it was lost (a crash between the two writes). */
function quorumReached(approval: Approval): boolean {
  return isQuorum(approval) && approval.status === 'pending' && (approval.approvals?.length ?? 0) >= (approval.quorum ?? 1);
}

/**
 * Closes a pending quorum step that has its approvals, as approved by the approval that reached the
 * quorum. The closed record when this call closed it; undefined when there was nothing to close or
 * another writer (an approval, a deny, the timeout) closed it first.
 */
async function closeIfQuorumReached(store: Store, approval: Approval): Promise<Approval | undefined> {
  if (!quorumReached(approval)) return undefined;
  const quorum = approval.quorum ?? 1;
  return store.closeQuorum(approval.grantId, approval.step, quorum, approval.approvals![quorum - 1]!);
}

/** The approvals of a quorum step that still count once deactivated approvers are left out; the reason when they are too few. */
async function quorumNoLongerMet(idp: IdentityProvider, grant: Grant, approval: Approval): Promise<string | undefined> {
  const inactive: string[] = [];
  for (const { by } of approval.approvals ?? []) {
    const account = await currentAccount(idp, by);
    if (account && !account.active) inactive.push(by);
  }
  const counted = (approval.approvals?.length ?? 0) - inactive.length;
  const needed = approval.quorum ?? 1;
  if (counted >= needed) return undefined;
  return (
    `the approval${inactive.length === 1 ? '' : 's'} by ${inactive.join(', ')} (step ${approval.step + 1}) ${inactive.length === 1 ? 'does' : 'do'} not count: ` +
    `deactivated or suspended in ${grant.provider}; ${counted} of the ${needed} approvals needed remain`
  );
}

// ---------------------------------------------------------------- Decisions (Slack, or Jira through shared/jsm-approvals.ts)

export interface DecisionInput {
  grantId: string;
  step: number;
  decision: 'approved' | 'denied';
  /** Email of the person who clicked (resolved from Slack; undefined when Slack would not say). */
  clickerEmail: string | undefined;
  clickerRef: string;
  via: 'slack' | 'jira';
}

export type DecisionResult =
  | { outcome: 'recorded'; decision: 'approved' | 'denied' }
  | { outcome: 'refused'; reason: string }
  | { outcome: 'already_decided'; reason: string };

/**
 * A click on Approve/Deny. Only a named approver of the current step may decide, never the
 * requester or subject, never the same person twice in one chain; the first decision wins. Runs
 * inside Slack's 3-second window: it writes the ledger and completes the waiting task; the Jira
 * comment is delivered by the workflow's next step (or the periodic flush).
 * A quorum step (`{group, quorum: N}`) records each approval and closes as approved at the N-th
 * distinct approver; one deny by any of its approvers closes it as denied at once. With `chat`
 * (the Slack webhook; the Jira webhook carries no Slack client), an approval that leaves the step
 * waiting is shown on the step's Slack messages.
 */
export type DecideDeps = Pick<Services, 'store' | 'ticketing' | 'clock' | 'logger' | 'workflow' | 'config'> & { chat?: Chat };

export async function decide(deps: DecideDeps, input: DecisionInput): Promise<DecisionResult> {
  const grant = await deps.store.getGrant(input.grantId);
  const approval = grant ? await deps.store.getApproval(input.grantId, input.step) : undefined;
  if (!grant || !approval) return { outcome: 'refused', reason: 'this request is unknown to Grantline' };
  const now = deps.clock.now().toISOString();
  const who = input.clickerEmail; // normalised at the edge (shared/email.ts)

  const surface = input.via === 'jira' ? 'Jira' : 'Slack';
  const refusal = !who
    ? `Grantline cannot see your email address in ${surface}, so it cannot check that you are the approver`
    : who === grant.requester || who === grant.subject
      ? 'you cannot approve a request you made or that gives you access'
      : !approval.approvers.includes(who)
        ? `only ${approval.approvers.join(', ')} can decide this step`
        : (await earlierApprover(deps.store, grant, input.step, who))
          ? 'you approved an earlier step; a different person must decide this one'
          : // A request that moved on (failed, or closed by another step) takes no more decisions.
            approval.status === 'pending' && (grant.status !== 'pending_approval' || grant.currentStep !== input.step)
            ? `this request is no longer waiting for a decision (it is ${grant.status.replace('_', ' ')})`
            : undefined;
  // Every decision not taken is recorded (who, where, why): a refused one, and one that came after the step closed.
  const recordRefusal = (reason: string) =>
    recordEvidence(
      deps,
      grant,
      {
        type: 'approval_refused',
        key: `approval_refused#${input.step}#${input.clickerRef}#${now}`,
        actor: who ?? `${input.via} user ${input.clickerRef}`,
        via: input.via,
        at: now,
        summary: `refused a decision by ${who ?? `${surface} user ${input.clickerRef}`}: ${reason}`,
        details: { Attempted: input.decision, Step: String(input.step + 1) },
      },
      { deliverNow: false },
    );
  if (refusal) {
    await recordRefusal(refusal);
    return { outcome: 'refused', reason: refusal };
  }
  if (approval.status !== 'pending') {
    await recordRefusal(describeClosed(approval));
    return { outcome: 'already_decided', reason: describeClosed(approval) };
  }
  if (input.decision === 'approved' && isQuorum(approval)) {
    return approveQuorumStep(deps, grant, input.step, { by: who!, at: now, via: input.via }, recordRefusal);
  }
  const won = await deps.store.decideApproval(grant.id, input.step, { status: input.decision, by: who!, at: now, channel: input.via });
  if (!won) {
    const latest = await deps.store.getApproval(grant.id, input.step);
    const reason = latest ? describeClosed(latest) : 'this request was already decided';
    await recordRefusal(reason);
    return { outcome: 'already_decided', reason };
  }
  const finalApproval = input.decision === 'approved' && input.step + 1 >= (grant.steps?.length ?? 1);
  await recordEvidence(deps, grant, decisionEvidence(deps.config, grant, won), { deliverNow: false });
  const delivery = await deps.workflow.completeApproval(approval.taskToken, { decision: input.decision });
  if (delivery === 'expired') deps.logger.warn('approval recorded after the workflow task closed', { grantId: grant.id, step: input.step, finalApproval });
  return { outcome: 'recorded', decision: input.decision };
}

/**
 * An approval of a quorum step: appended to the step's approvals (each approver once), then, when
 * they reach the quorum, the closing write (conditioned on the step pending and the count), whose
 * winner alone completes the waiting task. Each approval is its own evidence event.
 */
async function approveQuorumStep(
  deps: DecideDeps,
  grant: Grant,
  step: number,
  entry: QuorumApproval,
  recordRefusal: (reason: string) => Promise<unknown>,
): Promise<DecisionResult> {
  const added = await deps.store.addQuorumApproval(grant.id, step, entry);
  if (added.outcome === 'missing') return { outcome: 'refused', reason: 'this request is unknown to Grantline' };
  if (added.outcome === 'duplicate') {
    // The same person again: refused. Their first approval may have been the last one needed, with
    // the closing write lost in a crash: it is closed now.
    const closed = await closeIfQuorumReached(deps.store, added.approval);
    if (closed) await releaseQuorum(deps, grant, closed);
    const reason = 'you already approved this step';
    await recordRefusal(reason);
    return { outcome: 'refused', reason };
  }
  if (added.outcome === 'closed') {
    const reason = describeClosed(added.approval);
    await recordRefusal(reason);
    return { outcome: 'already_decided', reason };
  }
  const closed = await closeIfQuorumReached(deps.store, added.approval);
  await recordEvidence(deps, grant, quorumApprovalEvidence(grant, added.approval, added.position - 1), { deliverNow: false });
  if (closed) await releaseQuorum(deps, grant, closed);
  else if (deps.chat) await showQuorumProgress({ ...deps, chat: deps.chat }, grant, step);
  return { outcome: 'recorded', decision: 'approved' };
}

/** The quorum step just closed by this caller: the evidence of every approval (no-ops when written), and the waiting task completed, once. */
async function releaseQuorum(deps: DecideDeps, grant: Grant, closed: Approval): Promise<void> {
  const approvals = closed.approvals ?? [];
  for (const index of approvals.keys()) await recordEvidence(deps, grant, quorumApprovalEvidence(grant, closed, index), { deliverNow: false });
  const delivery = await deps.workflow.completeApproval(closed.taskToken, { decision: 'approved' });
  if (delivery === 'expired') deps.logger.warn('quorum approval recorded after the workflow task closed', { grantId: grant.id, step: closed.step });
}

/**
 * After an approval that left a quorum step waiting, every message of the step shows who approved so
 * far, with the buttons kept for the others. Drawn from the ledger, then read again: an approval
 * recorded meanwhile is drawn again, and a step closed meanwhile gets its outcome, so a slower update
 * never leaves stale progress (or buttons) over the outcome. Best effort: Slack faults are logged.
 */
async function showQuorumProgress(deps: DecideDeps & { chat: Chat }, grant: Grant, step: number): Promise<void> {
  let shown = -1;
  for (let round = 0; round < 3; round++) {
    const approval = await deps.store.getApproval(grant.id, step);
    if (!approval) return;
    if (approval.status !== 'pending') {
      await showOutcome(deps, grant, approval);
      return;
    }
    const approvedBy = (approval.approvals ?? []).map((a) => a.by);
    if (approvedBy.length === shown) return;
    shown = approvedBy.length;
    const progress = { approvedBy, needed: approval.quorum ?? 1 };
    await Promise.all(
      approval.messages.map(async (message) => {
        try {
          if (message.bundle) await redrawBundleMessage(deps, message.bundle, message.approver);
          else await deps.chat.showProgress({ channel: message.channel, ts: message.ts }, promptFor(grant, step), progress);
        } catch (err) {
          deps.logger.warn('could not show the approvals so far on the Slack approval message', { grantId: grant.id, error: errorMessage(err) });
        }
      }),
    );
  }
}

/** Anyone who approved an earlier step (for a quorum step, any of its approvers) may not decide a later one. */
async function earlierApprover(store: Store, grant: Grant, step: number, who: string): Promise<boolean> {
  for (let s = 0; s < step; s++) {
    const earlier = await store.getApproval(grant.id, s);
    if (earlier?.decidedBy === who || earlier?.approvals?.some((a) => a.by === who)) return true;
  }
  return false;
}

function describeClosed(approval: Approval): string {
  if (approval.status === 'expired') return 'this request expired before anyone decided';
  if (approval.status === 'approved' && approval.approvals?.length)
    return `this request was already approved by ${approval.approvals.map((a) => a.by).join(', ')}`;
  return `this request was already ${approval.status} by ${approval.decidedBy}`;
}

// ---------------------------------------------------------------- Slack helpers

async function showOutcome(deps: Pick<Services, 'chat' | 'logger' | 'store' | 'clock'>, grant: Grant, approval: Approval): Promise<void> {
  const outcome = outcomeOf(approval);
  if (!outcome) return;
  for (const message of approval.messages) {
    try {
      if (message.bundle) await redrawBundleMessage(deps, message.bundle, message.approver);
      else await deps.chat.showOutcome({ channel: message.channel, ts: message.ts }, promptFor(grant, approval.step), outcome);
    } catch (err) {
      deps.logger.warn('could not update the Slack approval message', { grantId: grant.id, error: errorMessage(err) });
    }
  }
}
