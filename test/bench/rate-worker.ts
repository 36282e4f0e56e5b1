/**
 * One provisioning process of `npm run bench -- --workers N` (forked by workers.ts): its own
 * limiter and Okta connector, the rate-limit buckets in the shared table, as one Lambda would be.
 * Waits for the user ids to add, adds them with a few concurrent callers, reports back.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { OktaIdentityProvider } from '../../shared/connectors/okta.js';
import { RateLimits, rateLimited } from '../../shared/rate-limit.js';
import { Store } from '../../shared/store/store.js';

export interface WorkerSetup {
  endpoint: string;
  table: string;
  oktaUrl: string;
  oktaToken: string;
  configuredPerSecond: number;
  concurrency: number;
}
export type ToWorker = { type: 'go'; groupId: string; userIds: string[] };
export type FromWorker = { type: 'ready' } | { type: 'done'; added: number; failed: number; errors: string[]; writes: number; conflicts: number };

const setup = JSON.parse(process.env.BENCH_WORKER_SETUP ?? '{}') as WorkerSetup;
const send = (message: FromWorker) => process.send?.(message);

const client = new DynamoDBClient({ endpoint: setup.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
const store = new Store(client, setup.table);
const limits = new RateLimits({ 'okta.membership': setup.configuredPerSecond, 'okta.groups': 5_000, 'okta.users': 5_000 }, { states: store.rateBuckets });
const idp = rateLimited(new OktaIdentityProvider({ orgUrl: setup.oktaUrl, token: setup.oktaToken }), limits);

process.on('message', (message: ToWorker) => {
  if (message.type !== 'go') return;
  void (async () => {
    let added = 0;
    let failed = 0;
    const errors: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: setup.concurrency }, async () => {
        while (next < message.userIds.length) {
          const userId = message.userIds[next++]!;
          try {
            await idp.addMember(message.groupId, userId);
            added += 1;
          } catch (err) {
            failed += 1;
            if (errors.length < 3) errors.push((err as Error).message);
          }
        }
      }),
    );
    const bucket = limits.bucket('okta', 'membership');
    send({ type: 'done', added, failed, errors, writes: bucket.writes, conflicts: bucket.conflicts });
    client.destroy();
    process.disconnect();
  })();
});
send({ type: 'ready' });
