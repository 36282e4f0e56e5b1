/**
 * Starts the sandbox's simulated Jira, Slack and Okta and the local runtime against them, as
 * `npm start` does, with a hand-moved clock and fast retries.
 */
import type { Catalog } from '../../shared/catalog/schema.js';
import { ManualClock } from '../../shared/clock.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { startLocalRuntime, type LocalRuntime } from '../../infra/local/runtime.js';
import { SandboxClient, startSandbox, type Sandbox } from '../../infra/local/sandbox/index.js';
import type { FakeSlackMessage } from '../../infra/local/sandbox/slack.js';
import { testCatalog } from './catalog.js';
import { finished } from './wait.js';

// Kept here too: most tests take the catalog from the harness.
export { testCatalog };

export interface Harness {
  sandbox: Sandbox;
  runtime: LocalRuntime;
  client: SandboxClient;
  clock: ManualClock;
  catalog: Catalog;
  /** Clicks with a signature timestamp from the harness clock. */
  click(email: string, grantId: string, step: number, decision: 'approve' | 'deny'): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Presses a button (by action id) of a Slack message as this person, with a signature timestamp from the harness clock. */
  /** Presses a button of a message as this person; `value` picks among buttons sharing the action id (a review item's Keep). */
  press(
    email: string,
    message: FakeSlackMessage,
    actionId: string,
    value?: string,
  ): Promise<{ status: number; body: Record<string, unknown>; viewId?: string }>;
  close(): Promise<void>;
}

export async function startHarness(opts: { catalog?: Catalog; env?: Record<string, string>; logger?: Logger } = {}): Promise<Harness> {
  const catalog = opts.catalog ?? testCatalog();
  const clock = new ManualClock(new Date());
  const sandbox = await startSandbox(catalog);
  const env = { ...sandbox.env, PORT: '0', ...opts.env };
  const runtime = await startLocalRuntime({ env, logger: opts.logger ?? silentLogger, clock, catalog, retryIntervalMs: 5, tickMs: false });
  const client = new SandboxClient(sandbox, runtime.url, env);
  return {
    sandbox,
    runtime,
    client,
    clock,
    catalog,
    click: (email, grantId, step, decision) => client.click(email, grantId, step, decision, { timestamp: Math.floor(clock.now().getTime() / 1000) }),
    press: (email, message, actionId, value) =>
      client.press(email, message, actionId, { timestamp: Math.floor(clock.now().getTime() / 1000), ...(value === undefined ? {} : { value }) }),
    async close() {
      await runtime.close();
      await sandbox.close();
    },
  };
}

/** A Notion member grant for `who`, asked by themselves (auto-approved), once its workflow has finished: its grant id. */
export async function notionMember(harness: Harness, who: string): Promise<string> {
  const filed = await harness.client.fileRequest({ reporter: who, subject: who, app: 'Notion', role: 'member', duration: 'permanent', justification: 'wiki' });
  const grantId = String(filed.body.grantId);
  await finished(harness, grantId);
  return grantId;
}
