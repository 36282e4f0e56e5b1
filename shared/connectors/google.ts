/**
 * Google Workspace adapter for the IdentityProvider port, on the official @googleapis/admin client
 * (Admin SDK Directory API v1). In production it authenticates as a service account with
 * domain-wide delegation, impersonating an admin (`adminSubject`); tests inject an auth client
 * holding a static access token, because Google's token endpoint is fixed in google-auth-library
 * and cannot be pointed at a local server.
 *
 * Groups are addressed by group id or email (`groupKey`), users by the numeric id that
 * findUserByEmail returns (an email also works). Membership here means direct membership, the
 * thing addMember and removeMember change.
 */
import { admin, auth as googleAuth, type admin_directory_v1 } from '@googleapis/admin';
import { realSleep, type Sleep } from '../clock.js';
import { PermanentError, RetryableError } from '../errors.js';
import type { IdentityProvider, IdpGroup, IdpMember, IdpUser } from '../ports.js';
import { withProfile } from './profile.js';

/** Least privilege for what this adapter does; each must be granted to the client id under domain-wide delegation. */
export const GOOGLE_DIRECTORY_SCOPES = [
  'https://www.googleapis.com/auth/admin.directory.group.member',
  'https://www.googleapis.com/auth/admin.directory.user.readonly',
  'https://www.googleapis.com/auth/admin.directory.group.readonly',
  // users.signOut (endSessions)
  'https://www.googleapis.com/auth/admin.directory.user.security',
] as const;

export const GOOGLE_ADMIN_DEFAULT_ROOT_URL = 'https://admin.googleapis.com/';

/** What the generated client accepts as `auth`, minus the API-key string form (the Directory API needs OAuth). */
export type GoogleAuthClient = Exclude<NonNullable<admin_directory_v1.Options['auth']>, string>;

export interface GoogleOptions {
  /** The service account's JSON key (GOOGLE_SERVICE_ACCOUNT_KEY). Used with adminSubject unless `auth` is given. */
  serviceAccountKey?: string;
  /** The Workspace admin the service account impersonates through domain-wide delegation (GOOGLE_ADMIN_SUBJECT). */
  adminSubject?: string;
  /** API root (GOOGLE_ADMIN_ROOT_URL), default https://admin.googleapis.com/. Only scheme, host and port count: see normaliseRootUrl. */
  rootUrl?: string;
  /**
   * An auth client to use instead of the service-account JWT, e.g. an OAuth2Client with a static
   * access token in tests (`new auth.OAuth2()` from @googleapis/admin, then setCredentials with a
   * far-future expiry_date so it never tries to refresh), or workload identity federation.
   */
  auth?: GoogleAuthClient;
  /** Which account's groups listGroups returns; default `my_customer` (the admin's own account). */
  customerId?: string;
  /** Longest total wait for retries inside one call; longer waits surface as RetryableError. Default 10 s. */
  maxWaitMs?: number;
  /** Socket/response timeout of one attempt. Default 20 s (the client's timer is set to this plus maxWaitMs: see below). */
  requestTimeoutMs?: number;
  /** How the retry waits inside a call are slept (tests pass virtual time). Default: real time. */
  sleep?: Sleep;
  /**
   * The custom user field holding a person's end date, as `<custom schema>.<field>` (the catalog's
   * `endDates.google`, e.g. HR.endDate, a DATE field): the user lookups then ask users.get for
   * `projection=custom&customFieldMask=<schema>` (the default projection, basic, returns no custom
   * fields) and read it into IdpUser.endDate. Unset: no end dates are read.
   */
  endDateField?: string;
}

/** 403 reasons that mean "slow down", not "not allowed" (Admin SDK usage limits). */
const RATE_LIMIT_REASONS = new Set(['userRateLimitExceeded', 'rateLimitExceeded', 'quotaExceeded', 'dailyLimitExceeded']);
const MAX_RETRIES = 4;
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 32_000;
const EMAIL = /^[^@\s/]+@[^@\s/]+$/;

type Directory = admin_directory_v1.Admin;
type RetryConfig = NonNullable<admin_directory_v1.Options['retryConfig']>;
/** gaxios's GaxiosError, as the retry hooks receive it (gaxios is not a direct dependency). */
type GaxiosErrorLike = Parameters<NonNullable<RetryConfig['shouldRetry']>>[0];
/** gaxios's per-call retry state, with the waits this call has been allowed so far. */
type WaitTotal = NonNullable<GaxiosErrorLike['config']['retryConfig']> & { grantlineWaitedMs?: number };

interface Target {
  userKey?: string;
  groupKey?: string;
  memberKey?: string;
}

/** What an HTTP or network failure says, read from a GaxiosError without depending on its class. */
interface Failure {
  status?: number;
  /** errors[0].reason of a Directory API error (e.g. notFound, duplicate, userRateLimitExceeded), or the OAuth error of the token endpoint. */
  reason?: string;
  message?: string;
  /** true when the body came from Google's OAuth token endpoint ({error, error_description}), not from the API. */
  tokenEndpoint: boolean;
  header(name: string): string | undefined;
  /** Retries gaxios already made inside this call. */
  retries: number;
  kind: 'rate_limit' | 'server' | 'network' | 'timeout' | 'refused' | 'not_found' | 'conflict' | 'rejected';
}

export class GoogleIdentityProvider implements IdentityProvider {
  readonly name = 'google' as const;
  private readonly directory: Directory;
  private readonly rootUrl: string;
  private readonly customer: string;
  private readonly maxWaitMs: number;
  private readonly requestTimeoutMs: number;
  private readonly subject: string | undefined;
  private readonly endDateField: { schema: string; field: string } | undefined;

  constructor(options: GoogleOptions) {
    this.rootUrl = normaliseRootUrl(options.rootUrl ?? GOOGLE_ADMIN_DEFAULT_ROOT_URL);
    this.customer = options.customerId ?? 'my_customer';
    this.maxWaitMs = Math.max(0, options.maxWaitMs ?? 10_000);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 20_000;
    this.subject = options.adminSubject;
    this.endDateField = customField(options.endDateField);
    this.directory = admin({
      version: 'directory_v1',
      rootUrl: this.rootUrl,
      auth: options.auth ?? serviceAccountJwt(options.serviceAccountKey, options.adminSubject),
      // gaxios arms one timer per attempt, but after an attempt that got an HTTP error it keeps that
      // timer running through the retry wait and the next attempt (only an attempt that itself timed
      // out gets a fresh one). The timer must therefore cover the longest wait we allow as well.
      timeout: this.requestTimeoutMs + this.maxWaitMs,
      retryConfig: boundedRetries(this.maxWaitMs, options.sleep ?? realSleep),
    });
  }

  async findUserByEmail(email: string): Promise<IdpUser | undefined> {
    const wanted = email.trim().toLowerCase();
    // users.get also accepts a user id: never let something that is not an email match one.
    if (!EMAIL.test(wanted)) return undefined;
    const action = `looking up the Google Workspace user ${wanted}`;
    // Google matches the primary email and aliases, case-insensitively.
    const user = await this.call(
      action,
      { userKey: wanted },
      async () => (await this.directory.users.get({ userKey: wanted, ...this.projection() })).data,
      (f) => (f.kind === 'not_found' ? { value: undefined } : undefined),
    );
    return user?.id ? toIdpUser(user.id, user, wanted, this.endDateField) : undefined;
  }

  /** users.get by the numeric id: Google reads the account itself (no search index involved). */
  async getUser(id: string): Promise<IdpUser | undefined> {
    const userKey = id.trim();
    // users.get also accepts an email: only an id may match here.
    if (!/^\d+$/.test(userKey)) return undefined;
    const user = await this.call(
      `reading the Google Workspace user ${userKey}`,
      { userKey },
      async () => (await this.directory.users.get({ userKey, ...this.projection() })).data,
      (f) => (f.kind === 'not_found' ? { value: undefined } : undefined),
    );
    return user?.id ? toIdpUser(user.id, user, (user.primaryEmail ?? '').toLowerCase(), this.endDateField) : undefined;
  }

  /** getUser: users.get (projection basic is enough) already returns name, organizations and lastLoginTime. */
  async reviewProfile(id: string): Promise<IdpUser | undefined> {
    return this.getUser(id);
  }

  /**
   * Direct membership, by members.get. Not members.hasMember: it also counts nested membership
   * (through a member group), which addMember would not see as "already a member" and removeMember
   * cannot undo, and it rejects member keys outside the account.
   */
  async isMember(groupId: string, userId: string): Promise<boolean> {
    const action = `checking whether user ${userId} is in Google group ${groupId}`;
    const member = await this.call(
      action,
      { groupKey: groupId, memberKey: userId },
      async () => (await this.directory.members.get({ groupKey: groupId, memberKey: userId })).data,
      (f) => (f.kind === 'not_found' ? { value: null } : undefined),
    );
    if (member) return true;
    await this.requireGroup(groupId, action); // a missing group is a catalog error, not "not a member"
    return false;
  }

  async addMember(groupId: string, userId: string): Promise<'added' | 'already_member'> {
    const action = `adding user ${userId} to Google group ${groupId}`;
    // members.insert documents the member's email as required; resolve it from the user id.
    const email = EMAIL.test(userId) ? userId.toLowerCase() : await this.primaryEmailOf(userId, action);
    return this.call(
      action,
      { groupKey: groupId, memberKey: userId },
      async () => {
        await this.directory.members.insert({ groupKey: groupId, requestBody: { email, role: 'MEMBER' } });
        return 'added' as const;
      },
      // 409 "Member already exists." (reason duplicate). It also ends a retried insert whose first
      // attempt did succeed before a 5xx, which is why inserts may be retried at all.
      (f) => (f.status === 409 ? { value: 'already_member' as const } : undefined),
    );
  }

  async removeMember(groupId: string, userId: string): Promise<'removed' | 'already_absent'> {
    const action = `removing user ${userId} from Google group ${groupId}`;
    const outcome = await this.call(
      action,
      { groupKey: groupId, memberKey: userId },
      async () => {
        await this.directory.members.delete({ groupKey: groupId, memberKey: userId });
        return 'removed' as const;
      },
      (f) => (f.kind === 'not_found' ? { value: f.message?.includes('groupKey') ? ('no_group' as const) : ('absent' as const) } : undefined),
    );
    if (outcome === 'removed') return 'removed';
    // The same 404 comes back for a missing group and for a user who is not a member. Only the
    // latter is "already absent"; a group that does not exist means the catalog points nowhere,
    // and saying "already absent" would hide that the access may still exist elsewhere.
    if (outcome === 'no_group') throw groupMissing(groupId, action);
    await this.requireGroup(groupId, action);
    return 'already_absent';
  }

  /**
   * users.signOut: POST /admin/directory/v1/users/{userKey}/signOut (204; scope
   * admin.directory.user.security). Google signs the user out of all web and device sessions and
   * resets their sign-in cookies, so every Google session must authenticate again.
   */
  async endSessions(userKey: string): Promise<'ended' | 'no_account'> {
    return this.call(
      `ending the Google Workspace sessions of user ${userKey}`,
      { userKey },
      async () => {
        await this.directory.users.signOut({ userKey });
        return 'ended' as const;
      },
      (f) => (f.kind === 'not_found' ? { value: 'no_account' as const } : undefined),
    );
  }

  /**
   * Every group of the account. All are reported manageable: the Directory API can change the
   * members of any Workspace group. (Dynamic groups, whose members come from a query, exist only in
   * Cloud Identity and are managed through the Cloud Identity Groups API, which this adapter does
   * not use; they would fail at addMember with a permanent error.)
   */
  async listGroups(): Promise<IdpGroup[]> {
    const groups: IdpGroup[] = [];
    const seen = new Set<string>();
    let pageToken: string | undefined;
    do {
      const token = pageToken;
      const page = await this.call(
        'listing Google Workspace groups',
        {},
        async () => (await this.directory.groups.list({ customer: this.customer, maxResults: 200, ...(token ? { pageToken: token } : {}) })).data,
      );
      for (const g of page.groups ?? []) {
        if (g.id) groups.push({ id: g.id, name: g.name || g.email || g.id, manageable: true });
      }
      pageToken = page.nextPageToken ?? undefined;
      if (pageToken && seen.has(pageToken)) {
        throw new PermanentError('Google returned the same page of groups twice while listing Google Workspace groups; the listing was stopped.');
      }
      if (pageToken) seen.add(pageToken);
    } while (pageToken);
    return groups;
  }

  /** Direct members of type USER (members.list is not transitive); nested groups and customer-wide members are not people. */
  async listMembers(groupKey: string): Promise<IdpMember[]> {
    const action = `listing the members of Google group ${groupKey}`;
    const members: IdpMember[] = [];
    const seen = new Set<string>();
    let pageToken: string | undefined;
    do {
      const token = pageToken;
      const page = await this.call(
        action,
        { groupKey },
        async () => (await this.directory.members.list({ groupKey, maxResults: 200, ...(token ? { pageToken: token } : {}) })).data,
      );
      for (const m of page.members ?? []) {
        if (m.type === 'USER' && m.email) members.push({ id: m.id ?? '', email: m.email.toLowerCase() });
      }
      pageToken = page.nextPageToken ?? undefined;
      if (pageToken && seen.has(pageToken)) {
        throw new PermanentError(`Google returned the same page of members twice while ${action}; the listing was stopped.`);
      }
      if (pageToken) seen.add(pageToken);
    } while (pageToken);
    return members;
  }

  /** One user and one group: proves the token, the delegation and both read scopes. */
  async testConnection(): Promise<void> {
    const action = 'testing the Google Workspace connection';
    await this.call(action, {}, () => this.directory.users.list({ customer: this.customer, maxResults: 1 }));
    await this.call(action, {}, () => this.directory.groups.list({ customer: this.customer, maxResults: 1 }));
  }

  /** users.get's projection: the end date's custom schema when one is read (only its schema, not every custom field). */
  private projection(): { projection?: string; customFieldMask?: string } {
    return this.endDateField ? { projection: 'custom', customFieldMask: this.endDateField.schema } : {};
  }

  private async primaryEmailOf(userId: string, action: string): Promise<string> {
    const user = await this.call(action, { userKey: userId }, async () => (await this.directory.users.get({ userKey: userId })).data);
    const email = user.primaryEmail?.toLowerCase();
    if (!email) throw new PermanentError(`Google Workspace returned user ${userId} without a primary email (found while ${action}).`);
    return email;
  }

  private async requireGroup(groupId: string, action: string): Promise<void> {
    const group = await this.call(
      action,
      { groupKey: groupId },
      async () => (await this.directory.groups.get({ groupKey: groupId })).data,
      (f) => (f.kind === 'not_found' ? { value: null } : undefined),
    );
    if (!group) throw groupMissing(groupId, action);
  }

  /** Runs one client call; `recover` may turn a failure into a value, anything else is mapped. */
  private async call<T, R = never>(
    action: string,
    target: Target,
    fn: () => Promise<T>,
    recover?: (failure: Failure) => { value: R } | undefined,
  ): Promise<T | R> {
    try {
      return await fn();
    } catch (err) {
      const failure = readFailure(err);
      const recovered = failure && recover?.(failure);
      if (recovered) return recovered.value;
      throw toDomainError(err, action, target, {
        rootUrl: this.rootUrl,
        subject: this.subject,
        timeoutMs: this.requestTimeoutMs + this.maxWaitMs,
      });
    }
  }
}

/**
 * The retry policy handed to gaxios.
 *
 * googleapis-common turns gaxios retries on for every call (`retry: true`), and gaxios's default
 * policy does not fit Google's own guidance: it retries 429/5xx three times after 0.1, 0.5 and
 * 1.5 s ignoring Retry-After (a "retry in 120 s" answer is hammered four times in 2 s), never
 * retries the 403 userRateLimitExceeded/quotaExceeded that the Admin SDK actually sends, and never
 * retries POST. We keep the retries inside gaxios (the same request with the same token, no second
 * loop around the client) but replace both the decision and the wait:
 * - retried: 429, 403 with a rate-limit reason, 408, 5xx and connection failures, on every method
 *   (a repeated members.insert answers 409, which is success);
 * - not retried: timeouts (the attempt already used its time) and everything else;
 * - the wait is Retry-After when Google sends it, else exponential backoff with jitter (1 s, 2 s,
 *   4 s, ... plus up to 0.5 s), as Google recommends for its usage limits;
 * - a retry happens only while the total wait in this call stays within maxWaitMs, so short
 *   hiccups are absorbed in-process and long waits are handed to the state machine at once as
 *   RetryableError (with the wait as retryAfterMs) rather than sleeping in a Lambda; the total is
 *   of the waits themselves (not wall time), and they are slept through the injected `sleep`.
 * A custom shouldRetry replaces gaxios's whole check, including its retry count, so the count is
 * enforced here too (without it gaxios retries forever).
 */
function boundedRetries(maxWaitMs: number, sleep: Sleep): RetryConfig {
  const planned = new WeakMap<object, number>();
  return {
    retry: MAX_RETRIES,
    shouldRetry: (err: GaxiosErrorLike) => {
      const state = err.config.retryConfig;
      const attempt = state?.currentRetryAttempt ?? 0;
      if (attempt >= MAX_RETRIES) return false;
      const failure = readFailure(err);
      if (!failure || !['rate_limit', 'server', 'network'].includes(failure.kind)) return false;
      const delay = retryAfterMs(failure) ?? backoffMs(attempt) + Math.floor(Math.random() * 500);
      // gaxios deep-copies its retry state from each attempt to the next, so the running total travels with it.
      const total = state as WaitTotal | undefined;
      const spent = total?.grantlineWaitedMs ?? 0;
      if (spent + delay > maxWaitMs) return false;
      if (total) total.grantlineWaitedMs = spent + delay;
      planned.set(err, delay);
      return true;
    },
    retryBackoff: (err: GaxiosErrorLike, fallbackMs: number) => sleep(planned.get(err) ?? fallbackMs),
  };
}

function toIdpUser(id: string, user: admin_directory_v1.Schema$User, email: string, endDateField?: { schema: string; field: string }): IdpUser {
  const managerEmail = managerFrom(user.relations as unknown);
  // The client types a schema's fields as an empty interface: read them as the JSON they are.
  const endDate = endDateField ? customFieldValue(field(user.customSchemas?.[endDateField.schema], endDateField.field)) : undefined;
  const organization = primaryOrganization(user.organizations);
  return {
    id,
    email: (user.primaryEmail ?? email).toLowerCase(),
    active: user.suspended !== true && user.archived !== true,
    ...(managerEmail ? { managerEmail } : {}),
    ...(endDate ? { endDate } : {}),
    ...withProfile({
      name: user.name?.fullName ?? [user.name?.givenName, user.name?.familyName].filter(Boolean).join(' '),
      title: field(organization, 'title'),
      department: field(organization, 'department'),
      // Google answers 1970-01-01T00:00:00.000Z for an account that never signed in: withProfile leaves it out.
      lastLogin: user.lastLoginTime,
    }),
  };
}

/** The user's primary organization (`organizations[].primary`), else the first one listed. */
function primaryOrganization(organizations: unknown): unknown {
  if (!Array.isArray(organizations)) return undefined;
  const list = organizations as unknown[];
  return list.find((o) => field(o, 'primary') === true) ?? list[0];
}

function customField(spec: string | undefined): { schema: string; field: string } | undefined {
  if (!spec) return undefined;
  const [schema, field, ...rest] = spec.split('.');
  if (!schema || !field || rest.length > 0) {
    throw new PermanentError(`The Google Workspace end-date field "${spec}" is not <custom schema>.<field>, e.g. HR.endDate.`);
  }
  return { schema, field };
}

/**
 * A custom field's value: single-valued fields are the value itself, multi-valued ones a list of
 * {value}: the earliest is taken (ISO dates sort as text), as the earliest end date is the one that counts.
 */
function customFieldValue(value: unknown): string | undefined {
  const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  if (!Array.isArray(value)) return text(value);
  const values = (value as unknown[]).map((v) => text(field(v, 'value'))).filter((v): v is string => v !== undefined);
  return values.sort()[0];
}

/** The single place where Google/client/network failures become RetryableError or PermanentError. */
function toDomainError(err: unknown, action: string, target: Target, ctx: { rootUrl: string; subject: string | undefined; timeoutMs: number }): Error {
  if (err instanceof RetryableError || err instanceof PermanentError) return err;
  const f = readFailure(err);
  const cause = { cause: err };
  if (!f) {
    // Not an HTTP exchange at all: the client refused the call (missing parameter, unreadable key).
    return new PermanentError(`The Google client failed while ${action}: ${errorText(err)}.`, cause);
  }
  const detail = f.reason && f.message ? ` (${f.reason}: ${f.message})` : f.message ? ` (${f.message})` : '';
  const after = f.retries > 0 ? ` after ${f.retries} ${f.retries === 1 ? 'retry' : 'retries'}` : '';
  switch (f.kind) {
    case 'timeout':
      return new RetryableError(`Google did not answer within ${seconds(ctx.timeoutMs)} s while ${action}; it will be retried.`, undefined, cause);
    case 'network':
      return new RetryableError(`Could not reach Google at ${ctx.rootUrl} while ${action}${after}: ${errorText(err)}.`, undefined, cause);
    case 'rate_limit': {
      const wait = retryAfterMs(f) ?? backoffMs(f.retries + 1);
      return new RetryableError(
        `Google's rate limit was reached (${f.reason ?? `HTTP ${f.status}`}) while ${action}${after}; it will be retried in about ${Math.ceil(wait / 1000)} s.`,
        wait,
        cause,
      );
    }
    case 'server':
      return new RetryableError(`Google failed with HTTP ${f.status}${detail} while ${action}${after}; this is usually temporary.`, retryAfterMs(f), cause);
    case 'refused': {
      const who = ctx.subject ? `the impersonated admin ${ctx.subject}` : 'the account the credentials act as';
      if (f.tokenEndpoint) {
        return new PermanentError(
          `Google refused to issue an access token for the service account while ${action}${detail}. Check domain-wide delegation: the service account's client id must be authorized in the Admin console for ${GOOGLE_DIRECTORY_SCOPES.join(', ')}, and ${who} must be an active Google Workspace admin.`,
          cause,
        );
      }
      const lookup =
        target.userKey && EMAIL.test(target.userKey)
          ? ` If the address is not in one of this Google Workspace account's domains, Google answers this way too: ${target.userKey} may simply not be a Workspace user here.`
          : '';
      return new PermanentError(
        `Google refused the request while ${action}: HTTP ${f.status}${detail}. Check domain-wide delegation for the service account (scopes ${GOOGLE_DIRECTORY_SCOPES.join(', ')}) and that ${who} may manage these users and groups.${lookup}`,
        cause,
      );
    }
    case 'not_found': {
      // Google names the missing path parameter: "Resource Not Found: groupKey" / "...: memberKey" / "...: userKey".
      const says = f.message ?? '';
      const user = target.userKey ?? target.memberKey;
      if (says.includes('groupKey') || (target.groupKey && !user)) return groupMissing(target.groupKey ?? '(unknown)', action, err);
      if (user) return new PermanentError(`Google Workspace has no user ${user} (found while ${action}).`, cause);
      return new PermanentError(`Google found no such resource while ${action}${detail}.`, cause);
    }
    case 'conflict':
      return new PermanentError(`Google reported a conflict while ${action}${detail}.`, cause);
    default:
      return new PermanentError(`Google rejected the request while ${action}: HTTP ${f.status ?? '?'}${detail}.`, cause);
  }
}

function groupMissing(groupId: string, action: string, cause?: unknown): PermanentError {
  return new PermanentError(
    `Google Workspace has no group ${groupId} (found while ${action}). Check the group id or email mapped in the catalog.`,
    cause === undefined ? undefined : { cause },
  );
}

/** Reads a GaxiosError (from the API, the token endpoint or the network); undefined when err is not one. */
function readFailure(err: unknown): Failure | undefined {
  const config = field(err, 'config');
  const response = field(err, 'response');
  if (typeof config !== 'object' || config === null) return undefined;
  const retries = Number(field(field(config, 'retryConfig'), 'currentRetryAttempt') ?? 0) || 0;
  const headers = field(response, 'headers');
  const header = (name: string): string | undefined => {
    const get = field(headers, 'get');
    if (typeof get === 'function') return (get.call(headers, name) as string | null) ?? undefined;
    const value = field(headers, name.toLowerCase());
    return typeof value === 'string' ? value : undefined;
  };
  const statusValue = Number(field(response, 'status') ?? field(err, 'status'));
  const status = Number.isInteger(statusValue) && statusValue >= 100 ? statusValue : undefined;

  if (status === undefined) {
    const aborted = causes(err).some(
      (c) => field(c, 'name') === 'AbortError' || field(c, 'name') === 'TimeoutError' || field(c, 'type') === 'aborted' || field(c, 'code') === 'TimeoutError',
    );
    return { tokenEndpoint: false, header, retries, kind: aborted ? 'timeout' : 'network', message: errorText(err) };
  }

  const data = field(response, 'data');
  const apiError = field(data, 'error');
  let reason: string | undefined;
  let message: string | undefined;
  let tokenEndpoint = false;
  if (typeof apiError === 'string') {
    // OAuth token endpoint: {"error":"unauthorized_client","error_description":"..."}
    tokenEndpoint = true;
    reason = apiError;
    const description = field(data, 'error_description');
    message = typeof description === 'string' ? description : undefined;
  } else {
    const first = (field(apiError, 'errors') as unknown[] | undefined)?.[0];
    const r = field(first, 'reason');
    const m = field(apiError, 'message') ?? field(first, 'message');
    reason = typeof r === 'string' ? r : undefined;
    message = typeof m === 'string' ? m : undefined;
  }

  let kind: Failure['kind'];
  if (status === 429 || (status === 403 && reason !== undefined && RATE_LIMIT_REASONS.has(reason))) kind = 'rate_limit';
  else if (status >= 500 || status === 408) kind = 'server';
  else if (status === 401 || status === 403 || (tokenEndpoint && status === 400)) kind = 'refused';
  else if (status === 404) kind = 'not_found';
  else if (status === 409) kind = 'conflict';
  else kind = 'rejected';
  return { status, reason, message, tokenEndpoint, header, retries, kind };
}

/** Retry-After in seconds or as an HTTP date (measured against Google's Date header). */
function retryAfterMs(f: Failure): number | undefined {
  const value = f.header('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  const now = Date.parse(f.header('date') ?? '');
  return Math.max(0, at - (Number.isNaN(now) ? Date.now() : now));
}

/** Google's recommended exponential backoff: 1 s, 2 s, 4 s, ... capped at 32 s. */
function backoffMs(attempt: number): number {
  return Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** attempt);
}

/** `relations: [{type: 'manager', value: 'boss@example.com'}]`; the value is free text, so only an email counts. */
function managerFrom(relations: unknown): string | undefined {
  if (!Array.isArray(relations)) return undefined;
  for (const relation of relations as unknown[]) {
    const type = field(relation, 'type');
    const value = field(relation, 'value');
    if (typeof type === 'string' && type.toLowerCase() === 'manager' && typeof value === 'string' && EMAIL.test(value.trim())) {
      return value.trim().toLowerCase();
    }
  }
  return undefined;
}

/**
 * googleapis-common rewrites every URL as `new URL(pathOfDefaultUrl, rootUrl)`, where the path
 * already starts with `/admin/directory/v1/...`: only the scheme, host and port of rootUrl are
 * used and a path in it (a proxy prefix) is silently dropped. Refuse such a rootUrl rather than
 * send requests somewhere else than configured.
 */
function normaliseRootUrl(rootUrl: string): string {
  let url: URL;
  try {
    url = new URL(rootUrl);
  } catch {
    throw new PermanentError(`The Google Admin root URL "${rootUrl}" is not a URL; expected e.g. ${GOOGLE_ADMIN_DEFAULT_ROOT_URL}.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new PermanentError(`The Google Admin root URL "${rootUrl}" must be http(s).`);
  }
  if (url.pathname !== '/' || url.search || url.hash) {
    throw new PermanentError(
      `The Google Admin root URL "${rootUrl}" has a path; the Google client only uses its scheme, host and port (it would call ${url.origin}/admin/directory/v1/...). Use ${url.origin}/.`,
    );
  }
  return `${url.origin}/`;
}

/** A JWT client for domain-wide delegation: signs as the service account, acts as the admin. */
function serviceAccountJwt(serviceAccountKey: string | undefined, adminSubject: string | undefined): GoogleAuthClient {
  if (!serviceAccountKey || !adminSubject) {
    throw new PermanentError(
      'Google Workspace needs a service account key (GOOGLE_SERVICE_ACCOUNT_KEY, the JSON key file content) and an admin to impersonate through domain-wide delegation (GOOGLE_ADMIN_SUBJECT).',
    );
  }
  let key: unknown;
  try {
    key = JSON.parse(serviceAccountKey);
  } catch {
    // JSON.parse's message quotes the input: never echo a private key into logs or evidence.
    throw new PermanentError("GOOGLE_SERVICE_ACCOUNT_KEY is not valid JSON; it must be the content of the service account's JSON key file.");
  }
  const email = field(key, 'client_email');
  const privateKey = field(key, 'private_key');
  if (typeof email !== 'string' || typeof privateKey !== 'string' || !privateKey.includes('PRIVATE KEY')) {
    throw new PermanentError('GOOGLE_SERVICE_ACCOUNT_KEY lacks client_email or private_key; it must be a service account JSON key (type "service_account").');
  }
  return new googleAuth.JWT({
    email,
    // Keys pasted through some secret stores arrive with literal "\n" sequences.
    key: privateKey.includes('\\n') ? privateKey.replace(/\\n/g, '\n') : privateKey,
    subject: adminSubject,
    scopes: [...GOOGLE_DIRECTORY_SCOPES],
  });
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** The error and its causes, outermost first. */
function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && chain.length < 5; e = field(e, 'cause')) chain.push(e);
  return chain;
}

function seconds(ms: number): string {
  return ms >= 10_000 ? String(Math.round(ms / 1000)) : String(Math.round(ms / 100) / 10);
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\.$/, '');
}
