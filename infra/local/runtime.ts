/**
 * The single-process local runtime behind `npm start` and the end-to-end tests: dynalite for
 * DynamoDB, the real ASL file run by aws-local-stepfunctions, the local scheduler, and the same
 * routes and task functions the Lambdas run. Connectors are the real SDK adapters, pointed at
 * whatever base URLs the configuration gives (the sandbox's simulated services, or the real ones).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { loadCatalog } from '../../shared/catalog/load.js';
import type { Catalog } from '../../shared/catalog/schema.js';
import { realSleep, systemClock, type Clock, type Sleep } from '../../shared/clock.js';
import { parseConfig, required, type Config } from '../../shared/config.js';
import { JiraTicketing } from '../../shared/connectors/jira.js';
import { identityProviders } from '../../shared/connectors/identity.js';
import { SlackChat } from '../../shared/connectors/slack.js';
import { reviewOpen } from '../../shared/break-glass.js';
import { finishItemRevoke, sweepCampaigns } from '../../shared/campaigns.js';
import { reportDriftForAll } from '../../shared/drift.js';
import { flushEvidence } from '../../shared/evidence.js';
import { fileRequest } from '../../shared/filing.js';
import { anchorYesterday } from '../../shared/ledger-audit.js';
import type { Grant } from '../../shared/grants/model.js';
import type { LifecycleDeps } from '../../shared/services.js';
import type { Logger } from '../../shared/logger.js';
import type { IdentityProvider, ProviderName } from '../../shared/ports.js';
import { providerRegistry } from '../../shared/providers.js';
import { RateLimits } from '../../shared/rate-limit.js';
import { Store } from '../../shared/store/store.js';
import { ensureTable } from '../../shared/store/table.js';
import { sweepExpiries } from '../../shared/sweep.js';
import { tasks } from '../../shared/tasks.js';
import { DirectoryAnchorCopies } from './anchors.js';
import { LocalJobs } from './jobs.js';
import { isFilingJob, isOffboardJob } from '../../shared/store/idempotency.js';
import { offboardReceiptKey, runOffboardJob } from '../../shared/offboarding.js';
import { releaseReceiptKey } from '../../shared/release.js';
import { LocalScheduler } from './scheduler.js';
import { startServer } from './server.js';
import { LocalWorkflow } from './workflow.js';

/** How often the local runtime sweeps campaigns (clock time; AWS: every 15 minutes). */
const CAMPAIGN_SWEEP_MS = 60_000;

export interface LocalRuntimeOptions {
  env: Record<string, string | undefined>;
  logger: Logger;
  clock?: Clock;
  catalog?: Catalog;
  /** Keep the DynamoDB data in this folder (survives restarts); in memory when absent. */
  dataDir?: string;
  /** Replace a provider's adapter (tests of a provider not configured by env). */
  providers?: Partial<Record<ProviderName, IdentityProvider>>;
  retryIntervalMs?: number;
  /** How often the scheduler looks for due revocations and the outbox is flushed; false: only on demand (tests). */
  tickMs?: number | false;
}

export interface LocalRuntime {
  url: string;
  config: Config;
  deps: LifecycleDeps;
  workflow: LocalWorkflow;
  scheduler: LocalScheduler;
  jobs: LocalJobs;
  /** Re-starts the workflow of every grant still in progress (after a restart). */
  redrive(): Promise<string[]>;
  /** Hands over again every job (a filing, an early release) a stopped process had not finished (after a restart); their receipt keys. */
  resumeJobs(): Promise<string[]>;
  close(): Promise<void>;
}

export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const config = parseConfig(options.env);
  const clock = options.clock ?? systemClock;
  const logger = options.logger;
  const catalog = options.catalog ?? (await loadCatalog(config.GRANTLINE_CATALOG));

  let dynamo: { close(cb?: () => void): void } | undefined;
  let endpoint = config.DYNAMODB_ENDPOINT;
  if (!endpoint) {
    if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
    const server = dynalite({ ...(options.dataDir ? { path: options.dataDir } : {}), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dynamo = server;
  }
  const client = new DynamoDBClient({ endpoint, region: config.AWS_REGION, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await ensureTable(client, config.GRANTLINE_TABLE);
  const store = new Store(client, config.GRANTLINE_TABLE);

  const ticketing = new JiraTicketing({
    baseUrl: required(config, 'JIRA_BASE_URL'),
    email: required(config, 'JIRA_EMAIL'),
    apiToken: required(config, 'JIRA_API_TOKEN'),
    projectKey: config.JIRA_PROJECT_KEY,
    issueTypeName: config.JIRA_ISSUE_TYPE,
  });
  const chat = new SlackChat({ token: required(config, 'SLACK_BOT_TOKEN'), ...(config.SLACK_API_URL ? { apiUrl: config.SLACK_API_URL } : {}) });
  // The rate limits live in the table, as in AWS: one mechanism, whatever the number of processes.
  const limits = RateLimits.fromEnv(config.GRANTLINE_RATE_LIMITS, { states: store.rateBuckets });
  const providers = { ...identityProviders(config, limits, catalog.endDates), ...options.providers };

  const workflow = new LocalWorkflow({ logger, ...(options.retryIntervalMs !== undefined ? { retryIntervalMs: options.retryIntervalMs } : {}) });
  // The scheduler's target is the revoke task, as the EventBridge schedule's target is the revoke Lambda.
  let deps!: LifecycleDeps;
  const scheduler = new LocalScheduler(
    store,
    clock,
    logger,
    (input) => tasks.Revoke(deps, input),
    () => sweepExpiries(deps, { overdueAfterMs: 0 }),
  );
  // Filing a request submitted in Slack runs after Slack was answered, as the file-request Lambda does.
  // Tests shorten its waits as they do the workflow's retries.
  const short = options.retryIntervalMs;
  const sleep: Sleep = short === undefined ? realSleep : (ms) => realSleep(Math.min(ms, short));
  // An early release ("I'm done" in Slack) runs the revoke task, as the revoke Lambda does when invoked for it.
  const jobs = new LocalJobs(
    {
      file: (job) => fileRequest(deps, job, sleep),
      release: async (job) => {
        await tasks.Revoke(deps, { grantId: job.grantId, reason: 'early_release', actor: job.actor });
        await store.commands.finish(releaseReceiptKey(job.grantId));
      },
      offboard: (job) => runOffboardJob(deps, job),
      campaignRevoke: (job) => finishItemRevoke(deps, job.campaignRevoke.campaignId, job.campaignRevoke.itemId),
    },
    logger,
    sleep,
  );
  // The anchors' write-once copies (S3 Object Lock in AWS) go beside the data they anchor: in the data folder when it
  // is kept on disk; with an in-memory table, in a temporary folder that goes when the runtime closes, as the table does.
  const anchorsDir = options.dataDir ? join(options.dataDir, 'anchors') : join(tmpdir(), `grantline-anchors-${randomUUID()}`);
  const anchorCopies = new DirectoryAnchorCopies(anchorsDir);
  deps = { config, clock, logger, store, catalog, ticketing, chat, idp: providerRegistry(providers), scheduler, workflow, jobs, anchorCopies };
  workflow.bind(deps);

  const { server, url } = await startServer(deps, config.PORT);
  let ticker: NodeJS.Timeout | undefined;
  let flushing: Promise<unknown> | undefined;
  let drifting: Promise<unknown> | undefined;
  let driftReportedOn: string | undefined;
  let anchoring: Promise<unknown> | undefined;
  let anchoredOn: string | undefined;
  let sweepingCampaigns: Promise<unknown> | undefined;
  let campaignsSweptAt = -Infinity;
  if (options.tickMs !== false) {
    ticker = setInterval(() => {
      void scheduler.tick();
      // A flush slower than the interval (Jira slow) is not overlapped: this tick is skipped.
      flushing ??= flushEvidence(deps)
        .catch((err: unknown) => logger.warn('evidence flush failed', { error: String(err) }))
        .finally(() => (flushing = undefined));
      // The daily drift report (EventBridge's daily rule in AWS): at start, then on each new UTC day.
      const today = clock.now().toISOString().slice(0, 10);
      if (!drifting && driftReportedOn !== today) {
        driftReportedOn = today;
        drifting = reportDriftForAll(deps)
          .catch((err: unknown) => logger.warn('drift report failed', { error: String(err) }))
          .finally(() => (drifting = undefined));
      }
      // The daily anchor of the ledger's chains (EventBridge's daily rule in AWS): the day before, at start, then on each new UTC day.
      if (!anchoring && anchoredOn !== today) {
        anchoredOn = today;
        anchoring = anchorYesterday(deps)
          .catch((err: unknown) => logger.warn('daily anchor failed', { error: String(err) }))
          .finally(() => (anchoring = undefined));
      }
      // The campaign sweep (an EventBridge rule every 15 minutes in AWS): reminders, due dates, anything cut short.
      if (!sweepingCampaigns && clock.now().getTime() - campaignsSweptAt >= CAMPAIGN_SWEEP_MS) {
        campaignsSweptAt = clock.now().getTime();
        sweepingCampaigns = sweepCampaigns(deps)
          .catch((err: unknown) => logger.warn('campaign sweep failed', { error: String(err) }))
          .finally(() => (sweepingCampaigns = undefined));
      }
    }, options.tickMs ?? 1000);
    ticker.unref();
  }

  const runtime: LocalRuntime = {
    url,
    config,
    deps,
    workflow,
    scheduler,
    jobs,
    async resumeJobs() {
      const unfinished = await store.commands.unfinished();
      for (const job of unfinished) await (isFilingJob(job) ? jobs.fileRequest(job) : isOffboardJob(job) ? jobs.offboard(job) : jobs.release(job));
      return unfinished.map((job) =>
        isFilingJob(job)
          ? job.receiptKey
          : isOffboardJob(job)
            ? offboardReceiptKey(job.offboard.issueKey ?? job.offboard.email)
            : releaseReceiptKey(job.grantId),
      );
    },
    async redrive() {
      const inProgress = await grantsInProgress(store);
      for (const grant of inProgress) await workflow.start(grant.id);
      return inProgress.map((g) => g.id);
    },
    async close() {
      if (ticker) clearInterval(ticker);
      await flushing;
      await drifting;
      await anchoring;
      await sweepingCampaigns;
      await jobs.idle();
      await workflow.stop();
      await scheduler.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      client.destroy();
      if (dynamo) await new Promise<void>((resolve) => dynamo!.close(() => resolve()));
      if (dynamo && !options.dataDir) await rm(anchorsDir, { recursive: true, force: true });
    },
  };
  return runtime;
}

/**
 * Grants whose workflow had not finished: local executions live in memory, so a restart re-drives
 * them. Among them, a break-glass grant whose review after the fact is still open (its access
 * active or already ended): its execution waits for the review to fall due.
 */
async function grantsInProgress(store: Store): Promise<Grant[]> {
  const grants = await store.grantsWithStatus(['requested', 'pending_approval', 'approved', 'active', 'revoked']);
  return grants.filter((g) => g.status === 'requested' || g.status === 'pending_approval' || g.status === 'approved' || reviewOpen(g));
}
