/**
 * Extending active time-bound access. An extension request is a grant of its own — same issue, app,
 * role and person, `extends` naming the grant — so it goes through the role's policy again with the
 * workflow every request runs (approval steps, quorum, reminders, timeout, evidence on the issue). Its
 * Provision moves the extended grant's expiry and updates that grant's one revocation schedule
 * (never a second schedule), with no gap: the access is never removed and added again.
 *
 * - Who may ask: the person the access is for, or the person who asked for it.
 * - How far: the new end may not pass the grant's start plus the role's `maxTotal` (default
 *   `maxDuration`); a later end is refused, recorded on the issue.
 * - One at a time: a second request while one waits is refused.
 * - A race with the end of the access: a revocation marks the grant as ending before it removes
 *   anything (write-ahead), the extension moves the expiry only of a grant not ending and whose expiry
 *   is as it was when asked (both conditional writes): whichever comes first wins, and an extension
 *   approved after the access ended fails with that reason. A schedule that fires at the old time
 *   after an extension marks nothing, so revokes nothing.
 */
import * as z from 'zod';
import { authorizeAuditor } from './audit.js';
import { resolveRole } from './catalog/catalog.js';
import { describeDuration, durationMs, normaliseDuration } from './duration.js';
import { normalizeEmail } from './email.js';
import { errorMessage, MalformedRequestError, NotFoundError, PermanentError } from './errors.js';
import { deliverPending, recordEvidence } from './evidence.js';
import { loadGrant } from './grants/load.js';
import type { Grant } from './grants/model.js';
import { json, parseJsonBody, type HttpRequest, type HttpResponse } from './http.js';
import { tellOutcome } from './notify.js';
import { approvalTimersFor } from './policy.js';
import type { Services } from './services.js';

export type ExtensionDeps = Pick<Services, 'store' | 'ticketing' | 'clock' | 'logger' | 'config' | 'catalog' | 'workflow'>;

export interface ExtensionInput {
  grantId: string;
  /** How much longer, ISO-8601 (PT6H). */
  by: string;
  /** Who asks (an email, normalised at the edge). */
  requester: string;
  via: 'slack' | 'api';
  reason?: string;
}

export type ExtensionResult = { outcome: 'requested'; extensionId: string; until: string } | { outcome: 'refused'; reason: string };

/** Records an extension request and starts its workflow; a refusal is recorded on the grant's issue and changes nothing. */
export async function requestExtension(deps: ExtensionDeps, input: ExtensionInput): Promise<ExtensionResult> {
  const grant = await deps.store.getGrant(input.grantId);
  if (!grant || grant.extends) throw new NotFoundError(`no grant ${input.grantId}`);
  const at = deps.clock.now();
  const planned = await extensionProblem(deps, grant, input, at);
  if ('problem' in planned) {
    await recordEvidence(
      deps,
      grant,
      {
        type: 'extension_refused',
        key: `extension_refused#${at.toISOString()}#${input.requester}#${normaliseDuration(input.by)}`,
        actor: input.requester,
        via: input.via,
        at: at.toISOString(),
        summary: `refused an extension by ${normaliseDuration(input.by)} asked by ${input.requester}: ${planned.problem}`,
        details: { Reason: planned.problem, Asked: `${input.by} more` },
      },
      { deliverNow: false },
    );
    return { outcome: 'refused', reason: planned.problem };
  }
  const count = (grant.extensions?.length ?? 0) + 1;
  const id = `${grant.id}-ext${count}`;
  if (!(await deps.store.addExtension(grant.id, id, count))) return { outcome: 'refused', reason: 'another extension was asked for at the same moment' };
  const resolved = resolveRole(deps.catalog, grant.app, grant.role);
  const timers = resolved ? approvalTimersFor(deps.catalog, resolved) : undefined;
  const by = normaliseDuration(input.by);
  const extension: Grant = {
    ...pick(grant),
    id,
    requester: input.requester,
    duration: by,
    justification: `extend ${grant.issueKey} by ${describeDuration(by)}, until ${planned.until}${input.reason?.trim() ? `: ${input.reason.trim()}` : ''}`,
    approvalTimeoutSeconds: Math.round(durationMs(resolved?.role.approvalTimeout ?? deps.catalog.defaults.approvalTimeout)! / 1000),
    ...(timers ? { approvalTimers: timers } : {}),
    extends: { grantId: grant.id, by, from: grant.expiresAt!, until: planned.until },
    status: 'requested',
    requestedAt: at.toISOString(),
    executionName: id,
    source: input.via === 'slack' ? 'slack' : 'jira',
    updatedAt: at.toISOString(),
  };
  await deps.store.createGrant(extension);
  await recordEvidence(
    deps,
    grant,
    {
      type: 'extension_requested',
      key: `extension_requested#${id}`,
      actor: input.requester,
      via: input.via,
      at: at.toISOString(),
      summary: `${input.requester} asked to extend the access by ${describeDuration(by)}, until ${planned.until} (${id}): it goes through the role's approval again`,
      details: { 'Ends now': grant.expiresAt, 'Would end': planned.until, 'Latest end allowed': planned.limit, Reason: input.reason?.trim() || undefined },
    },
    { deliverNow: false },
  );
  await deps.workflow.start(id);
  return { outcome: 'requested', extensionId: id, until: planned.until };
}

async function extensionProblem(
  deps: ExtensionDeps,
  grant: Grant,
  input: ExtensionInput,
  at: Date,
): Promise<{ problem: string } | { until: string; limit: string }> {
  if (input.requester !== grant.subject && input.requester !== grant.requester) {
    return {
      problem: `only ${grant.subject}, whose access it is${grant.requester === grant.subject ? '' : `, or ${grant.requester}, who asked for it`}, can ask to extend it`,
    };
  }
  if (grant.status !== 'active' || grant.endingAt) return { problem: `the access is not active (it is ${grant.status.replace('_', ' ')})` };
  if (!grant.expiresAt || !grant.grantedAt) return { problem: 'the access has no end to extend (it is permanent)' };
  const ms = durationMs(input.by);
  if (ms === undefined || ms === Infinity || ms <= 0) return { problem: `"${input.by}" is not a length of time such as PT6H` };
  const resolved = resolveRole(deps.catalog, grant.app, grant.role);
  if (!resolved) return { problem: `${grant.app} ${grant.role} is no longer in the catalog` };
  const maxTotal = resolved.role.maxTotal ?? resolved.role.maxDuration;
  const totalMs = durationMs(maxTotal)!;
  const until = new Date(new Date(grant.expiresAt).getTime() + ms);
  const limit = totalMs === Infinity ? undefined : new Date(new Date(grant.grantedAt).getTime() + totalMs);
  if (limit && until > limit) {
    return {
      problem: `it would end at ${until.toISOString()}, past the maximum ${maxTotal} (${describeDuration(maxTotal)}) counted from the start ${grant.grantedAt}, that is ${limit.toISOString()}`,
    };
  }
  if (until <= at) return { problem: 'the new end would already be past' };
  const pending = grant.extensions?.at(-1);
  const last = pending ? await deps.store.getGrant(pending) : undefined;
  if (last && ['requested', 'pending_approval', 'approved'].includes(last.status))
    return { problem: `an extension (${last.id}) is already waiting for approval` };
  return { until: until.toISOString(), limit: limit?.toISOString() ?? 'none (the role allows permanent access)' };
}

/** The fields an extension request shares with the grant it extends. */
function pick(
  grant: Grant,
): Omit<
  Grant,
  'id' | 'requester' | 'duration' | 'justification' | 'approvalTimeoutSeconds' | 'status' | 'requestedAt' | 'executionName' | 'source' | 'updatedAt'
> {
  const { issueKey, subject, app, appName, role, appOwner, risk, provider, groupId, manual, requestedEndDate } = grant;
  return {
    issueKey,
    subject,
    app,
    appName,
    role,
    appOwner,
    risk,
    manual,
    ...(provider ? { provider } : {}),
    ...(groupId ? { groupId } : {}),
    ...(requestedEndDate ? { requestedEndDate } : {}),
  };
}

/**
 * The Provision of an approved extension request: the extended grant's expiry moves (conditional
 * write), its one schedule moves with it (UpdateSchedule), the issue gets "extended until …", and the
 * request ends as 'extended'. Each step is safe to retry: a retry finds the expiry already moved.
 */
export async function applyExtension(
  deps: Pick<Services, 'store' | 'ticketing' | 'clock' | 'logger' | 'config' | 'chat' | 'scheduler'>,
  extension: Grant,
): Promise<void> {
  const ext = extension.extends!;
  const at = deps.clock.now().toISOString();
  if (!(await deps.store.extendGrant(ext.grantId, ext.from, ext.until, at))) {
    const current = await loadGrant(deps.store, ext.grantId);
    if (current.status !== 'active' || current.expiresAt !== ext.until) {
      throw new PermanentError(
        current.status !== 'active' || current.endingAt
          ? `the access ended before the extension was approved (${current.status === 'active' ? 'its revocation had begun' : current.status})`
          : `the access's end moved to ${current.expiresAt} meanwhile; ask again`,
      );
    }
  }
  await deps.scheduler.reschedule(ext.grantId, new Date(ext.until));
  const grant = await loadGrant(deps.store, ext.grantId);
  await recordEvidence(deps, grant, {
    type: 'extended',
    key: `extended#${extension.id}`,
    actor: extension.decidedBy ?? 'policy',
    via: 'policy',
    at,
    summary: `extended until ${ext.until} (${describeDuration(ext.by)} more, asked by ${extension.requester}, approved by ${extension.decidedBy ?? 'policy'}); the revocation schedule moved with it`,
    details: { 'Ended before': ext.from, 'Now ends': ext.until, Extension: extension.id, 'Approved by': extension.decidedBy },
  });
  const done = await deps.store.updateGrant(extension.id, ['approved'], { status: 'extended', grantedAt: at, expiresAt: ext.until, updatedAt: at });
  if (done) await tellOutcome(deps, grant, `Your access to ${grant.appName} ${grant.role} (${grant.issueKey}) was extended: it now ends at ${ext.until}.`);
}

const extendBody = z.strictObject({
  by: z.string().min(1).max(40),
  requester: z.string().max(320),
  reason: z.string().max(2000).optional(),
});

/**
 * POST /grants/{id}/extend {"by": "PT6H", "requester": email, "reason"?} (audit auth; `grantline
 * extend`): 202 with the extension request's id, or 422 with why it was refused (recorded on the issue).
 */
export async function postExtend(deps: ExtensionDeps, req: HttpRequest): Promise<HttpResponse> {
  authorizeAuditor(deps.config, req);
  const parsed = extendBody.safeParse(parseJsonBody(req.rawBody));
  const requester = parsed.success ? normalizeEmail(parsed.data.requester) : undefined;
  if (!parsed.success || !requester) {
    throw new MalformedRequestError('extend needs {"by": "<ISO-8601 duration, e.g. PT6H>", "requester": "<email of who asks>", "reason": "…" (optional)}');
  }
  const result = await requestExtension(deps, {
    grantId: req.pathParams.id ?? '',
    by: parsed.data.by,
    requester,
    via: 'api',
    ...(parsed.data.reason ? { reason: parsed.data.reason } : {}),
  });
  // The request's evidence (a Slack click leaves it to the next flush, to answer within 3 s).
  await deliverPending(deps, req.pathParams.id ?? '');
  return json(result.outcome === 'requested' ? 202 : 422, result);
}

/** How long before its end the person holding time-bound access is told, with an "Extend" button. */
export const NOTICE_BEFORE_EXPIRY_MS = 3_600_000;

/**
 * The notice before access ends (the sweeper sends it, within NOTICE_BEFORE_EXPIRY_MS of the end):
 * once per expiry (a conditional mark; an extension's new end gets its own notice), to the person the
 * access is for, with an "Extend by …" button when the role allows more (the grant's own length, or
 * what is left under maxTotal).
 */
export async function noticeBeforeExpiry(deps: Pick<Services, 'store' | 'chat' | 'catalog' | 'logger'>, grant: Grant): Promise<boolean> {
  if (grant.status !== 'active' || !grant.expiresAt || grant.manual || grant.extends) return false;
  if (!(await deps.store.markExpiryNotice(grant.id, grant.expiresAt))) return false;
  const by = extensionOffered(deps.catalog, grant);
  const text =
    `Your access to ${grant.appName} ${grant.role} (${grant.issueKey}) ends at ${grant.expiresAt}. ` +
    (by
      ? `Need more time? Ask to extend it by ${describeDuration(by)}: it goes to the approvers again.`
      : 'It cannot be extended further (the role allows no more).');
  try {
    const userId = await deps.chat.userIdByEmail(grant.subject);
    if (userId) await deps.chat.notify(userId, text, by ? { extend: { grantId: grant.id, by } } : {});
  } catch (err) {
    deps.logger.warn('could not send the notice before access ends', { grantId: grant.id, error: errorMessage(err) });
  }
  return true;
}

/** The extension the notice offers: the grant's own length, cut to what maxTotal leaves; none when nothing is left. */
function extensionOffered(catalog: Services['catalog'], grant: Grant): string | undefined {
  const resolved = resolveRole(catalog, grant.app, grant.role);
  const own = durationMs(grant.duration);
  if (!resolved || !grant.grantedAt || own === undefined || own === Infinity) return undefined;
  const total = durationMs(resolved.role.maxTotal ?? resolved.role.maxDuration)!;
  const left = total === Infinity ? own : new Date(grant.grantedAt).getTime() + total - new Date(grant.expiresAt!).getTime();
  const ms = Math.min(own, left);
  return ms >= 60_000 ? `PT${Math.floor(ms / 60_000)}M` : undefined;
}
