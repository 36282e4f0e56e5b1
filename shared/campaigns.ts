/**
 * Access review campaigns: a certification of who holds what, for the apps in scope, with a Jira
 * issue of its own. At start every member of every mapped group in scope is snapshotted as an item
 * (with or without a Grantline grant), with who they are and when they last signed in (the identity
 * provider's review profile), where the access came from (the grant and its approver, or "outside
 * Grantline") and a recommendation with its reason. Each item has one reviewer (the app owner, or the
 * person's manager; never the person themselves) and takes one decision, by conditional write: Keep,
 * or Revoke, which goes through the same revoke path as expiry (a grant) or removes the membership
 * with evidence on the campaign's issue (access outside Grantline).
 *
 * Each reviewer gets one Slack message with their items, a page at a time (Keep / Revoke, a reason
 * asked for in a modal, "Keep all recommended keeps"). The campaign sweep (every 15 minutes in AWS,
 * every minute locally) sends reminders before the due date, acts at the due date by the campaign's
 * rule (keep, revoke, or escalate to the reviewers' managers), finishes anything a crash cut short
 * (a start, a Revoke, a close), and closes: the summary on the issue with every item attached as CSV.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as z from 'zod';
import { authorizeAuditor, PERIOD_BOUND } from './audit.js';
import { postAttachment } from './audit-attachments.js';
import { pageRequestFrom } from './store/page.js';
import { resolveRole } from './catalog/catalog.js';
import { durationMs } from './duration.js';
import { normalizeEmail } from './email.js';
import { errorMessage, MalformedRequestError, NotFoundError, ValidationError } from './errors.js';
import type { Grant } from './grants/model.js';
import { json, parseJsonBody, type HttpRequest, type HttpResponse } from './http.js';
import { type ChatMessageRef, type IdpUser, type ProviderName, REVIEW_PAGE_SIZE, type ReviewMessageView } from './ports.js';
import { revoke } from './revocation.js';
import type { LifecycleDeps, Services } from './services.js';

export interface Campaign {
  id: string;
  apps: string[];
  /** Who reviews each item: the app's owner, or the person's manager. */
  reviewer: 'owner' | 'manager';
  /** When unreviewed items follow `onUnreviewed`; moved on by ESCALATION_DAYS when they are escalated. */
  dueAt: string;
  /**
   * An item nobody reviewed by the due date: kept; revoked (decided by Grantline); or escalated, handed
   * to its reviewer's manager with ESCALATION_DAYS more, and kept if still not reviewed then.
   */
  onUnreviewed: 'keep' | 'revoke' | 'escalate';
  /** No sign-in for this many days recommends revoking. */
  inactiveAfterDays: number;
  issueKey?: string;
  /** starting: the snapshot is being taken; open: reviewers decide; closed. */
  status: 'starting' | 'open' | 'closed';
  createdAt: string;
  createdBy: string;
  /** Set once the snapshot's items are all written (a resumed start keeps them). */
  itemCount?: number;
  /** Reminders sent, each named by its lead and the due date it was for (`P1D@<dueAt>`). */
  reminders?: string[];
  escalatedAt?: string;
  closedAt?: string;
  closedBy?: string;
  /** When the summary and the CSV were on the issue: the close is complete. */
  summaryPostedAt?: string;
}

/** A reviewer's Slack message of a campaign: where it is and the page it shows, or that Slack has no account for them. */
export interface ReviewMessageRecord {
  reviewer: string;
  channel?: string;
  ts?: string;
  page: number;
  claimedAt?: string;
  /** Slack has no account for the reviewer: they decide with `grantline review decide`. */
  unreachable?: boolean;
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
  /** The reviewer the item was escalated from at the due date (onUnreviewed: escalate). */
  escalatedFrom?: string;
  decision?: ItemDecisionRecord;
  /** What carrying out a Revoke did. */
  result?: string;
}

export type ItemDecisionRecord = { outcome: 'keep' | 'revoke'; by: string; at: string; reason?: string };

export const DEFAULT_INACTIVE_AFTER_DAYS = 90;
/** Days an escalated item's new reviewer has. */
export const ESCALATION_DAYS = 3;
/** Reminders before the due date, in days (one whose time falls before the campaign started is not sent). */
const REMINDER_LEADS_DAYS = [3, 1] as const;
/** A claim to post a reviewer's message older than this belongs to a run that died before posting: taken over. */
const MESSAGE_CLAIM_MS = 60_000;
/** A start unfinished after this (longer than the function's timeout) is resumed by the sweep. */
const STALE_START_MS = 15 * 60_000;
const DAY_MS = 86_400_000;
/** The actor of what the campaign's rule decides. */
const GRANTLINE = 'grantline';

/** What deciding in Slack uses: no identity provider and no Jira (a Revoke is carried out by a job). */
export type CampaignDeps = Pick<Services, 'config' | 'clock' | 'logger' | 'store' | 'catalog' | 'chat'>;

// ---------------------------------------------------------------- start

export interface StartCampaign {
  apps: string[];
  due: string;
  reviewer?: Campaign['reviewer'];
  onUnreviewed?: Campaign['onUnreviewed'];
  inactiveAfterDays?: number;
  by: string;
  /** The caller's idempotency key: a start repeated with it answers the campaign the first one started. */
  key?: string;
}

/** The campaign and its items; `replayed` when an earlier start with the same key made it (still `starting`: items not yet taken). */
export interface StartedCampaign {
  campaign: Campaign;
  items: CampaignItem[];
  replayed: boolean;
}

/**
 * Lists the campaign (so the sweep finds a start cut short), records it (starting), files its Jira
 * issue, snapshots the items, opens it and posts each reviewer's message. A start cut short is
 * resumed by the sweep once STALE_START_MS have passed.
 */
export async function startCampaign(deps: LifecycleDeps, input: StartCampaign): Promise<StartedCampaign> {
  const unknown = input.apps.filter((a) => !deps.catalog.apps[a]);
  if (input.apps.length === 0 || unknown.length > 0) {
    throw new ValidationError(input.apps.length === 0 ? 'name the apps to review' : `unknown app(s): ${unknown.join(', ')}`);
  }
  const dueMs = durationMs(input.due);
  if (dueMs === undefined || dueMs === Infinity || dueMs <= 0) throw new ValidationError(`due "${input.due}" is not an ISO-8601 duration such as P14D`);
  const now = deps.clock.now();
  const id = input.key
    ? `review-${createHash('sha256').update(`${input.by}\n${input.key}`).digest('hex').slice(0, 12)}`
    : `review-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(3).toString('hex')}`;
  const campaign: Campaign = {
    id,
    apps: input.apps,
    reviewer: input.reviewer ?? 'owner',
    dueAt: new Date(now.getTime() + dueMs).toISOString(),
    onUnreviewed: input.onUnreviewed ?? 'keep',
    inactiveAfterDays: input.inactiveAfterDays ?? DEFAULT_INACTIVE_AFTER_DAYS,
    status: 'starting',
    createdAt: now.toISOString(),
    createdBy: input.by,
  };
  await deps.store.listCampaign(id);
  if (!(await deps.store.createCampaign(campaign))) {
    const earlier = (await deps.store.getCampaign(id))!;
    if (earlier.apps.join(',') !== campaign.apps.join(',')) throw new ValidationError(`this idempotency key started review ${id} of other apps`);
    return { campaign: earlier, items: earlier.status === 'starting' ? [] : await deps.store.campaignItems(id), replayed: true };
  }
  return { ...(await continueStart(deps, campaign)), replayed: false };
}

/** The rest of a start, from wherever it was cut short: each step is recorded before the next. */
async function continueStart(deps: LifecycleDeps, campaign: Campaign): Promise<{ campaign: Campaign; items: CampaignItem[] }> {
  const appNames = appNamesOf(deps, campaign);
  const label = `grantline-${campaign.id}`;
  // A filing whose answer was lost is found by its label (Jira's search catches up within seconds).
  const issueKey =
    campaign.issueKey ??
    (await deps.ticketing.findIssueByLabel(label)) ??
    (
      await deps.ticketing.createIssue({
        summary: `Access review: ${appNames} (due ${campaign.dueAt.slice(0, 10)})`,
        // Reported by Grantline's account: the request rule's webhook records nothing for it (shared/intake.ts).
        reporterEmail: deps.config.JIRA_EMAIL ?? deps.catalog.apps[campaign.apps[0]!]!.owner,
        fields: {},
        labels: [label],
      })
    ).key;
  if (!campaign.issueKey) await deps.store.updateCampaign(campaign.id, ['starting'], { issueKey });
  let items: CampaignItem[];
  if (campaign.itemCount !== undefined) items = await deps.store.campaignItems(campaign.id);
  else {
    items = await snapshot(deps, campaign);
    await deps.store.putCampaignItems(campaign.id, items);
    await deps.store.updateCampaign(campaign.id, ['starting'], { itemCount: items.length });
  }
  await deps.store.updateCampaign(campaign.id, ['starting'], { status: 'open' });
  const opened: Campaign = { ...campaign, status: 'open', issueKey, itemCount: items.length };
  const unreachable = await postReviewerMessages(deps, opened, items);
  const ref = `${campaign.id}/started`;
  if (!(await deps.ticketing.hasComment(issueKey, ref))) {
    await deps.ticketing.addComment(issueKey, {
      title: `Grantline: access review ${campaign.id} started: ${items.length} item(s) in ${appNames}, due ${campaign.dueAt}`,
      facts: [
        { label: 'Reviewers', value: reviewersOf(items).join(', ') || 'none (no items)' },
        ...(unreachable.length > 0
          ? [{ label: 'Reviewers Slack has no account for', value: `${unreachable.join(', ')} (they decide with grantline review decide)` }]
          : []),
        { label: 'Recommended to revoke', value: String(items.filter((i) => i.recommendation === 'revoke').length) },
        { label: 'Outside Grantline', value: String(items.filter((i) => !i.grant).length) },
        { label: 'Not reviewed by the due date', value: ruleText(opened) },
      ],
      ref,
      internal: true,
    });
  }
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

/**
 * The item's reviewer: the owner or the manager; never the person themselves (then the owner's
 * manager, else GRANTLINE_REVIEW_FALLBACK; when neither is someone else, the owner, who is refused).
 */
function reviewerOf(deps: LifecycleDeps, campaign: Campaign, owner: string, email: string, manager: string | undefined): string {
  const chosen = campaign.reviewer === 'manager' ? (manager ?? deps.catalog.managers[email] ?? owner) : owner;
  return [chosen, deps.catalog.managers[owner], normalizeEmail(deps.config.GRANTLINE_REVIEW_FALLBACK)].find((c) => c && c !== email) ?? owner;
}

// ---------------------------------------------------------------- reviewers' messages

const reviewersOf = (items: CampaignItem[]) => [...new Set(items.map((i) => i.reviewer))];
const appNamesOf = (deps: Pick<Services, 'catalog'>, campaign: Campaign) => campaign.apps.map((a) => deps.catalog.apps[a]?.name ?? a).join(', ');

function ruleText(campaign: Campaign): string {
  if (campaign.onUnreviewed === 'escalate') {
    return campaign.escalatedAt
      ? `kept (escalated to the reviewers' managers at ${campaign.escalatedAt})`
      : `escalated to the reviewer's manager, with ${ESCALATION_DAYS} more days; then kept`;
  }
  return campaign.onUnreviewed === 'keep' ? 'kept' : 'revoked';
}

/** One page of a reviewer's items, as their message shows it. */
export function reviewView(deps: Pick<Services, 'catalog'>, campaign: Campaign, items: CampaignItem[], reviewer: string, page: number): ReviewMessageView {
  const mine = items.filter((i) => i.reviewer === reviewer);
  const pageCount = Math.max(1, Math.ceil(mine.length / REVIEW_PAGE_SIZE));
  const shown = Math.min(Math.max(0, page), pageCount - 1);
  return {
    campaignId: campaign.id,
    apps: appNamesOf(deps, campaign),
    dueAt: campaign.dueAt,
    page: shown,
    pageCount,
    total: mine.length,
    decided: mine.filter((i) => i.decision).length,
    recommendedKeepsWaiting: mine.filter((i) => !i.decision && i.recommendation === 'keep').length,
    items: mine.slice(shown * REVIEW_PAGE_SIZE, (shown + 1) * REVIEW_PAGE_SIZE),
    closed: campaign.status === 'closed',
  };
}

/**
 * Posts each reviewer's message not posted yet, claimed by conditional write (a second run, or the
 * sweep, posts nothing twice). Returns the reviewers Slack has no account for. A failure is left to
 * the sweep: the claim goes stale and is taken over.
 */
async function postReviewerMessages(deps: CampaignDeps, campaign: Campaign, items: CampaignItem[]): Promise<string[]> {
  const unreachable: string[] = [];
  for (const reviewer of reviewersOf(items)) {
    const record = await deps.store.reviewMessage(campaign.id, reviewer);
    if (record?.unreachable) unreachable.push(reviewer);
    if (record?.ts || record?.unreachable) continue;
    const now = deps.clock.now();
    if (!(await deps.store.claimReviewMessage(campaign.id, reviewer, now.toISOString(), new Date(now.getTime() - MESSAGE_CLAIM_MS).toISOString()))) continue;
    try {
      const userId = await deps.chat.userIdByEmail(reviewer);
      if (!userId) {
        await deps.store.setReviewMessage(campaign.id, reviewer, { unreachable: true });
        unreachable.push(reviewer);
        continue;
      }
      const ref = await deps.chat.showReviewItems(userId, reviewView(deps, campaign, items, reviewer, 0));
      await deps.store.setReviewMessage(campaign.id, reviewer, { channel: ref.channel, ts: ref.ts });
    } catch (err) {
      deps.logger.warn("could not post a reviewer's message; the campaign sweep tries again", { campaignId: campaign.id, reviewer, error: errorMessage(err) });
    }
  }
  return unreachable;
}

/** Redraws a reviewer's message (on `page` when given, else the page it shows); best effort: the ledger is the record. */
export async function redrawReviewerMessage(deps: CampaignDeps, campaign: Campaign, reviewer: string, page?: number): Promise<void> {
  try {
    const record = await deps.store.reviewMessage(campaign.id, reviewer);
    if (!record?.ts || !record.channel) return;
    const view = reviewView(deps, campaign, await deps.store.campaignItems(campaign.id), reviewer, page ?? record.page);
    if (view.page !== record.page) await deps.store.setReviewMessage(campaign.id, reviewer, { page: view.page });
    await deps.chat.showReviewItems({ channel: record.channel, ts: record.ts }, view);
  } catch (err) {
    deps.logger.warn("could not redraw a reviewer's message", { campaignId: campaign.id, reviewer, error: errorMessage(err) });
  }
}

/** Where to tell a reviewer something: in the thread of their message, else a DM; undefined when Slack has no account for them. */
async function reviewerAddress(deps: CampaignDeps, campaignId: string, reviewer: string): Promise<string | ChatMessageRef | undefined> {
  const record = await deps.store.reviewMessage(campaignId, reviewer);
  if (record?.ts && record.channel) return { channel: record.channel, ts: record.ts };
  return record?.unreachable ? undefined : deps.chat.userIdByEmail(reviewer);
}

async function tellReviewer(deps: CampaignDeps, campaignId: string, reviewer: string, text: string): Promise<void> {
  try {
    const to = await reviewerAddress(deps, campaignId, reviewer);
    if (to) await deps.chat.notify(to, text);
  } catch (err) {
    deps.logger.warn('could not tell a reviewer', { campaignId, reviewer, error: errorMessage(err) });
  }
}

// ---------------------------------------------------------------- decide

export type ItemDecision = { outcome: 'recorded'; result?: string } | { outcome: 'refused'; reason: string };

/** A decision recorded: `unfinished` when it is a Revoke not yet carried out (a first decision, or its retry after a crash). */
export type RecordedDecision =
  | { outcome: 'recorded'; campaign: Campaign; item: CampaignItem; decision: ItemDecisionRecord; unfinished: boolean }
  | { outcome: 'refused'; reason: string };

export interface DecisionInput {
  campaignId: string;
  itemId: string;
  outcome: 'keep' | 'revoke';
  by: string;
  reason?: string;
}

/**
 * Records a reviewer's decision on an item: only its reviewer, never about their own access, while
 * the campaign is open; the first decision wins (conditional write). The same reviewer's same
 * decision again is accepted, so a retry finishes carrying it out.
 */
export async function recordDecision(deps: CampaignDeps, input: DecisionInput): Promise<RecordedDecision> {
  const campaign = await deps.store.getCampaign(input.campaignId);
  const item = campaign ? await deps.store.getCampaignItem(input.campaignId, input.itemId) : undefined;
  if (!campaign || !item) return { outcome: 'refused', reason: 'no such review item' };
  return recordOn(deps, campaign, item, input);
}

async function recordOn(deps: CampaignDeps, campaign: Campaign, item: CampaignItem, input: DecisionInput): Promise<RecordedDecision> {
  if (campaign.status !== 'open') return { outcome: 'refused', reason: `the review is ${campaign.status}` };
  if (input.by === item.email) return { outcome: 'refused', reason: 'you cannot review your own access' };
  if (input.by !== item.reviewer) return { outcome: 'refused', reason: `only ${item.reviewer} reviews this item` };
  if (input.outcome === 'revoke' && !input.reason?.trim()) return { outcome: 'refused', reason: 'a revocation needs a reason' };
  const decision: ItemDecisionRecord = {
    outcome: input.outcome,
    by: input.by,
    at: deps.clock.now().toISOString(),
    ...(input.reason?.trim() ? { reason: input.reason.trim() } : {}),
  };
  if (await deps.store.decideCampaignItem(campaign.id, item.itemId, decision)) {
    return { outcome: 'recorded', campaign, item: { ...item, decision }, decision, unfinished: decision.outcome === 'revoke' };
  }
  const now = await deps.store.getCampaignItem(campaign.id, item.itemId);
  const earlier = now?.decision;
  const unfinished = earlier?.outcome === 'revoke' && !now?.result;
  if (!earlier || earlier.by !== input.by || earlier.outcome !== input.outcome || (earlier.outcome === 'revoke' && !unfinished)) {
    return { outcome: 'refused', reason: `already decided: ${earlier?.outcome} by ${earlier?.by} at ${earlier?.at}` };
  }
  return { outcome: 'recorded', campaign, item: now!, decision: earlier, unfinished };
}

/** A decision made through the API (POST /campaigns/{id}/decisions): recorded, a Revoke carried out at once, the reviewer's message redrawn. */
export async function decideItem(deps: LifecycleDeps, input: DecisionInput): Promise<ItemDecision> {
  const recorded = await recordDecision(deps, input);
  if (recorded.outcome === 'refused') return recorded;
  const result = recorded.unfinished ? await carryOutRevoke(deps, recorded.campaign, recorded.item, recorded.decision) : undefined;
  await redrawReviewerMessage(deps, recorded.campaign, recorded.item.reviewer);
  return { outcome: 'recorded', ...(result ? { result } : {}) };
}

/** Carries out a recorded Revoke that was not (the job a Slack Revoke hands over; the sweep): nothing when it was. */
export async function finishItemRevoke(deps: LifecycleDeps, campaignId: string, itemId: string): Promise<void> {
  const campaign = await deps.store.getCampaign(campaignId);
  const item = campaign ? await deps.store.getCampaignItem(campaignId, itemId) : undefined;
  if (!campaign || !item?.decision || item.decision.outcome !== 'revoke' || item.result) return;
  await carryOutRevoke(deps, campaign, item, item.decision);
  await redrawReviewerMessage(deps, campaign, item.reviewer);
}

/**
 * "Keep all recommended keeps": each of the reviewer's undecided items recommended to keep is kept,
 * as its own Keep would be (the same checks, its own conditional write). One redraw at the end.
 */
export async function keepRecommended(deps: CampaignDeps, campaignId: string, by: string): Promise<ItemDecision & { kept?: number }> {
  const campaign = await deps.store.getCampaign(campaignId);
  if (!campaign) return { outcome: 'refused', reason: 'no such review' };
  if (campaign.status !== 'open') return { outcome: 'refused', reason: `the review is ${campaign.status}` };
  const waiting = (await deps.store.campaignItems(campaignId)).filter((i) => i.reviewer === by && !i.decision && i.recommendation === 'keep');
  let kept = 0;
  for (const item of waiting) {
    if ((await recordOn(deps, campaign, item, { campaignId, itemId: item.itemId, outcome: 'keep', by })).outcome === 'recorded') kept++;
  }
  await redrawReviewerMessage(deps, campaign, by);
  return { outcome: 'recorded', kept };
}

/** Revoke: a grant through the revoke path; access outside Grantline out of the group, with evidence on the campaign's issue. */
async function carryOutRevoke(deps: LifecycleDeps, campaign: Campaign, item: CampaignItem, decision: ItemDecisionRecord): Promise<string> {
  const why = decision.reason ?? 'revoked in the access review';
  let result: string;
  if (item.grant) {
    const revoked = await revoke(deps, {
      grantId: item.grant.grantId,
      reason: 'access_review',
      actor: `${decision.by} (review ${campaign.id}: ${why})`,
    });
    result = `grant ${item.grant.grantId}: ${revoked.outcome}`;
  } else if (item.provider) {
    const idp = deps.idp(item.provider);
    const account = await idp.findUserByEmail(item.email);
    const removed = account ? await idp.removeMember(item.group, account.id) : 'already_absent';
    result = `outside Grantline: ${removed}`;
    const ref = `${campaign.id}/${item.itemId}/removed`;
    if (campaign.issueKey && !(await deps.ticketing.hasComment(campaign.issueKey, ref))) {
      await deps.ticketing.addComment(campaign.issueKey, {
        title: `Grantline: removed ${item.email} from ${item.provider} group ${item.group} (access outside Grantline), as ${decision.by} decided in review ${campaign.id}`,
        facts: [
          { label: 'App role', value: `${item.appName} ${item.role}` },
          { label: 'Reason', value: why },
          { label: 'Identity provider answer', value: removed },
        ],
        ref,
        internal: true,
      });
    }
  } else {
    result = 'manual app without a grant: nothing Grantline can remove';
  }
  await deps.store.setCampaignItemResult(campaign.id, item.itemId, result);
  return result;
}

const unfinishedRevokes = (items: CampaignItem[]) => items.filter((i) => i.decision?.outcome === 'revoke' && !i.result);

// ---------------------------------------------------------------- the sweep: reminders, the due date, anything cut short

export interface CampaignSweep {
  reminded: string[];
  escalated: string[];
  closed: string[];
  resumed: string[];
}

/**
 * Looks after every listed campaign: resumes a start cut short, finishes Revokes a crash cut short,
 * posts reviewers' messages not yet posted, sends reminders, and at the due date escalates or closes;
 * finishes a close cut short. Each campaign on its own: one failing does not stop the others.
 */
export async function sweepCampaigns(deps: LifecycleDeps): Promise<CampaignSweep> {
  const done: CampaignSweep = { reminded: [], escalated: [], closed: [], resumed: [] };
  for (const id of await deps.store.listedCampaigns()) {
    try {
      await sweepCampaign(deps, id, done);
    } catch (err) {
      deps.logger.error('campaign sweep failed for a campaign; the next sweep tries again', { campaignId: id, error: errorMessage(err) });
    }
  }
  return done;
}

async function sweepCampaign(deps: LifecycleDeps, id: string, done: CampaignSweep): Promise<void> {
  const campaign = await deps.store.getCampaign(id);
  const now = deps.clock.now();
  // Listed before a create that never happened.
  if (!campaign) return deps.store.delistCampaign(id);
  if (campaign.status === 'starting') {
    if (now.getTime() - Date.parse(campaign.createdAt) < STALE_START_MS) return;
    await continueStart(deps, campaign);
    done.resumed.push(id);
    return;
  }
  if (campaign.status === 'closed') {
    await finishClose(deps, campaign);
    done.closed.push(id);
    return;
  }
  const items = await deps.store.campaignItems(id);
  for (const item of unfinishedRevokes(items)) await finishItemRevoke(deps, id, item.itemId);
  await postReviewerMessages(deps, campaign, items);
  if (now.getTime() >= Date.parse(campaign.dueAt)) {
    if (campaign.onUnreviewed === 'escalate' && !campaign.escalatedAt && items.some((i) => !i.decision)) {
      await escalate(deps, campaign, items);
      done.escalated.push(id);
    } else {
      await closeCampaign(deps, id, `${GRANTLINE} (due date)`);
      done.closed.push(id);
    }
    return;
  }
  if (await remind(deps, campaign, items, now)) done.reminded.push(id);
}

/**
 * Reminders before the due date: each lead whose time has come is claimed once (its name carries
 * the due date, so an escalation's new due date has reminders of its own); when any was claimed,
 * each reviewer with undecided items is told once, in the thread of their message.
 */
async function remind(deps: LifecycleDeps, campaign: Campaign, items: CampaignItem[], now: Date): Promise<boolean> {
  const due = Date.parse(campaign.dueAt);
  const began = Date.parse(campaign.escalatedAt ?? campaign.createdAt);
  const leads = REMINDER_LEADS_DAYS.filter((days) => due - days * DAY_MS > began && now.getTime() >= due - days * DAY_MS);
  let claimed = false;
  for (const days of leads) if (await deps.store.claimCampaignReminder(campaign.id, `P${days}D@${campaign.dueAt}`)) claimed = true;
  if (!claimed) return false;
  const waiting = new Map<string, number>();
  for (const item of items) if (!item.decision) waiting.set(item.reviewer, (waiting.get(item.reviewer) ?? 0) + 1);
  for (const [reviewer, count] of waiting) {
    await tellReviewer(
      deps,
      campaign.id,
      reviewer,
      `Reminder: ${count} item(s) of access review ${campaign.id} (${appNamesOf(deps, campaign)}) still need your decision by ${campaign.dueAt}. Not reviewed by then: ${ruleText(campaign)}.`,
    );
  }
  return true;
}

/**
 * At the due date of an escalating campaign: each undecided item goes to its reviewer's manager
 * (else GRANTLINE_REVIEW_FALLBACK; never the person themselves), by a conditional write, and the due
 * date moves on by ESCALATION_DAYS. Repeatable: an item handed over once is not handed over again.
 */
async function escalate(deps: LifecycleDeps, campaign: Campaign, items: CampaignItem[]): Promise<void> {
  const managers = new Map<string, string | undefined>();
  const handedOver: Array<{ from: string; to: string }> = [];
  for (const item of items.filter((i) => !i.decision && !i.escalatedFrom)) {
    if (!managers.has(item.reviewer)) managers.set(item.reviewer, await managerOf(deps, item.reviewer, item.provider));
    const to = [managers.get(item.reviewer), normalizeEmail(deps.config.GRANTLINE_REVIEW_FALLBACK)].find((c) => c && c !== item.email && c !== item.reviewer);
    if (to && (await deps.store.reassignCampaignItem(campaign.id, item.itemId, item.reviewer, to))) handedOver.push({ from: item.reviewer, to });
  }
  const escalatedAt = deps.clock.now().toISOString();
  const dueAt = new Date(Date.parse(campaign.dueAt) + ESCALATION_DAYS * DAY_MS).toISOString();
  await deps.store.updateCampaign(campaign.id, ['open'], { escalatedAt, dueAt });
  const escalated: Campaign = { ...campaign, escalatedAt, dueAt };
  const after = await deps.store.campaignItems(campaign.id);
  await postReviewerMessages(deps, escalated, after);
  const affected = new Set(handedOver.flatMap((h) => [h.from, h.to]));
  for (const reviewer of affected) await redrawReviewerMessage(deps, escalated, reviewer);
  const counts = new Map<string, number>();
  for (const h of handedOver) counts.set(`${h.from} → ${h.to}`, (counts.get(`${h.from} → ${h.to}`) ?? 0) + 1);
  for (const to of new Set(handedOver.map((h) => h.to))) {
    const n = handedOver.filter((h) => h.to === to).length;
    await tellReviewer(
      deps,
      campaign.id,
      to,
      `Escalated to you: ${n} item(s) of access review ${campaign.id} not reviewed by the due date. Decide by ${dueAt}.`,
    );
  }
  const ref = `${campaign.id}/escalated`;
  if (campaign.issueKey && !(await deps.ticketing.hasComment(campaign.issueKey, ref))) {
    await deps.ticketing.addComment(campaign.issueKey, {
      title: `Grantline: access review ${campaign.id}: ${handedOver.length} item(s) not reviewed by the due date escalated; new due date ${dueAt}`,
      facts: [...counts].map(([who, n]) => ({ label: who, value: `${n} item(s)` })),
      ref,
      internal: true,
    });
  }
}

/** A reviewer's manager: the catalog's managers, else the identity provider's. */
async function managerOf(deps: LifecycleDeps, email: string, provider: ProviderName | undefined): Promise<string | undefined> {
  const listed = deps.catalog.managers[email];
  if (listed || !provider) return listed;
  try {
    return normalizeEmail((await deps.idp(provider).findUserByEmail(email))?.managerEmail);
  } catch (err) {
    deps.logger.warn("could not look up a reviewer's manager", { email, error: errorMessage(err) });
    return undefined;
  }
}

// ---------------------------------------------------------------- close

/**
 * Closes the campaign: items nobody reviewed follow its rule (kept, or revoked as decided by
 * Grantline), the status turns closed (once, by conditional write), then the summary and the CSV go
 * on its issue. A close cut short after the status changed is finished by the next close or sweep.
 */
export async function closeCampaign(deps: LifecycleDeps, id: string, by: string): Promise<{ campaign: Campaign; items: CampaignItem[] }> {
  const campaign = await deps.store.getCampaign(id);
  if (!campaign) throw new NotFoundError(`no review ${id}`);
  if (campaign.status === 'starting') throw new ValidationError(`review ${id} is still starting`);
  if (campaign.status === 'open') {
    if (campaign.onUnreviewed === 'revoke') {
      for (const item of await deps.store.campaignItems(id)) {
        if (item.decision) continue;
        const decision = { outcome: 'revoke' as const, by: GRANTLINE, at: deps.clock.now().toISOString(), reason: 'not reviewed by the due date' };
        if (await deps.store.decideCampaignItem(id, item.itemId, decision)) {
          await carryOutRevoke(deps, campaign, item, decision).catch((err: unknown) =>
            deps.logger.error('could not revoke an unreviewed review item; the close tries again', {
              campaignId: id,
              itemId: item.itemId,
              error: errorMessage(err),
            }),
          );
        }
      }
    }
    await deps.store.updateCampaign(id, ['open'], { status: 'closed', closedAt: deps.clock.now().toISOString(), closedBy: by });
  }
  const closed = (await deps.store.getCampaign(id))!;
  if (!closed.summaryPostedAt) await finishClose(deps, closed);
  return { campaign: (await deps.store.getCampaign(id))!, items: await deps.store.campaignItems(id) };
}

/** The end of a close: Revokes a crash cut short, the summary and the CSV on the issue (each once), then the campaign is delisted and the messages show it closed. */
async function finishClose(deps: LifecycleDeps, campaign: Campaign): Promise<void> {
  for (const item of unfinishedRevokes(await deps.store.campaignItems(campaign.id))) {
    await carryOutRevoke(deps, campaign, item, item.decision!).catch((err: unknown) =>
      deps.logger.error('could not carry out a review Revoke at the close', { campaignId: campaign.id, itemId: item.itemId, error: errorMessage(err) }),
    );
  }
  const items = await deps.store.campaignItems(campaign.id);
  if (campaign.issueKey) {
    const ref = `${campaign.id}/closed`;
    if (!(await deps.ticketing.hasComment(campaign.issueKey, ref))) await deps.ticketing.addComment(campaign.issueKey, summaryComment(campaign, items, ref));
    await deps.ticketing.attachFile(campaign.issueKey, { filename: `${campaign.id}.csv`, content: campaignCsv(items), contentType: 'text/csv' });
  }
  await deps.store.updateCampaign(campaign.id, ['closed'], { summaryPostedAt: deps.clock.now().toISOString() });
  await deps.store.delistCampaign(campaign.id);
  for (const reviewer of reviewersOf(items)) await redrawReviewerMessage(deps, campaign, reviewer);
}

function summaryComment(campaign: Campaign, items: CampaignItem[], ref: string) {
  const kept = items.filter((i) => i.decision?.outcome === 'keep');
  const revoked = items.filter((i) => i.decision?.outcome === 'revoke');
  const unreviewed = items.filter((i) => !i.decision || i.decision.by === GRANTLINE);
  const reviewers = [...new Set(items.flatMap((i) => (i.decision && i.decision.by !== GRANTLINE ? [i.decision.by] : [])))];
  return {
    title: `Grantline: access review ${campaign.id} closed: ${items.length} item(s), ${kept.length} kept, ${revoked.length} revoked, ${unreviewed.length} not reviewed`,
    facts: [
      { label: 'Closed by', value: campaign.closedBy ?? GRANTLINE },
      { label: 'Reviewed by', value: reviewers.map((r) => `${r} (${items.filter((i) => i.decision?.by === r).length})`).join(', ') || 'nobody' },
      { label: 'Not reviewed', value: `${unreviewed.length}: ${ruleText(campaign)}` },
      ...(campaign.escalatedAt ? [{ label: 'Escalated', value: `${items.filter((i) => i.escalatedFrom).length} item(s) at ${campaign.escalatedAt}` }] : []),
      ...revoked.slice(0, 50).map((i) => ({
        label: `Revoked ${i.itemId}`,
        value: `${i.email}: ${i.appName} ${i.role} by ${i.decision?.by} (${i.decision?.reason ?? ''}; ${i.result ?? 'pending'})`,
      })),
      ...(revoked.length > 50 ? [{ label: 'More revoked', value: `${revoked.length - 50} more in the CSV` }] : []),
      { label: 'Every item', value: `attached as ${campaign.id}.csv; also grantline review report ${campaign.id} --format csv` },
    ],
    ref,
    internal: true,
  };
}

/** The report's columns, in order. */
export const CAMPAIGN_CSV_COLUMNS = [
  'itemId',
  'app',
  'role',
  'provider',
  'group',
  'email',
  'name',
  'title',
  'department',
  'manager',
  'lastLogin',
  'source',
  'issueKey',
  'approvedBy',
  'approvedAt',
  'recommendation',
  'reason',
  'reviewer',
  'escalatedFrom',
  'decision',
  'decidedBy',
  'decidedAt',
  'decisionReason',
  'result',
] as const;

/**
 * Every item as CSV (RFC 4180: quoted when it holds a comma, quote or line break). A cell that a
 * spreadsheet would read as a formula (=, +, -, @ first) is prefixed with an apostrophe: names and
 * reasons come from outside.
 */
export function campaignCsv(items: CampaignItem[]): string {
  const cell = (v: string | undefined) => {
    if (v === undefined) return '';
    const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
    return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
  };
  const rows = items.map((i) =>
    [
      i.itemId,
      i.app,
      i.role,
      i.provider,
      i.group,
      i.email,
      i.name,
      i.title,
      i.department,
      i.manager,
      i.lastLogin,
      i.grant ? i.grant.grantId : 'outside Grantline',
      i.grant?.issueKey,
      i.grant?.approvedBy,
      i.grant?.approvedAt,
      i.recommendation,
      i.reason,
      i.reviewer,
      i.escalatedFrom,
      i.decision?.outcome,
      i.decision?.by,
      i.decision?.at,
      i.decision?.reason,
      i.result,
    ]
      .map(cell)
      .join(','),
  );
  return `${[CAMPAIGN_CSV_COLUMNS.join(','), ...rows].join('\r\n')}\r\n`;
}

// ---------------------------------------------------------------- HTTP

const startBody = z.object({
  apps: z.array(z.string()).min(1),
  due: z.string(),
  reviewer: z.enum(['owner', 'manager']).optional(),
  onUnreviewed: z.enum(['keep', 'revoke', 'escalate']).optional(),
  inactiveAfterDays: z.number().int().positive().optional(),
});
/** The event of a review Revoke job (Jobs.campaignRevoke). */
export const campaignRevokeJobSchema = z.object({
  campaignRevoke: z.object({ campaignId: z.string().regex(/^review-[0-9a-z-]{1,40}$/), itemId: z.string().regex(/^\d{5,7}$/) }),
});
const decisionBody = z.object({ item: z.string(), outcome: z.enum(['keep', 'revoke']), by: z.string(), reason: z.string().max(1000).optional() });

function parsed<T>(schema: z.ZodType<T>, req: HttpRequest, usage: string): T {
  const result = schema.safeParse(parseJsonBody(req.rawBody));
  if (!result.success) throw new MalformedRequestError(`${usage}: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return result.data;
}

/**
 * POST /reviews {apps, due, reviewer?, onUnreviewed?, inactiveAfterDays?}: starts a campaign (201).
 * With an Idempotency-Key header, a repeated start answers the campaign the first one started: 200,
 * or 202 while that start is still taking its snapshot.
 */
export async function postReviews(deps: LifecycleDeps, req: HttpRequest): Promise<HttpResponse> {
  const caller = authorizeAuditor(deps.config, req);
  const body = parsed(
    startBody,
    req,
    'a review needs {"apps": [app keys], "due": "P14D", "reviewer"?: "owner" | "manager", "onUnreviewed"?: "keep" | "revoke" | "escalate"}',
  );
  const key = req.headers['idempotency-key'];
  if (key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(key)) throw new MalformedRequestError('Idempotency-Key must be 1 to 255 printable ASCII characters');
  const { campaign, items, replayed } = await startCampaign(deps, {
    apps: body.apps,
    due: body.due,
    by: caller,
    ...(key ? { key } : {}),
    ...(body.reviewer ? { reviewer: body.reviewer } : {}),
    ...(body.onUnreviewed ? { onUnreviewed: body.onUnreviewed } : {}),
    ...(body.inactiveAfterDays ? { inactiveAfterDays: body.inactiveAfterDays } : {}),
  });
  return json(replayed ? (campaign.status === 'starting' ? 202 : 200) : 201, { campaign, items });
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

/**
 * GET /campaigns?until=<day or instant>[&limit=&cursor=]: one page of the access review campaigns started
 * at or before `until` (today when absent), newest first, each as recorded (without its items: GET
 * /campaigns/{id}). The audit pack reads them until they end before its period.
 */
export async function getCampaignList(deps: Pick<Services, 'config' | 'store'>, req: HttpRequest): Promise<HttpResponse> {
  authorizeAuditor(deps.config, req);
  const until = req.query.until?.trim() || '9999';
  if (until !== '9999' && !PERIOD_BOUND.test(until)) throw new MalformedRequestError('until must be a day (YYYY-MM-DD) or an ISO instant');
  const { items, nextCursor } = await deps.store.campaignsStartedPage(until, pageRequestFrom(req.query));
  const seen = new Set<string>();
  const campaigns: Campaign[] = [];
  for (const { id } of items) {
    if (seen.has(id)) continue;
    seen.add(id);
    const campaign = await deps.store.getCampaign(id);
    if (campaign) campaigns.push(campaign);
  }
  return json(200, { campaigns, ...(nextCursor ? { nextCursor } : {}) });
}

/** The review-campaign function's routes (one function serves them all, as the local server maps each). */
export async function campaignRoute(deps: LifecycleDeps, req: HttpRequest): Promise<HttpResponse> {
  if (req.method === 'POST' && req.path === '/reviews') return postReviews(deps, req);
  // The audit pack's two routes (shared/audit.ts): the campaigns of a period, and a file attached to a Jira issue.
  if (req.method === 'GET' && req.path === '/campaigns') return getCampaignList(deps, req);
  if (req.method === 'POST' && req.path === '/audit/attachments') return postAttachment(deps, req);
  if (req.method === 'GET') return getCampaignReport(deps, req);
  if (req.path.endsWith('/decisions')) return postCampaignDecision(deps, req);
  if (req.path.endsWith('/close')) return postCampaignClose(deps, req);
  throw new NotFoundError(`no route ${req.method} ${req.path}`);
}
