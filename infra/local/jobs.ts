/**
 * Jobs in the local runtime: run in the background right after Slack has been answered, as Lambda
 * runs an asynchronous invoke, with the same retries (two more attempts after a failure). A job
 * running when the process is killed is not lost: its receipt lists it as unfinished, and the next
 * start hands it over again (LocalRuntime.refile), as Lambda's queue would.
 */
import { realSleep, type Sleep } from '../../shared/clock.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { FilingJob, Jobs } from '../../shared/ports.js';

/** Lambda retries a failed asynchronous invoke twice, about a minute and then two apart; locally seconds apart. */
const RETRY_WAITS_MS = [1_000, 2_000] as const;

export class LocalJobs implements Jobs {
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly file: (job: FilingJob) => Promise<void>,
    private readonly logger: Logger,
    private readonly sleep: Sleep = realSleep,
  ) {}

  async fileRequest(job: FilingJob): Promise<void> {
    const run: Promise<void> = this.attempts(job).finally(() => this.running.delete(run));
    this.running.add(run);
  }

  /** Resolves once every job handed over so far (and any they hand over) has finished. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private async attempts(job: FilingJob): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.file(job);
        return;
      } catch (err) {
        const wait = RETRY_WAITS_MS[attempt];
        this.logger.warn('filing job failed', { receiptKey: job.receiptKey, attempt: attempt + 1, error: errorMessage(err) });
        if (wait === undefined) return;
        await this.sleep(wait);
      }
    }
  }
}
