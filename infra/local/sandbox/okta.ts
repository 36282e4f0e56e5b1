/**
 * Simulated Okta Management API (users, user sessions, groups, group membership) for the local sandbox
 * and the connector tests. It answers with Okta's JSON shapes, error bodies, SSWS token check, Link-header
 * pagination and X-Rate-Limit-* headers, so the real @okta/okta-sdk-nodejs client talks to it unchanged.
 */
import { randomBytes } from 'node:crypto';
import { HttpFake, type FakeRequest, type FakeResponse, type RouteHandler } from './http-fake.js';

export type OktaUserStatus = 'STAGED' | 'PROVISIONED' | 'ACTIVE' | 'RECOVERY' | 'PASSWORD_EXPIRED' | 'LOCKED_OUT' | 'SUSPENDED' | 'DEPROVISIONED';
export type OktaGroupType = 'OKTA_GROUP' | 'APP_GROUP' | 'BUILT_IN';

export interface FakeOktaUserInput {
  email: string;
  status?: OktaUserStatus;
  /** Defaults to the email. */
  login?: string;
  firstName?: string;
  lastName?: string;
  /** Free text in Okta: a manager's user id, login or email. */
  managerId?: string;
  /** Base profile attributes, returned in `profile` only when set (as Okta leaves unset ones out). */
  displayName?: string;
  title?: string;
  department?: string;
  /** When the person last signed in (ISO-8601): Okta's top-level `lastLogin`. Default: never (null). */
  lastLogin?: string;
  /** Custom profile attributes (e.g. { endDate: '2026-03-31' }): Okta returns them in `profile` beside the base ones. */
  attributes?: Record<string, string>;
  id?: string;
}

export interface FakeOktaGroupInput {
  id?: string;
  name: string;
  description?: string;
  type?: OktaGroupType;
}

export interface FakeOkta {
  url: string;
  /** The SSWS token the fake accepts. */
  token: string;
  /** Id of the BUILT_IN "Everyone" group every user belongs to, as in a real org. */
  everyoneGroupId: string;
  fake: HttpFake;
  addUser(user: FakeOktaUserInput): string;
  addGroup(group: FakeOktaGroupInput): string;
  /**
   * Changes a user's status. With `staleSearch`, list/search (GET /api/v1/users), which Okta documents
   * as eventually consistent, keeps answering the user as before until settleSearch(); the read by
   * id (GET /api/v1/users/{id}) answers the new status at once.
   */
  setUserStatus(userId: string, status: OktaUserStatus, opts?: { staleSearch?: boolean }): void;
  /** Sets (a string) or removes (null) custom profile attributes of a user given by id or login, as an admin or an HR import would. */
  setAttributes(userIdOrLogin: string, attributes: Record<string, string | null>): void;
  /** Sets when the user given by id, login or email last signed in (ISO-8601), or null: never, as Okta answers then. */
  setLastLogin(userIdOrEmail: string, at: string | null): void;
  /** The search index catches up: every user is listed as they are now. */
  settleSearch(): void;
  /** Emails (lowercase) of the group's members; [] for an unknown group. */
  members(groupId: string): string[];
  addMembership(groupId: string, email: string): void;
  close(): Promise<void>;
  /** How many requests were answered 429 by the fake's own rate limits. */
  rateLimited(): number;
  /** When (ISO-8601) DELETE /api/v1/users/{id}/sessions ended the sessions of the user given by id or email, oldest first. */
  sessionsEnded(userIdOrEmail: string): string[];
}

interface UserRecord {
  id: string;
  status: OktaUserStatus;
  created: string;
  statusChanged: string;
  lastUpdated: string;
  /** Okta's top-level lastLogin: null until the person first signs in. */
  lastLogin: string | null;
  profile: { firstName: string; lastName: string; login: string; email: string; managerId?: string; [custom: string]: string | undefined };
}

interface GroupRecord {
  id: string;
  type: OktaGroupType;
  created: string;
  lastUpdated: string;
  lastMembershipUpdated: string;
  profile: { name: string; description: string | null };
  members: Set<string>;
}

const RATE_LIMIT_PER_MINUTE = 600;
const DEFAULT_PAGE = 200;

export type OktaEndpointFamily = 'users' | 'groups' | 'membership';

export async function startFakeOkta(
  opts: { port?: number; token?: string; rateLimits?: Partial<Record<OktaEndpointFamily, { limit: number; windowMs: number }>> } = {},
): Promise<FakeOkta> {
  const token = opts.token ?? 'sandbox-okta-api-token';
  const fake = new HttpFake('okta');
  const users = new Map<string, UserRecord>();
  const groups = new Map<string, GroupRecord>();
  /** What list/search still answers for a user whose change it has not caught up with. */
  const staleIndex = new Map<string, UserRecord>();
  // Okta limits each endpoint family separately, in fixed windows (a minute by default).
  const limits: Record<OktaEndpointFamily, { limit: number; windowMs: number }> = {
    users: { limit: RATE_LIMIT_PER_MINUTE, windowMs: 60_000, ...opts.rateLimits?.users },
    groups: { limit: RATE_LIMIT_PER_MINUTE, windowMs: 60_000, ...opts.rateLimits?.groups },
    membership: { limit: RATE_LIMIT_PER_MINUTE, windowMs: 60_000, ...opts.rateLimits?.membership },
  };
  const windows: Record<OktaEndpointFamily, { endsAt: number; used: number }> = {
    users: { endsAt: 0, used: 0 },
    groups: { endsAt: 0, used: 0 },
    membership: { endsAt: 0, used: 0 },
  };
  // Membership changes are PUT/DELETE under /groups; DELETE /users/{id}/sessions counts with the users.
  const familyOf = (req: FakeRequest): OktaEndpointFamily =>
    !req.path.startsWith('/api/v1/groups') ? 'users' : req.method === 'PUT' || req.method === 'DELETE' ? 'membership' : 'groups';
  let rateLimited429s = 0;
  /** When each user's sessions were ended, by user id. */
  const endedSessions = new Map<string, string[]>();
  const now = () => new Date().toISOString();

  const userJson = (u: UserRecord) => ({
    id: u.id,
    status: u.status,
    created: u.created,
    activated: u.status === 'STAGED' ? null : u.created,
    statusChanged: u.statusChanged,
    lastLogin: u.lastLogin,
    lastUpdated: u.lastUpdated,
    passwordChanged: null,
    type: { id: 'oty1fakeoktadefault0' },
    profile: { mobilePhone: null, secondEmail: null, ...u.profile },
    credentials: { provider: { type: 'OKTA', name: 'OKTA' } },
    _links: { self: { href: `${fake.url}/api/v1/users/${u.id}` } },
  });
  const groupJson = (g: GroupRecord) => ({
    id: g.id,
    created: g.created,
    lastUpdated: g.lastUpdated,
    lastMembershipUpdated: g.lastMembershipUpdated,
    objectClass: [g.type === 'APP_GROUP' ? 'okta:windows_security_principal' : 'okta:user_group'],
    type: g.type,
    profile: g.profile,
    _links: {
      logo: [{ name: 'medium', href: 'https://ok12static.oktacdn.com/assets/img/logos/groups/okta-medium.png', type: 'image/png' }],
      users: { href: `${fake.url}/api/v1/groups/${g.id}/users` },
      apps: { href: `${fake.url}/api/v1/groups/${g.id}/apps` },
    },
  });

  const userByIdOrLogin = (key: string) => users.get(key) ?? [...users.values()].find((u) => u.profile.login.toLowerCase() === key.toLowerCase());
  const userByEmail = (email: string) => [...users.values()].find((u) => u.profile.email.toLowerCase() === email.toLowerCase());

  /** Auth, rate limiting and Okta's standard headers around every route. */
  const okta =
    (handler: RouteHandler): RouteHandler =>
    async (req) => {
      const nowMs = Date.now();
      const family = familyOf(req);
      const { limit, windowMs } = limits[family];
      const window = windows[family];
      if (nowMs >= window.endsAt) Object.assign(window, { endsAt: (Math.floor(nowMs / windowMs) + 1) * windowMs, used: 0 });
      window.used += 1;
      const headers = {
        'X-Okta-Request-Id': randomId('req', 20),
        'X-Rate-Limit-Limit': String(limit),
        'X-Rate-Limit-Remaining': String(Math.max(0, limit - window.used)),
        'X-Rate-Limit-Reset': String(Math.ceil(window.endsAt / 1000)),
      };
      let res: FakeResponse;
      if (req.headers.authorization !== `SSWS ${token}`) res = oktaError(401, 'E0000011', 'Invalid token provided');
      else if (window.used > limit) {
        rateLimited429s += 1;
        res = oktaError(429, 'E0000047', 'API call exceeded rate limit due to too many requests.');
      } else res = await handler(req);
      return { ...res, headers: { ...headers, ...res.headers } };
    };

  /** Okta's cursor pagination: `limit` + `after`, with rel="self"/rel="next" Link headers. */
  const page = <T extends { id: string }>(req: FakeRequest, all: T[], toJson: (item: T) => unknown): FakeResponse => {
    const limit = Math.min(Math.max(Number(req.query.get('limit') ?? DEFAULT_PAGE) || DEFAULT_PAGE, 1), DEFAULT_PAGE);
    const after = req.query.get('after');
    const start = after ? all.findIndex((item) => item.id === after) + 1 : 0;
    const slice = all.slice(start, start + limit);
    const link = (extra: Record<string, string>) => {
      const q = new URLSearchParams(req.query);
      for (const [k, v] of Object.entries(extra)) q.set(k, v);
      return `${fake.url}${req.path}?${q.toString()}`;
    };
    const links = [`<${link({})}>; rel="self"`];
    const last = slice[slice.length - 1];
    if (last && start + limit < all.length) links.push(`<${link({ limit: String(limit), after: last.id })}>; rel="next"`);
    return { status: 200, headers: { Link: links.join(', ') }, body: slice.map(toJson) };
  };

  const userNotFound = (id: string) => oktaError(404, 'E0000007', `Not found: Resource not found: ${id} (User)`);
  const groupNotFound = (id: string) => oktaError(404, 'E0000007', `Not found: Resource not found: ${id} (UserGroup)`);

  /** Shared checks of PUT/DELETE /groups/{gid}/users/{uid}. */
  const membershipTarget = (req: FakeRequest): FakeResponse | { group: GroupRecord; user: UserRecord } => {
    const group = groups.get(req.params.groupId ?? '');
    if (!group) return groupNotFound(req.params.groupId ?? '');
    const user = users.get(req.params.userId ?? '');
    if (!user) return userNotFound(req.params.userId ?? '');
    // Okta only lets the API change OKTA_GROUP memberships; the exact error Okta sends here is not documented.
    if (group.type !== 'OKTA_GROUP') {
      return oktaError(400, 'E0000001', 'Api validation failed: group', [
        `Group memberships can only be modified for groups of type OKTA_GROUP; this group is ${group.type}.`,
      ]);
    }
    return { group, user };
  };

  fake
    .route(
      'GET',
      '/api/v1/users',
      okta((req) => {
        const search = req.query.get('search') ?? req.query.get('filter');
        const q = req.query.get('q')?.toLowerCase();
        let list = [...users.values()].map((u) => staleIndex.get(u.id) ?? u);
        if (search) {
          const matcher = compileSearch(search);
          if (!matcher) return oktaError(400, 'E0000031', 'Invalid search criteria.', [`Unsupported expression: ${search}`]);
          list = list.filter((u) => matcher(userJson(u)));
        } else {
          // Without search/filter, Okta leaves out deactivated users.
          list = list.filter((u) => u.status !== 'DEPROVISIONED');
          if (q) list = list.filter((u) => [u.profile.firstName, u.profile.lastName, u.profile.email].some((v) => v.toLowerCase().startsWith(q)));
        }
        return page(req, list, userJson);
      }),
    )
    .route(
      'GET',
      '/api/v1/users/:userId',
      okta((req) => {
        const user = userByIdOrLogin(req.params.userId ?? '');
        return user ? { status: 200, body: userJson(user) } : userNotFound(req.params.userId ?? '');
      }),
    )
    .route(
      'GET',
      '/api/v1/users/:userId/groups',
      okta((req) => {
        const user = userByIdOrLogin(req.params.userId ?? '');
        if (!user) return userNotFound(req.params.userId ?? '');
        return page(
          req,
          [...groups.values()].filter((g) => g.members.has(user.id)),
          groupJson,
        );
      }),
    )
    .route(
      'GET',
      '/api/v1/groups',
      okta((req) => page(req, [...groups.values()], groupJson)),
    )
    .route(
      'GET',
      '/api/v1/groups/:groupId',
      okta((req) => {
        const group = groups.get(req.params.groupId ?? '');
        return group ? { status: 200, body: groupJson(group) } : groupNotFound(req.params.groupId ?? '');
      }),
    )
    .route(
      'GET',
      '/api/v1/groups/:groupId/users',
      okta((req) => {
        const group = groups.get(req.params.groupId ?? '');
        if (!group) return groupNotFound(req.params.groupId ?? '');
        const members = [...group.members].map((id) => users.get(id)).filter((u): u is UserRecord => u !== undefined);
        return page(req, members, userJson);
      }),
    )
    .route(
      'PUT',
      '/api/v1/groups/:groupId/users/:userId',
      okta((req) => {
        const target = membershipTarget(req);
        if ('status' in target) return target;
        if (!target.group.members.has(target.user.id)) {
          target.group.members.add(target.user.id);
          target.group.lastMembershipUpdated = now();
        }
        return { status: 204 };
      }),
    )
    .route(
      'DELETE',
      '/api/v1/groups/:groupId/users/:userId',
      okta((req) => {
        const target = membershipTarget(req);
        if ('status' in target) return target;
        if (target.group.members.delete(target.user.id)) target.group.lastMembershipUpdated = now();
        return { status: 204 };
      }),
    )
    .route(
      'DELETE',
      '/api/v1/users/:userId/sessions',
      okta((req) => {
        // Okta documents this path with the user's id (not the login); a user without a session is 204 all the same.
        const user = users.get(req.params.userId ?? '');
        if (!user) return userNotFound(req.params.userId ?? '');
        endedSessions.set(user.id, [...(endedSessions.get(user.id) ?? []), now()]);
        return { status: 204 };
      }),
    );

  const addGroup = (input: FakeOktaGroupInput): string => {
    const id = input.id ?? randomId('00g', 17);
    const at = now();
    groups.set(id, {
      id,
      type: input.type ?? 'OKTA_GROUP',
      created: at,
      lastUpdated: at,
      lastMembershipUpdated: at,
      profile: { name: input.name, description: input.description ?? null },
      members: new Set(),
    });
    return id;
  };
  const everyoneGroupId = addGroup({ name: 'Everyone', description: 'All users in your organization', type: 'BUILT_IN' });

  await fake.listen(opts.port ?? 0);

  return {
    url: fake.url,
    token,
    everyoneGroupId,
    fake,
    addGroup,
    rateLimited: () => rateLimited429s,
    sessionsEnded(key) {
      const user = userByIdOrLogin(key) ?? userByEmail(key);
      return user ? [...(endedSessions.get(user.id) ?? [])] : [];
    },
    addUser(input) {
      const email = input.email.trim();
      const login = input.login ?? email;
      if (userByIdOrLogin(login)) throw new Error(`fake Okta: login ${login} is taken (Okta logins are unique); pass another login`);
      const id = input.id ?? randomId('00u', 17);
      const at = now();
      const [local = email] = email.split('@');
      users.set(id, {
        id,
        status: input.status ?? 'ACTIVE',
        created: at,
        statusChanged: at,
        lastUpdated: at,
        lastLogin: input.lastLogin ?? null,
        profile: {
          firstName: input.firstName ?? capitalise(local.split(/[._-]/)[0] ?? local),
          lastName: input.lastName ?? capitalise(local.split(/[._-]/)[1] ?? 'User'),
          login,
          email,
          ...(input.managerId ? { managerId: input.managerId } : {}),
          ...(input.displayName ? { displayName: input.displayName } : {}),
          ...(input.title ? { title: input.title } : {}),
          ...(input.department ? { department: input.department } : {}),
          ...input.attributes,
        },
      });
      groups.get(everyoneGroupId)?.members.add(id);
      return id;
    },
    setUserStatus(userId, status, { staleSearch = false } = {}) {
      const user = users.get(userId);
      if (!user) throw new Error(`fake Okta: no user ${userId}`);
      if (staleSearch && !staleIndex.has(userId)) staleIndex.set(userId, { ...user, profile: { ...user.profile } });
      user.status = status;
      user.statusChanged = user.lastUpdated = now();
    },
    setAttributes(key, attributes) {
      const user = userByIdOrLogin(key);
      if (!user) throw new Error(`fake Okta: no user ${key}`);
      for (const [name, value] of Object.entries(attributes)) {
        if (value === null) delete user.profile[name];
        else user.profile[name] = value;
      }
      user.lastUpdated = now();
    },
    setLastLogin(key, at) {
      const user = userByIdOrLogin(key) ?? userByEmail(key);
      if (!user) throw new Error(`fake Okta: no user ${key}`);
      user.lastLogin = at;
    },
    settleSearch: () => staleIndex.clear(),
    members(groupId) {
      const group = groups.get(groupId);
      if (!group) return [];
      return [...group.members].map((id) => users.get(id)?.profile.email.toLowerCase() ?? id);
    },
    addMembership(groupId, email) {
      const group = groups.get(groupId);
      const user = userByEmail(email);
      if (!group || !user) throw new Error(`fake Okta: cannot add ${email} to ${groupId}: unknown ${group ? 'user' : 'group'}`);
      group.members.add(user.id);
      group.lastMembershipUpdated = now();
    },
    close: () => fake.close(),
  };
}

function oktaError(status: number, errorCode: string, errorSummary: string, causes: string[] = []): FakeResponse {
  return {
    status,
    body: {
      errorCode,
      errorSummary,
      errorLink: errorCode,
      errorId: randomId('oae', 19),
      errorCauses: causes.map((summary) => ({ errorSummary: summary })),
    },
  };
}

/**
 * The subset of Okta's search/filter language the sandbox needs: `attr eq|sw "value"` clauses joined
 * by `and`/`or` (and binds tighter), string comparison case-insensitive. undefined when unsupported.
 */
function compileSearch(expression: string): ((user: unknown) => boolean) | undefined {
  const token = /\s*(?:([\w.]+)\s+(eq|sw)\s+"((?:[^"\\]|\\.)*)"|(and|or)\b)/giy;
  const groups: Array<Array<(user: unknown) => boolean>> = [[]];
  let expectClause = true;
  let pos = 0;
  while (expression.slice(pos).trim() !== '') {
    token.lastIndex = pos;
    const m = token.exec(expression);
    if (!m) return undefined;
    pos = token.lastIndex;
    const [, attr, op, raw, joiner] = m;
    if (joiner) {
      if (expectClause) return undefined;
      if (joiner.toLowerCase() === 'or') groups.push([]);
      expectClause = true;
      continue;
    }
    if (!expectClause || !attr || !op || raw === undefined) return undefined;
    const value = raw.replace(/\\(.)/g, '$1').toLowerCase();
    const path = attr.split('.');
    groups[groups.length - 1]!.push((user) => {
      let v: unknown = user;
      for (const key of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
      if (typeof v !== 'string') return false;
      return op.toLowerCase() === 'eq' ? v.toLowerCase() === value : v.toLowerCase().startsWith(value);
    });
    expectClause = false;
  }
  return expectClause ? undefined : orOf(groups);
}

function orOf(groups: Array<Array<(user: unknown) => boolean>>): (user: unknown) => boolean {
  return (user) => groups.some((all) => all.every((clause) => clause(user)));
}

function randomId(prefix: string, length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return prefix + [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join('');
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
