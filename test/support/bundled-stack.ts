/**
 * The synthesised stack, run on loopback: the bundles `cdk synth` made, each in its own Lambda-like
 * environments (test/support/lambda-harness.ts) with the environment variables the template gives
 * it; the state machine definition the stack deploys, with the template's DefinitionSubstitutions,
 * run by aws-local-stepfunctions; and small stand-ins for the AWS services the bundles call:
 *
 * - API Gateway (HTTP API, payload v2): the API routes to their functions;
 * - Step Functions: StartExecution starts the local run, SendTaskSuccess/Failure settle the waiting
 *   `.waitForTaskToken` task (which aws-local-stepfunctions cannot do itself);
 * - Secrets Manager: each secret the template creates, holding the sandbox's credentials;
 * - EventBridge Scheduler: CreateSchedule/DeleteSchedule recorded;
 * - DynamoDB: dynalite; Jira, Slack, Okta, Graph, Google: the sandbox's simulated services.
 *
 * Only endpoints differ from AWS: the deployment's connector URLs are pointed at the sandbox, the
 * SDK's at the stand-ins (AWS_ENDPOINT_URL_<SERVICE>), with fake credentials. Nothing leaves 127.0.0.1.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseCatalog } from '../../shared/catalog/load.js';
import { API_ROUTES, FUNCTION_NAMES, type FunctionName } from '../../infra/cdk/functions.js';
import { LAMBDA_TASK_ROOT, REPO_ROOT } from '../../infra/cdk/paths.js';
import { SECRET_LAYOUT, type SecretKey } from '../../infra/cdk/secrets.js';
import { SandboxClient, startSandbox, type Sandbox } from '../../infra/local/sandbox/index.js';
import type { CliSynth } from '../cdk/cli-synth.js';
import { StateMachine } from 'aws-local-stepfunctions';
import { startDynamo, type TestDynamo } from './dynamo.js';
import { LocalLambda, StepFunctionsTaskError } from './lambda-harness.js';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';

// ---------------------------------------------------------------------------------------------
// CloudFormation values → what they would be once deployed
// ---------------------------------------------------------------------------------------------

/** Resolves Ref / Fn::GetAtt / Fn::Join / Fn::Sub as CloudFormation would in this local "account". */
export class CfnResolver {
  constructor(
    private readonly resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>,
    private readonly refs: Record<string, string>,
  ) {}

  resolve(value: unknown): string {
    if (typeof value === 'string') return value;
    if (typeof value !== 'object' || value === null) return String(value);
    const v = value as Record<string, unknown>;
    if ('Ref' in v) return this.ref(String(v.Ref));
    if ('Fn::GetAtt' in v) {
      const [id, attr] = v['Fn::GetAtt'] as [string, string];
      return this.getAtt(id, attr);
    }
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => this.resolve(p)).join(sep);
    }
    if ('Fn::Sub' in v) return String(v['Fn::Sub']).replace(/\$\{([\w:.]+)\}/g, (_m, name: string) => this.ref(name));
    throw new Error(`cannot resolve ${JSON.stringify(value)}`);
  }

  /** A function's ARN: with its FunctionName when the template sets one, else a generated name (the logical id here). */
  functionArn(logicalId: string): string {
    const name = (this.resources[logicalId] as { Properties?: { FunctionName?: unknown } } | undefined)?.Properties?.FunctionName;
    return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name === undefined ? logicalId : this.resolve(name)}`;
  }

  private ref(name: string): string {
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': REGION,
      'AWS::AccountId': ACCOUNT,
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': 'Grantline',
    };
    const value = pseudo[name] ?? this.refs[name];
    if (value !== undefined) return value;
    if (!this.resources[name]) throw new Error(`Ref to unknown ${name}`);
    return `local-${name}`;
  }

  private getAtt(id: string, attr: string): string {
    const type = this.resources[id]?.Type;
    if (type === 'AWS::Lambda::Function' && attr === 'Arn') return this.functionArn(id);
    if (!type) throw new Error(`Fn::GetAtt of unknown ${id}`);
    return `arn:aws:local:${REGION}:${ACCOUNT}:${id}/${attr}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Step Functions: the deployed definition run by aws-local-stepfunctions, task states → bundles
// ---------------------------------------------------------------------------------------------

export interface ExecutionRecord {
  name: string;
  input: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  /** States entered, in order. */
  states: string[];
  /** Each state's input when entered (the last entry of a state wins). */
  inputs: Record<string, unknown>;
  /** States retried by their Retry rules, once per retry. */
  retries: string[];
  /** Task tokens the execution is waiting on (.waitForTaskToken), once the task's function has returned. */
  waitingTokens: Set<string>;
  output?: unknown;
  error?: { Error?: string; Cause?: string };
  done: Promise<void>;
}

interface Waiter {
  execution: ExecutionRecord;
  resolve: (output: unknown) => void;
  reject: (err: Error) => void;
}

class BundledStateMachine {
  readonly executions = new Map<string, ExecutionRecord>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly aborts = new Set<() => void>();
  private readonly machine: InstanceType<typeof StateMachine>;
  private readonly definition: { States: Record<string, { Type: string; Resource?: string; Parameters?: { FunctionName?: string } }> };

  constructor(
    definitionText: string,
    private readonly functionsByArn: Map<string, LocalLambda>,
    private readonly retryIntervalMs: number,
  ) {
    this.definition = JSON.parse(definitionText) as typeof this.definition;
    this.machine = new StateMachine(this.definition as never, { validationOptions: { checkArn: false, checkPaths: true } });
  }

  start(name: string, input: string): ExecutionRecord {
    const record: ExecutionRecord = { name, input, status: 'RUNNING', states: [], inputs: {}, retries: [], waitingTokens: new Set(), done: Promise.resolve() };
    this.executions.set(name, record);
    const overrides: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [state, def] of Object.entries(this.definition.States)) {
      if (def.Type !== 'Task') continue;
      const arn = def.Parameters?.FunctionName ?? def.Resource ?? '';
      const fn = this.functionsByArn.get(arn);
      if (!fn) throw new Error(`state ${state} invokes ${arn}, which is none of the synthesised functions`);
      overrides[state] = def.Resource?.endsWith('.waitForTaskToken') ? (i) => this.invokeAndWait(record, fn, i) : (i) => this.invoke(fn, i);
    }
    const execution = this.machine.run(JSON.parse(input) as never, {
      overrides: {
        taskResourceLocalHandlers: overrides as never,
        retryIntervalOverrides: Object.fromEntries(Object.keys(this.definition.States).map((s) => [s, this.retryIntervalMs])),
      },
      context: { Execution: { Name: name }, Task: { Token: TOKEN_PLACEHOLDER } },
      noThrowOnAbort: true,
    });
    this.aborts.add(execution.abort);
    const events = (async () => {
      for await (const event of execution.eventLogs) {
        if (event.type === 'StateEntered') {
          record.states.push(event.state.name);
          record.inputs[event.state.name] = event.state.input;
        }
        if (event.type === 'StateRetried') record.retries.push(event.state.name);
        if (event.type === 'ExecutionFailed') record.error = { Error: String(event.Error), Cause: String(event.Cause) };
      }
    })();
    record.done = execution.result.then(
      async (output) => {
        await events.catch(() => undefined);
        record.output = output;
        record.status = 'SUCCEEDED';
      },
      async () => {
        await events.catch(() => undefined);
        record.status = 'FAILED';
      },
    );
    void record.done.finally(() => this.aborts.delete(execution.abort));
    return record;
  }

  /** SendTaskSuccess / SendTaskFailure. */
  settle(token: string, outcome: { output: string } | { error?: string; cause?: string }): boolean {
    const waiter = this.waiters.get(token);
    if (!waiter) return false;
    this.waiters.delete(token);
    waiter.execution.waitingTokens.delete(token);
    if ('output' in outcome) waiter.resolve(JSON.parse(outcome.output));
    else waiter.reject(Object.assign(new Error(outcome.cause ?? ''), { name: outcome.error ?? 'States.TaskFailed' }));
    return true;
  }

  stop(): void {
    for (const waiter of this.waiters.values()) waiter.reject(new Error('stopped'));
    this.waiters.clear();
    for (const abort of this.aborts) abort();
  }

  /** A plain Lambda task: the state's input is the event; the function's result is the state's result. */
  private async invoke(fn: LocalLambda, input: unknown): Promise<unknown> {
    const outcome = await fn.invoke(input);
    if (!outcome.ok) throw new StepFunctionsTaskError(outcome.error);
    return outcome.payload;
  }

  /** lambda:invoke.waitForTaskToken: the Payload is the event; the state's result is what SendTaskSuccess sends. */
  private async invokeAndWait(record: ExecutionRecord, fn: LocalLambda, input: unknown): Promise<unknown> {
    const token = `local-token-${randomUUID()}`;
    const { Payload } = JSON.parse(JSON.stringify(input).replaceAll(TOKEN_PLACEHOLDER, token)) as { Payload: unknown };
    const decided = new Promise<unknown>((resolve, reject) => this.waiters.set(token, { execution: record, resolve, reject }));
    decided.catch(() => undefined);
    try {
      const outcome = await fn.invoke(Payload);
      if (!outcome.ok) throw new StepFunctionsTaskError(outcome.error);
      // Waiting (what `settled` reports) once the function has returned, i.e. the approvers have been
      // asked and the token is in the ledger, as when a person can click; unless it was settled meanwhile.
      if (this.waiters.has(token)) record.waitingTokens.add(token);
      return await decided;
    } finally {
      this.waiters.delete(token);
      record.waitingTokens.delete(token);
    }
  }
}

const TOKEN_PLACEHOLDER = 'local-task-token-placeholder';

// ---------------------------------------------------------------------------------------------
// The AWS stand-ins (Step Functions, Secrets Manager, Scheduler) on one loopback server
// ---------------------------------------------------------------------------------------------

export interface ScheduleRecord {
  name: string;
  groupName?: string;
  expression: string;
  targetArn: string;
  input: unknown;
}

class AwsStandIn {
  readonly schedules = new Map<string, ScheduleRecord>();
  /** Every AWS call the bundles made, e.g. "AWSStepFunctions.StartExecution", "scheduler:CreateSchedule". */
  readonly calls: string[] = [];
  url = '';
  private server: Server | undefined;
  workflow: BundledStateMachine | undefined;

  constructor(private readonly secrets: Map<string, Record<string, string>>) {}

  async listen(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const json = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    const target = String(req.headers['x-amz-target'] ?? '');
    const send = (status: number, payload: unknown, errorType?: string) => {
      res.writeHead(status, { 'content-type': 'application/json', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
      res.end(JSON.stringify(errorType ? { __type: errorType, message: String((payload as { message?: string }).message ?? errorType) } : payload));
    };
    this.calls.push(target || `scheduler:${req.method} ${req.url}`);
    if (target === 'AWSStepFunctions.StartExecution') return this.startExecution(json, send);
    if (target === 'AWSStepFunctions.SendTaskSuccess' || target === 'AWSStepFunctions.SendTaskFailure') {
      const outcome = target.endsWith('Success') ? { output: String(json.output) } : { error: json.error as string, cause: json.cause as string };
      return this.workflow?.settle(String(json.taskToken), outcome) ? send(200, {}) : send(400, { message: 'Task does not exist anymore' }, 'TaskDoesNotExist');
    }
    if (target === 'secretsmanager.GetSecretValue') {
      const id = String(json.SecretId);
      const value = this.secrets.get(id);
      if (!value) return send(400, { message: "Secrets Manager can't find the specified secret." }, 'ResourceNotFoundException');
      return send(200, { ARN: id, Name: id, SecretString: JSON.stringify(value), VersionId: 'v1', VersionStages: ['AWSCURRENT'], CreatedDate: 0 });
    }
    const schedule = /^\/schedules\/([^/?]+)/.exec(req.url ?? '');
    if (schedule) {
      const name = decodeURIComponent(schedule[1]!);
      if (req.method === 'POST') {
        if (this.schedules.has(name)) return send(409, { message: `Schedule ${name} already exists.` }, 'ConflictException');
        const t = json.Target as { Arn: string; Input?: string };
        this.schedules.set(name, {
          name,
          groupName: json.GroupName as string,
          expression: String(json.ScheduleExpression),
          targetArn: t.Arn,
          input: t.Input ? JSON.parse(t.Input) : undefined,
        });
        return send(200, { ScheduleArn: `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${String(json.GroupName ?? 'default')}/${name}` });
      }
      if (req.method === 'DELETE') {
        if (!this.schedules.delete(name)) return send(404, { message: `Schedule ${name} does not exist.` }, 'ResourceNotFoundException');
        return send(200, {});
      }
    }
    send(400, { message: `the local AWS stand-in does not implement ${target || `${req.method} ${req.url}`}` }, 'UnknownOperationException');
  }

  private startExecution(json: Record<string, unknown>, send: (status: number, payload: unknown, errorType?: string) => void): void {
    const name = String(json.name ?? randomUUID());
    const input = String(json.input ?? '{}');
    const arn = `${String(json.stateMachineArn).replace(':stateMachine:', ':execution:')}:${name}`;
    const existing = this.workflow!.executions.get(name);
    // As Step Functions: the same name and input while running is the same execution; otherwise the name is taken.
    if (existing && !(existing.status === 'RUNNING' && existing.input === input)) {
      send(400, { message: `Execution Already Exists: '${arn}'` }, 'ExecutionAlreadyExists');
      return;
    }
    if (!existing) this.workflow!.start(name, input);
    send(200, { executionArn: arn, startDate: Date.now() / 1000 });
  }
}

// ---------------------------------------------------------------------------------------------
// API Gateway (HTTP API, payload format 2.0)
// ---------------------------------------------------------------------------------------------

function routeOf(method: string, path: string): { fn: FunctionName; routeKey: string; pathParameters: Record<string, string> } | undefined {
  for (const route of API_ROUTES) {
    if (route.method !== method) continue;
    const keys: string[] = [];
    const pattern = new RegExp(
      `^${route.path.replace(/\{(\w+)\}/g, (_m, k: string) => {
        keys.push(k);
        return '([^/]+)';
      })}$`,
    );
    const match = pattern.exec(path);
    if (match)
      return {
        fn: route.function,
        routeKey: `${route.method} ${route.path}`,
        pathParameters: Object.fromEntries(keys.map((k, i) => [k, decodeURIComponent(match[i + 1]!)])),
      };
  }
  return undefined;
}

async function startApi(functions: Record<FunctionName, LocalLambda>): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://localhost');
      const route = routeOf(req.method ?? 'GET', url.pathname);
      if (!route) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
        return;
      }
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)]));
      const event = {
        version: '2.0',
        routeKey: route.routeKey,
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        headers,
        ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
        ...(Object.keys(route.pathParameters).length ? { pathParameters: route.pathParameters } : {}),
        requestContext: {
          accountId: ACCOUNT,
          apiId: 'local',
          domainName: url.host,
          http: { method: req.method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
          requestId: randomUUID(),
          routeKey: route.routeKey,
          stage: '$default',
          time: new Date().toUTCString(),
          timeEpoch: Date.now(),
        },
        body,
        isBase64Encoded: false,
      };
      const outcome = await functions[route.fn].invoke(event);
      if (!outcome.ok) {
        res.writeHead(500, { 'content-type': 'application/json' }).end('{"message":"Internal Server Error"}');
        return;
      }
      const result = outcome.payload as { statusCode: number; headers?: Record<string, string>; body?: string };
      res.writeHead(result.statusCode, result.headers ?? {}).end(result.body ?? '');
    })().catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The whole stack
// ---------------------------------------------------------------------------------------------

export interface BundledStack {
  sandbox: Sandbox;
  dynamo: TestDynamo;
  /** Files requests as Jira's automation rule and clicks as Slack, through the local API Gateway. */
  client: SandboxClient;
  functions: Record<FunctionName, LocalLambda>;
  executions: Map<string, ExecutionRecord>;
  schedules: Map<string, ScheduleRecord>;
  /** The ARN the template gives a function. */
  functionArn(name: FunctionName): string;
  /** Resolves once the execution is finished, or waits on a task token (an approval). */
  settled(grantId: string, timeoutMs?: number): Promise<ExecutionRecord>;
  /** Resolves once the execution is finished. */
  finished(grantId: string, timeoutMs?: number): Promise<ExecutionRecord>;
  close(): Promise<void>;
}

export interface BundledStackOptions {
  /** Every Retry interval, in ms (the ASL's are seconds to minutes). */
  retryIntervalMs?: number;
  /** Function timeouts to use instead of the template's (seconds), e.g. to see a timeout quickly. */
  timeoutSeconds?: Partial<Record<FunctionName, number>>;
  onLog?: (line: string) => void;
}

/** Endpoint settings of the deployment (not credentials): pointed at the sandbox's simulated services. */
const SANDBOX_ENDPOINT_SETTINGS = [
  'JIRA_BASE_URL',
  'SLACK_API_URL',
  'OKTA_ORG_URL',
  'GRAPH_BASE_URL',
  'AZURE_AUTHORITY_HOST',
  'GRAPH_EXTRA_CA_FILE',
  'GOOGLE_ADMIN_ROOT_URL',
];

export async function startBundledStack(synth: CliSynth, options: BundledStackOptions = {}): Promise<BundledStack> {
  const { template } = synth;
  // The catalog the packages were built from seeds the sandbox's people and groups.
  const catalog = parseCatalog(readFileSync(join(REPO_ROOT, 'catalog.yaml'), 'utf8'));
  if (!catalog.ok) throw new Error(`catalog.yaml is invalid: ${JSON.stringify(catalog.problems)}`);
  const sandbox = await startSandbox(catalog.catalog);
  const dynamo = await startDynamo();
  const dynamoEndpoint = await dynamo.client.config.endpoint?.();
  if (!dynamoEndpoint) throw new Error('the test DynamoDB client has no endpoint');

  // Each secret the stack creates, holding the sandbox's values for its keys.
  const secrets = new Map<string, Record<string, string>>();
  const refs: Record<string, string> = {};
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type === 'AWS::DynamoDB::Table' || r.Type === 'AWS::DynamoDB::GlobalTable') refs[id] = dynamo.store.table; // the dynalite table
    if (r.Type !== 'AWS::SecretsManager::Secret') continue;
    const key = /^Grantline\/Secrets\/(\w+)\/Resource$/.exec(String(r.Metadata?.['aws:cdk:path']))?.[1];
    const layoutKey = key && ((key.charAt(0).toLowerCase() + key.slice(1)) as SecretKey);
    if (!layoutKey || !(layoutKey in SECRET_LAYOUT)) throw new Error(`secret ${id} has no layout`);
    const arn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${id}`;
    refs[id] = arn;
    const keys: string[] = [...SECRET_LAYOUT[layoutKey].keys, ...(layoutKey === 'google' ? ['GOOGLE_ACCESS_TOKEN'] : [])];
    secrets.set(arn, pick(sandbox.env, keys));
  }
  const cfn = new CfnResolver(template.Resources, refs);

  const aws = new AwsStandIn(secrets);
  await aws.listen();
  const endpoints = pick(sandbox.env, SANDBOX_ENDPOINT_SETTINGS);
  const awsEnv = {
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'ASIALOCALTESTONLY',
    AWS_SECRET_ACCESS_KEY: 'local-test-only',
    AWS_SESSION_TOKEN: 'local-test-only',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL_DYNAMODB: `${dynamoEndpoint.protocol}//${dynamoEndpoint.hostname}:${dynamoEndpoint.port}`,
    AWS_ENDPOINT_URL_SFN: aws.url,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
    AWS_ENDPOINT_URL_SCHEDULER: aws.url,
  };

  const functions = Object.fromEntries(
    FUNCTION_NAMES.map((name) => {
      const f = synth.functions[name];
      const props = f.resource.Properties as { Handler: string; Timeout?: number; MemorySize?: number; Environment?: { Variables?: Record<string, unknown> } };
      const variables = Object.fromEntries(
        Object.entries(props.Environment?.Variables ?? {}).map(([k, v]) => {
          const value = cfn.resolve(v);
          return [k, value.startsWith(`${LAMBDA_TASK_ROOT}/`) ? join(f.dir, value.slice(LAMBDA_TASK_ROOT.length + 1)) : value];
        }),
      );
      const lambda = new LocalLambda({
        name: f.logicalId,
        arn: cfn.functionArn(f.logicalId),
        dir: f.dir,
        handler: props.Handler,
        timeoutSeconds: options.timeoutSeconds?.[name] ?? props.Timeout ?? 3,
        memoryMb: props.MemorySize ?? 128,
        environment: { ...variables, ...endpoints, ...awsEnv },
        ...(options.onLog ? { onLog: options.onLog } : {}),
      });
      return [name, lambda];
    }),
  ) as Record<FunctionName, LocalLambda>;

  // The definition as deployed, with the template's substitutions: task states name the synthesised functions.
  const definitionText = synth.definitionText.replace(/\$\{(\w+)\}/g, (_m, name: string) => {
    if (!(name in synth.definitionSubstitutions)) throw new Error(`no DefinitionSubstitutions entry for \${${name}}`);
    return cfn.resolve(synth.definitionSubstitutions[name]);
  });
  const byArn = new Map(Object.values(functions).map((fn) => [fn.arn, fn]));
  const workflow = new BundledStateMachine(definitionText, byArn, options.retryIntervalMs ?? 10);
  aws.workflow = workflow;

  const api = await startApi(functions);
  const client = new SandboxClient(sandbox, api.url, { ...sandbox.env });

  const waitFor = async (grantId: string, done: (r: ExecutionRecord) => boolean, timeoutMs: number, what: string) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const record = workflow.executions.get(grantId);
      if (record && done(record)) return record;
      if (Date.now() > deadline)
        throw new Error(`execution ${grantId} not ${what} within ${timeoutMs} ms (states: ${record?.states.join(' > ') ?? 'not started'})`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  return {
    sandbox,
    dynamo,
    client,
    functions,
    executions: workflow.executions,
    schedules: aws.schedules,
    functionArn: (name) => functions[name].arn,
    settled: (grantId, timeoutMs = 60_000) => waitFor(grantId, (r) => r.status !== 'RUNNING' || r.waitingTokens.size > 0, timeoutMs, 'settled'),
    finished: (grantId, timeoutMs = 60_000) => waitFor(grantId, (r) => r.status !== 'RUNNING', timeoutMs, 'finished'),
    async close() {
      workflow.stop();
      await Promise.allSettled([...workflow.executions.values()].map((e) => e.done));
      await api.close();
      await Promise.all(Object.values(functions).map((fn) => fn.stop()));
      await aws.close();
      await sandbox.close();
      await dynamo.close();
    },
  };
}

/** The settings of `env` named in `keys` that have a value. */
function pick(env: Record<string, string | undefined>, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of keys) if (env[key]) out[key] = env[key];
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
