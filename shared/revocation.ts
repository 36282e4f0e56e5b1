/**
 * Revocation: the one path that ends a grant, whatever the reason (expiry, early release, access
 * review, offboarding). The grant leaves its membership record; the person is removed from the
 * group only when no other grant holds the membership and it did not exist before Grantline.
 */
import { resolveRole } from './catalog/catalog.js';
import { recordEvidence, type EvidenceInput } from './evidence.js';
import { loadGrant } from './grants/load.js';
import { scheduleNameFor } from './grants/model.js';
import { leaveMembership, membershipKeyOf } from './membership.js';
import type { LifecycleDeps } from './services.js';

// ---------------------------------------------------------------- Schedule and revoke

export async function scheduleRevocation(deps: LifecycleDeps, grantId: string): Promise<{ scheduled: boolean }> {
  const grant = await loadGrant(deps.store, grantId);
  if (grant.status !== 'active' || !grant.expiresAt) return { scheduled: false };
  if (new Date(grant.expiresAt) <= deps.clock.now()) {
    await revoke(deps, { grantId, reason: 'expired' });
    return { scheduled: false };
  }
  const result = await deps.scheduler.schedule(grantId, new Date(grant.expiresAt));
  await recordEvidence(deps, grant, {
    type: 'revocation_scheduled',
    actor: 'grantline',
    via: 'scheduler',
    summary: grant.manual ? `removal reminder for ${grant.appOwner} scheduled at ${grant.expiresAt}` : `revocation scheduled at ${grant.expiresAt}`,
    details: { 'Revoke at': grant.expiresAt, Schedule: scheduleNameFor(grantId), 'Schedule state': result },
  });
  return { scheduled: true };
}

export const REVOKE_REASONS = ['expired', 'early_release', 'access_review', 'offboarding', 'no_schedule', 'unreviewed_break_glass'] as const;
export type RevokeReason = (typeof REVOKE_REASONS)[number];

/** How each reason reads in the evidence (shared/notices.ts ENDED_BECAUSE says each in the requester's words). */
export const REASON_TEXT: Record<RevokeReason, string> = {
  expired: 'expired',
  early_release: 'early release',
  access_review: 'access review',
  offboarding: 'offboarding',
  no_schedule: 'no revocation schedule could be created, so the access ends now',
  unreviewed_break_glass: 'break-glass not reviewed in time',
};

export interface RevokeResult {
  grantId: string;
  outcome: 'removed' | 'already_absent' | 'kept' | 'manual_task' | 'not_active';
}

/**
 * Ends a grant. The membership is removed unless another active grant or a membership that
 * existed before this grant still needs it. Runs any number of times: only the first does anything.
 */
export async function revoke(deps: LifecycleDeps, input: { grantId: string; reason: RevokeReason; actor?: string; expiry?: string }): Promise<RevokeResult> {
  const grant = await loadGrant(deps.store, input.grantId);
  if (grant.status !== 'active') return { grantId: grant.id, outcome: 'not_active' };
  const now = deps.clock.now().toISOString();
  // Write-ahead: the grant is marked as ending before anything is removed, so an extension approved
  // meanwhile cannot move its expiry (shared/extension.ts). A schedule's firing names the expiry it
  // was made for: one that fires at the old time after an extension moved the expiry ends nothing.
  if (!(await deps.store.markEnding(grant.id, now, input.expiry))) return { grantId: grant.id, outcome: 'not_active' };
  const actor = input.actor ?? (input.reason === 'expired' ? 'scheduler' : 'grantline');
  // An early release names who ended the access (the person who clicked "I'm done", or the API caller).
  const why = input.reason === 'early_release' && input.actor ? `released early by ${input.actor}` : REASON_TEXT[input.reason];

  let outcome: RevokeResult['outcome'];
  let keptBecause: string | undefined;
  let sessions: string | undefined;
  if (grant.manual || !grant.provider || !grant.groupId) {
    outcome = 'manual_task';
  } else {
    const userId = grant.idpUserId ?? (await deps.idp(grant.provider).findUserByEmail(grant.subject))?.id;
    // The grant stays active until its membership is settled, so a crash here is finished by the retry.
    const left = userId ? await leaveMembership(deps, membershipKeyOf(grant, userId), grant.subject, grant.id) : { outcome: 'already_absent' as const };
    outcome = left.outcome;
    keptBecause = left.keptBecause;
    // A role with endSessions: a session opened while the access was held ends with it (again on a retry: harmless).
    // Not when the membership stays: the person still holds the access another way.
    if (userId && outcome !== 'kept' && resolveRole(deps.catalog, grant.app, grant.role)?.role.endSessions) {
      const ended = await deps.idp(grant.provider).endSessions(userId);
      sessions = ended === 'ended' ? `ended in ${grant.provider}` : `${grant.provider} has no account for ${grant.subject}: no session to end`;
    }
  }
  // Evidence first, under one key whatever the outcome: a crash before the state change is finished
  // by the retry (the grant is still active), and two revokers at once leave one end event.
  const timing = { 'Scheduled for': grant.expiresAt, 'Revoked at': now, Reason: REASON_TEXT[input.reason] };
  const ending: Omit<EvidenceInput, 'actor'> =
    outcome === 'manual_task'
      ? {
          type: 'manual_removal_task',
          via: 'system',
          summary: `manual removal task for ${grant.appOwner}: remove ${grant.subject}'s ${grant.role} role in ${grant.appName} (${why})`,
          details: { ...timing, Owner: grant.appOwner, Note: 'not automatically revocable: Grantline cannot confirm the removal' },
        }
      : outcome === 'kept'
        ? {
            type: 'revocation_kept_membership',
            via: grant.provider!,
            summary: `grant ended (${why}); ${grant.subject} stays in ${grant.provider} group ${grant.groupId}: ${keptBecause}`,
            details: { ...timing, Group: `${grant.groupId} (${grant.provider})` },
          }
        : {
            type: 'revoked',
            via: grant.provider!,
            summary: `removed ${grant.subject} from ${grant.provider} group ${grant.groupId} (${why})`,
            details: { ...timing, Group: `${grant.groupId} (${grant.provider})`, 'Identity provider answer': outcome, Sessions: sessions },
          };
  const recorded = await recordEvidence(deps, grant, { ...ending, key: 'revoked', actor, at: now, transitionTo: deps.config.JIRA_STATUS_REVOKED });
  const updated = await deps.store.updateGrant(grant.id, ['active'], {
    status: 'revoked',
    revokedAt: recorded.at,
    revokeReason: input.reason,
    ...(grant.expiresAt ? { scheduledRevocationAt: grant.expiresAt } : {}),
    updatedAt: recorded.at,
  });
  if (!updated) return { grantId: grant.id, outcome: 'not_active' };
  if (input.reason !== 'expired') await deps.scheduler.cancel(grant.id);
  return { grantId: grant.id, outcome };
}
