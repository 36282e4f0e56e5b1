/**
 * Vitest global setup: names the folder of this run's shared CLI synth (test/cdk/cli-synth.ts
 * sharedCliSynth, made by the first test file that needs it) and removes it when the run ends.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { REPO_ROOT } from '../../infra/cdk/paths.js';

export default function setup(project: TestProject): () => Promise<void> {
  const outdir = join(REPO_ROOT, 'cdk.out', `test-shared-synth-${process.pid}`);
  project.provide('sharedSynthDir', outdir);
  return async () => {
    await Promise.all(['', '.lock', '.done', '.failed'].map((suffix) => rm(`${outdir}${suffix}`, { recursive: true, force: true })));
  };
}
