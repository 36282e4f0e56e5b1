/** The shared provider rate limits, on a simulated clock: spacing, shared buckets, pausing on 429. */
import { describe, expect, it } from 'vitest';
import { RetryableError } from '../../shared/errors.js';
import { RateLimits, TokenBucket, rateLimited } from '../../shared/rate-limit.js';
import type { IdentityProvider } from '../../shared/ports.js';

/** A clock that only moves when someone sleeps: the schedule of requests becomes exact. */
function simulatedTime() {
  let now = 0;
  return { now: () => now, sleep: async (ms: number) => void (now += ms) };
}

describe('token bucket', () => {
  it('lets through no more than the configured rate over time', async () => {
    const time = simulatedTime();
    const bucket = new TokenBucket({ perSecond: 10 }, time.now, time.sleep);
    for (let i = 0; i < 101; i++) await bucket.take();
    // burst 2 goes at once, then one every 100 ms: 101 requests need just under 10 s.
    expect(time.now()).toBeGreaterThanOrEqual(9_890);
    expect(time.now()).toBeLessThanOrEqual(10_000);
  });

  it('each 429 lowers the rate by 5 %, never below half the configured rate', () => {
    const bucket = new TokenBucket({ perSecond: 100 });
    bucket.pauseUntil(1);
    expect(bucket.rate).toBe(95);
    for (let i = 2; i < 100; i++) bucket.pauseUntil(i);
    expect(bucket.rate).toBe(50);
  });

  it('a pause (429 with a reset) holds every caller of the family until the reset', async () => {
    const time = simulatedTime();
    const bucket = new TokenBucket({ perSecond: 100 }, time.now, time.sleep);
    bucket.pauseUntil(5_000);
    await bucket.take();
    expect(time.now()).toBeGreaterThanOrEqual(5_000);
  });
});

describe('rate-limited providers', () => {
  const fakeProvider = (addMember: () => Promise<'added' | 'already_member'>): IdentityProvider => ({
    name: 'okta',
    findUserByEmail: async () => undefined,
    isMember: async () => false,
    addMember,
    removeMember: async () => 'removed',
    listGroups: async () => [],
    listMembers: async () => [],
    testConnection: async () => undefined,
  });

  it('a 429 with Retry-After pauses the family and the call succeeds on retry: no failed grant', async () => {
    const time = simulatedTime();
    const limits = new RateLimits({ 'okta.membership': 50 }, time.now, time.sleep);
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

  it('one bucket per provider and family is shared by every caller in the process', () => {
    const limits = new RateLimits();
    expect(limits.bucket('okta', 'membership')).toBe(limits.bucket('okta', 'membership'));
    expect(limits.bucket('okta', 'membership')).not.toBe(limits.bucket('entra', 'membership'));
  });

  it('permanent errors and long waits are not retried here (the state machine retries later)', async () => {
    const time = simulatedTime();
    const limits = new RateLimits({}, time.now, time.sleep);
    const idp = rateLimited(fakeProvider(async () => Promise.reject(new RetryableError('reset in 10 minutes', 600_000))), limits);
    await expect(idp.addMember('g', 'u')).rejects.toThrow('reset in 10 minutes');
  });

  it('GRANTLINE_RATE_LIMITS overrides are checked', () => {
    expect(() => RateLimits.fromEnv('{"okta.members": 5}')).toThrow(/provider\.family/);
    expect(RateLimits.fromEnv('{"okta.membership": 5}')).toBeInstanceOf(RateLimits);
  });
});
