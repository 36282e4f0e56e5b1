/**
 * The local workflow runtime: runs statemachines/access-request.asl.json, the very file CDK
 * deploys, with aws-local-stepfunctions. Task states call the same task functions the Lambdas run.
 * The runner has no `.waitForTaskToken`, so the approval task is overridden by a handler that
 * returns a promise settled when the decision is delivered (completeApproval) — the same port
 * the Slack handler uses against Step Functions in AWS.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LifecycleDeps } from '../../shared/services.js';
import type { Logger } from '../../shared/logger.js';
import type { WorkflowRuntime } from '../../shared/ports.js';
import { tasks, type TaskName } from '../../shared/tasks.js';

// npm scripts run on Node 22 (the `node` package), which has the Promise.withResolvers aws-local-stepfunctions needs.
import { StateMachine } from 'aws-local-stepfunctions';

const DEFAULT_MAX_TIMEOUT_SECONDS = 20 * 24 * 3600;

export const DEFINITION_PATH = fileURLToPath(new URL('../../statemachines/access-request.asl.json', import.meta.url));

const PLACEHOLDER_FUNCTIONS: Record<string, TaskName> = {
  AdvanceFunctionArn: 'Advance',
  RequestApprovalFunctionArn: 'RequestApproval',
  ApprovalTimerFunctionArn: 'ApprovalTimer',
  ProvisionFunctionArn: 'Provision',
  ScheduleRevocationFunctionArn: 'ScheduleRevocation',
  BreakGlassReviewFunctionArn: 'BreakGlassReview',
  RecordFailureFunctionArn: 'RecordFailure',
  RevokeFunctionArn: 'Revoke',
};

/** The same substitution CDK does with definitionSubstitutions, with local stand-in ARNs. */
export function loadDefinition(path = DEFINITION_PATH): Record<string, unknown> {
  const text = readFileSync(path, 'utf8').replace(/\$\{(\w+)\}/g, (_, name: string) => {
    if (name === 'Partition') return 'aws';
    if (!(name in PLACEHOLDER_FUNCTIONS)) throw new Error(`unknown placeholder \${${name}} in ${path}`);
    return `arn:aws:lambda:us-east-1:000000000000:function:grantline-local-${name}`;
  });
  return JSON.parse(text) as Record<string, unknown>;
}

export interface ExecutionRecord {
  name: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  /** States entered, in order: tests assert on the path taken. */
  states: string[];
  /** States retried by their Retry rules, once per retry. */
  retries: string[];
  /** True while the execution waits for an approval decision. */
  waitingForApproval: boolean;
  /** True while the execution waits in a Wait state (a break-glass grant's review, until it is due). */
  waitingForReview: boolean;
  output?: unknown;
  error?: string;
  done: Promise<void>;
}

export interface LocalWorkflowOptions {
  logger: Logger;
  /** Overrides every Retry interval (ms): tests run retries without waiting minutes. */
  retryIntervalMs?: number;
  /** Upper bound for a task timeout (s): Node timers overflow past ~24.8 days. */
  maxTimeoutSeconds?: number;
}

export class LocalWorkflow implements WorkflowRuntime {
  private readonly definition = loadDefinition();
  /** Each Task state and the task its function runs (a state may be named apart from its task, e.g. RevokeNow). */
  private readonly taskOfState = tasksByState(this.definition);
  /** The Wait states (AwaitReview): an execution in one is quiet. */
  private readonly waitStates = new Set(
    Object.entries(this.definition.States as Record<string, { Type: string }>).flatMap(([name, state]) => (state.Type === 'Wait' ? [name] : [])),
  );
  /** Built and validated once (about 90 ms), then run for every execution. */
  private readonly machine: InstanceType<typeof StateMachine>;
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly waiting = new Map<string, { resolve: (output: unknown) => void; reject: (err: Error) => void }>();
  /** Task calls still running: stop() waits for them so nothing writes after the store closes. */
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly aborts = new Map<string, () => void>();
  private stopped = false;
  private deps: LifecycleDeps | undefined;

  constructor(private readonly options: LocalWorkflowOptions) {
    clampTimeouts(this.definition, options.maxTimeoutSeconds ?? DEFAULT_MAX_TIMEOUT_SECONDS);
    this.machine = new StateMachine(this.definition as never, { validationOptions: { checkArn: false, checkPaths: true } });
  }

  /** The tasks need the full dependency set, which itself contains this runtime. */
  bind(deps: LifecycleDeps): void {
    this.deps = deps;
  }

  async start(grantId: string): Promise<'started' | 'already_started'> {
    if (this.stopped) throw new Error('the local workflow runtime is stopping');
    const current = this.executions.get(grantId);
    if (current && current.status === 'RUNNING') return 'already_started';
    if (current && current.status === 'SUCCEEDED') return 'already_started';
    this.run(grantId);
    return 'started';
  }

  async completeApproval(taskToken: string, output: { decision: 'approved' | 'denied' }): Promise<'delivered' | 'expired'> {
    const waiter = this.waiting.get(taskToken);
    if (!waiter) return 'expired';
    this.waiting.delete(taskToken);
    waiter.resolve(output);
    return 'delivered';
  }

  execution(grantId: string): ExecutionRecord | undefined {
    return this.executions.get(grantId);
  }

  /** Aborts running executions and waits for their task calls to return (before the store closes). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const waiter of this.waiting.values()) waiter.reject(new Error('the local runtime stopped'));
    this.waiting.clear();
    for (const abort of this.aborts.values()) abort();
    await Promise.allSettled([...this.inflight]);
    await Promise.allSettled([...this.executions.values()].map((e) => e.done));
  }

  /** Resolves once the execution has finished, is waiting for an approval decision, or waits for a break-glass review to fall due. */
  async quiet(grantId: string, timeoutMs = 10_000): Promise<ExecutionRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const record = this.executions.get(grantId);
      if (record && (record.status !== 'RUNNING' || record.waitingForApproval || record.waitingForReview)) return record;
      if (Date.now() > deadline) throw new Error(`execution ${grantId} did not settle within ${timeoutMs} ms (states: ${record?.states.join(' > ')})`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private run(grantId: string): void {
    const deps = this.deps;
    if (!deps) throw new Error('LocalWorkflow.bind(deps) must be called before start');
    const record: ExecutionRecord = {
      name: grantId,
      status: 'RUNNING',
      states: [],
      retries: [],
      waitingForApproval: false,
      waitingForReview: false,
      done: Promise.resolve(),
    };
    this.executions.set(grantId, record);
    const overrides: Record<string, (input: unknown) => Promise<never>> = {};
    const call = <T>(work: Promise<T>): Promise<T> => {
      this.inflight.add(work);
      void work.catch(() => undefined).finally(() => this.inflight.delete(work));
      return work;
    };
    for (const [state, task] of Object.entries(this.taskOfState)) {
      overrides[state] = async (input: unknown) => (await call(tasks[task](deps, input))) as never;
    }
    const maxTimeout = this.options.maxTimeoutSeconds ?? DEFAULT_MAX_TIMEOUT_SECONDS;
    overrides.Advance = async (input: unknown) => {
      const next = (await call(tasks.Advance(deps, input))) as { waitSeconds: number };
      return { ...next, waitSeconds: Math.min(next.waitSeconds, maxTimeout) } as never;
    };
    overrides.RequestApproval = async (input: unknown) => {
      const payload = (input as { Payload?: Record<string, unknown> }).Payload ?? {};
      const taskToken = `local-${randomUUID()}`;
      const decided = new Promise<unknown>((resolve, reject) => this.waiting.set(taskToken, { resolve, reject }));
      decided.catch(() => undefined);
      await call(tasks.RequestApproval(deps, { ...payload, taskToken }));
      record.waitingForApproval = true;
      try {
        return (await decided) as never;
      } finally {
        record.waitingForApproval = false;
      }
    };
    const retryIntervalOverrides =
      this.options.retryIntervalMs === undefined
        ? undefined
        : Object.fromEntries(Object.keys(this.definition.States as object).map((s) => [s, this.options.retryIntervalMs!]));
    const execution = this.machine.run(
      { grantId },
      {
        overrides: { taskResourceLocalHandlers: overrides, ...(retryIntervalOverrides ? { retryIntervalOverrides } : {}) },
        context: { Execution: { Name: grantId }, Task: { Token: 'replaced-by-local-override' } },
        noThrowOnAbort: true,
      },
    );
    this.aborts.set(grantId, execution.abort);
    const events = (async () => {
      for await (const event of execution.eventLogs) {
        if (event.type === 'StateEntered') record.states.push(event.state.name);
        if ('state' in event && this.waitStates.has(event.state.name)) record.waitingForReview = event.type === 'StateEntered';
        if (event.type === 'StateRetried') record.retries.push(event.state.name);
      }
    })();
    record.done = execution.result.then(
      async (output) => {
        this.aborts.delete(grantId);
        await events.catch(() => undefined);
        record.status = 'SUCCEEDED';
        record.output = output;
      },
      async (err: unknown) => {
        this.aborts.delete(grantId);
        await events.catch(() => undefined);
        record.status = 'FAILED';
        record.error = err instanceof Error ? err.message : String(err);
        this.options.logger.error('workflow execution failed', { grantId, error: record.error });
      },
    );
  }
}

function tasksByState(definition: Record<string, unknown>): Record<string, TaskName> {
  const out: Record<string, TaskName> = {};
  for (const [name, state] of Object.entries(
    definition.States as Record<string, { Type: string; Resource?: string; Parameters?: { FunctionName?: string } }>,
  )) {
    if (state.Type !== 'Task') continue;
    const arn = state.Parameters?.FunctionName ?? state.Resource ?? '';
    const placeholder = arn.split(':function:grantline-local-')[1];
    const task = placeholder ? PLACEHOLDER_FUNCTIONS[placeholder] : undefined;
    if (!task) throw new Error(`state ${name} calls ${arn}, which is no local task`);
    out[name] = task;
  }
  return out;
}

function clampTimeouts(definition: Record<string, unknown>, max: number): void {
  if (typeof definition.TimeoutSeconds === 'number') definition.TimeoutSeconds = Math.min(definition.TimeoutSeconds, max);
  for (const state of Object.values(definition.States as Record<string, Record<string, unknown>>)) {
    if (typeof state.TimeoutSeconds === 'number') state.TimeoutSeconds = Math.min(state.TimeoutSeconds, max);
  }
}
