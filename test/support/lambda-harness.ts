/**
 * A local stand-in for AWS Lambda that keeps Lambda's contract, to run the bundles `cdk synth`
 * makes rather than the TypeScript source:
 *
 * - each execution environment is a separate `node` process that loads the bundle once (the cold
 *   start) and stays warm between invocations; one invocation at a time per environment, a new
 *   environment when all are busy;
 * - the event goes in as JSON text and the result comes out as JSON text;
 * - a thrown error comes out as `{errorType: err.name, errorMessage, trace}`;
 * - an invocation that outlives the function's timeout is `Sandbox.Timedout`, and its environment
 *   is discarded (the next invocation is a cold start);
 * - the environment holds the function's variables and Lambda's own, nothing of the test process.
 *
 *   const fn = new LocalLambda({ name, dir, handler: 'index.handler', timeoutSeconds: 30, memoryMb: 512, environment });
 *   const outcome = await fn.invoke({ grantId: 'g1' }); // { ok: true, payload } or { ok: false, error }
 *   await fn.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const BOOTSTRAP = fileURLToPath(new URL('./lambda-bootstrap.mjs', import.meta.url));

export interface LambdaError {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

export type Invocation = { ok: true; payload: unknown } | { ok: false; error: LambdaError };

export interface LocalLambdaOptions {
  name: string;
  arn?: string;
  /** The unzipped package (LAMBDA_TASK_ROOT). */
  dir: string;
  /** e.g. "index.handler". */
  handler: string;
  timeoutSeconds: number;
  memoryMb: number;
  environment: Record<string, string>;
  /** Where the environment's stdout/stderr go (default: kept, see `logs`). */
  onLog?: (line: string) => void;
}

interface Environment {
  child: ChildProcess;
  ready: Promise<void>;
  busy: boolean;
}

type Reply = { type: 'ready' } | { type: 'result'; id: string; payload: string } | { type: 'error'; id: string; error: LambdaError };

export class LocalLambda {
  private readonly environments = new Set<Environment>();
  /** The last lines the environments wrote (their log output), newest last. */
  readonly logs: string[] = [];
  /** How many environments were started: cold starts. */
  coldStarts = 0;

  constructor(readonly options: LocalLambdaOptions) {}

  get arn(): string {
    return this.options.arn ?? `arn:aws:lambda:us-east-1:000000000000:function:${this.options.name}`;
  }

  async invoke(event: unknown): Promise<Invocation> {
    const eventText = JSON.stringify(event ?? null);
    const env = [...this.environments].find((e) => !e.busy) ?? this.start();
    env.busy = true;
    const deadline = Date.now() + this.options.timeoutSeconds * 1000;
    try {
      const id = randomUUID();
      // The timeout covers the cold start too, as Lambda's does for an on-demand init.
      const outcome = await new Promise<Invocation | 'timeout' | 'exited'>((resolve) => {
        const timer = setTimeout(() => finish('timeout'), Math.max(0, deadline - Date.now()));
        const onMessage = (msg: Reply) => {
          if (msg.type === 'ready' || msg.id !== id) return;
          finish(msg.type === 'result' ? { ok: true, payload: JSON.parse(msg.payload) as unknown } : { ok: false, error: msg.error });
        };
        const onExit = () => finish('exited');
        const finish = (result: Invocation | 'timeout' | 'exited') => {
          clearTimeout(timer);
          env.child.off('message', onMessage);
          env.child.off('exit', onExit);
          resolve(result);
        };
        env.child.on('message', onMessage);
        env.child.once('exit', onExit);
        env.ready.then(
          () => env.child.send({ type: 'invoke', id, event: eventText, deadline, functionArn: this.arn }),
          () => finish('exited'),
        );
      });
      if (outcome === 'timeout') {
        this.discard(env);
        const seconds = this.options.timeoutSeconds.toFixed(2);
        return { ok: false, error: { errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${seconds} seconds`, trace: [] } };
      }
      if (outcome === 'exited') {
        this.discard(env);
        return { ok: false, error: { errorType: 'Runtime.ExitError', errorMessage: 'RequestId: local Error: Runtime exited', trace: [] } };
      }
      return outcome;
    } finally {
      env.busy = false;
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.environments].map((e) => this.discard(e)));
  }

  private start(): Environment {
    const { dir, handler, memoryMb, name, environment } = this.options;
    const child = spawn(process.execPath, [BOOTSTRAP, dir, handler], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: {
        PATH: process.env.PATH,
        TZ: ':UTC',
        LANG: 'en_US.UTF-8',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
        AWS_LAMBDA_FUNCTION_NAME: name,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
        LAMBDA_TASK_ROOT: dir,
        ...environment,
      },
    });
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        if (this.options.onLog) this.options.onLog(`[${name}] ${line}`);
        this.logs.push(line);
        if (this.logs.length > 500) this.logs.shift();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const ready = new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) =>
        reject(new Error(`${name}: the execution environment exited (${code}) before it was ready: ${this.logs.slice(-5).join(' | ')}`)),
      );
    });
    ready.catch(() => undefined);
    const env: Environment = { child, ready, busy: false };
    this.environments.add(env);
    this.coldStarts += 1;
    return env;
  }

  private async discard(env: Environment): Promise<void> {
    this.environments.delete(env);
    if (env.child.exitCode !== null || env.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => env.child.once('exit', () => resolve()));
    env.child.kill('SIGKILL');
    await exited;
  }
}

/**
 * What Step Functions makes of a failed Lambda invocation: Error = the errorType, Cause = the JSON
 * of {errorType, errorMessage, trace}. Thrown from a local task handler, aws-local-stepfunctions
 * matches Retry/Catch on `name` and puts `message` in the Cause.
 */
export class StepFunctionsTaskError extends Error {
  constructor(readonly lambdaError: LambdaError) {
    super(JSON.stringify({ errorType: lambdaError.errorType, errorMessage: lambdaError.errorMessage, trace: lambdaError.trace }));
    this.name = lambdaError.errorType;
  }
}
