/**
 * `grantline audit` against the local runtime: a small sandbox flow (an auto-approved grant, a
 * manager-approved one with a self-approval attempt refused, a denied one, a two-step time-bound one
 * that expires when the clock moves), then the audit pack of the period checked row by row against
 * the ledger (GET /grants), `audit user` and `audit verify` intact; then one event edited directly in
 * DynamoDB: `audit verify` exits 1 naming it and `audit user` shows the grant's chain broken.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GrantRecord } from '../../shared/audit.js';
import type { GrantStory } from '../../shared/audit-report.js';
import type { Campaign, CampaignItem } from '../../shared/campaigns.js';
import { startHarness, type Harness } from '../support/harness.js';
import { finished } from '../support/wait.js';

const CLI = fileURLToPath(new URL('../../bin/grantline.mjs', import.meta.url));
const run = promisify(execFile);

const NINA = 'nina.newhire@example.com';
const MARIA = 'maria.manager@example.com';
const OMAR = 'omar.owner@example.com';
const NORA = 'nora.notion@example.com';

let h: Harness;
let db: { close(cb?: () => void): void };
let doc: DynamoDBDocumentClient;
let out: string;
let from: string;
let to: string;
const ids = { auto: '', approved: '', denied: '', expired: '' };
let campaign: Campaign;

/** Runs `grantline audit …` against the harness; resolves with the exit code instead of rejecting on 1 or 2. */
async function audit(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'audit', ...args, '--url', h.runtime.url, '--token', h.sandbox.env.GRANTLINE_AUDIT_TOKEN!], {
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** RFC 4180: a cell quoted (doubled quotes inside) or bare, then a comma, a line end or the end. Returns objects keyed by the header. */
function parseCsv(text: string): Array<Record<string, string>> {
  const records: string[][] = [];
  let record: string[] = [];
  const cell = /("(?:[^"]|"")*"|[^",\r\n]*)(,|\r\n|\n|$)/y;
  for (let m = cell.exec(text); m && m.index < text.length; m = cell.exec(text)) {
    const raw = m[1]!;
    record.push(raw.startsWith('"') ? raw.slice(1, -1).replace(/""/g, '"') : raw);
    if (m[2] !== ',') {
      records.push(record);
      record = [];
    }
  }
  const [header, ...rows] = records;
  return rows.map((r) => Object.fromEntries(header!.map((k, i) => [k, r[i] ?? ''])));
}

async function ledger(): Promise<GrantRecord[]> {
  const res = await fetch(`${h.runtime.url}/grants?user=${encodeURIComponent(NINA)}&limit=500`, {
    headers: { authorization: `Bearer ${h.sandbox.env.GRANTLINE_AUDIT_TOKEN}` },
  });
  return ((await res.json()) as { grants: GrantRecord[] }).grants;
}

async function post(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${h.runtime.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${h.sandbox.env.GRANTLINE_AUDIT_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

const pack = async (file: string) => parseCsv(await readFile(join(out, file), 'utf8'));

async function request(app: string, role: string, duration: string, justification: string): Promise<string> {
  const filed = await h.client.fileRequest({ reporter: NINA, subject: NINA, app, role, duration, justification });
  const grantId = String(filed.body.grantId);
  await h.runtime.workflow.quiet(grantId);
  return grantId;
}

beforeAll(async () => {
  // A DynamoDB of the test's own, so the test can reach the table as someone with write access would.
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  db = server;
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }));
  h = await startHarness({ env: { DYNAMODB_ENDPOINT: endpoint } });
  from = h.clock.now().toISOString().slice(0, 10);
  out = await mkdtemp(join(tmpdir(), 'grantline-pack-'));

  // Auto-approved: Notion member.
  ids.auto = await request('Notion', 'member', 'permanent', 'team wiki');
  await finished(h, ids.auto);
  // Nina tries to approve her own Figma editor request (refused), then her manager approves it.
  ids.approved = await request('Figma', 'editor', 'permanent', 'design reviews, "Q3", with commas');
  expect((await h.click(NINA, ids.approved, 0, 'approve')).body.outcome).toBe('refused');
  expect((await h.click(MARIA, ids.approved, 0, 'approve')).body.outcome).toBe('recorded');
  await finished(h, ids.approved);
  // Denied by her manager.
  ids.denied = await request('Salesforce', 'read-only', 'P90D', '=HYPERLINK("x") pipeline review');
  await h.click(MARIA, ids.denied, 0, 'deny');
  await finished(h, ids.denied);
  // Two steps (manager, then the app owner), for an hour; it expires when the clock moves past the hour.
  ids.expired = await request('Salesforce', 'admin', 'PT1H', 'quarter close');
  await h.click(MARIA, ids.expired, 0, 'approve');
  await h.runtime.workflow.quiet(ids.expired);
  await h.click(OMAR, ids.expired, 1, 'approve');
  await h.runtime.workflow.quiet(ids.expired);
  h.clock.advance(3_600_000 + 42_000);
  expect(await h.runtime.scheduler.tick()).toBe(1);
  await finished(h, ids.expired);
  // An access review of Notion, Nina's membership kept by its owner.
  const started = await post('/reviews', { apps: ['notion'], due: 'P14D' });
  campaign = (started.body as { campaign: Campaign }).campaign;
  const item = (started.body as { items: CampaignItem[] }).items.find((i) => i.email === NINA)!;
  expect((await post(`/campaigns/${campaign.id}/decisions`, { item: item.itemId, outcome: 'keep', by: NORA })).status).toBe(200);
  to = h.clock.now().toISOString().slice(0, 10);
}, 120_000);

afterAll(async () => {
  await h?.close();
  db?.close();
  if (out) await rm(out, { recursive: true, force: true });
});

describe('grantline audit on an intact ledger', () => {
  it('export: every CSV row matches the ledger, and the summary counts them', async () => {
    const grants = await ledger();
    expect(grants.map((g) => [g.grant.id, g.grant.status])).toEqual([
      [ids.auto, 'active'],
      [ids.approved, 'active'],
      [ids.denied, 'denied'],
      [ids.expired, 'revoked'],
    ]);

    // Two grants a page: the population's pages cross from one app to the next.
    const result = await audit('export', '--from', from, '--to', to, '--out', out, '--page-size', '2');

    expect(result.code).toBe(0);
    expect(result.stderr).toContain('grants requested in the period, done');
    const byId = new Map(grants.map((g) => [g.grant.id, g]));

    const rows = await pack('grants.csv');
    expect(rows.map((r) => r.grant).sort()).toEqual(grants.map((g) => g.grant.id).sort());
    for (const row of rows) {
      const { grant } = byId.get(row.grant!)!;
      expect(row, row.grant).toMatchObject({
        jira: grant.issueKey,
        status: grant.status,
        subject: NINA,
        requested_by: NINA,
        requested_via: grant.source,
        requested_at: grant.requestedAt,
        app: grant.appName,
        role: grant.role,
        duration: grant.duration,
        started_at: grant.grantedAt ?? '',
        revoked_at: grant.revokedAt ?? '',
        revoke_reason: grant.revokeReason ?? '',
        group: `okta group ${grant.groupId}`,
        chain: 'verified',
        flags: '',
      });
    }
    const row = (id: string) => rows.find((r) => r.grant === id)!;
    expect(row(ids.approved).justification).toBe('design reviews, "Q3", with commas');
    // A cell a spreadsheet would read as a formula is defused.
    expect(row(ids.denied).justification).toBe(`'=HYPERLINK("x") pipeline review`);
    expect(row(ids.auto).approved_by).toMatch(/^policy \(auto-approved\) at /);
    expect(row(ids.approved).approved_by).toMatch(new RegExp(`^step 1: ${MARIA} \\(slack\\) at `));
    expect(row(ids.expired).approved_by).toMatch(new RegExp(`^step 1: ${MARIA} \\(slack\\) at \\S+; step 2: ${OMAR} \\(slack\\) at `));
    expect(row(ids.denied).approved_by).toBe('');

    // Every decision in the evidence, refused clicks included, and nothing else.
    const decisionType: Record<string, string> = {
      approved: 'approved',
      auto_approved: 'auto_approved',
      denied: 'denied',
      approval_expired: 'expired',
      approval_refused: 'refused',
    };
    const expected = grants.flatMap(({ grant, evidence }) =>
      evidence.filter((e) => decisionType[e.type]).map((e) => [grant.id, e.actor, decisionType[e.type], e.via, e.at].join(' ')),
    );
    const decisions = await pack('decisions.csv');
    expect(decisions.map((d) => [d.grant, d.approver, d.decision, d.via, d.at].join(' ')).sort()).toEqual(expected.sort());
    expect(decisions.filter((d) => d.decision === 'refused')).toEqual([
      expect.objectContaining({ grant: ids.approved, step: '1', approver: NINA, reason: 'you cannot approve a request you made or that gives you access' }),
    ]);
    expect(decisions.filter((d) => d.grant === ids.expired).map((d) => [d.step, d.approver])).toEqual([
      ['1', MARIA],
      ['2', OMAR],
    ]);

    // The expired grant: scheduled at its expiry, revoked when the clock moved 42 s past it.
    const { grant: expiredGrant } = byId.get(ids.expired)!;
    expect(await pack('revocations.csv')).toEqual([
      {
        grant: ids.expired,
        jira: expiredGrant.issueKey,
        subject: NINA,
        scheduled_for: expiredGrant.scheduledRevocationAt!,
        revoked_at: expiredGrant.revokedAt!,
        late_seconds: String(Math.round((Date.parse(expiredGrant.revokedAt!) - Date.parse(expiredGrant.scheduledRevocationAt!)) / 1000)),
        reason: 'expired',
        how: 'revoked',
        by: expect.any(String),
      },
    ]);
    expect(Number((await pack('revocations.csv'))[0]!.late_seconds)).toBe(42);
    expect(await pack('reviews.csv')).toEqual([
      expect.objectContaining({
        campaign: campaign.id,
        campaign_issue: campaign.issueKey!,
        app: 'notion',
        role: 'member',
        email: NINA,
        source: ids.auto,
        reviewer: NORA,
        decision: 'keep',
        decided_by: NORA,
      }),
    ]);
    expect(await pack('exceptions.csv')).toEqual([
      expect.objectContaining({
        kind: 'self_approval_refused',
        grant: ids.approved,
        subject: NINA,
        detail: expect.stringContaining(`${NINA} tried to decide step 1`),
      }),
    ]);

    const summary = await readFile(join(out, 'summary.md'), 'utf8');
    for (const line of ['| grants.csv | 4 |', '| decisions.csv | 6 |', '| revocations.csv | 1 |', '| reviews.csv | 1 |', '| exceptions.csv | 1 |']) {
      expect(summary).toContain(line);
    }
    expect(summary).toContain('Verified 4 chain(s)');
    expect(summary).toContain(': intact.');
    expect(summary).toContain('p50 42 s, p99 42 s, max 42 s');
  }, 120_000);

  it('GET /grants?from=&to= refuses a cursor it did not give out and a period that ends before it starts (400)', async () => {
    const get = (query: string) =>
      fetch(`${h.runtime.url}/grants?${query}`, { headers: { authorization: `Bearer ${h.sandbox.env.GRANTLINE_AUDIT_TOKEN}` } }).then((r) => r.status);
    const forged = Buffer.from(JSON.stringify({ app: 'no-such-app' })).toString('base64url');
    const otherApp = Buffer.from(JSON.stringify({ app: 'figma', pk: 'GRANT#x', sk: 'GRANT', gsi2pk: 'APP#notion', gsi2sk: 'x' })).toString('base64url');

    expect(await get(`from=${from}&to=${to}&limit=1`)).toBe(200);
    expect(await get(`from=${from}&to=${to}&cursor=${forged}`)).toBe(400);
    expect(await get(`from=${from}&to=${to}&cursor=${otherApp}`)).toBe(400);
    expect(await get(`from=${to}&to=2000-01-01`)).toBe(400);
    expect(await get('from=yesterday')).toBe(400);
  }, 60_000);

  it('user: Nina in JSON, each grant with its five answers, every chain verified, no flag', async () => {
    const result = await audit('user', 'Nina.Newhire@example.com', '--format', 'json');

    expect(result.code).toBe(0);
    const body = JSON.parse(result.stdout) as { user: string; grants: GrantStory[]; verified: number; broken: number; flagged: number };
    expect(body).toMatchObject({ user: NINA, verified: 4, broken: 0, flagged: 0 });
    expect(body.grants.map((g) => [g.grantId, g.chain.status, g.flags])).toEqual([
      [ids.auto, 'verified', []],
      [ids.approved, 'verified', []],
      [ids.denied, 'verified', []],
      [ids.expired, 'verified', []],
    ]);
    const expired = body.grants[3]!;
    expect(expired.requested).toMatchObject({ appName: 'Salesforce', role: 'admin', duration: 'PT1H', justification: 'quarter close', by: NINA, via: 'jira' });
    expect(expired.approvals.map((a) => [a.step, a.approver, a.via])).toEqual([
      [1, MARIA, 'slack'],
      [2, OMAR, 'slack'],
    ]);
    expect(expired.group).toBe('okta group 00gsfadmin');
    expect(expired.revoked).toMatchObject({ revoked: true, reason: 'expired', lateSeconds: 42, how: 'revoked' });
  }, 60_000);

  it('user --since a later day lists nothing; a bad --format is a usage error (exit 2)', async () => {
    const later = await audit('user', NINA, '--since', '2999-01-01', '--format', 'csv');
    const bad = await audit('user', NINA, '--format', 'xml');

    expect(later.code).toBe(0);
    expect(later.stdout.trimEnd().split('\r\n')).toHaveLength(1);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('--format is text, json, csv or md') });
  }, 60_000);

  it('verify: every chain and the anchor of the day intact, exit 0', async () => {
    const anchored = await fetch(`${h.runtime.url}/audit/anchor`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.sandbox.env.GRANTLINE_AUDIT_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ day: to }),
    });
    expect(anchored.status).toBe(201);

    const result = await audit('verify');

    expect(result.stdout).toMatch(/^verified 4 chains \(\d+ events\), 1 anchors: intact\n$/);
    expect(result.code).toBe(0);
  }, 60_000);

  it('export --attach-to: each file of the pack on the Jira issue, named with the period; again, nothing twice', async () => {
    const issue = (await ledger())[0]!.grant.issueKey;
    const again = join(out, 'again');

    const first = await audit('export', '--from', from, '--to', to, '--out', again, '--attach-to', issue);
    const second = await audit('export', '--from', from, '--to', to, '--out', again, '--attach-to', issue);

    expect(first.code).toBe(0);
    const names = ['grants.csv', 'decisions.csv', 'revocations.csv', 'reviews.csv', 'exceptions.csv', 'summary.md'].map((f) => `audit-${from}_${to}-${f}`);
    expect(h.sandbox.jira.attachments(issue).map((a) => a.filename)).toEqual(names);
    const grantsCsv = h.sandbox.jira.attachments(issue)[0]!;
    expect(grantsCsv.content).toBe(await readFile(join(again, 'grants.csv'), 'utf8'));
    expect(grantsCsv.mimeType).toBe('text/csv');
    expect(second.stdout).toContain(`${issue} already has ${names[0]}: kept the one there`);
  }, 120_000);
});

describe('grantline audit after an event was edited in the table', () => {
  it('verify exits 1 naming the edited event; user shows the grant ✗ with the break', async () => {
    await doc.send(
      new UpdateCommand({
        TableName: h.runtime.config.GRANTLINE_TABLE,
        Key: { pk: `GRANT#${ids.approved}`, sk: 'EVENT#approved#0' },
        UpdateExpression: 'SET actor = :who',
        ExpressionAttributeValues: { ':who': 'mallory.intruder@example.com' },
      }),
    );

    const verify = await audit('verify');
    const user = await audit('user', NINA);

    expect(verify.code).toBe(1);
    const broken = verify.stdout.split('\n').filter((l) => l.startsWith('BROKEN'));
    expect(broken).toEqual([
      expect.stringMatching(new RegExp(`^BROKEN edited ${ids.approved} approved#0 seq \\d+: its content gives hash \\w+, but it was sealed as \\w+$`)),
    ]);
    expect(verify.stdout).toMatch(/verified 4 chains \(\d+ events\), 1 anchors: 1 break\n$/);
    expect(user.code).toBe(1);
    expect(user.stdout).toContain(`${ids.approved}  ${(await ledger())[1]!.grant.issueKey}  Figma / editor  active  chain ✗ 1 break`);
    expect(user.stdout).toContain(`  BROKEN edited ${ids.approved} approved#0`);
    expect(user.stdout).toContain('4 grant(s): 3 chain(s) verified, 1 broken; 0 flagged');
  }, 60_000);
});
