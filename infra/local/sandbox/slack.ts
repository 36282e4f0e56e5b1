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
  /** The user whose DM this is. */
  user: string;
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
  messages(): FakeSlackMessage[];
  messagesTo(userId: string): FakeSlackMessage[];
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
    if (dms.has(channel)) return channel;
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
    'chat.postMessage': {
      scope: 'chat:write',
      run: (a) => {
        const channel = resolveChannel(str(a.channel));
        if (!channel) return fail('channel_not_found');
        const blocks = parseBlocks(a.blocks);
        if (blocks === 'invalid') return fail('invalid_blocks');
        const text = str(a.text) ?? '';
        if (!text && !blocks?.length) return fail('no_text');
        const message: FakeSlackMessage = { channel, ts: nextTs(), text, blocks: blocks ?? [], user: dms.get(channel)! };
        messages.push(message);
        return { ok: true, channel, ts: message.ts, message: messageJson(message) };
      },
    },
    'chat.update': {
      scope: 'chat:write',
      run: (a) => {
        const channel = str(a.channel);
        if (!channel || !dms.has(channel)) return fail('channel_not_found');
        const message = messages.find((m) => m.channel === channel && m.ts === str(a.ts));
        if (!message) return fail('message_not_found');
        const blocks = parseBlocks(a.blocks);
        if (blocks === 'invalid') return fail('invalid_blocks');
        // As Slack: omitted blocks are kept; an empty array removes them.
        if (blocks) message.blocks = blocks;
        const text = str(a.text);
        if (text !== undefined) message.text = text;
        message.updatedAt = new Date().toISOString();
        return { ok: true, channel, ts: message.ts, text: message.text, message: messageJson(message) };
      },
    },
  };

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
    messages: () => messages.map(snapshot),
    messagesTo: (userId) => messages.filter((m) => m.user === userId).map(snapshot),
  };
}
