/**
 * The real thing: `npx cdk synth --quiet` through the CLI, offline and with no AWS credentials, as
 * an operator runs it. Then the bundles it made: their size against infra/bundle-budget.json (a
 * report is printed), no identity-provider SDK in the functions Slack and Jira wait on, the catalog
 * inside every package, and every bundle loading in Node with a `handler` export.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_NAMES, type FunctionName } from '../../infra/cdk/functions.js';
import { REQUIRED_OUTPUT_KEYS } from '../../infra/cdk/outputs.js';
import { BUNDLE_BUDGET_FILE, REPO_ROOT } from '../../infra/cdk/paths.js';
import { TEST_CONTEXT, type CfnTemplate } from './support.js';

const run = promisify(execFile);
const outdir = join(REPO_ROOT, 'cdk.out', `test-cli-synth-${process.pid}`);

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

/** The environment of an operator's shell with no AWS credentials or account at all. */
function credentialFreeEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^(AWS_|CDK_DEFAULT_|GRANTLINE_)/.test(key)) env[key] = value;
  return {
    ...env,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SHARED_CREDENTIALS_FILE: join(outdir, 'no-credentials'),
    AWS_CONFIG_FILE: join(outdir, 'no-config'),
    CDK_DISABLE_VERSION_CHECK: 'true',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
  };
}

const pascal = (name: string) => name.replace(/(^|-)([a-z])/g, (_m, _d: string, c: string) => c.toUpperCase());

beforeAll(async () => {
  // Act: the CLI synth, bundling every function with esbuild (never Docker).
  const context = Object.entries(TEST_CONTEXT).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  try {
    await run('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', outdir, ...context], {
      cwd: REPO_ROOT,
      env: credentialFreeEnv(),
      timeout: 150_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    synthError = err;
    return;
  }
  template = JSON.parse(readFileSync(join(outdir, 'Grantline.template.json'), 'utf8')) as CfnTemplate;
  bundles = FUNCTION_NAMES.map((name) => {
    const entry = Object.values(template!.Resources).find(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['aws:cdk:path'] === `Grantline/${pascal(name)}/Function/Resource`,
    );
    const asset = entry?.Metadata?.['aws:asset:path'];
    if (typeof asset !== 'string') throw new Error(`no bundled asset for ${name}`);
    const dir = join(outdir, asset);
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
}, 180_000);

afterAll(async () => {
  await rm(outdir, { recursive: true, force: true });
});

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
        'Bundle sizes (index.mjs is the code Lambda loads; the package adds the source map and catalog.yaml):',
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
    const withOkta = bundles.filter((b) => b.sources.some((s) => s.includes('node_modules/@okta/okta-sdk-nodejs/'))).map((b) => b.name).sort();
    for (const name of ['jira-webhook', 'slack-interactions', 'slack-commands'] as const) expect(withOkta, `${name} must not bundle the Okta SDK`).not.toContain(name);
    // Only the functions that change access carry any identity-provider SDK at all.
    const withAnyIdpSdk = Object.fromEntries(bundles.filter((b) => sdkPackages(b).length > 0).map((b) => [b.name, sdkPackages(b)]));
    const changesAccess = ['advance', 'provision', 'review-app', 'revoke', 'revoke-grant', 'schedule-revocation'];
    expect(Object.keys(withAnyIdpSdk).sort()).toEqual(changesAccess);
    // The check can fail: those do carry the Okta SDK.
    expect(withOkta).toEqual(changesAccess);
  });

  it('bundles each handler with the AWS SDK left to the runtime', () => {
    for (const b of bundles) {
      expect(b.sources.some((s) => s.endsWith(`functions/${b.name}/handler.ts`)), b.name).toBe(true);
      expect(b.sources.filter((s) => s.includes('node_modules/@aws-sdk/')), b.name).toEqual([]);
      expect(existsSync(join(b.dir, 'node_modules')), b.name).toBe(false);
    }
  });

  it('ships the validated catalog inside every package', () => {
    const catalog = readFileSync(join(REPO_ROOT, 'catalog.yaml'), 'utf8');
    for (const b of bundles) expect(readFileSync(join(b.dir, 'catalog.yaml'), 'utf8'), b.name).toBe(catalog);
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
