/**
 * The local stand-in for EventBridge Scheduler (infra/local/scheduler.ts): schedules that fall due
 * fire on the tick, each at most once at a time, and one stuck revocation holds back only itself.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/clock.js';
import { silentLogger } from '../../shared/logger.js';
import { LocalScheduler } from '../../infra/local/scheduler.js';
import { startDynamo, type TestDynamo } from '../support/dynamo.js';

const T0 = new Date('2026-03-02T09:00:00.000Z');

let dynamo: TestDynamo;
let clock: ManualClock;
let calls: string[];
let stuck: { release: () => void; gate: Promise<void> };
let scheduler: LocalScheduler;

beforeEach(async () => {
  dynamo = await startDynamo();
  clock = new ManualClock(T0);
  calls = [];
  let release!: () => void;
  stuck = { gate: new Promise((r) => (release = r)), release: () => release() };
  // The revoke target: grant-stuck waits for a Jira that does not answer until released.
  const revoke = async ({ grantId }: { grantId: string }) => {
    calls.push(grantId);
    if (grantId === 'grant-stuck') await stuck.gate;
  };
  scheduler = new LocalScheduler(dynamo.store, clock, silentLogger, revoke, async () => ({ revoked: [], rescheduled: [], failed: [] }));
});
afterEach(async () => {
  stuck.release();
  await scheduler.stop();
  await dynamo.close();
});

describe('local revocation schedules', () => {
  it('a revocation stuck on a slow service does not make a later one late', async () => {
    await scheduler.schedule('grant-stuck', new Date(T0.getTime() + 1_000));
    await scheduler.schedule('grant-later', new Date(T0.getTime() + 60_000));
    clock.advance(1_000);
    const first = scheduler.tick();

    clock.advance(59_000);
    expect(await scheduler.tick()).toBe(1);

    expect(calls).toEqual(['grant-stuck', 'grant-later']);
    stuck.release();
    expect(await first).toBe(1);
    expect(await dynamo.store.dueSchedules(clock.now().toISOString())).toEqual([]);
  });

  it('a schedule still firing is not fired again by the next tick', async () => {
    await scheduler.schedule('grant-stuck', new Date(T0.getTime() + 1_000));
    clock.advance(1_000);
    const first = scheduler.tick();

    expect(await scheduler.tick()).toBe(0);
    stuck.release();
    await first;

    expect(calls).toEqual(['grant-stuck']);
  });

  it('a failed firing stays scheduled and fires on a later tick', async () => {
    let failures = 1;
    const flaky = new LocalScheduler(
      dynamo.store,
      clock,
      silentLogger,
      async ({ grantId }) => {
        calls.push(grantId);
        if (failures-- > 0) throw new Error('Okta answered 503');
      },
      async () => ({ revoked: [], rescheduled: [], failed: [] }),
    );
    await flaky.schedule('grant-1', T0);

    expect(await flaky.tick()).toBe(0);
    expect(await flaky.tick()).toBe(1);
    expect(calls).toEqual(['grant-1', 'grant-1']);
    expect(await dynamo.store.dueSchedules(clock.now().toISOString())).toEqual([]);
  });
});
