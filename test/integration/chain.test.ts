/**
 * The hash chain in the ledger (dynalite): recording seals each event and moves the grant's head;
 * concurrent recorders seal one chain; then each kind of tampering, done directly in DynamoDB as
 * someone with table access would, is named by verify; an anchor written before a consistent
 * rewrite of a whole chain catches it.
 */
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Anchor, type AnchorCopies, anchorDay, eventHash, GENESIS, sealChain, verifyAnchors, verifyChain } from '../../shared/chain.js';
import { recordEvidence } from '../../shared/evidence.js';
import type { LifecycleDeps } from '../../shared/services.js';
import type { TestDynamo } from '../support/dynamo.js';
import { startUnitWorld } from '../support/fakes.js';
import type { ManualClock } from '../../shared/clock.js';

const GRANT = { id: 'grant-ACC-7', issueKey: 'ACC-7' };
let dynamo: TestDynamo;
let deps: LifecycleDeps;
let clock: ManualClock;
let doc: DynamoDBDocumentClient;

beforeEach(async () => {
  ({ dynamo, deps, clock } = await startUnitWorld());
  doc = DynamoDBDocumentClient.from(dynamo.client);
});
afterEach(() => dynamo.close());

async function record(n: number): Promise<void> {
  clock.advance(1_000);
  await recordEvidence(deps, GRANT, { type: 'approval_reminded', key: `step-${n}`, actor: 'grantline', via: 'slack', summary: `step ${n}` });
}

const table = () => dynamo.store.table;
const eventKey = (key: string) => ({ pk: `GRANT#${GRANT.id}`, sk: `EVENT#${key}` });
/** Sets attributes of an item directly in DynamoDB, as someone with table access would. */
const setOn = (key: { pk: string; sk: string }, changes: Record<string, unknown>) => {
  const names = Object.keys(changes);
  return doc.send(
    new UpdateCommand({
      TableName: table(),
      Key: key,
      UpdateExpression: `SET ${names.map((_, i) => `#k${i} = :v${i}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(names.map((n, i) => [`#k${i}`, n])),
      ExpressionAttributeValues: Object.fromEntries(names.map((n, i) => [`:v${i}`, changes[n]])),
    }),
  );
};
const verify = async () => verifyChain(GRANT.id, await deps.store.evidence(GRANT.id), await deps.store.chainHead(GRANT.id), clock.now());

describe('sealing', () => {
  it('links each recorded event to the one before and moves the head; listed under its day', async () => {
    for (let n = 1; n <= 3; n++) await record(n);
    const events = await deps.store.evidence(GRANT.id);
    expect(events.map((e) => e.prevHash)).toEqual([GENESIS, events[0]!.hash, events[1]!.hash]);
    expect(events[2]!.hash).toBe(eventHash(events[1]!.hash!, events[2]!));
    expect(await deps.store.chainHead(GRANT.id)).toMatchObject({ seq: 3, hash: events[2]!.hash });
    expect((await deps.store.chainsChangedOn(clock.now().toISOString().slice(0, 10))).map((h) => `${h.grantId} ${h.seq}`)).toEqual([`${GRANT.id} 3`]);
    expect(await verify()).toEqual([]);
  });

  it('ten recorders at once seal one chain, in the ledger order', async () => {
    await Promise.all(
      Array.from({ length: 10 }, (_, n) =>
        recordEvidence(deps, GRANT, { type: 'approval_reminded', key: `parallel-${n}`, actor: 'grantline', via: 'slack', summary: `parallel ${n}` }),
      ),
    );
    await sealChain(deps, GRANT.id);
    const events = await deps.store.evidence(GRANT.id);
    expect(events).toHaveLength(10);
    expect(events.every((e) => e.hash)).toBe(true);
    expect(await verify()).toEqual([]);
    expect((await deps.store.chainHead(GRANT.id))?.hash).toBe(events.at(-1)!.hash);
  });

  it('a link rewritten in DynamoDB: the next event still chains from the head, and verify names the rewritten one', async () => {
    await record(1);
    await record(2);
    // Someone rewrote the second event's link; the third is sealed from the head, as recorded.
    await setOn(eventKey('step-2'), { prevHash: 'c'.repeat(64) });
    await record(3);
    expect((await deps.store.chainHead(GRANT.id))?.seq).toBe(3);
    expect((await verify()).map((b) => `${b.kind} ${b.key}`)).toEqual(['missing step-2', 'edited step-2']);
  });
  it('a sealer that meets an event already sealed with another link stops there: nothing is chained onto an edited event', async () => {
    await record(1);
    await record(2);
    // An edit, and the head put back one slot, as someone covering it up would.
    await setOn(eventKey('step-2'), { summary: 'nothing here' });
    const first = (await deps.store.evidence(GRANT.id))[0]!;
    await setOn({ pk: `GRANT#${GRANT.id}`, sk: 'CHAIN' }, { seq: 1, hash: first.hash });
    await record(3);
    expect((await deps.store.chainHead(GRANT.id))?.seq).toBe(1);
    expect((await deps.store.evidence(GRANT.id)).find((e) => e.key === 'step-3')?.hash).toBeUndefined();
    expect((await verify()).map((b) => `${b.kind} ${b.key ?? `slot ${b.seq}`}`)).toEqual(['edited step-2', 'head slot 1']);
  });
});

describe('tampering, done in DynamoDB, named by verify', () => {
  beforeEach(async () => {
    for (let n = 1; n <= 4; n++) await record(n);
  });

  it('an edited event', async () => {
    await setOn(eventKey('step-2'), { actor: 'mallory@example.com' });
    expect(await verify()).toEqual([expect.objectContaining({ kind: 'edited', key: 'step-2', seq: 2 })]);
  });

  it('a deleted event', async () => {
    await doc.send(new DeleteCommand({ TableName: table(), Key: eventKey('step-3') }));
    expect(await verify()).toEqual([expect.objectContaining({ kind: 'missing', key: 'step-4' })]);
  });

  it('reordered events (their slots swapped)', async () => {
    await setOn(eventKey('step-2'), { seq: 3 });
    await setOn(eventKey('step-3'), { seq: 2 });
    const found = await verify();
    expect(found.length).toBeGreaterThan(0);
    expect(new Set(found.map((b) => b.kind))).toEqual(new Set(['reordered']));
  });

  it('an event slipped in without a link, and the last event deleted', async () => {
    await doc.send(
      new PutCommand({
        TableName: table(),
        Item: {
          ...eventKey('forged'),
          grantId: GRANT.id,
          key: 'forged',
          seq: 2,
          type: 'approved',
          at: clock.now().toISOString(),
          actor: 'maria@example.com',
          via: 'slack',
          summary: 'approved',
          details: {},
          issueKey: 'ACC-7',
        },
      }),
    );
    await doc.send(new DeleteCommand({ TableName: table(), Key: eventKey('step-4') }));
    expect((await verify()).map((b) => `${b.kind} ${b.key ?? `slot ${b.seq}`}`).sort()).toEqual(['missing slot 4', 'unsealed forged']);
  });

  it('a whole chain rewritten consistently passes the chain check, but an anchor written before it names it', async () => {
    const written: Anchor[] = [];
    const copies: AnchorCopies = {
      write: async (a) => {
        written.push(structuredClone(a));
        return `memory:${a.day}`;
      },
      read: async (a) => written.find((w) => w.day === a.day && w.anchoredAt === a.anchoredAt),
    };
    const anchor = await anchorDay({ ...deps, anchorCopies: copies }, clock.now().toISOString().slice(0, 10));
    expect(anchor.heads).toEqual([expect.objectContaining({ grantId: GRANT.id, seq: 4 })]);

    // The rewrite: step-2's actor changed, every hash from there recomputed, the head moved to match.
    await setOn(eventKey('step-2'), { actor: 'mallory@example.com' });
    let prev = GENESIS;
    for (const event of await deps.store.evidence(GRANT.id)) {
      const hash = eventHash(prev, event);
      await setOn(eventKey(event.key), { prevHash: prev, hash });
      prev = hash;
    }
    await setOn({ pk: `GRANT#${GRANT.id}`, sk: 'CHAIN' }, { hash: prev });
    expect(await verify()).toEqual([]);

    const anchors = await deps.store.anchors();
    const found = verifyAnchors(
      await Promise.all(anchors.map(async (a) => ({ anchor: a, copy: await copies.read(a) }))),
      new Map([[GRANT.id, await deps.store.evidence(GRANT.id)]]),
    );
    expect(found).toEqual([expect.objectContaining({ kind: 'anchor', grantId: GRANT.id, seq: 4 })]);
  });
});
