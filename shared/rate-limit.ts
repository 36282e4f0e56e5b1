/**
 * Provider rate limits, held across every process that provisions: one token bucket per provider
 * and endpoint family (users, groups, membership), stored in DynamoDB (shared/store/rate-buckets.ts)
 * so that all concurrent Lambdas, or the local runtime through dynalite, draw from the same bucket.
 *
 * The item stores the bucket as the time it is empty (`emptyAt`; GCRA): at `now` it holds
 * (now − emptyAt) / interval tokens, capped at the burst, and taking n tokens moves emptyAt n
 * intervals later. That is one conditional write, without a read: while the family is busy
 * (emptyAt no earlier than "full"), an atomic increment, so concurrent processes never conflict;
 * after a quiet period, a restart from full conditional on the bucket being quiet. A write whose
 * condition failed is retried as the other kind; when the rate changed (a 429 elsewhere), the
 * bucket is read and rewritten over the version read. Tokens may be taken ahead of time (emptyAt in the future): each is due when
 * the refill reaches it and the caller sleeps until then, so the tokens of all processes follow one
 * schedule at the configured rate. A process takes as many tokens per write as it has callers
 * waiting (at most `lease`), so a busy day costs one write per few calls and a quiet one never
 * holds tokens nobody asked for.
 *
 * When a provider still answers 429 with a reset time, the family is paused for everyone (no token
 * is due before the reset) and the rate drops 5 % (down to half the configured one; back to the
 * configured rate 10 minutes after the last 429), so a limit set too high converges on the real one.
 */
import { realSleep, type Sleep } from './clock.js';
import { RetryableError } from './errors.js';
import type { IdentityProvider, ProviderName } from './ports.js';

export type EndpointFamily = 'users' | 'groups' | 'membership';

export interface FamilyLimit {
  /** Requests per second the provider allows for this family. */
  perSecond: number;
  /**
   * Requests that may go at once after a quiet period. Default 5: the calls one grant makes in a
   * family go without waiting, while a provider that counts in short fixed windows sees at most 5
   * above its rate in the first window (20 ms worth for a family allowed more than 250 a second).
   * A busy family is spaced at the rate whatever the burst.
   */
  burst?: number;
}

/**
 * Conservative defaults from the vendors' documented limits; override with GRANTLINE_RATE_LIMITS
 * (JSON: {"okta.membership": 5, ...} in requests per second).
 */
export const DEFAULT_LIMITS: Record<ProviderName, Record<EndpointFamily, number>> = {
  okta: { users: 10, groups: 8, membership: 8 },
  entra: { users: 20, groups: 20, membership: 10 },
  google: { users: 20, groups: 20, membership: 10 },
};

/** A bucket as stored. */
export interface BucketState {
  /** When the bucket is (or was) empty, ms: later than now when tokens were taken ahead of time. */
  emptyAt: number;
  /** Milliseconds per token: 1000 / the rate in force (raised by 429s). */
  interval: number;
  /** The latest reset a 429 asked for (ms; 0 if none). */
  pausedUntil: number;
  /**
   * Incremented by every write: a rewrite is conditional on it, not on emptyAt, which the table
   * keeps as an exact decimal that a JavaScript number read back only approximates.
   */
  version: number;
}

/** Where buckets live: DynamoDB (shared/store/rate-buckets.ts) or, for one process, memory. */
export interface BucketStates {
  read(key: string): Promise<BucketState | undefined>;
  /**
   * Atomically moves emptyAt `by` ms later, only if it is still at least `notBefore` and the
   * interval is still `interval`; the new state, or undefined when the condition failed.
   */
  advance(key: string, by: number, notBefore: number, interval: number): Promise<BucketState | undefined>;
  /**
   * A quiet bucket (or none yet) starts again from full: emptyAt is set to `emptyAt`, only if it
   * was before `full` at `interval`, or there is no item; the new state, or undefined.
   */
  restart(key: string, emptyAt: number, full: number, interval: number): Promise<BucketState | undefined>;
  /** Writes `next` (its version one above `read`'s) only if the item is still at `read`'s version (undefined: no item); false if someone else wrote first. */
  replace(key: string, next: BucketState, read: BucketState | undefined): Promise<boolean>;
}

/** Buckets held by this process only (unit tests, tools); the runtimes use the table. */
export class MemoryBucketStates implements BucketStates {
  private readonly items = new Map<string, BucketState>();

  async read(key: string): Promise<BucketState | undefined> {
    const item = this.items.get(key);
    return item && { ...item };
  }

  async advance(key: string, by: number, notBefore: number, interval: number): Promise<BucketState | undefined> {
    const item = this.items.get(key);
    if (!item || item.emptyAt < notBefore || item.interval !== interval) return undefined;
    item.emptyAt += by;
    item.version += 1;
    return { ...item };
  }

  async restart(key: string, emptyAt: number, full: number, interval: number): Promise<BucketState | undefined> {
    const item = this.items.get(key);
    if (item && (item.emptyAt >= full || item.interval !== interval)) return undefined;
    const next = { emptyAt, interval, pausedUntil: item?.pausedUntil ?? 0, version: (item?.version ?? 0) + 1 };
    this.items.set(key, next);
    return { ...next };
  }

  async replace(key: string, next: BucketState, read: BucketState | undefined): Promise<boolean> {
    const item = this.items.get(key);
    if (item?.version !== read?.version) return false;
    this.items.set(key, { ...next });
    return true;
  }
}

/** A token taken but not used this long after it was due is dropped. */
const STALE_AFTER_MS = 1_000;

/** After this long without a 429, the configured rate applies again. */
export const RATE_RECOVERY_MS = 10 * 60_000;

export interface BucketOptions {
  now?: () => number;
  sleep?: Sleep;
  /** The most tokens one write takes for this process's waiting callers (default 5). */
  lease?: number;
}

/** The interval (ms per token) in force: the stored, lowered one until 10 minutes after the last 429, never faster than configured. */
export function intervalInForce(state: BucketState | undefined, configured: number, now: number): number {
  if (!state || !(state.interval >= configured) || now - state.pausedUntil > RATE_RECOVERY_MS) return configured;
  return state.interval;
}

/** The tokens a bucket holds at `now`: refilled one per interval since it was empty, capped at the burst (negative: taken ahead). */
export function tokensAt(state: BucketState | undefined, interval: number, burst: number, now: number): number {
  if (!state) return burst;
  return Math.min(burst, (now - state.emptyAt) / interval);
}

/** When each of `n` tokens is due, given the bucket's emptyAt after they were taken (ms, never before `now`). */
export function dueTimes(emptyAtAfter: number, n: number, interval: number, now: number): number[] {
  // Rounded up to whole milliseconds, with a hair of slack so float error never makes one late by 1 ms.
  return Array.from({ length: n }, (_, i) => Math.max(now, Math.ceil(emptyAtAfter - (n - 1 - i) * interval - 1e-6)));
}

const DEFAULT_BURST = 5;

export class TokenBucket {
  private readonly burst: number;
  private readonly lease: number;
  private readonly now: () => number;
  private readonly sleep: Sleep;
  private readonly configured: number;
  /** Due times of the tokens this process has taken and not used yet. */
  private held: number[] = [];
  /** The state this process last saw: a busy bucket is taken from without reading it first. */
  private known: BucketState | undefined;
  /** Bumped by a pause: tokens taken before it are dropped. */
  private epoch = 0;
  private waiting = 0;
  /** Callers in take(), waiting for a token or for its due time. */
  private active = 0;
  private queue: Promise<void> = Promise.resolve();
  /** Writes to the bucket (for figures). */
  writes = 0;
  /** Writes that lost to another process's and were retried (for tests and figures). */
  conflicts = 0;

  constructor(
    private readonly key: string,
    limit: FamilyLimit,
    private readonly states: BucketStates = new MemoryBucketStates(),
    options: BucketOptions = {},
  ) {
    this.burst = Math.max(1, limit.burst ?? Math.max(DEFAULT_BURST, Math.ceil(limit.perSecond / 50)));
    this.lease = Math.max(1, options.lease ?? 5);
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
    this.configured = 1000 / limit.perSecond;
  }

  /**
   * Resolves when the caller may send one request. Callers in this process get their tokens in
   * arrival order; only the taking is one at a time, the waiting for a due token is not, so the
   * next tokens are taken while earlier callers still wait for theirs.
   */
  async take(): Promise<void> {
    this.active += 1;
    try {
      await this.takeOne();
    } finally {
      this.active -= 1;
    }
  }

  private async takeOne(): Promise<void> {
    for (;;) {
      const epoch = this.epoch;
      this.waiting += 1;
      const turn = this.queue.then(() => this.nextDue()).finally(() => (this.waiting -= 1));
      this.queue = turn.then(
        () => undefined,
        () => undefined,
      );
      const due = await turn;
      const wait = due - this.now();
      if (wait > 0) await this.sleep(wait);
      if (epoch === this.epoch) return;
      // A 429 paused the family while this caller waited: its token is void, take one after the reset.
    }
  }

  /**
   * The due time of this process's next token. When none is left, takes as many as this process
   * has callers under way (each is likely to want another soon), at most `lease`; a token left
   * unused for a second (or the burst's worth of time) is dropped, never sent late on top of newer ones.
   */
  private async nextDue(): Promise<number> {
    for (;;) {
      const stale = this.now() - Math.max(STALE_AFTER_MS, this.burst * (this.known?.interval ?? this.configured));
      while (this.held.length > 0) {
        const due = this.held.shift()!;
        if (due >= stale) return due;
      }
      const epoch = this.epoch;
      const taken = await this.takeFromBucket(Math.min(this.lease, Math.max(1, this.waiting, this.active)));
      if (epoch === this.epoch) this.held = taken;
    }
  }

  /** Requests per second in force when this process last saw the bucket. */
  get rate(): number {
    return 1000 / (this.known?.interval ?? this.configured);
  }

  /**
   * The provider said "not before `until`": no token of the family is due before then, for any
   * process, and (once per reset) the rate drops 5 %, never below half the configured one.
   */
  async pauseUntil(until: number): Promise<void> {
    this.held = [];
    this.epoch += 1;
    for (;;) {
      const state = await this.states.read(this.key);
      const now = this.now();
      const interval = intervalInForce(state, this.configured, now);
      const newReset = until > (state?.pausedUntil ?? 0);
      const next: BucketState = {
        emptyAt: Math.max(until, state?.emptyAt ?? -Infinity),
        interval: newReset ? Math.min(this.configured * 2, interval / 0.95) : interval,
        pausedUntil: Math.max(until, state?.pausedUntil ?? 0),
        version: (state?.version ?? 0) + 1,
      };
      if (state && next.emptyAt === state.emptyAt && next.interval === state.interval && next.pausedUntil === state.pausedUntil) {
        this.known = state;
        return;
      }
      this.writes += 1;
      if (await this.states.replace(this.key, next, state)) {
        this.known = next;
        return;
      }
      this.conflicts += 1;
    }
  }

  /**
   * Takes `n` tokens in one conditional write; returns when each is due. Busy bucket: an increment;
   * quiet one (refilled to its burst): a restart from full; which one is guessed from the state last
   * seen, and the other is tried when the guess was wrong. Only when both fail (the rate changed) is
   * the bucket read, and rewritten over the version read if the rate in force differs.
   */
  private async takeFromBucket(n: number): Promise<number[]> {
    let tried = 0;
    for (let attempt = 1; ; attempt++) {
      const now = this.now();
      const interval = intervalInForce(this.known, this.configured, now);
      const full = now - this.burst * interval;
      let after: BucketState | undefined;
      this.writes += 1;
      if (this.known && this.known.interval !== interval) {
        // The lowered rate expired (or the configured one changed): rewrite the bucket at the rate in force.
        const next: BucketState = { ...this.known, emptyAt: Math.max(this.known.emptyAt, full) + n * interval, interval, version: this.known.version + 1 };
        if (await this.states.replace(this.key, next, this.known)) after = next;
      } else if (this.known && this.known.emptyAt >= full) {
        after = await this.states.advance(this.key, n * interval, full, interval);
      } else {
        after = await this.states.restart(this.key, full + n * interval, full, interval);
      }
      if (after) {
        this.known = after;
        return dueTimes(after.emptyAt, n, interval, now);
      }
      this.conflicts += 1;
      tried += 1;
      if (tried === 1 && this.known?.interval === interval) {
        // Wrong guess (another process kept it busy, or it went quiet): the other write, at once.
        this.known = { ...this.known, emptyAt: this.known.emptyAt >= full ? -Infinity : Infinity };
      } else if (tried === 1 && !this.known) {
        this.known = { emptyAt: Infinity, interval, pausedUntil: 0, version: 0 };
      } else {
        this.known = await this.states.read(this.key);
        tried = 0;
        if (attempt % 4 === 0) await this.sleep(Math.min(50, attempt));
      }
    }
  }
}

export interface RateLimitsOptions extends BucketOptions {
  /** Where the buckets live; memory when absent (one process). */
  states?: BucketStates;
}

/** The buckets of every provider and family, created on first use; shared across processes through `states`. */
export class RateLimits {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly states: BucketStates;
  private readonly now: () => number;

  constructor(
    private readonly overrides: Partial<Record<`${ProviderName}.${EndpointFamily}`, number>> = {},
    private readonly options: RateLimitsOptions = {},
  ) {
    this.states = options.states ?? new MemoryBucketStates();
    this.now = options.now ?? Date.now;
  }

  static fromEnv(json: string | undefined, options: RateLimitsOptions = {}): RateLimits {
    if (!json) return new RateLimits({}, options);
    const parsed = JSON.parse(json) as Record<string, unknown>;
    const overrides: Record<string, number> = {};
    for (const [key, value] of Object.entries(parsed)) {
      if (!/^(okta|entra|google)\.(users|groups|membership)$/.test(key) || typeof value !== 'number' || value <= 0) {
        throw new Error(
          `GRANTLINE_RATE_LIMITS: "${key}" must be provider.family (okta|entra|google . users|groups|membership) with a positive number of requests per second`,
        );
      }
      overrides[key] = value;
    }
    return new RateLimits(overrides, options);
  }

  bucket(provider: ProviderName, family: EndpointFamily): TokenBucket {
    const key = `${provider}.${family}` as const;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(key, { perSecond: this.overrides[key] ?? DEFAULT_LIMITS[provider][family] }, this.states, this.options);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  /** Runs one provider call inside its family's limit; a 429 with a reset pauses the family and the call is tried again. */
  async run<T>(provider: ProviderName, families: EndpointFamily[], call: () => Promise<T>, maxAttempts = 5): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      for (const family of families) await this.bucket(provider, family).take();
      try {
        return await call();
      } catch (err) {
        if (!(err instanceof RetryableError) || err.retryAfterMs === undefined || attempt >= maxAttempts || err.retryAfterMs > 60_000) throw err;
        const until = this.now() + err.retryAfterMs;
        for (const family of families) await this.bucket(provider, family).pauseUntil(until);
      }
    }
  }
}

/** Wraps a provider so every call goes through the shared limits: the same for Okta, Entra and Google. */
export function rateLimited(provider: IdentityProvider, limits: RateLimits): IdentityProvider {
  const name = provider.name;
  return {
    name,
    findUserByEmail: (email) => limits.run(name, ['users'], () => provider.findUserByEmail(email)),
    getUser: (id) => limits.run(name, ['users'], () => provider.getUser(id)),
    reviewProfile: (id) => limits.run(name, ['users'], () => provider.reviewProfile(id)),
    isMember: (groupId, userId) => limits.run(name, ['users'], () => provider.isMember(groupId, userId)),
    addMember: (groupId, userId) => limits.run(name, ['groups', 'membership'], () => provider.addMember(groupId, userId)),
    removeMember: (groupId, userId) => limits.run(name, ['groups', 'membership'], () => provider.removeMember(groupId, userId)),
    endSessions: (userId) => limits.run(name, ['users'], () => provider.endSessions(userId)),
    listGroups: () => limits.run(name, ['groups'], () => provider.listGroups()),
    listMembers: (groupId) => limits.run(name, ['groups'], () => provider.listMembers(groupId)),
    testConnection: () => limits.run(name, ['users'], () => provider.testConnection()),
  };
}
