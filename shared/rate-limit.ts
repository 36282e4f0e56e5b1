/**
 * Provider rate limits, shared by all work in a process: one token bucket per provider and
 * endpoint family (users, groups, membership). Calls wait for a token instead of provoking 429s;
 * when a provider still answers 429 with a reset time, the whole family pauses until then, so
 * concurrent work does not keep hammering it.
 */
import { RetryableError } from './errors.js';
import type { IdentityProvider, ProviderName } from './ports.js';

export type EndpointFamily = 'users' | 'groups' | 'membership';

export interface FamilyLimit {
  /** Requests per second the provider allows for this family. */
  perSecond: number;
  /**
   * Requests that may go at once after a quiet period (default 2: nearly even spacing, while a
   * timer that fires late does not cost throughput).
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

type Sleep = (ms: number) => Promise<void>;
const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class TokenBucket {
  private tokens: number;
  private last: number;
  private pausedUntil = 0;
  private queue: Promise<void> = Promise.resolve();
  private readonly burst: number;
  private perSecond: number;

  constructor(
    private readonly limit: FamilyLimit,
    private readonly now: () => number = Date.now,
    private readonly sleep: Sleep = realSleep,
  ) {
    this.burst = Math.max(1, limit.burst ?? 2);
    this.perSecond = limit.perSecond;
    this.tokens = this.burst;
    this.last = now();
  }

  /** Resolves when the caller may send one request; callers are served in arrival order. */
  take(): Promise<void> {
    const turn = this.queue.then(() => this.waitForToken());
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /**
   * The provider said "not before `until`": every caller of this family waits, and the rate
   * drops 5 % (down to half the configured one), so a limit set too high converges on the real one.
   */
  pauseUntil(until: number): void {
    if (until > this.pausedUntil) this.perSecond = Math.max(this.limit.perSecond / 2, this.perSecond * 0.95);
    this.pausedUntil = Math.max(this.pausedUntil, until);
    this.tokens = 0;
  }

  get rate(): number {
    return this.perSecond;
  }

  private async waitForToken(): Promise<void> {
    for (;;) {
      const now = this.now();
      if (now < this.pausedUntil) {
        await this.sleep(this.pausedUntil - now);
        this.last = this.now();
        continue;
      }
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
      this.last = now;
      // A hair under one token counts: refilling by the exact missing amount can land on 0.999… forever.
      if (this.tokens >= 1 - 1e-6) {
        this.tokens = Math.max(0, this.tokens - 1);
        return;
      }
      await this.sleep(Math.max(1, ((1 - this.tokens) / this.perSecond) * 1000));
    }
  }
}

/** The process-wide set of buckets, created on first use. */
export class RateLimits {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly overrides: Partial<Record<`${ProviderName}.${EndpointFamily}`, number>> = {},
    private readonly now: () => number = Date.now,
    private readonly sleep: Sleep = realSleep,
  ) {}

  static fromEnv(json: string | undefined): RateLimits {
    if (!json) return new RateLimits();
    const parsed = JSON.parse(json) as Record<string, unknown>;
    const overrides: Record<string, number> = {};
    for (const [key, value] of Object.entries(parsed)) {
      if (!/^(okta|entra|google)\.(users|groups|membership)$/.test(key) || typeof value !== 'number' || value <= 0) {
        throw new Error(`GRANTLINE_RATE_LIMITS: "${key}" must be provider.family (okta|entra|google . users|groups|membership) with a positive number of requests per second`);
      }
      overrides[key] = value;
    }
    return new RateLimits(overrides);
  }

  bucket(provider: ProviderName, family: EndpointFamily): TokenBucket {
    const key = `${provider}.${family}` as const;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket({ perSecond: this.overrides[key] ?? DEFAULT_LIMITS[provider][family] }, this.now, this.sleep);
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
        for (const family of families) this.bucket(provider, family).pauseUntil(until);
      }
    }
  }
}

/** Wraps a provider so every call goes through the process's limits: the same for Okta, Entra and Google. */
export function rateLimited(provider: IdentityProvider, limits: RateLimits): IdentityProvider {
  const name = provider.name;
  return {
    name,
    findUserByEmail: (email) => limits.run(name, ['users'], () => provider.findUserByEmail(email)),
    isMember: (groupId, userId) => limits.run(name, ['users'], () => provider.isMember(groupId, userId)),
    addMember: (groupId, userId) => limits.run(name, ['groups', 'membership'], () => provider.addMember(groupId, userId)),
    removeMember: (groupId, userId) => limits.run(name, ['groups', 'membership'], () => provider.removeMember(groupId, userId)),
    listGroups: () => limits.run(name, ['groups'], () => provider.listGroups()),
    listMembers: (groupId) => limits.run(name, ['groups'], () => provider.listMembers(groupId)),
    testConnection: () => limits.run(name, ['users'], () => provider.testConnection()),
  };
}
