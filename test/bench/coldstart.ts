/**
 * `npm run bench -- coldstart`: what each Lambda's module init costs. For every function of a real
 * `cdk synth` (run here into cdk.out/bench-coldstart, or reused when it is newer than every source
 * file; `--synth` forces one), a fresh `node` process imports the bundled index.mjs, as Lambda's
 * init phase does. Five runs per bundle, medians printed: the import's wall time and CPU time
 * (user + system) inside the process, and the whole process's wall time over `node -e 0`'s.
 * The AWS SDK resolves from the repository's node_modules, as the Lambda runtime provides it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { arch, cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { FUNCTION_NAMES } from '../../infra/cdk/functions.js';
import { REPO_ROOT } from '../../infra/cdk/paths.js';
import { cliSynth, readSynth } from '../cdk/cli-synth.js';
import { TEST_CONTEXT } from '../cdk/support.js';

const RUNS = 5;
const OUTDIR = join(REPO_ROOT, 'cdk.out', 'bench-coldstart');
/** What a synth's bundles are made from. */
const SOURCES = ['functions', 'shared', 'infra', 'statemachines', 'catalog.yaml', 'package-lock.json', 'cdk.json'];

/** Imports the module, then prints the import's wall and CPU milliseconds. */
const IMPORT_SCRIPT =
  'const t = performance.now(); const c = process.cpuUsage(); await import(process.argv[1]); const u = process.cpuUsage(c);' +
  ' console.log(JSON.stringify({ ms: performance.now() - t, cpuMs: (u.user + u.system) / 1000 }));';

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path)
    .filter((entry) => entry !== 'node_modules')
    .reduce((newest, entry) => Math.max(newest, newestMtime(join(path, entry))), stat.mtimeMs);
}

function synthIsFresh(): boolean {
  const manifest = join(OUTDIR, 'manifest.json');
  if (!existsSync(manifest)) return false;
  const sources = SOURCES.map((s) => join(REPO_ROOT, s)).filter(existsSync);
  return statSync(manifest).mtimeMs > Math.max(...sources.map(newestMtime));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Wall time of a whole fresh process running `args`, and what it printed. */
function timedNode(args: string[]): { wallMs: number; stdout: string } {
  const started = performance.now();
  const stdout = execFileSync(process.execPath, args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1' },
    timeout: 60_000,
  });
  return { wallMs: performance.now() - started, stdout };
}

export async function coldStart(options: { forceSynth?: boolean } = {}): Promise<void> {
  const fresh = !options.forceSynth && synthIsFresh();
  console.error(fresh ? `reusing ${OUTDIR} (newer than the sources)` : `cdk synth into ${OUTDIR} …`);
  const synth = fresh ? readSynth(OUTDIR) : await cliSynth(OUTDIR, { ...TEST_CONTEXT });

  const baseline = median(Array.from({ length: RUNS }, () => timedNode(['-e', '0']).wallMs));
  const rows = FUNCTION_NAMES.map((name) => {
    const file = join(synth.functions[name].dir, 'index.mjs');
    const runs = Array.from({ length: RUNS }, () => {
      const { wallMs, stdout } = timedNode(['--input-type=module', '-e', IMPORT_SCRIPT, pathToFileURL(file).href]);
      const inside = JSON.parse(stdout.trim().split('\n').pop()!) as { ms: number; cpuMs: number };
      return { wallMs, ...inside };
    });
    return {
      name,
      kib: statSync(file).size / 1024,
      importMs: median(runs.map((r) => r.ms)),
      cpuMs: median(runs.map((r) => r.cpuMs)),
      overBaselineMs: median(runs.map((r) => r.wallMs)) - baseline,
    };
  });

  const n = (value: number, width: number) => value.toFixed(0).padStart(width);
  const machine = `${arch()}, ${cpus()[0]?.model.trim() ?? 'unknown CPU'}`;
  console.log(`Cold start: module init of each bundle in a fresh node ${process.version} process (${machine}), median of ${RUNS}`);
  console.log(`  node -e 0 (baseline process)  ${baseline.toFixed(0)} ms wall`);
  const header = ['index.mjs'.padStart(10), 'import'.padStart(8), 'import CPU'.padStart(11), 'process - baseline'.padStart(19)];
  console.log(`  ${'function'.padEnd(20)} ${header.join(' ')}`);
  for (const r of rows) {
    console.log(`  ${r.name.padEnd(20)} ${`${n(r.kib, 6)} KiB`} ${`${n(r.importMs, 5)} ms`} ${`${n(r.cpuMs, 8)} ms`} ${`${n(r.overBaselineMs, 16)} ms`}`);
  }
}
