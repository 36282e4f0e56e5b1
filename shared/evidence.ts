/**
 * Evidence: every step is written once to the append-only ledger, then delivered to the Jira issue
 * as a comment (and, where the step changes what the requester waits for, a transition). Delivery
 * is tracked per event (pending → commented → delivered), so Jira being down delays the comment
 * but never loses it, and a retry never posts it twice.
 */
import { errorMessage, PermanentError } from './errors.js';
import type { EvidenceEvent, EvidenceType, Grant } from './grants/model.js';
import type { TicketComment } from './ports.js';
import type { Services } from './services.js';

export type EvidenceDeps = Pick<Services, 'store' | 'ticketing' | 'clock' | 'logger'>;

export interface EvidenceInput {
  type: EvidenceType;
  /** Defaults to the type; give a distinct key for events that can happen more than once. */
  key?: string;
  actor: string;
  via: string;
  summary: string;
  details?: Record<string, string | undefined>;
  transitionTo?: string;
  at?: string;
}

/** Records one step of a grant. A retried step (same key) records nothing new and posts nothing twice. */
export async function recordEvidence(
  deps: EvidenceDeps,
  grant: Pick<Grant, 'id' | 'issueKey'>,
  input: EvidenceInput,
  options: { deliverNow?: boolean } = {},
): Promise<EvidenceEvent> {
  const event: EvidenceEvent = {
    grantId: grant.id,
    issueKey: grant.issueKey,
    key: input.key ?? input.type,
    type: input.type,
    at: input.at ?? deps.clock.now().toISOString(),
    actor: input.actor,
    via: input.via,
    summary: input.summary,
    details: Object.fromEntries(Object.entries(input.details ?? {}).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')),
    ...(input.transitionTo ? { transitionTo: input.transitionTo } : {}),
  };
  const fresh = await deps.store.appendEvidence(event);
  const recorded = fresh ? event : ((await deps.store.getEvidence(grant.id, event.key)) ?? event);
  // Also on a retry: heals a step that crashed between writing the event and its delivery record.
  await deps.store.ensureDelivery(recorded);
  // The Slack click path defers delivery (Slack allows 3 s): the next workflow step delivers it.
  if (options.deliverNow !== false) await deliverPending(deps, grant.id);
  return recorded;
}

/**
 * Delivers what an earlier Jira outage left undelivered, oldest first per issue; an issue Jira
 * still refuses waits without holding up the others. Returns how many events reached Jira.
 */
export async function flushEvidence(deps: EvidenceDeps): Promise<number> {
  const grants = [...new Set((await deps.store.pendingDeliveries()).map((d) => d.grantId))];
  let delivered = 0;
  for (const grantId of grants) delivered += await deliverPending(deps, grantId);
  return delivered;
}

/** Posts the grant's undelivered events in order, stopping at the first Jira refuses for now (order is kept). */
export async function deliverPending(deps: EvidenceDeps, grantId: string): Promise<number> {
  let delivered = 0;
  for (const delivery of await deps.store.pendingDeliveriesOf(grantId)) {
    const event = await deps.store.getEvidence(grantId, delivery.key);
    if (!event) {
      await deps.store.markDelivered(grantId, delivery.key, 'undeliverable');
      continue;
    }
    const outcome = await deliver(deps, event, delivery.status === 'commented');
    if (outcome === 'retry_later') break;
    if (outcome === 'delivered') delivered += 1;
  }
  return delivered;
}

async function deliver(deps: EvidenceDeps, event: EvidenceEvent, alreadyCommented: boolean): Promise<'delivered' | 'undeliverable' | 'retry_later'> {
  try {
    if (!alreadyCommented) {
      await deps.ticketing.addComment(event.issueKey, commentFor(event));
      if (event.transitionTo) await deps.store.markCommented(event.grantId, event.key);
    }
    if (event.transitionTo) {
      const moved = await deps.ticketing.transition(event.issueKey, event.transitionTo);
      if (!moved) deps.logger.warn('Jira has no transition to the configured status', { issueKey: event.issueKey, status: event.transitionTo });
    }
    await deps.store.markDelivered(event.grantId, event.key);
    return 'delivered';
  } catch (err) {
    if (err instanceof PermanentError) {
      // Jira will never take it (issue deleted, no permission): the ledger keeps the evidence.
      deps.logger.error('evidence cannot be delivered to Jira; kept in the ledger', { issueKey: event.issueKey, key: event.key, error: errorMessage(err) });
      await deps.store.markDelivered(event.grantId, event.key, 'undeliverable');
      return 'undeliverable';
    }
    deps.logger.warn('Jira unavailable; evidence kept for later delivery', { issueKey: event.issueKey, key: event.key, error: errorMessage(err) });
    return 'retry_later';
  }
}

export function commentFor(event: EvidenceEvent): TicketComment {
  return {
    title: `Grantline: ${event.summary}`,
    facts: [
      ...Object.entries(event.details).map(([label, value]) => ({ label, value })),
      { label: 'By', value: event.via === 'system' ? event.actor : `${event.actor} (${event.via})` },
      { label: 'At', value: event.at },
      { label: 'Grant', value: event.grantId },
    ],
  };
}
