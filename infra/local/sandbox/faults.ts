/**
 * Outages to play against the sandbox, by service and kind, as the control API takes them
 * (`POST /sandbox/faults`) and as the soak injects them: 429 with Retry-After, 500/503, timeouts,
 * slow answers, a change applied whose reply is lost, a service down for a while, and a Slack DM
 * refused for one user. Each answer is shaped like the vendor's own.
 */
import { z } from 'zod';
import { googleError } from './google.js';
import type { Fault, FakeRequest, FakeResponse, HttpFake } from './http-fake.js';
import type { Sandbox } from './index.js';

export const FAULT_SERVICES = ['jira', 'slack', 'okta', 'entra', 'google'] as const;
export const FAULT_KINDS = ['rate_limit', 'server_error', 'timeout', 'slow', 'reply_lost', 'down', 'dm_refused'] as const;
export type FaultService = (typeof FAULT_SERVICES)[number];
export type FaultKind = (typeof FAULT_KINDS)[number];

export const faultSpecSchema = z
  .object({
    service: z.enum(FAULT_SERVICES),
    kind: z.enum(FAULT_KINDS),
    /** Share of matching requests that fail (0..1); without it and without `times`, the next one only. */
    rate: z.number().min(0).max(1).optional(),
    times: z.number().int().min(1).optional(),
    /** Path prefix; default: the service's whole API. */
    path: z.string().startsWith('/').optional(),
    method: z.string().optional(),
    /** server_error: 500 or 503 (default 503); reply_lost: what the client sees (default 502). */
    status: z.number().int().min(400).max(599).optional(),
    /** reply_lost: drop the connection instead of answering a status. */
    dropConnection: z.boolean().optional(),
    retryAfterSeconds: z.number().int().min(0).max(3600).default(1),
    /** slow: the delay (default 1500 ms); timeout: how long nothing is answered before the connection drops (default 35 s, past every client's timeout). */
    delayMs: z.number().int().min(0).max(600_000).optional(),
    /** down: how long (default 60 s). */
    forSeconds: z.number().positive().max(3600).optional(),
    /** dm_refused: whose DMs Slack refuses. */
    user: z.email().optional(),
    /** dm_refused: Slack's error (default channel_not_found). */
    error: z.string().min(1).optional(),
  })
  .refine((f) => f.kind !== 'dm_refused' || (f.service === 'slack' && f.user), { message: 'dm_refused needs service "slack" and a user email' });

export type FaultSpec = z.input<typeof faultSpecSchema>;

const API_PREFIX: Record<FaultService, string> = {
  jira: '/rest/api/',
  slack: '/api/',
  okta: '/api/v1/',
  entra: '/v1.0/',
  google: '/admin/directory/v1/',
};

export function fakeOf(sandbox: Sandbox, service: FaultService): HttpFake {
  const fakes: Record<FaultService, HttpFake> = {
    jira: sandbox.jira.fake,
    slack: sandbox.slack.fake,
    okta: sandbox.okta.fake,
    entra: sandbox.graph.fake,
    google: sandbox.google.fake,
  };
  return fakes[service];
}

/** Injects the fault into the service's simulated API. */
export function injectFault(sandbox: Sandbox, input: FaultSpec): void {
  const spec = faultSpecSchema.parse(input);
  const fake = fakeOf(sandbox, spec.service);
  for (const fault of faultsFor(sandbox, spec)) fake.injectFault(fault);
}

/** Clears the faults of one service, or of all. */
export function clearFaults(sandbox: Sandbox, service?: FaultService): void {
  for (const s of service ? [service] : FAULT_SERVICES) fakeOf(sandbox, s).clearFaults();
}

/** How many faults each service served, by kind. */
export function servedFaults(sandbox: Sandbox): Record<string, Record<string, number>> {
  const counts: Record<string, Record<string, number>> = {};
  for (const service of FAULT_SERVICES) {
    const byKind: Record<string, number> = {};
    for (const served of fakeOf(sandbox, service).servedFaults) byKind[served.label] = (byKind[served.label] ?? 0) + 1;
    counts[service] = byKind;
  }
  return counts;
}

function faultsFor(sandbox: Sandbox, spec: z.output<typeof faultSpecSchema>): Fault[] {
  const where = {
    path: spec.path ?? API_PREFIX[spec.service],
    ...(spec.method ? { method: spec.method } : {}),
    ...(spec.rate !== undefined ? { rate: spec.rate } : {}),
    ...(spec.times !== undefined ? { times: spec.times } : {}),
    label: spec.kind,
  };
  switch (spec.kind) {
    case 'rate_limit':
      return [{ ...where, respond: () => rateLimited(spec.service, spec.retryAfterSeconds) }];
    case 'server_error':
      return [{ ...where, respond: () => serverError(spec.service, spec.status ?? 503) }];
    case 'timeout':
      return [{ ...where, action: 'hang', delayMs: spec.delayMs ?? 35_000 }];
    case 'slow':
      return [{ ...where, action: 'slow', delayMs: spec.delayMs ?? 1500 }];
    case 'reply_lost':
      return [{ ...where, action: 'reply_lost', ...(spec.dropConnection ? {} : { respond: () => serverError(spec.service, spec.status ?? 502) }) }];
    case 'down':
      return [{ ...where, until: Date.now() + (spec.forSeconds ?? 60) * 1000, respond: () => serverError(spec.service, spec.status ?? 503) }];
    case 'dm_refused':
      return dmRefused(sandbox, spec.user!, spec.error ?? 'channel_not_found', where);
  }
}

/** Slack answers HTTP 200 {ok:false} for a DM it refuses, to conversations.open and chat.postMessage alike. */
function dmRefused(sandbox: Sandbox, email: string, error: string, where: Pick<Fault, 'rate' | 'times' | 'label'>): Fault[] {
  const user = sandbox.slack.users().find((u) => u.email === email.toLowerCase());
  if (!user) throw new Error(`no Slack user ${email} in the sandbox`);
  const ids = new Set([user.id, `D${user.id.slice(1)}`]);
  const toUser = (req: FakeRequest) => {
    const args = { ...Object.fromEntries(req.query), ...(typeof req.body === 'object' && req.body ? (req.body as Record<string, unknown>) : {}) };
    return [args.channel, args.users].some((v) => typeof v === 'string' && ids.has(v.trim()));
  };
  const refusal = { ...where, rate: where.rate ?? (where.times === undefined ? 1 : undefined), when: toUser, status: 200, body: { ok: false, error } };
  return [
    { ...refusal, path: /^\/api\/chat\.postMessage\/?$/ },
    { ...refusal, path: /^\/api\/conversations\.open\/?$/ },
  ];
}

function rateLimited(service: FaultService, retryAfterSeconds: number): FakeResponse {
  const retryAfter = { 'Retry-After': String(retryAfterSeconds) };
  switch (service) {
    case 'jira':
      return { status: 429, headers: retryAfter, body: { errorMessages: ['Rate limit exceeded.'], errors: {} } };
    case 'slack':
      return { status: 429, headers: retryAfter, body: { ok: false, error: 'ratelimited' } };
    case 'okta':
      return {
        status: 429,
        headers: { 'X-Rate-Limit-Limit': '600', 'X-Rate-Limit-Remaining': '0', 'X-Rate-Limit-Reset': String(Math.ceil(Date.now() / 1000) + retryAfterSeconds) },
        body: { errorCode: 'E0000047', errorSummary: 'API call exceeded rate limit due to too many requests.', errorCauses: [] },
      };
    case 'entra':
      return { status: 429, headers: retryAfter, body: { error: { code: 'TooManyRequests', message: 'Too many requests.' } } };
    case 'google':
      return googleError(429, 'Too many requests', 'rateLimitExceeded', { headers: retryAfter });
  }
}

function serverError(service: FaultService, status: number): FakeResponse {
  switch (service) {
    case 'jira':
      return { status, body: { errorMessages: ['Internal server error'], errors: {} } };
    case 'slack':
      return { status, body: 'upstream unavailable' };
    case 'okta':
      return { status, body: { errorCode: 'E0000009', errorSummary: 'Internal Server Error', errorCauses: [] } };
    case 'entra':
      return { status, body: { error: { code: status === 503 ? 'serviceNotAvailable' : 'generalException', message: 'The service is unavailable.' } } };
    case 'google':
      return googleError(status, 'Backend Error', 'backendError');
  }
}
