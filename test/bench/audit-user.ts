/**
 * `npm run bench -- audit`: `grantline audit user` on a large ledger. BENCH_AUDIT_GRANTS grants
 * (default 100,000) spread over BENCH_AUDIT_PEOPLE people (default 5,000) and the catalog's apps, each
 * with three or four evidence events sealed into its hash chain and its chain head, are written
 * straight to dynalite in batches (BatchWriteItem, 25 items each) as the store lays them out; then one
 * person's report is timed BENCH_AUDIT_RUNS times (default 20): the command as a person runs it (a
 * process, tsx start-up included), and its requests alone (GET /grants?user= every page, then each
 * grant's chain, 8 at a time, each verified). Prints the set-up time and p50/p99 of each.
 */
import { execFile, spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { GrantRecord } from '../../shared/audit.js';
import { percentile } from '../../shared/audit-report.js';
import { loadCatalog } from '../../shared/catalog/load.js';
import { eventHash, GENESIS, verifyChain } from '../../shared/chain.js';
import type { EvidenceEvent, Grant } from '../../shared/grants/model.js';
import type { ProviderName } from '../../shared/ports.js';
import type { StoredChain } from '../../shared/ledger-audit.js';
import { silentLogger } from '../../shared/logger.js';
import { chainHeadItem, evidenceItem, grantItem } from '../../shared/store/store.js';
import { startLocalRuntime } from '../../infra/local/runtime.js';
import { startSandbox } from '../../infra/local/sandbox/index.js';

/** Starts dynalite on a free port and prints the port. */
const DYNALITE = `import dynalite from 'dynalite';
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
const CLI = fileURLToPath(new URL('../../bin/grantline.mjs', import.meta.url));
const run = promisify(execFile);
const BATCH = 25;
const WRITERS = 16;
const YEAR_MS = 365 * 86_400_000;

/** A grant of person `p` for app role `app/role`, requested at `at`, with its sealed evidence and chain head, as table items. */
interface BenchApp {
  key: string;
  name: string;
  owner: string;
  role: string;
  provider: ProviderName;
  group: string;
  auto: boolean;
}

/** Grant `i`, of `person` for `app`, requested at `at`: every third one for 30 days and revoked at its expiry, the others permanent and active. */
function grantItems(i: number, person: string, app: BenchApp, at: number) {
  const id = `grant-BENCH-${i}`;
  const iso = (ms: number) => new Date(at + ms).toISOString();
  const ended = i % 3 === 0;
  const grant: Grant = {
    id,
    issueKey: `BENCH-${i}`,
    requester: person,
    subject: person,
    app: app.key,
    appName: app.name,
    role: app.role,
    appOwner: app.owner,
    risk: 'low',
    provider: app.provider,
    groupId: app.group,
    manual: false,
    duration: ended ? 'P30D' : 'permanent',
    justification: `bench request ${i}`,
    approvalTimeoutSeconds: 86_400,
    status: ended ? 'revoked' : 'active',
    ...(app.auto ? {} : { steps: [{ kind: 'manager', approvers: ['maria.manager@example.com'], reason: 'manager' }] }),
    currentStep: 0,
    requestedAt: iso(0),
    decidedAt: iso(60_000),
    decidedBy: app.auto ? 'policy' : 'maria.manager@example.com',
    grantedAt: iso(61_000),
    ...(ended ? { expiresAt: iso(61_000 + 30 * 86_400_000) } : {}),
    ...(ended ? { revokedAt: iso(61_000 + 30 * 86_400_000 + 2_000), revokeReason: 'expired', scheduledRevocationAt: iso(61_000 + 30 * 86_400_000) } : {}),
    executionName: id,
    source: 'jira',
    updatedAt: iso(61_000),
  };
  const base = { grantId: id, issueKey: grant.issueKey, details: {} };
  const events: EvidenceEvent[] = [
    { ...base, key: 'requested', type: 'requested', at: iso(0), actor: person, via: 'jira', summary: `${person} requested ${app.name} ${app.role}` },
    app.auto
      ? { ...base, key: 'auto_approved', type: 'auto_approved', at: iso(60_000), actor: 'policy', via: 'policy', summary: 'approved automatically by policy' }
      : { ...base, key: 'approved#0', type: 'approved', at: iso(60_000), actor: 'maria.manager@example.com', via: 'slack', summary: 'approved by maria' },
    {
      ...base,
      key: 'provisioned',
      type: 'provisioned',
      at: iso(61_000),
      actor: 'grantline',
      via: app.provider,
      summary: `added ${person} to ${app.provider} group ${app.group}`,
    },
    ...(ended
      ? [{ ...base, key: 'revoked', type: 'revoked' as const, at: grant.revokedAt!, actor: 'scheduler', via: app.provider, summary: 'removed (expired)' }]
      : []),
  ];
  let prev = GENESIS;
  const sealed = events.map((e, n) => {
    const hash = eventHash(prev, e);
    const link = { ...e, seq: n + 1, prevHash: prev, hash };
    prev = hash;
    return link;
  });
  return [grantItem(grant), ...sealed.map(evidenceItem), chainHeadItem({ grantId: id, seq: sealed.length, hash: prev, at: sealed.at(-1)!.at })];
}

export async function auditUserLatency(
  grants = Number(process.env.BENCH_AUDIT_GRANTS ?? 100_000),
  people = Number(process.env.BENCH_AUDIT_PEOPLE ?? 5_000),
  runs = Number(process.env.BENCH_AUDIT_RUNS ?? 20),
): Promise<void> {
  const catalog = await loadCatalog('catalog.yaml');
  const apps: BenchApp[] = Object.entries(catalog.apps).flatMap(([key, app]) =>
    Object.entries(app.roles)
      .filter(([, role]) => role.group !== 'manual')
      .slice(0, 1)
      .map(([role, r]) => ({
        key,
        name: app.name,
        owner: app.owner,
        role,
        provider: r.provider ?? app.provider ?? catalog.defaults.provider,
        group: r.group,
        auto: r.approval.length === 1 && r.approval[0] === 'auto',
      })),
  );
  // dynalite in a process of its own: the writes' marshalling here and the table's work there use two cores.
  const server = spawn(process.execPath, ['--input-type=module', '-e', DYNALITE], { stdio: ['ignore', 'pipe', 'inherit'] });
  const endpoint = await new Promise<string>((resolve, reject) => {
    server.once('error', reject);
    server.stdout.once('data', (chunk: Buffer) => resolve(`http://127.0.0.1:${chunk.toString().trim()}`));
  });
  const sandbox = await startSandbox(catalog);
  const env = { ...sandbox.env, PORT: '0', DYNAMODB_ENDPOINT: endpoint };
  const runtime = await startLocalRuntime({ env, logger: silentLogger, catalog, tickMs: false });
  const doc = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  try {
    // Set-up: every grant's items, in batches of 25 from 16 writers; whatever a batch leaves unprocessed is written again.
    const setupStarted = performance.now();
    const start = Date.parse('2025-01-01T00:00:00.000Z');
    let next = 0;
    let items = 0;
    const pending: Record<string, unknown>[] = [];
    const take = (): Record<string, unknown>[] => {
      while (pending.length < BATCH && next < grants) {
        const i = next++;
        pending.push(...grantItems(i, `person${i % people}@example.com`, apps[i % apps.length]!, start + Math.floor((i / grants) * YEAR_MS)));
      }
      return pending.splice(0, BATCH);
    };
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        for (let batch = take(); batch.length > 0; batch = take()) {
          let requests = batch.map((Item) => ({ PutRequest: { Item } }));
          items += requests.length;
          while (requests.length > 0) {
            const { UnprocessedItems } = await doc.send(new BatchWriteCommand({ RequestItems: { [runtime.config.GRANTLINE_TABLE]: requests } }));
            requests = (UnprocessedItems?.[runtime.config.GRANTLINE_TABLE] ?? []) as typeof requests;
          }
          if (next % 10_000 < BATCH / 5) process.stderr.write(`\r  written ${next} of ${grants} grants`);
        }
      }),
    );
    const setupSeconds = (performance.now() - setupStarted) / 1000;
    process.stderr.write('\n');

    const person = 'person42@example.com';
    const opts = { url: runtime.url, token: runtime.config.GRANTLINE_AUDIT_TOKEN };
    const get = async <T>(path: string): Promise<T> => {
      const res = await fetch(`${opts.url}${path}`, { headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {} });
      if (!res.ok) throw new Error(`${path} answered ${res.status}`);
      return (await res.json()) as T;
    };
    // The command's requests in this process: every page of the person's grants, then each chain, 8 at a time, verified.
    const requestsOnly = async (): Promise<number> => {
      const records: GrantRecord[] = [];
      let cursor: string | undefined;
      do {
        const page = await get<{ grants: GrantRecord[]; nextCursor?: string }>(
          `/grants?user=${encodeURIComponent(person)}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        records.push(...page.grants);
        cursor = page.nextCursor;
      } while (cursor);
      let at = 0;
      let breaks = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (at < records.length) {
            const id = records[at++]!.grant.id;
            const [chain] = (await get<{ chains: StoredChain[] }>(`/audit/chains?grant=${encodeURIComponent(id)}`)).chains;
            breaks += verifyChain(id, chain!.events, chain!.head, new Date()).length;
          }
        }),
      );
      if (breaks > 0) throw new Error(`${breaks} chain break(s) in the bench's own data`);
      return records.length;
    };
    const timed = async (fn: () => Promise<unknown>): Promise<number[]> => {
      const ms: number[] = [];
      for (let i = 0; i < runs; i++) {
        const started = performance.now();
        await fn();
        ms.push(performance.now() - started);
      }
      return ms;
    };
    const count = await requestsOnly();
    const inProcess = await timed(requestsOnly);
    const cli = await timed(() =>
      run(process.execPath, [CLI, 'audit', 'user', person, '--format', 'json', '--url', opts.url, ...(opts.token ? ['--token', opts.token] : [])], {
        maxBuffer: 64 * 1024 * 1024,
      }),
    );
    const fmt = (ms: number[]) => `p50 ${percentile(ms, 50)!.toFixed(0)} ms, p99 ${percentile(ms, 99)!.toFixed(0)} ms`;
    console.log('grantline audit user on a large ledger (dynalite, local runtime)');
    console.log(`  ledger                 ${grants} grants, ${people} people, ${apps.length} apps; ${items} items`);
    console.log(
      `  set-up                 ${setupSeconds.toFixed(1)} s (BatchWriteItem of 25 from ${WRITERS} writers: ${(items / setupSeconds).toFixed(0)} items/s)`,
    );
    console.log(`  one person             ${person}: ${count} grants`);
    console.log(`  requests only          ${fmt(inProcess)} over ${runs} runs (GET /grants?user= every page, then each chain, 8 at a time, verified)`);
    console.log(`  the command            ${fmt(cli)} over ${runs} runs (a process: tsx start-up included)`);
  } finally {
    await runtime.close();
    await sandbox.close();
    server.kill();
  }
}
