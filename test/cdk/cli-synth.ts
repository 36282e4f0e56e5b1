/**
 * `npx cdk synth` through the CLI, offline and with no AWS credentials, as an operator runs it, and
 * the pieces of its output the tests look at: the template, each function's bundle folder and the
 * state machine definition that was uploaded as an asset.
 *
 * The output goes under the repository's cdk.out/ so that a bundle's `import '@aws-sdk/...'`
 * resolves from the repository's node_modules, as Lambda's runtime provides the AWS SDK.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { FUNCTION_NAMES, type FunctionName } from '../../infra/cdk/functions.js';
import { REPO_ROOT } from '../../infra/cdk/paths.js';
import type { CfnResource, CfnTemplate } from './support.js';

const run = promisify(execFile);

export interface SynthesizedFunction {
  name: FunctionName;
  logicalId: string;
  /** The unzipped package Lambda would run (index.mjs, its source map, catalog.json). */
  dir: string;
  resource: CfnResource;
}

export interface CliSynth {
  outdir: string;
  template: CfnTemplate;
  functions: Record<FunctionName, SynthesizedFunction>;
  /** The state machine's definition as deployed (the DefinitionS3Location asset), still with its ${Placeholders}. */
  definitionText: string;
  /** The state machine's DefinitionSubstitutions, as CloudFormation expressions. */
  definitionSubstitutions: Record<string, unknown>;
}

/** The environment of an operator's shell with no AWS credentials or account at all. */
function credentialFreeEnv(outdir: string): NodeJS.ProcessEnv {
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

/** The context of the shared synth: the sandbox's Slack team and Jira project (connector URLs are pointed at loopback at run time). */
export const SANDBOX_CONTEXT = {
  JIRA_BASE_URL: 'https://acme.atlassian.net',
  OKTA_ORG_URL: 'https://acme.okta.com',
  SLACK_TEAM_ID: 'TSANDBOX',
  JIRA_PROJECT_KEY: 'ACC',
};

declare module 'vitest' {
  export interface ProvidedContext {
    /** Where this test run's shared CLI synth goes (test/support/global-setup.ts removes it at the end). */
    sharedSynthDir: string;
  }
}

/**
 * One CLI synth per test run, for every test file that needs one (it takes a minute of both cores):
 * the first file to ask makes it, under a lock directory; the others wait for it. A failed synth is
 * reported to each of them. GRANTLINE_TEST_CDK_OUT=<folder of an earlier synth> skips it while working.
 */
export async function sharedCliSynth(): Promise<CliSynth> {
  const reused = process.env.GRANTLINE_TEST_CDK_OUT;
  if (reused) return readSynth(reused);
  const outdir = inject('sharedSynthDir');
  const done = `${outdir}.done`;
  const failed = `${outdir}.failed`;
  await mkdir(dirname(outdir), { recursive: true });
  try {
    await mkdir(`${outdir}.lock`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another file is making it: wait for the outcome.
    while (!existsSync(done) && !existsSync(failed)) await sleep(500);
    if (existsSync(failed)) throw new Error(`the shared cdk synth failed: ${await readFile(failed, 'utf8')}`);
    return readSynth(outdir);
  }
  try {
    const synth = await cliSynth(outdir, SANDBOX_CONTEXT);
    await writeFile(done, '');
    return synth;
  } catch (err) {
    await writeFile(failed, String((err as Error).stack ?? err));
    throw err;
  }
}

/** Runs the CLI synth (bundling every function with esbuild, never Docker) into `outdir` and reads what it made. */
export async function cliSynth(outdir: string, context: Record<string, string>): Promise<CliSynth> {
  const flags = Object.entries(context).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  await run('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', outdir, ...flags], {
    cwd: REPO_ROOT,
    env: credentialFreeEnv(outdir),
    timeout: 280_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return readSynth(outdir);
}

/** Reads a synth's output folder (one made by cliSynth, or by `npx cdk synth --output <dir>`). */
export function readSynth(outdir: string): CliSynth {
  const template = JSON.parse(readFileSync(join(outdir, 'Grantline.template.json'), 'utf8')) as CfnTemplate;

  const functions = Object.fromEntries(
    FUNCTION_NAMES.map((name) => {
      const found = Object.entries(template.Resources).find(
        ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['aws:cdk:path'] === `Grantline/${pascal(name)}/Function/Resource`,
      );
      const asset = found?.[1].Metadata?.['aws:asset:path'];
      if (!found || typeof asset !== 'string') throw new Error(`no bundled asset for ${name}`);
      return [name, { name, logicalId: found[0], dir: join(outdir, asset), resource: found[1] }];
    }),
  ) as Record<FunctionName, SynthesizedFunction>;

  const machines = Object.values(template.Resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (machines.length !== 1) throw new Error(`expected one state machine, found ${machines.length}`);
  const props = machines[0]!.Properties ?? {};
  const location = props.DefinitionS3Location as { Key?: string } | undefined;
  const definitionText =
    typeof props.DefinitionString === 'string' ? props.DefinitionString : readFileSync(join(outdir, definitionAssetPath(outdir, location?.Key)), 'utf8');
  return { outdir, template, functions, definitionText, definitionSubstitutions: (props.DefinitionSubstitutions ?? {}) as Record<string, unknown> };
}

/** The local file behind the definition's S3 key, from the asset manifest. */
function definitionAssetPath(outdir: string, key: string | undefined): string {
  if (!key) throw new Error('the state machine has neither DefinitionString nor DefinitionS3Location.Key');
  const manifest = JSON.parse(readFileSync(join(outdir, 'Grantline.assets.json'), 'utf8')) as { files: Record<string, { source: { path: string } }> };
  const entry = manifest.files[key.replace(/\.json$/, '')];
  if (!entry) throw new Error(`no file asset for the definition key ${key}`);
  return entry.source.path;
}
