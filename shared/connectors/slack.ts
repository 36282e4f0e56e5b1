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
  type Button,
} from '@slack/web-api';
import {
  APPROVE_ACTION_ID,
  BUNDLE_APPROVE_ALL_ACTION_ID,
  CAMPAIGN_KEEP_ACTION_ID,
  CAMPAIGN_KEEP_RECOMMENDED_ACTION_ID,
  CAMPAIGN_PAGE_ACTION_IDS,
  CAMPAIGN_REVOKE_ACTION_ID,
  DENY_ACTION_ID,
  EXTEND_ACTION_ID,
  RELEASE_ACTION_ID,
  REQUEST_FORM,
  REVIEW_ACTION_ID,
  REVOKE_REASON_FORM,
  type ApprovalOutcome,
  type ApprovalProgress,
  type ApprovalPrompt,
  type BundleApprovalView,
  type Chat,
  type ChatMessageRef,
  type FormChoice,
  type RequestForm,
  type ReviewMessageView,
  type RevokeReasonForm,
} from '../ports.js';
import type { CampaignItem } from '../campaigns.js';
import { describeDuration } from '../duration.js';
import { realSleep, type Sleep } from '../clock.js';
import { GrantlineError, PermanentError, RetryableError, errorMessage } from '../errors.js';

/** A Block Kit block as WebClient types it (derived so we need not import the transitive @slack/types). */
export type SlackBlock = Extract<ChatPostMessageArguments, { blocks: unknown[] }>['blocks'][number];

export const DECISION_BLOCK_ID = 'grantline_decision';
export const RELEASE_BLOCK_ID = 'grantline_release';
export const REVIEW_BLOCK_ID = 'grantline_review';
export const EXTEND_BLOCK_ID = 'grantline_extend';
export const BUNDLE_APPROVE_ALL_BLOCK_ID = 'grantline_approve_all';
/** A review item's Keep/Revoke block (suffixed `/${itemId}`: block ids must not repeat in a message), and the footer's. */
export const CAMPAIGN_ITEM_BLOCK_ID = 'grantline_campaign_item';
export const CAMPAIGN_FOOTER_BLOCK_ID = 'grantline_campaign_footer';

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

  async postApprovalRequest(to: string, prompt: ApprovalPrompt): Promise<ChatMessageRef> {
    return this.postDecisionMessage(to, approvalText(prompt), approvalBlocks(prompt));
  }

  async showOutcome(ref: ChatMessageRef, prompt: ApprovalPrompt, outcome: ApprovalOutcome): Promise<void> {
    await this.call('chat.update', () =>
      this.client.chat.update({
        channel: ref.channel,
        ts: ref.ts,
        text: clip(`${approvalText(prompt)} ${outcomeShown(outcome)}`, SLACK_LIMITS.messageText),
        blocks: outcomeBlocks(prompt, outcome),
      }),
    );
  }

  async showProgress(ref: ChatMessageRef, prompt: ApprovalPrompt, progress: ApprovalProgress): Promise<void> {
    await this.call('chat.update', () =>
      this.client.chat.update({
        channel: ref.channel,
        ts: ref.ts,
        text: clip(`${approvalText(prompt)} ${progressShown(progress)}.`, SLACK_LIMITS.messageText),
        blocks: approvalBlocks(prompt, progress),
      }),
    );
  }

  async showBundleApprovals(to: string | ChatMessageRef, view: BundleApprovalView): Promise<ChatMessageRef> {
    const text = bundleApprovalText(view);
    const blocks = bundleApprovalBlocks(view);
    if (typeof to === 'string') return this.postDecisionMessage(to, text, blocks);
    await this.call('chat.update', () => this.client.chat.update({ channel: to.channel, ts: to.ts, text, blocks }));
    return { channel: to.channel, ts: to.ts };
  }

  async showReviewItems(to: string | ChatMessageRef, view: ReviewMessageView): Promise<ChatMessageRef> {
    const text = reviewMessageText(view);
    const blocks = reviewMessageBlocks(view);
    if (typeof to === 'string') return this.postDecisionMessage(to, text, blocks);
    await this.call('chat.update', () => this.client.chat.update({ channel: to.channel, ts: to.ts, text, blocks }));
    return { channel: to.channel, ts: to.ts };
  }

  async notify(
    to: string | ChatMessageRef,
    text: string,
    options: { release?: string; review?: string; extend?: { grantId: string; by: string } } = {},
  ): Promise<ChatMessageRef> {
    // A user id is DMed; a channel id (C…, G…: a break-glass notice) or a message's thread is posted to as it is.
    const channel = typeof to !== 'string' ? to.channel : isChannelId(to) ? to : await this.openDm(to);
    const thread = typeof to === 'string' ? {} : { thread_ts: to.ts };
    // Notices quote requests and refusal reasons; none of ours is meant to carry a link or mention.
    // Clipped too: a refusal reason can quote a long request, and Slack splits or truncates long texts.
    const blocks = options.release
      ? { blocks: releaseBlocks(text, options.release) }
      : options.review
        ? { blocks: reviewBlocks(text, options.review) }
        : options.extend
          ? { blocks: extendBlocks(text, options.extend) }
          : {};
    const res = await this.call('chat.postMessage', () =>
      this.client.chat.postMessage({ channel, text: shown(text, SLACK_LIMITS.messageText), ...blocks, ...thread }),
    );
    return { channel: res.channel ?? channel, ts: res.ts ?? '' };
  }

  async showReleased(ref: ChatMessageRef, text: string, outcome: string): Promise<void> {
    await this.call('chat.update', () =>
      this.client.chat.update({
        channel: ref.channel,
        ts: ref.ts,
        text: shown(`${text} ${outcome}`, SLACK_LIMITS.messageText),
        blocks: releasedBlocks(text, outcome),
      }),
    );
  }

  async openRequestForm(triggerId: string, form: RequestForm): Promise<void> {
    await this.call('views.open', () => this.client.views.open({ trigger_id: triggerId, view: requestFormView(form) }));
  }

  async openRevokeReason(triggerId: string, form: RevokeReasonForm): Promise<void> {
    await this.call('views.open', () => this.client.views.open({ trigger_id: triggerId, view: revokeReasonView(form) }));
  }

  async updateRequestForm(viewId: string, hash: string | undefined, form: RequestForm): Promise<void> {
    try {
      await this.call('views.update', () => this.client.views.update({ view_id: viewId, ...(hash ? { hash } : {}), view: requestFormView(form) }));
    } catch (err) {
      // A newer choice redrew the form first: that redraw is the one to keep.
      if (isSlackError(err, 'hash_conflict')) return;
      throw err;
    }
  }

  /** Posts a message with decision buttons to a user's DM or a channel; its ref is kept to redraw it, so a missing ts is an error. */
  private async postDecisionMessage(to: string, text: string, blocks: SlackBlock[]): Promise<ChatMessageRef> {
    const channel = isChannelId(to) ? to : await this.openDm(to);
    const res = await this.call('chat.postMessage', () => this.client.chat.postMessage({ channel, text, blocks }));
    if (!res.ts) throw new PermanentError(`Slack chat.postMessage to ${to} returned no message timestamp.`);
    return { channel: res.channel ?? channel, ts: res.ts };
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
      invalid_blocks: 'a block breaks a Block Kit limit or rule',
      msg_too_long: 'the message text is too long',
    };
    // invalid_blocks names the offending field by JSON pointer in `errors`; keep the first few for the evidence.
    const pointers = Array.isArray(data.errors) ? data.errors.filter((e): e is string => typeof e === 'string').slice(0, 3) : [];
    const detail = pointers.length ? ` (${pointers.join('; ')})` : '';
    return new PermanentError(`Slack ${method} failed (${code})${what[code] ? `: ${what[code]}` : ''}${detail}.`, { cause: err });
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

/** Slack channel ids start with C (public), G (private) or D (a DM); user ids with U or W. */
const isChannelId = (id: string): boolean => /^[CGD][A-Z0-9]{2,}$/.test(id);

/** Escapes the three characters Slack treats as control sequences, so user text cannot inject mentions or links. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Slack's Block Kit limits for what Grantline sends (docs.slack.dev/reference/block-kit); the simulated Slack enforces the same. */
export const SLACK_LIMITS = {
  sectionText: 3_000,
  /** A section field's cap; context texts use it too, though theirs is 3,000. */
  fieldText: 2_000,
  headerText: 150,
  /** Slack truncates a message's text at 40,000 and advises far less; long texts may also be split into several messages. */
  messageText: 4_000,
} as const;

/** Per-fact budgets (after escaping) so that one huge value cannot crowd the others out of a block. */
const EMAIL_MAX = 300; // RFC 5321 caps an address at 254; the rest is room for escapes
const NAME_MAX = 300; // app and role names
const SHORT_MAX = 100; // issue key, duration, risk
const REASON_MAX = 1_500; // a withdrawal reason quoted in the outcome line

/**
 * Cuts `text` to at most `max` UTF-16 units, ending in "…" when cut. Never splits a surrogate pair or one of the
 * escapes escapeMrkdwn makes (&amp; &lt; &gt;), so escape first and clip after: escaping can triple a text's length.
 */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = max - 1; // room for the marker
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1; // a high surrogate whose low half would be cut off
  const amp = text.lastIndexOf('&', cut - 1);
  if (amp >= 0 && amp > cut - 5) {
    const entity = /^&(?:amp|lt|gt);/.exec(text.slice(amp))?.[0];
    if (entity && amp + entity.length > cut) cut = amp;
  }
  return `${text.slice(0, cut)}…`;
}

/** Escapes user text for mrkdwn, then clips it: the limit is measured on what Slack receives. */
const shown = (raw: string, max: number) => clip(escapeMrkdwn(raw), max);
const mrkdwn = (text: string, max: number = SLACK_LIMITS.fieldText) => ({ type: 'mrkdwn' as const, text: clip(text, max) });

/** The message's `text` (notifications, screen readers): Slack parses it as mrkdwn too, so it is escaped like the blocks. */
export function approvalText(p: ApprovalPrompt): string {
  const text = `${shown(p.issueKey, SHORT_MAX)}: ${shown(p.requesterEmail, EMAIL_MAX)} requests ${shown(p.app, NAME_MAX)} ${shown(p.role, NAME_MAX)} for ${shown(p.subjectEmail, EMAIL_MAX)} (${shown(p.duration, SHORT_MAX)}, risk ${shown(p.risk, SHORT_MAX)}).`;
  return clip(text, SLACK_LIMITS.messageText);
}

/** "themselves" when the requester asks for their own access, else the subject in bold (escaped). */
const forWhom = (requesterEmail: string, subjectEmail: string) =>
  requesterEmail.toLowerCase() === subjectEmail.toLowerCase() ? 'themselves' : `*${shown(subjectEmail, EMAIL_MAX)}*`;

/** Header text is plain_text, which Slack never parses, so it is clipped unescaped. */
const headerBlock = (heading: string): SlackBlock => ({ type: 'header', text: { type: 'plain_text', text: clip(heading, SLACK_LIMITS.headerText) } });

function justificationBlock(raw: string): SlackBlock {
  const label = '*Justification*\n';
  const justification = shown(raw, SLACK_LIMITS.sectionText - label.length) || '_none given_';
  return { type: 'section', text: mrkdwn(`${label}${justification}`, SLACK_LIMITS.sectionText) };
}

const contextLine = (text: string): SlackBlock => ({ type: 'context', elements: [mrkdwn(text)] });

function summaryBlocks(p: ApprovalPrompt): SlackBlock[] {
  return [
    // Each fact is clipped on its own, so a huge app name still leaves the role and the subject visible.
    headerBlock(`Access request ${clip(p.issueKey, 20)}: ${clip(p.app, 60)} ${clip(p.role, 60)}`),
    {
      type: 'section',
      text: mrkdwn(
        `*${shown(p.requesterEmail, EMAIL_MAX)}* requests *${shown(p.role, NAME_MAX)}* on *${shown(p.app, NAME_MAX)}* for ${forWhom(p.requesterEmail, p.subjectEmail)}.`,
        SLACK_LIMITS.sectionText,
      ),
    },
    {
      type: 'section',
      fields: [
        mrkdwn(`*Duration*\n${shown(p.duration, SHORT_MAX)}`),
        mrkdwn(`*Risk*\n${shown(p.risk, SHORT_MAX)}`),
        mrkdwn(`*Jira*\n${shown(p.issueKey, SHORT_MAX)}`),
        mrkdwn(`*Approval step*\n${p.step + 1}`),
      ],
    },
    justificationBlock(p.justification),
  ];
}

/**
 * The approval DM: summary plus Approve/Deny. Button values carry `${grantId}:${step}` only, never a task token.
 * A quorum step's approvals so far (`progress`) are shown above the buttons, which stay for the others.
 */
export function approvalBlocks(p: ApprovalPrompt, progress?: ApprovalProgress): SlackBlock[] {
  return [...summaryBlocks(p), ...(progress ? [contextLine(progressNote(progress))] : []), decisionActions(p, DECISION_BLOCK_ID)];
}

/** Approve/Deny for one approval step; the click handler reads the action id and the value `${grantId}:${step}`. */
function decisionActions(p: ApprovalPrompt, blockId: string): SlackBlock {
  const value = `${p.grantId}:${p.step}`;
  return {
    type: 'actions',
    block_id: blockId,
    elements: [
      { type: 'button', action_id: APPROVE_ACTION_ID, style: 'primary', value, text: plain('Approve') },
      { type: 'button', action_id: DENY_ACTION_ID, style: 'danger', value, text: plain('Deny') },
    ],
  };
}

/** The same summary with the buttons replaced by the outcome. */
export function outcomeBlocks(p: ApprovalPrompt, outcome: ApprovalOutcome): SlackBlock[] {
  return [...summaryBlocks(p), contextLine(outcomeNote(outcome))];
}

const OUTCOME_ICONS = { approved: ':white_check_mark:', denied: ':no_entry:', expired: ':hourglass:', withdrawn: ':leftwards_arrow_with_hook:' } as const;
const outcomeNote = (o: ApprovalOutcome) => `${OUTCOME_ICONS[o.kind]} ${outcomeShown(o)}`;
const progressNote = (p: ApprovalProgress) => `:white_check_mark: ${progressShown(p)}`;

/** The bundle message's `text`: a one-line summary, escaped and clipped like approvalText. */
export function bundleApprovalText(v: BundleApprovalView): string {
  const items = `${v.items.length} request${v.items.length === 1 ? '' : 's'}`;
  const text = `${shown(v.issueKey, SHORT_MAX)}: ${shown(v.requesterEmail, EMAIL_MAX)} requests the ${shown(v.bundleName, NAME_MAX)} bundle (${items}) for ${shown(v.subjectEmail, EMAIL_MAX)}.`;
  return clip(text, SLACK_LIMITS.messageText);
}

/**
 * An onboarding bundle's approval message: who asked for whom, the shared justification, then per item its facts and
 * either Approve/Deny (the single request's buttons, so the same click handler decides it) or its outcome; and
 * "Approve all" while two or more items wait. Two blocks an item, so MAX_BUNDLE_ITEMS (20) items take 44 of the
 * 50 blocks Slack allows: a quorum's progress is a line of the item's section, not a context block of its own.
 */
export function bundleApprovalBlocks(v: BundleApprovalView): SlackBlock[] {
  const itemBlocks = v.items.flatMap(({ prompt: p, outcome, progress }, i): SlackBlock[] => {
    const facts = [
      `*${shown(p.app, NAME_MAX)}* · ${shown(p.role, NAME_MAX)}`,
      `Duration *${shown(p.duration, SHORT_MAX)}* · Risk *${shown(p.risk, SHORT_MAX)}* · Approval step *${p.step + 1}*`,
      ...(progress && !outcome ? [progressNote(progress)] : []),
    ];
    const item: SlackBlock = { type: 'section', text: mrkdwn(facts.join('\n'), SLACK_LIMITS.sectionText) };
    // Slack refuses a message whose block ids repeat: each item's buttons are told apart by its index.
    return [item, outcome ? contextLine(outcomeNote(outcome)) : decisionActions(p, `${DECISION_BLOCK_ID}/${i}`)];
  });
  const waiting = v.items.filter((item) => !item.outcome).length;
  return [
    headerBlock(`Onboarding bundle ${clip(v.bundleName, 60)} for ${clip(v.subjectEmail, 80)}`),
    {
      type: 'section',
      text: mrkdwn(
        `*${shown(v.requesterEmail, EMAIL_MAX)}* requests the *${shown(v.bundleName, NAME_MAX)}* bundle for ${forWhom(v.requesterEmail, v.subjectEmail)} (Jira *${shown(v.issueKey, SHORT_MAX)}*).`,
        SLACK_LIMITS.sectionText,
      ),
    },
    // One request, one justification: every item carries the same.
    justificationBlock(v.items[0]?.prompt.justification ?? ''),
    ...itemBlocks,
    ...(waiting >= 2 ? [approveAllActions(v.bundleId, waiting)] : []),
  ];
}

/** "Approve all (N)": one click decides several requests, so Slack asks to confirm first. The value is the bundle id only. */
function approveAllActions(bundleId: string, waiting: number): SlackBlock {
  return buttonActions(BUNDLE_APPROVE_ALL_BLOCK_ID, {
    action_id: BUNDLE_APPROVE_ALL_ACTION_ID,
    value: bundleId,
    style: 'primary',
    text: plain(`Approve all (${waiting})`),
    confirm: {
      title: plain(`Approve all ${waiting} requests?`),
      text: plain(`You approve the ${waiting} requests of this bundle still waiting for you. Each decision is recorded on the Jira issue under your name.`),
      confirm: plain('Approve all'),
      deny: plain('Not yet'),
    },
  });
}

/** Budgets of a review item's facts (after escaping), so that its section stays under 3,000 characters whatever the directory says. */
const PERSON_MAX = 200; // a person's name, title, department
const RECOMMENDATION_MAX = 400; // the recommendation's reason (Grantline's own words, but stored data all the same)
const APPS_MAX = 1_000; // the apps in scope, as a list

/** The reviewer's message `text` (notifications, screen readers): a one-line summary, escaped and clipped like approvalText. */
export function reviewMessageText(v: ReviewMessageView): string {
  const state = v.closed ? 'closed' : `due ${shown(formatDay(v.dueAt), SHORT_MAX)}`;
  return clip(`Access review of ${shown(v.apps, APPS_MAX)}: ${v.decided} of ${v.total} decided (${state}).`, SLACK_LIMITS.messageText);
}

/**
 * A reviewer's access review message, one page of their items: the header, a status line (due date, progress, page), a
 * "closed" line once the campaign is closed, then two blocks an item (its facts; Keep/Revoke or its decision) and a
 * footer with "Keep all recommended keeps (N)" and the page buttons when any of them applies. A full page
 * (REVIEW_PAGE_SIZE, 10 items) takes 23 of the 50 blocks Slack allows. A closed campaign's message has no button at all.
 */
export function reviewMessageBlocks(v: ReviewMessageView): SlackBlock[] {
  const status = [
    `Due *${shown(formatTime(v.dueAt), SHORT_MAX)}*`,
    `*${v.decided} of ${v.total}* decided`,
    `page ${v.page + 1} of ${Math.max(v.pageCount, 1)}`,
  ];
  const open = !v.closed;
  const footer: Button[] = [
    ...(open && v.recommendedKeepsWaiting > 0 ? [keepRecommendedButton(v.campaignId, v.recommendedKeepsWaiting)] : []),
    ...(open && v.page > 0 && v.page - 1 < v.pageCount ? [pageButton(v.campaignId, 'previous', v.page - 1)] : []),
    ...(open && v.page + 1 < v.pageCount ? [pageButton(v.campaignId, 'next', v.page + 1)] : []),
  ];
  return [
    headerBlock(`Access review: ${v.apps}`),
    contextLine(status.join(' · ')),
    ...(open ? [] : [contextLine(':lock: This review is closed: the decisions below are final and no more can be made.')]),
    ...v.items.flatMap((item): SlackBlock[] => [
      { type: 'section', text: mrkdwn(reviewItemFacts(item).join('\n'), SLACK_LIMITS.sectionText) },
      item.decision
        ? contextLine(reviewDecisionNote(item.decision))
        : open
          ? reviewItemActions(v.campaignId, item)
          : contextLine(':heavy_minus_sign: Not reviewed before the review closed'),
    ]),
    ...(footer.length > 0 ? [{ type: 'actions' as const, block_id: CAMPAIGN_FOOTER_BLOCK_ID, elements: footer }] : []),
  ];
}

/** "*Sam Analyst* (sam@x)", or the email alone when the identity provider gives no name. */
const reviewPerson = (item: CampaignItem) =>
  item.name ? `*${shown(item.name, PERSON_MAX)}* (${shown(item.email, EMAIL_MAX)})` : `*${shown(item.email, EMAIL_MAX)}*`;
const reviewRecommendation = (item: CampaignItem) => `Recommend: *${shown(item.recommendation, SHORT_MAX)}* — ${shown(item.reason, RECOMMENDATION_MAX)}`;

/** One line a fact, each escaped and clipped on its own: at most ~2,850 characters together. */
function reviewItemFacts(item: CampaignItem): string[] {
  const job = [item.title, item.department].flatMap((fact) => (fact ? [shown(fact, PERSON_MAX)] : [])).join(', ');
  const group = item.provider ? `group ${shown(item.group, EMAIL_MAX)} (${shown(item.provider, SHORT_MAX)})` : 'manual app: not automatically revocable';
  const grant = item.grant;
  const from = grant
    ? `grant ${shown(grant.grantId, SHORT_MAX)} (Jira ${shown(grant.issueKey, SHORT_MAX)})${grant.approvedBy ? `, approved by ${shown(grant.approvedBy, EMAIL_MAX)}` : ''}${grant.approvedAt ? ` on ${shown(formatDay(grant.approvedAt), SHORT_MAX)}` : ''}`
    : 'outside Grantline';
  const lastLogin = item.lastLogin === 'unknown' ? 'unknown' : shown(formatDay(item.lastLogin), SHORT_MAX);
  return [
    `${reviewPerson(item)}${job ? ` · ${job}` : ''}`,
    `*${shown(item.appName, NAME_MAX)}* ${shown(item.role, NAME_MAX)} · ${group}`,
    `From ${from}`,
    `Last sign-in ${lastLogin}`,
    reviewRecommendation(item),
  ];
}

/** Keep/Revoke for one item; both carry `${campaignId}:${itemId}` only. Block ids must not repeat: each is told apart by the item id. */
function reviewItemActions(campaignId: string, item: CampaignItem): SlackBlock {
  const value = `${campaignId}:${item.itemId}`;
  return {
    type: 'actions',
    block_id: `${CAMPAIGN_ITEM_BLOCK_ID}/${item.itemId}`,
    elements: [
      { type: 'button', action_id: CAMPAIGN_KEEP_ACTION_ID, style: 'primary', value, text: plain('Keep') },
      { type: 'button', action_id: CAMPAIGN_REVOKE_ACTION_ID, style: 'danger', value, text: plain('Revoke') },
    ],
  };
}

const REVIEW_DECISION_ICONS = { keep: ':white_check_mark:', revoke: ':no_entry:' } as const;

/** "Kept by x at time" / "Revoked by x at time: reason", escaped and clipped: a reason is the reviewer's own text. */
function reviewDecisionNote(d: NonNullable<CampaignItem['decision']>): string {
  const line = `${d.outcome === 'keep' ? 'Kept' : 'Revoked'} by ${d.by} at ${formatTime(d.at)}${d.reason ? `: ${d.reason}` : ''}`;
  return `${REVIEW_DECISION_ICONS[d.outcome]} ${shown(line, REASON_MAX + 100)}`;
}

/** "Keep all recommended keeps (N)": one click decides several items, so Slack asks to confirm first. The value is the campaign id only. */
function keepRecommendedButton(campaignId: string, waiting: number): Button {
  const items = `${waiting} item${waiting === 1 ? '' : 's'}`;
  return {
    type: 'button',
    action_id: CAMPAIGN_KEEP_RECOMMENDED_ACTION_ID,
    value: campaignId,
    text: plain(`Keep all recommended keeps (${waiting})`),
    confirm: {
      title: plain(`Keep ${items} recommended to keep?`),
      text: plain(
        `You keep the ${items} that Grantline recommends keeping and that still wait${waiting === 1 ? 's' : ''} for your decision, on every page of this review. Each is recorded under your name.`,
      ),
      confirm: plain('Keep all'),
      deny: plain('Not yet'),
    },
  };
}

/** "Previous page" / "Next page": the value is `${campaignId}:${page}`, the zero-based page the click shows. */
const pageButton = (campaignId: string, which: keyof typeof CAMPAIGN_PAGE_ACTION_IDS, page: number): Button => ({
  type: 'button',
  action_id: CAMPAIGN_PAGE_ACTION_IDS[which],
  value: `${campaignId}:${page}`,
  text: plain(which === 'previous' ? 'Previous page' : 'Next page'),
});

/** Slack's limit on a modal's private_metadata, which carries what the revoke-reason modal's submission needs. */
const PRIVATE_METADATA_MAX = 3_000;
/** A revocation's reason, as the modal takes it and the decision route accepts it (shared/campaigns.ts). */
const REVOKE_REASON_MAX = 1_000;

/**
 * The modal that asks why a review item is revoked: the person, the app role and the recommendation, and one required
 * text input. private_metadata carries `{campaignId, itemId, channel?, ts?}` (the reviewer's message, to redraw it).
 */
export function revokeReasonView(form: RevokeReasonForm): View {
  const { item } = form;
  const privateMetadata = JSON.stringify({
    campaignId: form.campaignId,
    itemId: item.itemId,
    ...(form.message ? { channel: form.message.channel, ts: form.message.ts } : {}),
  });
  // Ids only, so it cannot grow with user text; Slack would refuse the whole modal.
  if (privateMetadata.length > PRIVATE_METADATA_MAX) {
    throw new PermanentError(
      `The revoke-reason modal's metadata for review item ${form.campaignId}/${item.itemId} exceeds Slack's ${PRIVATE_METADATA_MAX} characters.`,
    );
  }
  const summary = `Revoke the access of ${reviewPerson(item)} to *${shown(item.appName, NAME_MAX)}* ${shown(item.role, NAME_MAX)}?\n${reviewRecommendation(item)}`;
  return {
    type: 'modal',
    callback_id: REVOKE_REASON_FORM.callbackId,
    private_metadata: privateMetadata,
    title: plain('Revoke access'),
    submit: plain('Revoke'),
    close: plain('Cancel'),
    blocks: [
      { type: 'section', text: mrkdwn(summary, SLACK_LIMITS.sectionText) },
      {
        type: 'input',
        block_id: REVOKE_REASON_FORM.reason,
        label: plain('Why is it revoked?'),
        hint: plain('Recorded with your decision in the review.'),
        element: { type: 'plain_text_input', action_id: REVOKE_REASON_FORM.reason, multiline: true, max_length: REVOKE_REASON_MAX },
      },
    ],
  };
}

/** "Approved by sam@x (1 of 2); 1 more approval needed", escaped and clipped (a group may be long). */
const progressShown = (p: ApprovalProgress) => shown(progressLine(p), REASON_MAX + 100);

export function progressLine(p: ApprovalProgress): string {
  const more = p.needed - p.approvedBy.length;
  const waiting = more > 0 ? `; ${more} more approval${more === 1 ? '' : 's'} needed` : '';
  return `Approved by ${p.approvedBy.join(', ')} (${p.approvedBy.length} of ${p.needed})${waiting}`;
}

/** The outcome line escaped for mrkdwn and clipped: a withdrawal reason may quote a whole request. */
const outcomeShown = (o: ApprovalOutcome) => shown(outcomeLine(o), REASON_MAX + 100);

export function outcomeLine(o: ApprovalOutcome): string {
  switch (o.kind) {
    case 'approved':
      return `Approved ${o.via === 'jira' ? 'in Jira ' : ''}by ${o.by} at ${formatTime(o.at)}`;
    case 'denied':
      return `Denied ${o.via === 'jira' ? 'in Jira ' : ''}by ${o.by} at ${formatTime(o.at)}`;
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

/** The day of an instant (YYYY-MM-DD, UTC), or the text as given when it is no date. */
function formatDay(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(0, 10);
}

/** A notice with one button under its text: the "I'm done", "Extend by …" and "Reviewed" messages. */
function noticeWithButton(text: string, blockId: string, button: Omit<Button, 'type'>): SlackBlock[] {
  return [{ type: 'section', text: mrkdwn(shown(text, SLACK_LIMITS.sectionText), SLACK_LIMITS.sectionText) }, buttonActions(blockId, button)];
}

const buttonActions = (blockId: string, button: Omit<Button, 'type'>): SlackBlock => ({
  type: 'actions',
  block_id: blockId,
  elements: [{ type: 'button', ...button }],
});

/**
 * The "Access granted" message to the person who holds the access: its text, and an "I'm done"
 * button that ends the access early. The button's value is the grant id only.
 */
export function releaseBlocks(text: string, grantId: string): SlackBlock[] {
  return noticeWithButton(text, RELEASE_BLOCK_ID, {
    action_id: RELEASE_ACTION_ID,
    value: grantId,
    text: plain("I'm done"),
    confirm: {
      title: plain('End your access now?'),
      text: plain('Grantline removes the access now, before its scheduled end. Ask again if you need it later.'),
      confirm: plain('End it now'),
      deny: plain('Keep it'),
    },
  });
}

/** The notice before access ends: its text, and an "Extend by …" button whose value is `${grantId}:${by}` only. */
export function extendBlocks(text: string, extend: { grantId: string; by: string }): SlackBlock[] {
  return noticeWithButton(text, EXTEND_BLOCK_ID, {
    action_id: EXTEND_ACTION_ID,
    value: `${extend.grantId}:${extend.by}`,
    text: plain(`Extend by ${describeDuration(extend.by)}`),
  });
}

/**
 * A break-glass notice to a reviewer (or the channel): its text, and a "Reviewed" button that confirms
 * the use after the fact. The button's value is the grant id only.
 */
export function reviewBlocks(text: string, grantId: string): SlackBlock[] {
  return noticeWithButton(text, REVIEW_BLOCK_ID, {
    action_id: REVIEW_ACTION_ID,
    value: grantId,
    style: 'primary',
    text: plain('Reviewed'),
    confirm: {
      title: plain('Confirm this break-glass?'),
      text: plain('You confirm you reviewed this break-glass use. It is recorded on the Jira issue under your name.'),
      confirm: plain('Confirm'),
      deny: plain('Not yet'),
    },
  });
}

/** The same message once the access was released (or had already ended): the text, and the outcome instead of the button. */
export function releasedBlocks(text: string, outcome: string): SlackBlock[] {
  return [
    { type: 'section', text: mrkdwn(shown(text, SLACK_LIMITS.sectionText), SLACK_LIMITS.sectionText) },
    contextLine(shown(outcome, SLACK_LIMITS.fieldText)),
  ];
}

/** Slack's limits on a static select: 100 options, each text at most 75 characters. */
const MAX_OPTIONS = 100;
const OPTION_TEXT_MAX = 75;
const plain = (text: string) => ({ type: 'plain_text' as const, text });

/**
 * The request form as a Slack modal. Choosing an app or a role sends a block action (dispatch_action)
 * and the form is redrawn; the role and duration blocks' ids carry what they list, so a new app
 * starts the role empty, while the justification and the person keep what was typed (same ids).
 */
export function requestFormView(form: RequestForm): View {
  const option = (c: FormChoice) => ({ text: plain(clip(c.label, OPTION_TEXT_MAX)), value: c.value });
  const select = (actionId: string, placeholder: string, choices: FormChoice[], chosen: string | undefined) => {
    const chosenChoice = choices.find((c) => c.value === chosen);
    // Slack lists at most 100 options: the chosen one always among them.
    const shownChoices = choices.slice(0, MAX_OPTIONS);
    if (chosenChoice && !shownChoices.includes(chosenChoice)) shownChoices[MAX_OPTIONS - 1] = chosenChoice;
    return {
      type: 'static_select' as const,
      action_id: actionId,
      placeholder: plain(placeholder),
      options: shownChoices.map(option),
      ...(chosenChoice ? { initial_option: option(chosenChoice) } : {}),
    };
  };
  const blocks: View['blocks'] = [
    {
      type: 'input',
      block_id: REQUEST_FORM.app,
      dispatch_action: true,
      label: plain('App'),
      element: select(REQUEST_FORM.app, 'Choose an app', form.apps, form.app),
    },
  ];
  if (form.apps.length > MAX_OPTIONS) {
    const note = `The first ${MAX_OPTIONS} of ${form.apps.length} apps are listed: type \`/access <app>\` for another.`;
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: note }] });
  }
  if (form.app) {
    blocks.push({
      type: 'input',
      block_id: `${REQUEST_FORM.role}/${form.app}`,
      dispatch_action: true,
      label: plain('Role'),
      element: select(REQUEST_FORM.role, 'Choose a role', form.roles, form.role),
    });
  } else {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: 'Choose an app to see its roles.' }] });
  }
  if (form.app && form.role) {
    blocks.push({
      type: 'input',
      block_id: `${REQUEST_FORM.duration}/${form.app}/${form.role}`,
      label: plain('For how long'),
      element: select(
        REQUEST_FORM.duration,
        'Choose a duration',
        form.durations.map((d) => ({ value: d.value, label: `${d.label} (${d.value})` })),
        undefined,
      ),
    });
  }
  blocks.push(
    {
      type: 'input',
      block_id: REQUEST_FORM.justification,
      label: plain('Why is it needed?'),
      element: { type: 'plain_text_input', action_id: REQUEST_FORM.justification, multiline: true, max_length: JUSTIFICATION_MAX },
    },
    {
      type: 'input',
      block_id: REQUEST_FORM.subject,
      optional: true,
      label: plain('On behalf of'),
      hint: plain('Leave empty to ask for yourself; a manager can pick a new hire.'),
      element: { type: 'users_select', action_id: REQUEST_FORM.subject, placeholder: plain('Yourself') },
    },
  );
  return { type: 'modal', callback_id: REQUEST_FORM.callbackId, title: plain('Request access'), submit: plain('Request'), close: plain('Cancel'), blocks };
}

/** Slack caps a text input at 3,000 characters (intake would take 4,000: shared/intake.ts FIELD_LIMITS). */
const JUSTIFICATION_MAX = 3_000;

type View = Extract<Parameters<WebClient['views']['open']>[0], { view: unknown }>['view'];
