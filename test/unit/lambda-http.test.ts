/** The API Gateway adapter: what the Lambda sees is what the local server sees. */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { signSlackRequest, verifySlackRequest } from '../../shared/auth.js';
import { ManualClock } from '../../shared/clock.js';
import { toHttpRequest, toResult } from '../../shared/aws/lambda.js';
import { errorResponse } from '../../shared/http.js';
import { parseConfig, required } from '../../shared/config.js';
import { ConfigurationError, UnauthorizedError, ValidationError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';

function event(body: string, base64: boolean, headers: Record<string, string>): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /webhooks/slack/interactions',
    rawPath: '/webhooks/slack/interactions',
    rawQueryString: '',
    headers,
    isBase64Encoded: base64,
    body: base64 ? Buffer.from(body, 'utf8').toString('base64') : body,
    requestContext: { http: { method: 'POST', path: '/webhooks/slack/interactions', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'Slackbot' } },
  } as APIGatewayProxyEventV2;
}

describe('API Gateway events', () => {
  it('Slack: a base64-encoded body is decoded before the signature is checked over the exact bytes', () => {
    const clock = new ManualClock(new Date('2026-11-26T12:00:00Z'));
    const ts = Math.floor(clock.now().getTime() / 1000);
    const body = 'payload=%7B%22type%22%3A%22block_actions%22%7D&emoji=%E2%9C%85';
    const headers = { 'X-Slack-Request-Timestamp': String(ts), 'X-Slack-Signature': signSlackRequest('secret', ts, body) };

    const request = toHttpRequest(event(body, true, headers));

    expect(request.rawBody).toBe(body);
    expect(request.headers['x-slack-signature']).toBe(headers['X-Slack-Signature']);
    expect(() => verifySlackRequest({ signingSecret: 'secret', headers: request.headers, rawBody: request.rawBody, clock })).not.toThrow();
  });

  it('a 401 leaves the body empty; validation errors list every problem', () => {
    expect(toResult(errorResponse(new UnauthorizedError('bad signature'), silentLogger))).toEqual({ statusCode: 401, headers: {}, body: '' });
    const result = toResult(errorResponse(new ValidationError('2 problems', ['a', 'b']), silentLogger));
    expect(result.statusCode).toBe(422);
    expect(JSON.parse(String(result.body))).toEqual({ error: '2 problems', problems: ['a', 'b'] });
  });

  it('Configuration errors: a missing setting is a 503 (Jira and Slack retry it) naming nothing; the ERROR log names the setting', () => {
    const logged: unknown[][] = [];
    const logger: Logger = { ...silentLogger, error: (...args: unknown[]) => logged.push(args) };
    let thrown: unknown;
    try {
      required(parseConfig({}), 'SLACK_SIGNING_SECRET');
    } catch (err) {
      thrown = err;
    }

    const result = toResult(errorResponse(thrown, logger));

    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect(result.statusCode).toBe(503);
    expect(result.body).not.toContain('SLACK');
    expect(logged).toEqual([
      ['configuration error', { setting: 'SLACK_SIGNING_SECRET', error: 'configuration SLACK_SIGNING_SECRET is required here but not set' }],
    ]);
    // A malformed setting is the operator's problem too, not the caller's 422.
    expect(() => parseConfig({ PORT: 'eighty' })).toThrow(ConfigurationError);
  });

  it('an unexpected error is a 500 that reveals nothing internal', () => {
    const result = toResult(errorResponse(new Error('connect ECONNREFUSED 10.0.0.7:5432'), silentLogger));
    expect(result).toMatchObject({ statusCode: 500, body: JSON.stringify({ error: 'internal error' }) });
  });
});
