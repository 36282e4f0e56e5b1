/**
 * The local stand-in for EventBridge Scheduler: one-time schedules kept in the same DynamoDB table,
 * so a restart loses none. `tick` fires what is due (at least once, like the real service) and
 * deletes a schedule after it ran (ActionAfterCompletion: DELETE); a failed firing stays and is
 * tried again on the next tick. Each tick then runs the expiry sweeper, as the AWS stack's
 * sweep-expiries function does every 5 minutes (shared/sweep.ts).
 */
import type { Clock } from '../../shared/clock.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { RevocationScheduler } from '../../shared/ports.js';
import type { ScheduleItem, Store } from '../../shared/store/store.js';
import { scheduleNameFor } from '../../shared/grants/model.js';
import type { SweepResult } from '../../shared/sweep.js';

/** Revocations in flight at once: one slow identity provider or Jira answer holds up only its own. */
const PARALLEL_FIRINGS = 20;

export class LocalScheduler implements RevocationScheduler {
  /** Firings started and not finished, by schedule name: a later tick leaves them to run. */
  private readonly inFlight = new Map<string, Promise<boolean>>();
  private readonly waitingForSlot: Array<() => void> = [];
  private running = 0;
  private sweeping: Promise<SweepResult> | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** The revoke function's entry point, as the schedule's target. */
    private readonly target: (input: { grantId: string; reason: 'expired'; expiry: string }) => Promise<unknown>,
    /** The expiry safety net (shared/sweep.ts). */
    private readonly sweep: () => Promise<SweepResult>,
  ) {}

  async schedule(grantId: string, at: Date): Promise<'created' | 'exists'> {
    return this.store.putSchedule({ name: scheduleNameFor(grantId), at: at.toISOString(), grantId });
  }

  async reschedule(grantId: string, at: Date): Promise<void> {
    await this.store.moveSchedule({ name: scheduleNameFor(grantId), at: at.toISOString(), grantId });
  }

  async cancel(grantId: string): Promise<void> {
    await this.store.deleteSchedule(scheduleNameFor(grantId));
  }

  /**
   * Fires every due schedule not already firing, then runs the sweeper; returns how many revocations
   * this tick completed. Each tick waits only for what it started: a revocation stuck behind a slow
   * Jira or identity provider does not hold back schedules that fall due after it.
   */
  async tick(): Promise<number> {
    const due = await this.store.dueSchedules(this.clock.now().toISOString());
    const started = due.filter((schedule) => !this.inFlight.has(schedule.name)).map((schedule) => this.fire(schedule));
    const fired = (await Promise.all(started)).filter(Boolean).length;
    this.sweeping ??= this.sweep().finally(() => (this.sweeping = undefined));
    const swept = await this.sweeping;
    return fired + swept.revoked.length;
  }

  /** Waits for the firings and sweep in progress (the runtime's ticker calls tick). */
  async stop(): Promise<void> {
    await Promise.all([...this.inFlight.values(), this.sweeping?.catch(() => undefined)]);
  }

  private fire(schedule: ScheduleItem): Promise<boolean> {
    const firing = this.withSlot(async () => {
      try {
        await this.target({ grantId: schedule.grantId, reason: 'expired', expiry: schedule.at });
        await this.store.deleteSchedule(schedule.name);
        return true;
      } catch (err) {
        this.logger.warn('scheduled revocation failed; it stays scheduled and is retried', { grantId: schedule.grantId, error: errorMessage(err) });
        return false;
      }
    }).finally(() => this.inFlight.delete(schedule.name));
    this.inFlight.set(schedule.name, firing);
    return firing;
  }

  /** At most PARALLEL_FIRINGS at once, as EventBridge's concurrency into one function is bounded. */
  private async withSlot<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= PARALLEL_FIRINGS) await new Promise<void>((resolve) => this.waitingForSlot.push(resolve));
    else this.running += 1;
    try {
      return await work();
    } finally {
      const next = this.waitingForSlot.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
