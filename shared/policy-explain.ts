/**
 * `grantline policy explain`: what the policy would do with a request, without changing anything.
 * The same functions the workflow runs (request checks, the subject's account read from the identity
 * provider, planApprovals, the end-date cap), read-only: who would be asked at each step and why, who
 * can never decide it, when an unanswered step is denied, and when the access would end.
 */
import { currentAccount, ineligibility } from './accounts.js';
import { findAppKey, resolveRole } from './catalog/catalog.js';
import type { Catalog } from './catalog/schema.js';
import { describeDuration, normaliseDuration } from './duration.js';
import { normalizeEmail } from './email.js';
import { cappedExpiry, describeExpiry, endDateProblem, subjectEndDate } from './end-dates.js';
import { authorizeAuditor } from './audit.js';
import { MalformedRequestError } from './errors.js';
import { json, type HttpRequest, type HttpResponse } from './http.js';
import { requestProblems } from './intake.js';
import { approvalTimersFor, planApprovals } from './policy.js';
import type { IdentityProvider, IdpUser, ProviderName } from './ports.js';
import type { Services } from './services.js';

export interface ExplainInput {
  requester: string;
  subject: string;
  app: string;
  role: string;
  /** Default: the role's first allowed duration. */
  duration?: string;
}

export interface Explanation {
  request: { requester: string; subject: string; app: string; role: string; duration: string };
  /** What makes the request invalid as filed (nothing else is explained then). */
  problems: string[];
  outcome: 'auto-approved' | 'approval' | 'denied' | 'invalid';
  /** Why auto-approved or denied. */
  reason?: string;
  steps: Array<{ step: number; kind: string; approvers: string[]; quorum: number; why: string }>;
  /** People who can never decide this request, and why. */
  neverApprovers: string[];
  /** Steps nobody will be able to approve (an approver of an earlier step may not approve a later one). */
  warnings: string[];
  /** When an unanswered step is denied, counted from when it is asked. */
  approvalTimeout?: string;
  /** The reminder and escalation of an unanswered step, counted from when it is asked. */
  reminder?: string;
  escalation?: string;
  /** The subject's account as the identity provider has it (undefined: no provider is configured or the role is manual). */
  account?: { provider: ProviderName; found: boolean; active?: boolean; manager?: string; endDate?: string };
  /** When access would end if granted now. */
  expires?: string;
  grantsVia?: string;
  /** Whether break-glass applies (a role with `breakGlass: true`): what it needs, who reviews it after the fact, and what happens unreviewed. */
  breakGlass?: string;
}

export async function explainPolicy(
  deps: { catalog: Catalog; idp?: (name: ProviderName) => IdentityProvider | undefined; now: Date },
  input: ExplainInput,
): Promise<Explanation> {
  const requester = normalizeEmail(input.requester) ?? input.requester;
  const subject = normalizeEmail(input.subject) ?? input.subject;
  const appKey = findAppKey(deps.catalog, input.app);
  const resolved = appKey ? resolveRole(deps.catalog, appKey, input.role.trim().toLowerCase()) : undefined;
  const duration = normaliseDuration(input.duration ?? resolved?.role.durations[0] ?? '');
  const request = { requester, subject, app: appKey ?? input.app, role: resolved?.roleKey ?? input.role, duration };
  const neverApprovers = [`${requester} (the requester)`, ...(subject !== requester ? [`${subject} (the person the access is for)`] : [])];
  const problems = requestProblems(deps.catalog, { ...request, issueKey: 'EXPLAIN-1', justification: 'explain', source: 'jira' }).map((p) => p.message);
  if (problems.length > 0 || !resolved) return { request, problems, outcome: 'invalid', steps: [], neverApprovers, warnings: [] };

  const idp = resolved.provider ? deps.idp?.(resolved.provider) : undefined;
  const user: IdpUser | undefined = idp ? await currentAccount(idp, subject) : undefined;
  const account = resolved.provider && idp ? { provider: resolved.provider, found: Boolean(user), ...accountFacts(user) } : undefined;
  const approvalTimeout = resolved.role.approvalTimeout ?? deps.catalog.defaults.approvalTimeout;
  const end = subjectEndDate(deps.catalog, { subject, provider: resolved.provider, requestedEndDate: undefined }, user?.endDate);
  const expiry = cappedExpiry(duration, deps.now, end.end);
  const base = {
    request,
    problems,
    neverApprovers,
    ...(account ? { account } : {}),
    expires: end.problem ?? describeExpiry(expiry, 'never (permanent)'),
    grantsVia: resolved.groupId ? `${resolved.provider} group ${resolved.groupId}` : 'a manual task for the app owner (not automatically revocable)',
    warnings: [] as string[],
    ...(resolved.role.breakGlass ? { breakGlass: breakGlassExplained(deps.catalog, resolved, requester, subject) } : {}),
  };

  // As planning does: an account that cannot be granted, or an end date that has passed, denies first.
  const refusal =
    (idp && resolved.provider ? ineligibility(user, subject, resolved.provider) : undefined) ??
    endDateProblem(deps.catalog, { subject, provider: resolved.provider, requestedEndDate: undefined }, user?.endDate, deps.now);
  if (refusal) return { ...base, outcome: 'denied', reason: refusal, steps: [] };
  const plan = planApprovals(deps.catalog, resolved, {
    requester,
    subject,
    ...(user?.managerEmail ? { managerFromIdp: normalizeEmail(user.managerEmail) ?? user.managerEmail } : {}),
    ...(resolved.provider ? { providerLabel: resolved.provider } : {}),
  });
  if (plan.kind === 'auto') return { ...base, outcome: 'auto-approved', reason: plan.reason, steps: [] };
  if (plan.kind === 'denied') return { ...base, outcome: 'denied', reason: plan.reason, steps: [] };
  // An approver of an earlier step may not decide a later one: a step whose every approver is the
  // sole approver of an earlier step can only time out.
  const warnings = plan.steps.flatMap((step, i) => {
    const soleEarlier = new Set(plan.steps.slice(0, i).flatMap((earlier) => (earlier.approvers.length === 1 ? earlier.approvers : [])));
    return step.approvers.every((a) => soleEarlier.has(a))
      ? [
          `step ${i + 1} can never be approved: ${step.approvers.join(', ')} must approve an earlier step, and an approver of an earlier step may not approve a later one; the request would be denied at the deadline`,
        ]
      : [];
  });
  const timers = approvalTimersFor(deps.catalog, resolved);
  const after = (seconds: number) => `${describeDuration(`PT${seconds}S`)} after each step is asked`;
  const escalation = timers?.escalation;
  const escalatedTo = escalation?.to.filter((e) => e !== requester && e !== subject);
  return {
    ...base,
    warnings,
    ...(timers?.remindAfterSeconds ? { reminder: `${after(timers.remindAfterSeconds)}, the approvers who have not decided are reminded in Slack` } : {}),
    ...(escalation && escalatedTo
      ? {
          escalation: `${after(escalation.afterSeconds)}, ${escalatedTo.length > 0 ? `${escalatedTo.join(', ')} (${escalation.why}) can decide it as well` : `nobody is added (${escalation.to.join(', ')}: the requester or the subject)`}`,
        }
      : {}),
    outcome: 'approval',
    steps: plan.steps.map((s, i) => ({ step: i + 1, kind: s.kind, approvers: s.approvers, quorum: s.quorum ?? 1, why: s.reason })),
    approvalTimeout: `${approvalTimeout} (${describeDuration(approvalTimeout)}) after each step is asked; then the request is denied`,
  };
}

/** "applies: with an incident reference matching … and a reason, eli@x may approve it …": break-glass as the workflow would run it. */
function breakGlassExplained(catalog: Catalog, resolved: NonNullable<ReturnType<typeof resolveRole>>, requester: string, subject: string): string {
  const settings = catalog.breakGlass;
  const groups = resolved.role.approval.flatMap((step) => (typeof step === 'object' && 'group' in step ? [step.group] : []));
  const reviewers = [...new Set(groups.flatMap((g) => catalog.approverGroups[g] ?? []))].filter((m) => m !== requester && m !== subject);
  if (reviewers.length === 0)
    return `does not apply: nobody in ${groups.join(', ')} but the requester and the subject could review it, so a break-glass request is denied`;
  return (
    `applies when the request says so: with an incident reference matching ${settings.referencePattern} and a reason, ${requester} may approve it and it starts at once ` +
    `(for at most ${resolved.role.maxDuration}); one of ${reviewers.join(', ')} must confirm it within ${settings.reviewWithin}` +
    `${settings.notifyChannel ? ` (Slack channel ${settings.notifyChannel} told)` : ''}, or it is flagged${settings.onUnreviewed === 'revoke' ? ' and revoked' : ''}`
  );
}

function accountFacts(user: IdpUser | undefined): { active?: boolean; manager?: string; endDate?: string } {
  if (!user) return {};
  return { active: user.active, ...(user.managerEmail ? { manager: user.managerEmail } : {}), ...(user.endDate ? { endDate: user.endDate } : {}) };
}

/** The explanation as a person reads it at a terminal. */
export function explanationText(e: Explanation): string {
  const lines = [`${e.request.requester} asks for ${e.request.app} ${e.request.role} for ${e.request.subject} (${e.request.duration})`];
  if (e.outcome === 'invalid') return [...lines, 'Refused as filed:', ...e.problems.map((p) => `  - ${p}`)].join('\n');
  if (e.account) {
    const a = e.account;
    lines.push(
      a.found
        ? `${e.request.subject} in ${a.provider}: ${a.active ? 'active' : 'DEACTIVATED'}; manager ${a.manager ?? 'not set'}; end date ${a.endDate ?? 'none'}`
        : `${e.request.subject} has no ${a.provider} account`,
    );
  }
  if (e.outcome === 'auto-approved') lines.push(`Approved automatically: ${e.reason}`);
  else if (e.outcome === 'denied') lines.push(`Denied: ${e.reason}`);
  else {
    for (const s of e.steps) {
      const who = s.quorum > 1 ? `${s.quorum} of ${s.approvers.join(', ')}` : s.approvers.length > 1 ? `one of ${s.approvers.join(', ')}` : s.approvers[0];
      lines.push(`Step ${s.step} (${s.kind}): ${who}; ${s.why}`);
    }
    if (e.reminder) lines.push(`Reminder: ${e.reminder}`);
    if (e.escalation) lines.push(`Escalation: ${e.escalation}`);
    if (e.approvalTimeout) lines.push(`Unanswered: ${e.approvalTimeout}`);
    for (const w of e.warnings) lines.push(`WARNING: ${w}`);
  }
  if (e.breakGlass) lines.push(`Break-glass: ${e.breakGlass}`);
  lines.push(`Never an approver: ${e.neverApprovers.join(', ')}`);
  if (e.outcome !== 'denied') {
    lines.push(`Grants via: ${e.grantsVia}`);
    lines.push(`Expires if granted now: ${e.expires}`);
  }
  return lines.join('\n');
}

/**
 * GET /policy/explain?requester=&subject=&app=&role=[&duration=] (audit auth): the explanation as
 * JSON, with the text the CLI prints. Reads the subject's account from the identity provider and
 * changes nothing. An invalid request is explained (200, outcome "invalid"); a missing parameter is a 400.
 */
export async function getPolicyExplain(deps: Pick<Services, 'config' | 'catalog' | 'idp' | 'clock'>, req: HttpRequest): Promise<HttpResponse> {
  authorizeAuditor(deps.config, req);
  const missing = (['requester', 'subject', 'app', 'role'] as const).filter((k) => !req.query[k]?.trim());
  if (missing.length > 0)
    throw new MalformedRequestError(`policy explain needs ${missing.join(', ')} (query parameters requester, subject, app, role, and optionally duration)`);
  const q = req.query as Record<'requester' | 'subject' | 'app' | 'role', string> & { duration?: string };
  const explanation = await explainPolicy(
    { catalog: deps.catalog, idp: (name) => deps.idp(name), now: deps.clock.now() },
    { requester: q.requester, subject: q.subject, app: q.app, role: q.role, ...(q.duration?.trim() ? { duration: q.duration.trim() } : {}) },
  );
  return json(200, { ...explanation, text: explanationText(explanation) });
}
