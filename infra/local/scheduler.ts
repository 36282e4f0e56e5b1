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
import type { Store } from '../../shared/store/store.js';
import { scheduleNameFor } from '../../shared/grants/model.js';
import type { SweepResult } from '../../shared/sweep.js';

/** Revocations in flight at once: one slow identity provider or Jira answer holds up only its own. */
const PARALLEL_FIRINGS = 20;

export class LocalScheduler implements RevocationScheduler {
  private running: Promise<number> | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** The revoke function's entry point, as the schedule's target. */
    private readonly target: (input: { grantId: string; reason: 'expired' }) => Promise<unknown>,
    /** The expiry safety net (shared/sweep.ts). */
    private readonly sweep: () => Promise<SweepResult>,
  ) {}

  async schedule(grantId: string, at: Date): Promise<'created' | 'exists'> {
    return this.store.putSchedule({ name: scheduleNameFor(grantId), at: at.toISOString(), grantId });
  }

  async cancel(grantId: string): Promise<void> {
    await this.store.deleteSchedule(scheduleNameFor(grantId));
  }

  /** Fires every due schedule once; returns how many fired successfully. */
  tick(): Promise<number> {
    this.running ??= this.fireDue().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Waits for a firing in progress (the runtime's ticker calls tick). */
  async stop(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async fireDue(): Promise<number> {
    const now = this.clock.now().toISOString();
    let fired = 0;
    const due = await this.store.dueSchedules(now);
    // Several at a time, as EventBridge fires them: one slow identity provider must not make the rest late.
    let next = 0;
    const fireNext = async (): Promise<void> => {
      for (let schedule = due[next++]; schedule; schedule = due[next++]) {
        try {
          await this.target({ grantId: schedule.grantId, reason: 'expired' });
          await this.store.deleteSchedule(schedule.name);
          fired += 1;
        } catch (err) {
          this.logger.warn('scheduled revocation failed; it stays scheduled and is retried', { grantId: schedule.grantId, error: errorMessage(err) });
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_FIRINGS }, fireNext));
    const swept = await this.sweep();
    return fired + swept.revoked.length;
  }
}
