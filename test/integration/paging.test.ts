/**
 * The list routes answer one page at a time: GET /grants?user=|app= with a limit (default 100, at most
 * 500) and an opaque cursor (the Query's LastEvaluatedKey) that is checked before DynamoDB sees it.
 */
import { DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getGrants } from '../../shared/audit.js';
import { parseConfig } from '../../shared/config.js';
import type { Approval, EvidenceEvent, Grant } from '../../shared/grants/model.js';
import type { HttpRequest } from '../../shared/http.js';
import { encodeCursor } from '../../shared/store/page.js';
import { startDynamo, type TestDynamo } from '../support/dynamo.js';

const TOKEN = 'audit-token';
const config = parseConfig({ GRANTLINE_AUDIT_TOKEN: TOKEN });

let dynamo: TestDynamo;
beforeEach(async () => {
  dynamo = await startDynamo();
});
afterEach(async () => {
  await dynamo.close();
});

function grant(n: number, overrides: Partial<Grant> = {}): Grant {
  const id = `grant-ACC-${n}`;
  return {
    id,
    issueKey: `ACC-${n}`,
    requester: 'nina@example.com',
    subject: 'nina@example.com',
    app: 'billing',
    appName: 'Billing',
    role: 'admin',
    appOwner: 'owner@example.com',
    risk: 'high',
    provider: 'okta',
    groupId: 'grp-billing-admin',
    manual: false,
    duration: 'PT8H',
    justification: 'incident INC-42',
    approvalTimeoutSeconds: 3600,
    status: 'requested',
    currentStep: 0,
    // Out of id order on purpose: pages follow the request time.
    requestedAt: new Date(Date.UTC(2026, 0, 5, 9, 0, (n * 7) % 60, n)).toISOString(),
    executionName: id,
    source: 'jira',
    updatedAt: '2026-01-05T09:00:00.000Z',
    ...overrides,
  };
}

const request = (query: Record<string, string>): HttpRequest => ({
  method: 'GET',
  path: '/grants',
  headers: { authorization: `Bearer ${TOKEN}` },
  query,
  pathParams: {},
  rawBody: '',
});

interface GrantsPage {
  count: number;
  grants: Array<{ grant: Grant }>;
  nextCursor?: string;
}

async function page(query: Record<string, string>): Promise<GrantsPage> {
  const res = await getGrants({ config, store: dynamo.store }, request(query));
  expect(res.status).toBe(200);
  return res.body as GrantsPage;
}

/** Follows nextCursor to the end, as the CLI does; returns every page. */
async function allPages(query: Record<string, string>): Promise<GrantsPage[]> {
  const pages: GrantsPage[] = [];
  let cursor: string | undefined;
  do {
    const p = await page({ ...query, ...(cursor ? { cursor } : {}) });
    pages.push(p);
    cursor = p.nextCursor;
  } while (cursor && pages.length < 100);
  return pages;
}

async function seed(count: number, overrides: (n: number) => Partial<Grant> = () => ({})): Promise<Grant[]> {
  const grants = Array.from({ length: count }, (_, i) => grant(i + 1, overrides(i + 1)));
  for (const g of grants) await dynamo.store.createGrant(g);
  return grants;
}

const byRequestTime = (grants: Grant[]) => [...grants].sort((a, b) => a.requestedAt.localeCompare(b.requestedAt)).map((g) => g.id);

describe('GET /grants paging', () => {
  it("pages through an app's grants: each grant once, in request order, no page over the limit", async () => {
    const billing = await seed(23);
    await dynamo.store.createGrant(grant(99, { app: 'crm', appName: 'CRM' }));

    const pages = await allPages({ app: 'billing', limit: '5' });

    expect(pages.map((p) => p.count)).toEqual([5, 5, 5, 5, 3]);
    expect(pages.flatMap((p) => p.grants.map((r) => r.grant.id))).toEqual(byRequestTime(billing));
    expect(pages.at(-1)?.nextCursor).toBeUndefined();
    // Each record still carries the auditor's answers and evidence.
    expect(pages[0]?.grants[0]).toEqual(expect.objectContaining({ answers: expect.any(Object), evidence: [] }));
  });

  it("pages through a user's grants whatever the email's case; a set that ends on a page boundary ends with an empty page", async () => {
    const nina = await seed(6);
    await dynamo.store.createGrant(grant(50, { subject: 'omar@example.com' }));

    const pages = await allPages({ user: 'Nina@Example.COM', limit: '3' });

    expect(pages.flatMap((p) => p.grants.map((r) => r.grant.id))).toEqual(byRequestTime(nina));
    expect(pages.every((p) => p.count <= 3)).toBe(true);
    expect(pages.at(-1)?.nextCursor).toBeUndefined();
  });

  it('answers 100 grants per page by default, and at most 500', async () => {
    await seed(101);

    const first = await page({ app: 'billing' });
    const second = await page({ app: 'billing', cursor: first.nextCursor! });

    expect(first.count).toBe(100);
    expect(second.count).toBe(1);
    expect((await page({ app: 'billing', limit: '500' })).count).toBe(101);
  });

  it.each([['0'], ['501'], ['ten'], ['-1'], ['2.5']])('refuses limit=%s with 400', async (limit) => {
    await expect(getGrants({ config, store: dynamo.store }, request({ app: 'billing', limit }))).rejects.toMatchObject({ status: 400 });
  });

  it('refuses a forged or foreign cursor with 400 before DynamoDB reads anything', async () => {
    await seed(4);
    await dynamo.store.createGrant(grant(60, { app: 'crm', appName: 'CRM', subject: 'omar@example.com' }));
    const realCrm = (await page({ app: 'crm', limit: '1' })).nextCursor;
    const realUser = (await page({ user: 'nina@example.com', limit: '1' })).nextCursor;
    const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
    const validShape = { pk: 'GRANT#grant-ACC-1', sk: 'GRANT', gsi2pk: 'APP#billing', gsi2sk: '2026-01-05T09:00:07.001Z#grant-ACC-1' };
    const forged = [
      'not a cursor!',
      b64('not json'),
      b64('[1,2]'),
      b64('null'),
      encodeCursor({ ...validShape, gsi2pk: 'APP#crm' })!, // another app's partition
      realCrm!, // a real cursor, from another app's list
      realUser!, // a real cursor, from the user index
      encodeCursor({ ...validShape, extra: 'x' })!,
      encodeCursor({ ...validShape, sk: 'APPROVAL#00' })!,
      encodeCursor({ ...validShape, gsi2sk: 7 })!,
      'A'.repeat(5000),
    ];
    for (const cursor of forged) {
      await expect(getGrants({ config, store: dynamo.store }, request({ app: 'billing', cursor })), cursor).rejects.toMatchObject({ status: 400 });
    }
    // The well-formed cursor for this app's own partition is accepted.
    expect((await page({ app: 'billing', cursor: encodeCursor(validShape)! })).grants.length).toBeGreaterThan(0);
  });

  it('refuses callers without the audit token', async () => {
    await expect(getGrants({ config, store: dynamo.store }, { ...request({ app: 'billing' }), headers: {} })).rejects.toMatchObject({ status: 401 });
  });
});

describe('store list pages', () => {
  it('pages evidence deliveries waiting for Jira, oldest first, and checks the cursor', async () => {
    for (let n = 1; n <= 7; n++) {
      const event: EvidenceEvent = {
        grantId: `grant-ACC-${n}`,
        issueKey: `ACC-${n}`,
        key: 'requested',
        type: 'requested',
        actor: 'nina@example.com',
        via: 'jira',
        at: `2026-01-05T09:00:0${n}.000Z`,
        summary: 'Access requested',
        details: {},
      };
      await dynamo.store.reserveDelivery(event, event.at, 0);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const p = await dynamo.store.deliveriesPage('UNDELIVERED', { limit: 3, ...(cursor ? { cursor } : {}) });
      expect(p.items.length).toBeLessThanOrEqual(3);
      seen.push(...p.items.map((d) => d.grantId));
      cursor = p.nextCursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `grant-ACC-${i + 1}`));

    const first = await dynamo.store.deliveriesPage('UNDELIVERED', { limit: 1 });
    await expect(dynamo.store.deliveriesPage('UNDELIVERABLE', { limit: 1, cursor: first.nextCursor! })).rejects.toMatchObject({ status: 400 });
  });

  it('lists only the active grants of an app for reviews', async () => {
    await seed(5, (n) => (n % 2 === 0 ? { status: 'active' } : { status: 'revoked' }));

    expect((await dynamo.store.activeGrantsOfApp('billing')).map((g) => g.id).sort()).toEqual(['grant-ACC-2', 'grant-ACC-4']);
  });
});

describe('approvals without DeleteItem', () => {
  const pending = (approvers: string[]): Approval => ({
    grantId: 'grant-ACC-1',
    step: 0,
    status: 'pending',
    approvers,
    taskToken: 'token-1',
    messages: [],
    requestedAt: '2026-01-05T09:00:00.000Z',
  });
  const decision = { status: 'approved', by: 'alice@example.com', at: '2026-01-05T09:05:00.000Z', channel: 'slack' } as const;
  const assignment = async (approver: string) =>
    (await dynamo.client.send(new GetCommand({ TableName: dynamo.store.table, Key: { pk: 'GRANT#grant-ACC-1', sk: `ASSIGN#0#${approver}` } }))).Item;

  it('a decided approval leaves the approver index by losing its index keys; the assignment is kept', async () => {
    await dynamo.store.createGrant(grant(1, { status: 'pending_approval' }));
    await dynamo.store.createApproval(pending(['alice@example.com', 'bob@example.com']));
    expect(await dynamo.store.pendingApprovalsFor('bob@example.com')).toEqual([{ grantId: 'grant-ACC-1', step: 0 }]);

    await dynamo.store.decideApproval('grant-ACC-1', 0, decision);

    expect(await dynamo.store.pendingApprovalsFor('alice@example.com')).toEqual([]);
    expect(await dynamo.store.pendingApprovalsFor('bob@example.com')).toEqual([]);
    expect(await assignment('bob@example.com')).toEqual({ pk: 'GRANT#grant-ACC-1', sk: 'ASSIGN#0#bob@example.com', grantId: 'grant-ACC-1', step: 0 });
  });

  it('deciding an approval whose assignment was never written (a crash between the writes) creates no stray item', async () => {
    await dynamo.store.createGrant(grant(1, { status: 'pending_approval' }));
    await dynamo.store.createApproval(pending(['alice@example.com', 'bob@example.com']));
    await dynamo.client.send(new DeleteCommand({ TableName: dynamo.store.table, Key: { pk: 'GRANT#grant-ACC-1', sk: 'ASSIGN#0#bob@example.com' } }));

    expect(await dynamo.store.decideApproval('grant-ACC-1', 0, decision)).toMatchObject({ status: 'approved' });

    expect(await assignment('bob@example.com')).toBeUndefined();
  });
});
