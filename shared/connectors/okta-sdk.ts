/**
 * The part of @okta/okta-sdk-nodejs v8 the Okta adapter calls: the generated group and user APIs,
 * on the SDK's own Http (request executor, errors) and Collection (Link rel="next" paging).
 *
 * The SDK's `Client` constructs all of its ~80 generated APIs, and its entry point requires every
 * API, model and API wrapper layer (3.2 MB minified, CommonJS, so a bundler cannot leave any of it
 * out). Here the same pieces are put together the way src/client.js does for an SSWS token, from the
 * SDK's own files: generated/apis/GroupApi.js and UserApi.js (the request factories that build each
 * request and the response processors that read it into the SDK's models), and for each call the
 * step src/generated/types/ObservableAPI.js takes (build the request, send it through the
 * configuration's HTTP library, process the response; list calls return a Collection that fetches
 * the first page when read), with no middleware, as the Client configures none.
 *
 * Left out with the Client: its config loader (OKTA_CLIENT_* variables and okta.yaml files; every
 * setting the adapter relies on is passed explicitly, as before) and the OAuth private-key mode.
 */
import { platform, release } from 'node:os';
import type {
  Group,
  GroupApi,
  GroupApiAssignUserToGroupRequest,
  GroupApiGetGroupRequest,
  GroupApiListGroupUsersRequest,
  GroupApiListGroupsRequest,
  GroupApiUnassignUserFromGroupRequest,
  RequestContext,
  ResponseContext,
  User,
  UserApi,
  UserApiGetUserRequest,
  UserApiListUserGroupsRequest,
  UserApiListUsersRequest,
  UserApiRevokeUserSessionsRequest,
} from '@okta/okta-sdk-nodejs';
import sdkPackage from '@okta/okta-sdk-nodejs/package.json' with { type: 'json' };
import { Collection } from '@okta/okta-sdk-nodejs/src/collection.js';
import type { DefaultRequestExecutor } from '@okta/okta-sdk-nodejs/src/default-request-executor.js';
import { GroupApiRequestFactory, GroupApiResponseProcessor } from '@okta/okta-sdk-nodejs/src/generated/apis/GroupApi.js';
import { UserApiRequestFactory, UserApiResponseProcessor } from '@okta/okta-sdk-nodejs/src/generated/apis/UserApi.js';
import { createConfiguration } from '@okta/okta-sdk-nodejs/src/generated/configuration.js';
import { ServerConfiguration } from '@okta/okta-sdk-nodejs/src/generated/servers.js';
import { Http } from '@okta/okta-sdk-nodejs/src/http.js';

export { DefaultRequestExecutor } from '@okta/okta-sdk-nodejs/src/default-request-executor.js';

type Configuration = ReturnType<typeof createConfiguration>;

export interface OktaSdkOptions {
  orgUrl: string;
  /** SSWS API token. */
  token: string;
  requestExecutor: DefaultRequestExecutor;
}

/** What the adapter calls, with the signatures of the SDK Client's `groupApi` and `userApi`. */
export type OktaGroupApi = Pick<GroupApi, 'getGroup' | 'listGroups' | 'listGroupUsers' | 'assignUserToGroup' | 'unassignUserFromGroup'>;
export type OktaUserApi = Pick<UserApi, 'getUser' | 'listUsers' | 'listUserGroups' | 'revokeUserSessions'>;

export interface OktaSdk {
  groupApi: OktaGroupApi;
  userApi: OktaUserApi;
}

/** The SDK's own User-Agent (src/client.js). */
const USER_AGENT = `${sdkPackage.name}/${sdkPackage.version} node/${process.versions.node} ${platform()}/${release()}`;

/** As `new Client({ orgUrl, token, authorizationMode: 'SSWS', requestExecutor, cacheMiddleware: null })`, with only the two APIs. */
export function oktaSdk(options: OktaSdkOptions): OktaSdk {
  const errors = [...(options.orgUrl ? [] : ['Okta Org URL not provided']), ...(options.token ? [] : ['Okta API token not provided'])];
  if (errors.length > 0) {
    throw new Error(`Found ${errors.length} errors:\n${errors.join('\n')}\nSee https://github.com/okta/okta-sdk-nodejs for usage.`);
  }
  // No response cache (cacheMiddleware null), and no OAuth client (the Client makes one only for private-key mode).
  const http = new Http({ requestExecutor: options.requestExecutor, cacheMiddleware: null, oauth: undefined as never });
  http.defaultHeaders.Authorization = `SSWS ${options.token}`;
  http.defaultHeaders['User-Agent'] = USER_AGENT;
  const configuration = createConfiguration({ baseServer: new ServerConfiguration(options.orgUrl, {}), httpApi: http });
  return { groupApi: new GroupCalls(configuration), userApi: new UserCalls(configuration) };
}

/** One request and its response, as the SDK's ObservableAPI does it with no middleware. */
async function call<T>(configuration: Configuration, request: Promise<RequestContext>, read: (response: ResponseContext) => Promise<T>): Promise<T> {
  const response = await configuration.httpApi.send(await request).toPromise();
  return read(response);
}

/** A paged list, as the SDK's ObservableAPI returns it: nothing is fetched until the collection is read. */
async function collection<T>(configuration: Configuration, request: Promise<RequestContext>, read: (response: ResponseContext) => Promise<T[]>) {
  const context = await request;
  return new Collection<T>(configuration.httpApi, context.getUrl(), { parseResponse: read }, context);
}

class GroupCalls implements OktaGroupApi {
  private readonly requests: GroupApiRequestFactory;
  private readonly responses = new GroupApiResponseProcessor();

  constructor(private readonly configuration: Configuration) {
    this.requests = new GroupApiRequestFactory(configuration);
  }

  getGroup({ groupId }: GroupApiGetGroupRequest): Promise<Group> {
    return call(this.configuration, this.requests.getGroup(groupId), (r) => this.responses.getGroup(r));
  }

  listGroups(p: GroupApiListGroupsRequest = {}): Promise<Collection<Group>> {
    const request = this.requests.listGroups(p.search, p.filter, p.q, p.after, p.limit, p.expand, p.sortBy, p.sortOrder);
    return collection(this.configuration, request, (r) => this.responses.listGroups(r));
  }

  listGroupUsers({ groupId, after, limit }: GroupApiListGroupUsersRequest): Promise<Collection<User>> {
    return collection(this.configuration, this.requests.listGroupUsers(groupId, after, limit), (r) => this.responses.listGroupUsers(r));
  }

  assignUserToGroup({ groupId, userId }: GroupApiAssignUserToGroupRequest): Promise<void> {
    return call(this.configuration, this.requests.assignUserToGroup(groupId, userId), (r) => this.responses.assignUserToGroup(r));
  }

  unassignUserFromGroup({ groupId, userId }: GroupApiUnassignUserFromGroupRequest): Promise<void> {
    return call(this.configuration, this.requests.unassignUserFromGroup(groupId, userId), (r) => this.responses.unassignUserFromGroup(r));
  }
}

class UserCalls implements OktaUserApi {
  private readonly requests: UserApiRequestFactory;
  private readonly responses = new UserApiResponseProcessor();

  constructor(private readonly configuration: Configuration) {
    this.requests = new UserApiRequestFactory(configuration);
  }

  getUser({ userId, contentType, expand }: UserApiGetUserRequest) {
    return call(this.configuration, this.requests.getUser(userId, contentType, expand), (r) => this.responses.getUser(r));
  }

  listUsers(p: UserApiListUsersRequest = {}): Promise<Collection<User>> {
    const request = this.requests.listUsers(p.contentType, p.search, p.filter, p.q, p.after, p.limit, p.sortBy, p.sortOrder, p.fields, p.expand);
    return collection(this.configuration, request, (r) => this.responses.listUsers(r));
  }

  listUserGroups({ userId }: UserApiListUserGroupsRequest): Promise<Collection<Group>> {
    return collection(this.configuration, this.requests.listUserGroups(userId), (r) => this.responses.listUserGroups(r));
  }

  revokeUserSessions({ userId, oauthTokens, forgetDevices }: UserApiRevokeUserSessionsRequest): Promise<void> {
    return call(this.configuration, this.requests.revokeUserSessions(userId, oauthTokens, forgetDevices), (r) => this.responses.revokeUserSessions(r));
  }
}
