/**
 * Break-glass with review after the fact. A role with `breakGlass: true` may be taken in an
 * incident without waiting for an approver:
 *
 * - The request says it is break-glass and carries an incident reference (matching the catalog's
 *   breakGlass.referencePattern) and a reason (its justification). Intake refuses one without them,
 *   or on a role that does not allow it, with a 422, a comment to the requester and a ledger entry
 *   (shared/intake.ts). A request for the same role without the break-glass flag goes through the
 *   role's approval chain as usual.
 * - At planning the requester's own approval is recorded ("approved by … under break-glass,
 *   incident …"), naming the reviewers: the role's approver group members, never the requester or
 *   the subject, deactivated accounts left out. Nobody left to review it: the request is denied.
 *   The access then starts through the usual Provision path, for at most the role's maxDuration.
 * - The state machine's OpenReview state schedules the revocation (as ScheduleRevocation does) and
 *   opens the review: every reviewer (DM) and the catalog's notifyChannel get the notice with a
 *   "Reviewed" button, and the issue gets the evidence. AwaitReview waits (a Wait state: durable,
 *   it survives restarts) until the review is due; ReviewDue then settles it.
 * - The review is settled once, by a conditional write on the grant: a reviewer's click
 *   (confirmReview) or the deadline (reviewDue), whichever writes first. Confirmed: "break-glass
 *   reviewed by …". Not confirmed in time: flagged on the issue and in the audit answers, and, with
 *   `onUnreviewed: revoke`, the state machine's RevokeUnreviewed revokes it through the revoke path.
 * - A click by anyone else (the requester, someone outside the group, or after the review was
 *   settled) changes nothing; it is recorded and the clicker is told why.
 */
import { currentAccount } from './accounts.js';
import type { ResolvedRole } from './catalog/catalog.js';
import type { Catalog } from './catalog/schema.js';
import { describeDuration, durationMs } from './duration.js';
import { errorMessage, RetryableError } from './errors.js';
import { deliverPending, recordEvidence, type EvidenceInput } from './evidence.js';
import { loadGrant } from './grants/load.js';
import type { BreakGlass, BreakGlassReview, Grant } from './grants/model.js';
import type { ChatMessageRef } from './ports.js';
import { scheduleRevocation } from './revocation.js';
import type { LifecycleDeps, Services } from './services.js';

// ---------------------------------------------------------------- The request

const YES = /^(y|yes|true|on|1|break[- ]?glass\b.*)$/i;
const NO = /^(|n|no|false|off|0|none)$/i;

/**
 * What the request's break-glass field says: true, false (empty, "no", "false"), or undefined when
 * it cannot be read as either (a value that may mean yes is not taken for no, nor for yes).
 */
export function breakGlassFlag(text: string | undefined): boolean | undefined {
  const value = (text ?? '').trim();
  if (NO.test(value)) return false;
  if (YES.test(value)) return true;
  return undefined;
}

/** The problems of a break-glass request's incident reference (the reason is the justification, checked with the other fields). */
export function incidentProblems(catalog: Catalog, incident: string | undefined, label: string): string[] {
  const reference = incident?.trim() ?? '';
  const pattern = catalog.breakGlass.referencePattern;
  if (!reference) return [`${label} is missing: a break-glass request must name its incident (a reference matching ${pattern})`];
  if (!new RegExp(pattern).test(reference)) {
    const shown = reference.length > 40 ? `${reference.slice(0, 40)}…` : reference;
    return [`${label} "${shown}" is not an incident reference: it must match ${pattern}`];
  }
  return [];
}

/** A break-glass request for a role that does not allow it: what the requester can do instead. */
export function notBreakGlassRole(catalog: Catalog, resolved: ResolvedRole): string {
  const allowed = Object.entries(catalog.apps).flatMap(([, app]) =>
    Object.entries(app.roles)
      .filter(([, role]) => role.breakGlass)
      .map(([key]) => `${app.name} ${key}`),
  );
  return (
    `${resolved.app.name} ${resolved.roleKey} does not allow break-glass: ask for it without break-glass (it is approved as usual)` +
    (allowed.length > 0 ? `, or choose a role that allows it (${allowed.join(', ')})` : '')
  );
}

/** The break-glass part of a new grant: the incident and the catalog's settings as they are now. */
export function breakGlassOf(catalog: Catalog, incident: string): BreakGlass {
  const settings = catalog.breakGlass;
  return {
    incident: incident.trim(),
    reviewWithinSeconds: Math.round(durationMs(settings.reviewWithin)! / 1000),
    onUnreviewed: settings.onUnreviewed,
    ...(settings.notifyChannel ? { notifyChannel: settings.notifyChannel } : {}),
  };
}

/** A refused break-glass request, for the ledger (recorded under the grant id the issue would have). */
export function refusedEvidence(input: { requester: string; incident?: string; source: string }, problems: string[], at: string): EvidenceInput {
  return {
    type: 'break_glass_refused',
    key: `break_glass_refused#${at}`,
    at,
    actor: input.requester || 'unknown requester',
    via: input.source,
    summary: `refused a break-glass request${input.requester ? ` by ${input.requester}` : ''}: ${problems.join('; ')}`,
    details: { Incident: input.incident?.trim() || '(none given)', Outcome: 'nothing was granted; the requester was told what to correct' },
  };
}

// ---------------------------------------------------------------- The requester's approval (planning)

/**
 * Who reviews a break-glass use: the members of the role's approver group steps, never the
 * requester or the subject, without deactivated accounts. Empty: nobody can, and the request is denied.
 */
export async function breakGlassReviewers(deps: LifecycleDeps, grant: Grant, resolved: ResolvedRole): Promise<string[]> {
  const excluded = new Set([grant.requester, grant.subject]);
  const members = resolved.role.approval.flatMap((step) =>
    typeof step === 'object' && 'group' in step ? (deps.catalog.approverGroups[step.group] ?? []) : [],
  );
  const eligible = [...new Set(members.map((m) => m.toLowerCase()))].filter((m) => !excluded.has(m));
  if (!grant.provider) return eligible;
  const out: string[] = [];
  for (const reviewer of eligible) {
    const account = await currentAccount(deps.idp(grant.provider), reviewer);
    if (!account || account.active) out.push(reviewer);
  }
  return out;
}

/** Why a break-glass request has nobody to review it. */
export function noReviewerReason(resolved: ResolvedRole): string {
  const groups = resolved.role.approval.flatMap((step) => (typeof step === 'object' && 'group' in step ? [step.group] : []));
  return `break-glass needs someone to review it after the fact, and no member of ${groups.join(', ')} can: the requester and the subject never review it, and deactivated accounts do not count`;
}

/**
 * The requester approves their own break-glass request. Evidence first, then the state change (only
 * the workflow approves it): a crash between the two is retried and takes the evidence's own time,
 * so the review's deadline is the same whichever attempt writes it.
 */
export async function approveBreakGlass(deps: LifecycleDeps, grant: Grant, reviewers: string[], account: Partial<Grant>): Promise<Grant> {
  const bg = grant.breakGlass!;
  const recorded = await recordEvidence(
    deps,
    grant,
    {
      type: 'break_glass_approved',
      actor: grant.requester,
      via: grant.source,
      summary: `approved by ${grant.requester} under break-glass, incident ${bg.incident}: ${clip(grant.justification, 200)}`,
      details: {
        Incident: bg.incident,
        Reason: grant.justification,
        Duration: `${grant.duration} (${describeDuration(grant.duration)}), starting now`,
        'Review after the fact': `by one of ${reviewers.join(', ')} within ${describeDuration(`PT${bg.reviewWithinSeconds}S`)}`,
        'If nobody confirms it': unreviewedText(bg),
      },
    },
    { deliverNow: false },
  );
  const at = recorded.at;
  const reviewDueAt = new Date(new Date(at).getTime() + bg.reviewWithinSeconds * 1000).toISOString();
  return (
    (await deps.store.updateGrant(grant.id, ['requested'], {
      status: 'approved',
      decidedAt: at,
      decidedBy: grant.requester,
      breakGlass: { ...bg, reviewers, reviewDueAt },
      updatedAt: at,
      ...account,
    })) ?? loadGrant(deps.store, grant.id)
  );
}

/** A review that is still to be settled: a break-glass grant self-approved and neither confirmed nor past its deadline. */
export function reviewOpen(grant: Grant): boolean {
  return Boolean(grant.breakGlass?.reviewDueAt) && !grant.breakGlassReview;
}

// ---------------------------------------------------------------- OpenReview (state machine)

/**
 * The OpenReview state: the revocation is scheduled (the ScheduleRevocation step, which break-glass
 * grants take here), then the review is opened: the notice with the "Reviewed" button to the
 * channel and every reviewer not yet told (each message kept as soon as it is posted, so a retried
 * task tells nobody twice), and the evidence. Returns how long AwaitReview waits: until the review is due.
 */
export async function openReview(deps: LifecycleDeps, grantId: string): Promise<{ waitSeconds: number }> {
  await scheduleRevocation(deps, grantId);
  const grant = await loadGrant(deps.store, grantId);
  const bg = grant.breakGlass;
  if (!bg?.reviewDueAt || !reviewOpen(grant)) return { waitSeconds: 0 };
  const { told, unreachable } = await tellReviewers(deps, grant, bg);
  await recordEvidence(deps, grant, {
    type: 'break_glass_review_opened',
    actor: 'grantline',
    via: 'slack',
    summary: `review after the fact asked of ${(bg.reviewers ?? []).join(', ')}: one of them must confirm this break-glass by ${bg.reviewDueAt}`,
    details: {
      Reviewers: (bg.reviewers ?? []).join(', '),
      'Told in Slack': told.join(', ') || 'nobody (see below)',
      'Not reachable in Slack': unreachable.map((u) => `${u.who} (${u.why})`).join(', ') || undefined,
      'Review by': bg.reviewDueAt,
      'If nobody confirms it': unreviewedText(bg),
    },
  });
  const seconds = Math.ceil((new Date(bg.reviewDueAt).getTime() - deps.clock.now().getTime()) / 1000);
  return { waitSeconds: Math.max(0, seconds) };
}

/** Posts the notice to the channel and DMs each reviewer not yet told. A transient Slack fault is retried by the workflow; a refusal is recorded and skipped. */
async function tellReviewers(deps: LifecycleDeps, grant: Grant, bg: BreakGlass): Promise<{ told: string[]; unreachable: Array<{ who: string; why: string }> }> {
  const messages = [...(grant.breakGlassMessages ?? [])];
  const unreachable: Array<{ who: string; why: string }> = [];
  const text = reviewText(grant);
  const targets = [...(bg.notifyChannel ? [`channel:${bg.notifyChannel}`] : []), ...(bg.reviewers ?? [])];
  for (const target of targets) {
    if (messages.some((m) => m.to === target)) continue;
    let why: string;
    try {
      const to = target.startsWith('channel:') ? target.slice('channel:'.length) : await deps.chat.userIdByEmail(target);
      if (to) {
        messages.push({ to: target, ...(await deps.chat.notify(to, text, { review: grant.id })) });
        await deps.store.setBreakGlassMessages(grant.id, messages);
        continue;
      }
      why = 'no Slack account with this email';
    } catch (err) {
      if (err instanceof RetryableError) throw err;
      why = `Slack refused the message: ${errorMessage(err)}`;
    }
    deps.logger.warn('a break-glass reviewer cannot be told in Slack', { grantId: grant.id, who: target, why });
    unreachable.push({ who: target.replace(/^channel:/, 'channel '), why });
  }
  return { told: messages.map((m) => m.to.replace(/^channel:/, 'channel ')), unreachable };
}

/** The notice the reviewers and the channel get (and keep, without the button, once the review is settled). */
export function reviewText(grant: Grant): string {
  const bg = grant.breakGlass!;
  const forWhom = grant.subject === grant.requester ? '' : ` for ${grant.subject}`;
  const until = grant.expiresAt ? ` until ${shortTime(grant.expiresAt)}` : '';
  return (
    `Break-glass: ${grant.requester} took ${grant.appName} ${grant.role}${forWhom} for ${describeDuration(grant.duration)}${until} (${grant.issueKey}), ` +
    `incident ${bg.incident}, reason: ${clip(grant.justification, 300)}. ` +
    `Review it by ${bg.reviewDueAt ? shortTime(bg.reviewDueAt) : 'the deadline'}: one of ${(bg.reviewers ?? []).join(', ')} must confirm it with Reviewed.`
  );
}

// ---------------------------------------------------------------- ReviewDue (state machine)

/**
 * The ReviewDue state: the review's deadline. Unless a reviewer confirmed it first, the review is
 * settled as not confirmed (the same conditional write a click makes, so exactly one wins), then
 * the evidence flags it and the Slack notices lose their button. Answers whether the access is to
 * be revoked (`onUnreviewed: revoke` and still active): the state machine's RevokeUnreviewed does
 * it through the revoke path. Each step is idempotent: a retry after a crash finds the settled
 * review and finishes the rest.
 */
export async function reviewDue(deps: LifecycleDeps, grantId: string): Promise<{ revoke: boolean }> {
  let grant = await loadGrant(deps.store, grantId);
  const bg = grant.breakGlass;
  if (!bg?.reviewDueAt) return { revoke: false };
  if (!grant.breakGlassReview) {
    grant =
      (await deps.store.settleBreakGlassReview(grant.id, { outcome: 'unreviewed', at: deps.clock.now().toISOString() })) ??
      (await loadGrant(deps.store, grantId));
  }
  const review = grant.breakGlassReview!;
  if (review.outcome === 'confirmed') {
    // The confirmation's evidence was recorded in Slack's 3 seconds: it reaches Jira now if the periodic flush has not posted it.
    await deliverPending(deps, grant.id);
    return { revoke: false };
  }
  const revoking = bg.onUnreviewed === 'revoke' && grant.status === 'active';
  await recordEvidence(deps, grant, {
    type: 'break_glass_unreviewed',
    actor: 'grantline',
    via: 'timeout',
    at: review.at,
    summary:
      `FLAGGED: break-glass not reviewed within ${describeDuration(`PT${bg.reviewWithinSeconds}S`)}: nobody confirmed incident ${bg.incident} by ${bg.reviewDueAt}` +
      (revoking ? '; the access is revoked now' : ''),
    details: {
      Incident: bg.incident,
      Reviewers: (bg.reviewers ?? []).join(', '),
      'Review was due': bg.reviewDueAt,
      'On unreviewed':
        bg.onUnreviewed === 'revoke'
          ? revoking
            ? 'revoke: the access is revoked now'
            : `revoke: the access had already ended (${grant.status})`
          : 'flag: kept in the audit as not reviewed',
    },
  });
  await showSettled(deps, grant, `Not reviewed by ${shortTime(bg.reviewDueAt)}: flagged on ${grant.issueKey}${revoking ? ', and the access is revoked' : ''}.`);
  return { revoke: revoking };
}

// ---------------------------------------------------------------- "Reviewed" in Slack

export type ReviewDeps = Pick<Services, 'store' | 'ticketing' | 'clock' | 'logger' | 'config' | 'chat'>;

export interface ReviewClick {
  grantId: string;
  /** Email of the person who clicked (resolved from Slack, normalised); undefined when Slack would not say. */
  clickerEmail: string | undefined;
  /** Their Slack user id. */
  clickerRef: string;
}

export type ReviewResult = { outcome: 'recorded' } | { outcome: 'refused'; reason: string } | { outcome: 'already_settled'; reason: string };

/**
 * A click on "Reviewed". Only a reviewer the grant names (a member of the role's approver group,
 * never the requester or the subject) may confirm it, and only while the review is open; the
 * confirmation is one conditional write, so a double click, two reviewers at once or a click racing
 * the deadline settle it once. Runs inside Slack's 3 seconds: the evidence is delivered by the
 * periodic flush (or ReviewDue), and every notice of the review loses its button at once.
 */
export async function confirmReview(deps: ReviewDeps, click: ReviewClick): Promise<ReviewResult> {
  const grant = await deps.store.getGrant(click.grantId);
  const bg = grant?.breakGlass;
  if (!grant || !bg?.reviewDueAt) return { outcome: 'refused', reason: 'this break-glass review is unknown to Grantline' };
  const now = deps.clock.now().toISOString();
  const who = click.clickerEmail; // normalised at the edge (shared/email.ts)
  const reviewers = bg.reviewers ?? [];
  const refusal = !who
    ? 'Grantline cannot see your email address in Slack, so it cannot check that you are a reviewer'
    : who === grant.requester || who === grant.subject
      ? 'you cannot review a break-glass you used or asked for'
      : !reviewers.includes(who)
        ? `only ${reviewers.join(', ')} can review this break-glass`
        : undefined;
  const recordRefusal = (reason: string) =>
    recordEvidence(
      deps,
      grant,
      {
        type: 'break_glass_review_refused',
        key: `break_glass_review_refused#${click.clickerRef}#${now}`,
        actor: who ?? `slack user ${click.clickerRef}`,
        via: 'slack',
        at: now,
        summary: `refused a break-glass review by ${who ?? `Slack user ${click.clickerRef}`}: ${reason}`,
        details: { Incident: bg.incident },
      },
      { deliverNow: false },
    );
  if (refusal) {
    await recordRefusal(refusal);
    return { outcome: 'refused', reason: refusal };
  }
  // Settled before this click, or by another writer (a reviewer, the deadline) while it was on its way: refused, as a late decision is.
  const won = grant.breakGlassReview ? undefined : await deps.store.settleBreakGlassReview(grant.id, { outcome: 'confirmed', by: who!, at: now });
  if (!won) {
    const latest = grant.breakGlassReview ? grant : ((await deps.store.getGrant(grant.id)) ?? grant);
    const reason = describeSettled(latest, latest.breakGlassReview);
    await recordRefusal(reason);
    return { outcome: 'already_settled', reason };
  }
  await recordEvidence(deps, won, reviewedEvidence(won), { deliverNow: false });
  await showSettled(deps, won, `Reviewed by ${who} at ${shortTime(now)}.`);
  return { outcome: 'recorded' };
}

function reviewedEvidence(grant: Grant): EvidenceInput {
  const bg = grant.breakGlass!;
  const review = grant.breakGlassReview!;
  return {
    type: 'break_glass_reviewed',
    actor: review.by ?? 'unknown',
    via: 'slack',
    at: review.at,
    summary: `break-glass reviewed by ${review.by} at ${review.at}`,
    details: { Reviewer: review.by, Incident: bg.incident, 'Review was due': bg.reviewDueAt },
  };
}

function describeSettled(grant: Grant, review: BreakGlassReview | undefined): string {
  if (review?.outcome === 'confirmed') return `this break-glass was already reviewed by ${review.by} at ${shortTime(review.at)}`;
  const due = grant.breakGlass?.reviewDueAt;
  return `the review was due ${due ? `at ${shortTime(due)}` : 'earlier'}; this break-glass is flagged as not reviewed`;
}

/** Every notice of the review shows how it was settled, without the button. Best effort: Slack faults are logged. */
async function showSettled(deps: Pick<Services, 'chat' | 'logger'>, grant: Grant, outcome: string): Promise<void> {
  const text = reviewText(grant);
  await Promise.all(
    (grant.breakGlassMessages ?? []).map(async (m) => {
      const ref: ChatMessageRef = { channel: m.channel, ts: m.ts };
      try {
        await deps.chat.showReleased(ref, text, outcome);
      } catch (err) {
        deps.logger.warn('could not update a break-glass review message', { grantId: grant.id, error: errorMessage(err) });
      }
    }),
  );
}

// ---------------------------------------------------------------- The audit's answer

export interface BreakGlassAnswer {
  incident: string;
  reason: string;
  reviewers: string[];
  reviewDue?: string;
  /** open: still to be confirmed; confirmed: by a reviewer; not reviewed: nobody confirmed it in time (flagged). */
  review: 'open' | 'confirmed' | 'not reviewed';
  reviewedBy?: string;
  reviewedAt?: string;
  /** Not reviewed in time: to be followed up. */
  flagged: boolean;
  onUnreviewed: 'flag' | 'revoke';
}

export function breakGlassAnswer(grant: Grant): BreakGlassAnswer | undefined {
  const bg = grant.breakGlass;
  if (!bg) return undefined;
  const review = grant.breakGlassReview;
  return {
    incident: bg.incident,
    reason: grant.justification,
    reviewers: bg.reviewers ?? [],
    ...(bg.reviewDueAt ? { reviewDue: bg.reviewDueAt } : {}),
    review: !review ? 'open' : review.outcome === 'confirmed' ? 'confirmed' : 'not reviewed',
    ...(review?.by ? { reviewedBy: review.by } : {}),
    ...(review?.outcome === 'confirmed' ? { reviewedAt: review.at } : {}),
    flagged: review?.outcome === 'unreviewed',
    onUnreviewed: bg.onUnreviewed,
  };
}

// ---------------------------------------------------------------- helpers

function unreviewedText(bg: BreakGlass): string {
  return bg.onUnreviewed === 'revoke' ? 'flagged on this issue and in the audit, and the access is revoked' : 'flagged on this issue and in the audit';
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function shortTime(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}
