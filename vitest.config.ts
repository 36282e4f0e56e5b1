import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Vitest's default (all cores but one) runs the files one at a time on a 2-core machine; most wait on
    // loopback I/O, so two at a time takes about 340 s instead of 520 s there.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ['default', 'json'],
    outputFile: { json: '.test-report/vitest.json' },
    allowOnly: false,
  },
});
