/**
 * A world that outlives one local runtime: a dynalite server and the sandbox, so a test can stop the
 * runtime and start another on the same ledger (a restart). Each part's cleanup goes on `cleanups`.
 */
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { startSandbox } from '../../infra/local/sandbox/index.js';
import type { Catalog } from '../../shared/catalog/schema.js';
import { testCatalog } from './catalog.js';

export async function restartableWorld(cleanups: Array<() => Promise<void>>, catalog: Catalog = testCatalog()) {
  const db = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => db.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => db.close(() => resolve())));
  const sandbox = await startSandbox(catalog);
  cleanups.push(() => sandbox.close());
  const env = { ...sandbox.env, PORT: '0', DYNAMODB_ENDPOINT: `http://127.0.0.1:${(db.address() as AddressInfo).port}` };
  return { catalog, sandbox, env };
}
