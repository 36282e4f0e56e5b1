/** The ledger's hash chain: the canonical JSON it hashes, the hash itself, and what verifying finds in a chain built by hand. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { anchorRoot, canonicalJson, eventHash, GENESIS, verifyAnchors, verifyChain, type ChainLink } from '../../shared/chain.js';
import type { EvidenceEvent } from '../../shared/grants/model.js';

const now = new Date('2026-06-01T12:00:00.000Z');

const event = (n: number, over: Partial<EvidenceEvent> = {}): EvidenceEvent => ({
  grantId: 'grant-ACC-1',
  key: `step-${n}`,
  seq: n,
  type: 'requested',
  at: `2026-06-01T10:00:0${n}.000Z`,
  actor: 'eli@example.com',
  via: 'jira',
  summary: `step ${n}`,
  details: { Note: `n=${n}` },
  issueKey: 'ACC-1',
  ...over,
});

/** Links each event to the one before, as sealing does. */
function sealed(events: EvidenceEvent[]): Array<EvidenceEvent & ChainLink> {
  let prev = GENESIS;
  return events.map((e) => {
    const hash = eventHash(prev, e);
    const linked = { ...e, prevHash: prev, hash };
    prev = hash;
    return linked;
  });
}

const headOf = (chain: Array<EvidenceEvent & ChainLink>) => ({
  grantId: 'grant-ACC-1',
  seq: chain.at(-1)!.seq!,
  hash: chain.at(-1)!.hash,
  at: now.toISOString(),
});

describe('canonical JSON (RFC 8785 for strings, numbers and objects)', () => {
  it('sorts keys at every level, drops undefined, keeps no whitespace, escapes as JSON.stringify does', () => {
    expect(canonicalJson({ b: 1, a: { d: 'x', c: [true, null, 'é\n"'] }, z: undefined })).toBe('{"a":{"c":[true,null,"é\\n\\""],"d":"x"},"b":1}');
  });

  it('sorts by UTF-16 code units, as JCS does (uppercase before lowercase, then non-ASCII)', () => {
    expect(canonicalJson({ é: 1, b: 2, B: 3 })).toBe('{"B":3,"b":2,"é":1}');
  });

  it('refuses what JSON cannot say exactly', () => {
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(TypeError);
  });
});

describe('the hash of an event', () => {
  it('is SHA-256 of the previous hash (32 bytes) then the canonical JSON of the event without its slot and links', () => {
    const e = event(1);
    const { seq: _seq, ...content } = e;
    const expected = createHash('sha256').update(Buffer.alloc(32)).update(canonicalJson(content)).digest('hex');
    expect(eventHash(GENESIS, e)).toBe(expected);
    expect(eventHash(GENESIS, { ...e, seq: 99, hash: 'x', prevHash: 'y' } as EvidenceEvent)).toBe(expected);
  });

  it('changes with any field and with the previous hash', () => {
    const base = eventHash(GENESIS, event(1));
    expect(eventHash(GENESIS, event(1, { summary: 'step 1 ' }))).not.toBe(base);
    expect(eventHash(GENESIS, event(1, { details: { Note: 'n=2' } }))).not.toBe(base);
    expect(eventHash('f'.repeat(64), event(1))).not.toBe(base);
  });
});

describe('verifying a chain', () => {
  const chain = sealed([event(1), event(2), event(3), event(4)]);

  it('finds nothing in an intact chain', () => {
    expect(verifyChain('grant-ACC-1', chain, headOf(chain), now)).toEqual([]);
  });

  it('names an edited event', () => {
    const edited = chain.map((e) => (e.key === 'step-2' ? { ...e, actor: 'mallory@example.com' } : e));
    expect(verifyChain('grant-ACC-1', edited, headOf(chain), now)).toEqual([
      expect.objectContaining({
        kind: 'edited',
        key: 'step-2',
        seq: 2,
        detail: expect.stringMatching(/^its content gives hash \w{12}, but it was sealed as \w{12}$/),
      }),
    ]);
  });

  it('names the gap a deleted event leaves', () => {
    const gapped = chain.filter((e) => e.key !== 'step-3');
    expect(verifyChain('grant-ACC-1', gapped, headOf(chain), now)).toEqual([
      expect.objectContaining({ kind: 'missing', key: 'step-4', detail: expect.stringContaining('is not in the ledger; the ledger has step-2 there') }),
    ]);
  });

  it('names events whose order in the ledger disagrees with their links', () => {
    const swapped = chain.map((e) => (e.key === 'step-2' ? { ...e, seq: 3 } : e.key === 'step-3' ? { ...e, seq: 2 } : e));
    const found = verifyChain('grant-ACC-1', swapped, headOf(chain), now);
    expect(found.filter((b) => b.kind === 'reordered').map((b) => b.key)).toEqual(expect.arrayContaining(['step-2']));
    expect(found.every((b) => b.kind === 'reordered')).toBe(true);
  });

  it('names a deleted last event by the head that still points at it, and a head that names another hash', () => {
    expect(verifyChain('grant-ACC-1', chain.slice(0, 3), headOf(chain), now)).toEqual([expect.objectContaining({ kind: 'missing', seq: 4 })]);
    expect(verifyChain('grant-ACC-1', chain, { ...headOf(chain), hash: 'a'.repeat(64) }, now)).toEqual([expect.objectContaining({ kind: 'head', seq: 4 })]);
  });

  it('names an event inserted below the head without a link, and one never sealed after the grace; not one just written', () => {
    const inserted = [...chain, { ...event(5), seq: 2, key: 'forged' }];
    expect(verifyChain('grant-ACC-1', inserted, headOf(chain), now)).toEqual([expect.objectContaining({ kind: 'unsealed', key: 'forged' })]);
    const fresh = [...chain, event(5, { at: now.toISOString() })];
    expect(verifyChain('grant-ACC-1', fresh, headOf(chain), now)).toEqual([]);
    const stale = [...chain, event(5, { at: '2026-06-01T11:00:00.000Z' })];
    expect(verifyChain('grant-ACC-1', stale, headOf(chain), now)).toEqual([expect.objectContaining({ kind: 'unsealed', key: 'step-5' })]);
  });
});

describe('verifying anchors', () => {
  const chain = sealed([event(1), event(2)]);
  const heads = [{ grantId: 'grant-ACC-1', seq: 2, hash: chain[1]!.hash }];
  const anchor = { day: '2026-06-01', anchoredAt: now.toISOString(), root: anchorRoot('2026-06-01', heads), heads };

  it('holds when the chain still has the anchored hash at the anchored slot', () => {
    expect(verifyAnchors([{ anchor, copy: anchor }], new Map([['grant-ACC-1', chain]]))).toEqual([]);
  });

  it('names a chain rewritten consistently after it was anchored', () => {
    const rewritten = sealed([event(1, { summary: 'nothing to see' }), event(2)]);
    expect(verifyChain('grant-ACC-1', rewritten, headOf(rewritten), now)).toEqual([]);
    expect(verifyAnchors([{ anchor }], new Map([['grant-ACC-1', rewritten]]))).toEqual([
      expect.objectContaining({ kind: 'anchor', grantId: 'grant-ACC-1', seq: 2, detail: expect.stringContaining('rewritten after it was anchored') }),
    ]);
  });

  it('names an anchor record whose heads no longer give its root, or that differs from its write-once copy', () => {
    const forged = { ...anchor, heads: [{ ...heads[0]!, hash: 'b'.repeat(64) }] };
    expect(verifyAnchors([{ anchor: forged, copy: anchor }], new Map()).map((b) => b.detail)).toEqual([
      expect.stringContaining('its heads no longer give its root'),
      expect.stringContaining('differs from the write-once copy'),
    ]);
  });
});
