/**
 * Caller authentication for the webhooks. Pure functions with an injected clock: verify first,
 * before anything is parsed or stored; every failure is a 401 that changes nothing.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from './clock.js';
import { UnauthorizedError } from './errors.js';

/** Constant-time string comparison that does not leak the length either (both sides are hashed first). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

export const SLACK_MAX_AGE_SECONDS = 300;

/**
 * Slack request signing, v0: `v0=` + hex HMAC-SHA256(signing secret, `v0:{timestamp}:{raw body}`),
 * over the exact raw bytes; refused when older than 5 minutes or from the future.
 */
export function verifySlackRequest(args: { signingSecret: string; headers: Record<string, string | undefined>; rawBody: string; clock: Clock }): void {
  const signature = args.headers['x-slack-signature'];
  const timestamp = args.headers['x-slack-request-timestamp'];
  if (!signature || !timestamp) throw new UnauthorizedError('missing Slack signature headers');
  if (!/^\d{1,12}$/.test(timestamp)) throw new UnauthorizedError('Slack timestamp is not a number');
  const skew = Math.floor(args.clock.now().getTime() / 1000) - Number(timestamp);
  if (skew > SLACK_MAX_AGE_SECONDS) throw new UnauthorizedError('Slack request is older than 5 minutes (replay refused)');
  if (skew < -60) throw new UnauthorizedError('Slack request timestamp is in the future');
  if (!signature.startsWith('v0=')) throw new UnauthorizedError('unsupported Slack signature version');
  const expected = `v0=${createHmac('sha256', args.signingSecret).update(`v0:${timestamp}:${args.rawBody}`, 'utf8').digest('hex')}`;
  if (!safeEqual(signature, expected)) throw new UnauthorizedError('Slack signature does not match');
}

export function signSlackRequest(signingSecret: string, timestamp: number, rawBody: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${rawBody}`, 'utf8').digest('hex')}`;
}

/**
 * Jira calls us either as a webhook with a secret (`X-Hub-Signature: sha256=<hex HMAC of the raw
 * body>`) or from an automation rule that sends the shared secret as `Authorization: Bearer <secret>`.
 */
export function verifyJiraRequest(args: { secret: string; headers: Record<string, string | undefined>; rawBody: string }): void {
  const hub = args.headers['x-hub-signature'];
  if (hub) {
    const expected = `sha256=${createHmac('sha256', args.secret).update(args.rawBody, 'utf8').digest('hex')}`;
    if (safeEqual(hub, expected)) return;
    throw new UnauthorizedError('Jira webhook signature does not match');
  }
  const authorization = args.headers.authorization;
  const bearer = authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
  if (bearer && safeEqual(bearer.trim(), args.secret)) return;
  throw new UnauthorizedError(authorization ? 'Jira shared secret does not match' : 'missing Jira authentication');
}

export function signJiraBody(secret: string, rawBody: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody, 'utf8').digest('hex')}`;
}

export function verifyBearer(token: string, headers: Record<string, string | undefined>): void {
  const bearer = headers.authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
  if (!bearer || !safeEqual(bearer.trim(), token)) throw new UnauthorizedError('missing or wrong bearer token');
}
