/**
 * Tamper evidence for the ledger. Each grant's evidence events form a hash chain, in ledger order:
 *
 *   hash = SHA-256( previous hash (32 bytes; the first event: 32 zero bytes) ‖ UTF-8 of the canonical JSON of the event )
 *
 * The canonical JSON is RFC 8785 (JCS): keys sorted by UTF-16 code units, no insignificant
 * whitespace, JSON.stringify's string escaping. Grantline's events hold only strings and objects of
 * strings, where JCS and that agree exactly. The event is hashed without `seq`, `hash` and `prevHash`:
 * its place is fixed by the link to the event before it, so a reordering shows as links that
 * disagree with the ledger's order rather than as edits.
 *
 * Sealing (sealChain) follows the ledger's slots in order from the grant's chain head: it writes each
 * event's prevHash and hash (a conditional write that accepts only the same values: two sealers
 * compute the same chain) and moves the head forward. A slot whose event is not written yet stops
 * it, unless its writer died long ago (the same rule as Jira delivery). The head is also listed
 * under the day it changed, which is what the daily anchor hashes into one root (anchorDay).
 *
 * What it proves and what it does not: an edited, deleted or reordered event, or a chain head that
 * disagrees with its events, is found by recomputing (verifyChain). Someone with write access to the
 * table can still rewrite a whole chain and its head consistently; an anchor written before that
 * (its root in a write-once store) catches it (verifyAnchors). A whole day deleted before its anchor
 * was written is not caught: the anchor's frequency bounds that window.
 */
import { createHash } from 'node:crypto';
import { ORPHAN_AFTER_MS } from './evidence.js';
import type { EvidenceEvent } from './grants/model.js';
import type { Services } from './services.js';

/** The "previous hash" of a chain's first event. */
export const GENESIS = '0'.repeat(64);

/** A sealed event's link: the hash of the event before it, and its own. */
export interface ChainLink {
  prevHash: string;
  hash: string;
}

/** Where a grant's chain ends: the last sealed event's slot and hash. */
export interface ChainHead {
  grantId: string;
  seq: number;
  hash: string;
  /** When the head last moved (ISO). */
  at: string;
}

/** RFC 8785 canonical JSON for Grantline's values (strings, finite numbers, booleans, null, arrays, plain objects). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no representation for a non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON has no representation for a ${typeof value}`);
}

/** What of an event the chain covers: everything but its slot and its own link. */
export function hashedContent(event: EvidenceEvent & Partial<ChainLink>): Record<string, unknown> {
  const { seq: _seq, hash: _hash, prevHash: _prev, ...content } = event;
  return content;
}

export function eventHash(prevHash: string, event: EvidenceEvent): string {
  return createHash('sha256')
    .update(Buffer.from(prevHash, 'hex'))
    .update(canonicalJson(hashedContent(event)), 'utf8')
    .digest('hex');
}

// ---------------------------------------------------------------- sealing

export type ChainDeps = Pick<Services, 'store' | 'clock'>;

/**
 * Seals the grant's events written since its chain head, in slot order, and moves the head. Safe to
 * run concurrently and again: the chain is a function of the ledger, and each write accepts only
 * the value already there. Returns the head after it and the links this run wrote, by event key.
 */
export async function sealChain(deps: ChainDeps, grantId: string): Promise<{ head: ChainHead | undefined; sealed: Map<string, ChainLink> }> {
  const sealed = new Map<string, ChainLink>();
  const before = await deps.store.chainHead(grantId);
  let head = before;
  const ledger = await deps.store.evidenceLedger(grantId);
  let prev = head?.hash ?? GENESIS;
  const now = deps.clock.now();
  for (const slot of ledger.deliveries) {
    if (slot.seq === undefined || slot.seq <= (head?.seq ?? 0)) continue;
    const event = ledger.events.get(slot.key);
    // A slot whose writer lost the race for the event holds nothing.
    if (event && event.seq !== slot.seq) continue;
    if (!event) {
      // Written just before its event: wait for it (order is kept), unless its writer died long ago.
      if (now.getTime() - new Date(slot.createdAt).getTime() > ORPHAN_AFTER_MS) continue;
      break;
    }
    const link = { prevHash: prev, hash: eventHash(prev, event) };
    if (!(await deps.store.sealEvidence(grantId, event.key, link))) {
      // Sealed before with another link: the ledger was changed under it. Stop; verify names it.
      break;
    }
    sealed.set(event.key, link);
    head = { grantId, seq: slot.seq, hash: link.hash, at: now.toISOString() };
    prev = link.hash;
  }
  // The head moves once, after the links: a sealer cut short before it leaves links the next one writes again, the same.
  if (head && head !== before) await deps.store.advanceChainHead(head, before?.at.slice(0, 10) !== head.at.slice(0, 10));
  return { head, sealed };
}

// ---------------------------------------------------------------- verifying

/** One break in the evidence, named precisely enough to find the record. */
export interface ChainBreak {
  grantId: string;
  /** The event's key, when the break is at an event. */
  key?: string;
  seq?: number;
  kind: 'edited' | 'missing' | 'reordered' | 'unsealed' | 'head' | 'anchor';
  detail: string;
}

/** Events newer than this may not be sealed yet (their grant's next step seals them): not a break. */
export const SEAL_GRACE_MS = 15 * 60_000;

/**
 * Recomputes a grant's chain from its events as stored (with their links) and its head, and names
 * every break: an event whose content no longer gives its hash (edited); a link to an event that
 * is not there (missing); links that disagree with the ledger's order (reordered); an event left
 * out of the chain below its head, or older than SEAL_GRACE_MS and never sealed (unsealed); a head
 * that names no event, or not the last (head).
 */
export function verifyChain(grantId: string, events: Array<EvidenceEvent & Partial<ChainLink>>, head: ChainHead | undefined, now: Date): ChainBreak[] {
  const breaks: ChainBreak[] = [];
  const sealed = events.filter((e) => e.hash !== undefined).sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  const bySeqOrder = new Map(sealed.map((e, i) => [e.hash!, i]));
  let expected = GENESIS;
  for (const [i, event] of sealed.entries()) {
    const at = { grantId, key: event.key, ...(event.seq === undefined ? {} : { seq: event.seq }) };
    if (event.prevHash !== expected) {
      const linkedTo = bySeqOrder.get(event.prevHash ?? '');
      if (linkedTo !== undefined && linkedTo !== i - 1) {
        breaks.push({
          ...at,
          kind: 'reordered',
          detail: `it follows ${sealed[linkedTo]!.key} in the chain, but the ledger's order puts it after ${sealed[i - 1]?.key ?? 'nothing (first)'}`,
        });
      } else {
        breaks.push({
          ...at,
          kind: 'missing',
          detail: `the event before it in the chain (hash ${short(event.prevHash)}) is not in the ledger${i > 0 ? `; the ledger has ${sealed[i - 1]!.key} there` : ''}`,
        });
      }
    }
    const recomputed = eventHash(event.prevHash ?? GENESIS, event);
    if (recomputed !== event.hash) {
      breaks.push({ ...at, kind: 'edited', detail: `its content gives hash ${short(recomputed)}, but it was sealed as ${short(event.hash)}` });
    }
    expected = event.hash!;
  }
  const last = sealed.at(-1);
  for (const event of events.filter((e) => e.hash === undefined)) {
    const below = head !== undefined && event.seq !== undefined && event.seq <= head.seq;
    const stale = now.getTime() - new Date(event.at).getTime() > SEAL_GRACE_MS;
    if (below || stale) {
      breaks.push({
        grantId,
        key: event.key,
        ...(event.seq === undefined ? {} : { seq: event.seq }),
        kind: 'unsealed',
        detail: below ? `not in the chain, though the chain has moved past its slot ${event.seq}` : `never sealed (recorded ${event.at})`,
      });
    }
  }
  if (head && (!last || last.seq !== head.seq || last.hash !== head.hash)) {
    const named = sealed.find((e) => e.seq === head.seq);
    breaks.push({
      grantId,
      kind: head.seq > (last?.seq ?? 0) ? 'missing' : 'head',
      seq: head.seq,
      detail: named
        ? `the chain head is slot ${head.seq} with hash ${short(head.hash)}, but that event's hash is ${short(named.hash)}`
        : `the chain head is slot ${head.seq} with hash ${short(head.hash)}, but the last sealed event is ${last ? `slot ${last.seq} (${last.key})` : 'none'}`,
    });
  }
  if (!head && last) breaks.push({ grantId, kind: 'head', detail: `sealed events but no chain head (the last is ${last.key})` });
  return breaks;
}

const short = (hash: string | undefined) => (hash ? hash.slice(0, 12) : 'none');

// ---------------------------------------------------------------- anchors

/** A chain head as an anchor lists it. */
export interface AnchoredHead {
  grantId: string;
  seq: number;
  hash: string;
}

/** The heads of every chain that moved on one UTC day, hashed into one root; written to the table and to a write-once store. */
export interface Anchor {
  day: string;
  /** When it was written: a day can be anchored more than once (on demand during it, then daily after it). */
  anchoredAt: string;
  root: string;
  heads: AnchoredHead[];
  /** Where the write-once copy is (an s3:// URI, or a local file). */
  copy?: string;
}

/** SHA-256 of the canonical JSON of the day and its heads, sorted by grant id. */
export function anchorRoot(day: string, heads: AnchoredHead[]): string {
  const sorted = [...heads].sort((a, b) => (a.grantId < b.grantId ? -1 : a.grantId > b.grantId ? 1 : 0));
  return createHash('sha256')
    .update(canonicalJson({ day, heads: sorted }), 'utf8')
    .digest('hex');
}

/**
 * Checks each anchor against itself (its root from its heads), against its write-once copy when one
 * was read, and against the chains: the event at each anchored slot must still carry the anchored
 * hash, so a chain rewritten after the anchor (hashes recomputed, head moved) is named.
 */
export function verifyAnchors(
  anchors: Array<{ anchor: Anchor; copy?: Anchor | undefined }>,
  chains: Map<string, Array<EvidenceEvent & Partial<ChainLink>>>,
): ChainBreak[] {
  const breaks: ChainBreak[] = [];
  for (const { anchor, copy } of anchors) {
    const label = `anchor of ${anchor.day} (${anchor.anchoredAt})`;
    if (anchorRoot(anchor.day, anchor.heads) !== anchor.root) {
      breaks.push({ grantId: '*', kind: 'anchor', detail: `${label}: its heads no longer give its root ${short(anchor.root)}` });
    }
    if (copy && (copy.root !== anchor.root || canonicalJson(copy.heads) !== canonicalJson(anchor.heads))) {
      breaks.push({ grantId: '*', kind: 'anchor', detail: `${label}: the table's record differs from the write-once copy ${anchor.copy ?? ''}` });
    }
    const trusted = copy ?? anchor;
    for (const head of trusted.heads) {
      const events = chains.get(head.grantId);
      if (!events) continue;
      const at = events.find((e) => e.seq === head.seq);
      if (!at || at.hash !== head.hash) {
        breaks.push({
          grantId: head.grantId,
          seq: head.seq,
          ...(at ? { key: at.key } : {}),
          kind: 'anchor',
          detail: `${label} has slot ${head.seq} as ${short(head.hash)}; the chain now has ${at ? short(at.hash) : 'no event there'}: rewritten after it was anchored`,
        });
      }
    }
  }
  return breaks;
}

/** The write-once store of anchors: S3 with Object Lock in compliance mode (AWS); a directory (local runtime). */
export interface AnchorCopies {
  /** Writes the anchor's copy; returns where it is (an s3:// URI or a file path). */
  write(anchor: Anchor): Promise<string>;
  /** The copy of an anchor as written, or undefined when there is none. */
  read(anchor: Pick<Anchor, 'day' | 'anchoredAt'>): Promise<Anchor | undefined>;
}

/**
 * Anchors a day: the heads of every chain that moved on it, as they stand now, hashed into one
 * root. The write-once copy first, then the table's record naming it, so a record never names a
 * copy that is not there. Run daily for the day before (its heads are final), and on demand.
 */
export async function anchorDay(deps: ChainDeps & { anchorCopies?: AnchorCopies | undefined }, day: string): Promise<Anchor> {
  const heads = (await deps.store.chainsChangedOn(day)).map(({ grantId, seq, hash }) => ({ grantId, seq, hash }));
  const anchor: Anchor = { day, anchoredAt: deps.clock.now().toISOString(), root: anchorRoot(day, heads), heads };
  const copy = deps.anchorCopies ? await deps.anchorCopies.write(anchor) : undefined;
  const recorded = { ...anchor, ...(copy ? { copy } : {}) };
  await deps.store.putAnchor(recorded);
  return recorded;
}
