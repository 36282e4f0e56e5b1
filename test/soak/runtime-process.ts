/**
 * The Grantline local runtime as a child process in connected mode (`infra/local/main.ts` pointed
 * at the sandbox), so the soak can SIGKILL it at any moment and start it again on the same data
 * directory, as a crash and a redeploy would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';

const START_TIMEOUT_MS = 120_000;

export interface RuntimeProcessOptions {
  /** The repository root (where infra/local/main.ts is). */
  root: string;
  env: Record<string, string>;
  /** The child's stdout and stderr are appended here. */
  logFile: string;
}

export class RuntimeProcess {
  private child: ChildProcess | undefined;
  private readonly log: WriteStream;
  private port = 0;
  private readonly stopping = new WeakSet<ChildProcess>();
  starts = 0;
  /** Exits nobody asked for (a crash of the runtime itself). */
  readonly crashes: string[] = [];

  constructor(private readonly options: RuntimeProcessOptions) {
    this.log = createWriteStream(options.logFile, { flags: 'a' });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the runtime and resolves once it listens (the same port on every start). */
  async start(): Promise<void> {
    if (this.child) throw new Error('the runtime is already running');
    this.port ||= await freePort();
    this.starts += 1;
    this.log.write(`\n--- soak: start #${this.starts} at ${new Date().toISOString()}\n`);
    // node --import tsx, not the tsx binary: tsx runs a second process that a SIGKILL would orphan.
    const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/main.ts'], {
      cwd: this.options.root,
      env: { ...this.options.env, PORT: String(this.port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stderr!.pipe(this.log, { end: false });
    child.stdout!.pipe(this.log, { end: false });
    let exited: string | undefined;
    child.once('exit', (code, signal) => {
      exited = `code ${code}, signal ${signal}`;
      if (this.child === child) this.child = undefined;
      if (!this.stopping.has(child)) this.crashes.push(`start #${this.starts} exited by itself (${exited})`);
    });
    await this.waitUntilServing(() => exited);
  }

  /** Ready once GET /healthz answers (before main.ts finishes re-driving, as traffic would arrive). */
  private async waitUntilServing(exited: () => string | undefined): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const exit = exited();
      if (exit) throw new Error(`the runtime exited while starting (${exit}); see ${this.options.logFile}:\n${this.logTail()}`);
      const healthy = await fetch(`${this.url}/healthz`).then(
        (res) => res.ok,
        () => false,
      );
      if (healthy) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`the runtime did not start within ${START_TIMEOUT_MS / 1000} s; see ${this.options.logFile}:\n${this.logTail()}`);
  }

  /** SIGKILL: no shutdown hooks run, in-flight work is cut wherever it is. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    this.stopping.add(child);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  /** Graceful stop at the end of a run (SIGKILL after 10 s); closes the log. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child) {
      this.child = undefined;
      this.stopping.add(child);
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const forced = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(forced);
    }
    await new Promise<void>((resolve) => this.log.end(resolve));
  }

  private logTail(): string {
    try {
      return readFileSync(this.options.logFile, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
