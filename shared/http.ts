/** The HTTP shape every route speaks, whether API Gateway or the local server carries it. */
import { ConfigurationError, errorMessage, GrantlineError, ValidationError } from './errors.js';
import type { Logger } from './logger.js';

export interface HttpRequest {
  method: string;
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  pathParams: Record<string, string | undefined>;
  /** The exact bytes received, as text: signatures are computed over it. */
  rawBody: string;
  /** The IAM principal API Gateway authenticated (SigV4 routes in AWS); never taken from the request itself. */
  caller?: string;
}

export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export type Route<D> = (deps: D, request: HttpRequest) => Promise<HttpResponse>;

export function json(status: number, body: unknown): HttpResponse {
  return { status, headers: { 'content-type': 'application/json' }, body };
}

/**
 * The one place errors become status codes. 401 has no body: it tells a forger nothing. A missing
 * setting is a 503 that names nothing (the log names it), so the caller retries and learns nothing
 * about the deployment.
 */
export function errorResponse(err: unknown, logger: Logger): HttpResponse {
  if (err instanceof ConfigurationError) {
    logger.error('configuration error', { setting: err.setting, error: err.message });
    return json(503, { error: 'service unavailable: Grantline is not fully configured; try again later' });
  }
  if (err instanceof GrantlineError) {
    if (err.status === 401) {
      logger.warn('request refused', { reason: err.message });
      return { status: 401 };
    }
    const body: Record<string, unknown> = { error: err.message };
    if (err instanceof ValidationError && err.problems.length > 1) body.problems = err.problems;
    if (err.status >= 500) logger.error('request failed', { error: err.message });
    return json(err.status, body);
  }
  logger.error('unexpected error', { error: errorMessage(err), stack: err instanceof Error ? err.stack : undefined });
  return json(500, { error: 'internal error' });
}

export function parseJsonBody(rawBody: string): unknown {
  if (!rawBody.trim()) throw new ValidationError('request body is empty', ['request body is empty'], 400);
  try {
    return JSON.parse(rawBody);
  } catch {
    throw new ValidationError('request body is not valid JSON', ['request body is not valid JSON'], 400);
  }
}
