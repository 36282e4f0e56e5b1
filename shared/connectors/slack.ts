/**
 * Slack adapter for the Chat port, on the real @slack/web-api WebClient.
 */
import {
  LogLevel,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
  type ChatPostMessageArguments,
} from '@slack/web-api';
import { APPROVE_ACTION_ID, DENY_ACTION_ID, type ApprovalOutcome, type ApprovalPrompt, type Chat, type ChatMessageRef } from '../ports.js';
import { realSleep, type Sleep } from '../clock.js';
import { GrantlineError, PermanentError, RetryableError, errorMessage } from '../errors.js';

/** A Block Kit block as WebClient types it (derived so we need not import the transitive @slack/types). */
export type SlackBlock = Extract<ChatPostMessageArguments, { blocks: unknown[] }>['blocks'][number];

export const DECISION_BLOCK_ID = 'grantline_decision';

/** The longest Retry-After we sleep through in-process; longer ones surface as RetryableError for the state machine. */
export const MAX_IN_PROCESS_RATE_LIMIT_WAIT_MS = 5_000;

export interface SlackChatOptions {
  token: string;
  /** Web API base, e.g. http://127.0.0.1:1234/api/ (default https://slack.com/api/). */
  apiUrl?: string;
  /** Retries for 5xx/network failures (inside WebClient) and for short rate limits (here). Default 2. */
  maxRetries?: number;
  /** How a short Retry-After is waited out (tests pass virtual time). */
  sleep?: Sleep;
}

export class SlackChat implements Chat {
  private readonly client: WebClient;
  private readonly maxRetries: number;
  private readonly sleep: Sleep;

  constructor(opts: SlackChatOptions) {
    this.maxRetries = opts.maxRetries ?? 2;
    this.sleep = opts.sleep ?? realSleep;
    this.client = new WebClient(opts.token, {
      ...(opts.apiUrl ? { slackApiUrl: opts.apiUrl.endsWith('/') ? opts.apiUrl : `${opts.apiUrl}/` } : {}),
      // Without rejectRateLimitedCalls WebClient sleeps the full Retry-After *before* retrying (pausing its whole
      // queue) and, when retries run out, throws a plain Error that has lost the Retry-After. Rejecting lets us
      // sleep through short waits ourselves and hand long ones to the state machine with retryAfterMs.
      rejectRateLimitedCalls: true,
      // p-retry policy for 5xx and network errors only (API errors with ok:false are never retried by WebClient).
      // The default is ten retries over ~30 minutes, far beyond a Lambda's lifetime.
      retryConfig: { retries: this.maxRetries, factor: 2, minTimeout: 250, maxTimeout: 2_000, randomize: true },
      timeout: 10_000,
      logLevel: LogLevel.WARN,
    });
  }

  async userIdByEmail(email: string): Promise<string | undefined> {
    try {
      const res = await this.call('users.lookupByEmail', () => this.client.users.lookupByEmail({ email }));
      // A deactivated account cannot click a button; treat it as absent so callers fail closed.
      return res.user?.deleted ? undefined : res.user?.id;
    } catch (err) {
      if (isSlackError(err, 'users_not_found')) return undefined;
      throw err;
    }
  }

  async emailOfUser(userId: string): Promise<string | undefined> {
    try {
      const res = await this.call('users.info', () => this.client.users.info({ user: userId }));
      if (!res.user || res.user.deleted) return undefined;
      return res.user.profile?.email || undefined;
    } catch (err) {
      if (isSlackError(err, 'user_not_found', 'user_not_visible')) return undefined;
      throw err;
    }
  }

  async postApprovalRequest(approverUserId: string, prompt: ApprovalPrompt): Promise<ChatMessageRef> {
    const channel = await this.openDm(approverUserId);
    const res = await this.call('chat.postMessage', () =>
      this.client.chat.postMessage({ channel, text: approvalText(prompt), blocks: approvalBlocks(prompt) }),
    );
    if (!res.ts) throw new PermanentError(`Slack chat.postMessage to ${approverUserId} returned no message timestamp.`);
    return { channel: res.channel ?? channel, ts: res.ts };
  }

  async showOutcome(ref: ChatMessageRef, prompt: ApprovalPrompt, outcome: ApprovalOutcome): Promise<void> {
    await this.call('chat.update', () =>
      this.client.chat.update({
        channel: ref.channel,
        ts: ref.ts,
        text: `${approvalText(prompt)} ${escapeMrkdwn(outcomeLine(outcome))}`,
        blocks: outcomeBlocks(prompt, outcome),
      }),
    );
  }

  async notify(userId: string, text: string): Promise<void> {
    const channel = await this.openDm(userId);
    // Notices quote requests and refusal reasons; none of ours is meant to carry a link or mention.
    await this.call('chat.postMessage', () => this.client.chat.postMessage({ channel, text: escapeMrkdwn(text) }));
  }

  private async openDm(userId: string): Promise<string> {
    const res = await this.call('conversations.open', () => this.client.conversations.open({ users: userId }));
    const id = res.channel?.id;
    if (!id) throw new PermanentError(`Slack conversations.open returned no DM channel for user ${userId}.`);
    return id;
  }

  /** Runs one Web API call, sleeping through short rate limits, and maps every failure with slackError. */
  private async call<T>(method: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const waitMs = err instanceof WebAPIRateLimitedError ? err.retryAfter * 1000 : undefined;
        if (waitMs !== undefined && waitMs <= MAX_IN_PROCESS_RATE_LIMIT_WAIT_MS && attempt < this.maxRetries) {
          await this.sleep(waitMs);
          continue;
        }
        throw slackError(err, method);
      }
    }
  }
}

const AUTH_ERRORS = new Set(['invalid_auth', 'not_authed', 'account_inactive', 'token_revoked', 'token_expired', 'no_permission', 'not_allowed_token_type']);
const TRANSIENT_API_ERRORS = new Set(['ratelimited', 'internal_error', 'fatal_error', 'service_unavailable', 'request_timeout']);

/** Maps anything WebClient throws to RetryableError / PermanentError with a sentence for the Jira evidence. */
export function slackError(err: unknown, method: string): GrantlineError {
  if (err instanceof GrantlineError) return err;
  if (err instanceof WebAPIRateLimitedError) {
    return new RetryableError(`Slack rate-limited ${method}; retry after ${err.retryAfter}s.`, err.retryAfter * 1000, { cause: err });
  }
  if (err instanceof WebAPIHTTPError) {
    const retryable = err.statusCode >= 500 || err.statusCode === 408;
    const msg = `${`Slack ${method} failed with HTTP ${err.statusCode} ${err.statusMessage}`.trim()}.`;
    return retryable ? new RetryableError(msg, undefined, { cause: err }) : new PermanentError(msg, { cause: err });
  }
  if (err instanceof WebAPIRequestError) {
    const code = (err.original.cause as { code?: unknown } | undefined)?.code;
    const detail = typeof code === 'string' ? `${err.original.message} (${code})` : err.original.message;
    return new RetryableError(`Could not reach Slack for ${method}: ${detail}.`, undefined, { cause: err });
  }
  if (err instanceof WebAPIPlatformError) {
    const code = err.data.error;
    const data: Record<string, unknown> = { ...err.data };
    if (code === 'missing_scope') {
      const needed = typeof data.needed === 'string' ? data.needed : 'unknown';
      return new PermanentError(`The Slack app lacks the OAuth scope ${needed} needed for ${method}; add it under OAuth & Permissions and reinstall the app.`, {
        cause: err,
      });
    }
    if (AUTH_ERRORS.has(code)) {
      return new PermanentError(`Slack refused the bot token for ${method} (${code}); check the configured Slack bot token.`, { cause: err });
    }
    if (TRANSIENT_API_ERRORS.has(code)) return new RetryableError(`Slack ${method} failed transiently (${code}).`, undefined, { cause: err });
    const what: Record<string, string> = {
      channel_not_found: 'the channel does not exist or the app cannot see it',
      message_not_found: 'the message no longer exists',
      user_disabled: 'the user is deactivated',
    };
    return new PermanentError(`Slack ${method} failed (${code})${what[code] ? `: ${what[code]}` : ''}.`, { cause: err });
  }
  // 429 without a usable Retry-After reaches us as a plain Error from WebClient.
  if (err instanceof Error && /rate limit|retry header/i.test(err.message)) {
    return new RetryableError(`Slack rate-limited ${method}: ${err.message}`, undefined, { cause: err });
  }
  return new PermanentError(`Slack ${method} failed: ${errorMessage(err)}`, { cause: err });
}

function isSlackError(err: unknown, ...codes: string[]): boolean {
  const cause = err instanceof GrantlineError ? err.cause : err;
  return cause instanceof WebAPIPlatformError && codes.includes(cause.data.error);
}

/** Escapes the three characters Slack treats as control sequences, so user text cannot inject mentions or links. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
const mrkdwn = (text: string) => ({ type: 'mrkdwn' as const, text: clip(text, 2_000) });

/** The message's `text` (notifications, screen readers): Slack parses it as mrkdwn too, so it is escaped like the blocks. */
export function approvalText(p: ApprovalPrompt): string {
  return escapeMrkdwn(`${p.issueKey}: ${p.requesterEmail} requests ${p.app} ${p.role} for ${p.subjectEmail} (${p.duration}, risk ${p.risk}).`);
}

function summaryBlocks(p: ApprovalPrompt): SlackBlock[] {
  const forWhom = p.requesterEmail.toLowerCase() === p.subjectEmail.toLowerCase() ? 'themselves' : `*${escapeMrkdwn(p.subjectEmail)}*`;
  return [
    { type: 'header', text: { type: 'plain_text', text: clip(`Access request ${p.issueKey}: ${p.app} ${p.role}`, 150) } },
    {
      type: 'section',
      text: mrkdwn(`*${escapeMrkdwn(p.requesterEmail)}* requests *${escapeMrkdwn(p.role)}* on *${escapeMrkdwn(p.app)}* for ${forWhom}.`),
    },
    {
      type: 'section',
      fields: [
        mrkdwn(`*Duration*\n${escapeMrkdwn(p.duration)}`),
        mrkdwn(`*Risk*\n${escapeMrkdwn(p.risk)}`),
        mrkdwn(`*Jira*\n${escapeMrkdwn(p.issueKey)}`),
        mrkdwn(`*Approval step*\n${p.step + 1}`),
      ],
    },
    { type: 'section', text: mrkdwn(`*Justification*\n${escapeMrkdwn(p.justification) || '_none given_'}`) },
  ];
}

/** The approval DM: summary plus Approve/Deny. Button values carry `${grantId}:${step}` only, never a task token. */
export function approvalBlocks(p: ApprovalPrompt): SlackBlock[] {
  const value = `${p.grantId}:${p.step}`;
  return [
    ...summaryBlocks(p),
    {
      type: 'actions',
      block_id: DECISION_BLOCK_ID,
      elements: [
        { type: 'button', action_id: APPROVE_ACTION_ID, style: 'primary', value, text: { type: 'plain_text', text: 'Approve' } },
        { type: 'button', action_id: DENY_ACTION_ID, style: 'danger', value, text: { type: 'plain_text', text: 'Deny' } },
      ],
    },
  ];
}

/** The same summary with the buttons replaced by the outcome. */
export function outcomeBlocks(p: ApprovalPrompt, outcome: ApprovalOutcome): SlackBlock[] {
  const icon = { approved: ':white_check_mark:', denied: ':no_entry:', expired: ':hourglass:', withdrawn: ':leftwards_arrow_with_hook:' }[outcome.kind];
  return [...summaryBlocks(p), { type: 'context', elements: [mrkdwn(`${icon} ${escapeMrkdwn(outcomeLine(outcome))}`)] }];
}

export function outcomeLine(o: ApprovalOutcome): string {
  switch (o.kind) {
    case 'approved':
      return `Approved by ${o.by} at ${formatTime(o.at)}`;
    case 'denied':
      return `Denied by ${o.by} at ${formatTime(o.at)}`;
    case 'expired':
      return `Expired: no decision before the deadline (${formatTime(o.at)})`;
    case 'withdrawn':
      return `Withdrawn: ${o.reason}`;
  }
}

function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
