/**
 * Simulated Microsoft Entra ID: the Microsoft Graph v1.0 endpoints the Entra connector uses (users,
 * managers, sign-in session revocation, groups, group membership by $ref) and the Microsoft identity
 * platform token endpoint (client credentials) with its OpenID metadata, so the real
 * @microsoft/microsoft-graph-client and @azure/identity talk to it unchanged.
 *
 * It serves HTTPS with the self-signed test certificate in ./certs (the Graph client only sends the
 * bearer token over https): clients trust it through the connector's `ca` option, never globally.
 * Answers use Graph's JSON shapes, OData envelopes and error bodies; every Graph call checks the
 * bearer token (401 InvalidAuthenticationToken) and the app's application permissions (403).
 * A user's signInActivity comes back only when $select names it, and only to an app holding
 * AuditLog.Read.All in a tenant licensed for it (Microsoft Entra ID P1/P2); otherwise the whole read
 * is refused with 403, as Graph does (signInActivityLicensed: false plays an unlicensed tenant).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HttpFake, type FakeRequest, type FakeResponse, type RouteHandler } from './http-fake.js';

export interface FakeGraphOptions {
  port?: number;
  tenantId?: string;
  clientId?: string;
  clientSecret?: string;
  /** Application permissions granted to the app (the token's roles). Default: GroupMember.ReadWrite.All, User.Read.All, User.RevokeSessions.All, AuditLog.Read.All. */
  permissions?: string[];
  /**
   * Whether the tenant has the Microsoft Entra ID P1/P2 licence that reading signInActivity needs.
   * Default true; false: a read that $selects it answers 403 Authentication_RequestFromNonPremiumTenantOrB2CTenant.
   */
  signInActivityLicensed?: boolean;
  /** Largest page returned whatever $top asks for (to exercise @odata.nextLink paging). Default 999, Graph's maximum. */
  maxPageSize?: number;
  /** The clock replication delays are measured on (tests pass virtual time). Default Date.now. */
  now?: () => number;
}

export interface FakeGraphUserInput {
  mail: string;
  accountEnabled?: boolean;
  /** Id of another user: the manager. */
  managerId?: string;
  /** Defaults to the mail. */
  userPrincipalName?: string;
  displayName?: string;
  jobTitle?: string;
  department?: string;
  /** When the person leaves the organization (ISO-8601, UTC), e.g. '2026-03-31T23:59:59Z'. */
  employeeLeaveDateTime?: string;
  /** The person's last interactive sign-in (ISO-8601, UTC): signInActivity.lastSignInDateTime. Default: never (signInActivity null). */
  lastSignInDateTime?: string;
  id?: string;
}

export type FakeGraphGroupKind = 'security' | 'microsoft365' | 'mailEnabledSecurity' | 'distribution';

export interface FakeGraphGroupInput {
  /** Must be a GUID, as every Entra object id is. */
  id?: string;
  displayName: string;
  /** Membership computed from a rule (groupTypes DynamicMembership): members cannot be changed by hand. */
  dynamic?: boolean;
  /** isAssignableToRole: changing members also needs RoleManagement.ReadWrite.Directory. */
  roleAssignable?: boolean;
  /** Default 'security'. Mail-enabled security groups and distribution lists are managed in Exchange, not Graph. */
  kind?: FakeGraphGroupKind;
  /** Synchronised from on-premises Active Directory: members are mastered there. */
  onPremisesSynced?: boolean;
  /**
   * For this long after addGroup, adding members answers Graph's documented replication-delay error
   * (400 "The source resource object or one of the objects being referenced do not exist.").
   */
  replicationDelayMs?: number;
}

export interface FakeGraphConnectorOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  graphBaseUrl: string;
  authorityHost: string;
  /** PEM of the fake's self-signed certificate, for the connector to trust. */
  ca: string;
}

export interface FakeGraph {
  /** https://127.0.0.1:{port}: both the Graph base URL and the authority host. */
  url: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** PEM certificate the fake serves. */
  ca: string;
  fake: HttpFake;
  addUser(user: FakeGraphUserInput): string;
  addGroup(group: FakeGraphGroupInput): string;
  /** Mails (lowercase) of the group's direct members; [] for an unknown group. */
  members(groupId: string): string[];
  addMembership(groupId: string, mail: string): void;
  /**
   * Enables or disables an account. With `staleSearch`, the filtered user list (GET /v1.0/users) keeps
   * answering the account as before until settleSearch(), as a lagging replica would; GET
   * /v1.0/users/{id} answers the new state at once.
   */
  setAccountEnabled(userId: string, enabled: boolean, opts?: { staleSearch?: boolean }): void;
  /** Sets (or clears, null) a user's employeeLeaveDateTime, as HR provisioning or an admin would. */
  setEmployeeLeaveDateTime(userId: string, value: string | null): void;
  /** Sets when the user given by id, userPrincipalName or mail last signed in interactively (ISO-8601), or null: never. */
  setLastLogin(userKey: string, at: string | null): void;
  /** Every replica catches up: the user list answers every account as it is now. */
  settleSearch(): void;
  /** false once the user object was deleted (e.g. by a DELETE on /groups/{g}/members/{u} without /$ref). */
  hasUser(userId: string): boolean;
  /** How many access tokens the token endpoint issued. */
  tokensIssued(): number;
  /** When (ISO-8601) POST /v1.0/users/{id}/revokeSignInSessions revoked the sessions of the user given by id or userPrincipalName, oldest first. */
  sessionsEnded(userIdOrUpn: string): string[];
  connectorOptions(): FakeGraphConnectorOptions;
  close(): Promise<void>;
}

interface UserRecord {
  id: string;
  mail: string;
  userPrincipalName: string;
  displayName: string;
  accountEnabled: boolean;
  managerId?: string;
  employeeLeaveDateTime?: string;
  jobTitle?: string;
  department?: string;
  lastSignInDateTime?: string;
}

interface GroupRecord {
  id: string;
  displayName: string;
  groupTypes: string[];
  isAssignableToRole: boolean;
  membershipRule: string | null;
  mailEnabled: boolean;
  securityEnabled: boolean;
  onPremisesSyncEnabled: boolean | null;
  replicatedAt: number;
  members: Set<string>;
}

const DEFAULT_PERMISSIONS = ['GroupMember.ReadWrite.All', 'User.Read.All', 'User.RevokeSessions.All', 'AuditLog.Read.All'];
const READ_USERS = ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];
const READ_GROUPS = [
  'GroupMember.Read.All',
  'GroupMember.ReadWrite.All',
  'Group.Read.All',
  'Group.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
];
const WRITE_MEMBERS = ['GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Directory.ReadWrite.All'];
const ROLE_GROUP_WRITE = 'RoleManagement.ReadWrite.Directory';
/** revokeSignInSessions: Graph documents no higher-privileged application permission that also allows it. */
const REVOKE_SESSIONS = ['User.RevokeSessions.All'];
/** Reading employeeLeaveDateTime needs one of these (Graph's user resource: "To read this property, the calling app must be assigned the User-LifeCycleInfo.Read.All permission"). */
const READ_LIFECYCLE = ['User-LifeCycleInfo.Read.All', 'User-LifeCycleInfo.ReadWrite.All'];
/** Reading signInActivity needs AuditLog.Read.All besides a permission to read users (Graph's user resource and signInActivity pages). */
const READ_SIGN_IN_ACTIVITY = 'AuditLog.Read.All';
/** Graph's 403 to a read of sign-in data in a tenant without Microsoft Entra ID P1/P2. */
export const GRAPH_NON_PREMIUM = {
  code: 'Authentication_RequestFromNonPremiumTenantOrB2CTenant',
  message: "Neither tenant is B2C or tenant doesn't have premium license",
};
const MAX_TOP = 999;
const DEFAULT_TOP = 100;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Graph's answer when a $ref add names an object that is already a member. */
export const GRAPH_ALREADY_MEMBER_MESSAGE = "One or more added object references already exist for the following modified properties: 'members'.";
/** Graph's documented answer while a newly created group has not replicated yet. */
export const GRAPH_REPLICATION_DELAY_MESSAGE = 'The source resource object or one of the objects being referenced do not exist.';

const USER_DEFAULT_PROPS = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
];

export async function startFakeGraph(opts: FakeGraphOptions = {}): Promise<FakeGraph> {
  const cert = readFileSync(new URL('./certs/graph-localhost.crt', import.meta.url), 'utf8');
  const key = readFileSync(new URL('./certs/graph-localhost.key', import.meta.url), 'utf8');
  const tenantId = opts.tenantId ?? randomUUID();
  const clientId = opts.clientId ?? randomUUID();
  const clientSecret = opts.clientSecret ?? `sandbox~${randomUUID()}`;
  const permissions = opts.permissions ?? DEFAULT_PERMISSIONS;
  const signInActivityLicensed = opts.signInActivityLicensed ?? true;
  const maxPageSize = opts.maxPageSize ?? MAX_TOP;
  const now = opts.now ?? Date.now;
  const fake = new HttpFake('graph');
  const users = new Map<string, UserRecord>();
  const groups = new Map<string, GroupRecord>();
  /** What the user list still answers for an account whose change it has not caught up with. */
  const staleIndex = new Map<string, UserRecord>();
  const tokens = new Map<string, { expiresAt: number; roles: string[] }>();
  let issued = 0;
  /** When each user's sessions were revoked, by user id. */
  const revokedSessions = new Map<string, string[]>();

  const userById = (key: string) => users.get(key.toLowerCase()) ?? [...users.values()].find((u) => u.userPrincipalName.toLowerCase() === key.toLowerCase());
  const userByMail = (mail: string) => [...users.values()].find((u) => u.mail.toLowerCase() === mail.toLowerCase());

  /**
   * A user as Graph answers it. employeeLeaveDateTime is not among the default properties (USER_DEFAULT_PROPS):
   * it comes back only when $select names it. Graph documents that reading it needs User-LifeCycleInfo.Read.All
   * but not how a call without it is answered; the sandbox answers null then, the quiet case in which a
   * missing permission looks like "no end date" (docs/okta-setup.md and the README say to grant it).
   */
  const userJson = (u: UserRecord, roles: string[] = []): Record<string, unknown> => {
    const [given = u.displayName, ...rest] = u.displayName.split(' ');
    return {
      id: u.id,
      businessPhones: [],
      displayName: u.displayName,
      givenName: given,
      surname: rest.join(' ') || null,
      jobTitle: u.jobTitle ?? null,
      department: u.department ?? null,
      mail: u.mail,
      mobilePhone: null,
      officeLocation: null,
      preferredLanguage: null,
      userPrincipalName: u.userPrincipalName,
      accountEnabled: u.accountEnabled,
      employeeLeaveDateTime: READ_LIFECYCLE.some((p) => roles.includes(p)) ? (u.employeeLeaveDateTime ?? null) : null,
    };
  };
  const selectsSignInActivity = (req: FakeRequest) =>
    (req.query.get('$select') ?? '')
      .split(',')
      .map((p) => p.trim())
      .includes('signInActivity');
  /** The 403 Graph answers a whole user read with when it $selects signInActivity and the app may not read it. */
  const signInActivityRefused = (req: FakeRequest, roles: string[]): FakeResponse | undefined => {
    if (!selectsSignInActivity(req)) return undefined;
    if (!roles.includes(READ_SIGN_IN_ACTIVITY)) return denied();
    if (!signInActivityLicensed) return graphError(403, GRAPH_NON_PREMIUM.code, GRAPH_NON_PREMIUM.message);
    return undefined;
  };
  /** A user read by /users or /users/{id} (not refused): with signInActivity when $select names it, null for a person who never signed in. */
  const userReadJson = (req: FakeRequest, u: UserRecord, roles: string[]): Record<string, unknown> => {
    if (!selectsSignInActivity(req)) return selected(req, userJson(u, roles), USER_DEFAULT_PROPS);
    const signInActivity = u.lastSignInDateTime
      ? {
          lastSignInDateTime: u.lastSignInDateTime,
          lastSignInRequestId: randomUUID(),
          lastNonInteractiveSignInDateTime: u.lastSignInDateTime,
          lastNonInteractiveSignInRequestId: randomUUID(),
          lastSuccessfulSignInDateTime: u.lastSignInDateTime,
          lastSuccessfulSignInRequestId: randomUUID(),
        }
      : null;
    return selected(req, { ...userJson(u, roles), signInActivity }, USER_DEFAULT_PROPS);
  };
  const groupJson = (g: GroupRecord): Record<string, unknown> => ({
    id: g.id,
    displayName: g.displayName,
    description: null,
    groupTypes: g.groupTypes,
    isAssignableToRole: g.isAssignableToRole,
    mailEnabled: g.mailEnabled,
    securityEnabled: g.securityEnabled,
    membershipRule: g.membershipRule,
    membershipRuleProcessingState: g.membershipRule ? 'On' : null,
    onPremisesSyncEnabled: g.onPremisesSyncEnabled,
    mailNickname: g.displayName.replace(/[^A-Za-z0-9]/g, '').toLowerCase() || g.id.slice(0, 8),
  });

  /** $select as Graph applies it: only the named properties (an unknown name is a 400). */
  const selected = (req: FakeRequest, json: Record<string, unknown>, defaults?: string[]): Record<string, unknown> => {
    const select = req.query.get('$select');
    const props = select
      ? select
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean)
      : (defaults ?? Object.keys(json));
    const out: Record<string, unknown> = {};
    for (const prop of props) {
      if (!(prop in json))
        throw new GraphAnswer(graphError(400, 'Request_BadRequest', `Could not find a property named '${prop}' on type 'microsoft.graph.directoryObject'.`));
      out[prop] = json[prop];
    }
    return out;
  };
  const context = (entitySet: string, req: FakeRequest) => {
    const select = req.query.get('$select');
    return `${fake.url}/v1.0/$metadata#${entitySet}${select ? `(${select})` : ''}`;
  };

  /** Graph's server-driven paging: $top, then an opaque $skiptoken in @odata.nextLink. */
  const page = (req: FakeRequest, entitySet: string, items: Array<Record<string, unknown>>): FakeResponse => {
    const asked = Number(req.query.get('$top') ?? DEFAULT_TOP);
    if (!Number.isInteger(asked) || asked < 1 || asked > MAX_TOP) {
      return graphError(400, 'Request_BadRequest', `Invalid page size specified: '${req.query.get('$top')}'. Must be between 1 and ${MAX_TOP} inclusive.`);
    }
    const top = Math.min(asked, maxPageSize);
    const skipToken = req.query.get('$skiptoken');
    const start = skipToken
      ? Number(
          Buffer.from(skipToken, 'base64url')
            .toString('utf8')
            .replace(/^offset:/, ''),
        )
      : 0;
    if (!Number.isInteger(start) || start < 0) return graphError(400, 'Request_BadRequest', 'Invalid skip token.');
    const body: Record<string, unknown> = { '@odata.context': context(entitySet, req), value: items.slice(start, start + top) };
    if (start + top < items.length) {
      const params: string[] = [];
      for (const [k, v] of req.query) if (k !== '$skiptoken') params.push(`${k}=${encodeURIComponent(v)}`);
      params.push(`$skiptoken=${Buffer.from(`offset:${start + top}`).toString('base64url')}`);
      body['@odata.nextLink'] = `${fake.url}${req.path}?${params.join('&')}`;
    }
    return { status: 200, body };
  };

  const notFound = (id: string) =>
    graphError(404, 'Request_ResourceNotFound', `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`);
  const denied = () => graphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');

  /** Bearer token and application permission check around every Graph route. */
  const graph =
    (need: string[], handler: (req: FakeRequest, roles: string[]) => FakeResponse | Promise<FakeResponse>): RouteHandler =>
    async (req) => {
      const auth = req.headers.authorization ?? '';
      const bearer = /^Bearer (.+)$/i.exec(auth)?.[1];
      let res: FakeResponse;
      if (!bearer) res = graphError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
      else {
        const token = tokens.get(bearer);
        if (!token) res = graphError(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
        else if (token.expiresAt <= Date.now()) res = graphError(401, 'InvalidAuthenticationToken', 'Lifetime validation failed, the token is expired.');
        else if (!need.some((p) => token.roles.includes(p))) res = denied();
        else {
          try {
            res = await handler(req, token.roles);
          } catch (err) {
            if (!(err instanceof GraphAnswer)) throw err;
            res = err.response;
          }
        }
      }
      const requestId = randomUUID();
      return {
        ...res,
        headers: {
          'request-id': requestId,
          'client-request-id': String(req.headers['client-request-id'] ?? requestId),
          'x-ms-ags-diagnostic': JSON.stringify({ ServerInfo: { DataCenter: 'Sandbox', Slice: 'E', Ring: '0', ScaleUnit: '000', RoleInstance: 'fake' } }),
          ...(res.body !== undefined
            ? { 'content-type': 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8' }
            : {}),
          ...res.headers,
        },
      };
    };

  /** Shared checks of membership writes; the groups Graph cannot change answer as Graph does. */
  const writableGroup = (groupId: string, roles: string[]): GroupRecord | FakeResponse => {
    const group = groups.get(groupId.toLowerCase());
    if (!group) return notFound(groupId);
    if (group.isAssignableToRole && !roles.includes(ROLE_GROUP_WRITE)) return denied();
    if (group.onPremisesSyncEnabled) {
      return graphError(
        400,
        'Request_BadRequest',
        'Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.',
      );
    }
    if (group.mailEnabled && !group.groupTypes.includes('Unified')) {
      return graphError(400, 'Request_BadRequest', 'Cannot Update a mail-enabled security groups and or distribution list.');
    }
    if (group.groupTypes.includes('DynamicMembership')) {
      // Graph refuses manual changes to dynamic groups; the exact wording is not documented.
      return graphError(
        400,
        'Request_BadRequest',
        'Insufficient privileges to complete the operation. The group has dynamic membership: members cannot be added or removed manually.',
      );
    }
    return group;
  };

  fake
    // ------------------------------------------------------------ Microsoft identity platform
    .route('GET', '/:tenant/v2.0/.well-known/openid-configuration', (req) => {
      const tenant = req.params.tenant ?? '';
      if (tenant.toLowerCase() !== tenantId.toLowerCase())
        return aadError(
          400,
          'invalid_tenant',
          90002,
          `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
        );
      const base = `${fake.url}/${tenantId}`;
      return {
        status: 200,
        body: {
          token_endpoint: `${base}/oauth2/v2.0/token`,
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
          jwks_uri: `${fake.url}/${tenantId}/discovery/v2.0/keys`,
          response_modes_supported: ['query', 'fragment', 'form_post'],
          subject_types_supported: ['pairwise'],
          id_token_signing_alg_values_supported: ['RS256'],
          response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
          scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
          issuer: `${fake.url}/${tenantId}/v2.0`,
          request_uri_parameter_supported: false,
          userinfo_endpoint: `${fake.url}/oidc/userinfo`,
          authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
          device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
          http_logout_supported: true,
          frontchannel_logout_supported: true,
          end_session_endpoint: `${base}/oauth2/v2.0/logout`,
          claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'tid'],
          kerberos_endpoint: `${base}/kerberos`,
          tenant_region_scope: 'EU',
          cloud_instance_name: 'microsoftonline.com',
          cloud_graph_host_name: 'graph.windows.net',
          msgraph_host: 'graph.microsoft.com',
        },
      };
    })
    .route('POST', '/:tenant/oauth2/v2.0/token', (req) => {
      const tenant = req.params.tenant ?? '';
      const form = (typeof req.body === 'object' && req.body !== null ? req.body : {}) as Record<string, string>;
      if (tenant.toLowerCase() !== tenantId.toLowerCase()) {
        return aadError(
          400,
          'invalid_request',
          90002,
          `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
        );
      }
      if (form.grant_type !== 'client_credentials') {
        return aadError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${form.grant_type ?? ''}'.`);
      }
      if (form.client_id !== clientId) {
        return aadError(
          400,
          'unauthorized_client',
          700016,
          `Application with identifier '${form.client_id ?? ''}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
        );
      }
      if (form.client_secret !== clientSecret) {
        return aadError(
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
        );
      }
      // This fake is its own cloud (as a sovereign one is): tokens are for its own Graph root.
      if (!(form.scope ?? '').split(' ').includes(`${fake.url}/.default`)) {
        return aadError(
          400,
          'invalid_scope',
          1002012,
          `The provided value for scope ${form.scope ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
        );
      }
      const expiresIn = 3599;
      const access = jwtLike({
        aud: fake.url,
        tid: tenantId,
        appid: clientId,
        roles: permissions,
        exp: Math.floor(Date.now() / 1000) + expiresIn,
      });
      tokens.set(access, { expiresAt: Date.now() + expiresIn * 1000, roles: [...permissions] });
      issued += 1;
      return {
        status: 200,
        headers: { 'cache-control': 'no-store, no-cache' },
        body: { token_type: 'Bearer', expires_in: expiresIn, ext_expires_in: expiresIn, access_token: access },
      };
    })
    // ------------------------------------------------------------ Graph: users
    .route(
      'GET',
      '/v1.0/users',
      graph(READ_USERS, (req, roles) => {
        const refused = signInActivityRefused(req, roles);
        if (refused) return refused;
        let list = [...users.values()].map((u) => staleIndex.get(u.id) ?? u);
        const filter = req.query.get('$filter');
        if (filter) {
          const matcher = compileFilter(filter);
          if (!matcher) return graphError(400, 'Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified: '${filter}'.`);
          list = list.filter((u) => matcher(userJson(u)));
        }
        return page(
          req,
          'users',
          list.map((u) => userReadJson(req, u, roles)),
        );
      }),
    )
    .route(
      'GET',
      '/v1.0/users/:userId',
      graph(READ_USERS, (req, roles) => {
        const refused = signInActivityRefused(req, roles);
        if (refused) return refused;
        const user = userById(req.params.userId ?? '');
        if (!user) return notFound(req.params.userId ?? '');
        // Graph gives signInActivity for an object id only; by userPrincipalName it answers 400 (the wording here is the sandbox's).
        if (user.id !== (req.params.userId ?? '').toLowerCase() && selectsSignInActivity(req)) {
          return graphError(400, 'Request_BadRequest', 'signInActivity can only be read with the user object id as the key.');
        }
        const json = userReadJson(req, user, roles);
        return { status: 200, body: { '@odata.context': `${fake.url}/v1.0/$metadata#users/$entity`, ...json } };
      }),
    )
    .route(
      'GET',
      '/v1.0/users/:userId/manager',
      graph(READ_USERS, (req) => {
        const user = userById(req.params.userId ?? '');
        if (!user) return notFound(req.params.userId ?? '');
        const manager = user.managerId ? users.get(user.managerId.toLowerCase()) : undefined;
        if (!manager) return notFound('manager');
        const json = selected(req, userJson(manager), USER_DEFAULT_PROPS);
        return {
          status: 200,
          body: { '@odata.context': `${fake.url}/v1.0/$metadata#directoryObjects/$entity`, '@odata.type': '#microsoft.graph.user', ...json },
        };
      }),
    )
    .route(
      'POST',
      '/v1.0/users/:userId/revokeSignInSessions',
      graph(REVOKE_SESSIONS, (req) => {
        const user = userById(req.params.userId ?? '');
        if (!user) return notFound(req.params.userId ?? '');
        revokedSessions.set(user.id, [...(revokedSessions.get(user.id) ?? []), new Date().toISOString()]);
        return { status: 200, body: { '@odata.context': `${fake.url}/v1.0/$metadata#Edm.Boolean`, value: true } };
      }),
    )
    .route(
      'DELETE',
      '/v1.0/users/:userId',
      graph(['User.ReadWrite.All', 'Directory.ReadWrite.All'], (req) => {
        const user = userById(req.params.userId ?? '');
        if (!user) return notFound(req.params.userId ?? '');
        deleteUser(user.id);
        return { status: 204 };
      }),
    )
    // ------------------------------------------------------------ Graph: groups
    .route(
      'GET',
      '/v1.0/groups',
      graph(READ_GROUPS, (req) => {
        if (req.query.get('$filter')) return graphError(400, 'Request_UnsupportedQuery', 'The sandbox does not support $filter on groups.');
        return page(
          req,
          'groups',
          [...groups.values()].map((g) => selected(req, groupJson(g))),
        );
      }),
    )
    .route(
      'GET',
      '/v1.0/groups/:groupId',
      graph(READ_GROUPS, (req) => {
        const group = groups.get((req.params.groupId ?? '').toLowerCase());
        if (!group) return notFound(req.params.groupId ?? '');
        const json = selected(req, groupJson(group));
        return { status: 200, body: { '@odata.context': `${fake.url}/v1.0/$metadata#groups/$entity`, ...json } };
      }),
    )
    .route(
      'GET',
      '/v1.0/groups/:groupId/members',
      graph(READ_GROUPS, (req) => {
        const group = groups.get((req.params.groupId ?? '').toLowerCase());
        if (!group) return notFound(req.params.groupId ?? '');
        const members = [...group.members].map((id) => users.get(id)).filter((u): u is NonNullable<typeof u> => u !== undefined);
        return page(
          req,
          'directoryObjects',
          members.map((u) => ({ '@odata.type': '#microsoft.graph.user', ...selected(req, userJson(u), USER_DEFAULT_PROPS) })),
        );
      }),
    )
    // The OData cast of the members collection: only the members that are users (registered before
    // /members/:memberId, which would otherwise take "microsoft.graph.user" for a member id).
    .route(
      'GET',
      '/v1.0/groups/:groupId/members/microsoft.graph.user',
      graph(READ_GROUPS, (req) => {
        const group = groups.get((req.params.groupId ?? '').toLowerCase());
        if (!group) return notFound(req.params.groupId ?? '');
        const members = [...group.members].map((id) => users.get(id)).filter((u): u is NonNullable<typeof u> => u !== undefined);
        return page(
          req,
          'users',
          members.map((u) => selected(req, userJson(u), USER_DEFAULT_PROPS)),
        );
      }),
    )
    .route(
      'GET',
      '/v1.0/groups/:groupId/members/:memberId',
      graph(READ_GROUPS, (req) => {
        const group = groups.get((req.params.groupId ?? '').toLowerCase());
        if (!group) return notFound(req.params.groupId ?? '');
        const memberId = (req.params.memberId ?? '').toLowerCase();
        const user = group.members.has(memberId) ? users.get(memberId) : undefined;
        if (!user) return notFound(req.params.memberId ?? '');
        const json = selected(req, userJson(user), USER_DEFAULT_PROPS);
        return {
          status: 200,
          body: { '@odata.context': `${fake.url}/v1.0/$metadata#directoryObjects/$entity`, '@odata.type': '#microsoft.graph.user', ...json },
        };
      }),
    )
    .route(
      'POST',
      '/v1.0/groups/:groupId/members/$ref',
      graph(WRITE_MEMBERS, (req, roles) => {
        const group = writableGroup(req.params.groupId ?? '', roles);
        if ('status' in group) return group;
        const ref = typeof req.body === 'object' && req.body !== null ? (req.body as Record<string, unknown>)['@odata.id'] : undefined;
        const memberId = typeof ref === 'string' ? /\/v1\.0\/(?:directoryObjects|users)\/([^/?#]+)$/.exec(ref)?.[1] : undefined;
        if (!memberId) return graphError(400, 'Request_BadRequest', 'Invalid URL format specified in payload.');
        if (now() < group.replicatedAt) return graphError(400, 'Request_BadRequest', GRAPH_REPLICATION_DELAY_MESSAGE);
        const user = users.get(memberId.toLowerCase());
        if (!user) return notFound(memberId);
        if (group.members.has(user.id)) return graphError(400, 'Request_BadRequest', GRAPH_ALREADY_MEMBER_MESSAGE);
        group.members.add(user.id);
        return { status: 204 };
      }),
    )
    .route(
      'DELETE',
      '/v1.0/groups/:groupId/members/:memberId/$ref',
      graph(WRITE_MEMBERS, (req, roles) => {
        const group = writableGroup(req.params.groupId ?? '', roles);
        if ('status' in group) return group;
        const memberId = (req.params.memberId ?? '').toLowerCase();
        // Not a member and no such user get the same answer: 404 Request_ResourceNotFound naming the member.
        if (!group.members.delete(memberId)) return notFound(req.params.memberId ?? '');
        return { status: 204 };
      }),
    )
    .route(
      'DELETE',
      '/v1.0/groups/:groupId/members/:memberId',
      graph(WRITE_MEMBERS, (req) => {
        // The documented trap: without /$ref Graph addresses the member object itself and DELETES THE USER.
        // (The fake does not ask for User.ReadWrite.All here, so a connector using this path is caught in tests.)
        const group = groups.get((req.params.groupId ?? '').toLowerCase());
        if (!group) return notFound(req.params.groupId ?? '');
        const memberId = (req.params.memberId ?? '').toLowerCase();
        if (!group.members.has(memberId)) return notFound(req.params.memberId ?? '');
        deleteUser(memberId);
        return { status: 204 };
      }),
    )
    .route(
      'GET',
      '/v1.0/organization',
      graph(['Organization.Read.All', 'Directory.Read.All', 'User.Read.All'], (req) =>
        page(req, 'organization', [{ id: tenantId, displayName: 'Grantline Sandbox', verifiedDomains: [{ name: 'example.com', isDefault: true }] }]),
      ),
    );

  function deleteUser(id: string): void {
    users.delete(id);
    staleIndex.delete(id);
    for (const g of groups.values()) g.members.delete(id);
  }

  await fake.listen(opts.port ?? 0, '127.0.0.1', { tls: { cert, key } });

  return {
    url: fake.url,
    tenantId,
    clientId,
    clientSecret,
    ca: cert,
    fake,
    addUser(input) {
      const mail = input.mail.trim();
      const upn = input.userPrincipalName ?? mail;
      if (userById(upn)) throw new Error(`fake Graph: userPrincipalName ${upn} is taken (it is unique in Entra ID)`);
      const id = (input.id ?? randomUUID()).toLowerCase();
      if (!GUID.test(id)) throw new Error(`fake Graph: user id ${id} is not a GUID`);
      const local = mail.split('@')[0] ?? mail;
      users.set(id, {
        id,
        mail,
        userPrincipalName: upn,
        displayName: input.displayName ?? local.split(/[._-]/).map(capitalise).join(' '),
        accountEnabled: input.accountEnabled ?? true,
        ...(input.managerId ? { managerId: input.managerId.toLowerCase() } : {}),
        ...(input.employeeLeaveDateTime ? { employeeLeaveDateTime: input.employeeLeaveDateTime } : {}),
        ...(input.jobTitle ? { jobTitle: input.jobTitle } : {}),
        ...(input.department ? { department: input.department } : {}),
        ...(input.lastSignInDateTime ? { lastSignInDateTime: input.lastSignInDateTime } : {}),
      });
      return id;
    },
    addGroup(input) {
      const id = (input.id ?? randomUUID()).toLowerCase();
      if (!GUID.test(id)) throw new Error(`fake Graph: group id ${id} is not a GUID`);
      const kind = input.kind ?? 'security';
      const groupTypes = [...(kind === 'microsoft365' ? ['Unified'] : []), ...(input.dynamic ? ['DynamicMembership'] : [])];
      groups.set(id, {
        id,
        displayName: input.displayName,
        groupTypes,
        isAssignableToRole: input.roleAssignable ?? false,
        membershipRule: input.dynamic ? '(user.department -eq "Engineering")' : null,
        mailEnabled: kind !== 'security',
        securityEnabled: kind === 'security' || kind === 'mailEnabledSecurity',
        onPremisesSyncEnabled: input.onPremisesSynced ? true : null,
        replicatedAt: now() + (input.replicationDelayMs ?? 0),
        members: new Set(),
      });
      return id;
    },
    members(groupId) {
      const group = groups.get(groupId.toLowerCase());
      if (!group) return [];
      return [...group.members].map((id) => users.get(id)?.mail.toLowerCase() ?? id);
    },
    addMembership(groupId, mail) {
      const group = groups.get(groupId.toLowerCase());
      const user = userByMail(mail);
      if (!group || !user) throw new Error(`fake Graph: cannot add ${mail} to ${groupId}: unknown ${group ? 'user' : 'group'}`);
      group.members.add(user.id);
    },
    setAccountEnabled(userId, enabled, { staleSearch = false } = {}) {
      const user = users.get(userId.toLowerCase());
      if (!user) throw new Error(`fake Graph: no user ${userId}`);
      if (staleSearch && !staleIndex.has(user.id)) staleIndex.set(user.id, { ...user });
      user.accountEnabled = enabled;
    },
    setEmployeeLeaveDateTime(userId, value) {
      const user = users.get(userId.toLowerCase());
      if (!user) throw new Error(`fake Graph: no user ${userId}`);
      if (value === null) delete user.employeeLeaveDateTime;
      else user.employeeLeaveDateTime = value;
    },
    setLastLogin(key, at) {
      const user = userById(key) ?? userByMail(key);
      if (!user) throw new Error(`fake Graph: no user ${key}`);
      if (at === null) delete user.lastSignInDateTime;
      else user.lastSignInDateTime = at;
    },
    settleSearch: () => staleIndex.clear(),
    hasUser: (userId) => users.has(userId.toLowerCase()),
    tokensIssued: () => issued,
    sessionsEnded(key) {
      const user = userById(key);
      return user ? [...(revokedSessions.get(user.id) ?? [])] : [];
    },
    connectorOptions: () => ({ tenantId, clientId, clientSecret, graphBaseUrl: fake.url, authorityHost: fake.url, ca: cert }),
    close: () => fake.close(),
  };
}

/** Thrown inside a route to answer with a Graph error (e.g. a bad $select deep in a helper). */
class GraphAnswer extends Error {
  constructor(readonly response: FakeResponse) {
    super(`graph answer ${response.status}`);
  }
}

/** A Graph error body: {"error":{"code","message","innerError":{date,request-id,client-request-id}}}. */
export function graphError(status: number, code: string, message: string): FakeResponse {
  const requestId = randomUUID();
  return {
    status,
    body: { error: { code, message, innerError: { date: new Date().toISOString().slice(0, 19), 'request-id': requestId, 'client-request-id': requestId } } },
  };
}

/** A Microsoft identity platform OAuth error body. */
function aadError(status: number, error: string, code: number, description: string): FakeResponse {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}

/** An unsigned token shaped like Entra's access tokens (header.payload.signature); only the fake reads it. */
function jwtLike(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ typ: 'JWT', alg: 'RS256', kid: 'sandbox' })}.${part({ iss: 'sandbox', ...claims })}.${Buffer.from(randomUUID()).toString('base64url')}`;
}

/**
 * The subset of OData $filter the sandbox needs: `prop eq 'value'` clauses ('' escapes a quote)
 * joined by `and`/`or` (and binds tighter), compared case-insensitively as Graph does for
 * mail/userPrincipalName. undefined when unsupported.
 */
function compileFilter(expression: string): ((item: Record<string, unknown>) => boolean) | undefined {
  const token = /\s*(?:(\w+)\s+eq\s+'((?:[^']|'')*)'|(and|or)\b)/iy;
  const alternatives: Array<Array<(item: Record<string, unknown>) => boolean>> = [[]];
  let expectClause = true;
  let pos = 0;
  while (expression.slice(pos).trim() !== '') {
    token.lastIndex = pos;
    const m = token.exec(expression);
    if (!m) return undefined;
    pos = token.lastIndex;
    const [, prop, raw, joiner] = m;
    if (joiner) {
      if (expectClause) return undefined;
      if (joiner.toLowerCase() === 'or') alternatives.push([]);
      expectClause = true;
      continue;
    }
    if (!expectClause || !prop || raw === undefined) return undefined;
    const value = raw.replace(/''/g, "'").toLowerCase();
    alternatives[alternatives.length - 1]!.push((item) => {
      const v = item[prop];
      return typeof v === 'string' && v.toLowerCase() === value;
    });
    expectClause = false;
  }
  if (expectClause) return undefined;
  return (item) => alternatives.some((all) => all.every((clause) => clause(item)));
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}
