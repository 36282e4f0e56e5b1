/**
 * Simulated Slack Web API for the sandbox and the connector tests: POST (or GET) /api/<method>, form-encoded or JSON,
 * answering HTTP 200 with {ok:false, error} for API errors as Slack does. Rate limits are injected as HTTP 429.
 */
import { randomUUID } from 'node:crypto';
import { HttpFake, type FakeRequest, type FakeResponse } from './http-fake.js';

export interface FakeSlackUser {
  id: string;
  name: string;
  email: string;
  /** users.info omits profile.email (as when the app lacks users:read.email or the user hides it). */
  emailHidden: boolean;
  deleted: boolean;
}

export interface FakeSlackMessage {
  channel: string;
  ts: string;
  text: string;
  blocks: unknown[];
  /** ISO time of the last chat.update. */
  updatedAt?: string;
  /** The user whose DM this is (empty for a channel message). */
  user: string;
  /** The message this one replies to (its thread), when posted with thread_ts. */
  threadTs?: string;
}

export interface FakeSlack {
  url: string;
  apiUrl: string;
  token: string;
  fake: HttpFake;
  close(): Promise<void>;
  addUser(user: { email: string; name?: string; id?: string; emailHidden?: boolean; deleted?: boolean }): string;
  users(): FakeSlackUser[];
  /** Replaces the bot token's scopes; methods needing an absent scope answer missing_scope. */
  setScopes(scopes: string[]): void;
  /** The next `times` calls of `method` (all methods when omitted) get HTTP 429 with Retry-After. */
  rateLimit(opts?: { method?: string; retryAfterSeconds?: number; times?: number }): void;
  /** Messages posted, oldest first; from the `from`-th on when given (a reader that keeps its place copies only what is new). */
  messages(from?: number): FakeSlackMessage[];
  messagesTo(userId: string): FakeSlackMessage[];
  /** Adds a channel (the app in it unless `joined: false`); returns its id. */
  addChannel(name: string, opts?: { id?: string; joined?: boolean }): string;
  /** Messages posted in a channel, oldest first. */
  messagesIn(channelId: string): FakeSlackMessage[];
  /** A trigger id for a command or click by this user, as Slack puts in the payload it sends: views.open takes it once, within 3 s. */
  issueTrigger(userId: string): string;
  /** The modals opened (views.open), as now shown: blocks and what the user has entered. */
  views(): FakeSlackView[];
  /**
   * The user enters a value in an open modal's input (the block whose id starts with `blockPrefix`): a select's option
   * value (it must be one of the options shown), a user picker's user id, or a text input's text.
   */
  enter(viewId: string, blockPrefix: string, value: string): { blockId: string; actionId: string };
}

export interface FakeSlackView {
  id: string;
  hash: string;
  user: string;
  callbackId: string;
  blocks: unknown[];
  /** The view's private_metadata (Slack: at most 3,000 characters), sent back in view_submission as view.private_metadata. */
  privateMetadata?: string;
  /** view.state.values as Slack sends them: block_id -> action_id -> the element's state. */
  values: Record<string, Record<string, Record<string, unknown>>>;
}

export const DEFAULT_FAKE_SLACK_TOKEN = 'xoxb-grantline-sandbox';
const ALL_SCOPES = ['users:read', 'users:read.email', 'im:write', 'chat:write'];
const BOT_USER_ID = 'UGRANTBOT';
const BOT_ID = 'BGRANTBOT';

type Args = Record<string, unknown>;
type Answer = Record<string, unknown>;

export async function startFakeSlack(opts: { port?: number; token?: string } = {}): Promise<FakeSlack> {
  const token = opts.token ?? DEFAULT_FAKE_SLACK_TOKEN;
  const fake = new HttpFake('slack');
  const users = new Map<string, FakeSlackUser>();
  const dms = new Map<string, string>(); // DM channel id -> user id
  const messages: FakeSlackMessage[] = [];
  const triggers = new Map<string, { user: string; issuedAt: number; used: boolean }>();
  const views = new Map<string, FakeSlackView>();
  /** Channels: id -> name and whether the app is in it (Slack refuses posts to a channel the app has not joined). */
  const channels = new Map<string, { name: string; joined: boolean }>();
  let viewSeq = 0;
  let scopes = new Set(ALL_SCOPES);
  let userSeq = 0;
  let msgSeq = 0;

  const fail = (error: string, extra: Answer = {}): Answer => ({ ok: false, error, ...extra });
  const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined);
  const nextTs = () => {
    msgSeq += 1;
    return `${1_700_000_000 + Math.floor(msgSeq / 10_000)}.${String((msgSeq % 10_000) * 100).padStart(6, '0')}`;
  };
  const userJson = (u: FakeSlackUser) => ({
    id: u.id,
    name: u.name,
    deleted: u.deleted,
    real_name: u.name,
    is_bot: false,
    profile: {
      real_name: u.name,
      display_name: u.name,
      ...(u.emailHidden || !scopes.has('users:read.email') ? {} : { email: u.email }),
    },
  });
  const dmFor = (userId: string) => {
    const id = `D${userId.slice(1)}`;
    dms.set(id, userId);
    return id;
  };
  /** A DM id, or a user id (Slack posts to the app's DM with that user). */
  const resolveChannel = (channel: string | undefined) => {
    if (!channel) return undefined;
    if (dms.has(channel) || channels.has(channel)) return channel;
    const user = users.get(channel);
    return user && !user.deleted ? dmFor(user.id) : undefined;
  };
  const parseBlocks = (raw: unknown): unknown[] | undefined | 'invalid' => {
    if (raw === undefined) return undefined;
    try {
      const blocks: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
      return Array.isArray(blocks) ? blocks : 'invalid';
    } catch {
      return 'invalid';
    }
  };
  const messageJson = (m: FakeSlackMessage) => ({ type: 'message', user: BOT_USER_ID, bot_id: BOT_ID, text: m.text, ts: m.ts, blocks: m.blocks });

  const methods: Record<string, { scope?: string; run: (a: Args) => Answer }> = {
    'api.test': { run: (a) => ({ ok: true, args: a }) },
    'auth.test': {
      run: () => ({
        ok: true,
        url: 'https://grantline-sandbox.slack.com/',
        team: 'Grantline Sandbox',
        team_id: 'TGRANTLINE',
        user: 'grantline',
        user_id: BOT_USER_ID,
        bot_id: BOT_ID,
      }),
    },
    'users.lookupByEmail': {
      scope: 'users:read.email',
      run: (a) => {
        const email = str(a.email)?.toLowerCase();
        if (!email) return fail('invalid_arguments');
        const user = [...users.values()].find((u) => u.email.toLowerCase() === email);
        return user ? { ok: true, user: userJson(user) } : fail('users_not_found');
      },
    },
    'users.info': {
      scope: 'users:read',
      run: (a) => {
        const user = users.get(str(a.user) ?? '');
        return user ? { ok: true, user: userJson(user) } : fail('user_not_found');
      },
    },
    'conversations.open': {
      scope: 'im:write',
      run: (a) => {
        const ids = (str(a.users) ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        if (ids.length !== 1) return fail(ids.length === 0 ? 'users_list_not_supplied' : 'not_supported_by_fake');
        const user = users.get(ids[0]!);
        if (!user) return fail('user_not_found');
        if (user.deleted) return fail('user_disabled');
        return { ok: true, channel: { id: dmFor(user.id) } };
      },
    },
    'views.open': {
      run: (a) => {
        const trigger = triggers.get(str(a.trigger_id) ?? '');
        if (!trigger) return fail('invalid_trigger_id');
        // Slack: a trigger is good for one view, within 3 seconds of the interaction.
        if (trigger.used || Date.now() - trigger.issuedAt > TRIGGER_TTL_MS) return fail('expired_trigger_id');
        const parsed = parseView(a.view);
        if ('refusal' in parsed) return parsed.refusal;
        trigger.used = true;
        viewSeq += 1;
        const opened: FakeSlackView = { id: `V${String(viewSeq).padStart(8, '0')}`, hash: nextHash(), user: trigger.user, ...parsed.view, values: {} };
        opened.values = inputState(opened.blocks, {});
        views.set(opened.id, opened);
        return { ok: true, view: viewJson(opened) };
      },
    },
    'views.update': {
      run: (a) => {
        const current = views.get(str(a.view_id) ?? '');
        if (!current) return fail('not_found');
        const hash = str(a.hash);
        if (hash !== undefined && hash !== current.hash) return fail('hash_conflict');
        const parsed = parseView(a.view);
        if ('refusal' in parsed) return parsed.refusal;
        // As Slack: inputs whose block_id and action_id stay the same keep what the user entered.
        Object.assign(current, parsed.view, { hash: nextHash(), values: inputState(parsed.view.blocks, current.values) });
        // The update replaces the whole view: metadata it leaves out is gone.
        if (parsed.view.privateMetadata === undefined) delete current.privateMetadata;
        return { ok: true, view: viewJson(current) };
      },
    },
    'chat.postMessage': {
      scope: 'chat:write',
      run: (a) => {
        const channel = resolveChannel(str(a.channel));
        if (!channel) return fail('channel_not_found');
        if (channels.get(channel)?.joined === false) return fail('not_in_channel');
        const blocks = parseBlocks(a.blocks);
        if (blocks === 'invalid') return fail('invalid_blocks');
        const refusal = blocks && validateBlocks(blocks);
        if (refusal) return refusal;
        const given = str(a.text) ?? '';
        if (!given && !blocks?.length) return fail('no_text');
        // As Slack: an over-long text is cut and posted anyway, with a warning (api.slack.com/changelog/2018-04-truncating-really-long-messages).
        const truncated = given.length > MESSAGE_TEXT_MAX;
        const text = truncated ? given.slice(0, MESSAGE_TEXT_MAX) : given;
        const threadTs = str(a.thread_ts);
        const message: FakeSlackMessage = {
          channel,
          ts: nextTs(),
          text,
          blocks: blocks ?? [],
          user: dms.get(channel) ?? '',
          ...(threadTs ? { threadTs } : {}),
        };
        messages.push(message);
        const warning = truncated
          ? {
              warning: 'message_truncated',
              response_metadata: {
                warnings: ['message_truncated'],
                messages: ['[WARN] Your message was truncated but still posted. The `text` field accepts up to 40,000 characters.'],
              },
            }
          : {};
        return { ok: true, channel, ts: message.ts, message: messageJson(message), ...warning };
      },
    },
    'chat.update': {
      scope: 'chat:write',
      run: (a) => {
        const channel = str(a.channel);
        if (!channel || !(dms.has(channel) || channels.has(channel))) return fail('channel_not_found');
        const message = messages.find((m) => m.channel === channel && m.ts === str(a.ts));
        if (!message) return fail('message_not_found');
        const blocks = parseBlocks(a.blocks);
        if (blocks === 'invalid') return fail('invalid_blocks');
        const refusal = blocks && validateBlocks(blocks);
        if (refusal) return refusal;
        const text = str(a.text);
        // Unlike chat.postMessage, chat.update documents no truncation: an over-long text is refused.
        if (text !== undefined && text.length > MESSAGE_TEXT_MAX) return fail('msg_too_long');
        // As Slack: omitted blocks are kept; an empty array removes them.
        if (blocks) message.blocks = blocks;
        if (text !== undefined) message.text = text;
        message.updatedAt = new Date().toISOString();
        return { ok: true, channel, ts: message.ts, text: message.text, message: messageJson(message) };
      },
    },
  };

  const nextHash = () => `${Date.now()}.${randomUUID().slice(0, 8)}`;
  /** A modal as views.open/views.update take it (JSON text or object), checked as Slack checks it. */
  const parseView = (raw: unknown): { view: { callbackId: string; blocks: unknown[]; privateMetadata?: string } } | { refusal: Answer } => {
    let view: unknown = raw;
    try {
      if (typeof raw === 'string') view = JSON.parse(raw);
    } catch {
      return { refusal: fail('invalid_arguments') };
    }
    if (!view || typeof view !== 'object' || Array.isArray(view)) return { refusal: fail('invalid_arguments') };
    const v = view as Record<string, unknown>;
    const title = v.title && typeof v.title === 'object' ? (v.title as Record<string, unknown>).text : undefined;
    const blocks = Array.isArray(v.blocks) ? v.blocks : undefined;
    if (v.type !== 'modal' || typeof title !== 'string' || !blocks) return { refusal: fail('invalid_arguments') };
    // Slack's limit on a modal's title (24), then the blocks' own.
    if (title.length > 24) {
      return {
        refusal: fail('invalid_arguments', { response_metadata: { messages: ['[ERROR] must be less than 25 characters [json-pointer:/view/title/text]'] } }),
      };
    }
    // Slack's limit on private_metadata (3,000); the wording follows the title's, not recorded from Slack.
    const privateMetadata = str(v.private_metadata);
    if (privateMetadata !== undefined && privateMetadata.length > PRIVATE_METADATA_MAX) {
      return {
        refusal: fail('invalid_arguments', {
          response_metadata: { messages: [`[ERROR] must be less than ${PRIVATE_METADATA_MAX + 1} characters [json-pointer:/view/private_metadata]`] },
        }),
      };
    }
    const refusal = validateBlocks(blocks, { maxBlocks: VIEW_MAX_BLOCKS });
    if (refusal) return { refusal };
    return { view: { callbackId: str(v.callback_id) ?? '', blocks, ...(privateMetadata ? { privateMetadata } : {}) } };
  };
  const viewJson = (v: FakeSlackView) => ({
    id: v.id,
    type: 'modal',
    callback_id: v.callbackId,
    private_metadata: v.privateMetadata ?? '',
    hash: v.hash,
    blocks: v.blocks,
    state: { values: v.values },
    team_id: 'TGRANTLINE',
    app_id: 'AGRANTLINE',
    bot_id: BOT_ID,
  });

  const handle = (req: FakeRequest): FakeResponse => {
    const body = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Args) : {};
    const args: Args = { ...Object.fromEntries(req.query), ...body };
    const auth = req.headers.authorization;
    const given = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : str(args.token);
    const method = methods[req.params.method ?? ''];
    const ok = (answer: Answer): FakeResponse => ({ status: 200, body: answer });
    if (!method) return ok(fail('unknown_method'));
    if (req.params.method !== 'api.test') {
      if (!given) return ok(fail('not_authed'));
      if (given !== token) return ok(fail('invalid_auth'));
    }
    if (method.scope && !scopes.has(method.scope)) {
      return ok(fail('missing_scope', { needed: method.scope, provided: [...scopes].join(',') }));
    }
    return ok(method.run(args));
  };
  fake.route('POST', '/api/:method', handle).route('GET', '/api/:method', handle);

  const url = await fake.listen(opts.port ?? 0);
  const snapshot = (m: FakeSlackMessage): FakeSlackMessage => structuredClone(m);

  return {
    url,
    apiUrl: `${url}/api/`,
    token,
    fake,
    close: () => fake.close(),
    addUser({ email, name, id, emailHidden = false, deleted = false }) {
      if ([...users.values()].some((u) => u.email.toLowerCase() === email.toLowerCase())) {
        throw new Error(`fake Slack already has a user with email ${email}`);
      }
      userSeq += 1;
      const userId = id ?? `U${String(userSeq).padStart(4, '0')}${randomUUID().slice(0, 6).toUpperCase()}`;
      users.set(userId, { id: userId, email, name: name ?? email.split('@')[0] ?? email, emailHidden, deleted });
      return userId;
    },
    users: () => [...users.values()].map((u) => ({ ...u })),
    setScopes(next) {
      scopes = new Set(next);
    },
    rateLimit({ method, retryAfterSeconds = 1, times = 1 } = {}) {
      fake.injectFault({
        path: method ? new RegExp(`^/api/${method.replace(/\./g, '\\.')}/?$`) : '/api/',
        status: 429,
        headers: { 'Retry-After': String(retryAfterSeconds) },
        body: { ok: false, error: 'ratelimited' },
        times,
      });
    },
    messages: (from = 0) => messages.slice(from).map(snapshot),
    messagesTo: (userId) => messages.filter((m) => m.user === userId).map(snapshot),
    addChannel(
      name,
      { id = `C${String(channels.size + 1).padStart(4, '0')}${randomUUID().slice(0, 6).toUpperCase().replace(/-/g, '0')}`, joined = true } = {},
    ) {
      channels.set(id, { name, joined });
      return id;
    },
    messagesIn: (channelId) => messages.filter((m) => m.channel === channelId).map(snapshot),
    issueTrigger(userId) {
      const id = `${Date.now()}.${randomUUID().replace(/-/g, '').slice(0, 16)}`;
      triggers.set(id, { user: userId, issuedAt: Date.now(), used: false });
      return id;
    },
    views: () => [...views.values()].map((v) => structuredClone(v)),
    enter(viewId, blockPrefix, value) {
      const view = views.get(viewId);
      if (!view) throw new Error(`fake Slack: no view ${viewId}`);
      const block = inputBlocks(view.blocks).find((b) => b.blockId.startsWith(blockPrefix));
      if (!block) throw new Error(`fake Slack: view ${viewId} has no input ${blockPrefix}*`);
      const state = view.values[block.blockId]![block.actionId]!;
      if (block.element.type === 'static_select') {
        const options = Array.isArray(block.element.options) ? (block.element.options as Array<{ value: string; text: unknown }>) : [];
        const option = options.find((o) => o.value === value);
        if (!option) throw new Error(`fake Slack: ${block.blockId} offers no option ${value}`);
        state.selected_option = { text: option.text, value: option.value };
      } else if (block.element.type === 'users_select') state.selected_user = value;
      else state.value = value;
      return { blockId: block.blockId, actionId: block.actionId };
    },
  };
}

/*
 * Block Kit limits, enforced as Slack enforces them, so that a message Slack would refuse fails here too.
 * Limits from docs.slack.dev/reference/block-kit (blocks, block-elements, composition-objects). The answer's shape
 * and wording are Slack's own, as recorded from chat.postMessage: HTTP 200 with
 *   {ok:false, error:'invalid_blocks', errors:['must be less than 3001 characters [json-pointer:/blocks/0/text/text]'],
 *    response_metadata:{messages:['[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]']}}
 * Lengths are counted in UTF-16 code units, which is never fewer than Slack's characters, so the fake errs strict.
 */

/** Blocks in one message; modals and Home tabs take VIEW_MAX_BLOCKS. */
export const MESSAGE_MAX_BLOCKS = 50;
export const VIEW_MAX_BLOCKS = 100;
/** A message's top-level `text`: chat.postMessage truncates beyond it (warning message_truncated), chat.update answers msg_too_long. */
export const MESSAGE_TEXT_MAX = 40_000;

const BLOCK_ID_MAX = 255;
const ACTION_ID_MAX = 255;
const TEXT_OBJECT_MAX = 3_000;
const SECTION_TEXT_MAX = 3_000;
const SECTION_FIELDS_MAX = 10;
const SECTION_FIELD_TEXT_MAX = 2_000;
const HEADER_TEXT_MAX = 150;
const CONTEXT_ELEMENTS_MAX = 10;
const ACTIONS_ELEMENTS_MAX = 25;
const INPUT_LABEL_MAX = 2_000;
const INPUT_HINT_MAX = 2_000;
const BUTTON_TEXT_MAX = 75;
const BUTTON_VALUE_MAX = 2_000;
const BUTTON_URL_MAX = 3_000;
const PLACEHOLDER_MAX = 150;
const SELECT_OPTIONS_MAX = 100;
const OPTION_GROUPS_MAX = 100;
const OPTION_TEXT_MAX = 75;
const OPTION_VALUE_MAX = 150;
const OPTION_GROUP_LABEL_MAX = 75;
const TEXT_INPUT_LENGTH_MAX = 3_000;
/** A confirmation dialog (an element's `confirm`): its title, text and two button labels. */
const CONFIRM_TITLE_MAX = 100;
const CONFIRM_TEXT_MAX = 300;
const CONFIRM_BUTTON_MAX = 30;

/** A type alias, not an interface, so that it stays assignable to the fake's Record-typed answers. */
export type InvalidBlocksAnswer = {
  ok: false;
  error: 'invalid_blocks';
  errors: string[];
  response_metadata: { messages: string[] };
};

/**
 * Checks `blocks` against the Block Kit limits of the block types Grantline uses (header, section, context, actions,
 * divider, input with button/select/text input elements, and an element's confirmation dialog), and that no block_id
 * repeats; unknown types pass. Answers Slack's invalid_blocks refusal,
 * or undefined when Slack would accept the blocks. Pass maxBlocks: VIEW_MAX_BLOCKS for modals (views.open/update).
 */
export function validateBlocks(blocks: unknown[], opts: { maxBlocks?: number } = {}): InvalidBlocksAnswer | undefined {
  const problems: string[] = [];
  const problem = (message: string, pointer: string): void => {
    problems.push(`${message} [json-pointer:${pointer}]`);
  };
  const record = (v: unknown): Record<string, unknown> | undefined =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  const tooLong = (max: number) => `must be less than ${max + 1} characters`;

  const checkString = (v: unknown, max: number, pointer: string) => {
    if (typeof v === 'string' && v.length > max) problem(tooLong(max), pointer);
  };
  /** A text object: Slack reports the object failing its schemas, then the field that broke the limit. */
  const checkText = (v: unknown, max: number, pointer: string) => {
    const text = record(v)?.text;
    if (!record(v) || typeof text !== 'string') return problem('failed to match all allowed schemas', pointer);
    if (text.length > max) {
      problem('failed to match all allowed schemas', pointer);
      problem(tooLong(max), `${pointer}/text`);
    }
  };
  const checkCount = (v: unknown, max: number, pointer: string): unknown[] => {
    if (!Array.isArray(v)) return [];
    if (v.length > max) problem(`no more than ${max} items allowed`, pointer);
    return v;
  };
  const checkOption = (v: unknown, pointer: string) => {
    checkText(record(v)?.text, OPTION_TEXT_MAX, `${pointer}/text`);
    checkString(record(v)?.value, OPTION_VALUE_MAX, `${pointer}/value`);
  };
  const checkLengthSetting = (v: unknown, pointer: string) => {
    if (typeof v === 'number' && v > TEXT_INPUT_LENGTH_MAX) problem(`must be less than or equal to ${TEXT_INPUT_LENGTH_MAX}`, pointer);
  };
  const checkElement = (v: unknown, pointer: string) => {
    const element = record(v);
    if (!element) return problem('failed to match all allowed schemas', pointer);
    checkString(element.action_id, ACTION_ID_MAX, `${pointer}/action_id`);
    if (element.placeholder !== undefined) checkText(element.placeholder, PLACEHOLDER_MAX, `${pointer}/placeholder`);
    if (element.confirm !== undefined) {
      const confirm = record(element.confirm);
      if (!confirm) problem('failed to match all allowed schemas', `${pointer}/confirm`);
      checkText(confirm?.title, CONFIRM_TITLE_MAX, `${pointer}/confirm/title`);
      checkText(confirm?.text, CONFIRM_TEXT_MAX, `${pointer}/confirm/text`);
      checkText(confirm?.confirm, CONFIRM_BUTTON_MAX, `${pointer}/confirm/confirm`);
      checkText(confirm?.deny, CONFIRM_BUTTON_MAX, `${pointer}/confirm/deny`);
    }
    switch (element.type) {
      case 'button':
        checkText(element.text, BUTTON_TEXT_MAX, `${pointer}/text`);
        checkString(element.value, BUTTON_VALUE_MAX, `${pointer}/value`);
        checkString(element.url, BUTTON_URL_MAX, `${pointer}/url`);
        break;
      case 'static_select':
      case 'multi_static_select': {
        for (const [i, o] of checkCount(element.options, SELECT_OPTIONS_MAX, `${pointer}/options`).entries()) checkOption(o, `${pointer}/options/${i}`);
        for (const [i, g] of checkCount(element.option_groups, OPTION_GROUPS_MAX, `${pointer}/option_groups`).entries()) {
          const at = `${pointer}/option_groups/${i}`;
          checkText(record(g)?.label, OPTION_GROUP_LABEL_MAX, `${at}/label`);
          for (const [j, o] of checkCount(record(g)?.options, SELECT_OPTIONS_MAX, `${at}/options`).entries()) checkOption(o, `${at}/options/${j}`);
        }
        if (element.initial_option !== undefined) checkOption(element.initial_option, `${pointer}/initial_option`);
        break;
      }
      case 'plain_text_input':
        checkLengthSetting(element.max_length, `${pointer}/max_length`);
        checkLengthSetting(element.min_length, `${pointer}/min_length`);
        break;
    }
  };

  const maxBlocks = opts.maxBlocks ?? MESSAGE_MAX_BLOCKS;
  if (blocks.length > maxBlocks) problem(`no more than ${maxBlocks} items allowed`, '/blocks');
  const blockIds = new Set<unknown>();
  for (const [i, raw] of blocks.entries()) {
    const at = `/blocks/${i}`;
    const block = record(raw);
    if (!block || typeof block.type !== 'string') {
      problem('failed to match all allowed schemas', at);
      continue;
    }
    checkString(block.block_id, BLOCK_ID_MAX, `${at}/block_id`);
    // Slack: "block_id should be unique for each message", and it refuses a repeat. Unlike the limits above, this
    // wording is not recorded from Slack (modals are reported to answer "Block ID needs to be unique").
    if (block.block_id !== undefined) {
      if (blockIds.has(block.block_id)) problem('duplicate block_id', `${at}/block_id`);
      blockIds.add(block.block_id);
    }
    switch (block.type) {
      case 'header':
        checkText(block.text, HEADER_TEXT_MAX, `${at}/text`);
        break;
      case 'section':
        if (block.text !== undefined) checkText(block.text, SECTION_TEXT_MAX, `${at}/text`);
        for (const [j, f] of checkCount(block.fields, SECTION_FIELDS_MAX, `${at}/fields`).entries()) checkText(f, SECTION_FIELD_TEXT_MAX, `${at}/fields/${j}`);
        if (block.accessory !== undefined) checkElement(block.accessory, `${at}/accessory`);
        break;
      case 'context':
        for (const [j, e] of checkCount(block.elements, CONTEXT_ELEMENTS_MAX, `${at}/elements`).entries()) {
          // Context holds text objects and images; only the text objects have a length to check.
          if (record(e)?.type !== 'image') checkText(e, TEXT_OBJECT_MAX, `${at}/elements/${j}`);
        }
        break;
      case 'actions':
        for (const [j, e] of checkCount(block.elements, ACTIONS_ELEMENTS_MAX, `${at}/elements`).entries()) checkElement(e, `${at}/elements/${j}`);
        break;
      case 'input':
        checkText(block.label, INPUT_LABEL_MAX, `${at}/label`);
        if (block.hint !== undefined) checkText(block.hint, INPUT_HINT_MAX, `${at}/hint`);
        checkElement(block.element, `${at}/element`);
        break;
    }
  }
  if (problems.length === 0) return undefined;
  return { ok: false, error: 'invalid_blocks', errors: problems, response_metadata: { messages: problems.map((p) => `[ERROR] ${p}`) } };
}

/** A view's private_metadata (Slack: "Max length of 3000 characters"). */
export const PRIVATE_METADATA_MAX = 3_000;

/** A trigger id is good for 3 seconds (Slack: "trigger_id ... expires 3 seconds after it's sent"). */
const TRIGGER_TTL_MS = 3_000;

interface InputBlock {
  blockId: string;
  actionId: string;
  element: Record<string, unknown>;
}

function inputBlocks(blocks: unknown[]): InputBlock[] {
  const out: InputBlock[] = [];
  for (const b of blocks) {
    const block = b as Record<string, unknown>;
    const element = block.element as Record<string, unknown> | undefined;
    if (block.type === 'input' && typeof block.block_id === 'string' && element && typeof element.action_id === 'string') {
      out.push({ blockId: block.block_id, actionId: element.action_id, element });
    }
  }
  return out;
}

/** view.state.values for these blocks: an empty state per input, or what was entered before under the same ids. */
function inputState(
  blocks: unknown[],
  before: Record<string, Record<string, Record<string, unknown>>>,
): Record<string, Record<string, Record<string, unknown>>> {
  const values: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const { blockId, actionId, element } of inputBlocks(blocks)) {
    const kept = before[blockId]?.[actionId];
    const initial = element.initial_option as { value: string; text: unknown } | undefined;
    const empty: Record<string, unknown> =
      element.type === 'static_select'
        ? { type: 'static_select', selected_option: initial ? { text: initial.text, value: initial.value } : null }
        : element.type === 'users_select'
          ? { type: 'users_select', selected_user: null }
          : { type: String(element.type), value: null };
    values[blockId] = { [actionId]: kept ?? empty };
  }
  return values;
}
