/**
 * Approval: from a recorded request to a decision. Plans the approval steps from the catalog,
 * asks each step's approvers in Slack (and in Jira Service Management with JIRA_FIELD_APPROVERS:
 * shared/jsm-approvals.ts), takes their decisions (only a named approver of the current
 * step, never the requester or subject, the first decision wins) and closes the request as approved
 * or denied. Every function re-reads the ledger and changes state only by conditional writes.
 */
import { currentAccount, ineligibility } from './accounts.js';
import { resolveRole } from './catalog/catalog.js';
import type { Config } from './config.js';
import { describeDuration } from './duration.js';
import { normalizeEmail } from './email.js';
import { errorMessage, PermanentError, RetryableError } from './errors.js';
import { deliverPending, recordEvidence, type EvidenceInput } from './evidence.js';
import { loadGrant } from './grants/load.js';
import { requestedEvidence } from './intake.js';
import { answerInJira, approversEvidence, putApproversOnIssue } from './jsm-approvals.js';
import type { Approval, ApprovalStepPlan, Grant } from './grants/model.js';
import { tellOutcome } from './notify.js';
import { planApprovals } from './policy.js';
import type { ApprovalOutcome, ApprovalPrompt, IdentityProvider } from './ports.js';
import type { LifecycleDeps, Services } from './services.js';
import type { Store } from './store/store.js';

/** What the state machine does next (the Choice state reads `next`). */
export interface NextStep {
  grantId: string;
  next: 'approval' | 'provision' | 'end';
  step: number;
  approvalTimeoutSeconds: number;
}

// ---------------------------------------------------------------- Advance

export async function advance(deps: LifecycleDeps, grantId: string): Promise<NextStep> {
  let grant = await loadGrant(deps.store, grantId);
  if (grant.status === 'requested') grant = await plan(deps, grant);
  if (grant.status === 'pending_approval') grant = await afterDecision(deps, grant);
  const next: NextStep['next'] =
    grant.status === 'pending_approval' ? 'approval' : grant.status === 'approved' || grant.status === 'active' ? 'provision' : 'end';
  // What was recorded so far (the request, a Slack decision recorded within Slack's 3 seconds, an
  // automatic approval) reaches Jira now, or, on the way to the access, with the provisioning's own
  // evidence right after the add: the access waits on nothing Jira does.
  if (next !== 'provision') await deliverPending(deps, grantId);
  const step = grant.currentStep ?? 0;
  return {
    grantId,
    next,
    step,
    approvalTimeoutSeconds: next === 'approval' ? await remainingApprovalSeconds(deps, grant, step) : grant.approvalTimeoutSeconds,
  };
}

/** A re-driven wait keeps the original deadline instead of starting the clock again. */
async function remainingApprovalSeconds(deps: LifecycleDeps, grant: Grant, step: number): Promise<number> {
  const approval = await deps.store.getApproval(grant.id, step);
  if (!approval) return grant.approvalTimeoutSeconds;
  const deadline = new Date(approval.requestedAt).getTime() + grant.approvalTimeoutSeconds * 1000;
  return Math.max(1, Math.ceil((deadline - deps.clock.now().getTime()) / 1000));
}

async function plan(deps: LifecycleDeps, grant: Grant): Promise<Grant> {
  await recordEvidence(deps, grant, requestedEvidence(grant), { deliverNow: false });
  let managerFromIdp: string | undefined;
  let idpUserId: string | undefined;
  if (grant.provider) {
    const user = await currentAccount(deps.idp(grant.provider), grant.subject);
    const ineligible = ineligibility(user, grant.subject, grant.provider);
    if (ineligible) return deny(deps, grant, { reason: ineligible, by: 'policy', via: 'policy' });
    managerFromIdp = normalizeEmail(user?.managerEmail);
    idpUserId = user?.id;
  }
  // The account's id goes with the grant, so provisioning reads it by id without searching again.
  const account = idpUserId ? { idpUserId } : {};
  const resolved = resolveRole(deps.catalog, grant.app, grant.role);
  if (!resolved) return deny(deps, grant, { reason: `${grant.app} ${grant.role} is no longer in the catalog`, by: 'policy', via: 'policy' });
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
  await recordEvidence(deps, grant, decisionEvidence(deps.config, grant, approval));
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
  const existing = await deps.store.getApproval(grant.id, input.step);
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
  const deadline = new Date(new Date(approval.requestedAt).getTime() + grant.approvalTimeoutSeconds * 1000).toISOString();
  await recordEvidence(deps, grant, {
    type: 'approval_requested',
    key: `approval_requested#${input.step}`,
    actor: 'grantline',
    via: 'slack',
    at: approval.requestedAt,
    summary: `approval asked of ${approval.approvers.join(', ')} (step ${input.step + 1} of ${grant.steps?.length ?? 1})`,
    details: {
      Approvers: approval.approvers.join(', '),
      Why: planStep.reason,
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
        messages.push({ approver, ...(await deps.chat.postApprovalRequest(userId, prompt)) });
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

/** The approval task timed out: the step is closed as expired (if no decision won the race) and the request is denied. */
export async function expireApproval(deps: LifecycleDeps, input: { grantId: string; step: number }): Promise<void> {
  const grant = await loadGrant(deps.store, input.grantId);
  const now = deps.clock.now().toISOString();
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
      details: { Approvers: approval.approvers.join(', '), 'Asked at': approval.requestedAt },
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
    details: { Approver: who, Step: `${step + 1} of ${total}` },
    // A denial at any step is final: the issue moves with it.
    ...(decision === 'denied' ? { transitionTo: config.JIRA_STATUS_DENIED } : {}),
  };
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
 */
export type DecideDeps = Pick<Services, 'store' | 'ticketing' | 'clock' | 'logger' | 'workflow' | 'config'>;

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

async function earlierApprover(store: Store, grant: Grant, step: number, who: string): Promise<boolean> {
  for (let s = 0; s < step; s++) {
    if ((await store.getApproval(grant.id, s))?.decidedBy === who) return true;
  }
  return false;
}

function describeClosed(approval: Approval): string {
  if (approval.status === 'expired') return 'this request expired before anyone decided';
  return `this request was already ${approval.status} by ${approval.decidedBy}`;
}

// ---------------------------------------------------------------- Slack helpers

function promptFor(grant: Grant, step: number): ApprovalPrompt {
  return {
    grantId: grant.id,
    step,
    issueKey: grant.issueKey,
    requesterEmail: grant.requester,
    subjectEmail: grant.subject,
    app: grant.appName,
    role: grant.role,
    duration: grant.duration,
    justification: grant.justification,
    risk: grant.risk,
  };
}

async function showOutcome(deps: LifecycleDeps, grant: Grant, approval: Approval): Promise<void> {
  const outcome: ApprovalOutcome =
    approval.status === 'expired'
      ? { kind: 'expired', at: approval.decidedAt ?? '' }
      : {
          kind: approval.status === 'approved' ? 'approved' : 'denied',
          by: approval.decidedBy ?? '',
          at: approval.decidedAt ?? '',
          ...(approval.channel === 'jira' ? { via: 'jira' as const } : {}),
        };
  for (const message of approval.messages) {
    try {
      await deps.chat.showOutcome({ channel: message.channel, ts: message.ts }, promptFor(grant, approval.step), outcome);
    } catch (err) {
      deps.logger.warn('could not update the Slack approval message', { grantId: grant.id, error: errorMessage(err) });
    }
  }
}
