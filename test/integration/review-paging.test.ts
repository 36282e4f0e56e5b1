/**
 * GET /reviews/{app} answers one page at a time, like the other list routes: each role's active grants
 * (paged in DynamoDB), then its group's members outside Grantline (by email), at most `limit` of them
 * per page, with an opaque cursor that is checked before anything is read.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testCatalog } from '../support/catalog.js';
import { ManualClock } from '../../shared/clock.js';
import { parseConfig } from '../../shared/config.js';
import type { Grant } from '../../shared/grants/model.js';
import type { HttpRequest } from '../../shared/http.js';
import type { IdentityProvider } from '../../shared/ports.js';
import { getReview, type RoleReview } from '../../shared/review.js';
import { encodeCursor } from '../../shared/store/page.js';
import { startDynamo, type TestDynamo } from '../support/dynamo.js';

const TOKEN = 'audit-token';
const config = parseConfig({ GRANTLINE_AUDIT_TOKEN: TOKEN });

// Billing: two roles with Okta groups and one manual role, in this order.
const catalog = testCatalog((text) =>
  text.replace(
    /^apps:\n/m,
    `apps:
  billing:
    name: Billing
    owner: owner@example.com
    roles:
      admin:
        group: grp-billing-admin
        risk: high
        approval: [manager]
        durations: [PT8H]
        maxDuration: PT8H
      viewer:
        group: grp-billing-viewer
        risk: low
        approval: [auto]
        durations: [permanent]
        maxDuration: permanent
      ledger:
        group: manual
        risk: medium
        approval: [app_owner]
        durations: [P30D]
        maxDuration: P30D
`,
  ),
);

/** Group members by group id; counts listings, so a test can see each page lists the groups it covers. */
class Groups {
  readonly members = new Map<string, string[]>();
  listings = 0;
  readonly idp = {
    listMembers: async (groupId: string) => {
      this.listings += 1;
      return (this.members.get(groupId) ?? []).map((email, i) => ({ id: `u-${i}`, email }));
    },
  } as unknown as IdentityProvider;
}

let dynamo: TestDynamo;
let groups: Groups;
beforeEach(async () => {
  dynamo = await startDynamo();
  groups = new Groups();
});
afterEach(async () => {
  await dynamo.close();
});

const deps = () => ({ config, clock: new ManualClock(), catalog, store: dynamo.store, idp: () => groups.idp });

let serial = 0;
function grant(role: string, subject: string, overrides: Partial<Grant> = {}): Grant {
  serial += 1;
  const id = `grant-BIL-${serial}`;
  return {
    id,
    issueKey: `BIL-${serial}`,
    requester: subject,
    subject,
    app: 'billing',
    appName: 'Billing',
    role,
    appOwner: 'owner@example.com',
    risk: 'high',
    ...(role === 'ledger' ? { manual: true } : { provider: 'okta' as const, groupId: `grp-billing-${role}`, manual: false }),
    duration: 'PT8H',
    justification: 'quarter close',
    approvalTimeoutSeconds: 3600,
    status: 'active',
    currentStep: 0,
    decidedBy: 'maria.manager@example.com',
    grantedAt: '2026-01-05T09:30:00.000Z',
    // Out of id order on purpose: grants come in request order.
    requestedAt: new Date(Date.UTC(2026, 0, 5, 9, 0, (serial * 7) % 60, serial)).toISOString(),
    executionName: id,
    source: 'jira',
    updatedAt: '2026-01-05T09:00:00.000Z',
    ...overrides,
  };
}

const request = (app: string, query: Record<string, string>): HttpRequest => ({
  method: 'GET',
  path: `/reviews/${app}`,
  headers: { authorization: `Bearer ${TOKEN}` },
  query,
  pathParams: { app },
  rawBody: '',
});

interface ReviewBody {
  app: string;
  reviewedAt: string;
  roles: RoleReview[];
  nextCursor?: string;
}

async function page(query: Record<string, string>, app = 'billing'): Promise<ReviewBody> {
  const res = await getReview(deps(), request(app, query));
  expect(res.status).toBe(200);
  return res.body as ReviewBody;
}

async function allPages(query: Record<string, string>): Promise<ReviewBody[]> {
  const pages: ReviewBody[] = [];
  let cursor: string | undefined;
  do {
    const p = await page({ ...query, ...(cursor ? { cursor } : {}) });
    pages.push(p);
    cursor = p.nextCursor;
  } while (cursor && pages.length < 200);
  return pages;
}

const itemsOf = (p: ReviewBody) => p.roles.reduce((n, r) => n + r.grants.length + r.outsideGrantline.length, 0);

/** The pages' parts of each role, joined in page order. */
function joined(pages: ReviewBody[]): Record<string, { grants: string[]; outside: string[]; missing: string[] }> {
  const out: Record<string, { grants: string[]; outside: string[]; missing: string[] }> = {};
  for (const r of pages.flatMap((p) => p.roles)) {
    const role = out[r.role] ?? { grants: [], outside: [], missing: [] };
    out[r.role] = role;
    role.grants.push(...r.grants.map((g) => g.grantId));
    role.outside.push(...r.outsideGrantline);
    role.missing.push(...r.missingFromGroup);
  }
  return out;
}

const emails = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, '0')}@example.com`);

/**
 * admin: 13 active grants (3 of them removed from the group by hand), 2 revoked, 9 members outside
 * Grantline; viewer: 4 grants, all members; ledger (manual): 3 grants; plus another app's grant.
 */
async function seedBilling() {
  const admins = emails('admin', 13);
  const adminGrants = admins.map((email) => grant('admin', email));
  const revoked = [grant('admin', 'gone1@example.com', { status: 'revoked' }), grant('admin', 'gone2@example.com', { status: 'revoked' })];
  const outside = emails('zz-outside', 9);
  groups.members.set('grp-billing-admin', [...outside, ...admins.slice(3), 'gone1@example.com']);
  const viewers = emails('viewer', 4);
  const viewerGrants = viewers.map((email) => grant('viewer', email));
  groups.members.set('grp-billing-viewer', viewers);
  const ledgerGrants = emails('clerk', 3).map((email) => grant('ledger', email));
  const other = grant('admin', 'admin00@example.com', { app: 'crm', appName: 'CRM' });
  for (const g of [...adminGrants, ...revoked, ...viewerGrants, ...ledgerGrants, other]) await dynamo.store.createGrant(g);
  const byRequest = (gs: Grant[]) => [...gs].sort((a, b) => a.requestedAt.localeCompare(b.requestedAt)).map((g) => g.id);
  return {
    admin: { grants: byRequest(adminGrants), outside: [...outside, 'gone1@example.com'].sort(), missing: byRequest(adminGrants.slice(0, 3)) },
    viewer: { grants: byRequest(viewerGrants), outside: [], missing: [] },
    ledger: { grants: byRequest(ledgerGrants), outside: [], missing: [] },
  };
}

describe('GET /reviews/{app} paging', () => {
  it('a review larger than a page comes whole over its pages: every grant and every member outside Grantline once, no page over the limit', async () => {
    const expected = await seedBilling();

    const pages = await allPages({ limit: '4' });

    expect(pages.length).toBeGreaterThan(1);
    expect(pages.every((p) => itemsOf(p) <= 4)).toBe(true);
    expect(pages.slice(0, -1).every((p) => typeof p.nextCursor === 'string')).toBe(true);
    expect(pages.at(-1)?.nextCursor).toBeUndefined();
    const got = joined(pages);
    // Exactly once, in order: grants by request time, members by email, lost memberships with their grants.
    expect(got).toEqual(expected);
    // The manual role has no members and says so on every page that covers it.
    expect(
      pages
        .flatMap((p) => p.roles)
        .filter((r) => r.role === 'ledger')
        .every((r) => r.manual && r.group === 'manual'),
    ).toBe(true);
    // Each grant's lost membership is on the page that lists the grant.
    for (const r of pages.flatMap((p) => p.roles)) expect(r.missingFromGroup.every((id) => r.grants.some((g) => g.grantId === id))).toBe(true);
  });

  it('every page size gives the same review as one page', async () => {
    const expected = await seedBilling();
    const whole = await page({ limit: '500' });
    expect(whole.nextCursor).toBeUndefined();
    expect(whole.roles.map((r) => r.role)).toEqual(['admin', 'viewer', 'ledger']);
    expect(joined([whole])).toEqual(expected);

    for (const limit of ['1', '2', '3', '5', '13', '24']) {
      expect(joined(await allPages({ limit })), `limit ${limit}`).toEqual(expected);
    }
  });

  it('answers an app that fits in one page as before, without a cursor (default 100)', async () => {
    await dynamo.store.createGrant(grant('admin', 'eli@example.com'));
    groups.members.set('grp-billing-admin', ['eli@example.com', 'mallory@example.com']);

    const body = await page({});

    expect(body).toEqual({
      app: 'billing',
      reviewedAt: '2026-01-05T09:00:00.000Z',
      roles: [
        expect.objectContaining({
          role: 'admin',
          group: 'grp-billing-admin',
          provider: 'okta',
          grants: [expect.objectContaining({ subject: 'eli@example.com', approvedBy: 'maria.manager@example.com' })],
          outsideGrantline: ['mallory@example.com'],
          missingFromGroup: [],
          manual: false,
        }),
        expect.objectContaining({ role: 'viewer', grants: [], outsideGrantline: [], missingFromGroup: [] }),
        expect.objectContaining({ role: 'ledger', group: 'manual', manual: true }),
      ],
    });
  });

  it('members who hold the role through Grantline are looked up but not listed; a member with a grant for another role is outside this one', async () => {
    const admins = emails('admin', 6);
    for (const email of admins) await dynamo.store.createGrant(grant('admin', email));
    await dynamo.store.createGrant(grant('viewer', 'vera@example.com'));
    groups.members.set('grp-billing-admin', [...admins, 'vera@example.com']);

    const got = joined(await allPages({ limit: '2' }));

    expect(got.admin?.grants).toHaveLength(6);
    expect(got.admin?.outside).toEqual(['vera@example.com']);
    expect(got.viewer?.missing).toEqual([expect.stringMatching(/^grant-BIL-/)]);
  });

  it.each([['0'], ['501'], ['ten'], ['-1'], ['2.5']])('refuses limit=%s with 400', async (limit) => {
    await expect(getReview(deps(), request('billing', { limit }))).rejects.toMatchObject({ status: 400 });
  });

  it('refuses a forged or foreign cursor with 400 before reading the group or the ledger', async () => {
    await seedBilling();
    const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8').toString('base64url');
    const realGrants = (await page({ limit: '1' })).nextCursor!;
    const inner = encodeCursor({ pk: 'GRANT#grant-BIL-1', sk: 'GRANT', gsi2pk: 'APP#billing', gsi2sk: '2026-01-05T09:00:07.001Z#grant-BIL-1' })!;
    const forged = [
      'not a cursor!',
      'A'.repeat(5000),
      b64('not json'),
      b64([1, 2]),
      b64(null),
      b64({ a: 'crm', r: 'admin', p: 'grants' }), // another app
      b64({ a: 'billing', r: 'owner', p: 'grants' }), // no such role
      b64({ a: 'billing', r: 'admin', p: 'revoked' }), // no such phase
      b64({ a: 'billing', r: 'ledger', p: 'members' }), // a manual role has no members to page
      b64({ a: 'billing', r: 'admin', p: 'grants', k: '' }),
      b64({ a: 'billing', r: 'admin', p: 'grants', k: 7 }),
      b64({ a: 'billing', r: 'admin', p: 'members', k: 'x@example.com', extra: 'x' }),
      b64({ a: 'billing', r: 'admin' }),
      b64({ a: 'billing', r: 'admin', p: 'grants', k: 'not a cursor!' }),
      b64({ a: 'billing', r: 'admin', p: 'grants', k: encodeCursor({ pk: 'GRANT#x', sk: 'GRANT', gsi2pk: 'APP#crm', gsi2sk: 'x' }) }), // another app's partition
      b64({ a: 'billing', r: 'admin', p: 'grants', k: encodeCursor({ pk: 'GRANT#x', sk: 'APPROVAL#00', gsi2pk: 'APP#billing', gsi2sk: 'x' }) }),
      encodeCursor({ pk: 'GRANT#x', sk: 'GRANT', gsi2pk: 'APP#billing', gsi2sk: 'x' })!, // a /grants?app= cursor
    ];
    const listings = groups.listings;
    for (const cursor of forged) {
      await expect(getReview(deps(), request('billing', { cursor })), cursor).rejects.toMatchObject({ status: 400 });
    }
    expect(groups.listings).toBe(listings);
    // A real cursor is refused on another app's review.
    await expect(getReview(deps(), request('figma', { cursor: realGrants }))).rejects.toMatchObject({ status: 400 });
    // Well-formed cursors of this review are accepted.
    expect((await page({ cursor: realGrants })).roles[0]?.role).toBe('admin');
    expect((await page({ cursor: b64({ a: 'billing', r: 'admin', p: 'grants', k: inner }) })).roles[0]?.role).toBe('admin');
    expect((await page({ cursor: b64({ a: 'billing', r: 'admin', p: 'members', k: 'zz-outside04@example.com' }) })).roles[0]?.outsideGrantline[0]).toBe(
      'zz-outside05@example.com',
    );
  });

  it('refuses callers without the audit token, and an unknown app is a 404', async () => {
    await expect(getReview(deps(), { ...request('billing', {}), headers: {} })).rejects.toMatchObject({ status: 401 });
    await expect(getReview(deps(), request('photoshop', {}))).rejects.toMatchObject({ status: 404 });
  });
});

describe('store: an app role’s active grants by page', () => {
  it('reads past revoked grants and other roles; the next page starts after the last grant given out', async () => {
    const active: string[] = [];
    for (let n = 0; n < 9; n++) {
      const g = grant(n % 3 === 0 ? 'viewer' : 'admin', `p${n}@example.com`, n % 4 === 0 ? { status: 'revoked' } : {});
      await dynamo.store.createGrant(g);
      if (g.role === 'admin' && g.status === 'active') active.push(g.id);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const p = await dynamo.store.activeGrantsOfAppRolePage('billing', 'admin', { limit: 2, ...(cursor ? { cursor } : {}) });
      expect(p.items.length).toBeLessThanOrEqual(2);
      expect(p.items.every((g) => g.role === 'admin' && g.status === 'active')).toBe(true);
      seen.push(...p.items.map((g) => g.id));
      cursor = p.nextCursor;
    } while (cursor);
    expect([...seen].sort()).toEqual([...active].sort());
    expect(new Set(seen).size).toBe(seen.length);
  });
});
