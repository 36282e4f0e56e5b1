/**
 * Evidence (shared/evidence.ts): what an event becomes on the Jira issue, and the paging of the
 * undelivered list. Complements test/integration/evidence.test.ts (delivery against simulated Jira).
 * Written against the mutants `npm run mutate` found surviving.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock.js';
import { parseConfig } from '../../shared/config.js';
import { PermanentError, RetryableError } from '../../shared/errors.js';
import { commentFor, evidenceRef, getPendingEvidence, minimalCommentFor, recordEvidence, type EvidenceDeps } from '../../shared/evidence.js';
import type { EvidenceEvent } from '../../shared/grants/model.js';
import type { HttpRequest, HttpResponse } from '../../shared/http.js';
import type { TicketComment } from '../../shared/ports.js';
import type { Logger } from '../../shared/logger.js';
import { startDynamo, type TestDynamo } from '../support/dynamo.js';
import { Recorder } from '../support/fakes.js';

let dynamo: TestDynamo;
let clock: ManualClock;
let ports: Recorder;
let warnings: Array<{ message: string; extra: unknown }>;
let deps: EvidenceDeps;

beforeEach(async () => {
  dynamo = await startDynamo();
  clock = new ManualClock(new Date('2026-03-02T09:00:00.000Z'));
  ports = new Recorder();
  warnings = [];
  const logger: Logger = { debug() {}, info() {}, warn: (message, extra) => void warnings.push({ message, extra }), error() {} };
  deps = { store: dynamo.store, ticketing: ports, clock, logger };
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
    });
    expect(await dynamo.store.evidence('grant-1')).toEqual([event]);
    expect(ports.comments).toEqual(['Grantline: requested']);
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

    expect(posted).toEqual([{ ...minimalCommentFor({ ...EVENT, summary: 'very long', key: 'requested' }), ref: 'grant-1/requested' }]);
    expect(warnings.map((w) => w.message)).toEqual(['Jira refused the evidence comment; posting a minimal one']);
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

describe('GET /evidence/pending, page by page', () => {
  const config = parseConfig({});
  const get = (query: Record<string, string>): Promise<HttpResponse> =>
    getPendingEvidence({ config, store: dynamo.store }, {
      method: 'GET',
      path: '/evidence/pending',
      headers: {},
      query,
      pathParams: {},
      rawBody: '',
    } as HttpRequest);

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

  it('a cursor it did not give is refused', async () => {
    await expect(get({ cursor: 'elsewhere:abc' })).rejects.toThrow('cursor is not one this route gave');
  });
});
