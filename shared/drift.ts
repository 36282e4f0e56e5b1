/**
 * Drift, found without anyone asking: once a day (an EventBridge rule in AWS; the local runtime at
 * start and every 24 hours; `grantline drift` on demand) each app's mapped groups are reconciled with
 * the ledger, as an access review does (shared/review.ts): members with no active Grantline grant
 * (access given outside Grantline) and grants whose member has left the group (removed outside).
 *
 * Findings go to the log and to one Jira issue per app and day, filed once (a claim by conditional
 * write, the issue found by its label after a lost answer) and updated, not duplicated: a comment
 * only when the findings differ from the day's last comment, each comment carrying the findings'
 * digest so a retry never posts it twice. An app with `driftFix: true` also has its outside
 * memberships removed, each removal in the comment.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { authorizeAuditor } from './audit.js';
import { errorMessage, MalformedRequestError, NotFoundError } from './errors.js';
import { json, parseJsonBody, type HttpRequest, type HttpResponse } from './http.js';
import { reviewPage } from './review.js';
import type { ProviderName } from './ports.js';
import type { LifecycleDeps } from './services.js';

export interface DriftFinding {
  kind: 'outside' | 'missing';
  role: string;
  group: string;
  provider: string;
  /** The member (outside) or the grant's subject (missing). */
  email: string;
  /** missing: the grant whose membership vanished. */
  grantId?: string;
  /** Not in the app's previous report. */
  new: boolean;
  /** With driftFix: what removing the outside membership did. */
  fixed?: 'removed' | 'already_absent' | 'held' | `failed: ${string}`;
}

export interface DriftReport {
  app: string;
  day: string;
  findings: DriftFinding[];
  /** The day's issue, when there was anything to report. */
  issueKey?: string;
  /** Why the issue was not updated, when it was not. */
  issueSkipped?: string;
}

/** A claim to file the day's issue older than this is taken over (its run died before filing). */
const FILE_CLAIM_MS = 5 * 60_000;

export async function reportDrift(deps: LifecycleDeps, appKey: string, options: { fix?: boolean } = {}): Promise<DriftReport> {
  const app = deps.catalog.apps[appKey];
  if (!app) throw new NotFoundError(`no app ${appKey} in the catalog`);
  const now = deps.clock.now();
  const day = now.toISOString().slice(0, 10);
  const found = await currentDrift(deps, appKey);
  const known = new Set(await deps.store.lastDrift(appKey));
  const findings = found.map((f) => ({ ...f, new: !known.has(findingKey(f)) }));
  if ((options.fix ?? true) && app.driftFix) {
    for (const f of findings.filter((x) => x.kind === 'outside')) {
      try {
        const provider = f.provider as ProviderName;
        const idp = deps.idp(provider);
        const account = await idp.findUserByEmail(f.email);
        // A grant being provisioned right now holds the membership record before it is active: not outside Grantline.
        const record = account ? await deps.store.getMembership({ provider, groupId: f.group, userId: account.id }) : undefined;
        f.fixed = !account ? 'already_absent' : record?.holders.length ? 'held' : await idp.removeMember(f.group, account.id);
      } catch (err) {
        f.fixed = `failed: ${errorMessage(err)}`;
      }
    }
  }
  const report: DriftReport = { app: appKey, day, findings };
  if (findings.length > 0) {
    deps.logger.warn('access drift found', {
      app: appKey,
      outside: count(findings, 'outside'),
      missing: count(findings, 'missing'),
      new: findings.filter((f) => f.new).length,
    });
    Object.assign(report, await updateDayIssue(deps, appKey, app.name, app.owner, day, findings));
  }
  await deps.store.setLastDrift(
    appKey,
    found.map((f) => findingKey(f)),
    now.toISOString(),
  );
  return report;
}

/** Every page of the app's review, as findings (not yet told new from known). */
async function currentDrift(deps: LifecycleDeps, appKey: string): Promise<Array<Omit<DriftFinding, 'new'>>> {
  const findings: Array<Omit<DriftFinding, 'new'>> = [];
  let cursor: string | undefined;
  do {
    const page = await reviewPage(deps, appKey, { limit: 500, ...(cursor ? { cursor } : {}) });
    for (const role of page.roles) {
      if (!role.provider) continue;
      const where = { role: role.role, group: role.group, provider: role.provider };
      for (const email of role.outsideGrantline) findings.push({ kind: 'outside', ...where, email });
      for (const grantId of role.missingFromGroup) {
        // A revocation under way (or cut short by a crash, which its retry finishes) has left the group first: not drift.
        const grant = await deps.store.getGrant(grantId);
        if (grant?.status !== 'active' || grant.endingAt) continue;
        findings.push({ kind: 'missing', ...where, email: grant.subject, grantId });
      }
    }
    cursor = page.nextCursor;
  } while (cursor);
  return findings;
}

const findingKey = (f: Pick<DriftFinding, 'kind' | 'role' | 'email' | 'grantId'>) => `${f.kind}|${f.role}|${f.email}|${f.grantId ?? ''}`;
const count = (findings: DriftFinding[], kind: DriftFinding['kind']) => findings.filter((f) => f.kind === kind).length;

/**
 * The day's issue for the app, filed once, then a comment when the findings changed since the day's
 * last one. A run that finds another filing the issue right now leaves the comment to a later run.
 */
async function updateDayIssue(
  deps: LifecycleDeps,
  appKey: string,
  appName: string,
  owner: string,
  day: string,
  findings: DriftFinding[],
): Promise<Pick<DriftReport, 'issueKey' | 'issueSkipped'>> {
  const digest = createHash('sha256')
    .update(JSON.stringify(findings.map((f) => [findingKey(f), f.fixed ?? ''])))
    .digest('hex')
    .slice(0, 16);
  let record = await deps.store.driftDay(appKey, day);
  if (record.postedDigest === digest) return { issueKey: record.issueKey! };
  let issueKey = record.issueKey;
  if (!issueKey) {
    const now = deps.clock.now();
    const claimed = await deps.store.claimDriftDay(appKey, day, now.toISOString(), new Date(now.getTime() - FILE_CLAIM_MS).toISOString());
    if (!claimed) return { issueSkipped: "another run is filing today's issue" };
    const label = `grantline-drift-${appKey}-${day}`;
    // A filing whose answer was lost (a timeout after Jira created the issue) is found by its label, not filed twice.
    issueKey =
      (await deps.ticketing.findIssueByLabel(label)) ??
      (
        await deps.ticketing.createIssue({
          summary: `Access drift in ${appName} on ${day} (app owner ${owner})`,
          // Reported by Grantline's own account: the request rule's webhook then records nothing for it (shared/intake.ts).
          reporterEmail: deps.config.JIRA_EMAIL ?? owner,
          fields: {},
          labels: [label],
        })
      ).key;
    await deps.store.setDriftDay(appKey, day, { issueKey });
    record = { ...record, issueKey };
  }
  const ref = `drift/${appKey}/${day}/${digest}`;
  if (!(await deps.ticketing.hasComment(issueKey, ref))) {
    await deps.ticketing.addComment(issueKey, {
      title: `Grantline: access drift in ${appName}: ${count(findings, 'outside')} membership(s) outside Grantline, ${count(findings, 'missing')} grant(s) whose membership vanished`,
      facts: findings.map((f, i) => ({ label: `Finding ${i + 1}${f.new ? ' (new)' : ''}`, value: describe(f) })),
      note: 'Review each: a membership outside Grantline is either requested through Grantline or removed; a vanished membership means the access was removed outside Grantline.',
      ref,
      internal: true,
    });
  }
  await deps.store.setDriftDay(appKey, day, { postedDigest: digest });
  return { issueKey };
}

function describe(f: DriftFinding): string {
  const where = `${f.provider} group ${f.group} (role ${f.role})`;
  if (f.kind === 'missing') return `${f.email} is no longer in ${where}, though grant ${f.grantId} is active: removed outside Grantline`;
  const fixed =
    f.fixed === undefined
      ? ''
      : f.fixed === 'removed'
        ? '; removed by Grantline (driftFix)'
        : f.fixed === 'held'
          ? '; kept: a grant being provisioned holds it'
          : `; driftFix: ${f.fixed}`;
  return `${f.email} is in ${where} with no active Grantline grant${fixed}`;
}

// ---------------------------------------------------------------- entry points

/** Every app with a mapped group, one after the other; one app's failure is logged and does not stop the others. */
export async function reportDriftForAll(deps: LifecycleDeps, options: { fix?: boolean } = {}): Promise<DriftReport[]> {
  const reports: DriftReport[] = [];
  for (const appKey of Object.keys(deps.catalog.apps)) {
    try {
      reports.push(await reportDrift(deps, appKey, options));
    } catch (err) {
      deps.logger.error('drift report failed for an app', { app: appKey, error: errorMessage(err) });
    }
  }
  return reports;
}

const driftBody = z.object({ app: z.string().optional(), fix: z.boolean().optional() });

/** POST /drift {app?, fix?} (audit auth): the report now, for one app or all; `fix: false` reports without removing. */
export async function postDrift(deps: LifecycleDeps, req: HttpRequest): Promise<HttpResponse> {
  authorizeAuditor(deps.config, req);
  const parsed = driftBody.safeParse(req.rawBody ? parseJsonBody(req.rawBody) : {});
  if (!parsed.success) throw new MalformedRequestError('drift takes {"app": "<app key>" (optional), "fix": true | false (optional)}');
  const options = parsed.data.fix === undefined ? {} : { fix: parsed.data.fix };
  const reports = parsed.data.app ? [await reportDrift(deps, parsed.data.app, options)] : await reportDriftForAll(deps, options);
  return json(200, { reports });
}
