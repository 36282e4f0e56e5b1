/** The local HTTP front door: the same routes API Gateway serves, mapped onto the same route functions. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getGrant, getGrants } from '../../shared/audit.js';
import { postAttachment } from '../../shared/audit-attachments.js';
import { ValidationError } from '../../shared/errors.js';
import { getPendingEvidence } from '../../shared/evidence.js';
import { errorResponse, json, type HttpRequest, type HttpResponse } from '../../shared/http.js';
import { receiveJiraWebhook } from '../../shared/intake.js';
import { getReview, postRevoke } from '../../shared/review.js';
import type { LifecycleDeps } from '../../shared/services.js';
import { postExtend } from '../../shared/extension.js';
import { postOffboard } from '../../shared/offboarding.js';
import { postDrift } from '../../shared/drift.js';
import { getCampaignList, getCampaignReport, postCampaignClose, postCampaignDecision, postReviews } from '../../shared/campaigns.js';
import { getPolicyExplain } from '../../shared/policy-explain.js';
import { ledgerAuditRoute } from '../../shared/ledger-audit.js';
import { receiveSlackCommand, receiveSlackInteraction } from '../../shared/slack-routes.js';

type Handler = (deps: LifecycleDeps, req: HttpRequest) => Promise<HttpResponse>;

/** Method, path pattern, handler: the API Gateway route table's twin. */
export const ROUTES: Array<{ method: string; path: string; handler: Handler }> = [
  { method: 'POST', path: '/webhooks/jira', handler: receiveJiraWebhook },
  { method: 'POST', path: '/webhooks/slack/interactions', handler: receiveSlackInteraction },
  { method: 'POST', path: '/webhooks/slack/commands', handler: receiveSlackCommand },
  { method: 'GET', path: '/grants', handler: getGrants },
  { method: 'GET', path: '/grants/{id}', handler: getGrant },
  { method: 'POST', path: '/grants/{id}/revoke', handler: postRevoke },
  { method: 'POST', path: '/grants/{id}/extend', handler: postExtend },
  { method: 'POST', path: '/offboard', handler: postOffboard },
  { method: 'POST', path: '/drift', handler: postDrift },
  { method: 'POST', path: '/reviews', handler: postReviews },
  { method: 'GET', path: '/campaigns', handler: getCampaignList },
  { method: 'GET', path: '/campaigns/{id}', handler: getCampaignReport },
  { method: 'POST', path: '/campaigns/{id}/decisions', handler: postCampaignDecision },
  { method: 'POST', path: '/campaigns/{id}/close', handler: postCampaignClose },
  { method: 'GET', path: '/reviews/{app}', handler: getReview },
  { method: 'GET', path: '/evidence/pending', handler: getPendingEvidence },
  { method: 'POST', path: '/audit/attachments', handler: postAttachment },
  { method: 'GET', path: '/policy/explain', handler: getPolicyExplain },
  { method: 'GET', path: '/audit/chains', handler: ledgerAuditRoute },
  { method: 'GET', path: '/audit/anchors', handler: ledgerAuditRoute },
  { method: 'POST', path: '/audit/anchor', handler: ledgerAuditRoute },
  { method: 'GET', path: '/healthz', handler: async () => json(200, { ok: true }) },
];

const MAX_BODY_BYTES = 256 * 1024;

export async function startServer(deps: LifecycleDeps, port: number, host = '127.0.0.1'): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    void (async () => {
      let response: HttpResponse;
      try {
        response = await dispatch(deps, req);
      } catch (err) {
        response = errorResponse(err, deps.logger);
      }
      const body = response.body === undefined ? '' : JSON.stringify(response.body);
      res.writeHead(response.status, { ...(body ? { 'content-type': 'application/json' } : {}), ...response.headers });
      res.end(body);
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return { server, url: `http://${host}:${address.port}` };
}

async function dispatch(deps: LifecycleDeps, req: IncomingMessage): Promise<HttpResponse> {
  const url = new URL(req.url ?? '/', 'http://local');
  const method = req.method ?? 'GET';
  for (const route of ROUTES) {
    const params = matchPath(route.path, url.pathname);
    if (!params || route.method !== method) continue;
    const rawBody = await readBody(req);
    const request: HttpRequest = {
      method,
      path: url.pathname,
      headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(',') : v])),
      query: Object.fromEntries(url.searchParams),
      pathParams: params,
      rawBody,
    };
    return route.handler(deps, request);
  }
  return json(404, { error: `no route ${method} ${url.pathname}` });
}

function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const a = pattern.split('/');
  const b = path.replace(/\/$/, '').split('/');
  if (a.length !== b.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    const seg = a[i]!;
    if (seg.startsWith('{')) params[seg.slice(1, -1)] = decodeURIComponent(b[i]!);
    else if (seg !== b[i]) return undefined;
  }
  return params;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ValidationError('request body is larger than 256 KB', undefined, 413);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
