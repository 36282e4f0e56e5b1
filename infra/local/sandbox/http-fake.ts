/**
 * A small loopback HTTP server for the simulated SaaS services (the sandbox of `npm start` and the
 * connector tests). Each service registers routes that answer as the real API does; faults
 * (429 with rate-limit headers, 5xx, 401) can be queued to exercise retries.
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

export interface Fault {
  method?: string;
  /** Matches when the request path starts with this prefix (or matches the RegExp). */
  path?: string | RegExp;
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** How many matching requests get this fault (default 1). */
  times?: number;
}

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: RouteHandler;
}

export class HttpFake {
  private readonly routes: Route[] = [];
  private readonly faults: Array<Fault & { remaining: number }> = [];
  private server: Server | undefined;
  /** Every request received, in order, for assertions. */
  readonly requests: FakeRequest[] = [];
  url = '';

  constructor(readonly serviceName: string) {}

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
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
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
    this.requests.push(request);

    let response: FakeResponse;
    const fault = this.takeFault(request);
    if (fault) {
      response = fault;
    } else {
      const match = this.match(method, request.path);
      if (!match) {
        response = { status: 404, body: { error: `${this.serviceName} fake: no route ${method} ${request.path}` } };
      } else {
        request.params = match.params;
        try {
          response = await match.route.handler(request);
        } catch (err) {
          response = { status: 500, body: { error: String(err) } };
        }
      }
    }
    const headers: Record<string, string> = { ...(response.headers ?? {}) };
    let payload = '';
    if (response.body !== undefined) {
      payload = typeof response.body === 'string' ? response.body : JSON.stringify(response.body);
      headers['content-type'] ??= 'application/json';
    }
    res.writeHead(response.status, headers);
    res.end(payload);
  }

  private takeFault(req: FakeRequest): Fault | undefined {
    const index = this.faults.findIndex(
      (f) =>
        (!f.method || f.method.toUpperCase() === req.method) &&
        (!f.path || (typeof f.path === 'string' ? req.path.startsWith(f.path) : f.path.test(req.path))),
    );
    if (index < 0) return undefined;
    const fault = this.faults[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault;
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.pattern.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((key, i) => (params[key] = decodeURIComponent(m[i + 1] ?? '')));
      return { route, params };
    }
    return undefined;
  }
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
