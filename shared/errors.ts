/**
 * Error classes shared by every layer. The HTTP adapter maps them to status codes in one place
 * (shared/http.ts); the state machine's Retry matches on `name`, which Lambda reports as the
 * error type, so retryable and permanent failures are distinct classes with stable names.
 */
export abstract class GrantlineError extends Error {
  abstract readonly status: number;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The caller sent something that can never succeed as sent (400/422: Jira must not retry it). */
export class ValidationError extends GrantlineError {
  readonly status: number;
  constructor(message: string, readonly problems: string[] = [message], status = 422) {
    super(message);
    this.status = status;
  }
}

export class MalformedRequestError extends ValidationError {
  constructor(message: string) {
    super(message, [message], 400);
  }
}

export class UnauthorizedError extends GrantlineError {
  readonly status = 401;
}

export class ForbiddenError extends GrantlineError {
  readonly status = 403;
}

export class NotFoundError extends GrantlineError {
  readonly status = 404;
}

export class ConflictError extends GrantlineError {
  readonly status = 409;
}

/** A downstream fault worth retrying (429, 5xx, timeouts). The state machine retries it with backoff. */
export class RetryableError extends GrantlineError {
  readonly status = 503;
  constructor(message: string, readonly retryAfterMs?: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A downstream refusal that retrying cannot fix (401/403 from a vendor, unknown group, deactivated user). */
export class PermanentError extends GrantlineError {
  readonly status = 502;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
