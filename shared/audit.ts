/**
 * The auditor's view: one call answers "what was requested, who approved, which group, when did it
 * start, was it revoked", with every evidence event behind the answer.
 */
import { verifyBearer } from './auth.js';
import { breakGlassAnswer, type BreakGlassAnswer } from './break-glass.js';
import type { Catalog } from './catalog/schema.js';
import type { Config } from './config.js';
import { ConfigurationError, MalformedRequestError, NotFoundError, ValidationError } from './errors.js';
import type { Approval, EvidenceEvent, Grant } from './grants/model.js';
import { json, type HttpRequest, type HttpResponse } from './http.js';
import { pageRequestFrom } from './store/page.js';
import type { RequestedRange, Store } from './store/store.js';
import type { Services } from './services.js';

export type AuditDeps = Pick<Services, 'config' | 'store'>;

export interface GrantAnswers {
  requested: { what: string; for: string; by: string; at: string; justification: string; jiraIssue: string };
  approvedBy: Array<{ step: number; by: string; at: string; via: string }>;
  decision: { outcome: string; at?: string; reason?: string };
  group: string;
  started?: string;
  expires?: string;
  revoked: { at?: string; scheduledFor?: string; reason?: string; automatic: boolean };
  /** A break-glass grant: the incident and reason, who reviews it and whether they did (`flagged`: nobody confirmed it in time). */
  breakGlass?: BreakGlassAnswer;
}

export interface GrantRecord {
  grant: Grant;
  answers: GrantAnswers;
  evidence: EvidenceEvent[];
}

export function answersFor(grant: Grant, approvals: Approval[]): GrantAnswers {
  return {
    requested: {
      what: `${grant.appName} / ${grant.role} for ${grant.duration}`,
      for: grant.subject,
      by: grant.requester,
      at: grant.requestedAt,
      justification: grant.justification,
      jiraIssue: grant.issueKey,
    },
    approvedBy:
      grant.decidedBy === 'policy'
        ? [{ step: 0, by: 'policy (auto-approved)', at: grant.decidedAt ?? '', via: 'policy' }]
        : grant.breakGlass && grant.decidedBy
          ? [{ step: 0, by: `${grant.decidedBy} (the requester, under break-glass)`, at: grant.decidedAt ?? '', via: 'break-glass' }]
          : approvals
              .filter((a) => a.status === 'approved')
              // A quorum step: every approver, in the order they approved.
              .flatMap((a) =>
                a.approvals?.length
                  ? a.approvals.map((q) => ({ step: a.step + 1, by: q.by, at: q.at, via: q.via }))
                  : [{ step: a.step + 1, by: a.decidedBy ?? '', at: a.decidedAt ?? '', via: a.channel ?? '' }],
              ),
    decision: {
      outcome: grant.status,
      ...(grant.decidedAt ? { at: grant.decidedAt } : {}),
      ...(grant.denialReason ? { reason: grant.denialReason } : grant.failure ? { reason: grant.failure } : {}),
    },
    group: grant.manual ? `manual (${grant.appOwner}); not automatically revocable` : `${grant.provider} group ${grant.groupId}`,
    ...(grant.grantedAt ? { started: grant.grantedAt } : {}),
    ...(grant.expiresAt ? { expires: grant.expiresAt } : {}),
    revoked: {
      ...(grant.revokedAt ? { at: grant.revokedAt } : {}),
      ...(grant.scheduledRevocationAt ? { scheduledFor: grant.scheduledRevocationAt } : {}),
      ...(grant.revokeReason ? { reason: grant.revokeReason } : {}),
      automatic: !grant.manual,
    },
    ...(grant.breakGlass ? { breakGlass: breakGlassAnswer(grant)! } : {}),
  };
}

export async function grantRecord(store: Store, grant: Grant): Promise<GrantRecord> {
  const approvals: Approval[] = [];
  for (let step = 0; step < (grant.steps?.length ?? 0); step++) {
    const approval = await store.getApproval(grant.id, step);
    if (approval) approvals.push(approval);
  }
  return { grant, answers: answersFor(grant, approvals.map(withoutToken)), evidence: await store.evidence(grant.id) };
}

// Task tokens are credentials for the workflow: never returned by the API.
function withoutToken(approval: Approval): Approval {
  return { ...approval, taskToken: '[kept server-side]' };
}

/**
 * GET /grants?user=<email> | ?app=<key> [&limit=1..500, default 100] [&cursor=<nextCursor>]: one page of
 * grants, oldest request first, each with its evidence; `nextCursor` while more may follow. A page is
 * one Query, so an app with 20,000 grants answers within API Gateway's 29 s and Lambda's 6 MB.
 * `&from=` and `&to=` (days or instants, inclusive) keep the grants requested in that period; without
 * user or app they list the period's grants across the catalog's apps (the audit pack's population),
 * app by app, from the app index's sort key: no Scan. (An app no longer in the catalog: ask ?app=<key>.)
 */
export async function getGrants(deps: AuditDeps & Partial<Pick<Services, 'catalog'>>, req: HttpRequest): Promise<HttpResponse> {
  authorizeAuditor(deps.config, req);
  const user = req.query.user?.trim().toLowerCase();
  const app = req.query.app?.trim().toLowerCase();
  const requested = requestedRange(req.query);
  if (!user && !app && !requested) throw new ValidationError('give ?user=<email>, ?app=<app key> or ?from=&to= (a period)', undefined, 400);
  const page = pageRequestFrom(req.query);
  const { items, nextCursor } = user
    ? await deps.store.grantsOfUserPage(user, page, requested)
    : app
      ? await deps.store.grantsOfAppPage(app, page, requested)
      : await deps.store.grantsRequestedPage(Object.keys(catalogOf(deps).apps), requested!, page);
  const records = await mapInBatches(items, RECORD_READS_AT_ONCE, (grant) => grantRecord(deps.store, grant));
  const subject = user ? { user } : app ? { app } : {};
  return json(200, { ...subject, ...requested, count: records.length, grants: records, ...(nextCursor ? { nextCursor } : {}) });
}

/** A period's bound: a day, or an ISO instant. */
export const PERIOD_BOUND = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z?)?$/;

/** `?from=` and `?to=` of a period (either may be left open); undefined when neither is given. */
function requestedRange(query: Record<string, string | undefined>): RequestedRange | undefined {
  const from = query.from?.trim() || undefined;
  const to = query.to?.trim() || undefined;
  if (!from && !to) return undefined;
  for (const [name, value] of [
    ['from', from],
    ['to', to],
  ] as const) {
    if (value !== undefined && !PERIOD_BOUND.test(value)) throw new MalformedRequestError(`${name} must be a day (YYYY-MM-DD) or an ISO instant`);
  }
  const range = { from: from ?? '0000', to: to ?? '9999' };
  if (range.from > range.to) throw new MalformedRequestError('from must not be after to');
  return range;
}

function catalogOf(deps: Partial<Pick<Services, 'catalog'>>): Catalog {
  if (!deps.catalog) throw new ConfigurationError('listing a period across apps needs the catalog (its app keys)');
  return deps.catalog;
}

/** Each record is a few reads (approvals, evidence): a page's records are read this many at a time. */
const RECORD_READS_AT_ONCE = 25;

async function mapInBatches<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

export async function getGrant(deps: AuditDeps, req: HttpRequest): Promise<HttpResponse> {
  authorizeAuditor(deps.config, req);
  const id = req.pathParams.id ?? '';
  const grant = /^[0-9A-Za-z_.-]{1,80}$/.test(id) ? await deps.store.getGrant(id) : undefined;
  if (!grant) throw new NotFoundError(`no grant ${id}`);
  return json(200, await grantRecord(deps.store, grant));
}

/** Who called an audit route locally, where the audit bearer token stands in for an IAM identity. */
export const LOCAL_AUDIT_CALLER = 'local audit token';

/**
 * The audit and review routes: IAM (SigV4) at API Gateway in AWS; locally a bearer token stands in for
 * it. Returns who called: the IAM principal's ARN in AWS, LOCAL_AUDIT_CALLER for the token's holder.
 */
export function authorizeAuditor(config: Config, req: HttpRequest): string {
  if (config.GRANTLINE_AUDIT_TOKEN) verifyBearer(config.GRANTLINE_AUDIT_TOKEN, req.headers);
  return req.caller ?? (config.GRANTLINE_AUDIT_TOKEN ? LOCAL_AUDIT_CALLER : 'unauthenticated caller');
}
