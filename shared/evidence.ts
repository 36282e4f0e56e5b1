/**
 * Evidence: every step is written once to the append-only ledger, then delivered to the Jira issue
 * as a comment (and, where the step changes what the requester waits for, a transition). Delivery
 * goes through an outbox, so Jira being down delays the comment but never loses it.
 */
import type { Clock } from './clock.js';
import { errorMessage, PermanentError } from './errors.js';
import type { EvidenceEvent, EvidenceType, Grant } from './grants/model.js';
import type { Logger } from './logger.js';
import type { TicketComment, Ticketing } from './ports.js';
import type { Store } from './store/store.js';

export interface EvidenceDeps {
  store: Store;
  ticketing: Ticketing;
  clock: Clock;
  logger: Logger;
}

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
export async function recordEvidence(deps: EvidenceDeps, grant: Pick<Grant, 'id' | 'issueKey'>, input: EvidenceInput): Promise<EvidenceEvent> {
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
  if (!fresh) return (await deps.store.getEvidence(grant.id, event.key)) ?? event;
  const deliveryId = await deps.store.enqueueDelivery(event);
  await deliver(deps, event, deliveryId);
  return event;
}

/** Delivers what an earlier Jira outage left in the outbox, oldest first. Returns how many were delivered. */
export async function flushEvidence(deps: EvidenceDeps): Promise<number> {
  let delivered = 0;
  for (const pending of await deps.store.pendingDeliveries()) {
    const event = await deps.store.getEvidence(pending.grantId, pending.key);
    if (!event) {
      await deps.store.markDelivered(pending.id);
      continue;
    }
    if (await deliver(deps, event, pending.id)) delivered += 1;
    else break; // Jira is still failing: keep the order, try again later
  }
  return delivered;
}

async function deliver(deps: EvidenceDeps, event: EvidenceEvent, deliveryId: string): Promise<boolean> {
  try {
    await deps.ticketing.addComment(event.issueKey, commentFor(event));
    if (event.transitionTo) {
      const moved = await deps.ticketing.transition(event.issueKey, event.transitionTo);
      if (!moved) deps.logger.warn('Jira has no transition to the configured status', { issueKey: event.issueKey, status: event.transitionTo });
    }
    await deps.store.markDelivered(deliveryId);
    return true;
  } catch (err) {
    if (err instanceof PermanentError) {
      // Jira will never take it (issue deleted, no permission): the ledger keeps the evidence.
      deps.logger.error('evidence cannot be delivered to Jira; kept in the ledger', { issueKey: event.issueKey, key: event.key, error: errorMessage(err) });
      await deps.store.markDelivered(deliveryId);
      return true;
    }
    deps.logger.warn('Jira unavailable; evidence queued for later delivery', { issueKey: event.issueKey, key: event.key, error: errorMessage(err) });
    return false;
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
