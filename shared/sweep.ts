/**
 * The expiry safety net. A revocation schedule should never go missing, but if one does (deleted by
 * hand, a failed create that nobody noticed, the local runtime down when it fell due), access must
 * still end: every few minutes the sweeper revokes active grants past their expiry through the
 * same revoke path, and recreates the schedule of grants that fall due soon. Index queries only.
 */
import { errorMessage } from './errors.js';
import type { Grant } from './grants/model.js';
import { NOTICE_BEFORE_EXPIRY_MS, noticeBeforeExpiry } from './extension.js';
import { revoke } from './revocation.js';
import type { LifecycleDeps } from './services.js';

/** The scheduler delivers within about a minute of the time: only a grant later than this is overdue. */
export const OVERDUE_AFTER_MS = 5 * 60_000;
/** Schedules are checked for grants due within this window, so each is checked several times before it is due. */
export const SCHEDULE_CHECK_WINDOW_MS = 2 * 3_600_000;

export interface SweepResult {
  /** Grants past expiry that were still active, now revoked. */
  revoked: string[];
  /** Grants whose schedule was missing, now recreated. */
  rescheduled: string[];
  /** Grants the sweep could not repair this time (retried on the next sweep). */
  failed: Array<{ grantId: string; error: string }>;
}

/**
 * `overdueAfterMs`: how late a revocation may be before the sweeper steps in. EventBridge Scheduler
 * delivers within about a minute, so AWS keeps the default; the local scheduler fires its due
 * schedules in the same tick just before sweeping, so it passes 0.
 */
export async function sweepExpiries(deps: LifecycleDeps, options: { overdueAfterMs?: number } = {}): Promise<SweepResult> {
  const now = deps.clock.now().getTime();
  const result: SweepResult = { revoked: [], rescheduled: [], failed: [] };
  const attempt = async (grant: Grant, work: () => Promise<void>) => {
    try {
      await work();
    } catch (err) {
      result.failed.push({ grantId: grant.id, error: errorMessage(err) });
    }
  };
  for (const grant of await deps.store.expiringBefore(new Date(now - (options.overdueAfterMs ?? OVERDUE_AFTER_MS)).toISOString())) {
    await attempt(grant, async () => {
      const { outcome } = await revoke(deps, { grantId: grant.id, reason: 'expired', actor: 'sweeper' });
      if (outcome !== 'not_active') result.revoked.push(grant.id);
    });
  }
  const dueSoon = await deps.store.expiringBetween(new Date(now).toISOString(), new Date(now + SCHEDULE_CHECK_WINDOW_MS).toISOString());
  for (const grant of dueSoon) {
    await attempt(grant, async () => {
      if ((await deps.scheduler.schedule(grant.id, new Date(grant.expiresAt!))) === 'created') result.rescheduled.push(grant.id);
    });
  }
  // The notice before access ends, with its "Extend" button (once per expiry).
  for (const grant of dueSoon.filter((g) => new Date(g.expiresAt!).getTime() <= now + NOTICE_BEFORE_EXPIRY_MS)) {
    await attempt(grant, async () => {
      await noticeBeforeExpiry(deps, grant);
    });
  }
  if (result.revoked.length + result.rescheduled.length + result.failed.length > 0) {
    // The alarm's metric filter matches this message: a schedule should never be missing.
    deps.logger.error('expiry sweeper repaired missing revocations', { ...result });
  }
  return result;
}
