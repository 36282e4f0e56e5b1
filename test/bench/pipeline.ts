/**
 * `npm run bench -- pipeline`: webhook → identity-provider add for auto-approved requests on the
 * local runtime (sandbox services on loopback, dynalite, the ASL run by aws-local-stepfunctions).
 * Sequential requests, each for a new hire, so every one pays a real add; prints p50 and p99.
 */
import { performance } from 'node:perf_hooks';
import { loadCatalog } from '../../shared/catalog/load.js';
import { silentLogger } from '../../shared/logger.js';
import { startLocalRuntime } from '../../infra/local/runtime.js';
import { SandboxClient, startSandbox } from '../../infra/local/sandbox/index.js';

const GROUP = '00gnotionmember';

export async function pipelineLatency(requests = Number(process.env.BENCH_PIPELINE_REQUESTS ?? 100)): Promise<void> {
  const catalog = await loadCatalog('catalog.yaml');
  const sandbox = await startSandbox(catalog);
  const env = { ...sandbox.env, PORT: '0' };
  const runtime = await startLocalRuntime({ env, logger: silentLogger, catalog, tickMs: false });
  const client = new SandboxClient(sandbox, runtime.url, env);
  const latencies: number[] = [];
  try {
    for (let i = 0; i < requests; i++) {
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
      latencies.push(performance.now() - started);
      await runtime.workflow.execution(String(filed.body.grantId))?.done;
    }
  } finally {
    await runtime.close();
    await sandbox.close();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(0);
  console.log('Pipeline latency: Jira webhook → Okta group add, auto-approved, sequential');
  console.log(`  requests  ${requests}`);
  console.log(`  p50       ${at(0.5)} ms`);
  console.log(`  p99       ${at(0.99)} ms`);
}
