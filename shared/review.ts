/**
 * Access reviews: for each role of an app, who holds it through Grantline (and who approved it),
 * who is in the group without any active Grantline grant (access given outside Grantline), and
 * which grants lost their membership outside Grantline. Revocations a reviewer decides go through
 * the same revoke path as expiry, with its own reason and evidence.
 */
import * as z from 'zod';
import { authorizeAuditor } from './audit.js';
import { resolveRole } from './catalog/catalog.js';
import { normalizeEmail } from './email.js';
import { MalformedRequestError, NotFoundError } from './errors.js';
import type { Grant } from './grants/model.js';
import { json, parseJsonBody, type HttpRequest, type HttpResponse } from './http.js';
import { revoke } from './revocation.js';
import type { Services } from './services.js';

export interface RoleReview {
  app: string;
  role: string;
  group: string;
  provider?: string;
  grants: Array<{
    grantId: string;
    issueKey: string;
    subject: string;
    approvedBy?: string;
    grantedAt?: string;
    expiresAt?: string;
    preexistingMembership: boolean;
  }>;
  /** In the group with no active Grantline grant: access given outside Grantline, or from before it. */
  outsideGrantline: string[];
  /** Active grants whose member is no longer in the group: removed outside Grantline. */
  missingFromGroup: string[];
  /** Manual roles: Grantline cannot read the app's accounts; the owner confirms. */
  manual: boolean;
}

export async function reviewApp(deps: Pick<Services, 'catalog' | 'store' | 'idp'>, appKey: string): Promise<RoleReview[]> {
  const app = deps.catalog.apps[appKey];
  if (!app) throw new NotFoundError(`no app ${appKey} in the catalog`);
  // Active grants only, filtered in DynamoDB: the review's size follows what is held now, not the app's history.
  const active = await deps.store.activeGrantsOfApp(appKey);
  const reviews: RoleReview[] = [];
  for (const roleKey of Object.keys(app.roles)) {
    const resolved = resolveRole(deps.catalog, appKey, roleKey)!;
    const grants = active.filter((g) => g.role === roleKey);
    const review: RoleReview = {
      app: appKey,
      role: roleKey,
      group: resolved.groupId ?? 'manual',
      ...(resolved.provider ? { provider: resolved.provider } : {}),
      grants: grants.map(summarise),
      outsideGrantline: [],
      missingFromGroup: [],
      manual: !resolved.provider,
    };
    if (resolved.provider && resolved.groupId) {
      const members = new Set((await deps.idp(resolved.provider).listMembers(resolved.groupId)).map((m) => m.email));
      const granted = new Set(grants.map((g) => g.subject));
      review.outsideGrantline = [...members].filter((email) => !granted.has(email)).sort();
      review.missingFromGroup = grants.filter((g) => !members.has(g.subject)).map((g) => g.id);
    }
    reviews.push(review);
  }
  return reviews;
}

function summarise(g: Grant): RoleReview['grants'][number] {
  return {
    grantId: g.id,
    issueKey: g.issueKey,
    subject: g.subject,
    ...(g.decidedBy ? { approvedBy: g.decidedBy } : {}),
    ...(g.grantedAt ? { grantedAt: g.grantedAt } : {}),
    ...(g.expiresAt ? { expiresAt: g.expiresAt } : {}),
    preexistingMembership: Boolean(g.preexistingMembership),
  };
}

const revokeBody = z.object({
  reason: z.enum(['access_review', 'early_release', 'offboarding']),
  // Whom the caller acts for (recorded as "on behalf of", never as the actor): trimmed and lower-cased by the one helper.
  by: z
    .string()
    .refine((by) => normalizeEmail(by) !== undefined, 'must be an email address')
    .transform((by) => normalizeEmail(by)!)
    .optional(),
});

/** GET /reviews/{app} */
export async function getReview(deps: Pick<Services, 'config' | 'clock' | 'catalog' | 'store' | 'idp'>, req: HttpRequest): Promise<HttpResponse> {
  authorizeAuditor(deps.config, req);
  const app = req.pathParams.app ?? '';
  return json(200, { app, reviewedAt: deps.clock.now().toISOString(), roles: await reviewApp(deps, app) });
}

/**
 * POST /grants/{id}/revoke {reason, by?}: a reviewer's (or the subject's early) revocation, through the
 * same path as expiry. The actor recorded is the authenticated caller (the IAM principal in AWS, the
 * audit token's holder locally); the body's `by` is only what the caller says: "on behalf of".
 */
export async function postRevoke(deps: Services, req: HttpRequest): Promise<HttpResponse> {
  const caller = authorizeAuditor(deps.config, req);
  const parsed = revokeBody.safeParse(parseJsonBody(req.rawBody));
  if (!parsed.success)
    throw new MalformedRequestError(
      `revoke needs {"reason": "access_review" | "early_release" | "offboarding", "by": "<reviewer email>" (optional)}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const id = req.pathParams.id ?? '';
  if (!(await deps.store.getGrant(id))) throw new NotFoundError(`no grant ${id}`);
  const actor = parsed.data.by ? `${caller} (on behalf of ${parsed.data.by})` : caller;
  const result = await revoke(deps, { grantId: id, reason: parsed.data.reason, actor });
  return json(200, result);
}
