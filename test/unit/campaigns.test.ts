/** The recommendation each review item carries, and its reason, at the edges of the inactivity window. */
import { describe, expect, it } from 'vitest';
import { recommend } from '../../shared/campaigns.js';
import type { Grant } from '../../shared/grants/model.js';

const now = new Date('2026-06-01T12:00:00.000Z');
const grant = { id: 'grant-ACC-1' } as Grant;
const daysAgo = (n: number) => new Date(now.getTime() - n * 86_400_000).toISOString();

describe('the recommendation', () => {
  it('revokes access outside Grantline, whatever the last sign-in', () => {
    expect(recommend(undefined, daysAgo(1), 90, now)).toEqual({
      recommendation: 'revoke',
      reason: 'access outside Grantline: no request or approval on record',
    });
  });

  it('revokes a grant unused for the inactivity window, from its first day on; keeps one used the day before', () => {
    expect(recommend(grant, daysAgo(90), 90, now)).toEqual({ recommendation: 'revoke', reason: 'no sign-in for 90 days (inactive after 90)' });
    expect(recommend(grant, daysAgo(89), 90, now)).toEqual({ recommendation: 'keep', reason: 'held through Grantline; signed in 89 day(s) ago' });
  });

  it('keeps a grant whose last sign-in the provider does not give, and says so', () => {
    expect(recommend(grant, undefined, 90, now).reason).toBe('held through Grantline; last sign-in unknown (the identity provider does not say)');
  });
});
