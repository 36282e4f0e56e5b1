/**
 * What the requester sees on their Jira Service Management request. Evidence comments are internal
 * (agents only): they name approvers, identity-provider groups, refused clicks and error text. The
 * steps that change what the requester waits for add a short public notice in plain words, built
 * from the event alone, so an event delivered late (after a Jira outage) gets the same notice.
 * docs/jira-setup.md "What the requester sees" lists them.
 */
import type { EvidenceEvent, EvidenceType } from './grants/model.js';

type Notice = (event: EvidenceEvent) => string | undefined;

/** Per evidence type, the requester's notice; undefined where the step is the agents' business only. */
export const NOTICES: Record<EvidenceType, Notice | undefined> = {
  requested: () => 'We have received your access request. Updates will appear here.',
  auto_approved: () => 'Your request was approved automatically: the access policy allows it without an approver.',
  // The status says it is waiting; the evidence names the approvers.
  approval_requested: undefined,
  // A click by someone who may not decide changes nothing for the requester.
  approval_refused: undefined,
  // A reminder is between Grantline and the approvers.
  approval_reminded: undefined,
  approval_escalated: (e) =>
    e.details['Added approvers']
      ? `Nobody decided in time, so your request was escalated: ${e.details['Added approvers']} can now decide it as well.`
      : undefined,
  approved: (e) => {
    const step = /^(\d+) of (\d+)$/.exec(e.details.Step ?? '');
    // One approval of a quorum step ("1 of 2"; beyond the quorum, "2 of 2 reached before this approval").
    const quorum = e.details.Quorum === undefined ? undefined : /^(\d+) of (\d+)$/.exec(e.details.Quorum);
    if (e.details.Quorum !== undefined && !quorum) return `${e.details.Approver ?? e.actor} also approved your request.`;
    if (quorum && Number(quorum[1]) < Number(quorum[2])) {
      const more = Number(quorum[2]) - Number(quorum[1]);
      return `${e.details.Approver ?? e.actor} approved your request; ${more} more approval${more === 1 ? ' is' : 's are'} needed.`;
    }
    const by = quorum ? (e.details['Approved so far'] ?? e.actor) : (e.details.Approver ?? e.actor);
    return step && step[1] !== step[2]
      ? `Approval ${step[1]} of ${step[2]} given by ${by}. Your request now waits for the next approval.`
      : `Your request was approved by ${by}.`;
  },
  denied: (e) =>
    // A policy denial's reason can name approvers and accounts: the requester is told it was the policy, not why.
    e.via === 'policy'
      ? 'Your request was declined automatically by the access policy. Contact the access team if you need to know why.'
      : `Your request was declined by ${e.details.Approver ?? e.actor}.`,
  approval_expired: () => 'Your request was declined: nobody decided in time. You can open a new request.',
  provisioned: (e) => `Access granted ${until(e.details.Expires)}.`,
  manual_task: (e) =>
    `Your request was approved. The app's owner${e.details.Owner ? ` (${e.details.Owner})` : ''} sets up the access by hand; ` +
    `it is granted ${until(e.details.Expires)}.`,
  provisioning_failed: () => 'Your access could not be granted. Nothing was changed, and the access team has been told.',
  // The notice of the grant already said until when.
  revocation_scheduled: undefined,
  revoked: (e) => `Your access has ended: ${endedBecause(e)}.`,
  // The grant ended; that the membership stays for another reason is the agents' business.
  revocation_kept_membership: (e) => `Your access has ended: ${endedBecause(e)}.`,
  manual_removal_task: (e) => `Your access has ended: ${endedBecause(e)}. The app's owner removes it by hand.`,
  // The revocation that follows says the access has ended; a refused click changes nothing for the requester.
  release_requested: undefined,
  release_refused: undefined,
  break_glass_approved: (e) =>
    `Approved under break-glass${e.details.Incident ? ` (incident ${e.details.Incident})` : ''}: the access starts now, and it is reviewed after the fact.`,
  // The intake's own public comment lists what to correct.
  break_glass_refused: undefined,
  // The review is between Grantline and the reviewers; a flag is for the agents, and a revocation that follows has its own notice.
  break_glass_review_opened: undefined,
  break_glass_reviewed: undefined,
  break_glass_unreviewed: undefined,
  break_glass_review_refused: undefined,
  // The requester asked; the outcome (extended, or the extension's denial) is what they wait for.
  extension_requested: undefined,
  extension_refused: (e) => `Your request to extend this access was refused: ${e.details.Reason ?? e.summary}.`,
  extended: (e) => `Your access was extended: it now ends at ${e.details['Now ends'] ?? 'the new time'}.`,
  bundle_settled: (e) =>
    `Every item of your ${e.details.Bundle ?? 'bundle'} request is settled: ${[
      e.details.Granted && `granted ${e.details.Granted}`,
      e.details.Declined && `declined ${e.details.Declined}`,
      e.details.Failed && `not granted (failed) ${e.details.Failed}`,
    ]
      .filter(Boolean)
      .join('; ')}.`,
  offboarded: (e) =>
    `Offboarding done for ${e.details.Person ?? 'this person'}: their access through Grantline has ended and their sign-in sessions were ended.`,
};

/** The evidence types whose events carry a notice. */
export const NOTICE_TYPES: ReadonlySet<string> = new Set(Object.entries(NOTICES).flatMap(([type, notice]) => (notice ? [type] : [])));

/** The requester's notice for an event, or undefined when the event has none. */
export function noticeText(event: EvidenceEvent): string | undefined {
  const notice = NOTICES[event.type]?.(event);
  // A bundle's items share one issue: each item's notice says which item it is about.
  const item = event.details['Bundle item'];
  return notice && item ? `${item}: ${notice}` : notice;
}

/** The evidence's own wording of a revocation reason (shared/revocation.ts REASON_TEXT), in the requester's words. */
export const ENDED_BECAUSE: Record<string, string> = {
  expired: 'the time you asked for ran out',
  'early release': 'it was released early',
  'access review': 'an access review removed it',
  offboarding: 'it was removed at offboarding',
  'no revocation schedule could be created, so the access ends now': 'its end could not be scheduled, so it ended now',
  'break-glass not reviewed in time': 'nobody confirmed the break-glass use in time, so it ended now',
};

function endedBecause(event: EvidenceEvent): string {
  return ENDED_BECAUSE[event.details.Reason ?? ''] ?? 'it was removed';
}

/** "until <time> (UTC)", or that it has no end; the evidence writes "never (permanent)" for no end. */
/** The evidence's "Expires": an instant, "never (permanent)", or an instant capped by an end date ("<instant> (capped by …)"). */
function until(expires: string | undefined): string {
  if (!expires || expires.startsWith('never')) return 'with no end date (permanent)';
  const capped = /^(\S+) \((capped by .*)\)$/.exec(expires);
  return capped ? `until ${capped[1]} (UTC), ${capped[2]}` : `until ${expires} (UTC)`;
}
