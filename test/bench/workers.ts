/**
 * `npm run bench -- --workers N`: provisioning from N separate processes (as N concurrent Lambdas)
 * against one rate-limited simulated Okta, with the rate-limit buckets in one shared dynalite
 * table. Each process has its own limiter; only the table makes them hold the provider's rate
 * together. The last line: the achieved share of the allowed rate, the 429s absorbed as a share of
 * the calls, and the failed grants (targets: ≥ 0.90, ≤ 1 %, 0).
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { ensureTable } from '../../shared/store/table.js';
import { startFakeOkta } from '../../infra/local/sandbox/okta.js';
import type { FromWorker, ToWorker, WorkerSetup } from './rate-worker.js';

const WORKER = fileURLToPath(new URL('./rate-worker.ts', import.meta.url));

export async function provisioningAcrossWorkers(workers: number, opts: { grants: number; allowedPerSecond: number; concurrency?: number }): Promise<void> {
  const { grants, allowedPerSecond } = opts;
  const configuredPerSecond = allowedPerSecond * 0.97;
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const table = 'grantline-bench';
  await ensureTable(client, table);
  client.destroy();

  const okta = await startFakeOkta({
    rateLimits: {
      membership: { limit: allowedPerSecond, windowMs: 1000 },
      groups: { limit: 10_000, windowMs: 1000 },
      users: { limit: 10_000, windowMs: 1000 },
    },
  });
  const groupId = okta.addGroup({ name: 'bench-group' });
  const userIds = Array.from({ length: grants }, (_, i) => okta.addUser({ email: `hire${i}@example.com` }));
  const setup: WorkerSetup = { endpoint, table, oktaUrl: okta.url, oktaToken: okta.token, configuredPerSecond, concurrency: opts.concurrency ?? 16 };

  const children: ChildProcess[] = [];
  const results: Array<Extract<FromWorker, { type: 'done' }>> = [];
  let started = 0;
  try {
    const ready = Array.from({ length: workers }, () => {
      const child = fork(WORKER, [], { execArgv: ['--import', 'tsx', '--no-warnings'], env: { ...process.env, BENCH_WORKER_SETUP: JSON.stringify(setup) } });
      children.push(child);
      const done = new Promise<void>((resolve, reject) => {
        child.on('message', (m: FromWorker) => {
          if (m.type !== 'done') return;
          results.push(m);
          resolve();
        });
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`bench worker exited with ${code}`))));
      });
      return { child, up: new Promise<void>((resolve) => child.on('message', (m: FromWorker) => m.type === 'ready' && resolve())), done };
    });
    await Promise.all(ready.map((w) => w.up));
    const requestsBefore = okta.fake.received;
    started = performance.now();
    for (const [i, w] of ready.entries()) w.child.send({ type: 'go', groupId, userIds: userIds.filter((_, n) => n % workers === i) } satisfies ToWorker);
    await Promise.all(ready.map((w) => w.done));
    const seconds = (performance.now() - started) / 1000;

    const failed = results.reduce((sum, r) => sum + r.failed, 0);
    const calls = okta.fake.received - requestsBefore;
    const share = grants / seconds / allowedPerSecond;
    const writes = results.reduce((sum, r) => sum + r.writes, 0);
    const conflicts = results.reduce((sum, r) => sum + r.conflicts, 0);
    for (const error of results.flatMap((r) => r.errors).slice(0, 3)) console.error(`  failed: ${error}`);
    console.log(`Provisioning from ${workers} processes sharing the rate-limit buckets in one table`);
    console.log(`  grants                 ${grants} (${workers} processes × ${setup.concurrency} concurrent callers)`);
    console.log(`  limiter configured at  ${configuredPerSecond}/s (one bucket in dynalite for all processes)`);
    console.log(`  allowed rate           ${allowedPerSecond} membership changes/s (fixed 1 s windows, 429 above)`);
    console.log(`  members in the group   ${okta.members(groupId).length}`);
    console.log(
      `  bucket writes          ${writes} (${(grants / Math.max(1, writes)).toFixed(1)} tokens per write), ${conflicts} lost to another process and retried`,
    );
    console.log(`  wall time              ${seconds.toFixed(1)} s`);
    console.log(
      `workers: ${workers}, share of allowed rate ${share.toFixed(2)}, 429s ${((okta.rateLimited() / Math.max(1, calls)) * 100).toFixed(1)}% of calls, failed ${failed}`,
    );
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
    await okta.close();
    await new Promise<void>((resolve) => dynamo.close(() => resolve()));
  }
}
