/**
 * Everything the core may use, passed in (never module-level singletons). Each entry point takes
 * only the part it needs (`Pick<Services, …>`), so a function's dependencies are visible in its type.
 */
import type { AnchorCopies } from './chain.js';
import type { Catalog } from './catalog/schema.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { Chat, IdentityProvider, Jobs, ProviderName, RevocationScheduler, Ticketing, WorkflowRuntime } from './ports.js';
import type { Store } from './store/store.js';

export interface Services {
  config: Config;
  clock: Clock;
  logger: Logger;
  store: Store;
  catalog: Catalog;
  ticketing: Ticketing;
  chat: Chat;
  idp: (name: ProviderName) => IdentityProvider;
  scheduler: RevocationScheduler;
  workflow: WorkflowRuntime;
  jobs: Jobs;
  /** The write-once copies of the ledger's anchors (shared/chain.ts): S3 Object Lock in AWS, a directory locally; absent where nothing anchors. */
  anchorCopies?: AnchorCopies;
}

/** What the state-machine tasks receive. */
export type LifecycleDeps = Services;
