/**
 * Simulated Google Workspace Admin SDK Directory API v1 (users and their sign-out, groups, group
 * members) for the local sandbox and the connector tests. It answers with the Directory API's JSON shapes
 * (`kind`, numeric user ids, `relations`, member `role`/`type`/`status`), its error bodies
 * (`{"error":{"code","message","errors":[{"message","domain","reason"}]}}`), bearer-token checks
 * and `pageToken`/`nextPageToken` paging, so the real @googleapis/admin client talks to it
 * unchanged when given this server as `rootUrl` and an auth client holding `token`.
 *
 * Behaviour modelled on the real API:
 * - user and group keys match the id, the primary email or an alias, case-insensitively;
 * - a user key in a domain this account does not own answers 403 "Not Authorized to access this
 *   resource/api" (what Google does for e.g. a gmail.com address), not 404;
 * - members.insert of an existing member answers 409 `duplicate` "Member already exists.";
 * - a missing group answers 404 "Resource Not Found: groupKey", a missing member
 *   "Resource Not Found: memberKey", a missing user "Resource Not Found: userKey";
 * - hasMember counts nested membership (a user in a group that is a member), members.get does not;
 * - custom user fields (`customSchemas`) come back only when asked for: users.get and users.list
 *   with `projection=full` (every schema) or `projection=custom&customFieldMask=<schemas>` (those);
 *   the default projection, basic, leaves them out.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { HttpFake, type FakeRequest, type FakeResponse, type RouteHandler } from './http-fake.js';

export interface FakeGoogleUserInput {
  email: string;
  suspended?: boolean;
  archived?: boolean;
  /** Stored as a `relations` entry of type `manager`, as the Admin console does. */
  managerEmail?: string;
  aliases?: string[];
  givenName?: string;
  familyName?: string;
  /** Work details as the Admin console keeps them (`organizations`); the primary one names the title and department. */
  organizations?: FakeGoogleOrganization[];
  /** When the person last signed in (ISO-8601). Default: never, which Google answers as 1970-01-01T00:00:00.000Z. */
  lastLoginTime?: string;
  /** Custom user fields by schema, as users.update sets them: { HR: { endDate: '2026-03-31' } } (multi-valued: [{ value }]). */
  customSchemas?: Record<string, Record<string, unknown>>;
  id?: string;
}

export interface FakeGoogleOrganization {
  title?: string;
  department?: string;
  name?: string;
  primary?: boolean;
}

export interface FakeGoogleGroupInput {
  email: string;
  name: string;
  description?: string;
  aliases?: string[];
  id?: string;
}

export interface FakeGoogleAdminOptions {
  port?: number;
  /** The bearer token the fake accepts (default: a fixed sandbox token). */
  token?: string;
  /** Domains this Workspace account owns; user keys elsewhere answer 403. Default: example.com plus every added user's domain. */
  domains?: string[];
  /** The account's customer id (the `my_customer` alias also works). */
  customerId?: string;
}

export interface FakeGoogleAdmin {
  /** rootUrl for the client, with a trailing slash (e.g. http://127.0.0.1:1234/). */
  url: string;
  /** The bearer access token the fake accepts. */
  token: string;
  customerId: string;
  fake: HttpFake;
  /** Returns the new user's id. */
  addUser(user: FakeGoogleUserInput): string;
  /** Returns the new group's id. */
  addGroup(group: FakeGoogleGroupInput): string;
  /**
   * Suspends or restores a user. With `staleSearch`, users.list keeps answering the user as before
   * until settleSearch(), as a lagging index would; users.get answers the new state at once.
   */
  setSuspended(userKey: string, suspended: boolean, opts?: { staleSearch?: boolean }): void;
  /** The index catches up: users.list answers every user as they are now. */
  settleSearch(): void;
  /** Sets one custom field (or removes it, null), as users.update with customSchemas would. */
  setCustomField(userKey: string, schema: string, field: string, value: unknown): void;
  /** Sets when the user given by id, email or alias last signed in (ISO-8601), or null: never. */
  setLastLogin(userKey: string, at: string | null): void;
  deleteGroup(groupKey: string): void;
  /** Emails (lowercase) of the group's direct members, in the order they were added; [] for an unknown group. */
  members(groupKey: string): string[];
  /** Adds a direct member (a user's or a group's email), as an admin would in the console. */
  addMembership(groupKey: string, email: string): void;
  /** When (ISO-8601) users.signOut signed out the user given by id, email or alias, oldest first. */
  sessionsEnded(userKey: string): string[];
  close(): Promise<void>;
}

interface UserRecord {
  id: string;
  primaryEmail: string;
  aliases: string[];
  givenName: string;
  familyName: string;
  suspended: boolean;
  archived: boolean;
  managerEmail?: string;
  organizations: FakeGoogleOrganization[];
  /** Undefined until the person first signs in. */
  lastLoginTime?: string;
  customSchemas: Record<string, Record<string, unknown>>;
  creationTime: string;
  etag: string;
}

interface MemberRecord {
  id: string;
  email: string;
  role: 'OWNER' | 'MANAGER' | 'MEMBER';
  etag: string;
}

interface GroupRecord {
  id: string;
  email: string;
  name: string;
  description: string;
  aliases: string[];
  etag: string;
  /** Keyed by lowercase email. */
  members: Map<string, MemberRecord>;
}

const API = '/admin/directory/v1';
const MAX_GROUPS_PAGE = 200;
const MAX_USERS_PAGE = 500;

/** What users.get answers as lastLoginTime for an account that never signed in. */
export const GOOGLE_NEVER_LOGGED_IN = '1970-01-01T00:00:00.000Z';

/** A Google API error response, shaped like the Directory API's. */
export function googleError(
  code: number,
  message: string,
  reason: string,
  extra: { headers?: Record<string, string>; location?: string; locationType?: string } = {},
): FakeResponse {
  const detail: Record<string, string> = { message, domain: reason.endsWith('LimitExceeded') ? 'usageLimits' : 'global', reason };
  if (extra.location) Object.assign(detail, { location: extra.location, locationType: extra.locationType ?? 'parameter' });
  return { status: code, ...(extra.headers ? { headers: extra.headers } : {}), body: { error: { code, message, errors: [detail] } } };
}

/** The 403 Google sends when a per-user rate limit is exceeded (not an authorization failure). */
export function userRateLimitExceeded(headers?: Record<string, string>): FakeResponse {
  return googleError(
    403,
    "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com'.",
    'userRateLimitExceeded',
    headers ? { headers } : {},
  );
}

export async function startFakeGoogleAdmin(opts: FakeGoogleAdminOptions = {}): Promise<FakeGoogleAdmin> {
  const token = opts.token ?? 'sandbox-google-access-token';
  const customerId = opts.customerId ?? 'C0fake1ab';
  const fake = new HttpFake('google');
  const users = new Map<string, UserRecord>();
  const groups = new Map<string, GroupRecord>();
  /** What users.list still answers for a user whose change it has not caught up with. */
  const staleIndex = new Map<string, UserRecord>();
  const domains = new Set((opts.domains ?? ['example.com']).map((d) => d.toLowerCase()));
  /** When each user was signed out, by user id. */
  const signOuts = new Map<string, string[]>();

  const lower = (s: string) => s.trim().toLowerCase();
  const userByKey = (key: string): UserRecord | undefined => {
    const k = lower(key);
    return users.get(key) ?? [...users.values()].find((u) => lower(u.primaryEmail) === k || u.aliases.some((a) => lower(a) === k));
  };
  const groupByKey = (key: string): GroupRecord | undefined => {
    const k = lower(key);
    return groups.get(key) ?? [...groups.values()].find((g) => lower(g.email) === k || g.aliases.some((a) => lower(a) === k));
  };
  const ownDomain = (email: string) => domains.has(lower(email).split('@')[1] ?? '');

  /** The custom schemas a users.get/list asks for: all with projection=full, those in customFieldMask with projection=custom, none by default. */
  const customSchemasFor = (req: FakeRequest, u: UserRecord): Record<string, Record<string, unknown>> | undefined => {
    const projection = req.query.get('projection') ?? 'basic';
    const mask = (req.query.get('customFieldMask') ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean);
    const wanted = Object.entries(u.customSchemas).filter(([schema]) => projection === 'full' || (projection === 'custom' && mask.includes(schema)));
    return wanted.length > 0 ? Object.fromEntries(wanted) : undefined;
  };
  const projectionProblem = (req: FakeRequest): FakeResponse | undefined => {
    const projection = req.query.get('projection');
    return projection === null || ['basic', 'custom', 'full'].includes(projection) ? undefined : googleError(400, 'Invalid Input: projection', 'invalid');
  };

  const userJson = (u: UserRecord, req?: FakeRequest) => ({
    kind: 'admin#directory#user',
    id: u.id,
    etag: u.etag,
    primaryEmail: u.primaryEmail,
    name: { givenName: u.givenName, familyName: u.familyName, fullName: `${u.givenName} ${u.familyName}` },
    isAdmin: false,
    isDelegatedAdmin: false,
    lastLoginTime: u.lastLoginTime ?? GOOGLE_NEVER_LOGGED_IN,
    creationTime: u.creationTime,
    agreedToTerms: true,
    suspended: u.suspended,
    ...(u.suspended ? { suspensionReason: 'ADMIN' } : {}),
    archived: u.archived,
    changePasswordAtNextLogin: false,
    ipWhitelisted: false,
    emails: [{ address: u.primaryEmail, primary: true }, ...u.aliases.map((address) => ({ address }))],
    ...(u.managerEmail ? { relations: [{ value: u.managerEmail, type: 'manager' }] } : {}),
    ...(u.organizations.length > 0 ? { organizations: u.organizations.map((o) => ({ ...o, type: 'work', customType: '' })) } : {}),
    ...(u.aliases.length > 0 ? { aliases: u.aliases } : {}),
    ...(req && customSchemasFor(req, u) ? { customSchemas: customSchemasFor(req, u) } : {}),
    customerId,
    orgUnitPath: '/',
    isMailboxSetup: true,
    isEnrolledIn2Sv: false,
    isEnforcedIn2Sv: false,
    includeInGlobalAddressList: true,
  });
  const groupJson = (g: GroupRecord) => ({
    kind: 'admin#directory#group',
    id: g.id,
    etag: g.etag,
    email: g.email,
    name: g.name,
    directMembersCount: String(g.members.size),
    description: g.description,
    adminCreated: true,
    ...(g.aliases.length > 0 ? { aliases: g.aliases } : {}),
  });
  const memberJson = (m: MemberRecord) => {
    const user = userByKey(m.email);
    const group = user ? undefined : groupByKey(m.email);
    return {
      kind: 'admin#directory#member',
      etag: m.etag,
      id: user?.id ?? group?.id ?? m.id,
      email: m.email,
      role: m.role,
      type: user ? 'USER' : group ? 'GROUP' : 'EXTERNAL',
      status: user ? (user.suspended ? 'SUSPENDED' : 'ACTIVE') : group ? undefined : 'ACTIVE',
    };
  };

  const notFound = (what: 'userKey' | 'groupKey' | 'memberKey' | 'customer') => googleError(404, `Resource Not Found: ${what}`, 'notFound');
  const notAuthorized = () => googleError(403, 'Not Authorized to access this resource/api', 'forbidden');
  const badRequest = (message = 'Bad Request') => googleError(400, message, message === 'Bad Request' ? 'badRequest' : 'invalid');

  /** Bearer check around every route, as Google's front end does before the API sees the request. */
  const google =
    (handler: RouteHandler): RouteHandler =>
    async (req) => {
      if (req.headers.authorization !== `Bearer ${token}`) {
        const res = googleError(
          401,
          'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
          'authError',
          { location: 'Authorization', locationType: 'header' },
        );
        return { ...res, headers: { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' } };
      }
      return handler(req);
    };

  /** The account is addressed by `customer` (my_customer or its id) or by one of its domains. */
  const scopeCheck = (req: FakeRequest): FakeResponse | undefined => {
    const customer = req.query.get('customer');
    const domain = req.query.get('domain');
    if (customer) return customer === 'my_customer' || customer === customerId ? undefined : notFound('customer');
    if (domain) return domains.has(lower(domain)) ? undefined : notAuthorized();
    return badRequest();
  };

  /** Opaque page tokens over a snapshot position, as `pageToken`/`nextPageToken`. */
  const page = <T>(req: FakeRequest, all: T[], max: number, fallback: number): { items: T[]; nextPageToken?: string } | FakeResponse => {
    const raw = req.query.get('maxResults');
    const size = raw === null ? fallback : Number(raw);
    if (!Number.isInteger(size) || size < 1) return googleError(400, 'Invalid Input: maxResults', 'invalid');
    const limit = Math.min(size, max);
    const token = req.query.get('pageToken');
    let start = 0;
    if (token) {
      const decoded = Number(
        Buffer.from(token, 'base64url')
          .toString('utf8')
          .replace(/^offset:/, ''),
      );
      if (!Number.isInteger(decoded) || decoded < 0) return googleError(400, 'Invalid Input: pageToken', 'invalid');
      start = decoded;
    }
    const items = all.slice(start, start + limit);
    const next = start + limit < all.length ? Buffer.from(`offset:${start + limit}`).toString('base64url') : undefined;
    return { items, ...(next ? { nextPageToken: next } : {}) };
  };

  /** Resolves the group and member of /groups/{groupKey}/members/{memberKey}. */
  const memberTarget = (req: FakeRequest): FakeResponse | { group: GroupRecord; key: string } => {
    const group = groupByKey(req.params.groupKey ?? '');
    if (!group) return notFound('groupKey');
    const memberKey = req.params.memberKey ?? '';
    const email = userByKey(memberKey)?.primaryEmail ?? groupByKey(memberKey)?.email ?? memberKey;
    const key = lower(email);
    if (!group.members.has(key)) return notFound('memberKey');
    return { group, key };
  };

  const isNestedMember = (group: GroupRecord, email: string, seen = new Set<string>()): boolean => {
    if (seen.has(group.id)) return false;
    seen.add(group.id);
    if (group.members.has(lower(email))) return true;
    for (const m of group.members.keys()) {
      const sub = groupByKey(m);
      if (sub && isNestedMember(sub, email, seen)) return true;
    }
    return false;
  };

  fake
    .route(
      'GET',
      `${API}/users`,
      google((req) => {
        const scope = scopeCheck(req) ?? projectionProblem(req);
        if (scope) return scope;
        const domain = req.query.get('domain');
        const list = [...users.values()].map((u) => staleIndex.get(u.id) ?? u).filter((u) => !domain || lower(u.primaryEmail).endsWith(`@${lower(domain)}`));
        const paged = page(req, list, MAX_USERS_PAGE, 100);
        if ('status' in paged) return paged;
        return {
          status: 200,
          body: {
            kind: 'admin#directory#users',
            etag: etag(),
            users: paged.items.map((u) => userJson(u, req)),
            ...(paged.nextPageToken ? { nextPageToken: paged.nextPageToken } : {}),
          },
        };
      }),
    )
    .route(
      'GET',
      `${API}/users/:userKey`,
      google((req) => {
        const key = req.params.userKey ?? '';
        const bad = projectionProblem(req);
        if (bad) return bad;
        const user = userByKey(key);
        if (user) return { status: 200, body: userJson(user, req) };
        if (key.includes('@') && !ownDomain(key)) return notAuthorized();
        return notFound('userKey');
      }),
    )
    .route(
      'POST',
      `${API}/users/:userKey/signOut`,
      google((req) => {
        const key = req.params.userKey ?? '';
        const user = userByKey(key);
        if (!user) return key.includes('@') && !ownDomain(key) ? notAuthorized() : notFound('userKey');
        signOuts.set(user.id, [...(signOuts.get(user.id) ?? []), new Date().toISOString()]);
        return { status: 204 };
      }),
    )
    .route(
      'GET',
      `${API}/groups`,
      google((req) => {
        if (req.query.get('userKey')) return badRequest('Bad Request'); // not modelled
        const scope = scopeCheck(req);
        if (scope) return scope;
        const paged = page(req, [...groups.values()], MAX_GROUPS_PAGE, MAX_GROUPS_PAGE);
        if ('status' in paged) return paged;
        return {
          status: 200,
          body: {
            kind: 'admin#directory#groups',
            etag: etag(),
            groups: paged.items.map(groupJson),
            ...(paged.nextPageToken ? { nextPageToken: paged.nextPageToken } : {}),
          },
        };
      }),
    )
    .route(
      'GET',
      `${API}/groups/:groupKey`,
      google((req) => {
        const group = groupByKey(req.params.groupKey ?? '');
        return group ? { status: 200, body: groupJson(group) } : notFound('groupKey');
      }),
    )
    .route(
      'GET',
      `${API}/groups/:groupKey/members`,
      google((req) => {
        const group = groupByKey(req.params.groupKey ?? '');
        if (!group) return notFound('groupKey');
        const paged = page(req, [...group.members.values()], MAX_GROUPS_PAGE, MAX_GROUPS_PAGE);
        if ('status' in paged) return paged;
        return {
          status: 200,
          body: {
            kind: 'admin#directory#members',
            etag: etag(),
            members: paged.items.map(memberJson),
            ...(paged.nextPageToken ? { nextPageToken: paged.nextPageToken } : {}),
          },
        };
      }),
    )
    .route(
      'POST',
      `${API}/groups/:groupKey/members`,
      google((req) => {
        const group = groupByKey(req.params.groupKey ?? '');
        if (!group) return notFound('groupKey');
        const body = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, unknown>;
        const byEmail = typeof body.email === 'string' ? body.email : undefined;
        const byId = typeof body.id === 'string' ? body.id : undefined;
        if (!byEmail && !byId) return googleError(400, 'Missing required field: member', 'required');
        const role = body.role === undefined ? 'MEMBER' : body.role;
        if (role !== 'MEMBER' && role !== 'MANAGER' && role !== 'OWNER') return googleError(400, 'Invalid Input: role', 'invalid');
        const key = byEmail ?? byId ?? '';
        const user = userByKey(key);
        const sub = user ? undefined : groupByKey(key);
        let email: string;
        if (user) email = user.primaryEmail;
        else if (sub) email = sub.email;
        else if (byEmail && !ownDomain(byEmail))
          email = byEmail; // an external member
        else return notFound('memberKey');
        if (sub?.id === group.id) return googleError(400, 'Invalid Input: memberKey', 'invalid');
        if (group.members.has(lower(email))) return googleError(409, 'Member already exists.', 'duplicate');
        const record: MemberRecord = { id: user?.id ?? sub?.id ?? numericId(), email, role, etag: etag() };
        group.members.set(lower(email), record);
        group.etag = etag();
        return { status: 200, body: memberJson(record) };
      }),
    )
    .route(
      'GET',
      `${API}/groups/:groupKey/members/:memberKey`,
      google((req) => {
        const target = memberTarget(req);
        if ('status' in target) return target;
        return { status: 200, body: memberJson(target.group.members.get(target.key)!) };
      }),
    )
    .route(
      'DELETE',
      `${API}/groups/:groupKey/members/:memberKey`,
      google((req) => {
        const target = memberTarget(req);
        if ('status' in target) return target;
        target.group.members.delete(target.key);
        target.group.etag = etag();
        return { status: 204 };
      }),
    )
    .route(
      'GET',
      `${API}/groups/:groupKey/hasMember/:memberKey`,
      google((req) => {
        const group = groupByKey(req.params.groupKey ?? '');
        if (!group) return notFound('groupKey');
        // hasMember only accepts users of the account (a group or external email is "Invalid Input").
        const user = userByKey(req.params.memberKey ?? '');
        if (!user) return googleError(400, 'Invalid Input: memberKey', 'invalid');
        return { status: 200, body: { isMember: isNestedMember(group, user.primaryEmail) } };
      }),
    );

  await fake.listen(opts.port ?? 0);

  return {
    url: `${fake.url}/`,
    token,
    customerId,
    fake,
    addUser(input) {
      const email = input.email.trim();
      if (userByKey(email) || groupByKey(email)) throw new Error(`fake Google: ${email} is taken (emails are unique across users and groups)`);
      const domain = lower(email).split('@')[1];
      if (domain && !opts.domains) domains.add(domain);
      const id = input.id ?? numericId();
      const [local = email] = email.split('@');
      const [first = local, last = 'User'] = local.split(/[._-]/);
      users.set(id, {
        id,
        primaryEmail: email,
        aliases: input.aliases ?? [],
        givenName: input.givenName ?? capitalise(first),
        familyName: input.familyName ?? capitalise(last),
        suspended: input.suspended ?? false,
        archived: input.archived ?? false,
        ...(input.managerEmail ? { managerEmail: input.managerEmail } : {}),
        organizations: structuredClone(input.organizations ?? []),
        ...(input.lastLoginTime ? { lastLoginTime: input.lastLoginTime } : {}),
        customSchemas: structuredClone(input.customSchemas ?? {}),
        creationTime: new Date().toISOString(),
        etag: etag(),
      });
      return id;
    },
    addGroup(input) {
      const email = input.email.trim();
      if (userByKey(email) || groupByKey(email)) throw new Error(`fake Google: ${email} is taken (emails are unique across users and groups)`);
      const id = input.id ?? groupId();
      groups.set(id, {
        id,
        email,
        name: input.name,
        description: input.description ?? '',
        aliases: input.aliases ?? [],
        etag: etag(),
        members: new Map(),
      });
      return id;
    },
    setSuspended(userKey, suspended, { staleSearch = false } = {}) {
      const user = userByKey(userKey);
      if (!user) throw new Error(`fake Google: no user ${userKey}`);
      if (staleSearch && !staleIndex.has(user.id)) staleIndex.set(user.id, { ...user, aliases: [...user.aliases] });
      user.suspended = suspended;
      user.etag = etag();
    },
    settleSearch: () => staleIndex.clear(),
    setCustomField(userKey, schema, field, value) {
      const user = userByKey(userKey);
      if (!user) throw new Error(`fake Google: no user ${userKey}`);
      const fields = user.customSchemas[schema] ?? {};
      if (value === null) delete fields[field];
      else fields[field] = value;
      if (Object.keys(fields).length > 0) user.customSchemas[schema] = fields;
      else delete user.customSchemas[schema];
      user.etag = etag();
    },
    setLastLogin(userKey, at) {
      const user = userByKey(userKey);
      if (!user) throw new Error(`fake Google: no user ${userKey}`);
      if (at === null) delete user.lastLoginTime;
      else user.lastLoginTime = at;
    },
    deleteGroup(groupKey) {
      const group = groupByKey(groupKey);
      if (group) groups.delete(group.id);
    },
    members(groupKey) {
      const group = groupByKey(groupKey);
      return group ? [...group.members.values()].map((m) => lower(m.email)) : [];
    },
    addMembership(groupKey, email) {
      const group = groupByKey(groupKey);
      const target = userByKey(email)?.primaryEmail ?? groupByKey(email)?.email;
      if (!group || !target) throw new Error(`fake Google: cannot add ${email} to ${groupKey}: unknown ${group ? 'member' : 'group'}`);
      const id = userByKey(email)?.id ?? groupByKey(email)?.id ?? numericId();
      group.members.set(lower(target), { id, email: target, role: 'MEMBER', etag: etag() });
    },
    sessionsEnded(userKey) {
      const user = userByKey(userKey);
      return user ? [...(signOuts.get(user.id) ?? [])] : [];
    },
    close: () => fake.close(),
  };
}

/** Google user ids are 21-digit numbers. */
function numericId(): string {
  let id = String(randomInt(1, 10));
  while (id.length < 21) id += String(randomInt(0, 10));
  return id;
}

/** Group ids look like `03x8tuzt3hqdv5n`: 15 characters, lowercase letters and digits. */
function groupId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return `0${[...randomBytes(14)].map((b) => alphabet[b % alphabet.length]).join('')}`;
}

function etag(): string {
  return `"${randomBytes(20).toString('base64url')}"`;
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
