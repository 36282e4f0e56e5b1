/**
 * The grant lifecycle: what each state-machine task does. Every function re-reads the ledger
 * before acting and changes state only through conditional writes, so a retried task, a late
 * webhook or a second scheduler firing finds the work done and does nothing twice.
 */
import { resolveRole } from './catalog/load.js';
import { describeDuration } from './duration.js';
import { errorMessage, NotFoundError, PermanentError } from './errors.js';
import { deliverPending, recordEvidence } from './evidence.js';
import { scheduleNameFor, type Approval, type ApprovalStepPlan, type Grant } from './grants/model.js';
import { expiryFor, planApprovals } from './policy.js';
import type { ApprovalOutcome, ApprovalPrompt, IdentityProvider } from './ports.js';
import type { Services } from './services.js';
import type { Store } from './store/store.js';

export type LifecycleDeps = Services;

/** What the state machine does next (the Choice state reads `next`). */
export interface NextStep {
  grantId: string;
  next: 'approval' | 'provision' | 'end';
  step: number;
  approvalTimeoutSeconds: number;
}

export async function loadGrant(store: Store, grantId: string): Promise<Grant> {
  const grant = await store.getGrant(grantId);
  if (!grant) throw new NotFoundError(`no grant ${grantId}`);
  return grant;
}

// ---------------------------------------------------------------- Advance

export async function advance(deps: LifecycleDeps, grantId: string): Promise<NextStep> {
  let grant = await loadGrant(deps.store, grantId);
  // Decisions are recorded during Slack's 3-second window without waiting on Jira: deliver them now.
  await deliverPending(deps, grantId);
  if (grant.status === 'requested') grant = await plan(deps, grant);
  if (grant.status === 'pending_approval') grant = await afterDecision(deps, grant);
  const next: NextStep['next'] =
    grant.status === 'pending_approval' ? 'approval' : grant.status === 'approved' || grant.status === 'active' ? 'provision' : 'end';
  const step = grant.currentStep ?? 0;
  return { grantId, next, step, approvalTimeoutSeconds: next === 'approval' ? await remainingApprovalSeconds(deps, grant, step) : grant.approvalTimeoutSeconds };
}

/** A re-driven wait keeps the original deadline instead of starting the clock again. */
async function remainingApprovalSeconds(deps: LifecycleDeps, grant: Grant, step: number): Promise<number> {
  const approval = await deps.store.getApproval(grant.id, step);
  if (!approval) return grant.approvalTimeoutSeconds;
  const deadline = new Date(approval.requestedAt).getTime() + grant.approvalTimeoutSeconds * 1000;
  return Math.max(1, Math.ceil((deadline - deps.clock.now().getTime()) / 1000));
}

async function plan(deps: LifecycleDeps, grant: Grant): Promise<Grant> {
  let managerFromIdp: string | undefined;
  if (grant.provider) {
    const user = await deps.idp(grant.provider).findUserByEmail(grant.subject);
    const ineligible = !user ? `${grant.subject} has no ${grant.provider} account` : !user.active ? `${grant.subject}'s ${grant.provider} account is deactivated or suspended` : undefined;
    if (ineligible) return deny(deps, grant, { reason: ineligible, by: 'policy', via: 'policy' });
    managerFromIdp = user?.managerEmail?.toLowerCase();
  }
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
    const updated = await deps.store.updateGrant(grant.id, ['requested'], { status: 'approved', decidedAt: now, decidedBy: 'policy', updatedAt: now });
    if (!updated) return loadGrant(deps.store, grant.id);
    await recordEvidence(deps, grant, {
      type: 'auto_approved',
      actor: 'policy',
      via: 'policy',
      at: now,
      summary: `approved automatically by policy`,
      details: { Reason: decision.reason },
    });
    return updated;
  }
  const steps = grant.provider ? await withoutInactiveApprovers(deps.idp(grant.provider), decision.steps) : decision.steps;
  const empty = steps.findIndex((s) => s.approvers.length === 0);
  if (empty >= 0) {
    return deny(deps, grant, { reason: `approval step ${empty + 1} has no eligible approver: ${steps[empty]!.reason}`, by: 'policy', via: 'policy' });
  }
  return (
    (await deps.store.updateGrant(grant.id, ['requested'], { status: 'pending_approval', steps, currentStep: 0, updatedAt: now })) ??
    loadGrant(deps.store, grant.id)
  );
}

/** A deactivated or suspended account cannot approve: it is dropped from its step, and the step says so. */
async function withoutInactiveApprovers(idp: IdentityProvider, steps: ApprovalStepPlan[]): Promise<ApprovalStepPlan[]> {
  const out: ApprovalStepPlan[] = [];
  for (const step of steps) {
    const inactive: string[] = [];
    for (const approver of step.approvers) {
      const user = await idp.findUserByEmail(approver);
      if (user && !user.active) inactive.push(approver);
    }
    out.push(
      inactive.length === 0
        ? step
        : { ...step, approvers: step.approvers.filter((a) => !inactive.includes(a)), reason: `${step.reason}; ${inactive.join(', ')} deactivated in ${idp.name}, so cannot approve` },
    );
  }
  return out;
}

/** Looks at the current step's approval: moves to the next step, to provisioning, or to denied. */
async function afterDecision(deps: LifecycleDeps, grant: Grant): Promise<Grant> {
  const step = grant.currentStep ?? 0;
  const approval = await deps.store.getApproval(grant.id, step);
  if (!approval || approval.status === 'pending') return grant;
  await showOutcome(deps, grant, approval);
  const now = deps.clock.now().toISOString();
  if (approval.status === 'approved') {
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
  // The denial evidence was written when the click or the timeout happened; here the grant closes.
  return finishDenied(deps, grant, reason, approval.decidedBy ?? 'grantline', approval.decidedAt ?? now);
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
  if (updated) await tellRequester(deps, grant, `Your request ${grant.issueKey} for ${grant.appName} ${grant.role} was denied: ${reason}.`);
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
    : { grantId: grant.id, step: input.step, status: 'pending', approvers: planStep.approvers, taskToken: input.taskToken, messages: [], requestedAt: now.toISOString() };
  if (existing) await deps.store.replaceApprovalToken(grant.id, input.step, input.taskToken);
  else if ((await deps.store.createApproval(approval)) === 'exists') await deps.store.replaceApprovalToken(grant.id, input.step, input.taskToken);

  const unreachable: string[] = [];
  if (approval.messages.length === 0) {
    const prompt = promptFor(grant, input.step);
    const messages: Approval['messages'] = [];
    for (const approver of approval.approvers) {
      const userId = await deps.chat.userIdByEmail(approver);
      if (!userId) {
        unreachable.push(approver);
        continue;
      }
      const ref = await deps.chat.postApprovalRequest(userId, prompt);
      messages.push({ approver, ...ref });
    }
    await deps.store.setApprovalMessages(grant.id, input.step, messages);
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
      'Not reachable in Slack': unreachable.join(', ') || undefined,
    },
    ...(input.step === 0 ? { transitionTo: deps.config.JIRA_STATUS_AWAITING_APPROVAL } : {}),
  });
}

/** The approval task timed out: the step is closed as expired (if no decision won the race) and the request is denied. */
export async function expireApproval(deps: LifecycleDeps, input: { grantId: string; step: number }): Promise<void> {
  const grant = await loadGrant(deps.store, input.grantId);
  const now = deps.clock.now().toISOString();
  const decided = await deps.store.decideApproval(grant.id, input.step, { status: 'expired', by: 'grantline', at: now, channel: 'timeout' });
  if (!decided) return;
  await recordEvidence(deps, grant, {
    type: 'approval_expired',
    key: `approval_expired#${input.step}`,
    actor: 'grantline',
    via: 'timeout',
    at: now,
    summary: `denied: nobody decided within ${describeDuration(`PT${grant.approvalTimeoutSeconds}S`)} (step ${input.step + 1})`,
    details: { Approvers: decided.approvers.join(', '), 'Asked at': decided.requestedAt },
    transitionTo: deps.config.JIRA_STATUS_DENIED,
  });
}

// ---------------------------------------------------------------- Decisions (Slack)

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
  const who = input.clickerEmail?.toLowerCase();

  const refusal = !who
    ? 'Grantline cannot see your email address in Slack, so it cannot check that you are the approver'
    : who === grant.requester || who === grant.subject
      ? 'you cannot approve a request you made or that gives you access'
      : !approval.approvers.includes(who)
        ? `only ${approval.approvers.join(', ')} can decide this step`
        : (await earlierApprover(deps.store, grant, input.step, who))
          ? 'you approved an earlier step; a different person must decide this one'
          : undefined;
  if (refusal) {
    await recordEvidence(deps, grant, {
      type: 'approval_refused',
      key: `approval_refused#${input.step}#${input.clickerRef}#${now}`,
      actor: who ?? `slack user ${input.clickerRef}`,
      via: input.via,
      at: now,
      summary: `refused a decision by ${who ?? `Slack user ${input.clickerRef}`}: ${refusal}`,
      details: { Attempted: input.decision, Step: String(input.step + 1) },
    }, { deliverNow: false });
    return { outcome: 'refused', reason: refusal };
  }
  if (approval.status !== 'pending') {
    return { outcome: 'already_decided', reason: describeClosed(approval) };
  }
  const won = await deps.store.decideApproval(grant.id, input.step, { status: input.decision, by: who!, at: now, channel: input.via });
  if (!won) {
    const latest = await deps.store.getApproval(grant.id, input.step);
    return { outcome: 'already_decided', reason: latest ? describeClosed(latest) : 'this request was already decided' };
  }
  const total = grant.steps?.length ?? 1;
  const finalApproval = input.decision === 'approved' && input.step + 1 >= total;
  await recordEvidence(deps, grant, {
    type: input.decision,
    key: `${input.decision}#${input.step}`,
    actor: who!,
    via: input.via,
    at: now,
    summary: `${input.decision} by ${who} in ${input.via === 'slack' ? 'Slack' : 'Jira'} (step ${input.step + 1} of ${total})`,
    details: { Approver: who, Step: `${input.step + 1} of ${total}` },
    // A denial at any step is final: the issue moves with it.
    ...(input.decision === 'denied' ? { transitionTo: deps.config.JIRA_STATUS_DENIED } : {}),
  }, { deliverNow: false });
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

// ---------------------------------------------------------------- Provision

export interface ProvisionResult {
  grantId: string;
  scheduleRevocation: boolean;
  expiresAt?: string;
}

export async function provision(deps: LifecycleDeps, grantId: string): Promise<ProvisionResult> {
  const grant = await loadGrant(deps.store, grantId);
  if (grant.status === 'active') return { grantId, scheduleRevocation: Boolean(grant.expiresAt), ...(grant.expiresAt ? { expiresAt: grant.expiresAt } : {}) };
  if (grant.status !== 'approved') throw new PermanentError(`grant ${grantId} is ${grant.status}, not approved: nothing to provision`);

  const grantedAt = deps.clock.now();
  const expiresAt = expiryFor(grant.duration, grantedAt)?.toISOString();
  const expiryText = expiresAt ?? 'never (permanent)';

  if (grant.manual || !grant.provider || !grant.groupId) {
    const updated = await deps.store.updateGrant(grantId, ['approved'], { status: 'active', grantedAt: grantedAt.toISOString(), ...(expiresAt ? { expiresAt } : {}), updatedAt: grantedAt.toISOString() });
    if (!updated) return provision(deps, grantId);
    await recordEvidence(deps, grant, {
      type: 'manual_task',
      actor: 'grantline',
      via: 'system',
      at: grantedAt.toISOString(),
      summary: `manual task for ${grant.appOwner}: give ${grant.subject} the ${grant.role} role in ${grant.appName}`,
      details: {
        Owner: grant.appOwner,
        Expires: expiryText,
        Revocation: 'NOT automatically revocable: the owner must remove the access; Grantline will ask them at expiry',
      },
    });
    await tellRequester(deps, grant, `Your request ${grant.issueKey} was approved; ${grant.appOwner} will set up ${grant.appName} ${grant.role} by hand.`);
    return { grantId, scheduleRevocation: Boolean(expiresAt), ...(expiresAt ? { expiresAt } : {}) };
  }

  const idp = deps.idp(grant.provider);
  const user = await idp.findUserByEmail(grant.subject);
  if (!user) throw new PermanentError(`${grant.subject} has no ${grant.provider} account`);
  if (!user.active) throw new PermanentError(`${grant.subject}'s ${grant.provider} account is deactivated or suspended`);
  const others = (await deps.store.activeGrantsIn(grant.provider, grant.groupId, grant.subject)).filter((g) => g.id !== grant.id);
  const wasMember = await idp.isMember(grant.groupId, user.id);
  // Membership that no Grantline grant explains came from elsewhere: this grant must never remove it.
  const preexisting = wasMember && others.length === 0;
  const answer = wasMember ? 'already_member' : await idp.addMember(grant.groupId, user.id);

  const updated = await deps.store.updateGrant(grantId, ['approved'], {
    status: 'active',
    grantedAt: grantedAt.toISOString(),
    ...(expiresAt ? { expiresAt } : {}),
    idpUserId: user.id,
    preexistingMembership: preexisting,
    updatedAt: grantedAt.toISOString(),
  });
  if (!updated) return provision(deps, grantId);
  await recordEvidence(deps, grant, {
    type: 'provisioned',
    actor: 'grantline',
    via: grant.provider,
    at: grantedAt.toISOString(),
    summary: wasMember
      ? `${grant.subject} was already in ${grant.provider} group ${grant.groupId}; access confirmed`
      : `added ${grant.subject} to ${grant.provider} group ${grant.groupId}`,
    details: {
      Group: `${grant.groupId} (${grant.provider})`,
      'Identity provider answer': answer,
      'Membership before this grant': preexisting ? 'yes, from outside Grantline: it will be kept at expiry' : others.length ? `yes, from grant ${others[0]!.id}` : 'no',
      Expires: expiryText,
    },
    transitionTo: deps.config.JIRA_STATUS_GRANTED,
  });
  await tellRequester(deps, grant, `Access granted: ${grant.subject} now has ${grant.appName} ${grant.role}${expiresAt ? ` until ${expiresAt}` : ''} (${grant.issueKey}).`);
  return { grantId, scheduleRevocation: Boolean(expiresAt), ...(expiresAt ? { expiresAt } : {}) };
}

// ---------------------------------------------------------------- Schedule and revoke

export async function scheduleRevocation(deps: LifecycleDeps, grantId: string): Promise<{ scheduled: boolean }> {
  const grant = await loadGrant(deps.store, grantId);
  if (grant.status !== 'active' || !grant.expiresAt) return { scheduled: false };
  if (new Date(grant.expiresAt) <= deps.clock.now()) {
    await revoke(deps, { grantId, reason: 'expired' });
    return { scheduled: false };
  }
  const result = await deps.scheduler.schedule(grantId, new Date(grant.expiresAt));
  await recordEvidence(deps, grant, {
    type: 'revocation_scheduled',
    actor: 'grantline',
    via: 'scheduler',
    summary: grant.manual
      ? `removal reminder for ${grant.appOwner} scheduled at ${grant.expiresAt}`
      : `revocation scheduled at ${grant.expiresAt}`,
    details: { 'Revoke at': grant.expiresAt, Schedule: scheduleNameFor(grantId), 'Schedule state': result },
  });
  return { scheduled: true };
}

export type RevokeReason = 'expired' | 'early_release' | 'access_review' | 'offboarding';

export interface RevokeResult {
  grantId: string;
  outcome: 'removed' | 'already_absent' | 'kept' | 'manual_task' | 'not_active';
}

/**
 * Ends a grant. The membership is removed unless another active grant or a membership that
 * existed before this grant still needs it. Runs any number of times: only the first does anything.
 */
export async function revoke(deps: LifecycleDeps, input: { grantId: string; reason: RevokeReason; actor?: string }): Promise<RevokeResult> {
  const grant = await loadGrant(deps.store, input.grantId);
  if (grant.status !== 'active') return { grantId: grant.id, outcome: 'not_active' };
  const now = deps.clock.now().toISOString();
  const actor = input.actor ?? (input.reason === 'expired' ? 'scheduler' : 'grantline');
  const why = input.reason.replace('_', ' ');

  let outcome: RevokeResult['outcome'];
  let keptBecause: string | undefined;
  if (grant.manual || !grant.provider || !grant.groupId) {
    outcome = 'manual_task';
  } else {
    const others = (await deps.store.activeGrantsIn(grant.provider, grant.groupId, grant.subject)).filter((g) => g.id !== grant.id);
    if (others.length > 0) keptBecause = `still needed by active grant ${others.map((g) => g.id).join(', ')}`;
    else if (grant.preexistingMembership) keptBecause = 'the membership existed before this grant, outside Grantline';
    if (keptBecause) outcome = 'kept';
    else {
      const idp = deps.idp(grant.provider);
      const userId = grant.idpUserId ?? (await idp.findUserByEmail(grant.subject))?.id;
      outcome = userId ? await idp.removeMember(grant.groupId, userId) : 'already_absent';
    }
  }
  const updated = await deps.store.updateGrant(grant.id, ['active'], {
    status: 'revoked',
    revokedAt: now,
    revokeReason: input.reason,
    ...(grant.expiresAt ? { scheduledRevocationAt: grant.expiresAt } : {}),
    updatedAt: now,
  });
  if (!updated) return { grantId: grant.id, outcome: 'not_active' };
  if (input.reason !== 'expired') await deps.scheduler.cancel(grant.id);

  const timing = { 'Scheduled for': grant.expiresAt, 'Revoked at': now, Reason: why };
  if (outcome === 'manual_task') {
    await recordEvidence(deps, grant, {
      type: 'manual_removal_task',
      actor,
      via: 'system',
      at: now,
      summary: `manual removal task for ${grant.appOwner}: remove ${grant.subject}'s ${grant.role} role in ${grant.appName} (${why})`,
      details: { ...timing, Owner: grant.appOwner, Note: 'not automatically revocable: Grantline cannot confirm the removal' },
      transitionTo: deps.config.JIRA_STATUS_REVOKED,
    });
  } else if (outcome === 'kept') {
    await recordEvidence(deps, grant, {
      type: 'revocation_kept_membership',
      actor,
      via: grant.provider!,
      at: now,
      summary: `grant ended (${why}); ${grant.subject} stays in ${grant.provider} group ${grant.groupId}: ${keptBecause}`,
      details: { ...timing, Group: `${grant.groupId} (${grant.provider})` },
      transitionTo: deps.config.JIRA_STATUS_REVOKED,
    });
  } else {
    await recordEvidence(deps, grant, {
      type: 'revoked',
      actor,
      via: grant.provider!,
      at: now,
      summary: `removed ${grant.subject} from ${grant.provider} group ${grant.groupId} (${why})`,
      details: { ...timing, Group: `${grant.groupId} (${grant.provider})`, 'Identity provider answer': outcome },
      transitionTo: deps.config.JIRA_STATUS_REVOKED,
    });
  }
  return { grantId: grant.id, outcome };
}

// ---------------------------------------------------------------- Failure

/** A task failed for good (retries exhausted or a permanent error): the grant is marked failed and the evidence says why. */
export async function recordFailure(deps: LifecycleDeps, input: { grantId: string; error: { Error?: string; Cause?: string } }): Promise<void> {
  const grant = await deps.store.getGrant(input.grantId);
  if (!grant) return;
  const cause = causeText(input.error);
  const now = deps.clock.now().toISOString();
  const updated = await deps.store.updateGrant(grant.id, ['requested', 'pending_approval', 'approved'], { status: 'failed', failure: cause, updatedAt: now });
  if (!updated) return;
  await recordEvidence(deps, grant, {
    type: 'provisioning_failed',
    actor: 'grantline',
    via: grant.provider ?? 'system',
    at: now,
    summary: `could not complete the request: ${cause}. Nothing was granted`,
    details: { Error: input.error.Error ?? 'unknown', 'State before failure': grant.status },
  });
  await tellRequester(deps, grant, `Your request ${grant.issueKey} could not be completed: ${cause}. Nothing was granted.`);
}

/** Step Functions passes a Lambda's error as JSON ({errorType, errorMessage, trace}); locally it is plain text. */
function causeText(error: { Error?: string; Cause?: string }): string {
  let cause = error.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') cause = parsed.errorMessage;
  } catch {
    /* plain text */
  }
  return (cause || error.Error || 'unknown error').replace(/[.\s]+$/, '');
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
      : { kind: approval.status === 'approved' ? 'approved' : 'denied', by: approval.decidedBy ?? '', at: approval.decidedAt ?? '' };
  for (const message of approval.messages) {
    try {
      await deps.chat.showOutcome({ channel: message.channel, ts: message.ts }, promptFor(grant, approval.step), outcome);
    } catch (err) {
      deps.logger.warn('could not update the Slack approval message', { grantId: grant.id, error: errorMessage(err) });
    }
  }
}

async function tellRequester(deps: Pick<LifecycleDeps, 'chat' | 'logger'>, grant: Grant, text: string): Promise<void> {
  try {
    const userId = await deps.chat.userIdByEmail(grant.requester);
    if (userId) await deps.chat.notify(userId, text);
  } catch (err) {
    deps.logger.warn('could not notify the requester in Slack', { grantId: grant.id, error: errorMessage(err) });
  }
}
