/**
 * Access review campaigns: a certification of who holds what, for the apps in scope, with a Jira
 * issue of its own. At start every member of every mapped group in scope is snapshotted as an item
 * (with or without a Grantline grant), with who they are and when they last signed in (the identity
 * provider's review profile), where the access came from (the grant and its approver, or "outside
 * Grantline") and a recommendation with its reason. Each item has one reviewer (the app owner, or the
 * person's manager) and takes one decision, by conditional write: Keep, or Revoke, which goes through
 * the same revoke path as expiry (a grant) or removes the membership with evidence on the campaign's
 * issue (access outside Grantline). Closing settles the items nobody reviewed by the campaign's rule
 * and posts the summary.
 */
import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { authorizeAuditor } from './audit.js';
import { resolveRole } from './catalog/catalog.js';
import { durationMs } from './duration.js';
import { normalizeEmail } from './email.js';
import { errorMessage, MalformedRequestError, NotFoundError, ValidationError } from './errors.js';
import type { Grant } from './grants/model.js';
import { json, parseJsonBody, type HttpRequest, type HttpResponse } from './http.js';
import type { IdpUser, ProviderName } from './ports.js';
import { revoke } from './revocation.js';
import type { LifecycleDeps } from './services.js';

export interface Campaign {
  id: string;
  apps: string[];
  /** Who reviews each item: the app's owner, or the person's manager. */
  reviewer: 'owner' | 'manager';
  dueAt: string;
  /** An item not reviewed by the due date, at close: kept, or revoked. */
  onUnreviewed: 'keep' | 'revoke';
  /** No sign-in for this many days recommends revoking. */
  inactiveAfterDays: number;
  issueKey?: string;
  /** starting: the snapshot is being taken; open: reviewers decide; closed. */
  status: 'starting' | 'open' | 'closed';
  createdAt: string;
  createdBy: string;
  itemCount?: number;
  closedAt?: string;
}

export interface CampaignItem {
  campaignId: string;
  /** Its position in the snapshot, zero-padded: items list in snapshot order. */
  itemId: string;
  app: string;
  appName: string;
  role: string;
  provider?: ProviderName;
  group: string;
  email: string;
  name?: string;
  title?: string;
  department?: string;
  manager?: string;
  /** ISO instant, or "unknown" when the provider does not say. */
  lastLogin: string;
  /** The grant the access came from; absent: outside Grantline. */
  grant?: { grantId: string; issueKey: string; approvedBy?: string; approvedAt?: string };
  recommendation: 'keep' | 'revoke';
  reason: string;
  reviewer: string;
  decision?: { outcome: 'keep' | 'revoke'; by: string; at: string; reason?: string };
  /** What carrying out a Revoke did. */
  result?: string;
}

export const DEFAULT_INACTIVE_AFTER_DAYS = 90;

// ---------------------------------------------------------------- start

export interface StartCampaign {
  apps: string[];
  due: string;
  reviewer?: Campaign['reviewer'];
  onUnreviewed?: Campaign['onUnreviewed'];
  inactiveAfterDays?: number;
  by: string;
}

/**
 * Records the campaign (starting), files its Jira issue, snapshots the items, then opens it. A start
 * that fails part way leaves a campaign in `starting`, which is never reviewed: start again.
 */
export async function startCampaign(deps: LifecycleDeps, input: StartCampaign): Promise<{ campaign: Campaign; items: CampaignItem[] }> {
  const unknown = input.apps.filter((a) => !deps.catalog.apps[a]);
  if (input.apps.length === 0 || unknown.length > 0) {
    throw new ValidationError(input.apps.length === 0 ? 'name the apps to review' : `unknown app(s): ${unknown.join(', ')}`);
  }
  const dueMs = durationMs(input.due);
  if (dueMs === undefined || dueMs === Infinity || dueMs <= 0) throw new ValidationError(`due "${input.due}" is not an ISO-8601 duration such as P14D`);
  const now = deps.clock.now();
  const campaign: Campaign = {
    id: `review-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(3).toString('hex')}`,
    apps: input.apps,
    reviewer: input.reviewer ?? 'owner',
    dueAt: new Date(now.getTime() + dueMs).toISOString(),
    onUnreviewed: input.onUnreviewed ?? 'keep',
    inactiveAfterDays: input.inactiveAfterDays ?? DEFAULT_INACTIVE_AFTER_DAYS,
    status: 'starting',
    createdAt: now.toISOString(),
    createdBy: input.by,
  };
  await deps.store.createCampaign(campaign);
  const appNames = campaign.apps.map((a) => deps.catalog.apps[a]!.name).join(', ');
  const { key: issueKey } = await deps.ticketing.createIssue({
    summary: `Access review: ${appNames} (due ${campaign.dueAt.slice(0, 10)})`,
    // Reported by Grantline's account: the request rule's webhook records nothing for it (shared/intake.ts).
    reporterEmail: deps.config.JIRA_EMAIL ?? deps.catalog.apps[campaign.apps[0]!]!.owner,
    fields: {},
    labels: [`grantline-${campaign.id}`],
  });
  const items = await snapshot(deps, campaign);
  await deps.store.putCampaignItems(items);
  await deps.store.updateCampaign(campaign.id, ['starting'], { status: 'open', issueKey, itemCount: items.length });
  const opened = { ...campaign, status: 'open' as const, issueKey, itemCount: items.length };
  await deps.ticketing.addComment(issueKey, {
    title: `Grantline: access review ${campaign.id} started: ${items.length} item(s) in ${appNames}, due ${campaign.dueAt}`,
    facts: [
      { label: 'Reviewers', value: [...new Set(items.map((i) => i.reviewer))].join(', ') || 'none (no items)' },
      { label: 'Recommended to revoke', value: String(items.filter((i) => i.recommendation === 'revoke').length) },
      { label: 'Outside Grantline', value: String(items.filter((i) => !i.grant).length) },
      { label: 'Not reviewed by the due date', value: campaign.onUnreviewed === 'keep' ? 'kept' : 'revoked' },
    ],
    ref: `${campaign.id}/started`,
    internal: true,
  });
  return { campaign: opened, items };
}

/** Every member of every mapped group in scope (and a manual role's active grants), as items. */
async function snapshot(deps: LifecycleDeps, campaign: Campaign): Promise<CampaignItem[]> {
  const items: CampaignItem[] = [];
  const now = deps.clock.now();
  for (const appKey of campaign.apps) {
    const app = deps.catalog.apps[appKey]!;
    const grants = (await deps.store.activeGrantsOfApp(appKey)) as Grant[];
    for (const roleKey of Object.keys(app.roles)) {
      const resolved = resolveRole(deps.catalog, appKey, roleKey)!;
      const held = grants.filter((g) => g.role === roleKey);
      const grantOf = (email: string) => held.find((g) => g.subject === email);
      const people: Array<{ email: string; account?: IdpUser }> = [];
      if (resolved.provider && resolved.groupId) {
        const idp = deps.idp(resolved.provider);
        for (const member of await idp.listMembers(resolved.groupId)) {
          people.push({ email: member.email, account: await idp.reviewProfile(member.id) });
        }
      } else {
        // A manual app: Grantline cannot list its accounts; its grants are what it knows.
        for (const g of held) people.push({ email: g.subject });
      }
      for (const { email, account } of people) {
        const grant = grantOf(email);
        const { recommendation, reason } = recommend(grant, account?.profile?.lastLogin, campaign.inactiveAfterDays, now);
        items.push({
          campaignId: campaign.id,
          itemId: String(items.length + 1).padStart(5, '0'),
          app: appKey,
          appName: app.name,
          role: roleKey,
          ...(resolved.provider ? { provider: resolved.provider } : {}),
          group: resolved.groupId ?? 'manual',
          email,
          ...(account?.profile?.name ? { name: account.profile.name } : {}),
          ...(account?.profile?.title ? { title: account.profile.title } : {}),
          ...(account?.profile?.department ? { department: account.profile.department } : {}),
          ...(account?.managerEmail ? { manager: account.managerEmail } : {}),
          lastLogin: account?.profile?.lastLogin ?? 'unknown',
          ...(grant
            ? {
                grant: {
                  grantId: grant.id,
                  issueKey: grant.issueKey,
                  ...(grant.decidedBy ? { approvedBy: grant.decidedBy } : {}),
                  ...(grant.decidedAt ? { approvedAt: grant.decidedAt } : {}),
                },
              }
            : {}),
          recommendation,
          reason,
          reviewer: reviewerOf(deps, campaign, app.owner, email, normalizeEmail(account?.managerEmail)),
        });
      }
    }
  }
  return items;
}

/** Revoke: access outside Grantline, or no sign-in within `inactiveAfterDays`; keep otherwise (an unknown last sign-in is said). */
export function recommend(
  grant: Grant | undefined,
  lastLogin: string | undefined,
  inactiveAfterDays: number,
  now: Date,
): Pick<CampaignItem, 'recommendation' | 'reason'> {
  if (!grant) return { recommendation: 'revoke', reason: 'access outside Grantline: no request or approval on record' };
  if (!lastLogin) return { recommendation: 'keep', reason: 'held through Grantline; last sign-in unknown (the identity provider does not say)' };
  const days = Math.floor((now.getTime() - new Date(lastLogin).getTime()) / 86_400_000);
  return days >= inactiveAfterDays
    ? { recommendation: 'revoke', reason: `no sign-in for ${days} days (inactive after ${inactiveAfterDays})` }
    : { recommendation: 'keep', reason: `held through Grantline; signed in ${days} day(s) ago` };
}

/** The item's reviewer: the owner or the manager; never the person themselves (then the owner's manager, else the owner). */
function reviewerOf(deps: LifecycleDeps, campaign: Campaign, owner: string, email: string, manager: string | undefined): string {
  const chosen = campaign.reviewer === 'manager' ? (manager ?? deps.catalog.managers[email] ?? owner) : owner;
  if (chosen !== email) return chosen;
  return deps.catalog.managers[owner] ?? owner;
}

// ---------------------------------------------------------------- decide

export type ItemDecision = { outcome: 'recorded'; result?: string } | { outcome: 'refused'; reason: string };

/**
 * A reviewer's decision on an item: only its reviewer, never about their own access, while the
 * campaign is open; the first decision wins. A Revoke is carried out at once; a retry of the same
 * decision whose carrying out was cut short finishes it.
 */
export async function decideItem(
  deps: LifecycleDeps,
  input: { campaignId: string; itemId: string; outcome: 'keep' | 'revoke'; by: string; reason?: string },
): Promise<ItemDecision> {
  const campaign = await deps.store.getCampaign(input.campaignId);
  const item = campaign ? await deps.store.getCampaignItem(input.campaignId, input.itemId) : undefined;
  if (!campaign || !item) return { outcome: 'refused', reason: 'no such review item' };
  if (campaign.status !== 'open') return { outcome: 'refused', reason: `the review is ${campaign.status}` };
  if (input.by === item.email) return { outcome: 'refused', reason: 'you cannot review your own access' };
  if (input.by !== item.reviewer) return { outcome: 'refused', reason: `only ${item.reviewer} reviews this item` };
  if (input.outcome === 'revoke' && !input.reason?.trim()) return { outcome: 'refused', reason: 'a revocation needs a reason' };
  const decision = {
    outcome: input.outcome,
    by: input.by,
    at: deps.clock.now().toISOString(),
    ...(input.reason?.trim() ? { reason: input.reason.trim() } : {}),
  };
  if (!(await deps.store.decideCampaignItem(campaign.id, item.itemId, decision))) {
    const earlier = (await deps.store.getCampaignItem(campaign.id, item.itemId))?.decision;
    // The same reviewer's same decision again (a retry after a crash): finish carrying it out.
    if (!earlier || earlier.by !== input.by || earlier.outcome !== input.outcome || (item.result && earlier.outcome === 'revoke')) {
      return { outcome: 'refused', reason: `already decided: ${earlier?.outcome} by ${earlier?.by} at ${earlier?.at}` };
    }
  }
  if (input.outcome === 'keep') return { outcome: 'recorded' };
  const result = await carryOutRevoke(deps, campaign, item, input.by, decision.reason ?? 'revoked in the access review');
  return { outcome: 'recorded', result };
}

/** Revoke: a grant through the revoke path; access outside Grantline out of the group, with evidence on the campaign's issue. */
async function carryOutRevoke(deps: LifecycleDeps, campaign: Campaign, item: CampaignItem, by: string, why: string): Promise<string> {
  let result: string;
  if (item.grant) {
    const revoked = await revoke(deps, { grantId: item.grant.grantId, reason: 'access_review', actor: `${by} (review ${campaign.id}: ${why})` });
    result = `grant ${item.grant.grantId}: ${revoked.outcome}`;
  } else if (item.provider) {
    const idp = deps.idp(item.provider);
    const account = await idp.findUserByEmail(item.email);
    const removed = account ? await idp.removeMember(item.group, account.id) : 'already_absent';
    result = `outside Grantline: ${removed}`;
    if (campaign.issueKey) {
      await deps.ticketing.addComment(campaign.issueKey, {
        title: `Grantline: removed ${item.email} from ${item.provider} group ${item.group} (access outside Grantline), as ${by} decided in review ${campaign.id}`,
        facts: [
          { label: 'App role', value: `${item.appName} ${item.role}` },
          { label: 'Reason', value: why },
          { label: 'Identity provider answer', value: removed },
        ],
        ref: `${campaign.id}/${item.itemId}/removed`,
        internal: true,
      });
    }
  } else {
    result = 'manual app without a grant: nothing Grantline can remove';
  }
  await deps.store.setCampaignItemResult(campaign.id, item.itemId, result);
  return result;
}

// ---------------------------------------------------------------- close

/**
 * Closes the campaign once: items nobody reviewed follow its rule (kept, or revoked as decided by
 * Grantline), then the summary on its issue. A second close answers the closed campaign.
 */
export async function closeCampaign(deps: LifecycleDeps, id: string, by: string): Promise<{ campaign: Campaign; items: CampaignItem[] }> {
  const campaign = await deps.store.getCampaign(id);
  if (!campaign) throw new NotFoundError(`no review ${id}`);
  if (campaign.status === 'open') {
    for (const item of await deps.store.campaignItems(id)) {
      if (item.decision || campaign.onUnreviewed === 'keep') continue;
      const decision = { outcome: 'revoke' as const, by: 'grantline', at: deps.clock.now().toISOString(), reason: 'not reviewed by the due date' };
      if (await deps.store.decideCampaignItem(id, item.itemId, decision)) {
        await carryOutRevoke(deps, campaign, item, 'grantline', decision.reason).catch((err: unknown) =>
          deps.logger.error('could not revoke an unreviewed review item', { campaignId: id, itemId: item.itemId, error: errorMessage(err) }),
        );
      }
    }
    if (await deps.store.updateCampaign(id, ['open'], { status: 'closed', closedAt: deps.clock.now().toISOString() })) {
      await postSummary(deps, (await deps.store.getCampaign(id))!, await deps.store.campaignItems(id), by);
    }
  }
  return { campaign: (await deps.store.getCampaign(id))!, items: await deps.store.campaignItems(id) };
}

async function postSummary(deps: LifecycleDeps, campaign: Campaign, items: CampaignItem[], by: string): Promise<void> {
  if (!campaign.issueKey) return;
  const kept = items.filter((i) => i.decision?.outcome === 'keep');
  const revoked = items.filter((i) => i.decision?.outcome === 'revoke');
  const unreviewed = items.filter((i) => !i.decision || i.decision.by === 'grantline');
  const reviewers = [...new Set(items.flatMap((i) => (i.decision && i.decision.by !== 'grantline' ? [i.decision.by] : [])))];
  await deps.ticketing.addComment(campaign.issueKey, {
    title: `Grantline: access review ${campaign.id} closed: ${items.length} item(s), ${kept.length} kept, ${revoked.length} revoked, ${unreviewed.length} not reviewed`,
    facts: [
      { label: 'Closed by', value: by },
      { label: 'Reviewed by', value: reviewers.join(', ') || 'nobody' },
      { label: 'Not reviewed', value: `${unreviewed.length} (${campaign.onUnreviewed === 'keep' ? 'kept' : 'revoked'} by the campaign's rule)` },
      ...revoked
        .slice(0, 50)
        .map((i) => ({ label: `Revoked ${i.itemId}`, value: `${i.email}: ${i.appName} ${i.role} (${i.decision?.reason ?? ''}; ${i.result ?? 'pending'})` })),
      { label: 'Full list', value: `grantline review report ${campaign.id} --format csv` },
    ],
    ref: `${campaign.id}/closed`,
    internal: true,
  });
}

// ---------------------------------------------------------------- HTTP

const startBody = z.object({
  apps: z.array(z.string()).min(1),
  due: z.string(),
  reviewer: z.enum(['owner', 'manager']).optional(),
  onUnreviewed: z.enum(['keep', 'revoke']).optional(),
  inactiveAfterDays: z.number().int().positive().optional(),
});
const decisionBody = z.object({ item: z.string(), outcome: z.enum(['keep', 'revoke']), by: z.string(), reason: z.string().max(1000).optional() });

function parsed<T>(schema: z.ZodType<T>, req: HttpRequest, usage: string): T {
  const result = schema.safeParse(parseJsonBody(req.rawBody));
  if (!result.success) throw new MalformedRequestError(`${usage}: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return result.data;
}

/** POST /reviews {apps, due, reviewer?, onUnreviewed?, inactiveAfterDays?}: starts a campaign (201). */
export async function postReviews(deps: LifecycleDeps, req: HttpRequest): Promise<HttpResponse> {
  const caller = authorizeAuditor(deps.config, req);
  const body = parsed(
    startBody,
    req,
    'a review needs {"apps": [app keys], "due": "P14D", "reviewer"?: "owner" | "manager", "onUnreviewed"?: "keep" | "revoke"}',
  );
  const { campaign, items } = await startCampaign(deps, {
    apps: body.apps,
    due: body.due,
    by: caller,
    ...(body.reviewer ? { reviewer: body.reviewer } : {}),
    ...(body.onUnreviewed ? { onUnreviewed: body.onUnreviewed } : {}),
    ...(body.inactiveAfterDays ? { inactiveAfterDays: body.inactiveAfterDays } : {}),
  });
  return json(201, { campaign, items });
}

/** GET /campaigns/{id}: the campaign and every item (the report). */
export async function getCampaignReport(deps: LifecycleDeps, req: HttpRequest): Promise<HttpResponse> {
  authorizeAuditor(deps.config, req);
  const id = req.pathParams.id ?? '';
  const campaign = await deps.store.getCampaign(id);
  if (!campaign) throw new NotFoundError(`no review ${id}`);
  return json(200, { campaign, items: await deps.store.campaignItems(id) });
}

/** POST /campaigns/{id}/decisions {item, outcome, by, reason?}: a reviewer's decision (200 recorded, 409 refused). */
export async function postCampaignDecision(deps: LifecycleDeps, req: HttpRequest): Promise<HttpResponse> {
  authorizeAuditor(deps.config, req);
  const body = parsed(decisionBody, req, 'a decision needs {"item": "<item id>", "outcome": "keep" | "revoke", "by": "<reviewer email>", "reason"?}');
  const by = normalizeEmail(body.by);
  if (!by) throw new MalformedRequestError(`by "${body.by}" is not an email address`);
  const result = await decideItem(deps, {
    campaignId: req.pathParams.id ?? '',
    itemId: body.item,
    outcome: body.outcome,
    by,
    ...(body.reason ? { reason: body.reason } : {}),
  });
  return json(result.outcome === 'recorded' ? 200 : 409, result);
}

/** POST /campaigns/{id}/close: settles the unreviewed items by the campaign's rule and posts the summary (once). */
export async function postCampaignClose(deps: LifecycleDeps, req: HttpRequest): Promise<HttpResponse> {
  const caller = authorizeAuditor(deps.config, req);
  return json(200, await closeCampaign(deps, req.pathParams.id ?? '', caller));
}

/** The review-campaign function's routes (one function serves them all, as the local server maps each). */
export async function campaignRoute(deps: LifecycleDeps, req: HttpRequest): Promise<HttpResponse> {
  if (req.method === 'POST' && req.path === '/reviews') return postReviews(deps, req);
  if (req.method === 'GET') return getCampaignReport(deps, req);
  if (req.path.endsWith('/decisions')) return postCampaignDecision(deps, req);
  if (req.path.endsWith('/close')) return postCampaignClose(deps, req);
  throw new NotFoundError(`no route ${req.method} ${req.path}`);
}
