/**
 * Evidence: every step is written once to the append-only ledger, then delivered to the Jira issue
 * as a comment (and, where the step changes what the requester waits for, a transition). Delivery
 * is tracked per event (pending → posting → commented → delivered), so Jira being down delays the
 * comment but never loses it, and nothing posts it twice:
 * - one poster per issue at a time: a worker posts a grant's events only while it holds the grant's
 *   delivery lease (a conditional write with an expiry from the injected clock); everyone else
 *   leaves them to it. A lease whose holder died lapses and is taken over.
 * - write-ahead: an event is marked `posting` before its comments are sent, and each comment carries
 *   its own id; a later post of a `posting` event (the answer was lost, or the poster died) first
 *   looks for each id on the issue, posts only the ones Jira does not have, and marks the event
 *   delivered only when Jira has them all.
 * An event's comments (commentsFor): the full evidence, internal (agents only), then, for the steps
 * the requester waits on, a short public notice in plain words (shared/notices.ts).
 */
import { randomUUID } from 'node:crypto';
import { authorizeAuditor } from './audit.js';
import { sealChain } from './chain.js';
import { errorMessage, MalformedRequestError, PermanentError } from './errors.js';
import type { Config } from './config.js';
import type { EvidenceEvent, EvidenceType, Grant } from './grants/model.js';
import { json, type HttpRequest, type HttpResponse } from './http.js';
import { noticeText } from './notices.js';
import type { TicketComment, TransitionOptions } from './ports.js';
import type { Services } from './services.js';
import { pageRequestFrom } from './store/page.js';
import type { Delivery } from './store/store.js';

export type EvidenceDeps = Pick<Services, 'store' | 'ticketing' | 'clock' | 'logger' | 'config'>;

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
  grant: Pick<Grant, 'id' | 'issueKey'> & Partial<Pick<Grant, 'extends' | 'bundle'>>,
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
    details: Object.fromEntries(
      Object.entries({ ...input.details, ...bundleDetails(grant.bundle) }).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
    ),
    // An extension request shares the issue of the grant it extends, whose status it never moves; a
    // bundle's items share their issue, which the bundle's summary moves once all are settled.
    ...(input.transitionTo && !grant.extends && !grant.bundle ? { transitionTo: input.transitionTo } : {}),
  };
  const ledger = await deps.store.evidenceLedger(grant.id);
  let recorded = ledger.events.get(event.key);
  if (!recorded) {
    // The delivery record first, in the grant's next slot: an event is never in the ledger without
    // one, whatever crashes when, and the slot fixes its place in the ledger's order.
    const seq = await deps.store.reserveDelivery(event, deps.clock.now().toISOString(), Math.max(0, ...ledger.deliveries.map((d) => d.seq ?? 0)));
    if (await deps.store.appendEvidence({ ...event, seq })) recorded = { ...event, seq };
    else {
      // A concurrent writer of the same step recorded it first, under its own slot: ours holds nothing.
      await deps.store.markDelivered({ grantId: grant.id, key: event.key, seq }, 'void');
      recorded = await deps.store.getEvidence(grant.id, event.key);
    }
  }
  // Sealed into the grant's hash chain before the step counts as done: a failure here fails the step, whose retry seals it.
  const link = (await sealChain(deps, grant.id)).sealed.get(event.key);
  if (recorded && link) recorded = { ...recorded, ...link };
  // The Slack click path defers delivery (Slack allows 3 s): the next workflow step delivers it.
  if (options.deliverNow !== false) await deliverPending(deps, grant.id);
  return recorded ?? event;
}

/** A bundle item's events say which item of which bundle they are about (its notices too: shared/notices.ts). */
function bundleDetails(bundle: Grant['bundle']): Record<string, string> {
  return bundle ? { 'Bundle item': bundle.item, Bundle: `${bundle.name}, item ${bundle.index} of ${bundle.of}` } : {};
}

/**
 * How long a poster holds a grant's deliveries without renewing. It is renewed before a post once half of it has run, so
 * it must outlast one post (the Jira adapter gives up on a call after 10 s); a poster that dies
 * holds the grant's undelivered evidence back this long.
 */
export const DELIVERY_LEASE_MS = 60_000;

/**
 * Delivers what an earlier Jira outage left undelivered, oldest first per issue; an issue Jira
 * still refuses waits without holding up the others. Returns how many events reached Jira.
 */
export async function flushEvidence(deps: EvidenceDeps): Promise<number> {
  // Only what has waited a while: fresh evidence is the workflow's to post (in ledger order); a flush
  // racing it could post a refused click before a decision that is being recorded at that moment.
  const until = new Date(deps.clock.now().getTime() - FLUSH_AFTER_MS).toISOString();
  const grants = [...new Set((await deps.store.pendingDeliveries()).filter((d) => d.createdAt <= until).map((d) => d.grantId))];
  let delivered = 0;
  for (const grantId of grants) {
    // An event whose grant's sealing stopped at a slot whose writer died is sealed once that slot is given up.
    await sealChain(deps, grantId);
    delivered += await deliverPending(deps, grantId);
  }
  return delivered;
}

/** How long evidence waits for its own workflow step before the periodic flush posts it. */
export const FLUSH_AFTER_MS = 10_000;
/** A delivery record whose event has not appeared by then belongs to a writer that died before writing it. */
export const ORPHAN_AFTER_MS = 2 * 60_000;

/**
 * Posts the grant's undelivered events in order, stopping at the first Jira refuses for now (order
 * is kept). While another worker holds the grant's lease this posts nothing: that worker posts them.
 */
export async function deliverPending(deps: EvidenceDeps, grantId: string): Promise<number> {
  const lease: Lease = { grantId, owner: randomUUID(), takenAt: 0 };
  let delivered = 0;
  for (;;) {
    if (!(await claim(deps, lease))) return delivered;
    let drained: boolean;
    try {
      const run = await deliverInOrder(deps, lease);
      delivered += run.delivered;
      drained = run.drained;
    } finally {
      await deps.store.releaseDeliveries(grantId, lease.owner);
    }
    // An event recorded while this worker held the lease was left to it: look once more after letting go.
    if (!drained || (await deps.store.pendingDeliveriesOf(grantId)).length === 0) return delivered;
  }
}

interface Lease {
  grantId: string;
  owner: string;
  /** When it was last taken or renewed (injected clock, ms). */
  takenAt: number;
}

async function claim(deps: EvidenceDeps, lease: Lease): Promise<boolean> {
  const now = deps.clock.now();
  const taken = await deps.store.claimDeliveries(lease.grantId, lease.owner, now.toISOString(), new Date(now.getTime() + DELIVERY_LEASE_MS).toISOString());
  if (taken) lease.takenAt = now.getTime();
  return taken;
}

/**
 * Renewed once half of it has run, before a post: it then outlasts the post, so nobody takes it over meanwhile.
 * Once it has lapsed it is not taken again: another poster may have taken it, posted and let go
 * meanwhile, and what this one read of the ledger is stale.
 */
async function keep(deps: EvidenceDeps, lease: Lease): Promise<boolean> {
  const held = deps.clock.now().getTime() - lease.takenAt;
  return held < DELIVERY_LEASE_MS / 2 || (held <= DELIVERY_LEASE_MS && claim(deps, lease));
}

async function deliverInOrder(deps: EvidenceDeps, lease: Lease): Promise<{ delivered: number; drained: boolean }> {
  let delivered = 0;
  const ledger = await deps.store.evidenceLedger(lease.grantId);
  for (const delivery of ledger.deliveries.filter((d) => d.status !== 'delivered')) {
    const event = ledger.events.get(delivery.key);
    if (event && event.seq !== delivery.seq) {
      // A slot whose writer lost the race for the event (or died and was retried under a new slot).
      await deps.store.markDelivered(delivery, 'void');
      continue;
    }
    if (!event) {
      // Written just before its event: wait for it (order is kept), unless its writer died long ago.
      const orphaned = deps.clock.now().getTime() - new Date(delivery.createdAt).getTime() > ORPHAN_AFTER_MS;
      if (!orphaned) return { delivered, drained: false };
      await deps.store.markDelivered(delivery, 'void');
      continue;
    }
    const outcome = await deliver(deps, event, delivery, lease);
    if (outcome === 'retry_later' || outcome === 'lease_lost') return { delivered, drained: false };
    if (outcome === 'delivered') delivered += 1;
  }
  return { delivered, drained: true };
}

async function deliver(
  deps: EvidenceDeps,
  event: EvidenceEvent,
  delivery: Delivery,
  lease: Lease,
): Promise<'delivered' | 'undeliverable' | 'retry_later' | 'lease_lost'> {
  try {
    if (delivery.status !== 'commented') {
      let marked = false;
      for (const outgoing of commentsFor(event)) {
        // 'posting': an earlier post may have reached Jira before its poster crashed or lost the answer.
        if (delivery.status === 'posting' && (await deps.ticketing.hasComment(event.issueKey, outgoing.comment.ref))) continue;
        if (!(await keep(deps, lease))) return 'lease_lost';
        if (!marked) await deps.store.markPosting(delivery);
        marked = true;
        await postComment(deps, event, outgoing);
      }
    }
    if (event.transitionTo) {
      if (delivery.status !== 'commented') await deps.store.markCommented(delivery);
      const moved = await deps.ticketing.transition(event.issueKey, event.transitionTo, transitionOptions(deps.config, event.type, event.details));
      if (!moved) deps.logger.warn('Jira has no transition to the configured status', { issueKey: event.issueKey, status: event.transitionTo });
    }
    await deps.store.markDelivered(delivery);
    return 'delivered';
  } catch (err) {
    if (err instanceof PermanentError) {
      // Jira will never take it (issue deleted, no permission): the ledger keeps the evidence.
      deps.logger.error('evidence cannot be delivered to Jira; kept in the ledger', { issueKey: event.issueKey, key: event.key, error: errorMessage(err) });
      await deps.store.markDelivered(delivery, 'undeliverable');
      return 'undeliverable';
    }
    deps.logger.warn('Jira unavailable; evidence kept for later delivery', { issueKey: event.issueKey, key: event.key, error: errorMessage(err) });
    return 'retry_later';
  }
}

/** One comment an event puts on the issue, carrying its own ref, and what happens when Jira refuses it for good (4xx). */
export interface OutgoingComment {
  comment: TicketComment & { ref: string };
  /** Posted instead (the evidence's minimal form), or 'skip': logged, and the event's delivery goes on. */
  whenRefused: TicketComment | 'skip';
}

/**
 * What an event puts on the issue, in this order: the full evidence, internal (it names approvers,
 * groups and errors), then the requester's public notice when the step has one.
 */
export function commentsFor(event: EvidenceEvent): OutgoingComment[] {
  const ref = evidenceRef(event);
  const notice = noticeText(event);
  return [
    { comment: { ...commentFor(event), ref }, whenRefused: { ...minimalCommentFor(event), ref } },
    // A courtesy: one Jira refuses must not keep the evidence's transition from happening.
    ...(notice ? [{ comment: { title: notice, facts: [], internal: false, ref: noticeRef(event) }, whenRefused: 'skip' as const }] : []),
  ];
}

/**
 * A comment Jira refuses (4xx) is posted once more in the smallest form that still says what
 * happened, or, for a notice (already minimal), left out with an error in the log.
 */
async function postComment(deps: EvidenceDeps, event: EvidenceEvent, outgoing: OutgoingComment): Promise<void> {
  try {
    await deps.ticketing.addComment(event.issueKey, outgoing.comment);
  } catch (err) {
    if (!(err instanceof PermanentError)) throw err;
    const about = { issueKey: event.issueKey, key: event.key, error: errorMessage(err) };
    if (outgoing.whenRefused === 'skip') {
      deps.logger.error("Jira refused the requester's notice; the evidence is on the issue", about);
      return;
    }
    deps.logger.warn('Jira refused the evidence comment; posting a minimal one', about);
    await deps.ticketing.addComment(event.issueKey, outgoing.whenRefused);
  }
}

type ResolutionSetting = 'JIRA_RESOLUTION_GRANTED' | 'JIRA_RESOLUTION_DENIED' | 'JIRA_RESOLUTION_REVOKED';

/** The moment a step's transition stands for (granted, denied, removed) picks its resolution: JSM asks for one on the way to a resolved status. */
const RESOLUTION_SETTING: Partial<Record<EvidenceType, ResolutionSetting>> = {
  provisioned: 'JIRA_RESOLUTION_GRANTED',
  manual_task: 'JIRA_RESOLUTION_GRANTED',
  denied: 'JIRA_RESOLUTION_DENIED',
  approval_expired: 'JIRA_RESOLUTION_DENIED',
  revoked: 'JIRA_RESOLUTION_REVOKED',
  revocation_kept_membership: 'JIRA_RESOLUTION_REVOKED',
  manual_removal_task: 'JIRA_RESOLUTION_REVOKED',
};

/**
 * The resolution a step's transition sets (when its screen has the field), and the setting that names
 * it. A bundle's summary (shared/bundles.ts) resolves as granted when any item was granted, else as declined.
 */
export function transitionOptions(config: Pick<Config, ResolutionSetting>, type: EvidenceType, details: Record<string, string> = {}): TransitionOptions {
  const setting = type === 'bundle_settled' ? (details.Granted ? 'JIRA_RESOLUTION_GRANTED' : 'JIRA_RESOLUTION_DENIED') : RESOLUTION_SETTING[type];
  if (!setting) return {};
  const resolution = config[setting];
  return { ...(resolution ? { resolution } : {}), resolutionSetting: setting };
}

/** The id each evidence comment carries on the issue: grant and event key. */
export function evidenceRef(event: Pick<EvidenceEvent, 'grantId' | 'key'>): string {
  return `${event.grantId}/${event.key}`;
}

/** The id of the event's public notice: the evidence id and "/notice". */
export function noticeRef(event: Pick<EvidenceEvent, 'grantId' | 'key'>): string {
  return `${evidenceRef(event)}/notice`;
}

export function commentFor(event: EvidenceEvent): TicketComment {
  return {
    internal: true,
    title: `Grantline: ${event.summary}`,
    facts: [
      ...Object.entries(event.details).map(([label, value]) => ({ label, value })),
      { label: 'By', value: event.via === 'system' ? event.actor : `${event.actor} (${event.via})` },
      { label: 'At', value: event.at },
      { label: 'Grant', value: event.grantId },
    ],
  };
}

/** Title, grant and event only: what is left when Jira refuses the full comment. */
export function minimalCommentFor(event: EvidenceEvent): TicketComment {
  const title = `Grantline: ${event.summary}`;
  return {
    internal: true,
    title: title.length > MINIMAL_TITLE ? `${title.slice(0, MINIMAL_TITLE)}… (cut; full text in the Grantline ledger)` : title,
    facts: [
      { label: 'Grant', value: event.grantId },
      { label: 'Event', value: event.key },
    ],
  };
}

const MINIMAL_TITLE = 500;

/** One line of `grantline evidence pending`. */
export interface PendingEvidence {
  grantId: string;
  issueKey?: string;
  key: string;
  at: string;
  summary?: string;
  status: Delivery['status'];
  attempts: number;
}

/**
 * GET /evidence/pending (audit auth), paged (`?limit=`, `?cursor=`): evidence Jira has not taken
 * yet, then evidence it refused for good. The cursor names the list it continues.
 */
export async function getPendingEvidence(deps: Pick<Services, 'config' | 'store'>, req: HttpRequest): Promise<HttpResponse> {
  authorizeAuditor(deps.config, req);
  const { limit, cursor } = pageRequestFrom(req.query);
  const [listName, inner] = cursor?.includes(':') ? (cursor.split(/:(.*)/s) as [string, string]) : ['pending', cursor ?? ''];
  const list = LISTS.find((l) => l.name === listName);
  if (!list) throw new MalformedRequestError('cursor is not one this route gave');
  const page = await deps.store.deliveriesPage(list.state, { limit, ...(inner ? { cursor: inner } : {}) });
  const describe = async (d: Delivery): Promise<PendingEvidence> => {
    const event = await deps.store.getEvidence(d.grantId, d.key);
    return { grantId: d.grantId, issueKey: event?.issueKey, key: d.key, at: d.at, summary: event?.summary, status: d.status, attempts: d.attempts };
  };
  const items = await Promise.all(page.items.map(describe));
  const following = LISTS[LISTS.indexOf(list) + 1];
  const nextCursor = page.nextCursor ? `${list.name}:${page.nextCursor}` : following ? `${following.name}:` : undefined;
  return json(200, {
    pending: list.name === 'pending' ? items : [],
    undeliverable: list.name === 'undeliverable' ? items : [],
    ...(nextCursor ? { nextCursor } : {}),
  });
}

const LISTS = [
  { name: 'pending', state: 'UNDELIVERED' },
  { name: 'undeliverable', state: 'UNDELIVERABLE' },
] as const;
