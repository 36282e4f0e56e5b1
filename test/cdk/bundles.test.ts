/**
 * The real thing: `npx cdk synth --quiet` through the CLI, offline and with no AWS credentials, as
 * an operator runs it. Then the bundles it made: their size against infra/bundle-budget.json (a
 * report is printed), no identity-provider SDK in the functions Slack and Jira wait on, each client
 * library only in the functions that call it, the catalog inside every package as JSON (no YAML
 * parser bundled), and every bundle loading in Node with a `handler` export.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ASL_SUBSTITUTIONS, FUNCTION_NAMES, type FunctionName } from '../../infra/cdk/functions.js';
import { ESM_REQUIRE_BANNER } from '../../infra/cdk/grantline-function.js';
import { CATALOG_IN_PACKAGE } from '../../infra/cdk/paths.js';
import { REQUIRED_OUTPUT_KEYS } from '../../infra/cdk/outputs.js';
import { BUNDLE_BUDGET_FILE, REPO_ROOT } from '../../infra/cdk/paths.js';
import { catalogJson } from '../../shared/catalog/catalog.js';
import { loadCatalog } from '../../shared/catalog/load.js';
import { isAwsErrorName } from '../support/error-names.js';
import { type CliSynth, sharedCliSynth } from './cli-synth.js';
import type { CfnTemplate } from './support.js';

const run = promisify(execFile);

interface Bundle {
  name: FunctionName;
  dir: string;
  codeBytes: number;
  mapBytes: number;
  packageBytes: number;
  sources: string[];
}

let synthError: unknown;
let template: CfnTemplate | undefined;
let bundles: Bundle[] = [];

let outdir = '';

beforeAll(async () => {
  // Act: the CLI synth of this test run (one for every file that needs it), bundling with esbuild, never Docker.
  let synth: CliSynth;
  try {
    synth = await sharedCliSynth();
  } catch (err) {
    synthError = err;
    return;
  }
  ({ outdir, template } = synth);
  bundles = FUNCTION_NAMES.map((name) => {
    const { dir } = synth.functions[name];
    const size = (file: string) => statSync(join(dir, file)).size;
    const map = JSON.parse(readFileSync(join(dir, 'index.mjs.map'), 'utf8')) as { sources: string[] };
    return {
      name,
      dir,
      codeBytes: size('index.mjs'),
      mapBytes: size('index.mjs.map'),
      packageBytes: readdirSync(dir).reduce((sum, f) => sum + size(f), 0),
      sources: map.sources,
    };
  });
}, 300_000);

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`.padStart(9);

describe('cdk synth through the CLI', () => {
  it('succeeds offline with no AWS credentials and an environment-agnostic stack', () => {
    expect(synthError).toBeUndefined();
    expect(template).toBeDefined();
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as { artifacts: Record<string, { environment?: string }> };
    expect(manifest.artifacts.Grantline?.environment).toBe('aws://unknown-account/unknown-region');
    // Without an alarm email or topic there is no topic output; the rest of the contract is there.
    expect(Object.keys(template!.Outputs ?? {}).sort()).toEqual([...REQUIRED_OUTPUT_KEYS].sort());
  });
});

describe('bundles', () => {
  it('stays within infra/bundle-budget.json (report printed)', () => {
    const budget = JSON.parse(readFileSync(BUNDLE_BUDGET_FILE, 'utf8')) as { maxBytes: Record<string, number> };
    expect(Object.keys(budget.maxBytes).sort()).toEqual([...FUNCTION_NAMES].sort());
    const rows = bundles.map((b) => {
      const max = budget.maxBytes[b.name]!;
      return { ...b, max, over: b.codeBytes > max };
    });
    console.log(
      [
        'Bundle sizes (index.mjs is the code Lambda loads; the package adds the source map, licence notices and catalog.json):',
        `  ${'function'.padEnd(20)} ${'index.mjs'.padStart(9)} ${'budget'.padStart(9)} ${'used'.padStart(5)} ${'map'.padStart(9)} ${'package'.padStart(9)}`,
        ...rows.map(
          (r) =>
            `  ${r.name.padEnd(20)} ${kb(r.codeBytes)} ${kb(r.max)} ${`${Math.round((100 * r.codeBytes) / r.max)}%`.padStart(5)} ${kb(r.mapBytes)} ${kb(r.packageBytes)}${r.over ? '  OVER BUDGET' : ''}`,
        ),
      ].join('\n'),
    );
    expect(rows.filter((r) => r.over).map((r) => `${r.name}: ${r.codeBytes} > ${r.max}`)).toEqual([]);
  });

  it('keeps identity-provider SDKs out of the functions that Slack and Jira wait on', () => {
    const IDP_SDKS = /node_modules\/(@okta\/|@googleapis\/|googleapis\/|google-auth-library\/|@azure\/|@microsoft\/microsoft-graph-client\/)/;
    const sdkPackages = (b: Bundle) => [...new Set(b.sources.filter((s) => IDP_SDKS.test(s)).map((s) => IDP_SDKS.exec(s)![1]!))].sort();
    const withOkta = bundles
      .filter((b) => b.sources.some((s) => s.includes('node_modules/@okta/okta-sdk-nodejs/')))
      .map((b) => b.name)
      .sort();
    for (const name of ['jira-webhook', 'slack-interactions', 'slack-commands'] as const)
      expect(withOkta, `${name} must not bundle the Okta SDK`).not.toContain(name);
    // Only the functions that change access, and the two that read accounts (review, policy explain), carry any identity-provider SDK at all.
    const withAnyIdpSdk = Object.fromEntries(bundles.filter((b) => sdkPackages(b).length > 0).map((b) => [b.name, sdkPackages(b)]));
    // record-failure gives back an add made before the failure; sweep-expiries revokes overdue grants;
    // break-glass-review revokes an unreviewed break-glass grant; offboard revokes a person's grants and ends their sessions;
    // drift-report reads the groups (and, for a driftFix app, removes memberships outside Grantline).
    const changesAccess = [
      'advance',
      'break-glass-review',
      'drift-report',
      'offboard',
      'policy-explain',
      'provision',
      'record-failure',
      'review-app',
      'review-campaign',
      'revoke',
      'revoke-grant',
      'schedule-revocation',
      'sweep-expiries',
    ];
    expect(Object.keys(withAnyIdpSdk).sort()).toEqual(changesAccess);
    // The check can fail: those do carry the Okta SDK.
    expect(withOkta).toEqual(changesAccess);
  });

  it('bundles each handler with the AWS SDK left to the runtime', () => {
    for (const b of bundles) {
      expect(
        b.sources.some((s) => s.endsWith(`functions/${b.name}/handler.ts`)),
        b.name,
      ).toBe(true);
      expect(
        b.sources.filter((s) => s.includes('node_modules/@aws-sdk/')),
        b.name,
      ).toEqual([]);
      expect(existsSync(join(b.dir, 'node_modules')), b.name).toBe(false);
    }
  });

  it('loads each client library only in the functions that call it (jira.js, @slack/web-api), and no zod locale but English', () => {
    const withPackage = (pkg: string) =>
      bundles
        .filter((b) => b.sources.some((s) => s.includes(`node_modules/${pkg}/`)))
        .map((b) => b.name)
        .sort();
    // jira.js's own source maps point outside its folder, so it is recognised by its REST paths in the code.
    const withJiraJs = bundles
      .filter((b) => readFileSync(join(b.dir, 'index.mjs'), 'utf8').includes('/rest/api/3/'))
      .map((b) => b.name)
      .sort();
    // Evidence goes to Jira from every task but the Slack click and form; the audit routes and the review call neither.
    expect(withJiraJs).toEqual([
      ...['advance', 'approval-timer', 'break-glass-review', 'drift-report', 'extend-grant', 'file-request', 'flush-evidence', 'jira-webhook', 'offboard'],
      'provision',
      ...['record-failure', 'request-approval', 'review-campaign', 'revoke', 'revoke-grant', 'schedule-revocation', 'sweep-expiries'],
    ]);
    expect(withPackage('axios')).toEqual(withJiraJs);
    // Slack: asking approvers, reminding them, updating the prompt, telling the requester, the two Slack
    // webhooks and filing a form, the break-glass review, the notice before access ends (sweep-expiries),
    // the reviewers' messages of a campaign (review-campaign).
    expect(withPackage('@slack/web-api')).toEqual([
      'advance',
      'approval-timer',
      'break-glass-review',
      'file-request',
      'provision',
      'record-failure',
      'request-approval',
      'review-campaign',
      'slack-commands',
      'slack-interactions',
      'sweep-expiries',
    ]);
    const locales = bundles.flatMap((b) => b.sources.filter((s) => /node_modules\/zod\/.*locales\/(?!en\.js$)/.test(s)).map((s) => `${b.name}: ${s}`));
    expect(locales).toEqual([]);
    expect(withPackage('zod').length).toBe(bundles.length);
    expect(withPackage('tr46')).toEqual([]);
  });

  it('ships the validated catalog inside every package as JSON, and bundles no YAML parser', async () => {
    const catalog = catalogJson(await loadCatalog(join(REPO_ROOT, 'catalog.yaml')));
    expect(CATALOG_IN_PACKAGE).toBe('catalog.json');
    for (const b of bundles) {
      expect(readFileSync(join(b.dir, CATALOG_IN_PACKAGE), 'utf8'), b.name).toBe(catalog);
      expect(existsSync(join(b.dir, 'catalog.yaml')), b.name).toBe(false);
      // (The Okta SDK brings its own js-yaml, for its optional config file.)
      expect(
        b.sources.filter((s) => s.includes('node_modules/yaml/')),
        b.name,
      ).toEqual([]);
    }
  });

  it('loads every bundle in Node (ESM with the createRequire banner) and finds its handler', async () => {
    // One child process imports them all; @aws-sdk/* resolves from the repository, as the runtime provides it in Lambda.
    const script =
      'const out = {}; for (const file of process.argv.slice(1)) { try { const m = await import(file); out[file] = typeof m.handler; } catch (e) { out[file] = "error: " + e.message; } } console.log(JSON.stringify(out));';
    const files = bundles.map((b) => join(b.dir, 'index.mjs'));
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, ...files], { cwd: REPO_ROOT, timeout: 60_000 });
    const loaded = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, string>;
    expect(Object.fromEntries(bundles.map((b) => [b.name, loaded[join(b.dir, 'index.mjs')]]))).toEqual(
      Object.fromEntries(bundles.map((b) => [b.name, 'function'])),
    );
  }, 60_000);
});

describe('error names in the bundles (what Step Functions matches Retry/Catch on)', () => {
  const asl = JSON.parse(readFileSync(join(REPO_ROOT, 'statemachines/access-request.asl.json'), 'utf8')) as {
    States: Record<
      string,
      { Resource?: string; Parameters?: { FunctionName?: string }; Retry?: Array<{ ErrorEquals: string[] }>; Catch?: Array<{ ErrorEquals: string[] }> }
    >;
  };
  /** The function each Task state invokes, and the Grantline error names its Retry/Catch expect. */
  const taskExpectations = Object.entries(asl.States).flatMap(([state, s]) => {
    const placeholder = /\$\{(\w+FunctionArn)\}/.exec(JSON.stringify([s.Resource, s.Parameters]))?.[1] as keyof typeof ASL_SUBSTITUTIONS | undefined;
    if (!placeholder) return [];
    const names = [...(s.Retry ?? []), ...(s.Catch ?? [])].flatMap((r) => r.ErrorEquals).filter((n) => !isAwsErrorName(n));
    return [{ state, fn: ASL_SUBSTITUTIONS[placeholder], names }];
  });
  const bundle = (name: FunctionName) => bundles.find((b) => b.name === name)!;
  const code = (name: FunctionName) => readFileSync(join(bundle(name).dir, 'index.mjs'), 'utf8');

  it('shared/errors.ts bundled as CDK bundles it (ESM, node22, minified, no keepNames): every class keeps its name', async () => {
    const out = await mkdtemp(join(tmpdir(), 'grantline-errors-'));
    try {
      const result = await build({
        entryPoints: [join(REPO_ROOT, 'shared/errors.ts')],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node22',
        mainFields: ['main', 'module'],
        minify: true,
        banner: { js: ESM_REQUIRE_BANNER },
        write: false,
        logLevel: 'silent',
      });
      const file = join(out, 'errors.mjs');
      await writeFile(file, result.outputFiles[0]!.text);
      const bundled = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      const classes = Object.entries(bundled).filter(
        (e): e is [string, new (message: string) => Error] => typeof e[1] === 'function' && (e[1] as { prototype?: unknown }).prototype instanceof Error,
      );
      // Prove the setup minifies: the classes themselves lost their names.
      expect(classes.filter(([exported, cls]) => cls.name !== exported).length).toBeGreaterThan(0);
      const concrete = classes.filter(([exported]) => exported !== 'GrantlineError');
      expect(Object.fromEntries(concrete.map(([exported, cls]) => [exported, new cls('x').name]))).toEqual(
        Object.fromEntries(concrete.map(([exported]) => [exported, exported])),
      );
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it('every function a Task state invokes carries, as a literal, each error name its Retry/Catch expects', () => {
    // A function may serve several states (revoke: RevokeNow and RevokeUnreviewed; break-glass-review: OpenReview and ReviewDue).
    expect([...new Set(taskExpectations.map((t) => t.fn))].sort()).toEqual([...new Set(Object.values(ASL_SUBSTITUTIONS))].sort());
    expect(taskExpectations.flatMap((t) => t.names)).toContain('RetryableError');
    for (const { state, fn, names } of taskExpectations) {
      for (const name of names) expect(code(fn), `${state} (${fn}) retries or catches ${name}`).toMatch(new RegExp(`["'\`]${name}["'\`]`));
    }
  });

  it('every bundle whose code can throw RetryableError carries the literal "RetryableError"', () => {
    const throwers = bundles.filter((b) =>
      b.sources.some((s) => !s.includes('node_modules/') && /new RetryableError\(/.test(readFileSync(resolve(b.dir, s), 'utf8'))),
    );
    expect(throwers.length).toBeGreaterThan(5);
    expect(throwers.filter((b) => !code(b.name).includes('"RetryableError"')).map((b) => b.name)).toEqual([]);
  });

  it('errors thrown by the bundled task handlers carry the names Lambda reports (bad input, a malformed setting)', async () => {
    // One child process per environment: the handlers read their configuration once per cold start.
    const script =
      'const out = {}; for (const file of process.argv.slice(1)) { try { const m = await import(file); await m.handler({}); out[file] = "no error"; } catch (e) { out[file] = e.name; } } console.log(JSON.stringify(out));';
    const fns = [...new Set(Object.values(ASL_SUBSTITUTIONS))];
    const files = fns.map((fn) => join(bundle(fn).dir, 'index.mjs'));
    const thrown = async (env: Record<string, string>) => {
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, ...files], {
        cwd: REPO_ROOT,
        timeout: 60_000,
        env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', GRANTLINE_CATALOG: join(bundle(fns[0]!).dir, CATALOG_IN_PACKAGE), ...env },
      });
      const names = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, string>;
      return Object.fromEntries(fns.map((fn, i) => [fn, names[files[i]!]]));
    };

    expect(await thrown({})).toEqual(Object.fromEntries(fns.map((fn) => [fn, 'MalformedRequestError'])));
    expect(await thrown({ PORT: 'eighty' })).toEqual(Object.fromEntries(fns.map((fn) => [fn, 'ConfigurationError'])));
  }, 60_000);
});
