/**
 * Okta adapter for the IdentityProvider port, on the official @okta/okta-sdk-nodejs v8 client
 * (SSWS API token): its generated group and user APIs, request executor, HTTP layer and paging,
 * loaded without the rest of the SDK (./okta-sdk.ts). Group changes are limited to OKTA_GROUP
 * groups, as Okta itself requires.
 */
import type { Collection, Group, User } from '@okta/okta-sdk-nodejs';
import { realSleep, type Sleep } from '../clock.js';
import { PermanentError, RetryableError } from '../errors.js';
import type { IdentityProvider, IdpGroup, IdpMember, IdpUser } from '../ports.js';
import { DefaultRequestExecutor, oktaSdk, type OktaSdk } from './okta-sdk.js';
import { withProfile } from './profile.js';

export interface OktaOptions {
  /** e.g. https://acme.okta.com (plain http is accepted, for the local sandbox). */
  orgUrl: string;
  /** SSWS API token. */
  token: string;
  /** Longest total 429 wait done inside one call; longer waits surface as RetryableError. Default 10 s. */
  maxWaitMs?: number;
  /** Socket/response timeout per call, on top of any rate-limit wait. Default 30 s. */
  requestTimeoutMs?: number;
  /** How the 429 waits inside a call are slept (tests pass virtual time). Default: real time. */
  sleep?: Sleep;
  /**
   * The user profile attribute holding a person's end date (the catalog's `endDates.okta`, e.g.
   * endDate): read into IdpUser.endDate from the profile the user lookups already return (Okta
   * returns base and custom attributes alike in `profile`). Unset: no end dates are read.
   */
  endDateAttribute?: string;
}

/** Accounts that cannot sign in for good (or never could): never granted access, never approvers. */
const INACTIVE_STATUSES = new Set(['DEPROVISIONED', 'SUSPENDED', 'STAGED']);

/**
 * The SDK's DefaultRequestExecutor retries a 429 (up to maxRetries times) after sleeping until
 * X-Rate-Limit-Reset (+1 s, measured against the response's Date header), however long that is.
 * This subclass only lets it wait while the waits of one call add up to at most maxWaitMs, and
 * sleeps through the injected `sleep`; otherwise the 429 response is handed back, the SDK turns it
 * into an OktaApiError, and we map it to RetryableError with the reset time so the state machine
 * retries later.
 */
type OktaRequest = Parameters<DefaultRequestExecutor['retryRequest']>[0];
type OktaResponse = Parameters<DefaultRequestExecutor['retryRequest']>[1];

class BoundedWaitExecutor extends DefaultRequestExecutor {
  /** Total wait so far of the call a (retry) request belongs to. */
  private readonly waited = new WeakMap<object, number>();

  constructor(
    private readonly maxWaitMs: number,
    requestTimeoutMs: number,
    private readonly sleep: Sleep,
  ) {
    // requestTimeout > maxWaitMs so the SDK's own "retry delay would exceed requestTimeout" rejection
    // (a bare Error without the response) can never fire before our check.
    super({ maxRetries: 2, requestTimeout: maxWaitMs + requestTimeoutMs });
  }

  override parseResponse(request: OktaRequest, response: OktaResponse) {
    if (response.status === 429 && this.validateRetryResponseHeaders(response)) {
      const waitedMs = this.waited.get(request) ?? 0;
      if (!(waitedMs + this.getRetryDelayMs(response) <= this.maxWaitMs)) return response;
    }
    return super.parseResponse(request, response);
  }

  /** The SDK's retryRequest, with the wait slept through `sleep` and added to the call's total. */
  override async retryRequest(request: OktaRequest, response: OktaResponse, delayMs: number): Promise<OktaResponse> {
    const requestId = this.getOktaRequestId(response);
    this.emit('backoff', request, response, requestId, delayMs);
    await this.sleep(delayMs);
    const retry = this.buildRetryRequest(request, requestId, delayMs);
    this.waited.set(retry, (this.waited.get(request) ?? 0) + delayMs);
    this.emit('resume', retry, requestId);
    return this.fetch(retry);
  }
}

interface Target {
  userId?: string;
  groupId?: string;
}

export class OktaIdentityProvider implements IdentityProvider {
  readonly name = 'okta' as const;
  private readonly client: OktaSdk;

  constructor(private readonly options: OktaOptions) {
    // SSWS only, with no response cache (the SDK's default cache keeps every GET of a single resource
    // forever in a warm process: a user's status or a group's type would go stale; access decisions
    // must read live data), and no OKTA_CLIENT_* variable or okta.yaml file can change either.
    this.client = oktaSdk({
      orgUrl: options.orgUrl,
      token: options.token,
      requestExecutor: new BoundedWaitExecutor(options.maxWaitMs ?? 10_000, options.requestTimeoutMs ?? 30_000, options.sleep ?? realSleep),
    });
  }

  async findUserByEmail(email: string): Promise<IdpUser | undefined> {
    const wanted = email.trim().toLowerCase();
    const action = `looking up the Okta user with email ${wanted}`;
    const found = await this.call(action, {}, async () => all(await this.client.userApi.listUsers({ search: `profile.email eq "${quoted(wanted)}"` })));
    const user = pickUser(
      found.filter((u) => u.profile?.email?.toLowerCase() === wanted),
      wanted,
    );
    return user?.id ? this.toIdpUser(user.id, user, wanted) : undefined;
  }

  /** GET /api/v1/users/{id}: read from the user record itself, unlike `search`, which Okta documents as eventually consistent. */
  async getUser(id: string): Promise<IdpUser | undefined> {
    const userId = id.trim();
    if (!userId) return undefined;
    const user = await this.call(`reading the Okta user ${userId}`, { userId }, () => this.client.userApi.getUser({ userId }), null);
    return user?.id ? this.toIdpUser(user.id, user, (user.profile?.email ?? '').toLowerCase()) : undefined;
  }

  /** getUser: GET /api/v1/users/{id} already returns everything a review shows (profile and lastLogin). */
  async reviewProfile(id: string): Promise<IdpUser | undefined> {
    return this.getUser(id);
  }

  async isMember(groupId: string, userId: string): Promise<boolean> {
    return this.call(`checking whether user ${userId} is in Okta group ${groupId}`, { userId }, () => this.inGroup(groupId, userId));
  }

  async addMember(groupId: string, userId: string): Promise<'added' | 'already_member'> {
    const action = `adding user ${userId} to Okta group ${groupId}`;
    const group = await this.call(action, { groupId }, () => this.client.groupApi.getGroup({ groupId }));
    assertOktaManaged(group, groupId);
    if (await this.call(action, { userId }, () => this.inGroup(groupId, userId))) return 'already_member';
    await this.call(action, { groupId, userId }, () => this.client.groupApi.assignUserToGroup({ groupId, userId }));
    return 'added';
  }

  async removeMember(groupId: string, userId: string): Promise<'removed' | 'already_absent'> {
    const action = `removing user ${userId} from Okta group ${groupId}`;
    // A user, group or membership that no longer exists means the access is already gone.
    if (!(await this.call(action, { userId }, () => this.inGroup(groupId, userId), false))) return 'already_absent';
    const group = await this.call(action, { groupId }, () => this.client.groupApi.getGroup({ groupId }), null);
    if (!group) return 'already_absent';
    assertOktaManaged(group, groupId);
    const done = await this.call(
      action,
      { groupId, userId },
      async () => {
        await this.client.groupApi.unassignUserFromGroup({ groupId, userId });
        return true;
      },
      false,
    );
    return done ? 'removed' : 'already_absent';
  }

  /**
   * DELETE /api/v1/users/{id}/sessions (204; needs the admin permission "Clear users' sessions").
   * oauthTokens=true also revokes the OpenID Connect and OAuth access and refresh tokens Okta issued
   * to the user, which would otherwise outlive the Okta session (Okta's default is false).
   * forgetDevices=false keeps the person's remembered MFA factors: forgetting them (the Identity
   * Engine default) ends no access and would make every device ask for MFA again at each expiry.
   * Okta does not end sessions an app keeps of its own.
   */
  async endSessions(id: string): Promise<'ended' | 'no_account'> {
    const userId = id.trim();
    if (!userId) return 'no_account';
    return this.call(
      `ending the Okta sessions of user ${userId}`,
      { userId },
      async () => {
        await this.client.userApi.revokeUserSessions({ userId, oauthTokens: true, forgetDevices: false });
        return 'ended' as const;
      },
      'no_account' as const,
    );
  }

  async listGroups(): Promise<IdpGroup[]> {
    return this.call('listing groups in Okta', {}, async () =>
      (await all(await this.client.groupApi.listGroups({}))).map((g) => ({
        id: g.id ?? '',
        name: g.profile?.name ?? g.id ?? '',
        manageable: g.type === 'OKTA_GROUP',
      })),
    );
  }

  /** Direct members (Okta groups do not nest); the SDK's collection follows the Link rel="next" pages. */
  async listMembers(groupId: string): Promise<IdpMember[]> {
    const users = await this.call(`listing the members of Okta group ${groupId}`, { groupId }, async () =>
      all(await this.client.groupApi.listGroupUsers({ groupId })),
    );
    return users.map((u) => ({ id: u.id ?? '', email: (u.profile?.email ?? '').toLowerCase() }));
  }

  async testConnection(): Promise<void> {
    // One user is enough to prove the token is valid and may read the directory.
    await this.call('testing the Okta connection', {}, async () => (await this.client.userApi.listUsers({ limit: 1 })).next());
  }

  /**
   * The user record as both lookups return it: the profile holds the base and custom attributes,
   * `lastLogin` (top level) the last sign-in, null when the person never signed in.
   */
  private async toIdpUser(id: string, user: Pick<User, 'status' | 'transitioningToStatus' | 'profile' | 'lastLogin'>, email: string): Promise<IdpUser> {
    const profile = user.profile;
    const endDate = this.options.endDateAttribute ? attributeText(profile?.[this.options.endDateAttribute]) : undefined;
    return {
      id,
      email,
      active: !INACTIVE_STATUSES.has(user.status ?? '') && user.transitioningToStatus !== 'DEPROVISIONED',
      managerEmail: await this.managerEmail(profile?.managerId ?? undefined, email),
      ...(endDate ? { endDate } : {}),
      ...withProfile({
        name: attributeText(profile?.displayName) ?? [profile?.firstName, profile?.lastName].map(attributeText).filter(Boolean).join(' '),
        title: profile?.title,
        department: profile?.department,
        lastLogin: user.lastLogin,
      }),
    };
  }

  private async inGroup(groupId: string, userId: string): Promise<boolean> {
    // A user's groups are usually one page; a group's members may be thousands.
    for await (const group of items(await this.client.userApi.listUserGroups({ userId }))) {
      if (group.id === groupId) return true;
    }
    return false;
  }

  /** Okta's managerId is free text: usually the manager's user id or login, sometimes an email. */
  private async managerEmail(managerId: string | undefined, of: string): Promise<string | undefined> {
    const id = managerId?.trim();
    if (!id) return undefined;
    if (/^[^@\s]+@[^@\s]+$/.test(id)) return id.toLowerCase();
    const manager = await this.call(
      `looking up the manager (${id}) of ${of} in Okta`,
      {},
      () => this.client.userApi.getUser({ userId: id }),
      null, // a dangling managerId just means "manager unknown"
    );
    return manager?.profile?.email?.toLowerCase() ?? undefined;
  }

  /** Runs one SDK call, mapping failures; with `onNotFound`, a 404 returns it instead of throwing. */
  private async call<T, F = never>(action: string, target: Target, fn: () => Promise<T>, ...onNotFound: [F?]): Promise<T | F> {
    try {
      return await fn();
    } catch (err) {
      if (onNotFound.length > 0 && statusOf(err) === 404) return onNotFound[0] as F;
      throw toDomainError(err, action, target, this.options.orgUrl);
    }
  }
}

/** The single place where Okta/SDK/network failures become RetryableError or PermanentError. */
function toDomainError(err: unknown, action: string, target: Target, orgUrl: string): Error {
  if (err instanceof RetryableError || err instanceof PermanentError) return err;
  const status = statusOf(err);
  const okta = oktaBody(err);
  const detail = okta.summary ? ` (${[okta.code, okta.summary].filter(Boolean).join(': ')})` : '';
  if (status === undefined) {
    const reason = err instanceof Error ? err.message : String(err);
    return new RetryableError(`Could not reach Okta at ${orgUrl} while ${action}: ${reason}.`, undefined, { cause: err });
  }
  if (status === 429) {
    const retryAfterMs = retryAfterFrom(headersOf(err));
    const when = retryAfterMs === undefined ? 'shortly' : `in about ${Math.ceil(retryAfterMs / 1000)} s`;
    return new RetryableError(`Okta's rate limit was reached while ${action}; it will be retried ${when}.`, retryAfterMs, { cause: err });
  }
  if (status >= 500) {
    return new RetryableError(`Okta failed with HTTP ${status} while ${action}${detail}; this is usually temporary.`, undefined, { cause: err });
  }
  if (status === 401 || status === 403) {
    return new PermanentError(
      `Okta refused the API token while ${action}: HTTP ${status}${detail}. Check that the token is valid and belongs to an admin allowed to manage this user and group.`,
      { cause: err },
    );
  }
  if (status === 404) {
    // Okta names the missing resource type at the end of the summary: "... (User)" / "... (UserGroup)".
    const isGroup = okta.summary?.endsWith('(UserGroup)') ?? (target.groupId !== undefined && target.userId === undefined);
    const isUser = okta.summary?.endsWith('(User)') ?? (target.userId !== undefined && target.groupId === undefined);
    const what = isGroup
      ? `no group with id ${target.groupId ?? '(unknown)'}`
      : isUser
        ? `no user with id ${target.userId ?? '(unknown)'}`
        : 'no such resource';
    return new PermanentError(`Okta has ${what} (found while ${action}).`, { cause: err });
  }
  return new PermanentError(`Okta rejected the request while ${action}: HTTP ${status}${detail}.`, { cause: err });
}

function assertOktaManaged(group: Group, groupId: string): void {
  if (group.type === 'OKTA_GROUP') return;
  const name = group.profile?.name ? `"${group.profile.name}" (${groupId})` : groupId;
  throw new PermanentError(
    `Okta group ${name} is of type ${group.type ?? 'unknown'}, and Okta only lets the API change the members of OKTA_GROUP groups (APP_GROUP members come from an imported directory, BUILT_IN groups are managed by Okta). Map this role to an Okta-managed group.`,
  );
}

/** Email is not unique in Okta: prefer live accounts, then the one whose login is the email. */
function pickUser(matches: User[], email: string): User | undefined {
  if (matches.length <= 1) return matches[0];
  const live = matches.filter((u) => u.status !== 'DEPROVISIONED');
  const pool = live.length > 0 ? live : matches;
  const byLogin = pool.filter((u) => u.profile?.login?.toLowerCase() === email);
  const chosen = byLogin.length === 1 ? byLogin : pool;
  if (chosen.length === 1) return chosen[0];
  throw new PermanentError(
    `Okta has ${chosen.length} accounts with the email ${email} (${chosen.map((u) => u.id).join(', ')}), so the person cannot be identified safely. Ask an Okta admin to make the email unique.`,
  );
}

async function* items<T>(collection: Collection<T>): AsyncGenerator<T> {
  // next() can yield { value: null, done: false } for an empty page that still has a next link.
  for (;;) {
    const { value, done } = await collection.next();
    if (value) yield value;
    else if (done) return;
  }
}

async function all<T>(collection: Collection<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items(collection)) out.push(item);
  return out;
}

/** A profile attribute as text: a string (trimmed) or a number; empty, null and anything else is no value. */
function attributeText(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function quoted(value: string): string {
  return value.replace(/["\\]/g, '\\$&');
}

function field(err: unknown, key: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[key] : undefined;
}

/** OktaApiError/HttpError carry `status`; the generated ApiException carries a numeric `code`. */
function statusOf(err: unknown): number | undefined {
  const status = Number(field(err, 'status') ?? NaN);
  if (Number.isInteger(status) && status >= 100) return status;
  const code = field(err, 'code'); // node-fetch's FetchError has string codes like ECONNREFUSED
  return typeof code === 'number' && code >= 100 ? code : undefined;
}

function oktaBody(err: unknown): { code?: string; summary?: string } {
  const body = field(err, 'body') ?? err; // ApiException nests the Okta body; OktaApiError flattens it
  const code = field(body, 'errorCode');
  const summary = field(body, 'errorSummary');
  return {
    code: typeof code === 'string' ? code : undefined,
    summary: typeof summary === 'string' && summary ? summary : undefined,
  };
}

function headersOf(err: unknown): (name: string) => string | undefined {
  const headers = field(err, 'headers');
  const get = field(headers, 'get');
  if (typeof get === 'function') return (name) => (get.call(headers, name) as string | null) ?? undefined;
  return (name) => {
    const value = field(headers, name.toLowerCase());
    return typeof value === 'string' ? value : undefined;
  };
}

/** X-Rate-Limit-Reset is epoch seconds on Okta's clock; measure against its Date header to ignore our clock skew. */
function retryAfterFrom(header: (name: string) => string | undefined): number | undefined {
  const resetSec = Number(header('x-rate-limit-reset'));
  if (!Number.isFinite(resetSec) || resetSec <= 0) return undefined;
  const serverNow = Date.parse(header('date') ?? '');
  return Math.max(0, resetSec * 1000 - (Number.isNaN(serverNow) ? Date.now() : serverNow));
}
