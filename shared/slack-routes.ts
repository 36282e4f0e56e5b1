/**
 * Slack ingress: button clicks (interactions) and the /access command. Verify, record, acknowledge:
 * Slack allows 3 s, so the slow work (updating messages, provisioning) happens in the workflow.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { verifySlackRequest } from './auth.js';
import type { Clock } from './clock.js';
import { required, type Config } from './config.js';
import { normalizeEmail } from './email.js';
import { ForbiddenError, MalformedRequestError, ValidationError } from './errors.js';
import { json, type HttpRequest, type HttpResponse } from './http.js';
import { submitRequest, validateRequest, type IntakeDeps } from './intake.js';
import { decide } from './approval.js';
import { APPROVE_ACTION_ID, DENY_ACTION_ID } from './ports.js';
import type { Services } from './services.js';

export type SlackDeps = Pick<Services, 'config' | 'clock' | 'logger' | 'store' | 'chat' | 'ticketing' | 'workflow'>;

const interactionPayload = z.object({
  type: z.literal('block_actions'),
  team: z.object({ id: z.string() }).optional(),
  api_app_id: z.string().optional(),
  user: z.object({ id: z.string().min(1) }),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().optional() })).min(1),
});

function verifiedForm(deps: { config: Config; clock: Clock }, req: HttpRequest): URLSearchParams {
  verifySlackRequest({ signingSecret: required(deps.config, 'SLACK_SIGNING_SECRET'), headers: req.headers, rawBody: req.rawBody, clock: deps.clock });
  return new URLSearchParams(req.rawBody);
}

function checkWorkspace(config: Config, teamId: string | undefined, appId: string | undefined): void {
  if (config.SLACK_TEAM_ID && teamId !== config.SLACK_TEAM_ID) throw new ForbiddenError('Slack workspace is not the configured one');
  if (config.SLACK_APP_ID && appId !== config.SLACK_APP_ID) throw new ForbiddenError('Slack app is not the configured one');
}

export async function receiveSlackInteraction(deps: SlackDeps, req: HttpRequest): Promise<HttpResponse> {
  const form = verifiedForm(deps, req);
  let raw: unknown;
  try {
    raw = JSON.parse(form.get('payload') ?? '');
  } catch {
    throw new MalformedRequestError('Slack interaction has no JSON payload');
  }
  const parsed = interactionPayload.safeParse(raw);
  if (!parsed.success) {
    // Other interaction types (view submissions, shortcuts) are not ours to handle: acknowledge and ignore.
    return { status: 200 };
  }
  const payload = parsed.data;
  checkWorkspace(deps.config, payload.team?.id, payload.api_app_id);
  const action = payload.actions.find((a) => a.action_id === APPROVE_ACTION_ID || a.action_id === DENY_ACTION_ID);
  if (!action) return { status: 200 };
  // The button value is only a lookup key; everything else is re-read from the ledger.
  const key = /^([0-9A-Za-z_.-]{1,80}):(\d{1,2})$/.exec(action.value ?? '');
  if (!key) throw new MalformedRequestError('approval button value is not a grant reference');

  // Compared with the grant's normalised requester and subject; an address that is not one fails closed.
  const clickerEmail = normalizeEmail(await deps.chat.emailOfUser(payload.user.id));
  const result = await decide(deps, {
    grantId: key[1]!,
    step: Number(key[2]),
    decision: action.action_id === APPROVE_ACTION_ID ? 'approved' : 'denied',
    clickerEmail,
    clickerRef: payload.user.id,
    via: 'slack',
  });
  if (result.outcome !== 'recorded') {
    try {
      await deps.chat.notify(payload.user.id, `Your click was not recorded: ${result.reason}.`);
    } catch (err) {
      deps.logger.warn('could not tell the clicker why the click was refused', { error: (err as Error).message });
    }
  }
  return json(200, { outcome: result.outcome });
}

/**
 * `/access <app> <role> <duration> [for <email>] <justification>`: files the Jira issue first (Jira
 * is the system of record), then records the grant exactly as the Jira webhook would. A command
 * that arrives again (a replay within the signature window, a retry) files nothing: its key is
 * recorded by conditional write before the issue is created.
 */
export async function receiveSlackCommand(deps: SlackDeps & IntakeDeps, req: HttpRequest): Promise<HttpResponse> {
  const form = verifiedForm(deps, req);
  checkWorkspace(deps.config, form.get('team_id') ?? undefined, form.get('api_app_id') ?? undefined);
  const userId = form.get('user_id');
  if (!userId) throw new MalformedRequestError('Slack command has no user_id');
  const text = (form.get('text') ?? '').trim();
  const words = text.split(/\s+/).filter(Boolean);
  if (words.length < 4) {
    return ephemeral(
      `Usage: /access <app> <role> <duration> [for <email>] <justification>. Apps: ${Object.values(deps.catalog.apps)
        .map((a) => a.name)
        .join(', ')}`,
    );
  }
  const [app, role, duration, ...rest] = words as [string, string, string, ...string[]];
  let subject: string | undefined;
  if (rest[0]?.toLowerCase() === 'for' && rest[1]) {
    subject = rest[1].replace(/^<mailto:[^|]+\|(.+)>$/, '$1');
    rest.splice(0, 2);
  }
  const requester = normalizeEmail(await deps.chat.emailOfUser(userId));
  if (!requester) return ephemeral('Grantline cannot see your email address in Slack, so it cannot file the request for you.');
  const draft = { issueKey: 'NEW-1', requester, subject: subject ?? requester, app, role, duration, justification: rest.join(' '), source: 'slack' as const };
  const problems = validateRequest(deps.catalog, draft);
  if (problems.length > 0) return ephemeral(`Nothing was filed:\n• ${problems.join('\n• ')}`);

  const commandKey = idempotencyKey(form, req);
  const claim = await deps.store.commands.claim(commandKey, deps.clock.now().toISOString());
  if (claim.status === 'seen') {
    deps.logger.info('repeated /access command ignored', { commandKey, issueKey: claim.issueKey });
    return ephemeral(claim.issueKey ? `This request was already received: ${claim.issueKey}.` : 'This request was already received.');
  }

  const c = deps.config;
  const { key } = await deps.ticketing.createIssue({
    summary: `Access: ${app} ${role} for ${draft.subject}`,
    reporterEmail: requester,
    fields: {
      [c.JIRA_FIELD_SUBJECT]: draft.subject,
      [c.JIRA_FIELD_APP]: app,
      [c.JIRA_FIELD_ROLE]: role,
      [c.JIRA_FIELD_DURATION]: duration,
      // Jira Cloud's v3 API takes the description as a document, custom text fields as text.
      [c.JIRA_FIELD_JUSTIFICATION]:
        c.JIRA_FIELD_JUSTIFICATION === 'description'
          ? { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: draft.justification }] }] }
          : draft.justification,
    },
  });
  await deps.store.commands.recordIssue(commandKey, key);
  try {
    const grant = await submitRequest(deps, { ...draft, issueKey: key });
    return ephemeral(`Filed ${key}: ${grant.appName} ${grant.role} for ${grant.subject} (${grant.duration}). You will hear back here.`);
  } catch (err) {
    if (err instanceof ValidationError) return ephemeral(`Filed ${key}, but it cannot proceed: ${err.problems.join('; ')}`);
    throw err;
  }
}

/** Slack's trigger_id names one invocation; without it, the signed request itself (signature + timestamp) does. */
function idempotencyKey(form: URLSearchParams, req: HttpRequest): string {
  const trigger = form.get('trigger_id');
  if (trigger) return `slack-trigger:${trigger}`;
  const signed = `${req.headers['x-slack-signature'] ?? ''}:${req.headers['x-slack-request-timestamp'] ?? ''}`;
  return `slack-signature:${createHash('sha256').update(signed).digest('hex')}`;
}

function ephemeral(text: string): HttpResponse {
  return json(200, { response_type: 'ephemeral', text });
}
