/**
 * The Okta connector driving the real @okta/okta-sdk-nodejs client against the simulated Okta API
 * on 127.0.0.1.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../shared/errors.js';
import { OktaIdentityProvider } from '../../shared/connectors/okta.js';
import { startFakeOkta, type FakeOkta } from '../../infra/local/sandbox/okta.js';
import { failure } from '../support/failure.js';
import { aliceAsRead, CAROL, carolReviewed, CAROL_LAST_LOGIN, expectLastLoginOnceSignedIn } from '../support/idp-profiles.js';
import { virtualTime, type VirtualTime } from '../support/virtual-time.js';

let okta: FakeOkta;
let idp: OktaIdentityProvider;
let groupId: string;
let aliceId: string;
let time: VirtualTime;

beforeEach(async () => {
  okta = await startFakeOkta({ token: 'test-token' });
  time = virtualTime();
  idp = new OktaIdentityProvider({ orgUrl: okta.url, token: 'test-token', sleep: time.sleep });
  groupId = okta.addGroup({ name: 'prod-db-readers' });
  okta.addUser({ email: 'Boss@Example.com', firstName: 'Bea', lastName: 'Boss' });
  aliceId = okta.addUser({ email: 'Alice.Smith@Example.com', managerId: 'boss@example.com' });
});

afterEach(async () => {
  await okta.close();
});

const rateLimited = (resetInSeconds: number) => ({
  status: 429,
  headers: { 'X-Rate-Limit-Limit': '600', 'X-Rate-Limit-Remaining': '0', 'X-Rate-Limit-Reset': String(Math.floor(Date.now() / 1000) + resetInSeconds) },
  body: {
    errorCode: 'E0000047',
    errorSummary: 'API call exceeded rate limit due to too many requests.',
    errorLink: 'E0000047',
    errorId: 'oae1',
    errorCauses: [],
  },
});

describe('looking people up', () => {
  it('finds a user whatever the case of the email typed', async () => {
    const user = await idp.findUserByEmail('ALICE.smith@example.COM');
    expect(user).toMatchObject({ id: aliceId, email: 'alice.smith@example.com', active: true });
  });

  it('returns nothing for an email Okta does not know', async () => {
    expect(await idp.findUserByEmail('nobody@example.com')).toBeUndefined();
  });

  it('reports deactivated and suspended accounts as inactive', async () => {
    okta.addUser({ email: 'gone@example.com', status: 'DEPROVISIONED' });
    okta.addUser({ email: 'paused@example.com', status: 'SUSPENDED' });
    okta.addUser({ email: 'locked@example.com', status: 'LOCKED_OUT' });
    expect((await idp.findUserByEmail('gone@example.com'))?.active).toBe(false);
    expect((await idp.findUserByEmail('paused@example.com'))?.active).toBe(false);
    expect((await idp.findUserByEmail('locked@example.com'))?.active).toBe(true);
  });

  it('gives the manager email when managerId is an email', async () => {
    expect((await idp.findUserByEmail('alice.smith@example.com'))?.managerEmail).toBe('boss@example.com');
  });

  it('resolves the manager email when managerId is an Okta user id', async () => {
    const managerId = okta.addUser({ email: 'Carol.Lead@example.com' });
    okta.addUser({ email: 'dave@example.com', managerId });
    expect((await idp.findUserByEmail('dave@example.com'))?.managerEmail).toBe('carol.lead@example.com');
  });

  it('has no manager email when the user has no manager or it points at nobody', async () => {
    okta.addUser({ email: 'orphan@example.com', managerId: '00uDoesNotExist00000' });
    expect((await idp.findUserByEmail('boss@example.com'))?.managerEmail).toBeUndefined();
    expect((await idp.findUserByEmail('orphan@example.com'))?.managerEmail).toBeUndefined();
  });

  it('picks the live account when an old deactivated one shares the email', async () => {
    okta.addUser({ email: 'rehire@example.com', login: 'rehire-2019@example.com', status: 'DEPROVISIONED' });
    const current = okta.addUser({ email: 'rehire@example.com' });
    expect(await idp.findUserByEmail('rehire@example.com')).toMatchObject({ id: current, active: true });
  });
});

describe('reading an account by id (strongly consistent)', () => {
  it('reads the user by id with the same fields as the email lookup', async () => {
    expect(await idp.getUser(aliceId)).toEqual(aliceAsRead(aliceId));
    expect(okta.fake.requests.some((r) => r.method === 'GET' && r.path === `/api/v1/users/${aliceId}`)).toBe(true);
  });

  it('returns nothing for a user Okta does not have (404 E0000007)', async () => {
    expect(await idp.getUser('00uDoesNotExist00000')).toBeUndefined();
  });

  it('sees a suspension at once while search still reports the account active (search is eventually consistent)', async () => {
    okta.setUserStatus(aliceId, 'SUSPENDED', { staleSearch: true });

    expect((await idp.findUserByEmail('alice.smith@example.com'))?.active).toBe(true); // the stale index, as Okta warns
    expect(await idp.getUser(aliceId)).toMatchObject({ id: aliceId, active: false });
    okta.settleSearch();
    expect((await idp.findUserByEmail('alice.smith@example.com'))?.active).toBe(false);
  });

  it('maps failures of the read like every other call', async () => {
    okta.fake.injectFault({
      method: 'GET',
      path: `/api/v1/users/${aliceId}`,
      status: 500,
      body: { errorCode: 'E0000009', errorSummary: 'Internal Server Error', errorLink: 'E0000009', errorId: 'oae3', errorCauses: [] },
    });
    const { err } = await failure(() => idp.getUser(aliceId));
    expect(err).toBeInstanceOf(RetryableError);
    expect(err.message).toMatch(/^Okta failed with HTTP 500 while reading the Okta user /);
    const wrong = new OktaIdentityProvider({ orgUrl: okta.url, token: 'revoked-token' });
    await expect(wrong.getUser(aliceId)).rejects.toThrow(PermanentError);
  });
});

describe('the account as an access review shows it (reviewProfile)', () => {
  it('reads name, title, department and lastLogin from the one GET by id; a person who never signed in (lastLogin null) has none', async () => {
    const carolId = okta.addUser({ ...CAROL, displayName: 'Carol J. Jones', lastLogin: CAROL_LAST_LOGIN });
    const before = okta.fake.requests.length;

    expect(await idp.reviewProfile(carolId)).toEqual(carolReviewed(carolId, 'Carol J. Jones'));
    expect(okta.fake.requests.slice(before).map((r) => `${r.method} ${r.path}`)).toEqual([`GET /api/v1/users/${carolId}`]);
    // The search returns the same user record: the lookup by email carries the same profile.
    expect((await idp.findUserByEmail(CAROL.email))?.profile?.lastLogin).toBe(CAROL_LAST_LOGIN);

    // Alice never signed in, and has no displayName: firstName and lastName name her.
    await expectLastLoginOnceSignedIn(idp, aliceId, 'Alice Smith', (at) => okta.setLastLogin('alice.smith@example.com', at));
    expect(await idp.reviewProfile('00uDoesNotExist00000')).toBeUndefined();
  });
});

describe("a person's end date (the catalog's endDates.okta)", () => {
  const withEndDates = () => new OktaIdentityProvider({ orgUrl: okta.url, token: 'test-token', sleep: time.sleep, endDateAttribute: 'endDate' });

  it('reads the named custom profile attribute in the lookup by email and in the read by id', async () => {
    const ninaId = okta.addUser({ email: 'nina.contractor@example.com', attributes: { endDate: '2026-03-31' } });
    const reader = withEndDates();

    expect(await reader.findUserByEmail('nina.contractor@example.com')).toMatchObject({ id: ninaId, endDate: '2026-03-31' });
    expect(await reader.getUser(ninaId)).toMatchObject({ id: ninaId, endDate: '2026-03-31' });
  });

  it('sees a changed end date at once in the read by id', async () => {
    const ninaId = okta.addUser({ email: 'nina.contractor@example.com', attributes: { endDate: '2026-03-31' } });
    okta.setAttributes(ninaId, { endDate: '2026-03-10' });

    expect((await withEndDates().getUser(ninaId))?.endDate).toBe('2026-03-10');
  });

  it('a person without the attribute (or with it empty) has no end date', async () => {
    okta.addUser({ email: 'empty@example.com', attributes: { endDate: '  ' } });
    const reader = withEndDates();

    expect(await reader.getUser(aliceId)).toEqual(aliceAsRead(aliceId));
    expect((await reader.findUserByEmail('empty@example.com'))?.endDate).toBeUndefined();
  });

  it('without an attribute named, no end date is read, even when the profile has one', async () => {
    okta.addUser({ email: 'nina.contractor@example.com', attributes: { endDate: '2026-03-31' } });

    expect((await idp.findUserByEmail('nina.contractor@example.com'))?.endDate).toBeUndefined();
  });
});

describe('granting and revoking group membership', () => {
  it('adds the user to the group', async () => {
    expect(await idp.addMember(groupId, aliceId)).toBe('added');
    expect(okta.members(groupId)).toEqual(['alice.smith@example.com']);
    expect(await idp.isMember(groupId, aliceId)).toBe(true);
  });

  it('treats adding an existing member as already done, keeping a single membership', async () => {
    okta.addMembership(groupId, 'alice.smith@example.com');
    expect(await idp.addMember(groupId, aliceId)).toBe('already_member');
    expect(okta.members(groupId)).toEqual(['alice.smith@example.com']);
    expect(okta.fake.requests.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });

  it('removes the user from the group', async () => {
    okta.addMembership(groupId, 'alice.smith@example.com');
    expect(await idp.removeMember(groupId, aliceId)).toBe('removed');
    expect(okta.members(groupId)).toEqual([]);
    expect(await idp.isMember(groupId, aliceId)).toBe(false);
  });

  it('treats removing a non-member, or from a deleted group, as already done', async () => {
    expect(await idp.removeMember(groupId, aliceId)).toBe('already_absent');
    expect(await idp.removeMember('00gDeletedGroup00000', aliceId)).toBe('already_absent');
    expect(okta.fake.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0);
  });

  it('refuses an unknown user with a message naming the user', async () => {
    const { err } = await failure(() => idp.addMember(groupId, '00uNoSuchUser0000000'));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toBe(
      `Okta has no user with id 00uNoSuchUser0000000 (found while adding user 00uNoSuchUser0000000 to Okta group ${groupId}).`,
    );
  });

  it('refuses an unknown group with a message naming the group', async () => {
    const { err } = await failure(() => idp.addMember('00gNoSuchGroup000000', aliceId));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(/^Okta has no group with id 00gNoSuchGroup000000 /);
  });

  it('refuses to change an app-imported group, and leaves it untouched', async () => {
    const adGroup = okta.addGroup({ name: 'AD Domain Admins', type: 'APP_GROUP' });
    const { err } = await failure(() => idp.addMember(adGroup, aliceId));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(/"AD Domain Admins".*APP_GROUP.*only lets the API change the members of OKTA_GROUP groups/);
    expect(okta.members(adGroup)).toEqual([]);
  });
});

describe("ending a person's sessions", () => {
  it('clears the sessions and OAuth tokens of a known user, says no_account for an unknown one, and waits out a short rate limit', async () => {
    expect(await idp.endSessions(aliceId)).toBe('ended');
    expect(okta.sessionsEnded('alice.smith@example.com')).toHaveLength(1);
    const [revoke] = okta.fake.requests.filter((r) => r.method === 'DELETE');
    expect(`${revoke?.path}?${revoke?.query.toString()}`).toBe(`/api/v1/users/${aliceId}/sessions?oauthTokens=true&forgetDevices=false`);

    expect(await idp.endSessions('00uDoesNotExist00000')).toBe('no_account');

    okta.fake.injectFault({ method: 'DELETE', path: '/api/v1/users/', ...rateLimited(2) });
    expect(await idp.endSessions(aliceId)).toBe('ended');
    expect(time.sleeps).toHaveLength(1);
    expect(okta.sessionsEnded(aliceId)).toHaveLength(2);
  });
});

describe('when Okta refuses or struggles', () => {
  it('reports a wrong API token as a permanent refusal', async () => {
    const wrong = new OktaIdentityProvider({ orgUrl: okta.url, token: 'revoked-token' });
    const { err } = await failure(() => wrong.findUserByEmail('alice.smith@example.com'));
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(/^Okta refused the API token while looking up .*HTTP 401 \(E0000011: Invalid token provided\)/);
  });

  it('waits out a rate limit that resets within a second or two, then succeeds', async () => {
    okta.fake.injectFault({ method: 'PUT', path: '/api/v1/groups/', ...rateLimited(2) });
    expect(await idp.addMember(groupId, aliceId)).toBe('added');
    // One wait until the reset (+ 1 s, as the SDK adds), on the Date header's whole seconds.
    expect(time.sleeps).toHaveLength(1);
    expect(time.now()).toBeGreaterThanOrEqual(1_000);
    expect(time.now()).toBeLessThanOrEqual(3_000);
    expect(okta.members(groupId)).toEqual(['alice.smith@example.com']);
    const puts = okta.fake.requests.filter((r) => r.method === 'PUT');
    expect(puts).toHaveLength(2);
    expect(puts[1]?.headers['x-okta-retry-count']).toBe('1');
  });

  it('hands a long rate-limit wait back as retryable, without waiting', async () => {
    okta.fake.injectFault({ path: '/api/v1/users', ...rateLimited(120) });
    const { err } = await failure(() => idp.findUserByEmail('alice.smith@example.com'));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as RetryableError).retryAfterMs).toBeGreaterThan(118_000);
    expect((err as RetryableError).retryAfterMs).toBeLessThanOrEqual(121_000);
    expect((err as Error).message).toMatch(/^Okta's rate limit was reached while looking up .*; it will be retried in about 1[12]\d s\.$/);
    expect(time.now()).toBe(0);
    expect(okta.fake.requests).toHaveLength(1);
  });

  it('gives up waiting once the total wait would exceed maxWaitMs', async () => {
    const patient = new OktaIdentityProvider({ orgUrl: okta.url, token: 'test-token', maxWaitMs: 500, sleep: time.sleep });
    okta.fake.injectFault({ path: '/api/v1/users', ...rateLimited(1) });
    const { err } = await failure(() => patient.findUserByEmail('alice.smith@example.com'));
    expect(err).toBeInstanceOf(RetryableError);
    expect(time.now()).toBe(0); // the wait (at least 1 s) would exceed 500 ms: not slept at all
    expect(okta.fake.requests).toHaveLength(1);
  });

  it('reports an Okta server error as retryable', async () => {
    okta.fake.injectFault({
      method: 'PUT',
      path: '/api/v1/groups/',
      status: 500,
      body: { errorCode: 'E0000009', errorSummary: 'Internal Server Error', errorLink: 'E0000009', errorId: 'oae2', errorCauses: [] },
    });
    const { err } = await failure(() => idp.addMember(groupId, aliceId));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toMatch(/^Okta failed with HTTP 500 while adding user .* \(E0000009: Internal Server Error\); this is usually temporary\.$/);
    expect(okta.members(groupId)).toEqual([]);
  });

  it('reports Okta being unreachable as retryable', async () => {
    await okta.close();
    const { err } = await failure(() => idp.isMember(groupId, aliceId));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as Error).message).toMatch(/^Could not reach Okta at http:\/\/127\.0\.0\.1:\d+ while checking whether/);
  });
});

describe('catalog sync support', () => {
  it('lists every group, marking the ones the API cannot change', async () => {
    const groups = await idp.listGroups();
    expect(groups).toEqual(
      expect.arrayContaining([
        { id: groupId, name: 'prod-db-readers', manageable: true },
        { id: okta.everyoneGroupId, name: 'Everyone', manageable: false },
      ]),
    );
  });

  it('a connection test passes with the right token and fails clearly with a wrong one', async () => {
    await expect(idp.testConnection()).resolves.toBeUndefined();
    const wrong = new OktaIdentityProvider({ orgUrl: okta.url, token: 'nope' });
    await expect(wrong.testConnection()).rejects.toThrow(/Okta refused the API token while testing the Okta connection/);
  });
});

describe('listMembers', () => {
  it('lists direct members with lower-case emails', async () => {
    const bobId = okta.addUser({ email: 'Bob.Jones@EXAMPLE.com' });
    okta.addUser({ email: 'not.in.group@example.com' });
    okta.addMembership(groupId, 'alice.smith@example.com');
    okta.addMembership(groupId, 'bob.jones@example.com');
    expect(await idp.listMembers(groupId)).toEqual([
      { id: aliceId, email: 'alice.smith@example.com' },
      { id: bobId, email: 'bob.jones@example.com' },
    ]);
  });

  it('follows Okta\'s Link rel="next" pages when the group has more members than one page', async () => {
    // The fake pages at most 200 users (Okta's default `limit` for group members).
    const emails = Array.from({ length: 205 }, (_, i) => `Hire${i}@Example.com`);
    for (const email of emails) {
      okta.addUser({ email });
      okta.addMembership(groupId, email);
    }
    const members = await idp.listMembers(groupId);
    expect(members.map((m) => m.email)).toEqual(emails.map((e) => e.toLowerCase()));
    const pages = okta.fake.requests.filter((r) => r.method === 'GET' && r.path === `/api/v1/groups/${groupId}/users`);
    expect(pages).toHaveLength(2);
    expect(pages[1]?.query.get('after')).toBeTruthy();
  });

  it('an unknown group is a PermanentError naming the group', async () => {
    const { err } = await failure(() => idp.listMembers('00gnosuchgroup'));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err.message).toMatch(/Okta has no group with id 00gnosuchgroup \(found while listing the members of Okta group 00gnosuchgroup\)/);
  });
});
