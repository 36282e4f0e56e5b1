/**
 * Intake: a Jira issue (sent by an automation rule or a Jira webhook) becomes a grant request.
 * Authenticated first, validated completely against the catalog, recorded once (the grant id is
 * derived from the issue key), then handed to the workflow. A request that cannot succeed gets a
 * 4xx (so Jira does not retry it) and a comment telling the requester what to fix.
 */
import * as z from 'zod';
import { verifyJiraRequest } from './auth.js';
import { breakGlassFlag, breakGlassOf, incidentProblems, notBreakGlassRole, refusedEvidence } from './break-glass.js';
import { bundleRequestProblems, restartBundle, submitBundle } from './bundles.js';
import { findAppKey, resolveRole, type ResolvedRole } from './catalog/catalog.js';
import type { Catalog } from './catalog/schema.js';
import { required, type Config } from './config.js';
import { durationMs, normaliseDuration } from './duration.js';
import { MAX_EMAIL_LENGTH, normalizeEmail } from './email.js';
import { REQUEST_END_DATE_SOURCE, isCalendarDate } from './end-dates.js';
import { MalformedRequestError, ValidationError } from './errors.js';
import { deliverPending, recordEvidence, type EvidenceInput } from './evidence.js';
import { bundleItemId, grantIdFor, type Grant } from './grants/model.js';
import { json, parseJsonBody, type HttpRequest, type HttpResponse } from './http.js';
import { APPROVAL_COMPLETED_EVENT, receiveApprovalCompleted } from './jsm-approvals.js';
import { offboardReceiptKey } from './offboarding.js';
import { approvalTimersFor, durationProblem } from './policy.js';
import type { RequestFields } from './ports.js';
import type { Services } from './services.js';

export type IntakeDeps = Pick<Services, 'config' | 'clock' | 'logger' | 'store' | 'catalog' | 'ticketing' | 'workflow' | 'jobs'>;

const jiraPayload = z.object({
  webhookEvent: z.string().optional(),
  /** "offboard": the offboarding issue's automation rule (shared/offboarding.ts); absent for an access request. */
  action: z.enum(['offboard'], { error: 'action must be "offboard" (or left out for an access request)' }).optional(),
  issue: z.object({
    key: z.string().regex(/^[A-Z][A-Z0-9_]{0,30}-\d{1,10}$/, 'issue.key must be a Jira issue key such as ACCESS-12'),
    fields: z.record(z.string(), z.unknown()).default({}),
  }),
});

/**
 * The longest text accepted per request field. Every field is repeated in the Jira evidence, and
 * Jira Cloud refuses a comment over 32,767 characters: a request that cannot be recorded must be
 * refused at intake, not lost later.
 */
export const FIELD_LIMITS = {
  requester: MAX_EMAIL_LENGTH,
  subject: MAX_EMAIL_LENGTH,
  app: 200,
  role: 100,
  duration: 50,
  justification: 4_000,
  breakGlass: 50,
  incident: 100,
  bundle: 200,
} as const;

/** Real ADF nests a handful of levels; deeper input is refused before recursion can exhaust the stack. */
export const MAX_FIELD_DEPTH = 100;

export interface AccessRequest extends RequestFields {
  issueKey: string;
  source: Grant['source'];
  /** The request's own end date (JIRA_FIELD_END_DATE): YYYY-MM-DD, the last day; caps the expiry. */
  endDate?: string;
  /**
   * Break-glass (JIRA_FIELD_BREAK_GLASS, shared/break-glass.ts): the field's text, read by
   * breakGlassFlag ("yes", "Break-glass" … or empty, "no"). With it, `incident` (JIRA_FIELD_INCIDENT)
   * and the justification as the reason.
   */
  breakGlass?: string;
  incident?: string;
  /** An onboarding bundle's key or name (JIRA_FIELD_BUNDLE, shared/bundles.ts): the request is for its items, the app and role left empty. */
  bundle?: string;
}

export async function receiveJiraWebhook(deps: IntakeDeps, req: HttpRequest): Promise<HttpResponse> {
  verifyJiraRequest({ secret: required(deps.config, 'GRANTLINE_JIRA_WEBHOOK_SECRET'), headers: req.headers, rawBody: req.rawBody });
  const parsed = jiraPayload.safeParse(parseJsonBody(req.rawBody));
  if (!parsed.success) {
    throw new MalformedRequestError(`not a Jira issue payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
  }
  const { key: issueKey, fields } = parsed.data.issue;
  // A decision made in Jira Service Management (the "Approval completed" rule): not a new request.
  if (parsed.data.webhookEvent === APPROVAL_COMPLETED_EVENT) return receiveApprovalCompleted(deps, issueKey);
  if (parsed.data.action === 'offboard') return receiveOffboarding(deps, issueKey, fields);

  // A request naming a bundle is recorded as its items (the first one tells a replay); any other, under the issue's grant id.
  const namesBundle = Boolean(deps.config.JIRA_FIELD_BUNDLE && fieldText(fields[deps.config.JIRA_FIELD_BUNDLE], deps.config.JIRA_FIELD_BUNDLE));
  const existing = await deps.store.getGrant(namesBundle ? bundleItemId(grantIdFor(issueKey), 1) : grantIdFor(issueKey));
  if (existing?.bundle) {
    const items = await restartBundle(deps, existing.bundle);
    return json(200, { bundle: existing.bundle.key, grantIds: items.map((g) => g.id), duplicate: true });
  }
  if (existing) {
    // A retried or replayed webhook: make sure the workflow runs, start nothing new.
    await deps.workflow.start(existing.id);
    return json(200, { grantId: existing.id, status: existing.status, duplicate: true });
  }

  const requester = await requesterEmail(deps, fields);
  if (requester && deps.config.JIRA_EMAIL && normalizeEmail(requester) === normalizeEmail(deps.config.JIRA_EMAIL)) {
    // Filed by Grantline itself from the Slack form, without Modify Reporter: the automation rule
    // fires for it too, but only the filing job knows the real requester, and it records the grant.
    deps.logger.info('issue filed by Grantline from Slack: the filing job records it', { issueKey });
    return json(202, { grantId: grantIdFor(issueKey), status: 'filed_by_grantline' });
  }
  try {
    const read = (name: string) => fieldText(fields[name], name);
    const input = {
      issueKey,
      requester: requester ?? '',
      subject: read(deps.config.JIRA_FIELD_SUBJECT) || requester || '',
      app: read(deps.config.JIRA_FIELD_APP),
      role: read(deps.config.JIRA_FIELD_ROLE),
      duration: read(deps.config.JIRA_FIELD_DURATION),
      justification: read(deps.config.JIRA_FIELD_JUSTIFICATION),
      ...(deps.config.JIRA_FIELD_END_DATE ? { endDate: read(deps.config.JIRA_FIELD_END_DATE) } : {}),
      ...(deps.config.JIRA_FIELD_BREAK_GLASS ? { breakGlass: read(deps.config.JIRA_FIELD_BREAK_GLASS) } : {}),
      ...(deps.config.JIRA_FIELD_INCIDENT ? { incident: read(deps.config.JIRA_FIELD_INCIDENT) } : {}),
      ...(deps.config.JIRA_FIELD_BUNDLE ? { bundle: read(deps.config.JIRA_FIELD_BUNDLE) } : {}),
    };
    if (input.bundle) {
      const request = { ...input, bundle: input.bundle, source: 'jira' as const };
      const problems = bundleRequestProblems(deps.catalog, request, fieldNames(deps.config)).map((p) => p.message);
      if (problems.length > 0) throw new ValidationError(problems.length === 1 ? problems[0]! : `${problems.length} problems with the request`, problems);
      const items = await submitBundle(deps, request);
      return json(202, { bundle: items[0]!.bundle!.key, grantIds: items.map((g) => g.id), status: 'requested' });
    }
    const grant = await submitRequest(deps, { ...input, source: 'jira' }, fieldNames(deps.config));
    return json(202, { grantId: grant.id, status: grant.status });
  } catch (err) {
    if (err instanceof ValidationError) {
      await tellRequester(deps, issueKey, err.problems);
    }
    throw err;
  }
}

/**
 * An offboarding issue: the person leaving is in the subject field (JIRA_FIELD_SUBJECT). Receipted by
 * a conditional write (a replayed webhook hands nothing over twice), then handed over as a job: the
 * revocations call the identity providers, which this webhook never does.
 */
async function receiveOffboarding(deps: IntakeDeps, issueKey: string, fields: Record<string, unknown>): Promise<HttpResponse> {
  const given = fieldText(fields[deps.config.JIRA_FIELD_SUBJECT], deps.config.JIRA_FIELD_SUBJECT);
  const email = normalizeEmail(given);
  if (!email) {
    const problem = given
      ? `the person leaving "${given.slice(0, 100)}" (Jira field ${deps.config.JIRA_FIELD_SUBJECT}) is not an email address`
      : `the person leaving is missing: give their email in Jira field ${deps.config.JIRA_FIELD_SUBJECT}`;
    await tellRequester(deps, issueKey, [problem], 'Grantline could not start this offboarding', 'Nothing was changed. Correct the field and save the issue.');
    throw new ValidationError(problem, [problem]);
  }
  const job = { offboard: { email, issueKey, by: `jira:${issueKey}` } };
  const claim = await deps.store.commands.claim(offboardReceiptKey(issueKey), deps.clock.now().toISOString(), job);
  if (claim.status === 'seen') return json(200, { offboarding: email, issueKey, duplicate: true });
  try {
    await deps.jobs.offboard(job);
  } catch (err) {
    // Nothing was handed over: the webhook's retry may try again.
    await deps.store.commands.release(offboardReceiptKey(issueKey)).catch(() => undefined);
    throw err;
  }
  return json(202, { offboarding: email, issueKey });
}

/**
 * Validates a request against the catalog, records the grant and starts its workflow. Shared by
 * the Jira webhook and the Slack command (which files the Jira issue first).
 */
export async function submitRequest(deps: IntakeDeps, input: AccessRequest, labels: Record<string, string> = {}): Promise<Grant> {
  const problems = validateRequest(deps.catalog, input, labels);
  // A break-glass request that is refused (or one whose break-glass field cannot be read) is in the
  // ledger too, under the grant id the issue would have: an attempt to take access without approval.
  const breakGlass = breakGlassFlag(input.breakGlass);
  if (problems.length > 0) {
    if (breakGlass !== false) {
      await recordEvidence(
        deps,
        { id: grantIdFor(input.issueKey), issueKey: input.issueKey },
        refusedEvidence(input, problems, deps.clock.now().toISOString()),
      );
    }
    throw new ValidationError(problems.length === 1 ? problems[0]! : `${problems.length} problems with the request`, problems);
  }
  const appKey = findAppKey(deps.catalog, input.app)!;
  const resolved = resolveRole(deps.catalog, appKey, input.role.trim().toLowerCase())!;
  // A break-glass request may leave the duration out: it gets the role's (short) maximum.
  const duration = input.duration || (breakGlass ? resolved.role.maxDuration : '');
  const grant = newGrant(deps, { ...input, duration }, resolved, grantIdFor(input.issueKey), {
    ...(breakGlass ? { breakGlass: breakGlassOf(deps.catalog, input.incident ?? '') } : {}),
  });
  const created = await deps.store.createGrant(grant);
  if (created === 'exists') {
    const existing = (await deps.store.getGrant(grant.id))!;
    await deps.workflow.start(grant.id);
    return existing;
  }
  // The workflow starts before the comment is posted: the access waits on nothing Jira does.
  await recordEvidence(deps, grant, requestedEvidence(grant), { deliverNow: false });
  await deps.workflow.start(grant.id);
  await deliverPending(deps, grant.id);
  return grant;
}

/** The grant a validated request records (`extra`: break-glass, a bundle item), before any step of its workflow. */
export function newGrant(
  deps: Pick<IntakeDeps, 'catalog' | 'clock'>,
  input: AccessRequest,
  resolved: ResolvedRole,
  id: string,
  extra: Pick<Grant, 'breakGlass' | 'bundle'>,
): Grant {
  const now = deps.clock.now().toISOString();
  const timers = approvalTimersFor(deps.catalog, resolved);
  return {
    id,
    issueKey: input.issueKey,
    // validateRequest has checked both, so neither is undefined here.
    requester: normalizeEmail(input.requester)!,
    subject: normalizeEmail(input.subject)!,
    app: resolved.appKey,
    appName: resolved.app.name,
    role: resolved.roleKey,
    appOwner: resolved.app.owner,
    risk: resolved.role.risk,
    ...(resolved.provider ? { provider: resolved.provider } : {}),
    ...(resolved.groupId ? { groupId: resolved.groupId } : {}),
    manual: resolved.groupId === undefined,
    duration: normaliseDuration(input.duration),
    ...(input.endDate?.trim() ? { requestedEndDate: input.endDate.trim() } : {}),
    justification: input.justification.trim(),
    approvalTimeoutSeconds: Math.round(durationMs(resolved.role.approvalTimeout ?? deps.catalog.defaults.approvalTimeout)! / 1000),
    ...(timers ? { approvalTimers: timers } : {}),
    ...extra,
    status: 'requested',
    requestedAt: now,
    executionName: id,
    source: input.source,
    updatedAt: now,
  };
}

/**
 * The request's own evidence, built from the grant alone: intake writes it, and the workflow's first
 * step writes it again (a no-op when it exists), so a crash right after the grant was recorded loses nothing.
 */
export function requestedEvidence(grant: Grant): EvidenceInput {
  return {
    type: 'requested',
    actor: grant.requester,
    via: grant.source,
    at: grant.requestedAt,
    summary: grant.extends
      ? `${grant.requester} asked to extend ${grant.appName} ${grant.role} for ${grant.subject} by ${grant.extends.by}, until ${grant.extends.until} (${grant.id})`
      : `${grant.requester} requested ${grant.appName} ${grant.role} for ${grant.subject}`,
    details: {
      Subject: grant.subject,
      Requester: grant.requester,
      'App role': `${grant.appName} / ${grant.role} (${grant.risk} risk)`,
      Duration: grant.duration,
      'End date': grant.requestedEndDate ? `${grant.requestedEndDate} (${REQUEST_END_DATE_SOURCE}: the access ends with that day at the latest)` : undefined,
      Justification: grant.justification,
      'Break-glass': grant.breakGlass ? `yes, incident ${grant.breakGlass.incident}: approved by the requester, reviewed after the fact` : undefined,
      'Grants via': grant.manual ? 'manual task for the app owner (not automatically revocable)' : `${grant.provider} group ${grant.groupId}`,
    },
  };
}

export function validateRequest(catalog: Catalog, input: AccessRequest, labels: Record<string, string> = {}): string[] {
  return requestProblems(catalog, input, labels).map((p) => p.message);
}

/** The request's fields a problem can be about (the Slack form shows each problem under its field). */
export type RequestField = keyof typeof FIELD_LIMITS;

/** Everything wrong with a request, each problem with the field it is about. */
export function requestProblems(catalog: Catalog, input: AccessRequest, labels: Record<string, string> = {}): Array<{ field: RequestField; message: string }> {
  const problems: Array<{ field: RequestField; message: string }> = [];
  const problem = (field: RequestField, message: string) => problems.push({ field, message });
  const label = (name: string) => (labels[name] ? `${name} (Jira field ${labels[name]})` : name);
  // Over-long fields are reported alone: the other messages quote the values.
  for (const [name, limit] of Object.entries(FIELD_LIMITS)) {
    const length = (input[name as RequestField] ?? '').length;
    if (length > limit) problem(name as RequestField, `${label(name)} is too long: ${count(length)} characters, the limit is ${count(limit)}`);
  }
  if (problems.length > 0) return problems;
  if (!input.requester) problem('requester', 'the requester has no visible email address in Jira; ask an admin to make it visible to the Grantline account');
  else if (!normalizeEmail(input.requester)) problem('requester', `the requester "${input.requester}" is not an email address`);
  if (!input.subject) problem('subject', `${label('subject')} is missing: give the email of the person who needs access`);
  else if (!normalizeEmail(input.subject)) problem('subject', `${label('subject')} "${input.subject}" is not an email address`);
  const breakGlass = breakGlassFlag(input.breakGlass);
  if (breakGlass === undefined) {
    const shown = (input.breakGlass ?? '').trim().slice(0, 40);
    problem('breakGlass', `${label('break-glass')} "${shown}" is neither yes nor no: leave it empty for a request approved as usual`);
  }
  if (!input.justification.trim()) {
    problem(
      'justification',
      `${label('justification')} is missing: ${breakGlass ? 'a break-glass request must give its reason' : 'say why the access is needed'}`,
    );
  }
  if (breakGlass) for (const message of incidentProblems(catalog, input.incident, label('incident'))) problem('incident', message);
  const endDate = input.endDate?.trim();
  if (endDate && !isCalendarDate(endDate)) {
    // Reported under the duration: it is about how long the access lasts (the Slack form has no end date).
    const shown = endDate.length > 40 ? `${endDate.slice(0, 40)}…` : endDate;
    problem('duration', `${label('end date')} "${shown}" is not a date: give the last day as YYYY-MM-DD, e.g. 2026-03-31`);
  }
  if (!input.app) {
    problem('app', `${label('app')} is missing: choose one of ${appNames(catalog)}`);
    return problems;
  }
  const appKey = findAppKey(catalog, input.app);
  if (!appKey) {
    problem('app', `unknown app "${input.app}": choose one of ${appNames(catalog)}`);
    return problems;
  }
  const app = catalog.apps[appKey]!;
  const roles = Object.keys(app.roles).join(', ');
  if (!input.role) {
    problem('role', `${label('role')} is missing: ${app.name} offers ${roles}`);
    return problems;
  }
  const resolved = resolveRole(catalog, appKey, input.role.trim().toLowerCase());
  if (!resolved) {
    problem('role', `unknown role "${input.role}" for ${app.name}: choose one of ${roles}`);
    return problems;
  }
  if (breakGlass && !resolved.role.breakGlass) problem('role', notBreakGlassRole(catalog, resolved));
  // A break-glass request without a duration gets the role's maximum (submitRequest).
  if (!input.duration && breakGlass && resolved.role.breakGlass) return problems;
  if (!input.duration) problem('duration', `${label('duration')} is missing: ${app.name} ${resolved.roleKey} allows ${resolved.role.durations.join(', ')}`);
  else {
    const tooLong = durationProblem(resolved, input.duration);
    if (tooLong) problem('duration', tooLong);
  }
  return problems;
}

const count = (n: number) => n.toLocaleString('en-US');

function appNames(catalog: Catalog): string {
  return Object.values(catalog.apps)
    .map((a) => a.name)
    .join(', ');
}

function fieldNames(config: Config): Record<string, string> {
  return {
    subject: config.JIRA_FIELD_SUBJECT,
    app: config.JIRA_FIELD_APP,
    role: config.JIRA_FIELD_ROLE,
    duration: config.JIRA_FIELD_DURATION,
    justification: config.JIRA_FIELD_JUSTIFICATION,
    ...(config.JIRA_FIELD_END_DATE ? { 'end date': config.JIRA_FIELD_END_DATE } : {}),
    ...(config.JIRA_FIELD_BREAK_GLASS ? { 'break-glass': config.JIRA_FIELD_BREAK_GLASS } : {}),
    ...(config.JIRA_FIELD_INCIDENT ? { incident: config.JIRA_FIELD_INCIDENT } : {}),
    ...(config.JIRA_FIELD_BUNDLE ? { bundle: config.JIRA_FIELD_BUNDLE } : {}),
  };
}

async function requesterEmail(deps: IntakeDeps, fields: Record<string, unknown>): Promise<string | undefined> {
  const reporter = fields.reporter;
  if (!reporter || typeof reporter !== 'object') return undefined;
  const r = reporter as { emailAddress?: unknown; accountId?: unknown };
  // Returned as Jira has it: validateRequest checks it and submitRequest normalises it, once.
  if (typeof r.emailAddress === 'string' && r.emailAddress) return r.emailAddress;
  if (typeof r.accountId === 'string') return await deps.ticketing.userEmail(r.accountId);
  return undefined;
}

async function tellRequester(
  deps: IntakeDeps,
  issueKey: string,
  problems: string[],
  title = 'Grantline could not accept this access request',
  note = 'Nothing was granted. Correct the request fields and save the issue, or open a new request.',
): Promise<void> {
  try {
    await deps.ticketing.addComment(issueKey, {
      title,
      facts: problems.map((p, i) => ({ label: `Problem ${i + 1}`, value: p })),
      note,
      // For the requester, who must fix the request: public (problems name only the request's own fields and the catalog).
      internal: false,
    });
  } catch (err) {
    deps.logger.warn('could not comment on the rejected request', { issueKey, error: (err as Error).message });
  }
}

/**
 * Reads a Jira field value as text: plain strings, select options, users, arrays, and ADF documents.
 * Nesting deeper than MAX_FIELD_DEPTH is a 400 naming `field`, never a stack overflow (a 500 Jira retries).
 */
export function fieldText(value: unknown, field = 'a Jira field', depth = 0): string {
  if (depth > MAX_FIELD_DEPTH) throw tooDeep(field);
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value))
    return value
      .map((item) => fieldText(item, field, depth + 1))
      .filter(Boolean)
      .join(', ');
  if (typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (v.type === 'doc' && Array.isArray(v.content)) return adfText(v, field, depth).trim();
    for (const key of ['emailAddress', 'value', 'name', 'key']) {
      if (typeof v[key] === 'string') return (v[key] as string).trim();
    }
  }
  return '';
}

function adfText(node: unknown, field: string, depth: number): string {
  if (depth > MAX_FIELD_DEPTH) throw tooDeep(field);
  if (!node || typeof node !== 'object') return '';
  const n = node as { type?: unknown; text?: unknown; content?: unknown };
  if (typeof n.text === 'string') return n.text;
  if (n.type === 'hardBreak') return '\n';
  const inner = Array.isArray(n.content) ? n.content.map((child) => adfText(child, field, depth + 1)).join('') : '';
  return n.type === 'paragraph' || n.type === 'heading' ? `${inner}\n` : inner;
}

function tooDeep(field: string): MalformedRequestError {
  return new MalformedRequestError(`${field} is nested more than ${MAX_FIELD_DEPTH} levels deep; Grantline reads at most ${MAX_FIELD_DEPTH}`);
}
