/**
 * shared/connectors/okta-sdk.ts puts together only the part of @okta/okta-sdk-nodejs the Okta
 * adapter calls (the generated group and user APIs on the SDK's Http and Collection), so that the
 * Lambda bundles leave out the rest of the SDK. Here each call is made twice against the simulated
 * Okta, once through the SDK's own `Client` configured as the adapter configured it before, once
 * through oktaSdk(): the HTTP requests (method, path, query, every header), the models returned
 * (same classes, same fields), the pages followed, the 429 retry and the errors must be the same.
 */
import { Client, DefaultRequestExecutor } from '@okta/okta-sdk-nodejs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeOkta, type FakeOkta } from '../../infra/local/sandbox/okta.js';
import type { FakeRequest } from '../../infra/local/sandbox/http-fake.js';
import { DefaultRequestExecutor as SlimDefaultRequestExecutor, oktaSdk, type OktaSdk } from '../../shared/connectors/okta-sdk.js';

let okta: FakeOkta;
let groupId: string;
let aliceId: string;
let viaClient: OktaSdk;
let viaSlim: OktaSdk;

const TOKEN = 'test-token';
const executorOptions = { maxRetries: 2, requestTimeout: 20_000 };

beforeEach(async () => {
  okta = await startFakeOkta({ token: TOKEN });
  groupId = okta.addGroup({ name: 'prod-db-readers' });
  okta.addUser({ email: 'boss@example.com' });
  aliceId = okta.addUser({ email: 'Alice.Smith@Example.com', managerId: 'boss@example.com' });
  okta.addMembership(groupId, 'boss@example.com');
  // As shared/connectors/okta.ts built its client before the slim assembly.
  viaClient = new Client({
    orgUrl: okta.url,
    token: TOKEN,
    authorizationMode: 'SSWS',
    requestExecutor: new DefaultRequestExecutor(executorOptions),
    cacheMiddleware: null,
  });
  viaSlim = oktaSdk({ orgUrl: okta.url, token: TOKEN, requestExecutor: new SlimDefaultRequestExecutor(executorOptions) });
});

afterEach(async () => {
  await okta.close();
});

/** A request as the fake received it; headers whole, the body as sent. */
const seen = (r: FakeRequest) => ({ method: r.method, path: r.path, query: r.query.toString(), headers: r.headers, body: r.rawBody });

/** Runs `calls` through the Client, then through oktaSdk(); returns both results and both request logs. */
async function twice<T>(calls: (sdk: OktaSdk) => Promise<T>) {
  okta.fake.requests.length = 0;
  const client = await calls(viaClient);
  const clientRequests = okta.fake.requests.splice(0).map(seen);
  const slim = await calls(viaSlim);
  const slimRequests = okta.fake.requests.splice(0).map(seen);
  return { client, slim, clientRequests, slimRequests };
}

async function all<T>(collection: { next(): Promise<{ value: T | null; done: boolean }> }): Promise<T[]> {
  const out: T[] = [];
  for (;;) {
    const { value, done } = await collection.next();
    if (value) out.push(value);
    else if (done) return out;
  }
}

const classes = (values: unknown[]) => values.map((v) => (v as object).constructor.name);

describe('oktaSdk() answers as the SDK Client does', () => {
  it('reads: the user search, a user by id, its groups, a group, all groups, one user', async () => {
    const run = await twice(async ({ userApi, groupApi }) => ({
      search: await all(await userApi.listUsers({ search: 'profile.email eq "alice.smith@example.com"' })),
      user: await userApi.getUser({ userId: aliceId }),
      userGroups: await all(await userApi.listUserGroups({ userId: aliceId })),
      group: await groupApi.getGroup({ groupId }),
      groups: await all(await groupApi.listGroups({})),
      first: (await (await userApi.listUsers({ limit: 1 })).next()).value,
    }));

    expect(run.slimRequests).toEqual(run.clientRequests);
    expect(run.clientRequests.map((r) => `${r.method} ${r.path}?${r.query}`)).toEqual([
      `GET /api/v1/users?search=${encodeURIComponent('profile.email eq "alice.smith@example.com"').replace(/%20/g, '+')}`,
      `GET /api/v1/users/${aliceId}?`,
      `GET /api/v1/users/${aliceId}/groups?`,
      `GET /api/v1/groups/${groupId}?`,
      'GET /api/v1/groups?',
      'GET /api/v1/users?limit=1',
    ]);
    expect(run.clientRequests[0]?.headers.authorization).toBe(`SSWS ${TOKEN}`);
    expect(run.clientRequests[0]?.headers['user-agent']).toMatch(/^@okta\/okta-sdk-nodejs\/\d+\.\d+\.\d+ node\//);
    // The same models, class for class (toStrictEqual compares classes and undefined fields too).
    expect(run.slim).toStrictEqual(run.client);
    expect(run.slim.search.map((u) => u.id)).toEqual([aliceId]);
    expect(classes([run.slim.user, run.slim.group, ...run.slim.groups, run.slim.first])).toEqual(
      classes([run.client.user, run.client.group, ...run.client.groups, run.client.first]),
    );
    expect(run.slim.user.profile?.email).toBe('Alice.Smith@Example.com');
    expect(run.slim.user.profile?.managerId).toBe('boss@example.com');
    expect(run.slim.group.type).toBe('OKTA_GROUP');
  });

  it('follows the Link rel="next" pages of a group\'s members', async () => {
    for (let i = 0; i < 205; i++) {
      okta.addUser({ email: `hire${i}@example.com` });
      okta.addMembership(groupId, `hire${i}@example.com`);
    }
    const run = await twice(async ({ groupApi }) => all(await groupApi.listGroupUsers({ groupId })));

    expect(run.slimRequests).toEqual(run.clientRequests);
    expect(run.clientRequests).toHaveLength(2);
    expect(new URLSearchParams(run.clientRequests[1]?.query).get('after')).toBeTruthy();
    expect(run.slim).toHaveLength(206);
    expect(run.slim).toStrictEqual(run.client);
  });

  it('adds and removes a member with the same requests', async () => {
    const add = await twice(async ({ groupApi }) => {
      await groupApi.assignUserToGroup({ groupId, userId: aliceId });
      const members = okta.members(groupId);
      await groupApi.unassignUserFromGroup({ groupId, userId: aliceId });
      return members;
    });

    expect(add.slimRequests).toEqual(add.clientRequests);
    expect(add.clientRequests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `PUT /api/v1/groups/${groupId}/users/${aliceId}`,
      `DELETE /api/v1/groups/${groupId}/users/${aliceId}`,
    ]);
    expect(add.slim).toEqual(['boss@example.com', 'alice.smith@example.com']);
    expect(add.client).toEqual(add.slim);
    expect(okta.members(groupId)).toEqual(['boss@example.com']);
  });

  it("ends a user's sessions with the same request", async () => {
    const run = await twice(({ userApi }) => userApi.revokeUserSessions({ userId: aliceId, oauthTokens: true, forgetDevices: false }));

    expect(run.slimRequests).toEqual(run.clientRequests);
    expect(run.clientRequests.map((r) => `${r.method} ${r.path}?${r.query}`)).toEqual([
      `DELETE /api/v1/users/${aliceId}/sessions?oauthTokens=true&forgetDevices=false`,
    ]);
    expect(run.slim).toStrictEqual(run.client);
    expect(okta.sessionsEnded(aliceId)).toHaveLength(2);
  });

  it('retries a 429 through the request executor until X-Rate-Limit-Reset, with the same retry headers', async () => {
    const rateLimitOnce = () =>
      okta.fake.injectFault({
        method: 'PUT',
        path: '/api/v1/groups/',
        respond: () => ({
          status: 429,
          headers: { 'X-Rate-Limit-Limit': '600', 'X-Rate-Limit-Remaining': '0', 'X-Rate-Limit-Reset': String(Math.floor(Date.now() / 1000)) },
          body: { errorCode: 'E0000047', errorSummary: 'API call exceeded rate limit due to too many requests.', errorLink: 'E0000047', errorId: 'oae1' },
        }),
      });
    const run = await twice(async ({ groupApi }) => {
      rateLimitOnce();
      await groupApi.assignUserToGroup({ groupId, userId: aliceId });
      return okta.members(groupId);
    });

    const retry = (requests: ReturnType<typeof seen>[]) =>
      requests.map((r) => ({ method: r.method, path: r.path, count: r.headers['x-okta-retry-count'], for: typeof r.headers['x-okta-retry-for'] }));
    expect(retry(run.slimRequests)).toEqual(retry(run.clientRequests));
    expect(retry(run.clientRequests)).toEqual([
      { method: 'PUT', path: `/api/v1/groups/${groupId}/users/${aliceId}`, count: undefined, for: 'undefined' },
      { method: 'PUT', path: `/api/v1/groups/${groupId}/users/${aliceId}`, count: '1', for: 'string' },
    ]);
    expect(run.slim).toContain('alice.smith@example.com');
    expect(run.client).toContain('alice.smith@example.com');
  }, 20_000);

  it('fails with the same errors: a missing group, a refused token', async () => {
    const failure = async (call: () => Promise<unknown>) => {
      try {
        await call();
      } catch (err) {
        const e = err as Record<string, unknown> & Error;
        return { class: e.constructor.name, name: e.name, message: e.message, status: e.status, errorCode: e.errorCode, errorSummary: e.errorSummary };
      }
      throw new Error('expected a failure');
    };
    const missing = await twice(({ groupApi }) => failure(() => groupApi.getGroup({ groupId: '00gNoSuchGroup000000' })));
    expect(missing.slim).toEqual(missing.client);
    expect(missing.slim).toMatchObject({ status: 404, errorCode: 'E0000007' });
    expect(missing.slimRequests).toEqual(missing.clientRequests);

    const refusedClient = new Client({ orgUrl: okta.url, token: 'nope', authorizationMode: 'SSWS', cacheMiddleware: null });
    const refusedSlim = oktaSdk({ orgUrl: okta.url, token: 'nope', requestExecutor: new SlimDefaultRequestExecutor() });
    const viaRefusedClient = await failure(async () => (await refusedClient.userApi.listUsers({ limit: 1 })).next());
    const viaRefusedSlim = await failure(async () => (await refusedSlim.userApi.listUsers({ limit: 1 })).next());
    expect(viaRefusedSlim).toEqual(viaRefusedClient);
    expect(viaRefusedSlim).toMatchObject({ status: 401, errorCode: 'E0000011' });
  });

  it('refuses a missing org URL or token as the Client does', () => {
    const refusal = (make: () => unknown) => {
      try {
        make();
      } catch (err) {
        return (err as Error).message;
      }
      return 'no error';
    };
    for (const [orgUrl, token] of [
      ['', TOKEN],
      [okta.url, ''],
      ['', ''],
    ] as const) {
      expect(refusal(() => oktaSdk({ orgUrl, token, requestExecutor: new SlimDefaultRequestExecutor() }))).toBe(
        refusal(() => new Client({ orgUrl, token, authorizationMode: 'SSWS', cacheMiddleware: null })),
      );
    }
  });
});
