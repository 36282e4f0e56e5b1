/**
 * Jobs in the local runtime: run in the background right after Slack (or Jira) has been answered, as Lambda
 * runs an asynchronous invoke, with the same retries (two more attempts after a failure). A filing,
 * release or offboarding job running when the process is killed is not lost: its receipt lists it as unfinished,
 * and the next start hands it over again (LocalRuntime.resumeJobs), as Lambda's queue would.
 */
import { realSleep, type Sleep } from '../../shared/clock.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { CampaignRevokeJob, FilingJob, Jobs, OffboardJob, ReleaseJob } from '../../shared/ports.js';

/** Lambda retries a failed asynchronous invoke twice, about a minute and then two apart; locally seconds apart. */
const RETRY_WAITS_MS = [1_000, 2_000] as const;

/** What each kind of job runs: in AWS, the function LambdaJobs invokes. */
export interface LocalJobRunners {
  /** The file-request function. */
  file: (job: FilingJob) => Promise<void>;
  /** The revoke function, with reason early_release. */
  release: (job: ReleaseJob) => Promise<unknown>;
  /** The offboard function. */
  offboard: (job: OffboardJob) => Promise<unknown>;
  /** The review-campaign function, carrying out a review item's Revoke. */
  campaignRevoke: (job: CampaignRevokeJob) => Promise<unknown>;
}

export class LocalJobs implements Jobs {
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly runners: LocalJobRunners,
    private readonly logger: Logger,
    private readonly sleep: Sleep = realSleep,
  ) {}

  async fileRequest(job: FilingJob): Promise<void> {
    this.start('filing job failed', { receiptKey: job.receiptKey }, () => this.runners.file(job));
  }

  async release(job: ReleaseJob): Promise<void> {
    this.start('release job failed', { grantId: job.grantId }, () => this.runners.release(job));
  }

  async offboard(job: OffboardJob): Promise<void> {
    this.start('offboarding job failed', { email: job.offboard.email }, () => this.runners.offboard(job));
  }

  /** Not receipted: a job lost to a kill is found by the campaign sweep (a Revoke recorded, not carried out). */
  async campaignRevoke(job: CampaignRevokeJob): Promise<void> {
    this.start('review revoke job failed', job.campaignRevoke, () => this.runners.campaignRevoke(job));
  }

  /** Resolves once every job handed over so far (and any they hand over) has finished. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  private start(failed: string, about: Record<string, string>, work: () => Promise<unknown>): void {
    const run: Promise<void> = this.attempts(failed, about, work).finally(() => this.running.delete(run));
    this.running.add(run);
  }

  private async attempts(failed: string, about: Record<string, string>, work: () => Promise<unknown>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await work();
        return;
      } catch (err) {
        const wait = RETRY_WAITS_MS[attempt];
        this.logger.warn(failed, { ...about, attempt: attempt + 1, error: errorMessage(err) });
        if (wait === undefined) return;
        await this.sleep(wait);
      }
    }
  }
}
