/**
 * `npm run bench -- pipeline`: webhook → identity-provider add for auto-approved requests on the
 * local runtime (sandbox services on loopback, dynalite, the ASL run by aws-local-stepfunctions).
 * Sequential requests, each for a new hire, so every one pays a real add; prints p50 and p99.
 *
 * Requests are paced (one every BENCH_PIPELINE_GAP_MS, default 1 s) so the figure is the latency one
 * requester sees: back to back, a grant's five calls in Okta's users family meet the limiter's
 * 10 calls a second (the default for that family) and the figure becomes the rate limit's, which the
 * second line reports as throughput.
 */
import { performance } from 'node:perf_hooks';
import { loadCatalog } from '../../shared/catalog/load.js';
import { silentLogger } from '../../shared/logger.js';
import { startLocalRuntime } from '../../infra/local/runtime.js';
import { SandboxClient, startSandbox } from '../../infra/local/sandbox/index.js';

const GROUP = '00gnotionmember';
const BACK_TO_BACK = 20;

export async function pipelineLatency(
  requests = Number(process.env.BENCH_PIPELINE_REQUESTS ?? 100),
  gapMs = Number(process.env.BENCH_PIPELINE_GAP_MS ?? 1000),
): Promise<void> {
  const catalog = await loadCatalog('catalog.yaml');
  const sandbox = await startSandbox(catalog);
  const env = { ...sandbox.env, PORT: '0' };
  const runtime = await startLocalRuntime({ env, logger: silentLogger, catalog, tickMs: false });
  const client = new SandboxClient(sandbox, runtime.url, env);
  const latencies: number[] = [];
  const backToBack: number[] = [];
  const grant = async (i: number): Promise<number> => {
    const email = `pipeline.hire${i}@example.com`;
    sandbox.okta.addUser({ email });
    const started = performance.now();
    const filed = await client.fileRequest({
      reporter: 'maria.manager@example.com',
      subject: email,
      app: 'Notion',
      role: 'member',
      duration: 'permanent',
      justification: 'onboarding',
    });
    if (filed.status !== 202) throw new Error(`request ${i} answered ${filed.status}: ${JSON.stringify(filed.body)}`);
    while (!sandbox.okta.members(GROUP).includes(email)) {
      if (performance.now() - started > 30_000) throw new Error(`request ${i}: ${email} never reached ${GROUP}`);
      await new Promise((r) => setImmediate(r));
    }
    const latency = performance.now() - started;
    await runtime.workflow.execution(String(filed.body.grantId))?.done;
    return latency;
  };
  try {
    for (let i = 0; i < requests; i++) {
      const started = performance.now();
      latencies.push(await grant(i));
      await new Promise((r) => setTimeout(r, Math.max(0, gapMs - (performance.now() - started))));
    }
    for (let i = requests; i < requests + BACK_TO_BACK; i++) backToBack.push(await grant(i));
  } finally {
    await runtime.close();
    await sandbox.close();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(0);
  const perSecond = (BACK_TO_BACK / (backToBack.reduce((a, b) => a + b, 0) / 1000)).toFixed(1);
  console.log(`Pipeline latency: Jira webhook → Okta group add, auto-approved, sequential, one every ${gapMs} ms`);
  console.log(`  requests  ${requests}`);
  console.log(`  p50       ${at(0.5)} ms`);
  console.log(`  p99       ${at(0.99)} ms`);
  console.log(`  back to back (${BACK_TO_BACK} requests, bound by the Okta users family's rate limit): ${perSecond} grants/s`);
}
