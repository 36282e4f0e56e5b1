/**
 * The soak in `npm test`: a small run (a real runtime process killed once, faults injected) must
 * end with no violated invariant. `npm run soak` runs the same with thousands of requests.
 */
import { describe, expect, it } from 'vitest';
import { runSoak } from './run.js';

describe('soak', () => {
  it('40 requests through a runtime killed once, with faults injected: every invariant holds', async () => {
    const result = await runSoak({ requests: 40, restarts: 1, seed: 20260401, settleTimeoutMs: 120_000, keepWorkDir: false });

    expect(result.requests).toBe(40);
    expect(result.restarts).toBe(1);
    expect(result.faults).toBeGreaterThan(0);
    expect(result.violations.map((v) => `[${v.invariant}] ${v.grantId}: ${v.detail}`)).toEqual([]);
  }, 400_000);
});
