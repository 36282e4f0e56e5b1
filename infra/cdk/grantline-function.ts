/**
 * The one Lambda construct: every Grantline function is built here with the same defaults (Node 22 on
 * arm64, ESM bundle made locally by esbuild, minified with source maps, AWS SDK v3 from the runtime,
 * an explicit log group with retention, X-Ray tracing, its own role) and the validated catalog shipped
 * inside the package as JSON (so no YAML parser is bundled). Access is granted only through the props: the table (read or read-write, by
 * exact table and index ARNs) and the secrets it reads (also listed in GRANTLINE_SECRET_IDS).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RemovalPolicy, Stage, Validations, type Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { catalogJson, formatProblem } from '../../shared/catalog/catalog.js';
import { parseCatalog } from '../../shared/catalog/load.js';
import { INDEXES } from '../../shared/store/table.js';
import type { FunctionName } from './functions.js';
import { CATALOG_IN_PACKAGE, FUNCTIONS_DIR, LAMBDA_TASK_ROOT, LOCK_FILE, REPO_ROOT } from './paths.js';

/**
 * DynamoDB actions the store (shared/store/store.ts) issues at run time. Scan is used only by the local
 * runtime, and so is DeleteItem (the local scheduler's deleteSchedule): in AWS nothing is deleted, a
 * decided approval's assignments leave their index by UpdateItem REMOVE.
 */
export const TABLE_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query'] as const;
export const TABLE_WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem'] as const;

/**
 * ESM output, so that ESM-only dependencies (@middy/core) bundle as they are; CommonJS dependencies
 * that call require() (jira.js, the Okta SDK, their node built-ins) get a real require from this banner.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __grantlineCreateRequire } from 'node:module'; const require = __grantlineCreateRequire(import.meta.url);";

/**
 * Bundling-only substitutes (infra/cdk/bundling/), each leaving out code a Lambda on Node 22 never runs:
 * zod without its 50 locales (jira.js imports the whole namespace), whatwg-url as Node's own URL (node-fetch 2's fallback).
 */
export const BUNDLE_ALIASES: Readonly<Record<string, string>> = {
  zod: join(REPO_ROOT, 'infra/cdk/bundling/zod.mjs'),
  'whatwg-url': join(REPO_ROOT, 'infra/cdk/bundling/whatwg-url.mjs'),
};

/**
 * Left out of the bundles: the AWS SDK v3 (the runtime provides it), and web-streams-polyfill, which
 * fetch-blob requires only when Node has no ReadableStream (Node 22 has).
 */
export const BUNDLE_EXTERNALS = ['@aws-sdk/*', 'web-streams-polyfill'] as const;

export interface GrantlineFunctionProps {
  /** The folder under functions/ whose handler.ts exports `handler`. */
  readonly name: FunctionName;
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize: number;
  /** Absolute path of the validated catalog (YAML, or JSON), shipped in the package as catalog.json. */
  readonly catalogFile: string;
  readonly logRetention: RetentionDays;
  readonly table: ITable;
  readonly tableAccess: 'read' | 'readWrite';
  /** Secrets this function reads; their ARNs become GRANTLINE_SECRET_IDS. */
  readonly secrets: readonly ISecret[];
  readonly environment: Readonly<Record<string, string>>;
  /** A fixed physical name, for a function whose own ARN must be known before it exists. */
  readonly functionName?: string;
  /** Dead-letter queue for asynchronous invocations that fail after Lambda's retries. */
  readonly deadLetterQueue?: IQueue;
}

export class GrantlineFunction extends Construct {
  readonly name: FunctionName;
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: GrantlineFunctionProps) {
    super(scope, id);
    this.name = props.name;
    // Kept when the stack is deleted or the group replaced; removed when the first deployment fails and rolls back.
    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE });
    // An own role with no managed policy: it may write its own log group and nothing it is not given below.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Grantline ${props.name}`,
    });
    this.role.addToPolicy(new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroup.logGroupArn] }));

    const secretIds = props.secrets.map((s) => s.secretArn);
    const catalogFile = stagedCatalogJson(this, props.catalogFile);
    this.fn = new NodejsFunction(this, 'Function', {
      entry: join(FUNCTIONS_DIR, props.name, 'handler.ts'),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      tracing: Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      ...(props.functionName ? { functionName: props.functionName } : {}),
      ...(props.deadLetterQueue ? { deadLetterQueue: props.deadLetterQueue, retryAttempts: 2 } : {}),
      environment: {
        ...props.environment,
        GRANTLINE_CATALOG: `${LAMBDA_TASK_ROOT}/${CATALOG_IN_PACKAGE}`,
        GRANTLINE_TABLE: props.table.tableName,
        NODE_OPTIONS: '--enable-source-maps',
        ...(secretIds.length > 0 ? { GRANTLINE_SECRET_IDS: secretIds.join(',') } : {}),
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        // CommonJS first, as Node resolves it: the Okta SDK require()s node-fetch 2, whose ESM build would come back as a module object.
        mainFields: ['main', 'module'],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        banner: ESM_REQUIRE_BANNER,
        externalModules: [...BUNDLE_EXTERNALS],
        // Licence comments go to index.mjs.LEGAL.txt in the package instead of the code Lambda loads.
        esbuildArgs: {
          ...Object.fromEntries(Object.entries(BUNDLE_ALIASES).map(([from, to]) => [`--alias:${from}`, to])),
          '--legal-comments': 'external',
        },
        forceDockerBundling: false,
        logLevel: LogLevel.WARNING,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir: string, outputDir: string) => [`cp ${shellQuote(catalogFile)} ${shellQuote(join(outputDir, CATALOG_IN_PACKAGE))}`],
        },
      },
    });

    const table = props.table;
    const tableResources = [table.tableArn, ...INDEXES.map((index) => `${table.tableArn}/index/${index.name}`)];
    this.role.addToPolicy(
      new PolicyStatement({
        actions: props.tableAccess === 'read' ? [...TABLE_READ_ACTIONS] : [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS],
        resources: tableResources,
      }),
    );
    if (props.secrets.length > 0) {
      this.role.addToPolicy(new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secretIds }));
    }

    Validations.of(this.fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is the runtime Grantline is built and tested for (DESIGN.md: Lambda runs nodejs22.x); moving to a newer runtime is a deliberate upgrade, tested end to end, not a side effect of a CDK release.',
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords, added by Tracing.ACTIVE) is granted on "*": X-Ray has no resource-level permissions.',
    });
  }

  /** Adds a statement to this function's own role. */
  allow(statement: PolicyStatement): void {
    this.role.addToPolicy(statement);
  }
}

/**
 * The catalog parsed and validated once more, written as JSON into the cloud assembly (one file per
 * content, shared by every function) for afterBundling to copy into each package: the functions read
 * it with JSON.parse (shared/catalog/catalog.ts) and bundle no YAML parser.
 */
function stagedCatalogJson(scope: Construct, catalogFile: string): string {
  const result = parseCatalog(readFileSync(catalogFile, 'utf8'));
  if (!result.ok) throw new Error(`catalog ${catalogFile} is invalid:\n  ${result.problems.map(formatProblem).join('\n  ')}`);
  const text = catalogJson(result.catalog);
  const dir = Stage.of(scope)?.outdir;
  if (!dir) throw new Error('a GrantlineFunction must be inside a CDK App or Stage');
  const file = join(dir, `grantline-catalog.${createHash('sha256').update(text).digest('hex').slice(0, 16)}.json`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, text);
  }
  return file;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
