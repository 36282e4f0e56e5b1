// @ts-check
/**
 * Mutation testing of the code that decides who gets access, when it ends and what the evidence
 * says: `npm run mutate` (all six modules, several minutes each), or one module at a time:
 *
 *   npm run mutate -- --mutate shared/membership.ts
 *
 * Not part of `npm test`. Reports go to .test-report/mutation/ (git-ignored).
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  mutate: ['shared/approval.ts', 'shared/provisioning.ts', 'shared/revocation.ts', 'shared/membership.ts', 'shared/sweep.ts', 'shared/evidence.ts'],
  testRunner: 'vitest',
  vitest: {
    configFile: 'vitest.config.ts',
    // Only the test files that import the mutated module (through any chain of imports).
    related: true,
  },
  // The unit tests of the core and the evidence delivery tests; the e2e, soak and CDK suites are
  // too slow to run once per mutant and are not what this measures.
  testFiles: ['test/unit/**/*.test.ts', 'test/integration/evidence.test.ts'],
  // Each mutant runs only the tests that executed its code in the first (dry) run.
  coverageAnalysis: 'perTest',
  mutator: {
    // Excluded: StringLiteral, wholesale. Nearly all string literals in these modules are message
    // text (log lines, evidence summaries and details, Slack and Jira wording), and a mutant that
    // only changes wording is not a mistake in who gets access or when it ends. Stryker has no
    // narrower switch that leaves shared/ untouched. The few string literals that are values
    // (grant statuses such as 'active', outcomes such as 'removed') are compared or written next
    // to code that the ConditionalExpression, EqualityOperator and ObjectLiteral mutants of the
    // same lines still test.
    excludedMutations: ['StringLiteral'],
  },
  // Several workers share two cores: one test process, and bounded runs.
  concurrency: 1,
  timeoutMS: 15_000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 10,
  // Never mutate the working tree in place: other people edit it while this runs.
  inPlace: false,
  ignorePatterns: ['cdk.out', '.grantline', '.test-report', 'docs', 'test/soak', 'test/cdk', 'test/bench'],
  tempDirName: '.test-report/stryker-tmp',
  incremental: true,
  incrementalFile: '.test-report/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: '.test-report/mutation/mutation.html' },
  jsonReporter: { fileName: '.test-report/mutation/mutation.json' },
  thresholds: { high: 90, low: 85, break: null },
};
