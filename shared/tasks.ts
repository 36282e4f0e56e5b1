/**
 * The state machine's tasks: one entry per Task state of statemachines/access-request.asl.json.
 * Each validates its input at the edge and calls the core. The Lambda handlers in functions/ and
 * the local runtime's task overrides both run these, so what the tests prove is what runs in AWS.
 */
import * as z from 'zod';
import { MalformedRequestError } from './errors.js';
import { advance, APPROVAL_TIMERS, approvalTimer, requestApproval } from './approval.js';
import { openReview, reviewDue } from './break-glass.js';
import { provision, recordFailure } from './provisioning.js';
import { REVOKE_REASONS, revoke, scheduleRevocation } from './revocation.js';
import type { LifecycleDeps } from './services.js';

const grantId = z.string().regex(/^[0-9A-Za-z_.-]{1,80}$/, 'grantId must be a grant id');
const byGrant = z.object({ grantId });
const byStep = z.object({ grantId, step: z.number().int().min(0).max(20) });

export const taskInputs = {
  Advance: byGrant,
  RequestApproval: byStep.extend({ taskToken: z.string().min(1).max(2048), waitSeconds: z.number().int().positive().optional() }),
  ApprovalTimer: byStep.extend({ timer: z.enum(APPROVAL_TIMERS) }),
  Provision: byGrant,
  ScheduleRevocation: byGrant,
  /** OpenReview (phase open: schedule the revocation, open the review) and ReviewDue (phase due: the deadline) of a break-glass grant. */
  BreakGlassReview: byGrant.extend({ phase: z.enum(['open', 'due']) }),
  RecordFailure: byGrant.extend({ error: z.object({ Error: z.string().optional(), Cause: z.string().optional() }).default({}) }),
  /** Not a state: the scheduler's target (and early release / access review). */
  Revoke: byGrant.extend({
    reason: z.enum(REVOKE_REASONS).default('expired'),
    actor: z.string().optional(),
    /** A schedule's firing: the expiry it was made for (a moved expiry makes the firing stale). */
    expiry: z.iso.datetime().optional(),
  }),
} as const;

export type TaskName = keyof typeof taskInputs;

export function parseTaskInput<N extends TaskName>(name: N, input: unknown): z.output<(typeof taskInputs)[N]> {
  const parsed = taskInputs[name].safeParse(input);
  if (!parsed.success) {
    throw new MalformedRequestError(`${name} input is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data as z.output<(typeof taskInputs)[N]>;
}

export const tasks: { [N in TaskName]: (deps: LifecycleDeps, input: unknown) => Promise<unknown> } = {
  Advance: (deps, input) => advance(deps, parseTaskInput('Advance', input).grantId),
  RequestApproval: (deps, input) => requestApproval(deps, parseTaskInput('RequestApproval', input)),
  ApprovalTimer: (deps, input) => approvalTimer(deps, parseTaskInput('ApprovalTimer', input)),
  Provision: (deps, input) => provision(deps, parseTaskInput('Provision', input).grantId),
  ScheduleRevocation: (deps, input) => scheduleRevocation(deps, parseTaskInput('ScheduleRevocation', input).grantId),
  BreakGlassReview: (deps, input) => {
    const { grantId, phase } = parseTaskInput('BreakGlassReview', input);
    return phase === 'open' ? openReview(deps, grantId) : reviewDue(deps, grantId);
  },
  RecordFailure: (deps, input) => recordFailure(deps, parseTaskInput('RecordFailure', input)),
  Revoke: (deps, input) => revoke(deps, parseTaskInput('Revoke', input)),
};
