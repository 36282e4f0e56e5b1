/**
 * `npm run soak -- --requests N --restarts K [--seed S] [--concurrency C]`: drives N access
 * requests through a Grantline runtime that is killed and restarted K times, against the sandbox
 * with faults injected, then checks the invariants of ../shared/RELIABILITY.md. The last line is
 * `soak: N requests, F faults, R restarts, V violations`; the exit code is 1 when V > 0.
 */
import { parseArgs } from 'node:util';
import { runSoak, type SoakResult } from './run.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '10000' },
      restarts: { type: 'string', default: '3' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      concurrency: { type: 'string', default: '20' },
      'settle-timeout': { type: 'string', default: '300' },
    },
  });
  const result = await runSoak({
    requests: positive(values.requests, 'requests'),
    restarts: positive(values.restarts, 'restarts', 0),
    seed: positive(values.seed, 'seed', 0),
    concurrency: positive(values.concurrency, 'concurrency'),
    settleTimeoutMs: positive(values['settle-timeout'], 'settle-timeout') * 1000,
    log: (line) => console.log(line),
  });
  report(result);
  return result.violations.length > 0 ? 1 : 0;
}

function report(result: SoakResult): void {
  const byInvariant = new Map<string, number>();
  for (const v of result.violations) byInvariant.set(v.invariant, (byInvariant.get(v.invariant) ?? 0) + 1);
  for (const v of result.violations) console.log(`  [${v.invariant}] ${v.grantId}: ${v.detail}`);
  if (byInvariant.size > 0) console.log(`violations by invariant: ${[...byInvariant].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  console.log(`faults served: ${JSON.stringify(result.faultsByService)}`);
  console.log(`took ${result.seconds} s; runtime log in ${result.workDir}/runtime.log`);
  console.log(`soak: ${result.requests} requests, ${result.faults} faults, ${result.restarts} restarts, ${result.violations.length} violations`);
}

function positive(text: string, name: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${text}`);
  return n;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`soak: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(2);
  },
);
