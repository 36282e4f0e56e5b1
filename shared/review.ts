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
import { MAX_PAGE_SIZE, pageRequestFrom, type PageRequest } from './store/page.js';

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

export interface ReviewPage {
  /** The roles this page covers, in catalog order; a role over several pages is on each, with that page's part. */
  roles: RoleReview[];
  /** Present while more may follow. */
  nextCursor?: string;
}

/** Where a page starts: a role of the app, its phase (its grants, then its group's members), after which item. */
interface Position {
  role: string;
  phase: 'grants' | 'members';
  /** grants: the store's cursor into the role's active grants; members: the last member email looked at. */
  after?: string;
}

/** Members looked up in the ledger per page at most (each is one Query), whatever the limit. */
const MEMBER_CHECKS_PER_PAGE = MAX_PAGE_SIZE;
/** Members looked up at once. */
const CHECKS_AT_ONCE = 25;

/**
 * One page of an app's review. Each role's part is its active grants, oldest request first (paged in
 * DynamoDB), then the group's members outside Grantline, by email; a page holds at most `limit` of
 * them (grants plus members outside), with each grant's lost membership (`missingFromGroup`) on the
 * page that lists the grant. Every grant and every member outside Grantline is on exactly one page.
 */
export async function reviewPage(deps: Pick<Services, 'catalog' | 'store' | 'idp'>, appKey: string, page: PageRequest): Promise<ReviewPage> {
  const app = deps.catalog.apps[appKey];
  if (!app) throw new NotFoundError(`no app ${appKey} in the catalog`);
  const roleKeys = Object.keys(app.roles);
  let at: Position | undefined = page.cursor
    ? decodeReviewCursor(page.cursor, appKey, roleKeys, deps.catalog)
    : roleKeys[0] === undefined
      ? undefined
      : { role: roleKeys[0], phase: 'grants' };
  const left = { items: page.limit, checks: MEMBER_CHECKS_PER_PAGE };
  const roles: RoleReview[] = [];
  while (at && left.items > 0 && left.checks > 0) {
    const part = await reviewRolePart(deps, appKey, at, left);
    roles.push(part.review);
    at = part.next ?? nextRole(roleKeys, at.role);
  }
  return { roles, ...(at ? { nextCursor: encodeReviewCursor(appKey, at) } : {}) };
}

/** One role's part of a page, from `at` on, spending `left` (items given out, member look-ups); where the role goes on, if it does. */
async function reviewRolePart(
  deps: Pick<Services, 'catalog' | 'store' | 'idp'>,
  appKey: string,
  at: Position,
  left: { items: number; checks: number },
): Promise<{ review: RoleReview; next?: Position }> {
  const resolved = resolveRole(deps.catalog, appKey, at.role)!;
  const review: RoleReview = {
    app: appKey,
    role: at.role,
    group: resolved.groupId ?? 'manual',
    ...(resolved.provider ? { provider: resolved.provider } : {}),
    grants: [],
    outsideGrantline: [],
    missingFromGroup: [],
    manual: !resolved.provider,
  };
  // Active grants only, filtered in DynamoDB: the review's size follows what is held now, not the app's history.
  // Read before the group, so a forged grants cursor is refused before the identity provider is asked.
  const grants =
    at.phase === 'grants'
      ? await deps.store.activeGrantsOfAppRolePage(appKey, at.role, { limit: left.items, ...(at.after ? { cursor: at.after } : {}) })
      : undefined;
  if (grants) {
    review.grants = grants.items.map(summarise);
    left.items -= grants.items.length;
  }
  const goesOn: Position | undefined = grants?.nextCursor ? { role: at.role, phase: 'grants', after: grants.nextCursor } : undefined;
  // Manual roles: Grantline cannot read the app's accounts, so only the grants.
  if (!resolved.provider || !resolved.groupId) return { review, ...(goesOn ? { next: goesOn } : {}) };
  // The whole group, on each page that covers the role: the identity-provider port lists a group in one call.
  const members = new Set((await deps.idp(resolved.provider).listMembers(resolved.groupId)).map((m) => m.email));
  if (grants) review.missingFromGroup = grants.items.filter((g) => !members.has(g.subject)).map((g) => g.id);
  if (goesOn) return { review, next: goesOn };
  if (grants) at = { role: at.role, phase: 'members' };
  // Members by email, after the last one a previous page looked at; each is looked up in the ledger.
  const after = at.after;
  const rest = [...members].filter((email) => after === undefined || email > after).sort();
  let looked = 0;
  while (looked < rest.length && left.items > 0 && left.checks > 0) {
    const batch = rest.slice(looked, looked + Math.min(CHECKS_AT_ONCE, left.checks));
    const held = await Promise.all(batch.map((email) => holdsRole(deps.store, email, appKey, review.role)));
    for (const [i, email] of batch.entries()) {
      if (left.items === 0) break;
      looked += 1;
      left.checks -= 1;
      if (!held[i]) {
        review.outsideGrantline.push(email);
        left.items -= 1;
      }
    }
  }
  if (looked === rest.length) return { review };
  const last = looked > 0 ? rest[looked - 1] : after;
  return { review, next: { role: at.role, phase: 'members', ...(last === undefined ? {} : { after: last }) } };
}

function nextRole(roleKeys: string[], role: string): Position | undefined {
  const following = roleKeys[roleKeys.indexOf(role) + 1];
  return following === undefined ? undefined : { role: following, phase: 'grants' };
}

/** Whether the member holds the role through an active Grantline grant (their own grants, read from the person index). */
async function holdsRole(store: Services['store'], email: string, app: string, role: string): Promise<boolean> {
  if (!email) return false;
  return (await store.grantsOfUser(email)).some((g) => g.status === 'active' && g.app === app && g.role === role);
}

function encodeReviewCursor(app: string, at: Position): string {
  return Buffer.from(JSON.stringify({ a: app, r: at.role, p: at.phase, ...(at.after === undefined ? {} : { k: at.after }) }), 'utf8').toString('base64url');
}

/**
 * The position a cursor stands for, checked as shared/store/page.ts checks the other lists' cursors:
 * base64url JSON with exactly the fields this route gives out, for this app, one of its roles and a
 * phase that role has; anything else is a 400. A grants cursor's inner key is checked by the store.
 */
function decodeReviewCursor(cursor: string, app: string, roleKeys: string[], catalog: Services['catalog']): Position {
  const refuse = (): never => {
    throw new MalformedRequestError('cursor is not one this list gave out: start again without it');
  };
  if (cursor.length > 4096 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return refuse();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return refuse();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return refuse();
  const fields = parsed as Record<string, unknown>;
  const names = Object.keys(fields).sort().join(',');
  if (names !== 'a,p,r' && names !== 'a,k,p,r') return refuse();
  const { a, r, p, k } = fields;
  if (a !== app || typeof r !== 'string' || !roleKeys.includes(r)) return refuse();
  if (p !== 'grants' && p !== 'members') return refuse();
  if (k !== undefined && (typeof k !== 'string' || k.length > 2048 || (p === 'grants' && k.length === 0))) return refuse();
  // Only a role with a group has a members phase.
  if (p === 'members' && !resolveRole(catalog, app, r as string)?.provider) return refuse();
  return { role: r as string, phase: p, ...(k === undefined ? {} : { after: k as string }) };
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

/**
 * GET /reviews/{app}?limit=&cursor=: one page of the review (limit 1-500, default 100, as the other
 * list routes), `nextCursor` while more may follow. An app that fits in one page answers as before.
 */
export async function getReview(deps: Pick<Services, 'config' | 'clock' | 'catalog' | 'store' | 'idp'>, req: HttpRequest): Promise<HttpResponse> {
  authorizeAuditor(deps.config, req);
  const app = req.pathParams.app ?? '';
  const page = pageRequestFrom(req.query);
  const { roles, nextCursor } = await reviewPage(deps, app, page);
  return json(200, { app, reviewedAt: deps.clock.now().toISOString(), roles, ...(nextCursor ? { nextCursor } : {}) });
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
