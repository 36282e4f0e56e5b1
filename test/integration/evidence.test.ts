import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeJira, type FakeJira } from '../../infra/local/sandbox/jira.js';
import { ManualClock } from '../../shared/clock.js';
import { parseConfig } from '../../shared/config.js';
import { JIRA_COMMENT_LIMIT, JiraTicketing } from '../../shared/connectors/jira.js';
import { PermanentError, RetryableError } from '../../shared/errors.js';
import {
  DELIVERY_LEASE_MS,
  deliverPending,
  FLUSH_AFTER_MS,
  flushEvidence,
  getPendingEvidence,
  recordEvidence,
  type EvidenceDeps,
  type EvidenceInput,
} from '../../shared/evidence.js';
import { silentLogger } from '../../shared/logger.js';
import type { FieldOptionsChange, JsmApproval, NewTicket, TicketComment, Ticketing, TransitionOptions } from '../../shared/ports.js';
import { Store } from '../../shared/store/store.js';
import { startDynamo, type TestDynamo } from '../support/dynamo.js';

/** The Ticketing port as Jira would show it: comments and transitions per issue, and an outage switch. */
class FakeTicketing implements Ticketing {
  /** The internal comments: the evidence, agents only. */
  readonly comments: Array<{ issueKey: string; comment: TicketComment }> = [];
  /** The public comments: the requester's notices. */
  readonly publicComments: Array<{ issueKey: string; comment: TicketComment }> = [];
  readonly transitions: Array<{ issueKey: string; status: string }> = [];
  /** While set, calls fail with this error (as the Jira adapter reports an outage or a refusal)... */
  failWith: Error | undefined;
  /** ...for this many calls, then Jira recovers (undefined: until failWith is cleared). */
  failCalls: number | undefined;
  /** Issues deleted in Jira: the adapter reports them as a PermanentError. */
  readonly deleted = new Set<string>();

  async addComment(issueKey: string, comment: TicketComment): Promise<void> {
    this.fail(issueKey);
    (comment.internal ? this.comments : this.publicComments).push({ issueKey, comment });
  }
  async hasComment(issueKey: string, ref: string): Promise<boolean> {
    this.fail(issueKey);
    return [...this.comments, ...this.publicComments].some((c) => c.issueKey === issueKey && c.comment.ref === ref);
  }
  /** Transitions alone fail this many times (Jira took the comment, then rate-limited the transition). */
  failTransitions = 0;

  async transition(issueKey: string, statusOrTransitionName: string, _options?: TransitionOptions): Promise<boolean> {
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
  async findIssueByLabel(): Promise<string | undefined> {
    throw new Error('not used by evidence');
  }
  async syncFieldOptions(): Promise<FieldOptionsChange> {
    throw new Error('not used by evidence');
  }
  async setApprovers(): Promise<{ missing: string[] }> {
    throw new Error('not used by evidence');
  }
  async approvals(): Promise<JsmApproval[]> {
    throw new Error('not used by evidence');
  }
  async answerApproval(): Promise<'answered'> {
    throw new Error('not used by evidence');
  }
  async attachFile(): Promise<'attached'> {
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
/** The periodic flush, once the evidence has waited for its own workflow step. */
const flushLater = (d: EvidenceDeps) => {
  clock.advance(FLUSH_AFTER_MS);
  return flushEvidence(d);
};
let deps: EvidenceDeps;

beforeEach(async () => {
  dynamo = await startDynamo();
  ticketing = new FakeTicketing();
  clock = new ManualClock(new Date('2026-01-05T09:00:00.000Z'));
  deps = { store: dynamo.store, ticketing, clock, logger: silentLogger, config: parseConfig({}) };
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
    const first = await recordEvidence(deps, GRANT, {
      type: 'provisioned',
      actor: 'grantline',
      via: 'idp',
      summary: 'Added to the group',
      transitionTo: 'Granted',
    });
    clock.advance(60_000);
    const retried = await recordEvidence(deps, GRANT, {
      type: 'provisioned',
      actor: 'grantline',
      via: 'idp',
      summary: 'Added to the group (retry)',
      transitionTo: 'Granted',
    });

    expect(retried).toEqual(first);
    expect(await dynamo.store.evidence('grant-ACC-1')).toEqual([first]);
    expect(ticketing.titles()).toEqual(['Grantline: Added to the group']);
    expect(ticketing.transitions).toHaveLength(1);
    expect(await flushLater(deps)).toBe(0);
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
    expect(await flushLater(deps)).toBe(0);
    expect(await dynamo.store.pendingDeliveries()).toHaveLength(1);

    ticketing.failWith = undefined;
    expect(await flushLater(deps)).toBe(1);
    expect(ticketing.comments).toHaveLength(1);
    expect(ticketing.comments[0]?.comment.title).toContain('Access removed at expiry');
    expect(ticketing.comments[0]?.comment.facts).toEqual([
      { label: 'By', value: 'scheduler' },
      { label: 'At', value: '2026-01-05T09:00:00.000Z' },
      { label: 'Grant', value: 'grant-ACC-1' },
    ]);
    expect(ticketing.transitions).toEqual([{ issueKey: 'ACC-1', status: 'Done' }]);

    expect(await flushLater(deps)).toBe(0);
    expect(ticketing.comments).toHaveLength(1);
    expect(await dynamo.store.pendingDeliveries()).toEqual([]);
    expect(await dynamo.store.evidence('grant-ACC-1')).toEqual([event]);
  });

  it('a transition refused after the comment was posted is retried without posting the comment again', async () => {
    ticketing.failTransitions = 1;
    await recordEvidence(deps, GRANT, { type: 'provisioned', actor: 'grantline', via: 'okta', summary: 'added', transitionTo: 'Access granted' });
    expect(ticketing.titles('ACC-1')).toEqual(['Grantline: added']);
    expect(ticketing.transitions).toEqual([]);

    expect(await flushLater(deps)).toBe(1);

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
    expect(await flushLater(deps)).toBe(3);
    const titlesOn = (issueKey: string) => ticketing.comments.filter((c) => c.issueKey === issueKey).map((c) => c.comment.title);
    expect(titlesOn('ACC-2')).toEqual(['Grantline: first', 'Grantline: third']);
    expect(titlesOn('ACC-1')).toEqual(['Grantline: second']);
    expect(await flushLater(deps)).toBe(0);
    expect(ticketing.comments).toHaveLength(3);
  });

  it('a flush that meets Jira failing again stops there, so a later event never overtakes an older one', async () => {
    ticketing.failWith = new RetryableError('Jira answered 503');
    await recordEvidence(deps, GRANT, { type: 'approved', key: 'approved#0', actor: 'alice@example.com', via: 'slack', summary: 'older' });
    clock.advance(1_000);
    await recordEvidence(deps, GRANT, { type: 'provisioned', actor: 'grantline', via: 'idp', summary: 'newer' });

    // Jira is flaky: it fails the next call, then recovers.
    ticketing.failCalls = 1;
    expect(await flushLater(deps)).toBe(0);
    expect(ticketing.comments).toEqual([]);
    expect(await dynamo.store.pendingDeliveries()).toHaveLength(2);

    expect(await flushLater(deps)).toBe(2);
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
    expect(await flushLater(deps)).toBe(0);
    expect(ticketing.comments).toEqual([]);
  });

  it('a refusal during a flush drops that entry and the later ones are still delivered', async () => {
    ticketing.failWith = new RetryableError('Jira answered 502');
    await recordEvidence(deps, GRANT, { type: 'requested', actor: 'nina@example.com', via: 'jira', summary: 'for a deleted issue' });
    clock.advance(1_000);
    await recordEvidence(
      deps,
      { id: 'grant-ACC-2', issueKey: 'ACC-2' },
      { type: 'requested', actor: 'omar@example.com', via: 'jira', summary: 'for a live issue' },
    );

    // Jira is back, but ACC-1 was deleted meanwhile.
    ticketing.failWith = undefined;
    ticketing.deleted.add('ACC-1');
    await flushLater(deps);

    expect(ticketing.comments.map((c) => [c.issueKey, c.comment.title])).toEqual([['ACC-2', 'Grantline: for a live issue']]);
    expect(await dynamo.store.pendingDeliveries()).toEqual([]);
    expect((await dynamo.store.evidence('grant-ACC-1')).map((e) => e.summary)).toEqual(['for a deleted issue']);
  });
});

/** The ledger as a process that dies right after Jira took a comment: the mark and the lease release never happen. */
class StoreThatCrashesAfterThePost extends Store {
  crashArmed = false;
  dead = false;
  override async markDelivered(...args: Parameters<Store['markDelivered']>): Promise<void> {
    if (this.crashArmed) {
      this.crashArmed = false;
      this.dead = true;
    }
    if (this.dead) throw new Error('process killed');
    return super.markDelivered(...args);
  }
  override async releaseDeliveries(...args: Parameters<Store['releaseDeliveries']>): Promise<void> {
    if (this.dead) throw new Error('process killed');
    return super.releaseDeliveries(...args);
  }
}

/** A poster killed while Jira was taking its comment: the comment lands, the poster never comes back. */
class TicketingThatDiesMidPost implements Ticketing {
  private died!: () => void;
  /** Settles once Jira has the comment and the poster is gone. */
  readonly dead = new Promise<void>((resolve) => (this.died = resolve));
  constructor(private readonly jira: Ticketing) {}
  async addComment(issueKey: string, comment: TicketComment): Promise<void> {
    await this.jira.addComment(issueKey, comment);
    this.died();
    await new Promise(() => {});
  }
  hasComment = (issueKey: string, ref: string) => this.jira.hasComment(issueKey, ref);
  transition = (issueKey: string, status: string, options?: TransitionOptions) => this.jira.transition(issueKey, status, options);
  userEmail = (accountId: string) => this.jira.userEmail(accountId);
  createIssue = (ticket: NewTicket) => this.jira.createIssue(ticket);
  findIssueByLabel = (label: string) => this.jira.findIssueByLabel(label);
  syncFieldOptions = (fieldId: string, values: string[]) => this.jira.syncFieldOptions(fieldId, values);
  setApprovers = (issueKey: string, fieldId: string, emails: string[]) => this.jira.setApprovers(issueKey, fieldId, emails);
  approvals = (issueKey: string) => this.jira.approvals(issueKey);
  answerApproval = (issueKey: string, approvalId: string, decision: 'approve' | 'decline') => this.jira.answerApproval(issueKey, approvalId, decision);
  attachFile = (issueKey: string, file: { filename: string; content: string; contentType: string }) => this.jira.attachFile(issueKey, file);
}

describe('Jira evidence posted twice (issue 7, defect 2): against the simulated Jira', () => {
  let jira: FakeJira;
  let jiraDeps: EvidenceDeps;
  let issueKey: string;
  let grant: { id: string; issueKey: string };

  beforeEach(async () => {
    jira = await startFakeJira({ email: 'bot@example.com', apiToken: 'token' });
    const adapter = new JiraTicketing({ baseUrl: jira.url, email: 'bot@example.com', apiToken: 'token' });
    jiraDeps = { ...deps, ticketing: adapter };
    issueKey = jira.createIssue({ summary: 'Access to billing', reporterEmail: 'nina@example.com' }).key;
    grant = { id: `grant-${issueKey}`, issueKey };
  });
  afterEach(async () => {
    await jira.close();
  });

  const steps: EvidenceInput[] = [
    { type: 'requested', actor: 'nina@example.com', via: 'jira', summary: 'nina requested billing admin' },
    { type: 'approved', key: 'approved#0', actor: 'alice@example.com', via: 'slack', summary: 'approved by alice' },
    { type: 'provisioned', actor: 'grantline', via: 'okta', summary: 'added nina to the billing group', transitionTo: 'Access granted' },
  ];
  /** Records the steps one clock tick apart without delivering them (as after a Jira outage). */
  async function recordUndelivered(d: EvidenceDeps): Promise<void> {
    for (const step of steps) {
      await recordEvidence(d, grant, step, { deliverNow: false });
      clock.advance(1_000);
    }
  }
  /** First lines of the evidence comments (internal), oldest first. */
  const titles = () => jira.commentTexts(issueKey, 'internal').map((c) => c.split('\n')[0]);
  const ALL = ['Grantline: nina requested billing admin', 'Grantline: approved by alice', 'Grantline: added nina to the billing group'];
  /** What nina sees: one notice per step, in order (first lines). */
  const notices = () => jira.publicCommentTexts(issueKey).map((c) => c.split('\n')[0]);
  const NOTICES = [
    'We have received your access request. Updates will appear here.',
    'Your request was approved by alice@example.com.',
    'Access granted with no end date (permanent).',
  ];

  it('Jira slower than the flush interval: overlapping flushes post each event once, in order', async () => {
    await recordUndelivered(jiraDeps);
    jira.delayMs = 50;

    // A flush every "second" while each Jira call takes longer: they overlap.
    clock.advance(FLUSH_AFTER_MS);
    await Promise.all([flushEvidence(jiraDeps), flushEvidence(jiraDeps), flushEvidence(jiraDeps)]);
    await flushLater(jiraDeps);

    expect(titles()).toEqual(ALL);
    expect(jira.issue(issueKey)?.status).toBe('Access granted');
    expect(await dynamo.store.pendingDeliveries()).toEqual([]);
  });

  it('many concurrent deliverPending and flushEvidence for one grant: each comment once, in ledger order', async () => {
    await recordUndelivered(jiraDeps);
    jira.delayMs = 5;

    clock.advance(FLUSH_AFTER_MS);
    await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? deliverPending(jiraDeps, grant.id) : flushEvidence(jiraDeps))));
    await flushLater(jiraDeps);

    expect(titles()).toEqual(ALL);
  });

  it('a burst of duplicate webhooks records and posts the request once', async () => {
    jira.delayMs = 20;

    await Promise.all(Array.from({ length: 10 }, () => recordEvidence(jiraDeps, grant, steps[0]!)));
    await flushLater(jiraDeps);

    expect(titles()).toEqual([ALL[0]]);
    expect(await dynamo.store.evidence(grant.id)).toHaveLength(1);
  });

  it('a crash after Jira took the comment but before it was marked: the re-delivery after the lease lapses posts nothing twice', async () => {
    const crashing = new StoreThatCrashesAfterThePost(dynamo.client, dynamo.store.table);
    const crashDeps = { ...jiraDeps, store: crashing };
    await recordUndelivered(crashDeps);

    crashing.crashArmed = true;
    await expect(flushLater(crashDeps)).rejects.toThrow('process killed');
    expect(titles()).toEqual([ALL[0]]);

    // Restarted at once: the dead poster's lease still holds, so nothing is posted yet.
    crashing.dead = false;
    expect(await flushLater(crashDeps)).toBe(0);
    expect(titles()).toEqual([ALL[0]]);

    clock.advance(DELIVERY_LEASE_MS + 1);
    expect(await flushLater(crashDeps)).toBe(3);
    expect(titles()).toEqual(ALL);
    expect(notices()).toEqual(NOTICES);
    expect(await dynamo.store.pendingDeliveries()).toEqual([]);
  });

  it('a poster that dies holding the lease mid-post: after the lease lapses the comment is found, not posted again', async () => {
    await recordUndelivered(jiraDeps);
    const dying = new TicketingThatDiesMidPost(jiraDeps.ticketing);
    void flushLater({ ...jiraDeps, ticketing: dying });
    await dying.dead;
    expect(titles()).toEqual([ALL[0]]);

    expect(await flushLater(jiraDeps)).toBe(0);
    clock.advance(DELIVERY_LEASE_MS + 1);
    expect(await flushLater(jiraDeps)).toBe(3);

    expect(titles()).toEqual(ALL);
    // The dead poster's evidence was found; its notice, never posted, was posted once.
    expect(notices()).toEqual(NOTICES);
  });

  it("the notice's reply lost: the re-delivery finds both comments, posts neither again, and only then moves the issue", async () => {
    const isNotice = (req: { body: unknown }) => JSON.stringify(req.body).includes('"internal":false');
    jira.fake.injectFault({ method: 'POST', path: `/rest/api/3/issue/${issueKey}/comment`, when: isNotice, action: 'reply_lost', status: 502 });

    await recordEvidence(jiraDeps, grant, steps[2]!);
    // Jira took both comments, but Grantline saw the notice fail: the event waits, the issue has not moved.
    expect(jira.commentTexts(issueKey)).toHaveLength(2);
    expect(jira.issue(issueKey)?.status).toBe('Open');
    expect(await dynamo.store.pendingDeliveries()).toMatchObject([{ key: 'provisioned', status: 'posting' }]);

    expect(await flushLater(jiraDeps)).toBe(1);
    expect(titles()).toEqual([ALL[2]]);
    expect(notices()).toEqual([NOTICES[2]]);
    expect(jira.issue(issueKey)).toMatchObject({ status: 'Access granted', resolution: 'Done' });
    expect(await dynamo.store.pendingDeliveries()).toEqual([]);
  });

  it('the evidence posted but the notice not yet (Jira failed it): the retry posts the notice alone', async () => {
    const isNotice = (req: { body: unknown }) => JSON.stringify(req.body).includes('"internal":false');
    jira.fake.injectFault({ method: 'POST', path: `/rest/api/3/issue/${issueKey}/comment`, when: isNotice, status: 503 });

    await recordEvidence(jiraDeps, grant, steps[0]!);
    expect(titles()).toEqual([ALL[0]]);
    expect(notices()).toEqual([]);

    expect(await flushLater(jiraDeps)).toBe(1);
    expect(titles()).toEqual([ALL[0]]);
    expect(notices()).toEqual([NOTICES[0]]);
  });

  it('a notice Jira refuses for good is left out (logged), and the evidence still moves the issue', async () => {
    const isNotice = (req: { body: unknown }) => JSON.stringify(req.body).includes('"internal":false');
    jira.fake.injectFault({ method: 'POST', path: `/rest/api/3/issue/${issueKey}/comment`, when: isNotice, status: 403, body: { errorMessages: ['no'] } });

    await recordEvidence(jiraDeps, grant, steps[2]!);

    expect(titles()).toEqual([ALL[2]]);
    expect(notices()).toEqual([]);
    expect(jira.issue(issueKey)?.status).toBe('Access granted');
    expect(await dynamo.store.pendingDeliveries()).toEqual([]);
  });
});

describe('moving the issue when the transition asks for a Resolution (stock JSM), against the simulated Jira', () => {
  let jira: FakeJira;
  let issueKey: string;
  const errors: Array<{ message: string; extra: unknown }> = [];
  const logger = { ...silentLogger, error: (message: string, extra?: unknown) => void errors.push({ message, extra }) };
  const depsWith = (settings: Record<string, string>): EvidenceDeps => ({
    ...deps,
    logger,
    config: parseConfig(settings),
    ticketing: new JiraTicketing({ baseUrl: jira.url, email: 'bot@example.com', apiToken: 'token' }),
  });

  beforeEach(async () => {
    errors.length = 0;
    jira = await startFakeJira({ email: 'bot@example.com', apiToken: 'token' });
    issueKey = jira.createIssue({ summary: 'Access to billing', reporterEmail: 'nina@example.com' }).key;
  });
  afterEach(async () => {
    await jira.close();
  });

  it('a denial moves the issue to Declined with the denial resolution', async () => {
    await recordEvidence(
      depsWith({}),
      { id: 'grant-d', issueKey },
      {
        type: 'denied',
        key: 'denied#0',
        actor: 'bob@example.com',
        via: 'slack',
        summary: 'denied by bob',
        details: { Approver: 'bob@example.com' },
        transitionTo: 'Declined',
      },
    );

    expect(jira.issue(issueKey)).toMatchObject({ status: 'Declined', resolution: "Won't Do" });
    expect(jira.publicCommentTexts(issueKey).map((c) => c.split('\n')[0])).toEqual(['Your request was declined by bob@example.com.']);
  });

  it('with a resolution the site does not have: the issue stays put, and the error names the transition, the resolutions and the setting', async () => {
    await recordEvidence(
      depsWith({ JIRA_RESOLUTION_REVOKED: 'Fixed' }),
      { id: 'grant-r', issueKey },
      { type: 'revoked', actor: 'scheduler', via: 'okta', summary: 'removed', details: { Reason: 'expired' }, transitionTo: 'Done' },
    );

    expect(jira.issue(issueKey)?.status).toBe('Open');
    expect(errors).toEqual([
      {
        message: 'evidence cannot be delivered to Jira; kept in the ledger',
        extra: expect.objectContaining({
          error: expect.stringMatching(
            /^Jira's transition "Close" \(to Done\) offers no resolution "Fixed" \(it offers Done, .*\): set JIRA_RESOLUTION_REVOKED to one of them/,
          ),
        }),
      },
    ]);
    // Both comments are on the issue all the same: the evidence is never lost.
    expect(jira.commentTexts(issueKey)).toHaveLength(2);
  });
});

describe("Evidence lost (issue 7, defect 3): comments within Jira's limit, refusals retried small, undeliverable listed", () => {
  let jira: FakeJira;
  let jiraDeps: EvidenceDeps;
  let issueKey: string;

  beforeEach(async () => {
    jira = await startFakeJira({ email: 'bot@example.com', apiToken: 'token' });
    jiraDeps = { ...deps, ticketing: new JiraTicketing({ baseUrl: jira.url, email: 'bot@example.com', apiToken: 'token' }) };
    issueKey = jira.createIssue({ summary: 'Access to billing', reporterEmail: 'nina@example.com' }).key;
  });
  afterEach(async () => {
    await jira.close();
  });

  it('a 200 KB justification is delivered as one cut comment under 32,767 characters', async () => {
    const justification = 'I need this for the quarter close. '.repeat(6_000);
    expect(justification.length).toBeGreaterThan(200_000);

    await recordEvidence(
      jiraDeps,
      { id: 'grant-long', issueKey },
      { type: 'requested', actor: 'nina@example.com', via: 'jira', summary: 'nina requested billing admin', details: { Justification: justification } },
    );

    const [comment] = jira.commentTexts(issueKey, 'internal');
    // The evidence, then the requester's notice (which never repeats the justification).
    expect(jira.comments(issueKey)).toHaveLength(2);
    expect(jira.publicCommentTexts(issueKey)).toEqual([
      'We have received your access request. Updates will appear here.\nReference: grant-long/requested/notice',
    ]);
    expect(JSON.stringify(jira.comments(issueKey)[0]).length).toBeLessThanOrEqual(JIRA_COMMENT_LIMIT);
    expect(comment).toMatch(/^Grantline: nina requested billing admin\n- Justification: I need this for the quarter close\./);
    expect(comment).toMatch(/… \(cut: \d+ characters; full text in the Grantline ledger\)/);
    expect(comment).toContain('- Grant: grant-long');
    expect(await dynamo.store.pendingDeliveries()).toEqual([]);
    expect((await dynamo.store.evidence('grant-long'))[0]?.details.Justification).toBe(justification);
  });

  it('a comment Jira refuses (400) is posted once more in its minimal form', async () => {
    jira.fake.injectFault({
      method: 'POST',
      path: `/rest/api/3/issue/${issueKey}/comment`,
      status: 400,
      body: { errorMessages: [], errors: { comment: 'INVALID_INPUT' } },
    });

    await recordEvidence(
      jiraDeps,
      { id: 'grant-x', issueKey },
      { type: 'approved', key: 'approved#0', actor: 'alice@example.com', via: 'slack', summary: 'approved by alice', details: { Step: '1 of 1' } },
    );

    expect(jira.commentTexts(issueKey, 'internal')).toEqual([
      'Grantline: approved by alice\n- Grant: grant-x\n- Event: approved#0\nEvidence id: grant-x/approved#0',
    ]);
    expect(jira.publicCommentTexts(issueKey)).toEqual(['Your request was approved by alice@example.com.\nReference: grant-x/approved#0/notice']);
    expect(await dynamo.store.pendingDeliveries()).toEqual([]);
  });

  it('an event Jira refuses in both forms is listed by GET /evidence/pending with the ones still waiting', async () => {
    jira.fake.injectFault({ method: 'POST', path: `/rest/api/3/issue/${issueKey}/comment`, status: 403, times: 2 });
    await recordEvidence(jiraDeps, { id: 'grant-refused', issueKey }, { type: 'requested', actor: 'nina@example.com', via: 'jira', summary: 'refused twice' });
    jira.fake.injectFault({ method: 'POST', path: `/rest/api/3/issue/${issueKey}/comment`, status: 503 });
    clock.advance(1_000);
    await recordEvidence(jiraDeps, { id: 'grant-waiting', issueKey }, { type: 'requested', actor: 'omar@example.com', via: 'jira', summary: 'Jira was down' });

    const config = parseConfig({ GRANTLINE_AUDIT_TOKEN: 'audit-token' });
    const request = (token: string, cursor?: string) => ({
      method: 'GET',
      path: '/evidence/pending',
      headers: { authorization: `Bearer ${token}` },
      query: cursor ? { cursor } : {},
      pathParams: {},
      rawBody: '',
    });
    await expect(getPendingEvidence({ config, store: dynamo.store }, request('wrong'))).rejects.toThrow();
    const waiting = await getPendingEvidence({ config, store: dynamo.store }, request('audit-token'));
    const refused = await getPendingEvidence({ config, store: dynamo.store }, request('audit-token', (waiting.body as { nextCursor: string }).nextCursor));

    expect(waiting.status).toBe(200);
    expect(waiting.body).toMatchObject({
      pending: [{ grantId: 'grant-waiting', issueKey, key: 'requested', summary: 'Jira was down', status: 'posting', attempts: 1 }],
      undeliverable: [],
    });
    expect(refused.body).toEqual({
      pending: [],
      undeliverable: [expect.objectContaining({ grantId: 'grant-refused', issueKey, key: 'requested', summary: 'refused twice' })],
    });
    await expect(getPendingEvidence({ config, store: dynamo.store }, request('audit-token', 'elsewhere:abc'))).rejects.toThrow(
      'cursor is not one this route gave',
    );
    expect(jira.commentTexts(issueKey)).toEqual([]);
  });
});
