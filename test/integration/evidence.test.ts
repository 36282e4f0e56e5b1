import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock.js';
import { PermanentError, RetryableError } from '../../shared/errors.js';
import { flushEvidence, recordEvidence, type EvidenceDeps } from '../../shared/evidence.js';
import { silentLogger } from '../../shared/logger.js';
import type { FieldOptionsChange, NewTicket, TicketComment, Ticketing } from '../../shared/ports.js';
import { startDynamo, type TestDynamo } from '../support/dynamo.js';

/** The Ticketing port as Jira would show it: comments and transitions per issue, and an outage switch. */
class FakeTicketing implements Ticketing {
  readonly comments: Array<{ issueKey: string; comment: TicketComment }> = [];
  readonly transitions: Array<{ issueKey: string; status: string }> = [];
  /** While set, calls fail with this error (as the Jira adapter reports an outage or a refusal)... */
  failWith: Error | undefined;
  /** ...for this many calls, then Jira recovers (undefined: until failWith is cleared). */
  failCalls: number | undefined;
  /** Issues deleted in Jira: the adapter reports them as a PermanentError. */
  readonly deleted = new Set<string>();

  async addComment(issueKey: string, comment: TicketComment): Promise<void> {
    this.fail(issueKey);
    this.comments.push({ issueKey, comment });
  }
  /** Transitions alone fail this many times (Jira took the comment, then rate-limited the transition). */
  failTransitions = 0;

  async transition(issueKey: string, statusOrTransitionName: string): Promise<boolean> {
    if (this.failTransitions > 0) {
      this.failTransitions -= 1;
      throw new RetryableError('Jira answered 429 to the transition');
    }
    this.fail(issueKey);
    this.transitions.push({ issueKey, status: statusOrTransitionName });
    return true;
  }
  async userEmail(): Promise<string | undefined> {
    return undefined;
  }
  async createIssue(_ticket: NewTicket): Promise<{ key: string }> {
    throw new Error('not used by evidence');
  }
  async syncFieldOptions(): Promise<FieldOptionsChange> {
    throw new Error('not used by evidence');
  }
  titles(issueKey?: string): string[] {
    return this.comments.filter((c) => issueKey === undefined || c.issueKey === issueKey).map((c) => c.comment.title);
  }
  private fail(issueKey: string): void {
    if (this.failWith) {
      const err = this.failWith;
      if (this.failCalls !== undefined) {
        this.failCalls -= 1;
        if (this.failCalls <= 0) {
          this.failWith = undefined;
          this.failCalls = undefined;
        }
      }
      throw err;
    }
    if (this.deleted.has(issueKey)) throw new PermanentError(`Jira issue ${issueKey} does not exist`);
  }
}

const GRANT = { id: 'grant-ACC-1', issueKey: 'ACC-1' };

let dynamo: TestDynamo;
let ticketing: FakeTicketing;
let clock: ManualClock;
let deps: EvidenceDeps;

beforeEach(async () => {
  dynamo = await startDynamo();
  ticketing = new FakeTicketing();
  clock = new ManualClock(new Date('2026-01-05T09:00:00.000Z'));
  deps = { store: dynamo.store, ticketing, clock, logger: silentLogger };
});
afterEach(async () => {
  await dynamo.close();
});

describe('recordEvidence', () => {
  it('writes the event to the ledger, posts one comment and moves the issue', async () => {
    const event = await recordEvidence(deps, GRANT, {
      type: 'approved',
      key: 'approved#0',
      actor: 'alice@example.com',
      via: 'slack',
      summary: 'Approved by alice@example.com',
      details: { Step: '1 of 1', Note: undefined, Empty: '' },
      transitionTo: 'Approved',
    });

    expect(event).toMatchObject({ grantId: 'grant-ACC-1', issueKey: 'ACC-1', key: 'approved#0', at: '2026-01-05T09:00:00.000Z' });
    expect(await dynamo.store.evidence('grant-ACC-1')).toEqual([event]);

    expect(ticketing.comments).toHaveLength(1);
    const posted = ticketing.comments[0];
    expect(posted?.issueKey).toBe('ACC-1');
    expect(posted?.comment.title).toContain('Approved by alice@example.com');
    expect(posted?.comment.facts).toEqual([
      { label: 'Step', value: '1 of 1' },
      { label: 'By', value: 'alice@example.com (slack)' },
      { label: 'At', value: '2026-01-05T09:00:00.000Z' },
      { label: 'Grant', value: 'grant-ACC-1' },
    ]);
    expect(ticketing.transitions).toEqual([{ issueKey: 'ACC-1', status: 'Approved' }]);
    expect(await dynamo.store.pendingDeliveries()).toEqual([]);
  });

  it('does not move the issue when the step has no transition', async () => {
    await recordEvidence(deps, GRANT, { type: 'requested', actor: 'nina@example.com', via: 'jira', summary: 'Access requested' });

    expect(ticketing.titles('ACC-1')).toEqual(['Grantline: Access requested']);
    expect(ticketing.transitions).toEqual([]);
  });

  it('a retried step (same key) records nothing new and posts nothing twice', async () => {
    const first = await recordEvidence(deps, GRANT, { type: 'provisioned', actor: 'grantline', via: 'idp', summary: 'Added to the group', transitionTo: 'Granted' });
    clock.advance(60_000);
    const retried = await recordEvidence(deps, GRANT, { type: 'provisioned', actor: 'grantline', via: 'idp', summary: 'Added to the group (retry)', transitionTo: 'Granted' });

    expect(retried).toEqual(first);
    expect(await dynamo.store.evidence('grant-ACC-1')).toEqual([first]);
    expect(ticketing.titles()).toEqual(['Grantline: Added to the group']);
    expect(ticketing.transitions).toHaveLength(1);
    expect(await flushEvidence(deps)).toBe(0);
    expect(ticketing.comments).toHaveLength(1);
  });
});

describe('Jira down while writing evidence', () => {
  it('keeps the evidence in the ledger and delivers it once Jira is back', async () => {
    ticketing.failWith = new RetryableError('Jira answered 503');
    const event = await recordEvidence(deps, GRANT, {
      type: 'revoked',
      actor: 'scheduler',
      via: 'system',
      summary: 'Access removed at expiry',
      transitionTo: 'Done',
    });

    expect(await dynamo.store.evidence('grant-ACC-1')).toEqual([event]);
    expect(await dynamo.store.pendingDeliveries()).toMatchObject([{ grantId: 'grant-ACC-1', key: 'revoked' }]);
    expect(ticketing.comments).toEqual([]);

    // Still down: the flush delivers nothing and keeps the entry.
    expect(await flushEvidence(deps)).toBe(0);
    expect(await dynamo.store.pendingDeliveries()).toHaveLength(1);

    ticketing.failWith = undefined;
    expect(await flushEvidence(deps)).toBe(1);
    expect(ticketing.comments).toHaveLength(1);
    expect(ticketing.comments[0]?.comment.title).toContain('Access removed at expiry');
    expect(ticketing.comments[0]?.comment.facts).toEqual([
      { label: 'By', value: 'scheduler' },
      { label: 'At', value: '2026-01-05T09:00:00.000Z' },
      { label: 'Grant', value: 'grant-ACC-1' },
    ]);
    expect(ticketing.transitions).toEqual([{ issueKey: 'ACC-1', status: 'Done' }]);

    expect(await flushEvidence(deps)).toBe(0);
    expect(ticketing.comments).toHaveLength(1);
    expect(await dynamo.store.pendingDeliveries()).toEqual([]);
    expect(await dynamo.store.evidence('grant-ACC-1')).toEqual([event]);
  });

  it('a transition refused after the comment was posted is retried without posting the comment again', async () => {
    ticketing.failTransitions = 1;
    await recordEvidence(deps, GRANT, { type: 'provisioned', actor: 'grantline', via: 'okta', summary: 'added', transitionTo: 'Access granted' });
    expect(ticketing.titles('ACC-1')).toEqual(['Grantline: added']);
    expect(ticketing.transitions).toEqual([]);

    expect(await flushEvidence(deps)).toBe(1);

    expect(ticketing.titles('ACC-1')).toEqual(['Grantline: added']);
    expect(ticketing.transitions).toEqual([{ issueKey: 'ACC-1', status: 'Access granted' }]);
  });

  it('delivers the queued events oldest first', async () => {
    ticketing.failWith = new RetryableError('Jira timed out');
    // Order is kept per issue (what a reader of one issue sees); issues do not wait for each other.
    await recordEvidence(deps, { id: 'grant-ACC-2', issueKey: 'ACC-2' }, { type: 'requested', actor: 'omar@example.com', via: 'jira', summary: 'first' });
    clock.advance(1_000);
    await recordEvidence(deps, GRANT, { type: 'requested', actor: 'nina@example.com', via: 'jira', summary: 'second' });
    clock.advance(1_000);
    await recordEvidence(deps, { id: 'grant-ACC-2', issueKey: 'ACC-2' }, { type: 'approved', actor: 'alice@example.com', via: 'slack', summary: 'third' });
    expect(ticketing.comments).toEqual([]);

    ticketing.failWith = undefined;
    expect(await flushEvidence(deps)).toBe(3);
    const titlesOn = (issueKey: string) => ticketing.comments.filter((c) => c.issueKey === issueKey).map((c) => c.comment.title);
    expect(titlesOn('ACC-2')).toEqual(['Grantline: first', 'Grantline: third']);
    expect(titlesOn('ACC-1')).toEqual(['Grantline: second']);
    expect(await flushEvidence(deps)).toBe(0);
    expect(ticketing.comments).toHaveLength(3);
  });

  it('a flush that meets Jira failing again stops there, so a later event never overtakes an older one', async () => {
    ticketing.failWith = new RetryableError('Jira answered 503');
    await recordEvidence(deps, GRANT, { type: 'approved', key: 'approved#0', actor: 'alice@example.com', via: 'slack', summary: 'older' });
    clock.advance(1_000);
    await recordEvidence(deps, GRANT, { type: 'provisioned', actor: 'grantline', via: 'idp', summary: 'newer' });

    // Jira is flaky: it fails the next call, then recovers.
    ticketing.failCalls = 1;
    expect(await flushEvidence(deps)).toBe(0);
    expect(ticketing.comments).toEqual([]);
    expect(await dynamo.store.pendingDeliveries()).toHaveLength(2);

    expect(await flushEvidence(deps)).toBe(2);
    expect(ticketing.titles('ACC-1')).toEqual(['Grantline: older', 'Grantline: newer']);
  });
});

describe('Jira refuses the evidence for good (issue deleted)', () => {
  it('drops the delivery instead of retrying forever; the ledger keeps the event', async () => {
    ticketing.failWith = new PermanentError('Jira issue ACC-1 does not exist');
    const event = await recordEvidence(deps, GRANT, { type: 'denied', key: 'denied#0', actor: 'bob@example.com', via: 'slack', summary: 'Denied by bob' });

    expect(await dynamo.store.evidence('grant-ACC-1')).toEqual([event]);
    expect(await dynamo.store.pendingDeliveries()).toEqual([]);

    ticketing.failWith = undefined;
    expect(await flushEvidence(deps)).toBe(0);
    expect(ticketing.comments).toEqual([]);
  });

  it('a refusal during a flush drops that entry and the later ones are still delivered', async () => {
    ticketing.failWith = new RetryableError('Jira answered 502');
    await recordEvidence(deps, GRANT, { type: 'requested', actor: 'nina@example.com', via: 'jira', summary: 'for a deleted issue' });
    clock.advance(1_000);
    await recordEvidence(deps, { id: 'grant-ACC-2', issueKey: 'ACC-2' }, { type: 'requested', actor: 'omar@example.com', via: 'jira', summary: 'for a live issue' });

    // Jira is back, but ACC-1 was deleted meanwhile.
    ticketing.failWith = undefined;
    ticketing.deleted.add('ACC-1');
    await flushEvidence(deps);

    expect(ticketing.comments.map((c) => [c.issueKey, c.comment.title])).toEqual([['ACC-2', 'Grantline: for a live issue']]);
    expect(await dynamo.store.pendingDeliveries()).toEqual([]);
    expect((await dynamo.store.evidence('grant-ACC-1')).map((e) => e.summary)).toEqual(['for a deleted issue']);
  });
});
