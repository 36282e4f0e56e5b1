/**
 * The one Lambda construct: every Grantline function is built here with the same defaults (Node 22 on
 * arm64, ESM bundle made locally by esbuild, minified with source maps, AWS SDK v3 from the runtime,
 * an explicit log group with retention, X-Ray tracing, its own role) and the catalog file shipped
 * inside the package. Access is granted only through the props: the table (read or read-write, by
 * exact table and index ARNs) and the secrets it reads (also listed in GRANTLINE_SECRET_IDS).
 */
import { join } from 'node:path';
import { Validations, type Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { INDEXES } from '../../shared/store/table.js';
import type { FunctionName } from './functions.js';
import { CATALOG_IN_PACKAGE, FUNCTIONS_DIR, LAMBDA_TASK_ROOT, LOCK_FILE, REPO_ROOT } from './paths.js';

/** DynamoDB actions the store (shared/store/store.ts) issues at run time; Scan is used only by the local runtime. */
export const TABLE_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query'] as const;
export const TABLE_WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'] as const;

/**
 * ESM output, so that ESM-only dependencies (@middy/core) bundle as they are; CommonJS dependencies
 * that call require() (jira.js, the Okta SDK, their node built-ins) get a real require from this banner.
 */
export const ESM_REQUIRE_BANNER = "import { createRequire as __grantlineCreateRequire } from 'node:module'; const require = __grantlineCreateRequire(import.meta.url);";

export interface GrantlineFunctionProps {
  /** The folder under functions/ whose handler.ts exports `handler`. */
  readonly name: FunctionName;
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize: number;
  /** Absolute path of the validated catalog, copied into the package as catalog.yaml. */
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
    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention });
    // An own role with no managed policy: it may write its own log group and nothing it is not given below.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Grantline ${props.name}`,
    });
    this.role.addToPolicy(
      new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroup.logGroupArn] }),
    );

    const secretIds = props.secrets.map((s) => s.secretArn);
    const catalogFile = props.catalogFile;
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
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        banner: ESM_REQUIRE_BANNER,
        externalModules: ['@aws-sdk/*'],
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

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
