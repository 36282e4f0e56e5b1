/**
 * The `grantline` command line: start the local runtime, validate the catalog and publish its
 * schema, and query or export the audit trail from a running Grantline.
 */
import { randomUUID } from 'node:crypto';
import { type FileHandle, mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import type { GrantRecord } from '../shared/audit.js';
import type { PackSummary } from '../shared/audit-report.js';
import type { Anchor, ChainBreak } from '../shared/chain.js';
import type { StoredChain } from '../shared/ledger-audit.js';
import type { PendingEvidence } from '../shared/evidence.js';
import { type Campaign, type CampaignItem, campaignCsv, type ItemDecision } from '../shared/campaigns.js';
import type { DriftReport } from '../shared/drift.js';
import type { OffboardResult } from '../shared/offboarding.js';
import type { RoleReview } from '../shared/review.js';
import { formatProblem, parseCatalog } from '../shared/catalog/load.js';
import { catalogJsonSchema } from '../shared/catalog/schema.js';
import { type AwsOption, awsSigning, fetchSigned, signingRegion } from './sigv4.js';

/** --aws [region]: sign with SigV4, as API Gateway's IAM authorization wants in AWS. */
const AWS_HELP =
  'sign every request with your AWS credentials (SigV4, execute-api) for a deployed Grantline; region: this, else GRANTLINE_AWS_REGION, AWS_REGION or the execute-api URL (on by itself when GRANTLINE_AWS_REGION is set)';

/** --url, --token and --aws, for the commands that call a running Grantline. */
const serverOptions = (c: Command) =>
  c
    .option('--url <url>', 'Grantline base URL', process.env.GRANTLINE_URL ?? 'http://127.0.0.1:3000')
    .option('--token <token>', 'audit bearer token (local runtime)', process.env.GRANTLINE_AUDIT_TOKEN)
    .option('--aws [region]', AWS_HELP);

const program = new Command().name('grantline').description('Governed access requests: Jira → Slack → identity provider → evidence');

program
  .command('start')
  .description('start the local runtime (sandbox when no Jira/Slack/Okta settings are given)')
  .action(async () => {
    await import('../infra/local/main.js');
  });

const catalog = program.command('catalog').description('the catalog of requestable app roles');
catalog
  .command('validate')
  .argument('[file]', 'catalog file', process.env.GRANTLINE_CATALOG ?? 'catalog.yaml')
  .description('report every mistake in the catalog with its line')
  .action(async (file: string) => {
    const result = parseCatalog(await readFile(file, 'utf8'));
    if (result.ok) {
      const roles = Object.values(result.catalog.apps).reduce((n, app) => n + Object.keys(app.roles).length, 0);
      console.log(`${file}: valid (${Object.keys(result.catalog.apps).length} apps, ${roles} roles)`);
      return;
    }
    console.error(`${file}: ${result.problems.length} problem(s)`);
    for (const problem of result.problems) console.error(`  ${formatProblem(problem)}`);
    process.exitCode = 1;
  });
catalog
  .command('schema')
  .description('print the catalog JSON Schema (for editors and CI)')
  .action(() => console.log(JSON.stringify(catalogJsonSchema(), null, 2)));

catalog
  .command('sync')
  .argument('[file]', 'catalog file', process.env.GRANTLINE_CATALOG ?? 'catalog.yaml')
  .description('check every mapped group exists in its identity provider, and list groups no role maps (uses the provider settings in the environment)')
  .option(
    '--jira',
    "also make the Jira request fields (JIRA_FIELD_APP, JIRA_FIELD_ROLE, JIRA_FIELD_DURATION) offer exactly the catalog's apps, roles and durations",
  )
  .action(async (file: string, opts: { jira?: boolean }) => {
    const { loadCatalog } = await import('../shared/catalog/load.js');
    const { jiraFieldValues, syncReport } = await import('../shared/catalog/sync.js');
    const { parseConfig, required } = await import('../shared/config.js');
    const { identityProviders } = await import('../shared/connectors/identity.js');
    const config = parseConfig(process.env);
    const catalog = await loadCatalog(file);
    if (opts.jira) {
      const { JiraTicketing } = await import('../shared/connectors/jira.js');
      const jira = new JiraTicketing({
        baseUrl: required(config, 'JIRA_BASE_URL'),
        email: required(config, 'JIRA_EMAIL'),
        apiToken: required(config, 'JIRA_API_TOKEN'),
      });
      const values = jiraFieldValues(catalog);
      for (const [field, wanted] of [
        [config.JIRA_FIELD_APP, values.apps],
        [config.JIRA_FIELD_ROLE, values.roles],
        [config.JIRA_FIELD_DURATION, values.durations],
      ] as const) {
        const change = await jira.syncFieldOptions(field, wanted);
        console.log(
          `JIRA ${field}: added [${change.added.join(', ')}], re-enabled [${change.enabled.join(', ')}], disabled [${change.disabled.join(', ')}], ${change.unchanged.length} unchanged`,
        );
      }
    }
    const report = await syncReport(catalog, identityProviders(config));
    for (const p of report.unconfigured) console.log(`NOT CONFIGURED  ${p}: the catalog maps roles to it but no credentials are set`);
    for (const m of report.missing) console.log(`MISSING         ${m.provider} group ${m.groupId} (mapped by ${m.roles.join(', ')}) does not exist`);
    for (const m of report.unmanageable)
      console.log(`NOT MANAGEABLE  ${m.provider} group ${m.groupId} "${m.name}" (mapped by ${m.roles.join(', ')}): the API cannot change its members`);
    for (const g of report.unmapped) console.log(`UNMAPPED        ${g.provider} group ${g.id} "${g.name}": no catalog role grants it`);
    console.log(report.ok ? 'catalog and providers agree' : 'catalog needs attention');
    if (!report.ok) process.exitCode = 1;
  });

const policy = program.command('policy').description('the approval policy the catalog defines');
policy
  .command('explain')
  .description('who would be asked at each step and why, when an unanswered request is denied, and when the access would end; changes nothing')
  .requiredOption('--requester <email>', 'who asks')
  .requiredOption('--subject <email>', 'who the access is for')
  .requiredOption('--app <app>', 'app key or name')
  .requiredOption('--role <role>', 'role key')
  .option('--duration <duration>', "ISO-8601 or permanent (default: the role's first)")
  .option('--catalog <file>', 'catalog file', process.env.GRANTLINE_CATALOG ?? 'catalog.yaml')
  .option('--format <format>', 'text or json', 'text')
  .action(async (opts: { requester: string; subject: string; app: string; role: string; duration?: string; catalog: string; format: string }) => {
    const { loadCatalog } = await import('../shared/catalog/load.js');
    const { parseConfig } = await import('../shared/config.js');
    const { identityProviders } = await import('../shared/connectors/identity.js');
    const { explainPolicy, explanationText } = await import('../shared/policy-explain.js');
    const catalog = await loadCatalog(opts.catalog);
    // The providers whose settings are in the environment are read (manager, account state, end date); the others are not.
    const providers = identityProviders(parseConfig(process.env), undefined, catalog.endDates);
    const explanation = await explainPolicy({ catalog, idp: (name) => providers[name], now: new Date() }, opts);
    console.log(opts.format === 'json' ? JSON.stringify(explanation, null, 2) : explanationText(explanation));
    if (explanation.outcome === 'invalid') process.exitCode = 1;
  });

program
  .command('grants')
  .description("a person's or an app's grants with their evidence, from a running Grantline")
  .option('--user <email>', 'whose grants')
  .option('--app <key>', 'grants of an app')
  .option('--format <format>', 'json or csv', 'json')
  .option('--page-size <n>', 'grants per request (1-500)', '500')
  .option('--url <url>', 'Grantline base URL', process.env.GRANTLINE_URL ?? 'http://127.0.0.1:3000')
  .option('--token <token>', 'audit bearer token (local runtime)', process.env.GRANTLINE_AUDIT_TOKEN)
  .option('--aws [region]', AWS_HELP)
  .action(async (opts: { user?: string; app?: string; format: string; pageSize: string; url: string; token?: string }) => {
    const query = opts.user ? `user=${encodeURIComponent(opts.user)}` : opts.app ? `app=${encodeURIComponent(opts.app)}` : undefined;
    if (!query) throw new Error('give --user <email> or --app <key>');
    // Every page is written as it arrives: the whole set is never held in memory, whatever its size.
    const csv = opts.format === 'csv';
    const subject = opts.user ? { user: opts.user.trim().toLowerCase() } : { app: opts.app!.trim().toLowerCase() };
    await write(csv ? `${CSV_HEADER.join(',')}\n` : `${JSON.stringify(subject).slice(0, -1)},"grants":[`);
    let count = 0;
    await eachPage<{ grants: GrantRecord[] }>(
      opts,
      `/grants?${query}&limit=${encodeURIComponent(opts.pageSize)}`,
      'grants',
      (p) => p.grants.length,
      async (page) => {
        if (csv) await write(page.grants.map((r) => `${csvRow(r)}\n`).join(''));
        else await write(page.grants.map((r, i) => `${count + i === 0 ? '' : ','}\n${JSON.stringify(r, null, 2)}`).join(''));
        count += page.grants.length;
      },
    );
    if (!csv) await write(`\n],"count":${count}}\n`);
  });

// `grantline review <app>` (a live reconciliation of one app) and `grantline review start|decide|close|report` (campaigns):
// a first operand that is not a subcommand runs the app review.
const review = program
  .command('review')
  .argument('[app]', 'app key from the catalog')
  .description(
    "an access review of one app (each role's grants, members outside Grantline, grants whose membership was removed elsewhere); or a campaign: start, decide, close, report",
  )
  .option('--page-size <n>', 'grants and members outside Grantline per request (1-500)', '500')
  .option('--url <url>', 'Grantline base URL', process.env.GRANTLINE_URL ?? 'http://127.0.0.1:3000')
  .option('--token <token>', 'audit bearer token (local runtime; in AWS give --aws instead)', process.env.GRANTLINE_AUDIT_TOKEN)
  .option('--aws [region]', AWS_HELP);
review.action(async (app: string, opts: { pageSize: string; url: string; token?: string }) => {
  // Follows nextCursor; a role over several pages keeps one heading, its lines written page by page.
  let heading: string | undefined;
  await eachPage<{ roles: RoleReview[] }>(
    opts,
    `/reviews/${encodeURIComponent(app)}?limit=${encodeURIComponent(opts.pageSize)}`,
    'grants and members outside Grantline',
    (p) => p.roles.reduce((n, r) => n + r.grants.length + r.outsideGrantline.length, 0),
    async (page) => {
      const lines: string[] = [];
      for (const r of page.roles) {
        if (r.role !== heading) lines.push(`${app}/${r.role}  ${r.manual ? 'manual (confirm with the owner)' : `${r.provider} group ${r.group}`}`);
        heading = r.role;
        for (const g of r.grants)
          lines.push(
            `  granted   ${g.subject}  ${g.grantId} (${g.issueKey}) approved by ${g.approvedBy ?? '?'} since ${g.grantedAt ?? '?'} until ${g.expiresAt ?? 'permanent'}`,
          );
        for (const email of r.outsideGrantline) lines.push(`  OUTSIDE   ${email}: in the group with no active Grantline grant`);
        for (const id of r.missingFromGroup) lines.push(`  MISSING   ${id}: active grant, but the member was removed outside Grantline`);
      }
      if (lines.length > 0) await write(`${lines.join('\n')}\n`);
    },
  );
});

serverOptions(
  review
    .command('start')
    .requiredOption('--apps <keys>', 'comma-separated app keys')
    .requiredOption('--due <duration>', 'ISO-8601, e.g. P14D')
    .option('--reviewer <who>', 'owner or manager', 'owner')
    .option('--on-unreviewed <rule>', "keep, revoke or escalate (to the reviewer's manager) what nobody reviewed by the due date", 'keep')
    .option('--inactive-after <days>', 'no sign-in for this many days recommends revoking', '90')
    .option('--key <key>', 'idempotency key: a start run again with the same key answers the campaign the first one started (default: one per run)')
    .description(
      "start a campaign: every member of the apps' groups snapshotted, with last sign-in and a recommendation, on a Jira issue of its own; each reviewer gets a Slack message",
    ),
).action(
  async (opts: { apps: string; due: string; reviewer: string; onUnreviewed: string; inactiveAfter: string; key?: string; url: string; token?: string }) => {
    // One key for every attempt: a start whose answer was lost (a timeout, a 5xx) is asked again and answers the same campaign.
    const key = opts.key ?? randomUUID();
    const start = () =>
      callGrantline<{ campaign: Campaign; items: CampaignItem[] }>(
        opts,
        '/reviews',
        {
          apps: opts.apps.split(',').map((a) => a.trim()),
          due: opts.due,
          reviewer: opts.reviewer,
          onUnreviewed: opts.onUnreviewed,
          inactiveAfterDays: Number(opts.inactiveAfter),
        },
        { 'idempotency-key': key },
      );
    let answer: { campaign: Campaign; items: CampaignItem[] } | undefined;
    for (let attempt = 1; !answer; attempt++) {
      try {
        answer = await start();
      } catch (err) {
        if (attempt === 3 || !/fetch failed|answered 5\d\d/.test(String(err))) throw err;
        console.error(`no answer (${String(err).slice(0, 120)}); asking again with idempotency key ${key}`);
        await new Promise((resolve) => setTimeout(resolve, 2_000 * attempt));
      }
    }
    const { campaign: c, items } = answer;
    if (c.status === 'starting') {
      console.log(`${c.id}: still taking its snapshot; see grantline review report ${c.id}`);
      return;
    }
    console.log(`${c.id}: ${items.length} item(s) on ${c.issueKey}, due ${c.dueAt}`);
    for (const i of items) console.log(`  ${i.itemId}  ${i.reviewer}  ${i.email}  ${i.app}/${i.role}  recommend ${i.recommendation}: ${i.reason}`);
  },
);
serverOptions(
  review
    .command('decide')
    .argument('<campaign>', 'campaign id')
    .argument('<item>', 'item id')
    .argument('<outcome>', 'keep or revoke')
    .requiredOption('--by <email>', "the item's reviewer")
    .option('--reason <text>', 'why (required to revoke)')
    .description("a reviewer's decision on one item: the first decision wins; a revoke is carried out at once"),
).action(async (id: string, item: string, outcome: string, opts: { by: string; reason?: string; url: string; token?: string }) => {
  const result = await callGrantline<ItemDecision>(opts, `/campaigns/${encodeURIComponent(id)}/decisions`, {
    item,
    outcome,
    by: opts.by,
    ...(opts.reason ? { reason: opts.reason } : {}),
  }).catch((err: unknown) => ({ outcome: 'refused' as const, reason: String(err) }));
  console.log(
    result.outcome === 'recorded'
      ? `${id} ${item}: ${outcome} recorded${result.result ? ` (${result.result})` : ''}`
      : `${id} ${item}: refused: ${result.reason}`,
  );
});
serverOptions(
  review
    .command('close')
    .argument('<campaign>', 'campaign id')
    .description("close: the unreviewed items follow the campaign's rule, then the summary on its issue"),
).action(async (id: string, opts: { url: string; token?: string }) => {
  const { campaign: c, items } = await callGrantline<{ campaign: Campaign; items: CampaignItem[] }>(opts, `/campaigns/${encodeURIComponent(id)}/close`, {});
  console.log(
    `${c.id}: ${c.status}; ${items.filter((i) => i.decision?.outcome === 'revoke').length} revoked, ${items.filter((i) => !i.decision).length} not reviewed`,
  );
});
serverOptions(
  review.command('report').argument('<campaign>', 'campaign id').option('--format <format>', 'csv or json', 'csv').description('every item with its decision'),
).action(async (id: string, opts: { format: string; url: string; token?: string }) => {
  const report = await callGrantline<{ campaign: Campaign; items: CampaignItem[] }>(opts, `/campaigns/${encodeURIComponent(id)}`);
  if (opts.format === 'json') {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  process.stdout.write(campaignCsv(report.items));
});

program
  .command('revoke')
  .argument('<grant>', 'grant id')
  .option('--by <email>', 'whom you act for, recorded as "on behalf of" (the actor recorded is you: your IAM identity in AWS, the audit token locally)')
  .option('--reason <reason>', 'access_review, early_release or offboarding', 'access_review')
  .option('--url <url>', 'Grantline base URL', process.env.GRANTLINE_URL ?? 'http://127.0.0.1:3000')
  .option('--token <token>', 'audit bearer token (local runtime)', process.env.GRANTLINE_AUDIT_TOKEN)
  .option('--aws [region]', AWS_HELP)
  .description('revoke a grant now, through the same path as expiry')
  .action(async (grant: string, opts: { by?: string; reason: string; url: string; token?: string }) => {
    const result = await callGrantline<{ outcome: string }>(opts, `/grants/${encodeURIComponent(grant)}/revoke`, {
      reason: opts.reason,
      ...(opts.by ? { by: opts.by } : {}),
    });
    console.log(`${grant}: ${result.outcome}`);
  });

program
  .command('extend')
  .argument('<grant>', 'grant id')
  .requiredOption('--by <duration>', 'how much longer, ISO-8601 (e.g. PT6H)')
  .requiredOption('--as <email>', 'who asks: the person the access is for, or who asked for it')
  .option('--reason <text>', 'why, shown to the approvers')
  .option('--url <url>', 'Grantline base URL', process.env.GRANTLINE_URL ?? 'http://127.0.0.1:3000')
  .option('--token <token>', 'audit bearer token (local runtime)', process.env.GRANTLINE_AUDIT_TOKEN)
  .option('--aws [region]', AWS_HELP)
  .description("ask to extend an active time-bound grant: it goes through the role's approval again; approved, its one schedule moves")
  .action(async (grant: string, opts: { by: string; as: string; reason?: string; url: string; token?: string }) => {
    const result = await callGrantline<{ outcome: string; extensionId?: string; until?: string }>(opts, `/grants/${encodeURIComponent(grant)}/extend`, {
      by: opts.by,
      requester: opts.as,
      ...(opts.reason ? { reason: opts.reason } : {}),
    });
    console.log(`${grant}: extension ${result.extensionId} asked, until ${result.until}; waiting for approval`);
  });

serverOptions(program.command('offboard'))
  .argument('<email>', 'the person leaving')
  .option('--issue <key>', 'the offboarding Jira issue: the summary is posted there')
  .option('--by <email>', 'who asks (recorded beside the caller)')
  .description(
    'end every active grant of a person (through the same path as expiry) and their sessions at each identity provider; running it again changes nothing',
  )
  .action(async (email: string, opts: { issue?: string; by?: string; url: string; token?: string }) => {
    const result = await callGrantline<OffboardResult>(opts, '/offboard', {
      email,
      ...(opts.issue ? { issueKey: opts.issue } : {}),
      ...(opts.by ? { by: opts.by } : {}),
    });
    for (const g of result.grants) console.log(`${g.grantId}  ${g.issueKey}  ${g.what}: ${g.outcome}`);
    if (result.grants.length === 0) console.log(`${result.email} has no active grant`);
    for (const s of result.sessions) console.log(`sessions at ${s.provider}: ${s.outcome}${s.error ? ` (${s.error})` : ''}`);
  });

serverOptions(program.command('drift'))
  .option('--app <key>', 'one app (default: every app)')
  .option('--no-fix', 'report only, even for apps with driftFix: true')
  .description(
    "the drift report now (it also runs daily): group members outside Grantline and grants whose membership vanished, filed on the app's Jira issue of the day",
  )
  .action(async (opts: { app?: string; fix: boolean; url: string; token?: string }) => {
    const { reports } = await callGrantline<{ reports: DriftReport[] }>(opts, '/drift', {
      ...(opts.app ? { app: opts.app } : {}),
      ...(opts.fix ? {} : { fix: false }),
    });
    for (const report of reports) {
      console.log(
        `${report.app}: ${report.findings.length} finding(s)${report.issueKey ? ` on ${report.issueKey}` : ''}${report.issueSkipped ? ` (issue not updated: ${report.issueSkipped})` : ''}`,
      );
      for (const f of report.findings) {
        const what = f.kind === 'outside' ? 'in the group with no active grant' : `grant ${f.grantId} active but not in the group`;
        console.log(`  ${f.new ? 'NEW ' : '    '}${f.role}  ${f.email}  ${what}${f.fixed ? `  [${f.fixed}]` : ''}`);
      }
    }
  });

const evidence = program.command('evidence').description("the evidence trail's delivery to Jira");
evidence
  .command('pending')
  .description('evidence Jira has not taken yet (waiting for Jira) and evidence it refused for good (in the ledger only), from a running Grantline')
  .option('--format <format>', 'text or json', 'text')
  .option('--url <url>', 'Grantline base URL', process.env.GRANTLINE_URL ?? 'http://127.0.0.1:3000')
  .option('--token <token>', 'audit bearer token (local runtime; in AWS give --aws instead)', process.env.GRANTLINE_AUDIT_TOKEN)
  .option('--aws [region]', AWS_HELP)
  .action(async (opts: { format: string; url: string; token?: string }) => {
    type Body = Record<'pending' | 'undeliverable', PendingEvidence[]>;
    const body: Body = { pending: [], undeliverable: [] };
    const line = (e: PendingEvidence) => `${e.issueKey ?? '?'}  ${e.grantId}  ${e.key}  ${e.at}  ${e.summary ?? ''}`;
    // Follows nextCursor while the route gives one; text lines are written page by page.
    await eachPage<Body>(
      opts,
      '/evidence/pending?limit=500',
      'events',
      (p) => p.pending.length + p.undeliverable.length,
      (page) => {
        body.pending.push(...page.pending);
        body.undeliverable.push(...page.undeliverable);
        if (opts.format === 'json') return;
        for (const e of page.pending) console.log(`WAITING        ${line(e)}${e.attempts > 0 ? ` (${e.attempts} attempt(s), ${e.status})` : ''}`);
        for (const e of page.undeliverable) console.log(`UNDELIVERABLE  ${line(e)}`);
      },
    );
    if (opts.format === 'json') return console.log(JSON.stringify(body, null, 2));
    console.log(`${body.pending.length} waiting for Jira, ${body.undeliverable.length} refused by Jira (kept in the ledger)`);
  });

// ---------------------------------------------------------------- grantline audit: verify, user, export

const audit = program
  .command('audit')
  .description("an auditor's tools: verify the evidence chains, a person's grants with the five answers, a period's audit pack");

/** A subcommand of `grantline audit`: --url and --token; exit code 2 for a usage error (commander's own included) or a failed call. */
function auditCommand(name: string): Command {
  return serverOptions(audit.command(name)).exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
}

/** Runs an audit action: an error (a bad option, a refused or failed call) is reported with exit code 2, apart from the findings' 1. */
function auditAction<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await action(...args);
    } catch (err) {
      console.error(`grantline: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 2;
    }
  };
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** Chains read at once (one GET /audit/chains?grant= each). */
const CHAIN_READS_AT_ONCE = 8;

function day(value: string | undefined, name: string): string | undefined {
  if (value !== undefined && !DAY.test(value)) throw new Error(`${name} must be a day, YYYY-MM-DD`);
  return value;
}

/** One grant's chain as stored: its events with their links, and its head. */
async function chainOf(opts: { url: string; token?: string }, grantId: string): Promise<StoredChain> {
  const { chains } = await callGrantline<{ chains: StoredChain[] }>(opts, `/audit/chains?grant=${encodeURIComponent(grantId)}`);
  return chains[0] ?? { grantId, events: [] };
}

/** `fn` over the items, `size` at a time, in order; a progress line on stderr every so often. */
async function mapAtOnce<T, R>(items: readonly T[], size: number, fn: (item: T) => Promise<R>, progress?: string): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let done = 0;
  const tty = process.stderr.isTTY;
  await Promise.all(
    Array.from({ length: Math.min(size, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
        done += 1;
        if (progress && (done === items.length || (tty && done % 50 === 0))) {
          process.stderr.write(`${tty ? '\r' : ''}grantline: ${progress} ${done} of ${items.length}${tty && done < items.length ? '' : '\n'}`);
        }
      }
    }),
  );
  return out;
}

auditCommand('verify')
  .description(
    'recompute every evidence chain and check the anchors: one line per break, then a summary. Exit code 0 intact, 1 broken, 2 a usage or connection error',
  )
  .option('--since <day>', 'the chains that moved and the anchors written from this day (YYYY-MM-DD); default: all')
  .option('--grant <id>', 'one grant (and the anchors that name it)')
  .action(
    auditAction(async (opts: { since?: string; grant?: string; url: string; token?: string }) => {
      const { verifyAnchors, verifyChain } = await import('../shared/chain.js');
      const { breakLine } = await import('../shared/audit-report.js');
      const since = day(opts.since, '--since');
      const now = new Date();
      const chains = new Map<string, StoredChain>();
      if (opts.grant) chains.set(opts.grant, await chainOf(opts, opts.grant));
      else {
        // A grant comes once per day it moved: the last answer for it is kept (each is the chain as it stands now).
        await eachPage<{ chains: StoredChain[] }>(
          opts,
          `/audit/chains${since ? `?since=${since}` : ''}`,
          'chain entries (a grant once per day it moved)',
          (p) => p.chains.length,
          (page) => {
            for (const c of page.chains) chains.set(c.grantId, c);
          },
        );
      }
      const { anchors } = await callGrantline<{ anchors: Array<{ anchor: Anchor; copy?: Anchor }> }>(opts, `/audit/anchors${since ? `?since=${since}` : ''}`);
      if (!opts.grant) {
        // A grant an anchor names whose listing by day is gone (deleted) is read by its id: its chain is still checked.
        const unread = [...new Set(anchors.flatMap(({ anchor, copy }) => (copy ?? anchor).heads.map((h) => h.grantId)))].filter((g) => !chains.has(g));
        for (const c of await mapAtOnce(unread, CHAIN_READS_AT_ONCE, (g) => chainOf(opts, g), 'anchored chains not listed by day:')) chains.set(c.grantId, c);
      }
      const breaks: ChainBreak[] = [];
      let events = 0;
      for (const c of chains.values()) {
        events += c.events.length;
        breaks.push(...verifyChain(c.grantId, c.events, c.head, now));
      }
      breaks.push(...verifyAnchors(anchors, new Map([...chains.values()].map((c) => [c.grantId, c.events]))));
      for (const b of breaks) console.log(breakLine(b));
      console.log(
        `verified ${chains.size} chains (${events} events), ${anchors.length} anchors: ${breaks.length === 0 ? 'intact' : `${breaks.length} break${breaks.length === 1 ? '' : 's'}`}`,
      );
      process.exitCode = breaks.length === 0 ? 0 : 1;
    }),
  );

auditCommand('user')
  .argument('<email>', 'whose access')
  .description(
    "every grant of a person with the five answers (what was requested, who approved each step, which group, when it started, when it ended and why), each grant's chain checked, and the flags of an incomplete story. Exit code 1 when a chain is broken or a story flagged",
  )
  .option('--since <day>', 'grants requested from this day (YYYY-MM-DD)')
  .option('--format <format>', 'text, json, csv or md', 'text')
  .option('--page-size <n>', 'grants per request (1-500)', '500')
  .action(
    auditAction(async (email: string, opts: { since?: string; format: string; pageSize: string; url: string; token?: string }) => {
      const { verifyChain } = await import('../shared/chain.js');
      const report = await import('../shared/audit-report.js');
      const since = day(opts.since, '--since');
      if (!['text', 'json', 'csv', 'md'].includes(opts.format)) throw new Error('--format is text, json, csv or md');
      const user = email.trim().toLowerCase();
      const records: GrantRecord[] = [];
      await eachPage<{ grants: GrantRecord[] }>(
        opts,
        `/grants?user=${encodeURIComponent(user)}&limit=${encodeURIComponent(opts.pageSize)}${since ? `&from=${since}` : ''}`,
        'grants',
        (p) => p.grants.length,
        (page) => {
          records.push(...page.grants.filter((r) => !since || r.grant.requestedAt >= since));
        },
      );
      const now = new Date();
      const chains = await mapAtOnce(records, CHAIN_READS_AT_ONCE, (r) => chainOf(opts, r.grant.id), 'chains checked:');
      const grants = records.map((r, i) => report.storyOf(r, now, verifyChain(r.grant.id, chains[i]!.events, chains[i]!.head, now)));
      const body = { user, ...(since ? { since } : {}), generatedAt: now.toISOString(), grants };
      const render = { text: report.userReportText, json: report.userReportJson, csv: report.userReportCsv, md: report.userReportMarkdown }[
        opts.format as 'text' | 'json' | 'csv' | 'md'
      ];
      await write(render(body));
      const counts = report.reportCounts(grants);
      process.exitCode = counts.broken > 0 || counts.flagged > 0 ? 1 : 0;
    }),
  );

/** The pack's files, in the order they are written and attached. */
const PACK_FILES = ['grants.csv', 'decisions.csv', 'revocations.csv', 'reviews.csv', 'exceptions.csv', 'summary.md'] as const;

auditCommand('export')
  .description(
    'an audit pack of a period: grants.csv (every grant requested in it, with the five answers), decisions.csv, revocations.csv, reviews.csv, exceptions.csv and summary.md (counts, timing, the chain check, the anchors). Exit code 1 when a chain of the pack is broken',
  )
  .requiredOption('--from <day>', 'first day of the period (YYYY-MM-DD, UTC)')
  .requiredOption('--to <day>', 'last day of the period (YYYY-MM-DD, UTC), inclusive')
  .requiredOption('--out <dir>', 'folder to write the pack into (made if missing)')
  .option('--attach-to <issue>', 'also attach each file to this Jira issue (e.g. the audit request ACC-123)')
  .option('--page-size <n>', 'grants per request (1-500)', '200')
  .action(
    auditAction(async (opts: { from: string; to: string; out: string; attachTo?: string; pageSize: string; url: string; token?: string }) => {
      const { verifyAnchors, verifyChain } = await import('../shared/chain.js');
      const report = await import('../shared/audit-report.js');
      const { MAX_ATTACHMENT_CHARS } = await import('../shared/audit-attachments.js');
      const from = day(opts.from, '--from')!;
      const to = day(opts.to, '--to')!;
      if (from > to) throw new Error('--from must not be after --to');
      if (opts.attachTo !== undefined && !/^[A-Z][A-Z0-9_]{0,19}-\d{1,10}$/.test(opts.attachTo))
        throw new Error('--attach-to takes a Jira issue key, e.g. ACC-123');
      await mkdir(opts.out, { recursive: true });
      const now = new Date();
      const inPeriod = (at: string | undefined) => at !== undefined && at.slice(0, 10) >= from && at.slice(0, 10) <= to;

      // The anchors written for the period's days: the grants they name keep their events for the anchor check.
      const anchors = (await callGrantline<{ anchors: Array<{ anchor: Anchor; copy?: Anchor }> }>(opts, `/audit/anchors?since=${from}`)).anchors.filter(
        (a) => a.anchor.day <= to,
      );
      const anchored = new Set(anchors.flatMap(({ anchor, copy }) => (copy ?? anchor).heads.map((h) => h.grantId)));

      const files = Object.fromEntries(await Promise.all(PACK_FILES.map(async (f) => [f, await open(join(opts.out, f), 'w')] as const))) as Record<
        (typeof PACK_FILES)[number],
        FileHandle
      >;
      const rows: Record<string, number> = Object.fromEntries(PACK_FILES.filter((f) => f.endsWith('.csv')).map((f) => [f, 0]));
      const put = async (file: (typeof PACK_FILES)[number], lines: string[]) => {
        if (lines.length === 0) return;
        await files[file].write(lines.join(''));
        rows[file] = (rows[file] ?? 0) + lines.length;
      };
      const summary: PackSummary = {
        from,
        to,
        generatedAt: now.toISOString(),
        files: {},
        approvalSeconds: [],
        personApprovalSeconds: [],
        lateness: [],
        verify: { chains: 0, events: 0, breaks: [] },
        anchors,
        notes: [],
      };
      try {
        await files['grants.csv'].write(report.csvLine(report.GRANT_COLUMNS));
        await files['decisions.csv'].write(report.csvLine(report.DECISION_COLUMNS));
        await files['revocations.csv'].write(report.csvLine(report.REVOCATION_COLUMNS));
        await files['reviews.csv'].write(report.csvLine(report.REVIEW_COLUMNS));
        await files['exceptions.csv'].write(report.csvLine(report.EXCEPTION_COLUMNS));

        const anchoredEvents = new Map<string, StoredChain['events']>();
        // The population, page by page: each page's rows are written before the next is read.
        await eachPage<{ grants: GrantRecord[] }>(
          opts,
          `/grants?from=${from}&to=${to}&limit=${encodeURIComponent(opts.pageSize)}`,
          'grants requested in the period',
          (p) => p.grants.length,
          async (page) => {
            const chains = await mapAtOnce(page.grants, CHAIN_READS_AT_ONCE, (r) => chainOf(opts, r.grant.id));
            const lines = { grants: [] as string[], decisions: [] as string[], revocations: [] as string[], exceptions: [] as string[] };
            for (const [i, record] of page.grants.entries()) {
              const chain = chains[i]!;
              const breaks = verifyChain(chain.grantId, chain.events, chain.head, now);
              summary.verify.chains += 1;
              summary.verify.events += chain.events.length;
              summary.verify.breaks.push(...breaks);
              if (anchored.has(chain.grantId)) anchoredEvents.set(chain.grantId, chain.events);
              const story = report.storyOf(record, now, breaks);
              const end = report.revocationOf(record, now);
              lines.grants.push(report.grantRow(story));
              lines.decisions.push(...story.decisions.map(report.decisionRow));
              if (end) lines.revocations.push(report.revocationRow(end));
              lines.exceptions.push(...report.exceptionsOf(record, story, end).map(report.exceptionRow));
              const approval = report.approvalSeconds(record);
              if (approval) {
                summary.approvalSeconds.push(approval.seconds);
                if (approval.byPerson) summary.personApprovalSeconds.push(approval.seconds);
              }
              if (end?.revokedAt && end.lateSeconds !== undefined && end.reason === 'expired') summary.lateness.push(end.lateSeconds);
            }
            await put('grants.csv', lines.grants);
            await put('decisions.csv', lines.decisions);
            await put('revocations.csv', lines.revocations);
            await put('exceptions.csv', lines.exceptions);
          },
        );
        const anchorBreaks = verifyAnchors(anchors, anchoredEvents);
        summary.verify.breaks.push(...anchorBreaks);
        await put(
          'exceptions.csv',
          anchorBreaks.map((b) => report.exceptionRow({ kind: 'chain_break', grantId: b.grantId, detail: report.breakLine(b) })),
        );

        // Access reviews: the items of each campaign decided in the period (a campaign started before it may be decided in it).
        await eachPage<{ campaigns: Campaign[] }>(
          opts,
          `/campaigns?until=${to}&limit=100`,
          'campaigns started by the end of the period',
          (p) => p.campaigns.length,
          async (page) => {
            for (const c of page.campaigns.filter((x) => !x.closedAt || x.closedAt.slice(0, 10) >= from)) {
              const { items } = await callGrantline<{ campaign: Campaign; items: CampaignItem[] }>(opts, `/campaigns/${encodeURIComponent(c.id)}`);
              await put(
                'reviews.csv',
                items
                  .filter((i) => i.decision && inPeriod(i.decision.at))
                  .map((i) =>
                    report.reviewRow({
                      campaign: c.id,
                      ...(c.issueKey ? { campaignIssue: c.issueKey } : {}),
                      item: i.itemId,
                      app: i.app,
                      role: i.role,
                      group: i.group,
                      email: i.email,
                      ...(i.grant ? { grant: i.grant.grantId } : {}),
                      recommendation: i.recommendation,
                      reviewer: i.reviewer,
                      decision: i.decision!.outcome,
                      decidedBy: i.decision!.by,
                      decidedAt: i.decision!.at,
                      ...(i.decision!.reason ? { reason: i.decision!.reason } : {}),
                      ...(i.result ? { result: i.result } : {}),
                    }),
                  ),
              );
            }
          },
        );

        summary.files = rows;
        summary.notes.push(
          'decisions.csv, revocations.csv and exceptions.csv cover the grants of the population, with their decisions and their end whenever these happened; a grant requested before the period and revoked in it is in the pack of its own period.',
          'The population is read app by app from the catalog Grantline runs with; the grants of an app removed from it are not in this pack (`grantline grants --app <key>` lists them).',
          'reviews.csv lists the campaigns Grantline has listed by start (campaigns started before that listing existed are not in it: `grantline review report <campaign>` reports one).',
          'Drift findings are not in this pack: they are filed daily on each app’s Jira issue of the day (`grantline drift` runs a new report, which files them and may fix).',
        );
        await files['summary.md'].write(report.packSummaryMarkdown(summary));
      } finally {
        await Promise.all(Object.values(files).map((f) => f.close()));
      }
      console.log(`wrote ${PACK_FILES.map((f) => (f in rows ? `${f} (${rows[f]} rows)` : f)).join(', ')} to ${opts.out}`);
      console.log(
        `verified ${summary.verify.chains} chains of the pack (${summary.verify.events} events), ${anchors.length} anchors: ${summary.verify.breaks.length === 0 ? 'intact' : `${summary.verify.breaks.length} breaks`}`,
      );
      process.exitCode = summary.verify.breaks.length === 0 ? 0 : 1;
      if (opts.attachTo) await attachPack(opts, opts.attachTo, from, to, MAX_ATTACHMENT_CHARS);
    }),
  );

/** Each file of a written pack attached to a Jira issue (POST /audit/attachments), named with the period so packs of other periods stay apart. */
async function attachPack(opts: { out: string; url: string; token?: string }, issueKey: string, from: string, to: string, maxChars: number): Promise<void> {
  for (const file of PACK_FILES) {
    const content = await readFile(join(opts.out, file), 'utf8');
    const filename = `audit-${from}_${to}-${file}`;
    if (content.length > maxChars) {
      console.error(`grantline: ${file} is ${content.length} characters, more than the ${maxChars} the route takes: attach it to ${issueKey} by hand`);
      process.exitCode = 2;
      continue;
    }
    const { outcome } = await callGrantline<{ outcome: 'attached' | 'exists' }>(opts, '/audit/attachments', { issueKey, filename, content });
    console.log(outcome === 'attached' ? `attached ${filename} to ${issueKey}` : `${issueKey} already has ${filename}: kept the one there`);
  }
}

/**
 * A call to a running Grantline's audit/review API: the bearer token locally; with --aws (or
 * GRANTLINE_AWS_REGION) signed with SigV4 for API Gateway, and no token sent. A non-2xx answer is an error.
 */
async function callGrantline<T>(
  opts: { url: string; token?: string; aws?: AwsOption },
  path: string,
  postBody?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const url = `${opts.url}${path}`;
  const signed = awsSigning(opts.aws);
  const request = {
    method: postBody === undefined ? 'GET' : 'POST',
    headers: {
      ...(postBody === undefined ? {} : { 'content-type': 'application/json' }),
      ...(opts.token && !signed ? { authorization: `Bearer ${opts.token}` } : {}),
      ...headers,
    },
    ...(postBody === undefined ? {} : { body: JSON.stringify(postBody) }),
  };
  const res = signed ? await fetchSigned(url, request, signingRegion(opts.aws, url)) : await fetch(url, request);
  if (!res.ok) {
    const hint =
      signed && res.status === 403 ? " (signed with SigV4: your identity needs execute-api:Invoke on this route, and the region must be the API's)" : '';
    throw new Error(`Grantline answered ${res.status}: ${await res.text()}${hint}`);
  }
  return (await res.json()) as T;
}

/**
 * Each page of a paged list route (`nextCursor` in the answer), fetched and handed on in turn, with a
 * progress line on stderr (rewritten in place on a terminal) so stdout stays the data.
 */
async function eachPage<T>(
  opts: { url: string; token?: string; aws?: AwsOption },
  path: string,
  noun: string,
  countOf: (page: T) => number,
  onPage: (page: T) => Promise<void> | void,
): Promise<void> {
  let cursor: string | undefined;
  let total = 0;
  let n = 0;
  const tty = process.stderr.isTTY;
  do {
    const page = await callGrantline<T & { nextCursor?: string }>(
      opts,
      cursor ? `${path}${path.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}` : path,
    );
    total += countOf(page);
    n += 1;
    cursor = page.nextCursor;
    process.stderr.write(`${tty ? '\r' : ''}grantline: page ${n}, ${total} ${noun}${cursor ? ', more to come' : ', done'}${tty && cursor ? '' : '\n'}`);
    await onPage(page);
  } while (cursor);
}

/** Writes to stdout, waiting when the pipe is full (a large export into a slow consumer). */
function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (process.stdout.write(text, (err) => (err ? reject(err) : undefined))) resolve();
    else process.stdout.once('drain', resolve);
  });
}

const CSV_HEADER = [
  'grant',
  'jira',
  'subject',
  'requester',
  'app_role',
  'status',
  'approved_by',
  'group',
  'requested_at',
  'started_at',
  'expires_at',
  'revoked_at',
  'revoke_reason',
  'break_glass',
];

/** A break-glass grant: "INC-42; reviewed by sam@x at …", "INC-42; FLAGGED: not reviewed by …" or "INC-42; review open until …". */
function breakGlassCell({ breakGlass: bg }: GrantRecord['answers']): string | undefined {
  if (!bg) return undefined;
  const review =
    bg.review === 'confirmed'
      ? `reviewed by ${bg.reviewedBy} at ${bg.reviewedAt}`
      : bg.review === 'not reviewed'
        ? `FLAGGED: not reviewed by ${bg.reviewDue}`
        : `review open until ${bg.reviewDue ?? 'approval'}`;
  return `${bg.incident}; ${review}`;
}

/** One row per grant: the auditor's questions as columns. */
function csvRow({ grant, answers }: GrantRecord): string {
  const cell = (v: string | undefined) => `"${(v ?? '').replace(/"/g, '""')}"`;
  return [
    grant.id,
    grant.issueKey,
    grant.subject,
    grant.requester,
    answers.requested.what,
    grant.status,
    answers.approvedBy.map((a) => `${a.by} (${a.via})`).join('; '),
    answers.group,
    grant.requestedAt,
    grant.grantedAt,
    grant.expiresAt,
    grant.revokedAt,
    grant.revokeReason,
    breakGlassCell(answers),
  ]
    .map(cell)
    .join(',');
}

program.parseAsync().catch((err: unknown) => {
  console.error(`grantline: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
