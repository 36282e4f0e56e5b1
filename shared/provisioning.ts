/**
 * Provisioning: an approved grant becomes access. The subject joins the membership record first
 * (write-ahead, see membership.ts), then the identity provider adds them; a manual app becomes the
 * owner's task. A grant that fails for good gives back any access it was given.
 */
import { currentAccount, ineligibility } from './accounts.js';
import { reviewOpen } from './break-glass.js';
import { cappedExpiry, describeExpiry, endDateProblem, subjectEndDate } from './end-dates.js';
import { PermanentError } from './errors.js';
import { recordEvidence } from './evidence.js';
import { loadGrant } from './grants/load.js';
import type { EvidenceEvent, Grant, GrantStatus } from './grants/model.js';
import { joinMembership, leaveMembership, membershipKeyOf } from './membership.js';
import { grantedText, tellOutcome } from './notify.js';
import { applyExtension } from './extension.js';
import { settleBundle } from './bundles.js';
import { expiryFor } from './policy.js';
import { releasable } from './release.js';
import type { LifecycleDeps } from './services.js';

// ---------------------------------------------------------------- Provision

export interface ProvisionResult {
  grantId: string;
  scheduleRevocation: boolean;
  /** A break-glass grant whose review after the fact is open: the state machine's OpenReview schedules the revocation and opens the review. */
  breakGlassReview: boolean;
  expiresAt?: string;
}

export async function provision(deps: LifecycleDeps, grantId: string): Promise<ProvisionResult> {
  const grant = await loadGrant(deps.store, grantId);
  const result = await provisionGrant(deps, grant);
  // A bundle's item granted: the bundle's summary once every item is settled (again on a retry, a no-op once written).
  // settleBundle reads every item itself, so the grant as loaded is enough (a grant never joins or leaves a bundle).
  if (grant.bundle) await settleBundle(deps, grant);
  return result;
}

async function provisionGrant(deps: LifecycleDeps, grant: Grant): Promise<ProvisionResult> {
  const grantId = grant.id;
  if (grant.extends) {
    // An extension request: the grant it extends gets the time, its schedule moves; nothing is added.
    if (grant.status === 'approved') await applyExtension(deps, grant);
    return { grantId, scheduleRevocation: false, breakGlassReview: false };
  }
  if (grant.status === 'active') return resultOf(grant);
  if (grant.status !== 'approved') throw new PermanentError(`grant ${grantId} is ${grant.status}, not approved: nothing to provision`);

  if (grant.manual || !grant.provider || !grant.groupId) {
    const at = deps.clock.now();
    // A manual app reads no identity provider: only the request's own end date caps it.
    const ended = endDateProblem(deps.catalog, grant, undefined, at);
    if (ended) throw new PermanentError(ended);
    const expires = describeExpiry(cappedExpiry(grant.duration, at, subjectEndDate(deps.catalog, grant, undefined).end), NEVER);
    const recorded = await recordEvidence(deps, grant, {
      type: 'manual_task',
      actor: 'grantline',
      via: 'system',
      at: at.toISOString(),
      summary: `manual task for ${grant.appOwner}: give ${grant.subject} the ${grant.role} role in ${grant.appName}`,
      details: {
        Owner: grant.appOwner,
        Expires: expires,
        Revocation: 'NOT automatically revocable: the owner must remove the access; Grantline will ask them at expiry',
      },
    });
    const active = await activate(deps, grant, recorded, {});
    await tellOutcome(deps, grant, `Your request ${grant.issueKey} was approved; ${grant.appOwner} will set up ${grant.appName} ${grant.role} by hand.`, {
      approvers: true,
    });
    return resultOf(active);
  }

  // Read by id, not by search: an account suspended a moment ago must not be granted.
  const user = await currentAccount(deps.idp(grant.provider), grant.subject, grant.idpUserId);
  const ineligible = ineligibility(user, grant.subject, grant.provider);
  if (ineligible || !user) throw new PermanentError(ineligible ?? `${grant.subject} has no ${grant.provider} account`);
  // The end date as the identity provider holds it now: one that passed while the request waited refuses it, before any change.
  const ended = endDateProblem(deps.catalog, grant, user.endDate, deps.clock.now());
  if (ended) throw new PermanentError(ended);
  const { preexisting, otherHolders, answer } = await joinMembership(deps, membershipKeyOf(grant, user.id), grant.subject, grant.id);

  const at = deps.clock.now();
  const expires = describeExpiry(cappedExpiry(grant.duration, at, subjectEndDate(deps.catalog, grant, user.endDate).end), NEVER);
  const recorded = await recordEvidence(deps, grant, {
    type: 'provisioned',
    actor: 'grantline',
    via: grant.provider,
    at: at.toISOString(),
    summary:
      answer === 'already_member'
        ? `${grant.subject} was already in ${grant.provider} group ${grant.groupId}; access confirmed`
        : `added ${grant.subject} to ${grant.provider} group ${grant.groupId}`,
    details: {
      Group: `${grant.groupId} (${grant.provider})`,
      'Identity provider answer': answer,
      'Membership before this grant': preexisting
        ? 'yes, from outside Grantline: it will be kept at expiry'
        : otherHolders.length
          ? `yes, from grant ${otherHolders.join(', ')}`
          : 'no',
      Expires: expires,
    },
    transitionTo: deps.config.JIRA_STATUS_GRANTED,
  });
  const active = await activate(deps, grant, recorded, { idpUserId: user.id, preexistingMembership: preexisting });
  // The person who holds the access can end it early from this message ("I'm done"), when Grantline can end it.
  await tellOutcome(deps, grant, grantedText(active), { approvers: true, release: releasable(active) });
  return resultOf(active);
}

// ---------------------------------------------------------------- Failure

/** A task failed for good (retries exhausted or a permanent error): the grant is marked failed and the evidence says why. */
const NEVER = 'never (permanent)';

/**
 * approved → active, after the evidence is in the ledger: a crash between the two is retried and
 * the grant takes the evidence's own time and expiry (capped by an end date or not), so the expiry
 * it shows is the expiry the grant has.
 */
async function activate(deps: LifecycleDeps, grant: Grant, recorded: EvidenceEvent, changes: Partial<Grant>): Promise<Grant> {
  const grantedAt = recorded.at;
  const expiresAt = expiryShown(recorded, grant);
  const updated = await deps.store.updateGrant(grant.id, ['approved'], {
    status: 'active',
    grantedAt,
    ...(expiresAt ? { expiresAt } : {}),
    ...changes,
    updatedAt: grantedAt,
  });
  return updated ?? loadGrant(deps.store, grant.id);
}

/** The expiry the evidence shows: the instant its "Expires" starts with (describeExpiry), none for "never"; computed for evidence that shows none. */
function expiryShown(recorded: EvidenceEvent, grant: Grant): string | undefined {
  const shown = recorded.details.Expires;
  if (shown === NEVER) return undefined;
  const instant = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/.exec(shown ?? '')?.[0];
  return instant ?? expiryFor(grant.duration, new Date(recorded.at))?.toISOString();
}

function resultOf(grant: Grant): ProvisionResult {
  const scheduleRevocation = grant.status === 'active' && Boolean(grant.expiresAt);
  const breakGlassReview = grant.status === 'active' && reviewOpen(grant);
  return { grantId: grant.id, scheduleRevocation, breakGlassReview, ...(grant.expiresAt ? { expiresAt: grant.expiresAt } : {}) };
}

export async function recordFailure(deps: LifecycleDeps, input: { grantId: string; error: { Error?: string; Cause?: string } }): Promise<void> {
  const grant = await deps.store.getGrant(input.grantId);
  if (grant?.status === 'failed') await settleBundle(deps, grant);
  if (!grant || !UNFINISHED.includes(grant.status)) return;
  const cause = causeText(input.error);
  // The add may have happened before the failure (a lost reply, a crash): give the access back first.
  // An extension request adds nothing: the grant it extends keeps its access and its end.
  const givenBack = grant.status === 'approved' && !grant.extends ? await giveBack(deps, grant) : undefined;
  const outcome = givenBack === 'removed' ? 'The access given during the attempt was removed' : 'Nothing was granted';
  // Evidence first: a crash before the state change is retried (the grant is still unfinished).
  const recorded = await recordEvidence(deps, grant, {
    type: 'provisioning_failed',
    actor: 'grantline',
    via: grant.provider ?? 'system',
    summary: `could not complete the request: ${cause}. ${outcome}`,
    details: { Error: input.error.Error ?? 'unknown', 'State before failure': grant.status, 'Group membership': givenBack },
  });
  const updated = await deps.store.updateGrant(grant.id, UNFINISHED, { status: 'failed', failure: cause, updatedAt: recorded.at });
  if (updated) await tellOutcome(deps, grant, `Your request ${grant.issueKey} could not be completed: ${cause}. ${outcome}.`, { approvers: true });
  if (updated) await settleBundle(deps, updated);
}

/** A grant the workflow has not finished: the only ones a failure can close. */
const UNFINISHED: GrantStatus[] = ['requested', 'pending_approval', 'approved'];

async function giveBack(deps: LifecycleDeps, grant: Grant): Promise<'removed' | 'already_absent' | 'kept' | undefined> {
  if (grant.manual || !grant.provider || !grant.groupId) return undefined;
  const userId = grant.idpUserId ?? (await deps.idp(grant.provider).findUserByEmail(grant.subject))?.id;
  if (!userId) return undefined;
  return (await leaveMembership(deps, membershipKeyOf(grant, userId), grant.subject, grant.id)).outcome;
}

/** Step Functions passes a Lambda's error as JSON ({errorType, errorMessage, trace}); locally it is plain text. */
function causeText(error: { Error?: string; Cause?: string }): string {
  let cause = error.Cause ?? '';
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') cause = parsed.errorMessage;
  } catch {
    /* plain text */
  }
  return (cause || error.Error || 'unknown error').replace(/[.\s]+$/, '');
}
