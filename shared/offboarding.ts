/**
 * Offboarding: every active grant of a person ends through the one revoke path (membership record,
 * evidence on each grant's issue, schedule deleted; a manual app becomes its owner's removal task),
 * and the person's sessions are ended at every identity provider that knows them. Started by a Jira
 * offboarding issue (its automation rule sends `"action": "offboard"` to the Jira webhook, which
 * hands the work over as a job) or by `POST /offboard` (`grantline offboard <email>`).
 * Idempotent: a grant already ended is not ended again, and the summary on the offboarding issue is
 * one ledger event (its key), so running it twice removes nothing twice and posts nothing twice.
 */
import * as z from 'zod';
import { authorizeAuditor } from './audit.js';
import { normalizeEmail } from './email.js';
import { MalformedRequestError, errorMessage } from './errors.js';
import { recordEvidence } from './evidence.js';
import { json, parseJsonBody, type HttpRequest, type HttpResponse } from './http.js';
import { catalogProviders } from './catalog/catalog.js';
import type { OffboardJob, ProviderName } from './ports.js';
import { revoke, type RevokeResult } from './revocation.js';
import type { LifecycleDeps } from './services.js';

/** What the webhook hands over (ports OffboardJob; what a lost local job is re-run from): who leaves, on which issue, asked by whom. */
export const offboardJobSchema = z.object({
  offboard: z.object({ email: z.string().min(1), issueKey: z.string().optional(), by: z.string().min(1) }),
}) satisfies z.ZodType<OffboardJob>;

/** The receipt of a Jira offboarding issue's webhook: a replay hands nothing over twice; listed as unfinished until the job ran. */
export const offboardReceiptKey = (issueKey: string) => `jira-offboard:${issueKey}`;

/** The offboard job (the offboard Lambda, or the local runtime's jobs): offboards, then marks the receipt finished. */
export async function runOffboardJob(deps: LifecycleDeps, job: OffboardJob): Promise<OffboardResult> {
  const { email, issueKey, by } = job.offboard;
  const result = await offboard(deps, { email, by, ...(issueKey ? { issueKey } : {}) });
  if (issueKey) await deps.store.commands.finish(offboardReceiptKey(issueKey));
  return result;
}

export interface OffboardResult {
  email: string;
  grants: Array<{ grantId: string; issueKey: string; what: string; outcome: RevokeResult['outcome'] }>;
  sessions: Array<{ provider: ProviderName; outcome: 'ended' | 'no_account' | 'failed'; error?: string }>;
}

/** Ends every active grant of `email` and their sessions; with `issueKey`, the summary goes on that (offboarding) issue. */
export async function offboard(deps: LifecycleDeps, input: { email: string; by: string; issueKey?: string }): Promise<OffboardResult> {
  const email = normalizeEmail(input.email);
  if (!email) throw new MalformedRequestError(`"${input.email}" is not an email address: say who is leaving`);
  const active = (await deps.store.grantsOfUser(email)).filter((g) => g.status === 'active');
  const grants: OffboardResult['grants'] = [];
  for (const grant of active) {
    const result = await revoke(deps, { grantId: grant.id, reason: 'offboarding', actor: input.by });
    grants.push({ grantId: grant.id, issueKey: grant.issueKey, what: `${grant.appName} ${grant.role}`, outcome: result.outcome });
  }
  const sessions = await endSessionsEverywhere(deps, email);
  if (input.issueKey) await recordSummary(deps, input.issueKey, email, input.by, grants, sessions);
  return { email, grants, sessions };
}

/**
 * Offboarding always ends the person's sessions, at every provider configured (not only those of
 * their grants: access they hold outside Grantline is signed out too). One provider's failure is
 * recorded and does not stop the others; a run again ends them again (harmless).
 */
async function endSessionsEverywhere(deps: LifecycleDeps, email: string): Promise<OffboardResult['sessions']> {
  const sessions: OffboardResult['sessions'] = [];
  // The providers the catalog uses: the others have no credentials configured.
  for (const provider of catalogProviders(deps.catalog)) {
    try {
      const idp = deps.idp(provider);
      const account = await idp.findUserByEmail(email);
      sessions.push({ provider, outcome: account ? await idp.endSessions(account.id) : 'no_account' });
    } catch (err) {
      deps.logger.error('could not end the sessions of a person being offboarded', { provider, email, error: errorMessage(err) });
      sessions.push({ provider, outcome: 'failed', error: errorMessage(err) });
    }
  }
  return sessions;
}

async function recordSummary(
  deps: LifecycleDeps,
  issueKey: string,
  email: string,
  by: string,
  grants: OffboardResult['grants'],
  sessions: OffboardResult['sessions'],
): Promise<void> {
  const ended = grants.filter((g) => g.outcome !== 'not_active');
  const sessionLine = (s: OffboardResult['sessions'][number]) =>
    s.outcome === 'ended' ? `${s.provider}: ended` : s.outcome === 'no_account' ? `${s.provider}: no account` : `${s.provider}: FAILED (${s.error})`;
  await recordEvidence(
    deps,
    { id: `offboard-${issueKey}`, issueKey },
    {
      type: 'offboarded',
      actor: by,
      via: 'system',
      summary: `offboarded ${email}: ${ended.length} grant${ended.length === 1 ? '' : 's'} ended, sessions ended at ${
        sessions
          .filter((s) => s.outcome === 'ended')
          .map((s) => s.provider)
          .join(', ') || 'no provider'
      }`,
      details: {
        Person: email,
        'Grants ended': ended.map((g) => `${g.what} (${g.issueKey}, ${outcomeText[g.outcome]})`).join('; ') || 'none active',
        'Manual removal tasks':
          ended
            .filter((g) => g.outcome === 'manual_task')
            .map((g) => `${g.what} (${g.issueKey})`)
            .join('; ') || undefined,
        Sessions: sessions.map(sessionLine).join('; ') || 'no identity provider configured',
      },
    },
  );
}

const outcomeText: Record<RevokeResult['outcome'], string> = {
  removed: 'removed from the group',
  already_absent: 'was no longer in the group',
  kept: 'membership kept: another reason holds it',
  manual_task: "owner's removal task",
  not_active: 'already ended',
};

// ---------------------------------------------------------------- entry points

const offboardBody = z.object({
  email: z.string().min(1),
  issueKey: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]{0,30}-\d{1,10}$/)
    .optional(),
  by: z.string().optional(),
});

/** POST /offboard (audit auth): offboards at once and answers what was done. */
export async function postOffboard(deps: LifecycleDeps, req: HttpRequest): Promise<HttpResponse> {
  const caller = authorizeAuditor(deps.config, req);
  const parsed = offboardBody.safeParse(parseJsonBody(req.rawBody));
  if (!parsed.success) {
    throw new MalformedRequestError(
      `offboard needs {"email": "<who leaves>", "issueKey": "<offboarding issue>" (optional), "by": "<who asks>" (optional)}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const by = parsed.data.by ? `${caller} (on behalf of ${parsed.data.by})` : caller;
  return json(200, await offboard(deps, { email: parsed.data.email, by, ...(parsed.data.issueKey ? { issueKey: parsed.data.issueKey } : {}) }));
}
