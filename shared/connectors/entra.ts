/**
 * Microsoft Entra ID adapter for the IdentityProvider port, on Microsoft Graph v1.0 through the
 * official @microsoft/microsoft-graph-client, authenticated as an application (client credentials)
 * with @azure/identity's ClientSecretCredential. The app registration needs the application
 * permissions GroupMember.ReadWrite.All, User.Read.All and User.RevokeSessions.All (to end a person's
 * sessions), with admin consent (and User-LifeCycleInfo.Read.All when end dates are read from
 * employeeLeaveDateTime). Access reviews (reviewProfile) also read each person's last sign-in when the
 * app holds AuditLog.Read.All and the tenant has Microsoft Entra ID P1 or P2; without them the review
 * shows no last sign-in, and granting never asks for it.
 *
 * Choices worth knowing:
 * - Removal is ALWAYS `DELETE /groups/{g}/members/{u}/$ref`: without `/$ref` Graph addresses the
 *   member object itself and deletes the user. Ids are checked to be GUIDs before any call, so no
 *   input can reshape a path ("..", "/").
 * - isMember reads `GET /groups/{g}/members/{u}`: the group's *direct* members, i.e. exactly the
 *   relation addMember/removeMember change, read from the directory object itself. The alternatives
 *   are worse for this use: checkMemberGroups is documented as transitive (a user in a nested group
 *   would look like a member, so the grant would skip the add and Grantline could never remove the
 *   access it recorded), and `members?$filter=id eq ...` is an "advanced query" (ConsistencyLevel:
 *   eventual) answered from an index that lags writes by seconds.
 * - Graph answers 404 Request_ResourceNotFound alike for "not a member", "no such user" and "no
 *   such group"; the group is looked up to tell them apart.
 * - Transport: the Graph client's own HTTPMessageHandler calls the global fetch (undici), which takes
 *   no per-client CA or timeout. The last middleware here sends the request with node:https instead,
 *   using an Agent with the extra `ca` (if any) on top of the system CAs and a socket timeout, so
 *   nothing process-wide (NODE_TLS_REJECT_UNAUTHORIZED, the global dispatcher) is touched.
 */
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { rootCertificates } from 'node:tls';
import { ClientSecretCredential, type AccessToken, type GetTokenOptions, type TokenCredential } from '@azure/identity';
import {
  AuthenticationHandler,
  Client,
  GraphClientError,
  RedirectHandler,
  RedirectHandlerOptions,
  TelemetryHandler,
  type Context,
  type GraphRequest,
  type Middleware,
} from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js';
import { realSleep, type Sleep } from '../clock.js';
import { PermanentError, RetryableError, errorMessage } from '../errors.js';
import type { IdentityProvider, IdpGroup, IdpMember, IdpUser } from '../ports.js';
import { withProfile } from './profile.js';

export interface EntraOptions {
  /** Directory (tenant) id. */
  tenantId: string;
  /** Application (client) id of the app registration. */
  clientId: string;
  /** Client secret *value* (not its id). */
  clientSecret: string;
  /** Default https://graph.microsoft.com (https only: the Graph client sends the token over https only). */
  graphBaseUrl?: string;
  /** Microsoft identity platform host, e.g. for a sovereign cloud or the local sandbox. Instance discovery is skipped when set. */
  authorityHost?: string;
  /** Replaces the ClientSecretCredential built from tenantId/clientId/clientSecret. */
  credential?: TokenCredential;
  /** PEM certificate(s) trusted in addition to the system CAs, for Graph and the token endpoint (the sandbox's self-signed certificate). */
  ca?: string | Buffer;
  /** Longest total 429/503/504 wait done inside one call; longer waits surface as RetryableError. Default 10 s. */
  maxWaitMs?: number;
  /** Socket inactivity timeout per Graph request. Default 30 s. */
  requestTimeoutMs?: number;
  /** How the 429/503/504 waits inside a call are slept (tests pass virtual time). Default: real time. */
  sleep?: Sleep;
  /**
   * Read each person's end date from `employeeLeaveDateTime` (the catalog's `endDates.entra`) into
   * IdpUser.endDate. Graph returns that property only when `$select` names it, and only to an app
   * holding the application permission User-LifeCycleInfo.Read.All. Default false: not asked for.
   */
  readEmployeeLeaveDateTime?: boolean;
}

/** The client-credentials scope for a Graph root: its origin with /.default. */
export const graphScope = (graphOrigin: string): string => `${new URL(graphOrigin).origin}/.default`;
const PERMISSIONS = 'GroupMember.ReadWrite.All and User.Read.All';
const PERMISSIONS_WITH_END_DATES = 'GroupMember.ReadWrite.All, User.Read.All and User-LifeCycleInfo.Read.All (to read employeeLeaveDateTime)';
/** Graph's answer to adding an existing member (400 Request_BadRequest); nothing else means "already a member". */
const ALREADY_MEMBER = "One or more added object references already exist for the following modified properties: 'members'.";
/**
 * Graph's 400 while a newly created group (or user) has not replicated to every directory replica yet
 * (documented: "The source resource object or one of the objects being referenced do not exist.";
 * older deployments word it "One or more added object references do not exist ...").
 */
const NOT_REPLICATED = /(objects? being referenced|added object references|referenced objects?) do(es)? not exist/i;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** OAuth/MSAL error codes that mean the token endpoint or the network struggled, not that we were refused. */
const TRANSIENT_AUTH_CODES = new Set([
  'network_error',
  'endpoints_resolution_error',
  'temporarily_unavailable',
  'server_error',
  'post_request_failed',
  'request_timeout',
]);

interface Target {
  userId?: string;
  groupId?: string;
}

interface GraphObject {
  [key: string]: unknown;
}

export class EntraIdentityProvider implements IdentityProvider {
  readonly name = 'entra' as const;
  private readonly client: Client;
  /** Origin of Graph, e.g. https://graph.microsoft.com. */
  private readonly graphOrigin: string;

  constructor(private readonly options: EntraOptions) {
    const base = new URL(options.graphBaseUrl ?? 'https://graph.microsoft.com');
    if (base.protocol !== 'https:') {
      throw new PermanentError(`The Microsoft Graph URL ${base.origin} is not https: the Graph client only sends the access token over https.`);
    }
    this.graphOrigin = base.origin;
    const ca = options.ca === undefined ? undefined : [...rootCertificates, options.ca.toString()];
    const credential =
      options.credential ??
      new ClientSecretCredential(options.tenantId, options.clientId, options.clientSecret, {
        // Outside the public cloud's login.microsoftonline.com, MSAL's instance discovery would ask the
        // public cloud about this host; the authority's own OpenID metadata is enough.
        ...(options.authorityHost ? { authorityHost: options.authorityHost, disableInstanceDiscovery: true } : {}),
        ...(ca ? { tlsOptions: { ca } } : {}),
      });
    // The token's audience is the Graph root in use: a sovereign cloud's Graph (graph.microsoft.us,
    // microsoftgraph.chinacloudapi.cn) refuses a token issued for the public cloud's.
    const authProvider = new TokenCredentialAuthenticationProvider(new ReportingCredential(credential), { scopes: [graphScope(this.graphOrigin)] });

    // A custom chain (instead of initWithMiddleware({ authProvider })) for two reasons: the retry
    // policy below, and the transport (see the file comment). Order as in the SDK's default chain.
    this.client = Client.initWithMiddleware({
      baseUrl: this.graphOrigin,
      defaultVersion: 'v1.0',
      // The AuthenticationHandler attaches the token only to https URLs on Graph's own hosts or these.
      customHosts: new Set([base.hostname]),
      middleware: [
        new AuthenticationHandler(authProvider),
        new BoundedRetryHandler(options.maxWaitMs ?? 10_000, options.sleep ?? realSleep),
        new RedirectHandler(new RedirectHandlerOptions()),
        new TelemetryHandler(),
        new HttpsTransport(new Agent({ keepAlive: true, ...(ca ? { ca } : {}) }), options.requestTimeoutMs ?? 30_000),
      ],
    });
  }

  async findUserByEmail(email: string): Promise<IdpUser | undefined> {
    const wanted = email.trim().toLowerCase();
    const action = `looking up the Microsoft Entra ID user with email ${wanted}`;
    const literal = wanted.replace(/'/g, "''"); // OData string literal: a quote is doubled
    const found = await this.call(action, {}, () =>
      this.all(
        this.client
          .api('/users')
          // The SDK puts $filter into the URL as given: encode it ourselves ('+', '&', '#' in emails).
          .filter(encodeURIComponent(`mail eq '${literal}' or userPrincipalName eq '${literal}'`))
          .select(this.userProperties()),
      ),
    );
    const user = pickUser(found, wanted);
    return user ? this.toIdpUser(user, wanted) : undefined;
  }

  /** GET /users/{id}: the directory object itself, not a filtered query. */
  async getUser(id: string): Promise<IdpUser | undefined> {
    const userId = objectId(id, 'user');
    return this.readUser(userId, `reading the Microsoft Entra ID user ${userId}`, false);
  }

  /**
   * GET /users/{id} with signInActivity as well, for access reviews. Graph returns signInActivity only
   * when $select names it (and only for an id, not a userPrincipalName), and answers the whole request
   * 403 when the app lacks AuditLog.Read.All (Authorization_RequestDenied) or the tenant has no
   * Microsoft Entra ID P1/P2 licence (Authentication_RequestFromNonPremiumTenantOrB2CTenant, which
   * Graph is also known to answer now and then to licensed tenants): then the user is read again
   * without it, and the review shows no last sign-in rather than failing. Never used to grant.
   */
  async reviewProfile(id: string): Promise<IdpUser | undefined> {
    const userId = objectId(id, 'user');
    return this.readUser(userId, `reading the Microsoft Entra ID user ${userId} for an access review`, true);
  }

  /** One user by id (undefined when Graph has none: 404), with signInActivity when `lastSignIn` and Graph allows it. */
  private async readUser(userId: string, action: string, lastSignIn: boolean): Promise<IdpUser | undefined> {
    const properties = this.userProperties();
    let user: GraphObject;
    try {
      user = asObject(
        await this.client
          .api(`/users/${userId}`)
          .select(lastSignIn ? [...properties, 'signInActivity'] : properties)
          .get(),
      );
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      // Refused for signInActivity: once more without it (a refusal of the plain read is reported as usual).
      if (lastSignIn && statusOf(err) === 403) return this.readUser(userId, action, false);
      throw await this.failure(err, action, { userId });
    }
    if (!str(user.id)) return undefined;
    return this.toIdpUser(user, (str(user.mail) ?? str(user.userPrincipalName) ?? '').toLowerCase(), lastSignIn);
  }

  async isMember(groupId: string, userId: string): Promise<boolean> {
    const action = `checking whether user ${userId} is a member of Microsoft Entra group ${groupId}`;
    const target = { groupId, userId };
    try {
      await this.client
        .api(`/groups/${objectId(groupId, 'group')}/members/${objectId(userId, 'user')}`)
        .select('id')
        .get();
      return true;
    } catch (err) {
      if (statusOf(err) === 404 && (await this.groupExists(groupId, action))) return false;
      throw await this.failure(err, action, target);
    }
  }

  async addMember(groupId: string, userId: string): Promise<'added' | 'already_member'> {
    const action = `adding user ${userId} to Microsoft Entra group ${groupId}`;
    try {
      await this.client
        .api(`/groups/${objectId(groupId, 'group')}/members/$ref`)
        .post({ '@odata.id': `${this.graphOrigin}/v1.0/directoryObjects/${objectId(userId, 'user')}` });
      return 'added';
    } catch (err) {
      if (statusOf(err) === 400 && graphMessage(err)?.trim() === ALREADY_MEMBER) return 'already_member';
      throw await this.failure(err, action, { groupId, userId });
    }
  }

  async removeMember(groupId: string, userId: string): Promise<'removed' | 'already_absent'> {
    const action = `removing user ${userId} from Microsoft Entra group ${groupId}`;
    try {
      await this.client.api(memberRefPath(groupId, userId)).delete();
      return 'removed';
    } catch (err) {
      // Not a member (or no such user: no access either) is success, but only if the group exists:
      // a missing group is a catalog error that must not be recorded as "access removed".
      if (statusOf(err) === 404 && (await this.groupExists(groupId, action))) return 'already_absent';
      throw await this.failure(err, action, { groupId, userId });
    }
  }

  /**
   * POST /users/{id}/revokeSignInSessions (200 {"value": true}; needs the application permission
   * User.RevokeSessions.All). Graph invalidates the refresh tokens and browser session cookies issued
   * to the user, within a few minutes; access tokens already issued stay valid until they expire,
   * and a guest's sessions (held by their home tenant) are not ended.
   */
  async endSessions(id: string): Promise<'ended' | 'no_account'> {
    const userId = objectId(id, 'user');
    try {
      await this.client.api(`/users/${userId}/revokeSignInSessions`).post({});
      return 'ended';
    } catch (err) {
      if (statusOf(err) === 404) return 'no_account';
      throw await this.failure(err, `ending the Microsoft Entra ID sessions of user ${userId}`, { userId });
    }
  }

  async listGroups(): Promise<IdpGroup[]> {
    const groups = await this.call('listing groups in Microsoft Entra ID', {}, () =>
      this.all(
        this.client
          .api('/groups')
          .select(['id', 'displayName', 'groupTypes', 'isAssignableToRole', 'membershipRule', 'mailEnabled', 'securityEnabled', 'onPremisesSyncEnabled'])
          .top(999),
      ),
    );
    return groups.map((g) => ({ id: str(g.id) ?? '', name: str(g.displayName) ?? str(g.id) ?? '', manageable: manageable(g) }));
  }

  async listMembers(groupId: string): Promise<IdpMember[]> {
    const id = objectId(groupId, 'group');
    // Direct members only (the relation add and remove change), cast to users on the server: nested
    // groups, devices and service principals are not people and never come back.
    const members = await this.call(`listing the members of Microsoft Entra group ${id}`, { groupId: id }, () =>
      this.all(this.client.api(`/groups/${id}/members/microsoft.graph.user`).select(['id', 'mail', 'userPrincipalName']).top(999)),
    );
    return members.map((m) => ({ id: str(m.id) ?? '', email: (str(m.mail) ?? str(m.userPrincipalName) ?? '').toLowerCase() }));
  }

  async testConnection(): Promise<void> {
    // One group and one user: proves the secret, the token, and both read permissions.
    const action = 'testing the Microsoft Entra ID connection';
    await this.call(action, {}, () => this.client.api('/groups').select('id').top(1).get());
    await this.call(action, {}, () => this.client.api('/users').select('id').top(1).get());
  }

  /**
   * What the user lookups $select: the profile a review shows (displayName, jobTitle, department: read
   * with User.Read.All like the rest), and employeeLeaveDateTime only when asked for (Graph returns it
   * only on $select). Never signInActivity: it needs more permission and a licence (see reviewProfile).
   */
  private userProperties(): string[] {
    return [
      'id',
      'mail',
      'userPrincipalName',
      'accountEnabled',
      'displayName',
      'jobTitle',
      'department',
      ...(this.options.readEmployeeLeaveDateTime ? ['employeeLeaveDateTime'] : []),
    ];
  }

  /** `lastSignIn`: signInActivity was $selected (null there means the person never signed in interactively). */
  private async toIdpUser(user: GraphObject, email: string, lastSignIn = false): Promise<IdpUser> {
    const id = str(user.id)!;
    const endDate = this.options.readEmployeeLeaveDateTime ? str(user.employeeLeaveDateTime) : undefined;
    return {
      id,
      email,
      // Fail closed: only an account Graph reports as enabled can be granted access or approve.
      active: user.accountEnabled === true,
      managerEmail: await this.managerEmail(id, email),
      ...(endDate ? { endDate } : {}),
      ...withProfile({
        name: user.displayName,
        title: user.jobTitle,
        department: user.department,
        lastLogin: lastSignIn ? field(user.signInActivity, 'lastSignInDateTime') : undefined,
      }),
    };
  }

  private async managerEmail(userId: string, of: string): Promise<string | undefined> {
    const action = `looking up the manager of ${of} in Microsoft Entra ID`;
    try {
      const manager = asObject(
        await this.client
          .api(`/users/${objectId(userId, 'user')}/manager`)
          .select(['id', 'mail', 'userPrincipalName'])
          .get(),
      );
      return (str(manager.mail) ?? str(manager.userPrincipalName))?.toLowerCase();
    } catch (err) {
      if (statusOf(err) === 404) return undefined; // no manager set
      throw await this.failure(err, action, { userId });
    }
  }

  /** true/false for an existing/missing group; other failures are thrown, mapped. */
  private async groupExists(groupId: string, action: string): Promise<boolean> {
    try {
      await this.client
        .api(`/groups/${objectId(groupId, 'group')}`)
        .select('id')
        .get();
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw await this.failure(err, action, { groupId });
    }
  }

  /** Every item of a collection, following @odata.nextLink (only on the Graph origin the token is meant for). */
  private async all(first: GraphRequest): Promise<GraphObject[]> {
    const items: GraphObject[] = [];
    let page = asObject(await first.get());
    for (;;) {
      if (Array.isArray(page.value)) items.push(...page.value.map(asObject));
      const next = str(page['@odata.nextLink']);
      if (!next) return items;
      if (new URL(next).origin !== this.graphOrigin) {
        throw new PermanentError(
          `Microsoft Graph returned a next-page link to another host (${new URL(next).origin}); Grantline only follows links on ${this.graphOrigin}.`,
        );
      }
      page = asObject(await this.client.api(next).get());
    }
  }

  private async call<T>(action: string, target: Target, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw await this.failure(err, action, target);
    }
  }

  /** Like toDomainError, but first works out which of user/group a bare 404 on a membership call is about. */
  private async failure(err: unknown, action: string, target: Target): Promise<Error> {
    let missing: 'user' | 'group' | undefined;
    if (statusOf(err) === 404 && target.groupId && target.userId) {
      const named = graphMessage(err) ?? '';
      if (named.includes(`'${target.userId}'`)) missing = 'user';
      else if (named.includes(`'${target.groupId}'`)) missing = 'group';
      else missing = (await this.groupExists(target.groupId, action)) ? 'user' : 'group';
    }
    return toDomainError(err, action, target, this.options, missing);
  }
}

/** The one place where Graph, credential, transport and SDK failures become RetryableError or PermanentError. */
export function toDomainError(
  err: unknown,
  action: string,
  target: Target,
  where: Pick<EntraOptions, 'tenantId' | 'clientId' | 'graphBaseUrl' | 'readEmployeeLeaveDateTime'>,
  missing?: 'user' | 'group',
): Error {
  if (err instanceof RetryableError || err instanceof PermanentError) return err;
  if (err instanceof GraphClientError) {
    if (err.customError !== undefined) return credentialError(err.customError, action, where);
    return new PermanentError(`The Microsoft Graph client refused the request while ${action}: ${err.message}`, { cause: err });
  }
  const graphUrl = where.graphBaseUrl ?? 'https://graph.microsoft.com';
  const status = statusOf(err);
  const code = graphCode(err);
  const message = graphMessage(err);
  const detail = code || message ? ` (${[code, message].filter(Boolean).join(': ')})` : '';
  if (status === undefined) {
    const reason = errorMessage(err);
    if (/certificate|self[- ]signed|unable to verify|CERT_|ERR_TLS/i.test(reason)) {
      return new PermanentError(`The TLS certificate of Microsoft Graph at ${graphUrl} is not trusted (${reason}) while ${action}.`, { cause: err });
    }
    return new RetryableError(`Could not reach Microsoft Graph at ${graphUrl} while ${action}: ${reason}.`, undefined, { cause: err });
  }
  if (status === 429 || status === 503 || status === 504) {
    const retryAfterMs = retryAfterFrom(headerOf(err, 'retry-after'));
    const when = retryAfterMs === undefined ? 'shortly' : `in about ${Math.ceil(retryAfterMs / 1000)} s`;
    const what = status === 429 ? "Microsoft Graph's throttling limit was reached" : `Microsoft Graph was unavailable (HTTP ${status})`;
    return new RetryableError(`${what} while ${action}; it will be retried ${when}.`, retryAfterMs, { cause: err });
  }
  if (status >= 500) {
    return new RetryableError(`Microsoft Graph failed with HTTP ${status} while ${action}${detail}; this is usually temporary.`, undefined, { cause: err });
  }
  if (status === 401 || status === 403) {
    const refused = status === 401 ? 'credentials' : 'permission';
    return new PermanentError(
      `Microsoft Graph refused the app's ${refused} while ${action}: HTTP ${status}${detail}. The app registration ${where.clientId} in tenant ${where.tenantId} needs the application permissions ${where.readEmployeeLeaveDateTime ? PERMISSIONS_WITH_END_DATES : PERMISSIONS} with admin consent (ending a person's sessions also needs User.RevokeSessions.All, role-assignable groups RoleManagement.ReadWrite.Directory).`,
      { cause: err },
    );
  }
  if (status === 404) {
    const kind =
      missing ??
      (target.groupId !== undefined && target.userId === undefined
        ? 'group'
        : target.userId !== undefined && target.groupId === undefined
          ? 'user'
          : undefined);
    const what = kind === 'group' ? `no group with id ${target.groupId}` : kind === 'user' ? `no user with id ${target.userId}` : 'no such object';
    return new PermanentError(`Microsoft Entra ID has ${what} (found while ${action}).`, { cause: err });
  }
  if (status === 400 && message && NOT_REPLICATED.test(message)) {
    return new RetryableError(
      `Microsoft Graph does not see the group or the user yet while ${action}${detail}. This is Entra ID's replication delay after an object is created; it will be retried. If it persists, check that both still exist.`,
      undefined,
      { cause: err },
    );
  }
  return new PermanentError(`Microsoft Graph rejected the request while ${action}: HTTP ${status}${detail}.`, { cause: err });
}

/**
 * @azure/identity reports most token failures as AuthenticationRequiredError (or CredentialUnavailableError)
 * whose message starts with MSAL's error code: "invalid_client: ... AADSTS7000215: Invalid client secret
 * provided. ...", "network_error: ...". The code is all there is to tell a refusal from an outage.
 */
function credentialError(err: unknown, action: string, where: Pick<EntraOptions, 'tenantId' | 'clientId'>): Error {
  const reason = errorMessage(err);
  const oauthCode = /^([a-z_]+):/.exec(reason)?.[1];
  const statusCode = Number(field(err, 'statusCode'));
  const aadsts = /AADSTS\d+:[^.]*\./.exec(reason)?.[0];
  const summary = aadsts ?? reason.split('\n')[0];
  if ((oauthCode !== undefined && TRANSIENT_AUTH_CODES.has(oauthCode)) || statusCode === 429 || statusCode >= 500) {
    return new RetryableError(
      `Could not get an access token from the Microsoft identity platform for tenant ${where.tenantId} while ${action}: ${summary}. This is usually temporary; if it persists, check the tenant id.`,
      undefined,
      { cause: err },
    );
  }
  return new PermanentError(
    `Microsoft Entra ID refused the app's credentials (client id ${where.clientId}, tenant ${where.tenantId}) while ${action}: ${summary} Check the tenant id, the client id and the client secret (its value, not its id), and that the secret has not expired.`,
    { cause: err },
  );
}

/**
 * Retries 429, 503 and 504 as the Graph client's RetryHandler (src/middleware/RetryHandler.ts) does
 * (at most 3 times, sleeping for Retry-After in seconds or as an HTTP date, else 1 s plus
 * exponential backoff, each sleep capped at 180 s, a Retry-Attempt header on the retry), with two
 * differences. The SDK's handler has no notion of a total budget, so a "Retry-After: 120" would hold
 * a Lambda for two minutes per attempt: here a retry happens only while the waits of this request
 * stay within maxWaitMs; otherwise the 429/503/504 goes back to GraphRequest as a GraphError with
 * the response headers, and toDomainError turns it into a RetryableError carrying Retry-After for
 * the state machine. And the wait goes through the injected `sleep` (the SDK's is a private
 * setTimeout), so tests run on virtual time. Retrying writes is safe: a repeated add answers
 * "already exist", a repeated remove 404, a repeated revokeSignInSessions only moves its cut-off
 * a moment later.
 */
class BoundedRetryHandler implements Middleware {
  private next: Middleware | undefined;

  constructor(
    private readonly maxWaitMs: number,
    private readonly sleep: Sleep,
  ) {}

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    if (!this.next) throw new Error('BoundedRetryHandler is not the last middleware and has no next one.');
    let waitedMs = 0;
    for (let attempt = 1; ; attempt++) {
      await this.next.execute(context);
      const response = context.response;
      if (!response || !RETRIED_STATUSES.has(response.status) || attempt > MAX_RETRIES) return;
      const waitMs = plannedDelayMs(response.headers.get('retry-after'), attempt);
      if (waitedMs + waitMs > this.maxWaitMs) return;
      waitedMs += waitMs;
      context.options ??= {};
      const options = context.options;
      const headers = new Headers(options.headers as ConstructorParameters<typeof Headers>[0]);
      headers.set('Retry-Attempt', String(attempt));
      options.headers = headers;
      await this.sleep(waitMs);
    }
  }
}

const RETRIED_STATUSES = new Set([429, 503, 504]);
const MAX_RETRIES = 3;

/** The wait before retry number `attempt` (1-based): Retry-After, else the SDK's 1 s + exponential backoff (without its random jitter). */
function plannedDelayMs(retryAfter: string | null, attempt: number): number {
  const fromHeader = retryAfterFrom(retryAfter ?? undefined);
  const seconds = fromHeader !== undefined ? fromHeader / 1000 : (attempt >= 2 ? Math.round((2 ** attempt - 1) / 2) : 0) + 1;
  return Math.min(seconds, 180) * 1000;
}

/** Retry-After is delta-seconds or an HTTP date. */
function retryAfterFrom(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * Keeps the credential's own error for toDomainError: the Graph client rethrows a GraphClientError as
 * is, but turns any other error thrown while getting the token into a GraphError with only its message.
 */
class ReportingCredential implements TokenCredential {
  constructor(private readonly inner: TokenCredential) {}

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    try {
      return await this.inner.getToken(scopes, options);
    } catch (err) {
      const wrapped = new GraphClientError(errorMessage(err));
      wrapped.customError = err;
      throw wrapped;
    }
  }
}

/** The last middleware: sends the request with node:https (own CA and timeout) and hands back a fetch Response. */
class HttpsTransport implements Middleware {
  constructor(
    private readonly agent: Agent,
    private readonly timeoutMs: number,
  ) {}

  async execute(context: Context): Promise<void> {
    const request: unknown = context.request;
    if (typeof request !== 'string') throw new Error('The Entra connector only sends requests given as URL strings.');
    const init = context.options ?? {};
    const url = new URL(request);
    if (url.protocol !== 'https:') throw new Error(`Refusing to send a Microsoft Graph request over ${url.protocol}`);
    const headers: Record<string, string> = {};
    for (const [name, value] of new Headers(init.headers as ConstructorParameters<typeof Headers>[0])) headers[name] = value;
    const body = toBody(init.body);
    if (body !== undefined) headers['content-length'] = String(body.length);

    const options = { method: init.method ?? 'GET', headers, agent: this.agent };
    try {
      context.response = await this.send(url, options, body);
    } catch (err) {
      // A kept-alive connection the server closed while idle fails on reuse ("socket hang up"); Node's
      // documented remedy is to resend once on a fresh connection. Every call here is idempotent.
      if (!(err instanceof ReusedSocketReset)) throw err;
      context.response = await this.send(url, options, body);
    }
  }

  private send(url: URL, options: RequestOptions, body: Buffer | undefined): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) responseHeaders.append(name, one);
          }
          const status = res.statusCode ?? 502;
          const hasBody = ![204, 205, 304].includes(status);
          resolve(new Response(hasBody ? Buffer.concat(chunks) : null, { status, statusText: res.statusMessage ?? '', headers: responseHeaders }));
        });
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err: Error & { code?: string }) => reject(req.reusedSocket && err.code === 'ECONNRESET' ? new ReusedSocketReset(err) : err));
      req.end(body);
    });
  }
}

class ReusedSocketReset extends Error {
  constructor(cause: Error) {
    super(cause.message, { cause });
  }
}

function toBody(body: unknown): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body);
  throw new Error('The Entra connector only sends string or binary request bodies.');
}

/** THE removal path. Without the trailing /$ref Graph deletes the user object itself. */
function memberRefPath(groupId: string, userId: string): string {
  return `/groups/${objectId(groupId, 'group')}/members/${objectId(userId, 'user')}/$ref`;
}

function objectId(value: string, what: 'user' | 'group'): string {
  if (GUID.test(value)) return value;
  throw new PermanentError(`"${value}" is not a Microsoft Entra ${what} object id (a GUID), so it is not sent to Microsoft Graph.`);
}

/** Graph can change members only of non-dynamic security and Microsoft 365 groups mastered in the cloud, and role-assignable ones need more permission. */
function manageable(group: GraphObject): boolean {
  const types = Array.isArray(group.groupTypes) ? group.groupTypes : [];
  if (types.includes('DynamicMembership')) return false;
  if (group.isAssignableToRole === true) return false;
  if (group.onPremisesSyncEnabled === true) return false; // members are mastered in on-premises AD
  // Mail-enabled security groups and distribution lists are managed in Exchange Online.
  if (group.mailEnabled === true && !types.includes('Unified')) return false;
  return true;
}

/** The account the email names: its mail first, else its sign-in name; ambiguity is refused. */
function pickUser(found: GraphObject[], email: string): GraphObject | undefined {
  const withId = found.filter((u) => str(u.id));
  const byMail = withId.filter((u) => str(u.mail)?.toLowerCase() === email);
  const pool = byMail.length > 0 ? byMail : withId.filter((u) => str(u.userPrincipalName)?.toLowerCase() === email);
  if (pool.length <= 1) return pool[0];
  const enabled = pool.filter((u) => u.accountEnabled === true);
  if (enabled.length === 1) return enabled[0];
  throw new PermanentError(
    `Microsoft Entra ID has ${pool.length} accounts with the email ${email} (${pool.map((u) => str(u.id)).join(', ')}), so the person cannot be identified safely. Ask an Entra admin to make the email unique.`,
  );
}

function asObject(value: unknown): GraphObject {
  return typeof value === 'object' && value !== null ? (value as GraphObject) : {};
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** GraphError.statusCode; -1 (or absent) means no HTTP answer at all. */
function statusOf(err: unknown): number | undefined {
  const status = Number(field(err, 'statusCode'));
  return Number.isInteger(status) && status >= 100 ? status : undefined;
}

function graphCode(err: unknown): string | undefined {
  const code = field(err, 'code');
  return typeof code === 'string' && code !== '' && code !== 'Error' ? code : undefined;
}

function graphMessage(err: unknown): string | undefined {
  const message = field(err, 'message');
  return typeof message === 'string' && message !== '' ? message : undefined;
}

function headerOf(err: unknown, name: string): string | undefined {
  const headers = field(err, 'headers');
  return headers instanceof Headers ? (headers.get(name) ?? undefined) : undefined;
}
