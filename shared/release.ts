/**
 * Early release from Slack ("I'm done"): the person who holds an access ends it from the "Access
 * granted" message, before its scheduled end.
 *
 * - The button is offered only on grants whose end Grantline carries out itself (releasable): an
 *   identity-provider group membership that did not exist before the grant. A manual app's access
 *   is removed by its owner, and a membership from outside Grantline is never removed, so there
 *   "I'm done" would promise what Grantline cannot do.
 * - Who may release: the person the access is for, or the person who asked for it (a manager who
 *   asked for a new hire). Ending access only takes it away, but nobody else may end someone's
 *   access: their click is refused, and the refusal recorded (who, where, why) as a refused approval is.
 * - A click that may release is receipted by a conditional write (`slack-release:<grant id>`), so a
 *   double click or a replayed payload releases once, recorded in the ledger, and handed to the
 *   revoke path as a job: Slack allows 3 s, the identity provider and Jira may take longer. The
 *   message loses its button at once. The revocation's evidence says who released it, and Jira's
 *   notice tells the requester the access has ended.
 * - A click on an access that has already ended says so and changes nothing (the message loses its button).
 */
import { recordEvidence } from './evidence.js';
import { errorMessage } from './errors.js';
import type { Grant } from './grants/model.js';
import { grantedText } from './notify.js';
import type { ChatMessageRef } from './ports.js';
import { REASON_TEXT, REVOKE_REASONS, type RevokeReason } from './revocation.js';
import type { Services } from './services.js';

export type ReleaseDeps = Pick<Services, 'store' | 'ticketing' | 'clock' | 'logger' | 'config' | 'chat' | 'jobs'>;

/** Whether the holder of this grant is offered "I'm done": an active grant whose end Grantline carries out itself. */
export function releasable(grant: Grant): boolean {
  return grant.status === 'active' && !grant.manual && Boolean(grant.provider && grant.groupId) && !grant.preexistingMembership;
}

export interface ReleaseClick {
  grantId: string;
  /** Email of the person who clicked (resolved from Slack, normalised); undefined when Slack would not say. */
  clickerEmail: string | undefined;
  /** Their Slack user id. */
  clickerRef: string;
  /** The message clicked, to replace its button with what happened. */
  message?: ChatMessageRef;
}

export type ReleaseResult =
  | { outcome: 'accepted' }
  | { outcome: 'refused'; reason: string }
  | { outcome: 'already_ended'; reason: string }
  | { outcome: 'under_way'; reason: string };

/** The receipt of an accepted release: one per grant (shared/store/idempotency.ts). */
export const releaseReceiptKey = (grantId: string) => `slack-release:${grantId}`;

/** A click on "I'm done". Runs inside Slack's 3-second window: checks, receipts and records; the revocation is a job. */
export async function requestRelease(deps: ReleaseDeps, click: ReleaseClick): Promise<ReleaseResult> {
  const grant = await deps.store.getGrant(click.grantId);
  if (!grant) return { outcome: 'refused', reason: 'this access is unknown to Grantline' };
  const at = deps.clock.now().toISOString();
  const who = click.clickerEmail; // normalised at the edge (shared/email.ts)

  const refusal = !who
    ? 'Grantline cannot see your email address in Slack, so it cannot check that this access is yours'
    : who !== grant.subject && who !== grant.requester
      ? `only ${grant.subject}, whose access it is,${grant.requester === grant.subject ? '' : ` or ${grant.requester}, who asked for it,`} can end it early`
      : undefined;
  if (refusal) {
    const clicker = who ?? `Slack user ${click.clickerRef}`;
    // Deferred to the next delivery (the periodic flush, or the grant's next step): Slack allows 3 s.
    await recordEvidence(
      deps,
      grant,
      {
        type: 'release_refused',
        key: `release_refused#${click.clickerRef}#${at}`,
        actor: clicker,
        via: 'slack',
        at,
        summary: `refused an early release ("I'm done") by ${clicker}: ${refusal}`,
        details: { 'Grant status': grant.status },
      },
      { deliverNow: false },
    );
    return { outcome: 'refused', reason: refusal };
  }

  if (grant.status !== 'active') {
    const reason = endedLine(grant);
    await showOnMessage(deps, grant, click.message, `${reason}.`);
    return { outcome: 'already_ended', reason };
  }

  const receiptKey = releaseReceiptKey(grant.id);
  // Listed as unfinished until the revocation has run: a local runtime killed meanwhile runs it again at start.
  const claim = await deps.store.commands.claim(receiptKey, at, { grantId: grant.id, actor: who! });
  if (claim.status === 'seen') return { outcome: 'under_way', reason: 'this access is already being released' };
  try {
    await recordEvidence(
      deps,
      grant,
      {
        type: 'release_requested',
        actor: who!,
        via: 'slack',
        at,
        summary: `${who} ended the access early in Slack ("I'm done"); Grantline removes it now`,
        details: {
          'Released by': who === grant.subject ? `${who} (whose access it is)` : `${who} (who asked for it)`,
          'Scheduled end': grant.expiresAt ?? 'none (permanent)',
        },
      },
      { deliverNow: false },
    );
    await deps.jobs.release({ grantId: grant.id, actor: who! });
  } catch (err) {
    // Nothing was handed over: the next click may try again (the evidence, if written, is not written twice).
    await deps.store.commands
      .release(receiptKey)
      .catch((e: unknown) => deps.logger.warn('could not take back the release receipt', { error: errorMessage(e) }));
    throw err;
  }
  await showOnMessage(
    deps,
    grant,
    click.message,
    `Released early by ${who} at ${shortTime(at)}: Grantline is removing the access now (${grant.issueKey} records when it has ended).`,
  );
  return { outcome: 'accepted' };
}

/** "This access already ended at … (expired)", from the grant. */
function endedLine(grant: Grant): string {
  if (grant.status !== 'revoked') return `This access is not active (it is ${grant.status.replace('_', ' ')})`;
  const reason = (REVOKE_REASONS as readonly string[]).includes(grant.revokeReason ?? '')
    ? REASON_TEXT[grant.revokeReason as RevokeReason]
    : grant.revokeReason;
  return `This access already ended${grant.revokedAt ? ` at ${shortTime(grant.revokedAt)}` : ''}${reason ? ` (${reason})` : ''}`;
}

/** Replaces the clicked message's button with what happened; a message Slack will not update is only logged. */
async function showOnMessage(deps: ReleaseDeps, grant: Grant, message: ChatMessageRef | undefined, outcome: string): Promise<void> {
  if (!message) return;
  try {
    await deps.chat.showReleased(message, grantedText(grant), outcome);
  } catch (err) {
    deps.logger.warn('could not update the "I\'m done" message', { grantId: grant.id, error: errorMessage(err) });
  }
}

function shortTime(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}
