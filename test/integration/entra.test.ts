/**
 * The Entra connector driving the real @microsoft/microsoft-graph-client and the real @azure/identity
 * ClientSecretCredential against the simulated Microsoft Graph and token endpoint over HTTPS on
 * 127.0.0.1 (self-signed test certificate, trusted through the connector's `ca` option only).
 */
import { request } from 'node:https';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClientSecretCredential, type AccessToken, type TokenCredential } from '@azure/identity';
import { PermanentError, RetryableError } from '../../shared/errors.js';
import { EntraIdentityProvider } from '../../shared/connectors/entra.js';
import { graphError, startFakeGraph, type FakeGraph } from '../../infra/local/sandbox/entra.js';
import { failure } from '../support/failure.js';
import { aliceAsRead, CAROL, carolReviewed, expectLastLoginOnceSignedIn } from '../support/idp-profiles.js';
import { virtualTime, type VirtualTime } from '../support/virtual-time.js';

let graph: FakeGraph;
let idp: EntraIdentityProvider;
let groupId: string;
let aliceId: string;
let bossId: string;
let time: VirtualTime;

beforeEach(async () => {
  time = virtualTime();
  graph = await startFakeGraph({ now: time.now });
  idp = new EntraIdentityProvider({ ...graph.connectorOptions(), sleep: time.sleep });
  groupId = graph.addGroup({ displayName: 'prod-db-readers' });
  bossId = graph.addUser({ mail: 'Boss@Example.com' });
  aliceId = graph.addUser({ mail: 'Alice.Smith@Example.com', managerId: bossId });
});

afterEach(async () => {
  await graph.close();
});

const graphCalls = (method?: string) => graph.fake.requests.filter((r) => r.path.startsWith('/v1.0/') && (!method || r.method === method));
const MEMBER_REF = /^\/v1\.0\/groups\/[^/]+\/members\/\$ref$/;
const throttled = (retryAfter: string, status = 429) => ({
  ...graphError(status, status === 429 ? 'TooManyRequests' : 'ServiceUnavailable', status === 429 ? 'Too many requests.' : 'Service unavailable.'),
  headers: { 'Retry-After': retryAfter },
});

/** A bare HTTPS call to the fake with a real token, bypassing the connector; resolves to the status code. */
async function rawGraphCall(method: string, path: string): Promise<number> {
  const o = graph.connectorOptions();
  const credential = new ClientSecretCredential(o.tenantId, o.clientId, o.clientSecret, {
    authorityHost: o.authorityHost,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: o.ca },
  });
  const token = await credential.getToken(`${graph.url}/.default`);
  return new Promise((resolve, reject) => {
    const req = request(`${graph.url}${path}`, { method, ca: o.ca, headers: { authorization: `Bearer ${token.token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('looking people up', () => {
  it('finds a user whatever the case of the email typed, with one OData filter on mail or sign-in name', async () => {
    const user = await idp.findUserByEmail('ALICE.smith@example.COM');
    expect(user).toEqual(aliceAsRead(aliceId));
    const lookup = graphCalls('GET').find((r) => r.path === '/v1.0/users');
    expect(lookup?.query.get('$filter')).toBe("mail eq 'alice.smith@example.com' or userPrincipalName eq 'alice.smith@example.com'");
    expect(lookup?.query.get('$select')).toBe('id,mail,userPrincipalName,accountEnabled,displayName,jobTitle,department');
  });

  it('finds a user by sign-in name, and escapes quotes and plus signs in the email', async () => {
    const id = graph.addUser({ mail: "o'brien+ops@example.com" });
    const upnOnly = graph.addUser({ mail: 'c.lee@contoso.example', userPrincipalName: 'Chris.Lee@Example.com' });
    expect((await idp.findUserByEmail("O'Brien+Ops@example.com"))?.id).toBe(id);
    expect((await idp.findUserByEmail('chris.lee@example.com'))?.id).toBe(upnOnly);
  });

  it('returns nothing for an email Entra ID does not know', async () => {
    expect(await idp.findUserByEmail('nobody@example.com')).toBeUndefined();
  });

  it('reports a disabled account (accountEnabled false) as inactive', async () => {
    graph.addUser({ mail: 'gone@example.com', accountEnabled: false });
    expect(await idp.findUserByEmail('gone@example.com')).toMatchObject({ active: false });
  });

  it('has no manager email when none is set (Graph answers 404 for /manager)', async () => {
    expect((await idp.findUserByEmail('boss@example.com'))?.managerEmail).toBeUndefined();
  });
});

describe('reading an account by id (strongly consistent)', () => {
  it('reads the user with GET /users/{id}, with the same fields as the email lookup', async () => {
    expect(await idp.getUser(aliceId)).toEqual(aliceAsRead(aliceId));
    const read = graphCalls('GET').find((r) => r.path === `/v1.0/users/${aliceId}`);
    expect(read?.query.get('$select')).toBe('id,mail,userPrincipalName,accountEnabled,displayName,jobTitle,department');
  });

  it('returns nothing for a deleted user (404 Request_ResourceNotFound); a non-GUID id is refused before any call', async () => {
    expect(await idp.getUser('0b9e7c1d-1111-4222-8333-444455556666')).toBeUndefined();
    const calls = graphCalls().length;
    await expect(idp.getUser('../groups')).rejects.toThrow(PermanentError);
    expect(graphCalls()).toHaveLength(calls);
  });

  it('sees a disabled account at once while the filtered user list still reports it enabled', async () => {
    graph.setAccountEnabled(aliceId, false, { staleSearch: true });

    expect((await idp.findUserByEmail('alice.smith@example.com'))?.active).toBe(true); // the lagging list
    expect(await idp.getUser(aliceId)).toMatchObject({ id: aliceId, active: false });
    graph.settleSearch();
    expect((await idp.findUserByEmail('alice.smith@example.com'))?.active).toBe(false);
  });

  it('maps failures of the read like every other call', async () => {
    graph.fake.injectFault({ method: 'GET', path: `/v1.0/users/${aliceId}`, ...graphError(500, 'InternalServerError', 'An internal server error occurred.') });
    const { err } = await failure(() => idp.getUser(aliceId));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.message).toMatch(/^Microsoft Graph failed with HTTP 500 while reading the Microsoft Entra ID user /);
  });
});

describe('the account as an access review shows it (reviewProfile)', () => {
  it('adds signInActivity.lastSignInDateTime, which the grant path never asks for; an unlicensed tenant, or an app without AuditLog.Read.All, still gets the profile without it', async () => {
    const carol = {
      mail: CAROL.email,
      displayName: 'Carol Jones',
      jobTitle: CAROL.title,
      department: CAROL.department,
      lastSignInDateTime: '2026-02-20T08:15:00Z',
    };
    const carolId = graph.addUser(carol);
    const { lastLogin: _, ...profile } = carolReviewed(carolId).profile ?? {};
    const asked = (g: FakeGraph, from: number) =>
      g.fake.requests
        .slice(from)
        .filter((r) => r.path.startsWith('/v1.0/'))
        .map((r) => `${r.method} ${r.path}?$select=${r.query.get('$select')}`);
    const reviewSelect = 'id,mail,userPrincipalName,accountEnabled,displayName,jobTitle,department,signInActivity';

    let from = graph.fake.requests.length;
    expect(await idp.reviewProfile(carolId)).toEqual(carolReviewed(carolId));
    expect(asked(graph, from)).toEqual([
      `GET /v1.0/users/${carolId}?$select=${reviewSelect}`,
      `GET /v1.0/users/${carolId}/manager?$select=id,mail,userPrincipalName`,
    ]);

    // Alice never signed in (signInActivity null); once she does, the review sees it.
    await expectLastLoginOnceSignedIn(idp, aliceId, 'Alice Smith', (at) => graph.setLastLogin('alice.smith@example.com', at));

    // The grant path reads the same profile, and never asks for signInActivity.
    from = graph.fake.requests.length;
    expect((await idp.getUser(carolId))?.profile).toEqual(profile);
    expect((await idp.findUserByEmail(CAROL.email))?.profile).toEqual(profile);
    expect(asked(graph, from).filter((r) => r.includes('signInActivity'))).toEqual([]);

    for (const options of [{ signInActivityLicensed: false }, { permissions: ['GroupMember.ReadWrite.All', 'User.Read.All'] }]) {
      const g = await startFakeGraph({ now: time.now, ...options });
      try {
        const id = g.addUser(carol);
        const reviewer = new EntraIdentityProvider({ ...g.connectorOptions(), sleep: time.sleep });
        from = g.fake.requests.length;
        expect(await reviewer.reviewProfile(id)).toEqual({ id, email: CAROL.email, active: true, profile });
        // Refused (403) with signInActivity, read again without it.
        expect(asked(g, from).filter((r) => !r.includes('/manager'))).toEqual([
          `GET /v1.0/users/${id}?$select=${reviewSelect}`,
          `GET /v1.0/users/${id}?$select=id,mail,userPrincipalName,accountEnabled,displayName,jobTitle,department`,
        ]);
      } finally {
        await g.close();
      }
    }
  });
});

describe("a person's end date (employeeLeaveDateTime, when the catalog names it)", () => {
  const LIFECYCLE = ['GroupMember.ReadWrite.All', 'User.Read.All', 'User-LifeCycleInfo.Read.All'];

  /** A Graph whose app holds `permissions`, with Nina leaving on 31 March; closed after `fn`. */
  async function withGraph(permissions: string[], fn: (g: FakeGraph, ninaId: string) => Promise<void>): Promise<void> {
    const g = await startFakeGraph({ now: time.now, permissions });
    try {
      const ninaId = g.addUser({ mail: 'nina.contractor@example.com', employeeLeaveDateTime: '2026-03-31T23:59:59Z' });
      await fn(g, ninaId);
    } finally {
      await g.close();
    }
  }
  const reader = (g: FakeGraph) => new EntraIdentityProvider({ ...g.connectorOptions(), sleep: time.sleep, readEmployeeLeaveDateTime: true });

  it('asks for it by $select in the lookup by email and in the read by id, and reads it', async () => {
    await withGraph(LIFECYCLE, async (g, ninaId) => {
      const idpWithEndDates = reader(g);

      expect(await idpWithEndDates.findUserByEmail('nina.contractor@example.com')).toMatchObject({ id: ninaId, endDate: '2026-03-31T23:59:59Z' });
      expect(await idpWithEndDates.getUser(ninaId)).toMatchObject({ id: ninaId, endDate: '2026-03-31T23:59:59Z' });
      const selects = g.fake.requests.filter((r) => r.path === '/v1.0/users' || r.path === `/v1.0/users/${ninaId}`).map((r) => r.query.get('$select'));
      expect(selects).toEqual([
        'id,mail,userPrincipalName,accountEnabled,displayName,jobTitle,department,employeeLeaveDateTime',
        'id,mail,userPrincipalName,accountEnabled,displayName,jobTitle,department,employeeLeaveDateTime',
      ]);
    });
  });

  it('a person with none set has no end date; a changed one is seen at once by id', async () => {
    await withGraph(LIFECYCLE, async (g, ninaId) => {
      const bobId = g.addUser({ mail: 'bob@example.com' });
      g.setEmployeeLeaveDateTime(ninaId, '2026-03-10T17:00:00Z');

      expect((await reader(g).getUser(bobId))?.endDate).toBeUndefined();
      expect((await reader(g).getUser(ninaId))?.endDate).toBe('2026-03-10T17:00:00Z');
    });
  });

  it('Graph returns it only when $select names it: a lookup that does not ask gets no end date', async () => {
    await withGraph(LIFECYCLE, async (g, ninaId) => {
      const plain = new EntraIdentityProvider({ ...g.connectorOptions(), sleep: time.sleep });
      expect((await plain.getUser(ninaId))?.endDate).toBeUndefined();
      expect(g.fake.requests.find((r) => r.path === `/v1.0/users/${ninaId}`)?.query.get('$select')).toBe(
        'id,mail,userPrincipalName,accountEnabled,displayName,jobTitle,department',
      );

      const token = await new ClientSecretCredential(g.tenantId, g.clientId, g.clientSecret, {
        authorityHost: g.url,
        disableInstanceDiscovery: true,
        tlsOptions: { ca: g.ca },
      }).getToken(`${g.url}/.default`);
      const fetched = (path: string) => rawGraphJson(g, path, token.token);
      expect(await fetched(`/v1.0/users/${ninaId}`)).not.toHaveProperty('employeeLeaveDateTime');
      expect(await fetched(`/v1.0/users/${ninaId}?$select=id,employeeLeaveDateTime`)).toMatchObject({ employeeLeaveDateTime: '2026-03-31T23:59:59Z' });
    });
  });

  it('an app without User-LifeCycleInfo.Read.All reads none (the sandbox answers null, as a missing permission may): grant it', async () => {
    await withGraph(['GroupMember.ReadWrite.All', 'User.Read.All'], async (g, ninaId) => {
      expect((await reader(g).getUser(ninaId))?.endDate).toBeUndefined();
    });
  });

  it('a 403 names the extra permission the end dates need', async () => {
    await withGraph(['GroupMember.ReadWrite.All'], async (g, ninaId) => {
      const { err } = await failure(() => reader(g).getUser(ninaId));
      expect(err).toBeInstanceOf(PermanentError);
      expect(err.message).toContain(
        'needs the application permissions GroupMember.ReadWrite.All, User.Read.All and User-LifeCycleInfo.Read.All (to read employeeLeaveDateTime)',
      );
    });
  });
});

/** GET on a fake Graph with a token, bypassing the connector; resolves to the JSON body. */
async function rawGraphJson(g: FakeGraph, path: string, token: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request(`${g.url}${path}`, { method: 'GET', ca: g.ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('granting and revoking group membership', () => {
  it('adds the user with a $ref to the directory object', async () => {
    expect(await idp.isMember(groupId, aliceId)).toBe(false);
    expect(await idp.addMember(groupId, aliceId)).toBe('added');
    expect(graph.members(groupId)).toEqual(['alice.smith@example.com']);
    expect(await idp.isMember(groupId, aliceId)).toBe(true);
    const post = graphCalls('POST')[0];
    expect(post?.path).toBe(`/v1.0/groups/${groupId}/members/$ref`);
    expect(post?.body).toEqual({ '@odata.id': `${graph.url}/v1.0/directoryObjects/${aliceId}` });
  });

  it("treats Graph's 'already exist' 400 as already a member, keeping a single membership", async () => {
    graph.addMembership(groupId, 'alice.smith@example.com');
    expect(await idp.addMember(groupId, aliceId)).toBe('already_member');
    expect(graph.members(groupId)).toEqual(['alice.smith@example.com']);
    expect(graphCalls('POST')).toHaveLength(1);
  });

  it("does not take another 400 that merely looks similar for 'already a member'", async () => {
    graph.fake.injectFault({
      method: 'POST',
      path: MEMBER_REF,
      ...graphError(400, 'Request_BadRequest', "One or more added object references already exist for the following modified properties: 'owners'."),
    });
    const { err } = await failure(() => idp.addMember(groupId, aliceId));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(/^Microsoft Graph rejected the request while adding user .* HTTP 400 \(Request_BadRequest: .*'owners'\.\)\.$/);
  });

  it('removes the user with DELETE .../members/{id}/$ref, exactly that path, leaving the user object alone', async () => {
    graph.addMembership(groupId, 'alice.smith@example.com');
    expect(await idp.removeMember(groupId, aliceId)).toBe('removed');
    expect(graph.members(groupId)).toEqual([]);
    expect(graphCalls('DELETE').map((r) => `${r.method} ${r.path}`)).toEqual([`DELETE /v1.0/groups/${groupId}/members/${aliceId}/$ref`]);
    expect(graph.hasUser(aliceId)).toBe(true);
    expect(await idp.isMember(groupId, aliceId)).toBe(false);
  });

  it('(the fake arms the documented trap: DELETE without /$ref deletes the user object itself)', async () => {
    graph.addMembership(groupId, 'alice.smith@example.com');
    expect(await rawGraphCall('DELETE', `/v1.0/groups/${groupId}/members/${aliceId}`)).toBe(204);
    expect(graph.hasUser(aliceId)).toBe(false);
  });

  it('treats removing a non-member as already done, after checking that the group exists', async () => {
    expect(await idp.removeMember(groupId, aliceId)).toBe('already_absent');
    expect(graphCalls().map((r) => `${r.method} ${r.path}`)).toEqual([`DELETE /v1.0/groups/${groupId}/members/${aliceId}/$ref`, `GET /v1.0/groups/${groupId}`]);
  });

  it('refuses removal from a group that does not exist instead of calling it already done', async () => {
    const deleted = '6f1c2a3b-0000-4000-8000-00000000dead';
    const { err } = await failure(() => idp.removeMember(deleted, aliceId));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toBe(
      `Microsoft Entra ID has no group with id ${deleted} (found while removing user ${aliceId} from Microsoft Entra group ${deleted}).`,
    );
  });

  it('refuses an unknown user with a message naming the user', async () => {
    const ghost = '0b9e7c1d-1111-4222-8333-444455556666';
    const { err } = await failure(() => idp.addMember(groupId, ghost));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toBe(
      `Microsoft Entra ID has no user with id ${ghost} (found while adding user ${ghost} to Microsoft Entra group ${groupId}).`,
    );
  });

  it('refuses an unknown group with a message naming the group', async () => {
    const missing = '0b9e7c1d-aaaa-4bbb-8ccc-ddddeeeeffff';
    const { err } = await failure(() => idp.addMember(missing, aliceId));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(/^Microsoft Entra ID has no group with id 0b9e7c1d-aaaa-4bbb-8ccc-ddddeeeeffff /);
    await expect(idp.isMember(missing, aliceId)).rejects.toThrow(/has no group with id 0b9e7c1d-aaaa/);
  });

  it('refuses to change a dynamic group, and leaves it untouched', async () => {
    const dynamic = graph.addGroup({ displayName: 'All engineers', dynamic: true });
    const { err } = await failure(() => idp.addMember(dynamic, aliceId));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(/HTTP 400 \(Request_BadRequest: .*dynamic membership/);
    expect(graph.members(dynamic)).toEqual([]);
  });

  it('sends nothing to Graph for ids that are not GUIDs (no path tricks)', async () => {
    await expect(idp.removeMember(groupId, `../../users/${aliceId}`)).rejects.toThrow(PermanentError);
    await expect(idp.addMember('..', aliceId)).rejects.toThrow(/is not a Microsoft Entra group object id/);
    expect(graphCalls()).toHaveLength(0);
    expect(graph.hasUser(aliceId)).toBe(true);
  });
});

describe("ending a person's sessions", () => {
  it('revokes the sign-in sessions of a known user, says no_account for a deleted one, and waits out a 429 with Retry-After', async () => {
    expect(await idp.endSessions(aliceId)).toBe('ended');
    expect(graph.sessionsEnded(aliceId)).toHaveLength(1);
    expect(graphCalls('POST').map((r) => r.path)).toEqual([`/v1.0/users/${aliceId}/revokeSignInSessions`]);

    expect(await idp.endSessions('0b9e7c1d-1111-4222-8333-444455556666')).toBe('no_account');

    graph.fake.injectFault({ method: 'POST', path: `/v1.0/users/${aliceId}/revokeSignInSessions`, ...throttled('1') });
    expect(await idp.endSessions(aliceId)).toBe('ended');
    expect(time.sleeps).toEqual([1_000]);
    expect(graph.sessionsEnded('alice.smith@example.com')).toHaveLength(2);
  });
});

describe('when Graph or the token endpoint refuses or struggles', () => {
  it('asks for a token for the configured Graph root, as a sovereign cloud requires (the public cloud scope is refused there)', async () => {
    // The fake is its own cloud: its Graph root is its own URL, as graph.microsoft.us is for US Government.
    await idp.testConnection();
    const tokenCalls = graph.fake.requests.filter((r) => r.path.endsWith('/oauth2/v2.0/token'));
    expect(tokenCalls.map((r) => new URLSearchParams(r.rawBody).get('scope'))).toEqual([`${graph.url}/.default`]);

    const o = graph.connectorOptions();
    const publicCloud = new ClientSecretCredential(o.tenantId, o.clientId, o.clientSecret, {
      authorityHost: o.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: { ca: o.ca },
    });
    await expect(publicCloud.getToken('https://graph.microsoft.com/.default')).rejects.toThrow(/AADSTS1002012/);
  });

  it('reports a wrong client secret as a permanent refusal, before any Graph call', async () => {
    const wrong = new EntraIdentityProvider({ ...graph.connectorOptions(), clientSecret: 'not-the-secret' });
    const { err } = await failure(() => wrong.findUserByEmail('alice.smith@example.com'));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(
      /^Microsoft Entra ID refused the app's credentials \(client id [0-9a-f-]+, tenant [0-9a-f-]+\) while looking up .*: AADSTS7000215: Invalid client secret provided\. Check /,
    );
    expect(graphCalls()).toHaveLength(0);
  });

  it('reports a missing application permission as permanent, naming the permission needed', async () => {
    await graph.close();
    graph = await startFakeGraph({ permissions: ['User.Read.All'] });
    const readOnly = new EntraIdentityProvider(graph.connectorOptions());
    const group = graph.addGroup({ displayName: 'ops' });
    const user = graph.addUser({ mail: 'ops@example.com' });
    const { err } = await failure(() => readOnly.addMember(group, user));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(
      /^Microsoft Graph refused the app's permission while adding user .*: HTTP 403 \(Authorization_RequestDenied: Insufficient privileges to complete the operation\.\)\. .*needs the application permissions GroupMember\.ReadWrite\.All and User\.Read\.All/,
    );
  });

  it('waits out a 429 with Retry-After: 1 inside the call, then succeeds', async () => {
    graph.fake.injectFault({ method: 'POST', path: MEMBER_REF, ...throttled('1') });
    expect(await idp.addMember(groupId, aliceId)).toBe('added');
    expect(time.sleeps).toEqual([1_000]);
    expect(graph.members(groupId)).toEqual(['alice.smith@example.com']);
    const posts = graphCalls('POST');
    expect(posts).toHaveLength(2);
    expect(posts[1]?.headers['retry-attempt']).toBe('1');
  });

  it('hands a long Retry-After back as retryable at once, with the wait', async () => {
    graph.fake.injectFault({ path: '/v1.0/users', ...throttled('120') });
    const { err } = await failure(() => idp.findUserByEmail('alice.smith@example.com'));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).retryAfterMs).toBe(120_000);
    expect((err as Error).message).toMatch(/^Microsoft Graph's throttling limit was reached while looking up .*; it will be retried in about 120 s\.$/);
    expect(time.now()).toBe(0);
    expect(graphCalls()).toHaveLength(1);
  });

  it('does not wait beyond maxWaitMs for a 503 either', async () => {
    const impatient = new EntraIdentityProvider({ ...graph.connectorOptions(), maxWaitMs: 500, sleep: time.sleep });
    graph.fake.injectFault({ method: 'DELETE', ...throttled('1', 503) });
    const { err } = await failure(() => impatient.removeMember(groupId, aliceId));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).retryAfterMs).toBe(1_000);
    expect((err as Error).message).toMatch(/^Microsoft Graph was unavailable \(HTTP 503\) while removing user /);
    expect(time.now()).toBe(0); // a 1 s wait would exceed 500 ms: not slept at all
    expect(graphCalls('DELETE')).toHaveLength(1);
  });

  it('waits within maxWaitMs across retries, then hands the throttling back', async () => {
    const patient = new EntraIdentityProvider({ ...graph.connectorOptions(), maxWaitMs: 2_500, sleep: time.sleep });
    graph.fake.injectFault({ method: 'DELETE', ...throttled('1', 503), times: 5 });
    const { err } = await failure(() => patient.removeMember(groupId, aliceId));
    expect(err).toBeInstanceOf(RetryableError);
    expect(time.sleeps).toEqual([1_000, 1_000]); // a third second would exceed the 2.5 s budget
    expect(graphCalls('DELETE')).toHaveLength(3);
  });

  it('reports a Graph server error as retryable, without retrying it inside the call', async () => {
    graph.fake.injectFault({ method: 'POST', path: MEMBER_REF, ...graphError(500, 'InternalServerError', 'An internal server error occurred.') });
    const { err } = await failure(() => idp.addMember(groupId, aliceId));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toMatch(
      /^Microsoft Graph failed with HTTP 500 while adding user .* \(InternalServerError: An internal server error occurred\.\); this is usually temporary\.$/,
    );
    expect(graphCalls('POST')).toHaveLength(1);
    expect(graph.members(groupId)).toEqual([]);
  });

  it("retries Graph's replication delay after a group is created, then succeeds once replicated", async () => {
    const fresh = graph.addGroup({ displayName: 'just-created', replicationDelayMs: 400 });
    const { err } = await failure(() => idp.addMember(fresh, aliceId));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toMatch(/replication delay/);
    expect((err as Error).message).toMatch(/The source resource object or one of the objects being referenced do not exist\./);
    await time.sleep(399); // the fake's replication runs on the test's virtual clock, however slow the machine
    await expect(idp.addMember(fresh, aliceId)).rejects.toThrow(/replication delay/);
    await time.sleep(1);
    expect(await idp.addMember(fresh, aliceId)).toBe('added');
  });

  it('reports Graph being unreachable as retryable', async () => {
    await idp.testConnection(); // the credential now holds a token; only Graph is missing below
    await graph.close();
    const { err } = await failure(() => idp.isMember(groupId, aliceId));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toMatch(/^Could not reach Microsoft Graph at https:\/\/127\.0\.0\.1:\d+ while checking whether .*ECONNREFUSED/);
  });

  it('trusts the self-signed certificate only when given as ca (TLS verification stays on)', async () => {
    const staticToken: TokenCredential = { getToken: async (): Promise<AccessToken> => ({ token: 'unused', expiresOnTimestamp: Date.now() + 60_000 }) };
    const { ca: _ca, ...withoutCa } = graph.connectorOptions();
    const untrusting = new EntraIdentityProvider({ ...withoutCa, credential: staticToken });
    const { err } = await failure(() => untrusting.isMember(groupId, aliceId));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(/^The TLS certificate of Microsoft Graph at https:\/\/127\.0\.0\.1:\d+ is not trusted \(self[- ]signed certificate/);
  });

  it('gets one token and reuses it across calls', async () => {
    await idp.findUserByEmail('alice.smith@example.com');
    await idp.addMember(groupId, aliceId);
    await idp.removeMember(groupId, aliceId);
    expect(graph.tokensIssued()).toBe(1);
    expect(graphCalls().every((r) => /^Bearer .+\..+\..+$/.test(r.headers.authorization ?? ''))).toBe(true);
  });
});

describe('catalog sync support', () => {
  it('lists every group across pages, marking the ones Graph cannot change as not manageable', async () => {
    await graph.close();
    graph = await startFakeGraph({ maxPageSize: 2 });
    idp = new EntraIdentityProvider(graph.connectorOptions());
    const plain = graph.addGroup({ displayName: 'prod-db-readers' });
    const m365 = graph.addGroup({ displayName: 'Project X', kind: 'microsoft365' });
    const dynamic = graph.addGroup({ displayName: 'All engineers', dynamic: true });
    const admins = graph.addGroup({ displayName: 'Helpdesk admins', roleAssignable: true });
    const synced = graph.addGroup({ displayName: 'AD: Finance', onPremisesSynced: true });
    const list = graph.addGroup({ displayName: 'all-staff', kind: 'distribution' });
    const groups = await idp.listGroups();
    expect(groups).toEqual([
      { id: plain, name: 'prod-db-readers', manageable: true },
      { id: m365, name: 'Project X', manageable: true },
      { id: dynamic, name: 'All engineers', manageable: false },
      { id: admins, name: 'Helpdesk admins', manageable: false },
      { id: synced, name: 'AD: Finance', manageable: false },
      { id: list, name: 'all-staff', manageable: false },
    ]);
    const gets = graphCalls('GET').filter((r) => r.path === '/v1.0/groups');
    expect(gets).toHaveLength(3);
    expect(gets[1]?.query.get('$skiptoken')).toBeTruthy();
    expect(gets[0]?.query.get('$top')).toBe('999');
    expect(gets[0]?.query.get('$select')).toBe('id,displayName,groupTypes,isAssignableToRole,membershipRule,mailEnabled,securityEnabled,onPremisesSyncEnabled');
  });

  it('a connection test passes with the right secret and fails clearly with a wrong one', async () => {
    await expect(idp.testConnection()).resolves.toBeUndefined();
    const wrong = new EntraIdentityProvider({ ...graph.connectorOptions(), clientSecret: 'nope' });
    await expect(wrong.testConnection()).rejects.toThrow(/refused the app's credentials .* while testing the Microsoft Entra ID connection: AADSTS7000215/);
  });
});

describe('listMembers', () => {
  it('lists direct user members with lower-case emails, by mail or else sign-in name', async () => {
    const bobId = graph.addUser({ mail: 'Bob.Jones@EXAMPLE.com' });
    const upnOnly = graph.addUser({ mail: 'c.lee@contoso.example', userPrincipalName: 'Chris.Lee@Example.com' });
    graph.addUser({ mail: 'not.in.group@example.com' });
    for (const mail of ['alice.smith@example.com', 'bob.jones@example.com', 'c.lee@contoso.example']) graph.addMembership(groupId, mail);
    expect(await idp.listMembers(groupId)).toEqual([
      { id: aliceId, email: 'alice.smith@example.com' },
      { id: bobId, email: 'bob.jones@example.com' },
      { id: upnOnly, email: 'c.lee@contoso.example' },
    ]);
    const get = graphCalls('GET').find((r) => r.path.includes('/members'));
    expect(get?.path).toBe(`/v1.0/groups/${groupId}/members/microsoft.graph.user`);
    expect(get?.query.get('$select')).toBe('id,mail,userPrincipalName');
  });

  it('follows @odata.nextLink when the group has more members than one page', async () => {
    await graph.close();
    graph = await startFakeGraph({ maxPageSize: 2 });
    idp = new EntraIdentityProvider(graph.connectorOptions());
    const group = graph.addGroup({ displayName: 'reviewed' });
    const mails = ['A.One@Example.com', 'b.two@example.com', 'C.Three@example.com', 'D.Four@Example.COM', 'e.five@example.com'];
    for (const mail of mails) {
      graph.addUser({ mail });
      graph.addMembership(group, mail);
    }
    expect((await idp.listMembers(group)).map((m) => m.email)).toEqual(mails.map((m) => m.toLowerCase()));
    const pages = graphCalls('GET').filter((r) => r.path === `/v1.0/groups/${group}/members/microsoft.graph.user`);
    expect(pages).toHaveLength(3);
    expect(pages[0]?.query.get('$top')).toBe('999');
    expect(pages[2]?.query.get('$skiptoken')).toBeTruthy();
  });

  it('an unknown group is a PermanentError naming the group; a non-GUID id is refused before any call', async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    const { err } = await failure(() => idp.listMembers(missing));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain(`Microsoft Entra ID has no group with id ${missing}`);
    const calls = graphCalls().length;
    const bad = await failure(() => idp.listMembers('../users'));
    expect(bad.err).toBeInstanceOf(PermanentError);
    expect(bad.err.message).toContain('"../users" is not a Microsoft Entra group object id');
    expect(graphCalls()).toHaveLength(calls);
  });
});
