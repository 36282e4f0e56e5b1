/**
 * A small loopback HTTP server for the simulated SaaS services (the sandbox of `npm start` and the
 * connector tests). Each service registers routes that answer as the real API does; faults
 * (429 with rate-limit headers, 5xx, 401) can be queued to exercise retries, and the outages a
 * network has can be played too: slow answers, no answer at all, a change applied whose reply is
 * lost, a service down for a while, each on every request or on a random share of them.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  rawBody: string;
  /** Parsed JSON body, or form fields (application/x-www-form-urlencoded) as an object; undefined when empty. */
  body: unknown;
  params: Record<string, string>;
}

export interface FakeResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export type RouteHandler = (req: FakeRequest) => FakeResponse | Promise<FakeResponse>;

/**
 * What a faulty request gets:
 * - `answer` (default): `status`/`headers`/`body` instead of the route's answer; nothing is applied;
 * - `slow`: the route answers normally after `delayMs`;
 * - `hang`: no answer for `delayMs` (past the client's timeout), then the connection is dropped; nothing is applied;
 * - `reply_lost`: the route runs (the change is applied), then the client gets `status` (e.g. 502)
 *   or, without a status, a dropped connection.
 */
export type FaultAction = 'answer' | 'slow' | 'hang' | 'reply_lost';

export interface Fault {
  method?: string;
  /** Matches when the request path starts with this prefix (or matches the RegExp). */
  path?: string | RegExp;
  /** A further condition on the request (e.g. a Slack DM to one user). */
  when?: (req: FakeRequest) => boolean;
  action?: FaultAction;
  /** Required for `answer`; for `reply_lost`, the status the client sees (none: the connection is dropped). */
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Builds the answer when it is served, instead of status/headers/body (e.g. a rate-limit reset relative to now). */
  respond?: () => FakeResponse;
  /** For `slow` and `hang`. */
  delayMs?: number;
  /** How many matching requests get this fault (default 1; unlimited when `rate` or `until` is given). */
  times?: number;
  /** Share of matching requests (0..1) that get the fault, drawn from the fake's random source. */
  rate?: number;
  /** The fault is over at this time (ms since the epoch): a service down for a period. */
  until?: number;
  /** A name for counting (e.g. "rate_limit"); defaults to the action. */
  label?: string;
}

/** A fault as it was served, for counting and for a run's report. */
export interface ServedFault {
  service: string;
  label: string;
  method: string;
  path: string;
}

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: RouteHandler;
}

/** Requests a fake keeps for assertions, at least (see HttpFake.requests). */
export const KEPT_REQUESTS = 20_000;

export class HttpFake {
  private readonly routes: Route[] = [];
  private readonly faults: Array<Fault & { remaining: number }> = [];
  private server: Server | undefined;
  private random: () => number = Math.random;
  /**
   * The requests received, in order, for assertions: the latest KEPT_REQUESTS at least (older ones
   * are let go, so a long soak or a sandbox left running does not hold every body it was sent).
   */
  readonly requests: FakeRequest[] = [];
  /** How many requests were received in all. */
  received = 0;
  /** Every fault served, in order. */
  readonly servedFaults: ServedFault[] = [];
  url = '';

  constructor(
    readonly serviceName: string,
    /** Requests kept for assertions, at least; up to twice as many are held before the older ones go. */
    private readonly keepRequests = KEPT_REQUESTS,
  ) {}

  /** Registers a route; `:name` segments become params (e.g. `/api/v1/groups/:groupId/users/:userId`). */
  route(method: string, path: string, handler: RouteHandler): this {
    const keys: string[] = [];
    const source = path
      .split('/')
      .map((seg) => {
        if (seg.startsWith(':')) {
          keys.push(seg.slice(1));
          return '([^/]+)';
        }
        return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.routes.push({ method: method.toUpperCase(), pattern: new RegExp(`^${source}/?$`), keys, handler });
    return this;
  }

  injectFault(fault: Fault): void {
    const unlimited = fault.rate !== undefined || fault.until !== undefined;
    this.faults.push({ ...fault, remaining: fault.times ?? (unlimited ? Infinity : 1) });
  }

  /** The random source for `rate` faults: give a seeded one for a reproducible run. */
  setRandom(random: () => number): void {
    this.random = random;
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** `tls` (PEM certificate and key) serves HTTPS instead of HTTP, for clients that insist on https (Microsoft Graph). */
  async listen(port = 0, host = '127.0.0.1', options: { tls?: { cert: string | Buffer; key: string | Buffer } } = {}): Promise<string> {
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      void this.handle(req, res);
    };
    const { tls } = options;
    this.server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest) : createServer(onRequest);
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    const address = this.server.address() as AddressInfo;
    this.url = `${tls ? 'https' : 'http'}://${host}:${address.port}`;
    return this.url;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = (req.method ?? 'GET').toUpperCase();
    const request: FakeRequest = {
      method,
      path: decodeURIComponent(url.pathname),
      query: url.searchParams,
      headers: req.headers,
      rawBody,
      body: parseBody(rawBody, req.headers['content-type']),
      params: {},
    };
    this.received += 1;
    this.requests.push(request);
    if (this.requests.length > 2 * this.keepRequests) this.requests.splice(0, this.requests.length - this.keepRequests);

    const fault = this.takeFault(request);
    const action = fault?.action ?? 'answer';
    if (fault && (action === 'slow' || action === 'hang')) await sleep(fault.delayMs ?? 0);
    if (fault && action === 'hang') {
      req.socket.destroy();
      return;
    }
    const response = fault && action === 'answer' ? answerOf(fault) : await this.answer(request);
    if (fault && action === 'reply_lost') {
      if (fault.status === undefined && !fault.respond) req.socket.destroy();
      else send(res, answerOf(fault));
      return;
    }
    send(res, response);
  }

  private async answer(request: FakeRequest): Promise<FakeResponse> {
    const match = this.match(request.method, request.path);
    if (!match) return { status: 404, body: { error: `${this.serviceName} fake: no route ${request.method} ${request.path}` } };
    request.params = match.params;
    try {
      return await match.route.handler(request);
    } catch (err) {
      return { status: 500, body: { error: String(err) } };
    }
  }

  private takeFault(req: FakeRequest): Fault | undefined {
    this.dropEndedFaults();
    const index = this.faults.findIndex(
      (f) =>
        (!f.method || f.method.toUpperCase() === req.method) &&
        (!f.path || (typeof f.path === 'string' ? req.path.startsWith(f.path) : f.path.test(req.path))) &&
        (!f.when || f.when(req)) &&
        (f.rate === undefined || this.random() < f.rate),
    );
    if (index < 0) return undefined;
    const fault = this.faults[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    this.servedFaults.push({ service: this.serviceName, label: fault.label ?? fault.action ?? 'answer', method: req.method, path: req.path });
    return fault;
  }

  private dropEndedFaults(): void {
    const now = Date.now();
    const current = this.faults.filter((f) => f.until === undefined || f.until > now);
    this.faults.splice(0, this.faults.length, ...current);
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      for (const [i, key] of route.keys.entries()) params[key] = decodeURIComponent(m[i + 1] ?? '');
      return { route, params };
    }
    return undefined;
  }
}

function answerOf(fault: Fault): FakeResponse {
  if (fault.respond) return fault.respond();
  return { status: fault.status ?? 500, ...(fault.headers ? { headers: fault.headers } : {}), ...(fault.body !== undefined ? { body: fault.body } : {}) };
}

function send(res: ServerResponse, response: FakeResponse): void {
  const headers: Record<string, string> = { ...(response.headers ?? {}) };
  let payload = '';
  if (response.body !== undefined) {
    payload = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
    headers['content-type'] ??= 'application/json';
  }
  res.writeHead(response.status, headers);
  res.end(payload);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function parseBody(raw: string, contentType: string | undefined): unknown {
  if (!raw) return undefined;
  if (contentType?.includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(raw));
  }
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
