/**
 * An in-memory DynamoDB (dynalite) with the ledger table, for integration tests:
 *
 *   const dynamo = await startDynamo();
 *   ... dynamo.store ...
 *   await dynamo.close();
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { Store } from '../../shared/store/store.js';
import { ensureTable } from '../../shared/store/table.js';

export interface TestDynamo {
  client: DynamoDBClient;
  store: Store;
  close(): Promise<void>;
}

export async function startDynamo(): Promise<TestDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const table = `grantline-test-${randomUUID()}`;
  try {
    await ensureTable(client, table);
  } catch (err) {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  }
  return {
    client,
    store: new Store(client, table),
    async close() {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
