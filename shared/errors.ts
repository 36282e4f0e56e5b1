/**
 * Error classes shared by every layer. The HTTP adapter maps them to status codes in one place
 * (shared/http.ts); the state machine's Retry matches on `name`, which Lambda reports as the
 * error type, so retryable and permanent failures are distinct classes with stable names.
 *
 * Every class spells its `name` as a string literal: the Lambda bundles are minified, which
 * renames classes, so a name taken from the class (`new.target.name`) would not match the ASL.
 */
export abstract class GrantlineError extends Error {
  abstract override readonly name: string;
  abstract readonly status: number;
}

/** The caller sent something that can never succeed as sent (400/422: Jira must not retry it). */
export class ValidationError extends GrantlineError {
  override readonly name: string = 'ValidationError';
  readonly status: number;
  constructor(
    message: string,
    readonly problems: string[] = [message],
    status = 422,
  ) {
    super(message);
    this.status = status;
  }
}

export class MalformedRequestError extends ValidationError {
  override readonly name: string = 'MalformedRequestError';
  constructor(message: string) {
    super(message, [message], 400);
  }
}

export class UnauthorizedError extends GrantlineError {
  override readonly name = 'UnauthorizedError';
  readonly status = 401;
}

export class ForbiddenError extends GrantlineError {
  override readonly name = 'ForbiddenError';
  readonly status = 403;
}

export class NotFoundError extends GrantlineError {
  override readonly name = 'NotFoundError';
  readonly status = 404;
}

export class ConflictError extends GrantlineError {
  override readonly name = 'ConflictError';
  readonly status = 409;
}

/** A downstream fault worth retrying (429, 5xx, timeouts). The state machine retries it with backoff. */
export class RetryableError extends GrantlineError {
  override readonly name = 'RetryableError';
  readonly status = 503;
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A downstream refusal that retrying cannot fix (401/403 from a vendor, unknown group, deactivated user). */
export class PermanentError extends GrantlineError {
  override readonly name = 'PermanentError';
  readonly status = 502;
}

/**
 * A setting or secret this deployment lacks (or holds malformed). The operator's problem, not the
 * caller's: a 503 with no internals in the body, so Jira and Slack retry once it is fixed; the
 * setting is named in `setting` and in the ERROR log line, never in the response.
 */
export class ConfigurationError extends GrantlineError {
  override readonly name = 'ConfigurationError';
  readonly status = 503;
  constructor(
    message: string,
    readonly setting?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
