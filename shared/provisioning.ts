/**
 * Provisioning: an approved grant becomes access. The subject joins the membership record first
 * (write-ahead, see membership.ts), then the identity provider adds them; a manual app becomes the
 * owner's task. A grant that fails for good gives back any access it was given.
 */
import { currentAccount, ineligibility } from './accounts.js';
import { PermanentError } from './errors.js';
import { recordEvidence } from './evidence.js';
import { loadGrant } from './grants/load.js';
import type { Grant } from './grants/model.js';
import { joinMembership, leaveMembership, membershipKeyOf } from './membership.js';
import { tellRequester } from './notify.js';
import { expiryFor } from './policy.js';
import type { LifecycleDeps } from './services.js';

// ---------------------------------------------------------------- Provision

export interface ProvisionResult {
  grantId: string;
  scheduleRevocation: boolean;
  expiresAt?: string;
}

export async function provision(deps: LifecycleDeps, grantId: string): Promise<ProvisionResult> {
  const grant = await loadGrant(deps.store, grantId);
  if (grant.status === 'active') return { grantId, scheduleRevocation: Boolean(grant.expiresAt), ...(grant.expiresAt ? { expiresAt: grant.expiresAt } : {}) };
  if (grant.status !== 'approved') throw new PermanentError(`grant ${grantId} is ${grant.status}, not approved: nothing to provision`);

  const grantedAt = deps.clock.now();
  const expiresAt = expiryFor(grant.duration, grantedAt)?.toISOString();
  const expiryText = expiresAt ?? 'never (permanent)';

  if (grant.manual || !grant.provider || !grant.groupId) {
    const updated = await deps.store.updateGrant(grantId, ['approved'], { status: 'active', grantedAt: grantedAt.toISOString(), ...(expiresAt ? { expiresAt } : {}), updatedAt: grantedAt.toISOString() });
    if (!updated) return provision(deps, grantId);
    await recordEvidence(deps, grant, {
      type: 'manual_task',
      actor: 'grantline',
      via: 'system',
      at: grantedAt.toISOString(),
      summary: `manual task for ${grant.appOwner}: give ${grant.subject} the ${grant.role} role in ${grant.appName}`,
      details: {
        Owner: grant.appOwner,
        Expires: expiryText,
        Revocation: 'NOT automatically revocable: the owner must remove the access; Grantline will ask them at expiry',
      },
    });
    await tellRequester(deps, grant, `Your request ${grant.issueKey} was approved; ${grant.appOwner} will set up ${grant.appName} ${grant.role} by hand.`);
    return { grantId, scheduleRevocation: Boolean(expiresAt), ...(expiresAt ? { expiresAt } : {}) };
  }

  // Read by id, not by search: an account suspended a moment ago must not be granted.
  const user = await currentAccount(deps.idp(grant.provider), grant.subject);
  const ineligible = ineligibility(user, grant.subject, grant.provider);
  if (ineligible || !user) throw new PermanentError(ineligible ?? `${grant.subject} has no ${grant.provider} account`);
  const { preexisting, otherHolders, answer } = await joinMembership(deps, membershipKeyOf(grant, user.id), grant.subject, grant.id);

  const updated = await deps.store.updateGrant(grantId, ['approved'], {
    status: 'active',
    grantedAt: grantedAt.toISOString(),
    ...(expiresAt ? { expiresAt } : {}),
    idpUserId: user.id,
    preexistingMembership: preexisting,
    updatedAt: grantedAt.toISOString(),
  });
  if (!updated) return provision(deps, grantId);
  await recordEvidence(deps, grant, {
    type: 'provisioned',
    actor: 'grantline',
    via: grant.provider,
    at: grantedAt.toISOString(),
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
      Expires: expiryText,
    },
    transitionTo: deps.config.JIRA_STATUS_GRANTED,
  });
  await tellRequester(deps, grant, `Access granted: ${grant.subject} now has ${grant.appName} ${grant.role}${expiresAt ? ` until ${expiresAt}` : ''} (${grant.issueKey}).`);
  return { grantId, scheduleRevocation: Boolean(expiresAt), ...(expiresAt ? { expiresAt } : {}) };
}

// ---------------------------------------------------------------- Failure

/** A task failed for good (retries exhausted or a permanent error): the grant is marked failed and the evidence says why. */
export async function recordFailure(deps: LifecycleDeps, input: { grantId: string; error: { Error?: string; Cause?: string } }): Promise<void> {
  const grant = await deps.store.getGrant(input.grantId);
  if (!grant) return;
  const cause = causeText(input.error);
  // The add may have happened before the failure (a lost reply, a crash): give the access back first.
  const givenBack = grant.status === 'approved' ? await giveBack(deps, grant) : undefined;
  const outcome = givenBack === 'removed' ? 'The access given during the attempt was removed' : 'Nothing was granted';
  const now = deps.clock.now().toISOString();
  const updated = await deps.store.updateGrant(grant.id, ['requested', 'pending_approval', 'approved'], { status: 'failed', failure: cause, updatedAt: now });
  if (!updated) return;
  await recordEvidence(deps, grant, {
    type: 'provisioning_failed',
    actor: 'grantline',
    via: grant.provider ?? 'system',
    at: now,
    summary: `could not complete the request: ${cause}. ${outcome}`,
    details: { Error: input.error.Error ?? 'unknown', 'State before failure': grant.status, 'Group membership': givenBack },
  });
  await tellRequester(deps, grant, `Your request ${grant.issueKey} could not be completed: ${cause}. ${outcome}.`);
}

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
