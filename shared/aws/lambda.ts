/**
 * Lambda adapters: API Gateway (HTTP API, payload v2) events to the shared routes, and Step
 * Functions / Scheduler payloads to the shared tasks. Handlers in functions/ are one line each.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { errorResponse, type HttpRequest, type HttpResponse } from '../http.js';
import type { LifecycleDeps } from '../lifecycle.js';
import { tasks, type TaskName } from '../tasks.js';
import { awsDeps, logger, type ProviderFactory } from './runtime.js';

export function toHttpRequest(event: APIGatewayProxyEventV2): HttpRequest {
  const rawBody = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
  return {
    method: event.requestContext.http.method,
    path: event.rawPath,
    headers: Object.fromEntries(Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    query: { ...(event.queryStringParameters ?? {}) },
    pathParams: { ...(event.pathParameters ?? {}) },
    rawBody,
  };
}

export function toResult(response: HttpResponse): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: response.status,
    headers: { ...(response.body !== undefined ? { 'content-type': 'application/json' } : {}), ...response.headers },
    body: response.body === undefined ? '' : JSON.stringify(response.body),
  };
}

/** `providers` only for the routes that read or change identity-provider groups (never the webhooks). */
export function httpHandler(route: (deps: LifecycleDeps, req: HttpRequest) => Promise<HttpResponse>, providers?: ProviderFactory) {
  return middy(async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    try {
      return toResult(await route(await awsDeps(providers), toHttpRequest(event)));
    } catch (err) {
      return toResult(errorResponse(err, logger));
    }
  });
}

/** Task errors propagate: Step Functions reads their name (RetryableError, PermanentError) to retry or catch. */
export function taskHandler(name: TaskName, providers?: ProviderFactory) {
  return middy(async (event: unknown) => tasks[name](await awsDeps(providers), event));
}
