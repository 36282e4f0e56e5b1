/**
 * Lambda adapters: API Gateway (HTTP API, payload v2) events to the shared routes, and Step
 * Functions / Scheduler payloads to the shared tasks. Handlers in functions/ are one line each.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { PermanentError } from '../errors.js';
import { fileRequest, filingJobSchema } from '../filing.js';
import { postDrift, reportDriftForAll } from '../drift.js';
import { offboardJobSchema, postOffboard, runOffboardJob } from '../offboarding.js';
import { errorResponse, type HttpRequest, type HttpResponse } from '../http.js';
import type { LifecycleDeps } from '../services.js';
import { tasks, type TaskName } from '../tasks.js';
import { awsDeps, logger, type Connectors } from './runtime.js';

/** A webhook route's event has no authorizer; an IAM route's names the SigV4-authenticated principal. */
type HttpEvent = APIGatewayProxyEventV2 | APIGatewayProxyEventV2WithIAMAuthorizer;

export function toHttpRequest(event: HttpEvent): HttpRequest {
  const rawBody = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
  const caller = callerOf(event);
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    headers: Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    query: { ...(event.queryStringParameters ?? {}) },
    pathParams: { ...(event.pathParameters ?? {}) },
    rawBody,
    ...(caller ? { caller } : {}),
  };
}

/** `requestContext.authorizer.iam.userArn`: set by API Gateway after it verified the SigV4 signature, never by the caller. */
function callerOf(event: HttpEvent): string | undefined {
  const context = event.requestContext;
  // Defensive all the way down: a route misconfigured with another authorizer must not crash, only lack a caller.
  const arn: unknown = 'authorizer' in context ? context.authorizer?.iam?.userArn : undefined;
  return typeof arn === 'string' && arn.length > 0 ? arn : undefined;
}

export function toResult(response: HttpResponse): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: response.status,
    headers: { ...(response.body !== undefined ? { 'content-type': 'application/json' } : {}), ...response.headers },
    body: response.body === undefined ? '' : JSON.stringify(response.body),
  };
}

type Route = (deps: LifecycleDeps, req: HttpRequest) => Promise<HttpResponse>;

/** `connectors`: those the route calls; `providers` only for the routes that read or change identity-provider groups (never the webhooks). */
export function httpHandler(route: Route, connectors?: Connectors) {
  return middy((event: HttpEvent) => respond(route, event, connectors));
}

async function respond(route: Route, event: HttpEvent, connectors?: Connectors): Promise<APIGatewayProxyStructuredResultV2> {
  try {
    return toResult(await route(await awsDeps(connectors), toHttpRequest(event)));
  } catch (err) {
    return toResult(errorResponse(err, logger));
  }
}

/**
 * A function with two callers: its HTTP route (an API Gateway event, answered like any route) and an
 * asynchronous or scheduled invoke (any other event; an error makes Lambda retry it).
 */
export function routeOrEventHandler(route: Route, onEvent: (deps: LifecycleDeps, event: unknown) => Promise<unknown>, connectors: Connectors) {
  return middy(async (event: unknown) => (isHttpEvent(event) ? respond(route, event, connectors) : onEvent(await awsDeps(connectors), event)));
}

/** The offboard function: POST /offboard, and the Jira webhook's hand-over of an offboarding issue. */
export const offboardHandler = (connectors: Connectors) =>
  routeOrEventHandler(
    postOffboard,
    async (deps, event) => {
      const job = offboardJobSchema.safeParse(event);
      if (!job.success)
        throw new PermanentError(`not an offboarding job: ${job.error.issues.map((i) => `${i.path.join('.') || 'event'}: ${i.message}`).join('; ')}`);
      await runOffboardJob(deps, job.data);
    },
    connectors,
  );

/** An EventBridge rule's scheduled event: what the periodic functions are invoked with. */
export const isScheduledEvent = (event: unknown) =>
  typeof event === 'object' && event !== null && (event as { 'detail-type'?: unknown })['detail-type'] === 'Scheduled Event';

/** The drift-report function: POST /drift, and the daily EventBridge rule (every app). */
export const driftHandler = (connectors: Connectors) => routeOrEventHandler(postDrift, (deps) => reportDriftForAll(deps), connectors);

const isHttpEvent = (event: unknown): event is HttpEvent =>
  typeof event === 'object' && event !== null && 'requestContext' in event && typeof (event as { rawPath?: unknown }).rawPath === 'string';

/** The file-request function: an asynchronous invoke's event is a filing job; an error makes Lambda retry it. */
export function filingHandler(connectors: Connectors) {
  return middy(async (event: unknown) => {
    const job = filingJobSchema.safeParse(event);
    // A malformed event fails loudly: after Lambda's two retries it lands in the dead-letter queue, whose alarm shows it.
    if (!job.success) throw new PermanentError(`not a filing job: ${job.error.issues.map((i) => `${i.path.join('.') || 'event'}: ${i.message}`).join('; ')}`);
    await fileRequest(await awsDeps(connectors), job.data);
  });
}

/** Task errors propagate: Step Functions reads their name (RetryableError, PermanentError) to retry or catch. */
export function taskHandler(name: TaskName, connectors?: Connectors) {
  return middy(async (event: unknown) => tasks[name](await awsDeps(connectors), event));
}
