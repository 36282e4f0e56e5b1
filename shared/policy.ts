/**
 * Policy: turns a catalog role's approval chain into concrete approvers for one request, and
 * checks a request's duration. No one approves their own request: the requester and the subject
 * are removed from every step (segregation of duties, SOC 2 CC6 / ISO 27001 A.5.18).
 */
import type { ResolvedRole } from './catalog/catalog.js';
import { allowedDurations } from './catalog/catalog.js';
import type { Catalog } from './catalog/schema.js';
import { describeDuration, durationMs, normaliseDuration } from './duration.js';
import type { ApprovalStepPlan, ApprovalTimers } from './grants/model.js';

export type ApprovalPlan = { kind: 'auto'; reason: string } | { kind: 'steps'; steps: ApprovalStepPlan[] } | { kind: 'denied'; reason: string };

export interface PlanInput {
  requester: string;
  subject: string;
  /** The subject's manager as the identity provider knows it, if it does. */
  managerFromIdp?: string;
  providerLabel?: string;
}

export function planApprovals(catalog: Catalog, resolved: ResolvedRole, input: PlanInput): ApprovalPlan {
  const chain = resolved.role.approval;
  if (chain.length === 1 && chain[0] === 'auto') {
    return { kind: 'auto', reason: `${resolved.app.name} ${resolved.roleKey} is a ${resolved.role.risk}-risk role the catalog approves automatically` };
  }
  const excluded = new Set([input.requester.toLowerCase(), input.subject.toLowerCase()]);
  const eligible = (emails: string[]) => [...new Set(emails.map((e) => e.toLowerCase()))].filter((e) => !excluded.has(e));
  const steps: ApprovalStepPlan[] = [];
  for (const [index, spec] of chain.entries()) {
    let candidates: string[] = [];
    let reason: string;
    let kind: string;
    let quorum = 1;
    if (spec === 'manager') {
      kind = 'manager';
      const manager = input.managerFromIdp ?? catalog.managers[input.subject.toLowerCase()];
      const source = input.managerFromIdp ? (input.providerLabel ?? 'the identity provider') : 'the catalog';
      candidates = manager ? [manager] : [];
      reason = manager ? `manager of ${input.subject} (from ${source})` : `no manager is known for ${input.subject}`;
      if (manager && eligible(candidates).length === 0) {
        // A manager requesting for their own report: the app owner decides instead.
        candidates = [resolved.app.owner];
        reason = `the manager (${manager}) is the requester or subject, so the app owner decides`;
      }
    } else if (spec === 'app_owner') {
      kind = 'app_owner';
      candidates = [resolved.app.owner];
      reason = `owner of ${resolved.app.name}`;
    } else if (spec === 'auto') {
      continue; // rejected by catalog validation when combined with other steps
    } else if ('user' in spec) {
      kind = 'user';
      candidates = Array.isArray(spec.user) ? spec.user : [spec.user];
      reason = 'named approver in the catalog';
    } else {
      kind = 'group';
      candidates = catalog.approverGroups[spec.group] ?? [];
      reason = `member of approver group ${spec.group}`;
      quorum = spec.quorum ?? 1;
    }
    const approvers = eligible(candidates);
    if (approvers.length === 0) {
      return {
        kind: 'denied',
        reason: `approval step ${index + 1} (${kind}) has no eligible approver: ${reason}; the requester and the subject cannot approve`,
      };
    }
    if (approvers.length < quorum) {
      return {
        kind: 'denied',
        reason: `approval step ${index + 1} (${kind}) ${quorumShortfall(quorum, approvers)}: ${reason}; the requester and the subject cannot approve`,
      };
    }
    steps.push({ kind, approvers, reason, ...(quorum > 1 ? { quorum } : {}) });
  }
  return { kind: 'steps', steps };
}

/** A role's reminder and escalation (its own, else the catalog defaults), with the escalation's group resolved to its members. */
export function approvalTimersFor(catalog: Catalog, resolved: ResolvedRole): ApprovalTimers | undefined {
  const role = resolved.role;
  const timeout = durationMs(role.approvalTimeout ?? catalog.defaults.approvalTimeout)!;
  // A timer at or after the deadline would never fire: a default too long for this role's timeout is not used.
  const seconds = (text: string | undefined) => {
    const ms = text === undefined ? undefined : durationMs(text);
    return ms === undefined || ms >= timeout ? undefined : Math.round(ms / 1000);
  };
  const remindAfterSeconds = seconds(role.remindAfter ?? catalog.defaults.remindAfter);
  const escalateAfterSeconds = seconds(role.escalateAfter ?? catalog.defaults.escalateAfter);
  const target = role.escalateTo ?? catalog.defaults.escalateTo;
  const escalation =
    escalateAfterSeconds !== undefined && target !== undefined
      ? typeof target === 'string'
        ? { afterSeconds: escalateAfterSeconds, to: [target], why: 'escalation contact in the catalog' }
        : { afterSeconds: escalateAfterSeconds, to: catalog.approverGroups[target.group] ?? [], why: `member of escalation group ${target.group}` }
      : undefined;
  if (remindAfterSeconds === undefined && !escalation) return undefined;
  return { ...(remindAfterSeconds !== undefined ? { remindAfterSeconds } : {}), ...(escalation ? { escalation } : {}) };
}

/** "needs 3 distinct approvers but only 2 are eligible (a@x, b@x)": why a quorum step cannot be approved. */
export function quorumShortfall(quorum: number, approvers: string[]): string {
  const only = approvers.length === 1 ? 'only 1 is' : `only ${approvers.length} are`;
  return `needs ${quorum} distinct approvers but ${only} eligible (${approvers.join(', ')})`;
}

/** Checks a requested duration against the role; returns the problem in words, or undefined when allowed. */
export function durationProblem(resolved: ResolvedRole, requested: string): string | undefined {
  const ms = durationMs(requested);
  const label = `${resolved.app.name} ${resolved.roleKey}`;
  const allowed = allowedDurations(resolved.role);
  if (ms === undefined) return `duration "${requested}" is not an ISO-8601 duration; choose one of ${allowed.join(', ')}`;
  const max = durationMs(resolved.role.maxDuration)!;
  if (ms > max) {
    return `duration ${normaliseDuration(requested)} (${describeDuration(requested)}) is longer than the maximum ${resolved.role.maxDuration} for ${label}`;
  }
  if (!allowed.includes(normaliseDuration(requested))) {
    return `duration ${normaliseDuration(requested)} is not offered for ${label}; choose one of ${allowed.join(', ')}`;
  }
  return undefined;
}

export function expiryFor(duration: string, grantedAt: Date): Date | undefined {
  const ms = durationMs(duration);
  return ms === undefined || ms === Infinity ? undefined : new Date(grantedAt.getTime() + ms);
}
