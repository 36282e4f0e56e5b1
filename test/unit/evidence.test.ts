/**
 * Evidence (shared/evidence.ts): what an event becomes on the Jira issue, and the paging of the
 * undelivered list. Complements test/integration/evidence.test.ts (delivery against simulated Jira).
 * Written against the mutants `npm run mutate` found surviving.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock.js';
import { parseConfig } from '../../shared/config.js';
import { PermanentError, RetryableError } from '../../shared/errors.js';
import {
  commentFor,
  DELIVERY_LEASE_MS,
  deliverPending,
  type EvidenceDeps,
  evidenceRef,
  FLUSH_AFTER_MS,
  flushEvidence,
  getPendingEvidence,
  minimalCommentFor,
  type PendingEvidence,
  recordEvidence,
} from '../../shared/evidence.js';
import type { EvidenceEvent } from '../../shared/grants/model.js';
import type { HttpRequest, HttpResponse } from '../../shared/http.js';
import type { Ticketing, TicketComment } from '../../shared/ports.js';
import type { Logger } from '../../shared/logger.js';
import { startDynamo, type TestDynamo } from '../support/dynamo.js';
import { Recorder } from '../support/fakes.js';
import { GENESIS } from '../../shared/chain.js';

let dynamo: TestDynamo;
let clock: ManualClock;
let ports: Recorder;
let warnings: Array<{ message: string; extra: unknown }>;
let errors: Array<{ message: string; extra: unknown }>;
let deps: EvidenceDeps;

beforeEach(async () => {
  dynamo = await startDynamo();
  clock = new ManualClock(new Date('2026-03-02T09:00:00.000Z'));
  ports = new Recorder();
  warnings = [];
  errors = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn: (message, extra) => void warnings.push({ message, extra }),
    error: (message, extra) => void errors.push({ message, extra }),
  };
  deps = { store: dynamo.store, ticketing: ports, clock, logger, config: parseConfig({}) };
});
afterEach(async () => dynamo.close());

const GRANT = { id: 'grant-1', issueKey: 'ACC-1' };

const EVENT: EvidenceEvent = {
  grantId: 'grant-1',
  issueKey: 'ACC-1',
  key: 'approved#0',
  type: 'approved',
  at: '2026-03-02T09:00:00.000Z',
  actor: 'maria.manager@example.com',
  via: 'slack',
  summary: 'approved by maria.manager@example.com in Slack (step 1 of 1)',
  details: { Approver: 'maria.manager@example.com', Step: '1 of 1' },
};

describe('the comment an event becomes', () => {
  it('the details first, then who, when and which grant', () => {
    expect(commentFor(EVENT)).toEqual({
      internal: true,
      title: 'Grantline: approved by maria.manager@example.com in Slack (step 1 of 1)',
      facts: [
        { label: 'Approver', value: 'maria.manager@example.com' },
        { label: 'Step', value: '1 of 1' },
        { label: 'By', value: 'maria.manager@example.com (slack)' },
        { label: 'At', value: '2026-03-02T09:00:00.000Z' },
        { label: 'Grant', value: 'grant-1' },
      ],
    });
  });

  it('a step Grantline took itself names only the actor', () => {
    expect(commentFor({ ...EVENT, actor: 'grantline', via: 'system', details: {} }).facts).toEqual([
      { label: 'By', value: 'grantline' },
      { label: 'At', value: '2026-03-02T09:00:00.000Z' },
      { label: 'Grant', value: 'grant-1' },
    ]);
  });

  it('the minimal form keeps a title of 500 characters whole and cuts a longer one, saying so', () => {
    const exactly = { ...EVENT, summary: 'x'.repeat(500 - 'Grantline: '.length) };
    const longer = { ...EVENT, summary: 'x'.repeat(501 - 'Grantline: '.length) };

    expect(minimalCommentFor(exactly)).toEqual({
      internal: true,
      title: `Grantline: ${exactly.summary}`,
      facts: [
        { label: 'Grant', value: 'grant-1' },
        { label: 'Event', value: 'approved#0' },
      ],
    });
    expect(minimalCommentFor(longer).title).toBe(`Grantline: ${'x'.repeat(500 - 'Grantline: '.length)}… (cut; full text in the Grantline ledger)`);
  });

  it('each comment carries the grant and the event', () => {
    expect(evidenceRef(EVENT)).toBe('grant-1/approved#0');
  });
});

describe('recording', () => {
  it('keeps only the details that say something, dates the event by the clock and keys it by its type', async () => {
    const { posted } = issueComments();
    clock.advance(1_000);

    const event = await recordEvidence(deps, GRANT, {
      type: 'requested',
      actor: 'eli.engineer@example.com',
      via: 'jira',
      summary: 'requested',
      details: { App: 'Figma', Empty: '', Missing: undefined },
    });

    expect(event).toEqual({
      grantId: 'grant-1',
      issueKey: 'ACC-1',
      key: 'requested',
      type: 'requested',
      at: '2026-03-02T09:00:01.000Z',
      actor: 'eli.engineer@example.com',
      via: 'jira',
      summary: 'requested',
      details: { App: 'Figma' },
      seq: 1,
      // Sealed as the first link of the grant's hash chain (shared/chain.ts).
      prevHash: GENESIS,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(Object.keys(event.details)).toEqual(['App']);
    expect('transitionTo' in event).toBe(false);
    expect(await dynamo.store.evidence('grant-1')).toEqual([event]);
    expect(posted.filter((c) => c.internal).map((c) => c.facts)).toEqual([
      [
        { label: 'App', value: 'Figma' },
        { label: 'By', value: 'eli.engineer@example.com (jira)' },
        { label: 'At', value: '2026-03-02T09:00:01.000Z' },
        { label: 'Grant', value: 'grant-1' },
      ],
    ]);
  });

  it('a step that says when it happened is dated then, on the ledger and on the issue', async () => {
    const { posted } = issueComments();
    clock.advance(60_000);

    const event = await recordEvidence(deps, GRANT, { type: 'revoked', actor: 'a', via: 'system', summary: 'removed', at: '2026-03-02T08:59:00.000Z' });

    expect(event.at).toBe('2026-03-02T08:59:00.000Z');
    expect((await dynamo.store.evidence('grant-1')).map((e) => e.at)).toEqual(['2026-03-02T08:59:00.000Z']);
    expect(posted[0]?.facts).toContainEqual({ label: 'At', value: '2026-03-02T08:59:00.000Z' });
  });

  it('a retried step answers with the event first recorded, and posts nothing twice', async () => {
    const first = await recordEvidence(deps, GRANT, { type: 'requested', actor: 'a', via: 'jira', summary: 'first' });
    clock.advance(1_000);

    const again = await recordEvidence(deps, GRANT, { type: 'requested', actor: 'a', via: 'jira', summary: 'second' });

    expect(again).toEqual(first);
    expect(ports.comments).toEqual(['Grantline: first']);
  });

  it('a deferred event is not posted until the next delivery', async () => {
    await recordEvidence(deps, GRANT, { type: 'approved', key: 'approved#0', actor: 'a', via: 'slack', summary: 'approved' }, { deliverNow: false });

    expect(ports.comments).toEqual([]);
    await recordEvidence(deps, GRANT, { type: 'provisioned', actor: 'grantline', via: 'okta', summary: 'added' });
    expect(ports.comments).toEqual(['Grantline: approved', 'Grantline: added']);
  });

  it('a status Jira has no transition to is logged, and the comment still counts as delivered', async () => {
    ports.transition = async () => false;

    await recordEvidence(deps, GRANT, { type: 'revoked', actor: 'scheduler', via: 'okta', summary: 'removed', transitionTo: 'Done' });

    expect(warnings).toEqual([{ message: 'Jira has no transition to the configured status', extra: { issueKey: 'ACC-1', status: 'Done' } }]);
    expect(await dynamo.store.pendingDeliveriesOf('grant-1')).toEqual([]);
  });

  it('a comment Jira refuses is posted once more in the minimal form, and the refusal is logged', async () => {
    const posted: TicketComment[] = [];
    ports.addComment = async (_issueKey: string, comment: TicketComment) => {
      if (comment.facts.some((f) => f.label === 'Justification')) throw new PermanentError('Jira answered 400');
      posted.push(comment);
    };

    await recordEvidence(deps, GRANT, { type: 'requested', actor: 'a', via: 'jira', summary: 'very long', details: { Justification: 'long' } });

    expect(posted).toEqual([
      { ...minimalCommentFor({ ...EVENT, summary: 'very long', key: 'requested' }), ref: 'grant-1/requested' },
      // The requester's notice follows as usual: it never carries the details Jira refused.
      { title: 'We have received your access request. Updates will appear here.', facts: [], internal: false, ref: 'grant-1/requested/notice' },
    ]);
    expect(warnings).toEqual([
      { message: 'Jira refused the evidence comment; posting a minimal one', extra: { issueKey: 'ACC-1', key: 'requested', error: 'Jira answered 400' } },
    ]);
  });

  it('Jira down: the event waits, and the warning names it', async () => {
    ports.addComment = async () => {
      throw new RetryableError('Jira answered 503');
    };

    await recordEvidence(deps, GRANT, { type: 'requested', actor: 'a', via: 'jira', summary: 'requested' });

    expect(warnings).toEqual([
      { message: 'Jira unavailable; evidence kept for later delivery', extra: { issueKey: 'ACC-1', key: 'requested', error: 'Jira answered 503' } },
    ]);
    expect((await dynamo.store.pendingDeliveriesOf('grant-1')).map((d) => d.key)).toEqual(['requested']);
  });
});

describe('the ledger order is the order on the issue, whoever records concurrently', () => {
  it('an event dated earlier but recorded later (a revocation that began before a schedule was recorded) is listed and posted after it', async () => {
    const began = clock.now().toISOString();
    clock.advance(1_000);
    await recordEvidence(deps, GRANT, { type: 'revocation_scheduled', actor: 'grantline', via: 'scheduler', summary: 'scheduled' });

    await recordEvidence(deps, GRANT, { type: 'revoked', actor: 'alice.admin@example.com', via: 'okta', summary: 'removed', at: began });

    expect((await dynamo.store.evidence('grant-1')).map((e) => e.summary)).toEqual(['scheduled', 'removed']);
    expect(ports.comments).toEqual(['Grantline: scheduled', 'Grantline: removed']);
  });

  it('an event whose writer is still on its way holds back the ones recorded after it, then both are posted in order', async () => {
    const store = storeWithHeldAppend(dynamo.store);
    const first = recordEvidence({ ...deps, store: store.store }, GRANT, {
      type: 'approval_refused',
      key: 'approval_refused#0:stranger',
      actor: 'sam',
      via: 'slack',
      summary: 'refused',
    });
    await store.reached;

    await recordEvidence(deps, GRANT, { type: 'approved', key: 'approved#0', actor: 'maria', via: 'slack', summary: 'approved' });
    expect(ports.comments).toEqual([]);

    store.release();
    await first;
    expect(ports.comments).toEqual(['Grantline: refused', 'Grantline: approved']);
    expect((await dynamo.store.evidence('grant-1')).map((e) => e.summary)).toEqual(['refused', 'approved']);
  });

  it('a slot left by a writer that died before recording its event does not hold back the retried step', async () => {
    await dynamo.store.reserveDelivery({ grantId: 'grant-1', key: 'requested', at: clock.now().toISOString() }, clock.now().toISOString(), 0);

    await recordEvidence(deps, GRANT, { type: 'requested', actor: 'a', via: 'jira', summary: 'requested' });

    expect(ports.comments).toEqual(['Grantline: requested']);
    expect(await dynamo.store.pendingDeliveriesOf('grant-1')).toEqual([]);
    expect(await dynamo.store.deliveriesPage('UNDELIVERABLE', { limit: 10 })).toEqual({ items: [] });
  });
});

/** The ledger as a writer paused between taking its slot and writing its event, until released. */
function storeWithHeldAppend(inner: EvidenceDeps['store']) {
  let arrived!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (arrived = r));
  const gate = new Promise<void>((r) => (release = r));
  const store: EvidenceDeps['store'] = Object.create(inner);
  store.appendEvidence = async (event) => {
    arrived();
    await gate;
    return inner.appendEvidence(event);
  };
  return { store, reached, release };
}

const AUDIT_CONFIG = parseConfig({});
/** GET /evidence/pending, as `grantline evidence pending` asks it. */
const get = (query: Record<string, string>): Promise<HttpResponse> =>
  getPendingEvidence({ config: AUDIT_CONFIG, store: dynamo.store }, {
    method: 'GET',
    path: '/evidence/pending',
    headers: {},
    query,
    pathParams: {},
    rawBody: '',
  } as HttpRequest);

/** Everything GET /evidence/pending lists, page after page (ten pages at most: a route that never ends fails the test). */
async function listed(): Promise<{ pending: PendingEvidence[]; undeliverable: PendingEvidence[] }> {
  const all = { pending: [] as PendingEvidence[], undeliverable: [] as PendingEvidence[] };
  let cursor: string | undefined;
  for (let page = 0; page < 10; page += 1) {
    const body = (await get(cursor === undefined ? {} : { cursor })).body as {
      pending: PendingEvidence[];
      undeliverable: PendingEvidence[];
      nextCursor?: string;
    };
    all.pending.push(...body.pending);
    all.undeliverable.push(...body.undeliverable);
    cursor = body.nextCursor;
    if (cursor === undefined) return all;
  }
  throw new Error('GET /evidence/pending did not come to an end');
}

type Posted = TicketComment & { issueKey: string };

/**
 * Jira as an issue shows it: the comments posted, each with its evidence id, which a later look for
 * it finds. `onPost` runs while Jira is taking a comment (after it has it): a slow Jira, a poster
 * that dies there, another worker acting meanwhile.
 */
function issueComments(): { posted: Posted[]; titles(): string[]; onPost?: (comment: TicketComment) => Promise<void> } {
  // titles(): the evidence comments (internal); the requester's notices are in `posted` too.
  const jira: ReturnType<typeof issueComments> = { posted: [], titles: () => jira.posted.filter((c) => c.internal).map((c) => c.title) };
  const ticketing: Ticketing = ports;
  ticketing.addComment = async (issueKey, comment) => {
    jira.posted.push({ issueKey, ...comment });
    await jira.onPost?.(comment);
  };
  ticketing.hasComment = async (issueKey, ref) => jira.posted.some((c) => c.issueKey === issueKey && c.ref === ref);
  return jira;
}

/** Three steps of grant-1 recorded while their delivery was deferred (as the Slack click path does); one comment each (no notice). */
async function recordThreeDeferred(): Promise<void> {
  for (const summary of ['one', 'two', 'three']) {
    await recordEvidence(
      deps,
      GRANT,
      { type: 'approval_requested', key: `approval_requested#${summary}`, actor: 'a', via: 'slack', summary },
      { deliverNow: false },
    );
  }
}

describe('what waits, and for how long', () => {
  it('the flush leaves evidence younger than FLUSH_AFTER_MS to its own workflow step', async () => {
    await recordEvidence(deps, GRANT, { type: 'requested', actor: 'a', via: 'jira', summary: 'requested' }, { deliverNow: false });

    clock.advance(FLUSH_AFTER_MS - 1);
    expect(await flushEvidence(deps)).toBe(0);
    expect(ports.comments).toEqual([]);

    clock.advance(1);
    expect(await flushEvidence(deps)).toBe(1);
    expect(ports.comments).toEqual(['Grantline: requested']);
  });

  it('a slot whose writer died before writing its event holds the later ones back for two minutes (ORPHAN_AFTER_MS), then is skipped and listed nowhere', async () => {
    await dynamo.store.reserveDelivery({ grantId: 'grant-1', key: 'approved#0', at: clock.now().toISOString() }, clock.now().toISOString(), 0);
    await recordEvidence(deps, GRANT, { type: 'requested', actor: 'a', via: 'jira', summary: 'requested' });
    expect(ports.comments).toEqual([]);

    clock.advance(2 * 60_000);
    expect(await flushEvidence(deps)).toBe(0);
    expect(ports.comments).toEqual([]);
    expect((await listed()).pending.map((p) => p.key)).toEqual(['approved#0', 'requested']);

    clock.advance(1);
    expect(await flushEvidence(deps)).toBe(1);
    expect(ports.comments).toEqual(['Grantline: requested']);
    expect(await listed()).toEqual({ pending: [], undeliverable: [] });
    expect(warnings).toEqual([]);
  });

  it('a slot whose event is still being written is listed by GET /evidence/pending by grant and key alone', async () => {
    await dynamo.store.reserveDelivery({ grantId: 'grant-1', key: 'approved#0', at: '2026-03-02T08:59:59.000Z' }, clock.now().toISOString(), 0);

    expect((await listed()).pending).toEqual([{ grantId: 'grant-1', key: 'approved#0', at: '2026-03-02T08:59:59.000Z', status: 'pending', attempts: 0 }]);
  });

  it('two writers of one step: the one that lost answers with the event recorded, its slot is listed nowhere, and the issue gets one comment', async () => {
    const held = storeWithHeldAppend(dynamo.store);
    const lost = recordEvidence(
      { ...deps, store: held.store },
      GRANT,
      { type: 'requested', actor: 'a', via: 'jira', summary: 'first webhook' },
      { deliverNow: false },
    );
    await held.reached;
    const won = await recordEvidence(deps, GRANT, { type: 'requested', actor: 'a', via: 'jira', summary: 'duplicate webhook' }, { deliverNow: false });
    held.release();

    expect(await lost).toEqual(won);
    expect((await listed()).pending.map((p) => [p.key, p.summary])).toEqual([['requested', 'duplicate webhook']]);
    expect(await deliverPending(deps, 'grant-1')).toBe(1);
    expect(ports.comments).toEqual(['Grantline: duplicate webhook']);
  });

  it('an event recorded while another worker is posting is posted by that worker once it lets go of the lease', async () => {
    await recordEvidence(deps, GRANT, { type: 'approved', key: 'approved#0', actor: 'a', via: 'slack', summary: 'approved' }, { deliverNow: false });
    const jira = issueComments();
    let postedMeanwhile: number | undefined;
    jira.onPost = async (comment) => {
      if (comment.title !== 'Grantline: approved') return;
      await recordEvidence(deps, GRANT, { type: 'provisioned', actor: 'grantline', via: 'okta', summary: 'added' });
      postedMeanwhile = jira.posted.length;
    };

    expect(await deliverPending(deps, 'grant-1')).toBe(2);

    expect(postedMeanwhile).toBe(1);
    expect(jira.titles()).toEqual(['Grantline: approved', 'Grantline: added']);
  });
});

describe('one poster per issue: the delivery lease', () => {
  it('a slow Jira: the poster renews its lease once half of it has run, so a second poster meanwhile posts nothing', async () => {
    await recordThreeDeferred();
    const jira = issueComments();
    let second: number | undefined;
    jira.onPost = async (comment) => {
      clock.advance(40_000);
      if (comment.title === 'Grantline: two') second = await deliverPending(deps, 'grant-1');
    };

    expect(await deliverPending(deps, 'grant-1')).toBe(3);

    expect(second).toBe(0);
    expect(jira.titles()).toEqual(['Grantline: one', 'Grantline: two', 'Grantline: three']);
  });

  it.each([
    { post: 20_000, lapsesAfter: DELIVERY_LEASE_MS, when: 'not renewed before the second post: under half of it had run' },
    { post: 30_000, lapsesAfter: 30_000 + DELIVERY_LEASE_MS, when: 'renewed before the second post: half of it had run' },
  ])('a poster that dies mid-post holds the rest back until its lease lapses ($when); what it posted is not posted again', async ({ post, lapsesAfter }) => {
    const start = clock.now().getTime();
    await recordThreeDeferred();
    const jira = issueComments();
    let died!: () => void;
    const dead = new Promise<void>((resolve) => (died = resolve));
    jira.onPost = async (comment) => {
      clock.advance(post);
      if (comment.title !== 'Grantline: two') return;
      died();
      await new Promise(() => {});
    };
    void deliverPending(deps, 'grant-1');
    await dead;
    jira.onPost = undefined;

    clock.set(new Date(start + lapsesAfter));
    expect(await deliverPending(deps, 'grant-1')).toBe(0);
    expect(jira.titles()).toEqual(['Grantline: one', 'Grantline: two']);

    clock.set(new Date(start + lapsesAfter + 1));
    expect(await deliverPending(deps, 'grant-1')).toBe(2);
    expect(jira.titles()).toEqual(['Grantline: one', 'Grantline: two', 'Grantline: three']);
    expect(await listed()).toEqual({ pending: [], undeliverable: [] });
  });

  it('a post that took the whole lease, with nobody else about: the poster still holds it and posts the rest', async () => {
    await recordThreeDeferred();
    const jira = issueComments();
    jira.onPost = async (comment) => {
      if (comment.title === 'Grantline: one') clock.advance(DELIVERY_LEASE_MS);
    };

    expect(await deliverPending(deps, 'grant-1')).toBe(3);
    expect(jira.titles()).toEqual(['Grantline: one', 'Grantline: two', 'Grantline: three']);
  });

  it('a post that outlasted the lease: the poster that took over posts the rest, and the first one, back at last, posts nothing more', async () => {
    await recordThreeDeferred();
    const jira = issueComments();
    let takenOver: number | undefined;
    jira.onPost = async (comment) => {
      if (comment.title !== 'Grantline: one') return;
      clock.advance(DELIVERY_LEASE_MS + 1);
      takenOver = await deliverPending(deps, 'grant-1');
    };

    await deliverPending(deps, 'grant-1');

    // The one that took over found the first comment on the issue and posted the other two.
    expect(takenOver).toBe(3);
    expect(jira.titles()).toEqual(['Grantline: one', 'Grantline: two', 'Grantline: three']);
    expect(await listed()).toEqual({ pending: [], undeliverable: [] });
  });
  it('a post that outlasted the lease, nobody else about: the poster stops there, and a slot it had seen empty, whose event came meanwhile, is posted later, not skipped', async () => {
    // Steps without a notice: one comment each.
    await recordEvidence(
      deps,
      GRANT,
      { type: 'approval_requested', key: 'approval_requested#0', actor: 'a', via: 'slack', summary: 'one' },
      { deliverNow: false },
    );
    await recordEvidence(
      deps,
      GRANT,
      { type: 'approval_requested', key: 'approval_requested#1', actor: 'a', via: 'slack', summary: 'two' },
      { deliverNow: false },
    );
    // The third step's writer has taken its slot and is on its way.
    const three: EvidenceEvent = { ...EVENT, key: 'provisioned', type: 'provisioned', summary: 'three', at: clock.now().toISOString() };
    const seq = await dynamo.store.reserveDelivery(three, clock.now().toISOString(), 2);
    const jira = issueComments();
    jira.onPost = async (comment) => {
      if (comment.title !== 'Grantline: one') return;
      await dynamo.store.appendEvidence({ ...three, seq });
      clock.advance(2 * 60_000 + 1);
    };

    expect(await deliverPending(deps, 'grant-1')).toBe(1);
    expect(jira.titles()).toEqual(['Grantline: one']);

    jira.onPost = undefined;
    clock.advance(FLUSH_AFTER_MS);
    expect(await flushEvidence(deps)).toBe(2);
    expect(jira.titles()).toEqual(['Grantline: one', 'Grantline: two', 'Grantline: three']);
  });
});

describe('what Jira is asked, and what is logged', () => {
  it('a new event is posted without looking for it on the issue first; one whose post failed is looked for before it is posted again', async () => {
    const ticketing: Ticketing = ports;
    let lookups = 0;
    ticketing.hasComment = async () => {
      lookups += 1;
      return false;
    };
    await recordEvidence(deps, GRANT, { type: 'requested', actor: 'a', via: 'jira', summary: 'requested' });
    expect(ports.comments).toEqual(['Grantline: requested']);
    expect(lookups).toBe(0);

    ports.addComment = async () => {
      throw new RetryableError('Jira timed out');
    };
    await recordEvidence(deps, GRANT, { type: 'approved', key: 'approved#0', actor: 'a', via: 'slack', summary: 'approved' });
    expect(lookups).toBe(0);
    ports.addComment = Recorder.prototype.addComment;
    clock.advance(FLUSH_AFTER_MS);
    expect(await flushEvidence(deps)).toBe(1);

    // One look per comment of the event: its evidence and its notice.
    expect(lookups).toBe(2);
    expect(ports.comments).toEqual(['Grantline: requested', 'Grantline: approved']);
  });

  it('a transition refused after Jira took the comment is retried without posting the comment again, even where Jira cannot find it', async () => {
    const moves: string[] = [];
    let refuse = true;
    const ticketing: Ticketing = ports;
    ticketing.transition = async (_issueKey, status) => {
      if (refuse) {
        refuse = false;
        throw new RetryableError('Jira answered 429');
      }
      moves.push(status);
      return true;
    };

    await recordEvidence(deps, GRANT, { type: 'provisioned', actor: 'grantline', via: 'okta', summary: 'added', transitionTo: 'Access granted' });
    clock.advance(FLUSH_AFTER_MS);
    expect(await flushEvidence(deps)).toBe(1);

    expect(ports.comments).toEqual(['Grantline: added']);
    expect(moves).toEqual(['Access granted']);
    // The move that went through is logged nowhere.
    expect(warnings).toEqual([
      { message: 'Jira unavailable; evidence kept for later delivery', extra: { issueKey: 'ACC-1', key: 'provisioned', error: 'Jira answered 429' } },
    ]);
  });

  it('an event Jira refuses for good is logged as an error, not counted as delivered, and listed as undeliverable', async () => {
    ports.addComment = async () => {
      throw new PermanentError('Jira issue ACC-1 does not exist');
    };
    await recordEvidence(deps, GRANT, { type: 'requested', actor: 'a', via: 'jira', summary: 'requested' }, { deliverNow: false });
    clock.advance(FLUSH_AFTER_MS);

    expect(await flushEvidence(deps)).toBe(0);

    expect(errors).toEqual([
      {
        message: 'evidence cannot be delivered to Jira; kept in the ledger',
        extra: { issueKey: 'ACC-1', key: 'requested', error: 'Jira issue ACC-1 does not exist' },
      },
    ]);
    expect(await listed()).toEqual({
      pending: [],
      undeliverable: [
        { grantId: 'grant-1', issueKey: 'ACC-1', key: 'requested', at: '2026-03-02T09:00:00.000Z', summary: 'requested', status: 'delivered', attempts: 1 },
      ],
    });
    expect(await flushEvidence(deps)).toBe(0);
  });
});

describe('GET /evidence/pending, page by page', () => {
  it('walks the waiting list, then the refused list, then ends', async () => {
    ports.addComment = async () => {
      throw new RetryableError('Jira answered 503');
    };
    await recordEvidence(deps, GRANT, { type: 'requested', actor: 'a', via: 'jira', summary: 'one' });
    clock.advance(1_000);
    await recordEvidence(deps, { id: 'grant-2', issueKey: 'ACC-2' }, { type: 'requested', actor: 'a', via: 'jira', summary: 'two' });

    const first = (await get({ limit: '1' })).body as { pending: Array<{ summary: string }>; nextCursor: string };
    const second = (await get({ limit: '1', cursor: first.nextCursor })).body as { pending: Array<{ summary: string }>; nextCursor: string };
    const third = (await get({ limit: '1', cursor: second.nextCursor })).body as { pending: unknown[]; nextCursor: string };
    const last = (await get({ limit: '1', cursor: third.nextCursor })).body as Record<string, unknown>;

    expect(first.pending.map((p) => p.summary)).toEqual(['one']);
    expect(first.nextCursor).toMatch(/^pending:./);
    expect(second.pending.map((p) => p.summary)).toEqual(['two']);
    expect(third.pending).toEqual([]);
    expect(last).toEqual({ pending: [], undeliverable: [] });
  });

  it('a cursor without a list name continues the waiting list (it never starts it over)', async () => {
    ports.addComment = async () => {
      throw new RetryableError('Jira answered 503');
    };
    await recordEvidence(deps, GRANT, { type: 'requested', actor: 'a', via: 'jira', summary: 'one' });
    clock.advance(1_000);
    await recordEvidence(deps, { id: 'grant-2', issueKey: 'ACC-2' }, { type: 'requested', actor: 'a', via: 'jira', summary: 'two' });
    const first = (await get({ limit: '1' })).body as { nextCursor: string };

    const next = (await get({ limit: '1', cursor: first.nextCursor.replace(/^pending:/, '') })).body as { pending: Array<{ summary: string }> };

    expect(next.pending.map((p) => p.summary)).toEqual(['two']);
  });

  it('a cursor it did not give is refused', async () => {
    await expect(get({ cursor: 'elsewhere:abc' })).rejects.toThrow('cursor is not one this route gave');
  });
});
