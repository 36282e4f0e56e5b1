/**
 * Requests made in Slack: the form `/access` opens (built from the catalog), and the filing of a
 * submitted form, which runs after Slack has been answered (Jobs): the Jira issue first (Jira is the
 * system of record), then the grant, exactly as the Jira webhook records it; the person hears the
 * outcome in Slack.
 *
 * Re-run safe: the receipt written when the form was submitted records the issue once it exists,
 * so a second run (a crash, Lambda's retry of an asynchronous invoke) files no second issue and,
 * the grant id being derived from the issue key, no second grant.
 */
import { findAppKey, resolveRole } from './catalog/catalog.js';
import { createHash } from 'node:crypto';
import * as z from 'zod';
import type { Catalog } from './catalog/schema.js';
import { realSleep, type Sleep } from './clock.js';
import { describeDuration, normaliseDuration } from './duration.js';
import { grantIdFor } from './grants/model.js';
import { RetryableError, ValidationError, errorMessage } from './errors.js';
import { submitRequest, type IntakeDeps } from './intake.js';
import type { ChatMessageRef, FilingJob, FormChoice, RequestForm } from './ports.js';
import { requestTicket } from './request-ticket.js';
import type { Services } from './services.js';

export type FilingDeps = IntakeDeps & Pick<Services, 'chat'>;

/** Attempts at creating the Jira issue while Jira answers 429/5xx or not at all, and the waits between them. */
export const FILING_RETRY_WAITS_MS = [1_000, 3_000, 9_000] as const;

/** The form for the chosen app and role (unknown choices are dropped: the form then asks for them). */
export function requestForm(catalog: Catalog, chosen: { app?: string | undefined; role?: string | undefined } = {}): RequestForm {
  const apps: FormChoice[] = Object.entries(catalog.apps)
    .map(([key, app]) => ({ value: key, label: app.name }))
    .sort((a, b) => a.label.localeCompare(b.label));
  const appKey = chosen.app ? findAppKey(catalog, chosen.app) : undefined;
  if (!appKey) return { apps, roles: [], durations: [] };
  const roles: FormChoice[] = Object.entries(catalog.apps[appKey]!.roles).map(([key, role]) => ({
    value: key,
    label: role.description ? `${key}: ${role.description}` : key,
  }));
  const resolved = chosen.role ? resolveRole(catalog, appKey, chosen.role.trim().toLowerCase()) : undefined;
  if (!resolved) return { apps, roles, durations: [], app: appKey };
  const durations = resolved.role.durations.map((d) => ({ value: normaliseDuration(d), label: describeDuration(d) }));
  return { apps, roles, durations, app: appKey, role: resolved.roleKey };
}

/** A filing job as the file-request function receives it (the event of an asynchronous invoke), checked at the edge. */
export const filingJobSchema = z.strictObject({
  receiptKey: z.string().min(1).max(300),
  slackUserId: z.string().min(1).max(100),
  requester: z.string().min(1),
  subject: z.string().min(1),
  app: z.string(),
  role: z.string(),
  duration: z.string(),
  justification: z.string(),
}) satisfies z.ZodType<FilingJob>;

export async function fileRequest(deps: FilingDeps, job: FilingJob, sleep: Sleep = realSleep): Promise<void> {
  const receipt = await deps.store.commands.get(job.receiptKey);
  let issueKey = receipt?.issueKey;
  if (!issueKey) {
    try {
      // Write-ahead in Jira itself: the issue carries a label naming this submission, and every attempt
      // first looks for it, so an attempt whose answer was lost (a timeout, a 502, a crash) is found, not repeated.
      const label = filingLabel(job.receiptKey);
      const ticket = { ...requestTicket(deps.config, deps.catalog, job), labels: [label] };
      issueKey = await withRetries(async () => (await deps.ticketing.findIssueByLabel(label)) ?? (await deps.ticketing.createIssue(ticket)).key, sleep);
    } catch (err) {
      const reason = err instanceof RetryableError ? `Jira did not take it (${err.message}); please try again in a few minutes` : errorMessage(err);
      deps.logger.warn('a request from Slack could not be filed in Jira', { receiptKey: job.receiptKey, error: errorMessage(err) });
      await tell(deps, job, `Nothing was filed: ${reason}.`);
      await deps.store.commands.finish(job.receiptKey);
      return;
    }
    await deps.store.commands.recordIssue(job.receiptKey, issueKey);
    // Told before the grant starts, so every outcome lands in this message's thread (shared/notify.ts).
    const appKey = findAppKey(deps.catalog, job.app);
    const what = `${appKey ? deps.catalog.apps[appKey]!.name : job.app} ${job.role.trim().toLowerCase()}`;
    const forWhom = job.subject === job.requester ? 'you' : job.subject;
    const filed = await tell(deps, job, `Filed ${issueKey}: ${what} for ${forWhom} (${normaliseDuration(job.duration)}). You will hear back here.`);
    if (filed) await deps.store.setRequestThread(grantIdFor(issueKey), filed);
  }
  try {
    await submitRequest(deps, { ...job, issueKey, source: 'slack' });
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    await tell(deps, job, `Filed ${issueKey}, but it cannot proceed: ${err.problems.join('; ')}.`);
  }
  await deps.store.commands.finish(job.receiptKey);
}

/** The label of the issue filed for a submission: Jira labels take no spaces, so a hash of the receipt key. */
export function filingLabel(receiptKey: string): string {
  return `grantline-${createHash('sha256').update(receiptKey).digest('hex').slice(0, 24)}`;
}

async function withRetries(file: () => Promise<string>, sleep: Sleep): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await file();
    } catch (err) {
      const wait = FILING_RETRY_WAITS_MS[attempt];
      if (!(err instanceof RetryableError) || wait === undefined) throw err;
      await sleep(Math.max(wait, err.retryAfterMs ?? 0));
    }
  }
}

async function tell(deps: FilingDeps, job: FilingJob, text: string): Promise<ChatMessageRef | undefined> {
  try {
    return await deps.chat.notify(job.slackUserId, text);
  } catch (err) {
    // The outcome is in Jira and the ledger either way; Slack being down loses only the notice.
    deps.logger.warn('could not tell the requester in Slack', { receiptKey: job.receiptKey, error: errorMessage(err) });
    return undefined;
  }
}
