/**
 * The Google Workspace connector driving the real @googleapis/admin client (gaxios underneath)
 * against the simulated Directory API on 127.0.0.1. Auth is an injected OAuth2Client holding the
 * fake's static access token, so nothing ever goes to Google's fixed token endpoint.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { auth } from '@googleapis/admin';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../shared/errors.js';
import { GoogleIdentityProvider, type GoogleOptions } from '../../shared/connectors/google.js';
import { googleError, startFakeGoogleAdmin, userRateLimitExceeded, type FakeGoogleAdmin } from '../../infra/local/sandbox/google.js';
import { failure } from '../support/failure.js';
import { aliceAsRead, CAROL, carolReviewed, CAROL_LAST_LOGIN, expectLastLoginOnceSignedIn } from '../support/idp-profiles.js';
import { virtualTime, type VirtualTime } from '../support/virtual-time.js';

const DIRECTORY = '/admin/directory/v1';

let google: FakeGoogleAdmin;
let idp: GoogleIdentityProvider;
let groupId: string;
let aliceId: string;
let time: VirtualTime;

/** An auth client with a static token that never expires, so it never tries to refresh. */
function staticToken(token: string) {
  const client = new auth.OAuth2();
  client.setCredentials({ access_token: token, token_type: 'Bearer', expiry_date: Date.now() + 365 * 24 * 3600_000 });
  return client;
}

function provider(extra: Partial<GoogleOptions> = {}): GoogleIdentityProvider {
  return new GoogleIdentityProvider({ rootUrl: google.url, auth: staticToken(google.token), sleep: time.sleep, ...extra });
}

beforeEach(async () => {
  google = await startFakeGoogleAdmin({ token: 'test-access-token' });
  time = virtualTime();
  idp = provider();
  groupId = google.addGroup({ email: 'prod-db-readers@example.com', name: 'Prod DB readers' });
  google.addUser({ email: 'Boss@Example.com', givenName: 'Bea', familyName: 'Boss' });
  aliceId = google.addUser({ email: 'Alice.Smith@Example.com', managerEmail: 'Boss@Example.com', aliases: ['alice@example.com'] });
});

afterEach(async () => {
  await google.close();
});

const requestsTo = (method: string, path: RegExp) => google.fake.requests.filter((r) => r.method === method && path.test(r.path));

describe('looking people up', () => {
  it('finds a user whatever the case of the email typed, and by alias', async () => {
    const user = await idp.findUserByEmail('ALICE.smith@example.COM');
    expect(user).toEqual(aliceAsRead(aliceId));
    expect((await idp.findUserByEmail('Alice@EXAMPLE.com'))?.id).toBe(aliceId);
    expect(google.fake.requests[0]?.headers.authorization).toBe('Bearer test-access-token');
  });

  it('returns nothing for an unknown email, or for something that is not an email', async () => {
    expect(await idp.findUserByEmail('nobody@example.com')).toBeUndefined();
    expect(await idp.findUserByEmail(aliceId)).toBeUndefined(); // users.get would match the id
    expect(requestsTo('GET', /\/users\//)).toHaveLength(1);
  });

  it('reports suspended and archived accounts as inactive', async () => {
    google.addUser({ email: 'paused@example.com', suspended: true });
    google.addUser({ email: 'left@example.com', archived: true });
    expect((await idp.findUserByEmail('paused@example.com'))?.active).toBe(false);
    expect((await idp.findUserByEmail('left@example.com'))?.active).toBe(false);
  });

  it('takes the manager from relations, and has none when there is no manager relation', async () => {
    expect((await idp.findUserByEmail('alice.smith@example.com'))?.managerEmail).toBe('boss@example.com');
    const boss = await idp.findUserByEmail('boss@example.com');
    expect(boss).toBeDefined();
    expect(boss?.managerEmail).toBeUndefined();
  });

  it('explains a 403 for an address outside the account without blaming only the delegation', async () => {
    const { err } = await failure(() => idp.findUserByEmail('someone@gmail.com'));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(
      /^Google refused the request while looking up the Google Workspace user someone@gmail\.com: HTTP 403 \(forbidden: Not Authorized to access this resource\/api\)\. Check domain-wide delegation/,
    );
    expect(err.message).toMatch(/someone@gmail\.com may simply not be a Workspace user here\.$/);
  });
});

describe('the account as an access review shows it (reviewProfile)', () => {
  it("reads the full name, the primary organization's title and department, and lastLoginTime from users.get; the epoch Google answers for never is no last sign-in", async () => {
    const carolId = google.addUser({
      email: CAROL.email,
      givenName: 'Carol',
      familyName: 'Jones',
      organizations: [
        { name: 'Acme', title: 'Intern', department: 'Sales' },
        { name: 'Acme', title: CAROL.title, department: CAROL.department, primary: true },
      ],
      lastLoginTime: CAROL_LAST_LOGIN,
    });
    const before = google.fake.requests.length;

    expect(await idp.reviewProfile(carolId)).toEqual(carolReviewed(carolId));
    const reads = google.fake.requests.slice(before);
    expect(reads.map((r) => `${r.method} ${r.path}`)).toEqual([`GET ${DIRECTORY}/users/${carolId}`]);
    expect(reads[0]?.query.get('projection') ?? 'basic').toBe('basic');

    // Alice never signed in: users.get says 1970-01-01T00:00:00.000Z, which is no last sign-in.
    await expectLastLoginOnceSignedIn(idp, aliceId, 'Alice Smith', (at) => google.setLastLogin('alice@example.com', at));
    expect((await idp.findUserByEmail('alice.smith@example.com'))?.profile?.lastLogin).toBe('2026-03-01T09:00:00.000Z');
    expect(await idp.reviewProfile('100000000000000000099')).toBeUndefined();
  });
});

describe('reading an account by id (strongly consistent)', () => {
  it('reads the user with users.get by id, with the same fields as the email lookup', async () => {
    expect(await idp.getUser(aliceId)).toEqual(aliceAsRead(aliceId));
    expect(requestsTo('GET', new RegExp(`/users/${aliceId}$`))).toHaveLength(1);
  });

  it('returns nothing for a deleted user (404 userKey), and never matches an email', async () => {
    expect(await idp.getUser('100000000000000000099')).toBeUndefined();
    expect(await idp.getUser('alice.smith@example.com')).toBeUndefined();
    expect(requestsTo('GET', /\/users\//)).toHaveLength(1);
  });

  it('sees a suspension at once while users.list still reports the account active', async () => {
    google.setSuspended(aliceId, true, { staleSearch: true });

    const index = await fetch(`${google.url}admin/directory/v1/users?customer=my_customer`, { headers: { authorization: 'Bearer test-access-token' } });
    const stale = ((await index.json()) as { users: Array<{ id: string; suspended: boolean }> }).users.find((u) => u.id === aliceId);
    expect(stale?.suspended).toBe(false); // the lagging list
    expect(await idp.getUser(aliceId)).toMatchObject({ id: aliceId, active: false });
    expect((await idp.findUserByEmail('alice.smith@example.com'))?.active).toBe(false); // users.get by email reads the account too
  });

  it('maps failures of the read like every other call', async () => {
    const impatient = provider({ maxWaitMs: 0 });
    google.fake.injectFault({ method: 'GET', path: `${DIRECTORY}/users/${aliceId}`, ...googleError(500, 'Backend Error', 'backendError') });
    const { err } = await failure(() => impatient.getUser(aliceId));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.message).toMatch(/^Google failed with HTTP 500 \(backendError: Backend Error\) while reading the Google Workspace user /);
  });
});

describe("a person's end date (a custom user field, the catalog's endDates.google)", () => {
  const withEndDates = () => provider({ endDateField: 'HR.endDate' });
  let ninaId: string;
  beforeEach(() => {
    ninaId = google.addUser({
      email: 'nina.contractor@example.com',
      customSchemas: { HR: { endDate: '2026-03-31', costCenter: 'CC-7' }, Travel: { badge: 'B-1' } },
    });
  });

  it('asks users.get for projection=custom with only its schema in customFieldMask, by email and by id, and reads the field', async () => {
    const reader = withEndDates();

    expect(await reader.findUserByEmail('nina.contractor@example.com')).toMatchObject({ id: ninaId, endDate: '2026-03-31' });
    expect(await reader.getUser(ninaId)).toMatchObject({ id: ninaId, endDate: '2026-03-31' });
    const asked = requestsTo('GET', /\/users\/[^/]+$/).map((r) => [r.query.get('projection'), r.query.get('customFieldMask')]);
    expect(asked).toEqual([
      ['custom', 'HR'],
      ['custom', 'HR'],
    ]);
  });

  it('custom fields come back only when asked for: a lookup that does not ask gets no end date', async () => {
    expect((await idp.getUser(ninaId))?.endDate).toBeUndefined();
    expect(requestsTo('GET', /\/users\/[^/]+$/)[0]?.query.get('projection')).toBeNull();
    const get = async (query: string) =>
      (await (
        await fetch(`${google.url}admin/directory/v1/users/${ninaId}${query}`, { headers: { authorization: 'Bearer test-access-token' } })
      ).json()) as Record<string, unknown>;
    expect(await get('')).not.toHaveProperty('customSchemas');
    expect((await get('?projection=custom&customFieldMask=HR')).customSchemas).toEqual({ HR: { endDate: '2026-03-31', costCenter: 'CC-7' } });
    expect((await get('?projection=full')).customSchemas).toEqual({ HR: { endDate: '2026-03-31', costCenter: 'CC-7' }, Travel: { badge: 'B-1' } });
  });

  it('a person without the field has no end date; a changed one is seen at once', async () => {
    google.setCustomField(ninaId, 'HR', 'endDate', '2026-03-10');

    expect((await withEndDates().getUser(aliceId))?.endDate).toBeUndefined();
    expect((await withEndDates().getUser(ninaId))?.endDate).toBe('2026-03-10');
  });

  it('a multi-valued field gives its earliest value', async () => {
    google.setCustomField(ninaId, 'HR', 'endDate', [{ value: '2026-06-30' }, { value: '2026-04-15', type: 'work' }]);

    expect((await withEndDates().getUser(ninaId))?.endDate).toBe('2026-04-15');
  });

  it('refuses a field that is not <custom schema>.<field>', () => {
    expect(() => provider({ endDateField: 'endDate' })).toThrow(/"endDate" is not <custom schema>\.<field>/);
  });
});

describe('granting and revoking group membership', () => {
  it('adds the user to the group', async () => {
    expect(await idp.isMember(groupId, aliceId)).toBe(false);
    expect(await idp.addMember(groupId, aliceId)).toBe('added');
    expect(google.members(groupId)).toEqual(['alice.smith@example.com']);
    expect(await idp.isMember(groupId, aliceId)).toBe(true);
    const [insert] = requestsTo('POST', /\/members$/);
    expect(insert?.body).toEqual({ email: 'alice.smith@example.com', role: 'MEMBER' });
  });

  it('accepts the group email as well as its id', async () => {
    expect(await idp.addMember('Prod-DB-Readers@example.com', aliceId)).toBe('added');
    expect(await idp.isMember('prod-db-readers@example.com', aliceId)).toBe(true);
  });

  it('treats 409 "Member already exists." as already a member, keeping one membership', async () => {
    google.addMembership(groupId, 'alice.smith@example.com');
    expect(await idp.addMember(groupId, aliceId)).toBe('already_member');
    expect(google.members(groupId)).toEqual(['alice.smith@example.com']);
    expect(requestsTo('POST', /\/members$/)).toHaveLength(1);
  });

  it('removes the user from the group', async () => {
    google.addMembership(groupId, 'alice.smith@example.com');
    expect(await idp.removeMember(groupId, aliceId)).toBe('removed');
    expect(google.members(groupId)).toEqual([]);
    expect(await idp.isMember(groupId, aliceId)).toBe(false);
    expect(requestsTo('DELETE', new RegExp(`^${DIRECTORY}/groups/${groupId}/members/${aliceId}$`))).toHaveLength(1);
  });

  it('treats removing a non-member as already done, after checking the group exists', async () => {
    expect(await idp.removeMember(groupId, aliceId)).toBe('already_absent');
    expect(requestsTo('GET', new RegExp(`^${DIRECTORY}/groups/${groupId}$`))).toHaveLength(1);
  });

  it('refuses a group that does not exist, for add, remove and membership checks', async () => {
    const missing = 'deleted-group@example.com';
    for (const call of [() => idp.addMember(missing, aliceId), () => idp.removeMember(missing, aliceId), () => idp.isMember(missing, aliceId)]) {
      const { err } = await failure(call);
      expect(err).toBeInstanceOf(PermanentError);
      expect(err.message).toMatch(
        /^Google Workspace has no group deleted-group@example\.com \(found while .*\)\. Check the group id or email mapped in the catalog\.$/,
      );
    }
    expect(google.fake.requests.filter((r) => r.method === 'DELETE' || r.method === 'POST').length).toBeLessThanOrEqual(2);
  });

  it('refuses an unknown user with a message naming the user', async () => {
    const { err } = await failure(() => idp.addMember(groupId, '100000000000000000001'));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toBe(`Google Workspace has no user 100000000000000000001 (found while adding user 100000000000000000001 to Google group ${groupId}).`);
    expect(google.members(groupId)).toEqual([]);
  });
});

describe("ending a person's sessions", () => {
  it('signs a known user out, says no_account for an unknown one, and waits out a 429 with Retry-After', async () => {
    expect(await idp.endSessions(aliceId)).toBe('ended');
    expect(google.sessionsEnded('alice.smith@example.com')).toHaveLength(1);
    expect(requestsTo('POST', new RegExp(`^${DIRECTORY}/users/${aliceId}/signOut$`))).toHaveLength(1);

    expect(await idp.endSessions('100000000000000000001')).toBe('no_account');

    google.fake.injectFault({
      method: 'POST',
      path: `${DIRECTORY}/users/`,
      ...googleError(429, 'Too many requests', 'rateLimitExceeded', { headers: { 'Retry-After': '1' } }),
    });
    expect(await idp.endSessions(aliceId)).toBe('ended');
    expect(time.sleeps).toEqual([1_000]);
    expect(google.sessionsEnded(aliceId)).toHaveLength(2);
  });
});

describe('when Google refuses or struggles', () => {
  it('reports a wrong token as a permanent refusal pointing at delegation and scopes', async () => {
    const wrong = provider({ auth: staticToken('revoked-token') });
    const { err } = await failure(() => wrong.findUserByEmail('alice.smith@example.com'));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(
      /^Google refused the request while looking up the Google Workspace user alice\.smith@example\.com: HTTP 401 \(authError: Request had invalid authentication credentials\./,
    );
    expect(err.message).toMatch(/Check domain-wide delegation for the service account \(scopes .*admin\.directory\.group\.member/);
    expect(google.fake.requests).toHaveLength(1); // no retry, no refresh attempt
  });

  it('waits out a 403 userRateLimitExceeded and succeeds: a rate limit, not an authorization failure', async () => {
    google.fake.injectFault({ method: 'POST', path: `${DIRECTORY}/groups/`, ...userRateLimitExceeded() });
    expect(await idp.addMember(groupId, aliceId)).toBe('added');
    expect(time.sleeps).toHaveLength(1);
    expect(time.sleeps[0]).toBeGreaterThanOrEqual(1_000); // exponential backoff starts at 1 s, plus up to 0.5 s of jitter
    expect(time.sleeps[0]).toBeLessThan(1_500);
    expect(requestsTo('POST', /\/members$/)).toHaveLength(2);
    expect(google.members(groupId)).toEqual(['alice.smith@example.com']);
  });

  it('hands a persistent 403 rate limit back as retryable once the wait budget is spent', async () => {
    const impatient = provider({ maxWaitMs: 0 });
    google.fake.injectFault({ method: 'POST', path: `${DIRECTORY}/groups/`, ...userRateLimitExceeded(), times: 5 });
    const { err } = await failure(() => impatient.addMember(groupId, aliceId));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err).not.toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(/^Google's rate limit was reached \(userRateLimitExceeded\) while adding user .*; it will be retried in about 2 s\.$/);
    expect((err as RetryableError).retryAfterMs).toBe(2_000);
    expect(time.now()).toBe(0);
  });

  it('hands a 429 with Retry-After: 120 back at once as retryable, with the wait', async () => {
    google.fake.injectFault({
      path: `${DIRECTORY}/users/`,
      ...googleError(429, 'Too many requests', 'rateLimitExceeded', { headers: { 'Retry-After': '120' } }),
      times: 10,
    });
    const { err } = await failure(() => idp.findUserByEmail('alice.smith@example.com'));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).retryAfterMs).toBe(120_000);
    expect(err.message).toMatch(/^Google's rate limit was reached \(rateLimitExceeded\) while looking up .*; it will be retried in about 120 s\.$/);
    expect(time.now()).toBe(0);
    expect(google.fake.requests).toHaveLength(1); // gaxios's own policy would have retried 3 times in 2 s
  });

  it('waits out a short Retry-After inside the call, then succeeds', async () => {
    google.fake.injectFault({
      path: `${DIRECTORY}/users/`,
      ...googleError(429, 'Too many requests', 'rateLimitExceeded', { headers: { 'Retry-After': '1' } }),
    });
    expect((await idp.findUserByEmail('alice.smith@example.com'))?.id).toBe(aliceId);
    expect(time.sleeps).toEqual([1_000]);
    expect(google.fake.requests).toHaveLength(2);
  });

  it('retries a 5xx once within the wait budget and succeeds', async () => {
    google.fake.injectFault({
      method: 'GET',
      path: `${DIRECTORY}/groups/${groupId}/members/`,
      ...googleError(503, 'The service is currently unavailable.', 'backendError'),
    });
    expect(await idp.isMember(groupId, aliceId)).toBe(false);
    expect(requestsTo('GET', /\/members\//)).toHaveLength(2);
  });

  it('stops retrying once the waits of one call would exceed maxWaitMs', async () => {
    const patient = provider({ maxWaitMs: 3_000 });
    google.fake.injectFault({ method: 'POST', path: `${DIRECTORY}/groups/`, ...userRateLimitExceeded(), times: 5 });
    const { err } = await failure(() => patient.addMember(groupId, aliceId));
    expect(err).toBeInstanceOf(RetryableError);
    // 1 s then 2 s of backoff (each plus jitter under 0.5 s): the second would pass 3 s, so only the first is slept.
    expect(time.sleeps).toHaveLength(1);
    expect(requestsTo('POST', /\/members$/)).toHaveLength(2);
  });

  it('reports a persistent 5xx as retryable, leaving the group untouched', async () => {
    const impatient = provider({ maxWaitMs: 0 });
    google.fake.injectFault({ method: 'POST', path: `${DIRECTORY}/groups/`, ...googleError(500, 'Backend Error', 'backendError'), times: 5 });
    const { err } = await failure(() => impatient.addMember(groupId, aliceId));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.message).toMatch(/^Google failed with HTTP 500 \(backendError: Backend Error\) while adding user .*; this is usually temporary\.$/);
    expect(google.members(groupId)).toEqual([]);
  });

  it('reports Google being unreachable as retryable', async () => {
    const impatient = provider({ maxWaitMs: 0 });
    await google.close();
    const { err } = await failure(() => impatient.isMember(groupId, aliceId));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.message).toMatch(/^Could not reach Google at http:\/\/127\.0\.0\.1:\d+\/ while checking whether .*ECONNREFUSED/);
  });

  it('gives up on a server that never answers after the request timeout, as retryable', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => sockets.add(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const slow = new GoogleIdentityProvider({ rootUrl: `http://127.0.0.1:${port}/`, auth: staticToken('t'), requestTimeoutMs: 300, maxWaitMs: 0 });
      const { err, ms } = await failure(() => slow.findUserByEmail('alice.smith@example.com'));
      expect(err).toBeInstanceOf(RetryableError);
      expect(err.message).toMatch(/^Google did not answer within 0\.3 s while looking up/);
      expect(ms).toBeGreaterThanOrEqual(250); // the message above names the 0.3 s timeout; no upper bound on how busy the machine is
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('catalog sync support', () => {
  it('lists every group across several pages', async () => {
    for (let i = 0; i < 204; i++) google.addGroup({ email: `team-${i}@example.com`, name: `Team ${i}` });
    const groups = await idp.listGroups();
    expect(groups).toHaveLength(205);
    expect(groups[0]).toEqual({ id: groupId, name: 'Prod DB readers', manageable: true });
    expect(new Set(groups.map((g) => g.id)).size).toBe(205);
    const lists = requestsTo('GET', new RegExp(`^${DIRECTORY}/groups$`));
    expect(lists).toHaveLength(2);
    expect(lists[0]?.query.get('customer')).toBe('my_customer');
    expect(lists[1]?.query.get('pageToken')).toBeTruthy();
  });

  it('a connection test passes with the right token and fails clearly with a wrong one', async () => {
    await expect(idp.testConnection()).resolves.toBeUndefined();
    const wrong = provider({ auth: staticToken('nope') });
    await expect(wrong.testConnection()).rejects.toThrow(/^Google refused the request while testing the Google Workspace connection: HTTP 401/);
  });
});

describe('configuration', () => {
  it('needs a service account key and an admin subject when no auth client is injected', () => {
    expect(() => new GoogleIdentityProvider({ rootUrl: google.url })).toThrow(PermanentError);
    expect(() => new GoogleIdentityProvider({ serviceAccountKey: '{"private_key": "-----BEGIN PRIVATE KEY-----', adminSubject: 'admin@example.com' })).toThrow(
      /^GOOGLE_SERVICE_ACCOUNT_KEY is not valid JSON; .*file\.$/,
    );
    expect(
      () =>
        new GoogleIdentityProvider({
          serviceAccountKey: JSON.stringify({
            type: 'service_account',
            client_email: 'sa@p.iam.gserviceaccount.com',
            private_key: '-----BEGIN PRIVATE KEY-----\\nMII\\n-----END PRIVATE KEY-----\\n',
          }),
          adminSubject: 'admin@example.com',
        }),
    ).not.toThrow();
  });

  it('refuses a root URL with a path, which the Google client would silently drop', () => {
    expect(() => provider({ rootUrl: `${google.url}proxy/google/` })).toThrow(/only uses its scheme, host and port/);
    expect(() => provider({ rootUrl: google.url.replace(/\/$/, '') })).not.toThrow();
  });
});

describe('listMembers', () => {
  it('lists direct user members with lower-case emails, leaving out nested groups', async () => {
    const zedId = google.addUser({ email: 'Zed.Zulu@Example.COM' });
    google.addUser({ email: 'Bob.Jones@example.com' });
    google.addGroup({ email: 'nested-team@example.com', name: 'Nested team' });
    google.addMembership(groupId, 'alice.smith@example.com');
    google.addMembership(groupId, 'Zed.Zulu@Example.COM');
    google.addMembership(groupId, 'nested-team@example.com');
    google.addMembership('nested-team@example.com', 'bob.jones@example.com'); // only an indirect member
    expect(await idp.listMembers(groupId)).toEqual([
      { id: aliceId, email: 'alice.smith@example.com' },
      { id: zedId, email: 'zed.zulu@example.com' },
    ]);
  });

  it('follows nextPageToken when the group has more members than one page', async () => {
    // The connector asks for maxResults=200, the Directory API's maximum for members.list.
    const emails = Array.from({ length: 205 }, (_, i) => `Hire${i}@Example.com`);
    for (const email of emails) {
      google.addUser({ email });
      google.addMembership(groupId, email);
    }
    expect((await idp.listMembers(groupId)).map((m) => m.email)).toEqual(emails.map((e) => e.toLowerCase()));
    const pages = requestsTo('GET', new RegExp(`^${DIRECTORY}/groups/${groupId}/members$`));
    expect(pages.map((r) => r.query.get('maxResults'))).toEqual(['200', '200']);
    expect(pages[1]?.query.get('pageToken')).toBeTruthy();
  });

  it('an unknown group is a PermanentError naming the group', async () => {
    const { err } = await failure(() => idp.listMembers('no-such-group@example.com'));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toContain(
      'Google Workspace has no group no-such-group@example.com (found while listing the members of Google group no-such-group@example.com)',
    );
  });
});
