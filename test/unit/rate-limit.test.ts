/**
 * The provider rate limits on virtual time: refill math, spacing, leases, pausing on 429, and the
 * bucket in the table shared by several limiters (as by concurrent Lambdas) holding the rate together.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetryableError } from '../../shared/errors.js';
import type { IdentityProvider } from '../../shared/ports.js';
import {
  MemoryBucketStates,
  RateLimits,
  TokenBucket,
  dueTimes,
  intervalInForce,
  rateLimited,
  tokensAt,
  type BucketState,
  type BucketStates,
} from '../../shared/rate-limit.js';
import { Store } from '../../shared/store/store.js';
import { startDynamo, type TestDynamo } from '../support/dynamo.js';
import { virtualTime } from '../support/virtual-time.js';

/**
 * Virtual time for several actors (each a "process" taking tokens one after another): time moves
 * only when every unfinished actor sleeps, to the earliest wake-up, waking every sleeper due then
 * together, so their reads and writes of the shared bucket race as they would in real life.
 */
function discreteTime(actors: number) {
  let now = 0;
  let asleep = 0;
  let done = 0;
  let timers: Array<{ at: number; wake: () => void }> = [];
  const advance = () => {
    if (asleep + done < actors || timers.length === 0) return;
    const at = Math.min(...timers.map((t) => t.at));
    const due = timers.filter((t) => t.at === at);
    timers = timers.filter((t) => t.at !== at);
    now = Math.max(now, at);
    asleep -= due.length;
    for (const t of due) t.wake();
  };
  return {
    now: () => now,
    sleep: (ms: number) =>
      new Promise<void>((resolve) => {
        timers.push({ at: now + Math.max(0, ms), wake: resolve });
        asleep += 1;
        advance();
      }),
    finished: () => {
      done += 1;
      advance();
    },
  };
}

/** The most grants any window of `windowMs` saw. */
function busiestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[j]! <= sorted[i]! - windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('bucket refill math', () => {
  // 10 tokens a second: one every 100 ms.
  const state = (emptyAt: number): BucketState => ({ emptyAt, interval: 100, pausedUntil: 0, version: 1 });

  it('refills one token per interval since the bucket was empty, capped at the burst; a new bucket starts full', () => {
    expect(tokensAt(undefined, 100, 2, 5_000)).toBe(2);
    expect(tokensAt(state(1_000), 100, 2, 1_050)).toBeCloseTo(0.5);
    expect(tokensAt(state(60_000), 100, 2, 60_000)).toBe(0);
    expect(tokensAt(state(1_000), 100, 2, 60_000)).toBe(2);
    // Tokens taken ahead of time, or a pause until later: less than nothing until then.
    expect(tokensAt(state(1_300), 100, 2, 1_200)).toBeCloseTo(-1);
  });

  it('tokens taken ahead of time are each due when the refill reaches them', () => {
    // A full bucket (burst 2) at 1 000 is empty at 800; taking 4 moves that to 1 200.
    expect(dueTimes(1_200, 4, 100, 1_000)).toEqual([1_000, 1_000, 1_100, 1_200]);
    expect(dueTimes(1_150, 2, 100, 1_000)).toEqual([1_050, 1_150]);
    // Never a millisecond early when the interval is not whole (97/s).
    const [first, second] = dueTimes(2 * (1000 / 97), 2, 1000 / 97, 0);
    expect(first).toBe(11);
    expect(second).toBe(21);
  });

  it('a slowed rate applies until 10 minutes after the last 429, never faster than configured', () => {
    const slowed: BucketState = { emptyAt: 0, interval: 125, pausedUntil: 1_000, version: 3 };
    expect(intervalInForce(slowed, 100, 2_000)).toBe(125);
    expect(intervalInForce(slowed, 100, 1_000 + 10 * 60_000 + 1)).toBe(100);
    expect(intervalInForce(slowed, 200, 2_000)).toBe(200);
    expect(intervalInForce(undefined, 100, 0)).toBe(100);
  });
});

describe('token bucket', () => {
  it('after a quiet period five calls go at once (the calls one grant makes in a family do not wait)', async () => {
    const time = virtualTime();
    const bucket = new TokenBucket('okta.users', { perSecond: 10 }, new MemoryBucketStates(), time);
    for (let i = 0; i < 5; i++) await bucket.take();
    expect(time.now()).toBe(0);
    await bucket.take();
    expect(time.now()).toBe(100);
  });

  it('lets through no more than the configured rate over time', async () => {
    const time = virtualTime();
    const bucket = new TokenBucket('okta.users', { perSecond: 10 }, new MemoryBucketStates(), time);
    for (let i = 0; i < 101; i++) await bucket.take();
    // A burst of 5 goes at once, then one every 100 ms: the 101st goes at 9.6 s.
    expect(time.now()).toBeGreaterThanOrEqual(9_590);
    expect(time.now()).toBeLessThanOrEqual(9_600);
  });

  it('callers waiting together take their tokens in one write, still spaced at the rate', async () => {
    const time = virtualTime();
    const bucket = new TokenBucket('okta.membership', { perSecond: 10 }, new MemoryBucketStates(), { ...time, lease: 5 });
    const granted: number[] = [];
    await Promise.all(Array.from({ length: 20 }, () => bucket.take().then(() => granted.push(time.now()))));
    expect(bucket.writes).toBe(4);
    expect(busiestWindow(granted, 1_000)).toBeLessThanOrEqual(10 + 5);
    expect(time.now()).toBeGreaterThanOrEqual(1_490);
  });

  it('each 429 lowers the rate by 5 %, never below half the configured rate', async () => {
    const time = virtualTime();
    const bucket = new TokenBucket('okta.membership', { perSecond: 100 }, new MemoryBucketStates(), time);
    await bucket.pauseUntil(1);
    expect(bucket.rate).toBe(95);
    await bucket.pauseUntil(1); // the same reset, told by another caller: no further drop
    expect(bucket.rate).toBe(95);
    for (let i = 2; i < 100; i++) await bucket.pauseUntil(i);
    expect(bucket.rate).toBe(50);
  });

  it('a pause (429 with a reset) holds every caller of the family until the reset', async () => {
    const time = virtualTime();
    const bucket = new TokenBucket('okta.membership', { perSecond: 100 }, new MemoryBucketStates(), time);
    await bucket.pauseUntil(5_000);
    await bucket.take();
    expect(time.now()).toBeGreaterThanOrEqual(5_000);
  });
});

describe('buckets in the table, shared by several limiters (concurrent Lambdas)', () => {
  let dynamo: TestDynamo;
  beforeAll(async () => {
    dynamo = await startDynamo();
  });
  afterAll(async () => {
    await dynamo.close();
  });

  it('two limiters sharing one bucket never exceed the rate together, and achieve it', async () => {
    const time = discreteTime(2);
    const stores = [new Store(dynamo.client, dynamo.store.table), new Store(dynamo.client, dynamo.store.table)];
    const limiters = stores.map((store) => new RateLimits({ 'okta.membership': 10 }, { now: time.now, sleep: time.sleep, states: store.rateBuckets }));
    const granted: number[][] = [[], []];

    await Promise.all(
      limiters.map(async (limits, i) => {
        for (let n = 0; n < 30; n++) {
          await limits.bucket('okta', 'membership').take();
          granted[i]!.push(time.now());
        }
        time.finished();
      }),
    );

    const all = granted.flat();
    expect(granted[0]).toHaveLength(30);
    expect(granted[1]).toHaveLength(30);
    // 10/s with a burst of 5: no second holds more than 15, and 60 grants need at least 5.5 s.
    expect(busiestWindow(all, 1_000)).toBeLessThanOrEqual(15);
    expect(Math.max(...all)).toBeGreaterThanOrEqual(5_500);
    // ... and together they use the rate (each alone would take 3 s for its 30 at full rate).
    expect(Math.max(...all)).toBeLessThanOrEqual(5_800);
  });

  it('after a quiet period the bucket is rewritten over the version read, whatever decimals the increments left', async () => {
    const time = virtualTime();
    await time.sleep(1_796_106_467_852.237); // a clock like Date.now(), and 97/s: an interval that is not a whole number
    const bucket = new TokenBucket('okta.groups', { perSecond: 97 }, dynamo.store.rateBuckets, time);
    for (let i = 0; i < 10; i++) await bucket.take(); // a full bucket, then increments of 10.309… ms
    await time.sleep(60_000);
    await bucket.take();
    expect(bucket.conflicts).toBe(0); // the rewrite of the refilled bucket went through at once
    const stored = await dynamo.store.rateBuckets.read('okta.groups');
    expect(stored?.version).toBe(bucket.writes - bucket.conflicts);
  });

  it('a 429 seen by one limiter pauses the family for the other', async () => {
    const time = virtualTime();
    const [a, b] = [0, 1].map(() => new RateLimits({ 'okta.membership': 10 }, { now: time.now, sleep: time.sleep, states: dynamo.store.rateBuckets }));
    await a!.bucket('entra', 'membership').pauseUntil(3_000);
    await b!.bucket('entra', 'membership').take();
    expect(time.now()).toBeGreaterThanOrEqual(3_000);
  });

  it('a write that loses to another limiter is retried as the other kind, then over what that one wrote', async () => {
    const time = virtualTime();
    const table = dynamo.store.rateBuckets;
    const other = new TokenBucket('google.membership', { perSecond: 10 }, table, time);
    let raceRestart = true;
    let raceAdvance = true;
    const racing: BucketStates = {
      read: (key) => table.read(key),
      replace: (key, next, read) => table.replace(key, next, read),
      // Just before this limiter's first write, the other creates the bucket and takes a token ...
      async restart(key, emptyAt, full, interval) {
        if (raceRestart) {
          raceRestart = false;
          await other.take();
        }
        return table.restart(key, emptyAt, full, interval);
      },
      // ... and before its increment, the other gets a 429 resetting at 50 ms, which slows the rate.
      async advance(key, by, notBefore, interval) {
        if (raceAdvance) {
          raceAdvance = false;
          await other.pauseUntil(50);
        }
        return table.advance(key, by, notBefore, interval);
      },
    };
    const bucket = new TokenBucket('google.membership', { perSecond: 10 }, racing, time);

    await bucket.take();

    expect(bucket.conflicts).toBe(2);
    // Its token honours the other's pause and the slowed rate: due one interval (1000/9.5 ms) after the reset.
    expect(time.now()).toBe(Math.ceil(50 + 1000 / 9.5));
    expect(bucket.rate).toBeCloseTo(9.5);
  });
});

describe('rate-limited providers', () => {
  const fakeProvider = (addMember: () => Promise<'added' | 'already_member'>): IdentityProvider => ({
    name: 'okta',
    findUserByEmail: async () => undefined,
    getUser: async () => undefined,
    reviewProfile: async () => undefined,
    isMember: async () => false,
    addMember,
    removeMember: async () => 'removed',
    endSessions: async () => 'ended',
    listGroups: async () => [],
    listMembers: async () => [],
    testConnection: async () => undefined,
  });

  it('a 429 with Retry-After pauses the family and the call succeeds on retry: no failed grant', async () => {
    const time = virtualTime();
    const limits = new RateLimits({ 'okta.membership': 50 }, time);
    let calls = 0;
    const idp = rateLimited(
      fakeProvider(async () => {
        calls += 1;
        if (calls === 1) throw new RetryableError("Okta's rate limit was reached", 2_000);
        return 'added';
      }),
      limits,
    );

    await expect(idp.addMember('g', 'u')).resolves.toBe('added');
    expect(calls).toBe(2);
    expect(time.now()).toBeGreaterThanOrEqual(2_000);
  });

  it('the by-id account read (getUser) waits in the users family like the email lookup', async () => {
    const time = virtualTime();
    const limits = new RateLimits({ 'okta.users': 1 }, time);
    const idp = rateLimited(
      fakeProvider(async () => 'added'),
      limits,
    );
    await idp.findUserByEmail('a@example.com');
    for (let i = 0; i < 4; i++) await idp.getUser('00u1');
    expect(time.now()).toBe(0);
    await idp.getUser('00u1'); // burst of 5 spent: the sixth call of the family waits a full second
    expect(time.now()).toBeGreaterThanOrEqual(999);
    expect(time.now()).toBeLessThanOrEqual(1_000);
  });

  it('one bucket per provider and family is shared by every caller of a limiter', () => {
    const limits = new RateLimits();
    expect(limits.bucket('okta', 'membership')).toBe(limits.bucket('okta', 'membership'));
    expect(limits.bucket('okta', 'membership')).not.toBe(limits.bucket('entra', 'membership'));
  });

  it('permanent errors and long waits are not retried here (the state machine retries later)', async () => {
    const time = virtualTime();
    const limits = new RateLimits({}, time);
    const idp = rateLimited(
      fakeProvider(async () => Promise.reject(new RetryableError('reset in 10 minutes', 600_000))),
      limits,
    );
    await expect(idp.addMember('g', 'u')).rejects.toThrow('reset in 10 minutes');
  });

  it('GRANTLINE_RATE_LIMITS overrides are checked', () => {
    expect(() => RateLimits.fromEnv('{"okta.members": 5}')).toThrow(/provider\.family/);
    expect(RateLimits.fromEnv('{"okta.membership": 5}')).toBeInstanceOf(RateLimits);
  });
});
