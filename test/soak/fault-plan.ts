/**
 * The faults a soak injects into the sandbox, through the same knobs as `POST /sandbox/faults`:
 * a background of 429s, 5xx, timeouts, slow answers and lost replies on the identity providers'
 * membership calls and on Jira's evidence calls, Slack refusing DMs to one approver for the whole
 * run, and outages (a service down for a few seconds) at moments the plan picks.
 */
import { FAULT_SERVICES, fakeOf, injectFault, type FaultService, type FaultSpec } from '../../infra/local/sandbox/faults.js';
import type { Sandbox } from '../../infra/local/sandbox/index.js';
import type { Random } from './random.js';

/** Slack refuses every DM to this approver (one of the two on-call approvers in the soak catalog). */
export const DM_REFUSED_FOR = 'sasha.sec@example.com';

/** How long a "timeout" leaves the client with no answer before the connection drops. */
const HANG_MS = 2500;

const MEMBERSHIP_PATHS: Record<'okta' | 'entra' | 'google', string> = {
  okta: '/api/v1/groups/',
  entra: '/v1.0/groups/',
  google: '/admin/directory/v1/groups/',
};

function identityProviderFaults(service: 'okta' | 'entra' | 'google'): FaultSpec[] {
  const path = MEMBERSHIP_PATHS[service];
  const write = service === 'okta' ? 'PUT' : 'POST';
  return [
    { service, kind: 'rate_limit', path, rate: 0.02, retryAfterSeconds: 1 },
    { service, kind: 'server_error', path, rate: 0.015, status: 503 },
    { service, kind: 'server_error', path, rate: 0.01, status: 500 },
    { service, kind: 'reply_lost', path, method: write, rate: 0.02 },
    { service, kind: 'reply_lost', path, method: 'DELETE', rate: 0.02, dropConnection: true },
    { service, kind: 'timeout', path, rate: 0.005, delayMs: HANG_MS },
    { service, kind: 'slow', path, rate: 0.05, delayMs: 400 },
  ];
}

const JIRA_FAULTS: FaultSpec[] = [
  { service: 'jira', kind: 'slow', path: '/rest/api/3/issue/', rate: 0.08, delayMs: 1200 },
  { service: 'jira', kind: 'server_error', path: '/rest/api/3/issue/', rate: 0.02, status: 503 },
  { service: 'jira', kind: 'rate_limit', path: '/rest/api/3/issue/', rate: 0.01, retryAfterSeconds: 1 },
  { service: 'jira', kind: 'reply_lost', path: '/rest/api/3/issue/', method: 'POST', rate: 0.01 },
  { service: 'jira', kind: 'timeout', path: '/rest/api/3/issue/', rate: 0.003, delayMs: HANG_MS },
];

const SLACK_FAULTS: FaultSpec[] = [
  { service: 'slack', kind: 'rate_limit', path: '/api/chat.postMessage', rate: 0.02, retryAfterSeconds: 1 },
  { service: 'slack', kind: 'dm_refused', user: DM_REFUSED_FOR },
];

/** Seeds every simulated service's fault dice and installs the run's background faults. */
export function startBackgroundFaults(sandbox: Sandbox, rng: Random): void {
  for (const [i, service] of FAULT_SERVICES.entries()) fakeOf(sandbox, service).setRandom(rng.fork(100 + i).next);
  const all = [...identityProviderFaults('okta'), ...identityProviderFaults('entra'), ...identityProviderFaults('google'), ...JIRA_FAULTS, ...SLACK_FAULTS];
  for (const spec of all) injectFault(sandbox, spec);
}

/** A service down for a few seconds (Jira most often, as its outages are the ones the evidence must survive). */
export function startOutage(sandbox: Sandbox, rng: Random): { service: FaultService; seconds: number } {
  const service = rng.weighted<FaultService>([
    ['jira', 3],
    ['okta', 1],
    ['entra', 1],
    ['google', 1],
  ]);
  const seconds = rng.int(3, 10);
  injectFault(sandbox, { service, kind: 'down', forSeconds: seconds });
  return { service, seconds };
}

/** Every fault served so far, all services together. */
export function faultsServed(sandbox: Sandbox): number {
  return FAULT_SERVICES.reduce((sum, service) => sum + fakeOf(sandbox, service).servedFaults.length, 0);
}
