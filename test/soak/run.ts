/**
 * One soak run: the sandbox in this process (so its state outlives the runtime), the Grantline
 * runtime as a child process in connected mode on a temporary data directory, a seeded plan of
 * request scenarios driven with bounded concurrency while faults, outages and SIGKILL restarts
 * happen, then a wait until the work settles and the invariant checks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCatalog } from '../../shared/catalog/load.js';
import { servedFaults } from '../../infra/local/sandbox/faults.js';
import { SandboxClient, startSandbox, type Sandbox } from '../../infra/local/sandbox/index.js';
import { faultsServed, startBackgroundFaults, startOutage } from './fault-plan.js';
import { Grantline, IN_PROGRESS, SlackInbox, sleep, type SoakRecord } from './grantline.js';
import { NOTICE_TYPES } from '../../shared/notices.js';
import { checkChain, checkInvariants, isCommentFor, isNoticeFor, type Violation } from './invariants.js';
import { Population, seedPreexistingMemberships } from './population.js';
import { Random } from './random.js';
import { RuntimeProcess } from './runtime-process.js';
import { planScenarios, runScenario, type Expectation, type PlannedScenario, type ScenarioContext } from './scenarios.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SOAK_CATALOG = fileURLToPath(new URL('./catalog.yaml', import.meta.url));

export interface SoakOptions {
  requests: number;
  restarts: number;
  seed: number;
  /** Scenarios in flight at once. */
  concurrency?: number;
  /** How long to wait, after the last request, for every grant to settle. */
  settleTimeoutMs?: number;
  log?: (line: string) => void;
  /** Keep the runtime's data directory and log after the run (default true). */
  keepWorkDir?: boolean;
}

export interface SoakResult {
  requests: number;
  faults: number;
  faultsByService: Record<string, Record<string, number>>;
  restarts: number;
  violations: Violation[];
  seconds: number;
  /** The runtime's data and log (runtime.log), kept for a look after the run. */
  workDir: string;
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const rng = new Random(options.seed);
  const catalog = await loadCatalog(SOAK_CATALOG);
  const population = new Population(catalog);
  const sandbox = await startSandbox(catalog);
  const workDir = mkdtempSync(join(tmpdir(), 'grantline-soak-'));
  const runtime = new RuntimeProcess({ root: ROOT, env: runtimeEnv(sandbox, workDir), logFile: join(workDir, 'runtime.log') });
  const problems: Violation[] = [];
  try {
    const preexisting = seedPreexistingMemberships(sandbox, population);
    log(`soak: seed ${options.seed}, ${options.requests} requests, ${options.restarts} restarts; runtime data and log in ${workDir}`);
    await runtime.start();
    const grantline = new Grantline(new SandboxClient(sandbox, runtime.url, sandbox.env), sandbox.env.GRANTLINE_AUDIT_TOKEN!, runtime.url);
    startBackgroundFaults(sandbox, rng.fork(1));
    const disruptions = new Disruptions(runtime, sandbox, rng.fork(2), options, log, (detail) =>
      problems.push({ grantId: '(runtime)', invariant: 'drive', detail }),
    );

    const expectations: Expectation[] = [];
    const context: ScenarioContext = {
      grantline,
      inbox: new SlackInbox(sandbox),
      population,
      expect: (e) => expectations.push(e),
      filed: () => disruptions.requestFiled(),
      problem: (grantId, detail) => problems.push({ grantId, invariant: 'drive', detail }),
    };
    await drive(context, planScenarios(rng.fork(3), options.requests), options.concurrency ?? 20);
    log(`soak: ${disruptions.filed} requests driven in ${seconds(started)} s; waiting for the work to settle`);

    disruptions.restartWhileSettling();
    const grantIds = expectations.map((e) => e.grantId);
    const settleTimeoutMs = options.settleTimeoutMs ?? 240_000;
    let records = await settle(grantline, sandbox, grantIds, settleTimeoutMs, log);
    await disruptions.finished();
    // Once more after a restart while settling: whatever it interrupted settles again before the checks.
    if (disruptions.settlingRestarts > 0) records = await settle(grantline, sandbox, grantIds, settleTimeoutMs, log);
    for (const crash of runtime.crashes) problems.push({ grantId: '(runtime)', invariant: 'drive', detail: crash });
    const violations = [...problems, ...checkInvariants({ records, expectations, sandbox, population, preexisting, now: Date.now() })];
    // Each grant's hash chain, as an auditor's verify would read it.
    for (const grantId of grantIds) violations.push(...checkChain(await grantline.chain(grantId), grantId, Date.now()));
    return {
      requests: disruptions.filed,
      faults: faultsServed(sandbox),
      faultsByService: servedFaults(sandbox),
      restarts: disruptions.restarts,
      violations,
      seconds: seconds(started),
      workDir,
    };
  } finally {
    await runtime.stop();
    await sandbox.close();
    if (options.keepWorkDir === false) rmSync(workDir, { recursive: true, force: true });
  }
}

async function drive(context: ScenarioContext, plan: PlannedScenario[], concurrency: number): Promise<void> {
  await inParallel(plan, concurrency, async (scenario) => {
    await runScenario(context, scenario).catch((err: unknown) => context.problem(`(scenario ${scenario.index})`, `${scenario.kind} stopped: ${String(err)}`));
  });
}

/** The runtime's environment: connected mode against the sandbox, the soak catalog, data on disk. */
function runtimeEnv(sandbox: Sandbox, workDir: string): Record<string, string> {
  const inherited = Object.fromEntries(['PATH', 'HOME', 'TMPDIR'].flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])));
  return {
    ...inherited,
    ...sandbox.env,
    GRANTLINE_CATALOG: SOAK_CATALOG,
    GRANTLINE_DATA_DIR: join(workDir, 'dynamodb'),
    LOG_LEVEL: 'WARN',
  };
}

/**
 * SIGKILL restarts and outages, at request counts the seeded plan picks; with two restarts or
 * more, the last one comes while revocations fall due after the last request.
 */
class Disruptions {
  filed = 0;
  restarts = 0;
  private readonly started = Date.now();
  private readonly restartAt: number[];
  private readonly outageAt: number[];
  readonly settlingRestarts: number;
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  constructor(
    private readonly runtime: RuntimeProcess,
    private readonly sandbox: Sandbox,
    private readonly rng: Random,
    options: SoakOptions,
    private readonly log: (line: string) => void,
    private readonly problem: (detail: string) => void,
  ) {
    this.settlingRestarts = options.restarts >= 2 ? 1 : 0;
    this.restartAt = this.points(options.restarts - this.settlingRestarts, options.requests);
    this.outageAt = this.points(Math.max(1, Math.floor(options.requests / 500)), options.requests);
  }

  requestFiled(): void {
    this.filed += 1;
    if (this.filed % 100 === 0) this.log(`soak: ${this.filed} requests filed (${seconds(this.started)} s)`);
    while (this.outageAt[0] !== undefined && this.outageAt[0] <= this.filed) {
      this.outageAt.shift();
      const outage = startOutage(this.sandbox, this.rng);
      this.log(`soak: ${outage.service} down for ${outage.seconds} s (after request ${this.filed})`);
    }
    while (this.restartAt[0] !== undefined && this.restartAt[0] <= this.filed) {
      this.restartAt.shift();
      this.restart(`after request ${this.filed}`);
    }
  }

  restartWhileSettling(): void {
    for (let i = 0; i < this.settlingRestarts; i++) {
      const delayMs = this.rng.int(2_000, 20_000);
      this.chain = this.chain.then(() => sleep(delayMs));
      this.restart(`${delayMs / 1000} s into settling, while revocations fall due`);
    }
  }

  /** Waits for restarts still under way; throws when the runtime could not be started again. */
  async finished(): Promise<void> {
    await this.chain;
    if (this.failure) throw this.failure;
  }

  private restart(when: string): void {
    const pauseMs = this.rng.int(0, 1500);
    this.chain = this.chain.then(async () => {
      this.log(`soak: SIGKILL the runtime ${when}`);
      await this.runtime.kill();
      await sleep(pauseMs);
      const startedAt = Date.now();
      try {
        await this.runtime.start();
        this.log(`soak: the runtime is back after ${seconds(startedAt)} s`);
      } catch (err) {
        this.problem(`the runtime did not come back after a SIGKILL: ${String(err)}`);
        await this.runtime.start();
      }
      this.restarts += 1;
    });
    // A runtime that cannot start again ends the run (finished() rethrows); nothing else waits on it.
    this.chain = this.chain.catch((err: unknown) => {
      this.failure ??= err instanceof Error ? err : new Error(String(err));
    });
  }

  /** `count` request numbers spread over (0, requests], sorted. */
  private points(count: number, requests: number): number[] {
    return Array.from({ length: Math.max(0, count) }, () => this.rng.int(Math.ceil(requests * 0.05), requests)).sort((a, b) => a - b);
  }
}

/**
 * Waits until every grant is final and its evidence is on Jira: nothing in progress, no time-bound
 * grant still active (its revocation falls due within the run), every ledger event commented.
 * Returns the final records.
 */
async function settle(grantline: Grantline, sandbox: Sandbox, grantIds: string[], timeoutMs: number, log: (line: string) => void): Promise<SoakRecord[]> {
  const deadline = Date.now() + timeoutMs;
  let waiting = [...new Set(grantIds)];
  let lastReport = 0;
  let lastProgress = { at: Date.now(), waiting: waiting.length };
  while (waiting.length > 0 && Date.now() < deadline) {
    const records = await inParallel(waiting, 8, (id) => grantline.record(id));
    const settled = records.map((r) => isSettled(r, sandbox));
    const unsettled = records.filter((_, i) => !settled[i]);
    waiting = waiting.filter((_, i) => !settled[i]);
    if (waiting.length < lastProgress.waiting) lastProgress = { at: Date.now(), waiting: waiting.length };
    if (Date.now() - lastReport > 10_000) {
      const examples = unsettled.slice(0, 3).map(describeUnsettled).join('; ');
      log(`soak: ${waiting.length} grant(s) not settled yet${examples ? `, e.g. ${examples}` : ''}`);
      lastReport = Date.now();
    }
    // Only evidence still missing, and none arrived for a while: it is not coming.
    const onlyEvidenceMissing = unsettled.every((r) => !r || !isStillWorking(r));
    if (onlyEvidenceMissing && Date.now() - lastProgress.at > STALL_MS) break;
    if (waiting.length > 0) await sleep(1000);
  }
  const all = await inParallel([...new Set(grantIds)], 8, (id) => grantline.record(id));
  return all.filter((r): r is SoakRecord => r !== undefined);
}

/** How long settling waits for evidence that makes no progress before it checks. */
const STALL_MS = 30_000;

function isStillWorking({ grant }: SoakRecord): boolean {
  return IN_PROGRESS.includes(grant.status) || (grant.status === 'active' && Boolean(grant.expiresAt));
}

function describeUnsettled(record: SoakRecord | undefined): string {
  if (!record) return 'a grant the audit API did not return';
  const { grant } = record;
  return `${grant.id} ${grant.status}${grant.expiresAt ? ` (expires ${grant.expiresAt})` : ''}`;
}

function isSettled(record: SoakRecord | undefined, sandbox: Sandbox): boolean {
  if (!record || isStillWorking(record)) return false;
  const comments = sandbox.jira.commentTexts(record.grant.issueKey);
  const posted = (e: SoakRecord['evidence'][number]) =>
    comments.some((text) => isCommentFor(text, record.grant.id, e)) &&
    (!NOTICE_TYPES.has(e.type) || comments.some((text) => isNoticeFor(text, record.grant.id, e)));
  return record.evidence.every(posted);
}

/** Runs `work` over the items with at most `limit` at once; results in the items' order. */
async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

function seconds(since: number): number {
  return Math.round((Date.now() - since) / 1000);
}
