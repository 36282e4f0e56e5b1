/**
 * `grantline grants` follows the route's cursors: the export over several pages is the whole set, each
 * grant once and in request order, with a progress line per page on stderr and only data on stdout.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { Grant } from '../../shared/grants/model.js';
import { startHarness, type Harness } from '../support/harness.js';

const CLI = fileURLToPath(new URL('../../bin/grantline.mjs', import.meta.url));
const run = promisify(execFile);

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function grant(n: number, app: string): Grant {
  const id = `grant-EXP-${n}`;
  return {
    id,
    issueKey: `EXP-${n}`,
    requester: 'eli.engineer@example.com',
    subject: 'eli.engineer@example.com',
    app,
    appName: app,
    role: 'editor',
    appOwner: 'owner@example.com',
    risk: 'low',
    provider: 'okta',
    groupId: '00gfigmaeditor',
    manual: false,
    duration: 'P30D',
    justification: 'design, "quoted", with commas',
    approvalTimeoutSeconds: 3600,
    status: 'revoked',
    currentStep: 0,
    requestedAt: new Date(Date.UTC(2026, 0, 5, 9, n % 7, n)).toISOString(),
    executionName: id,
    source: 'jira',
    updatedAt: '2026-01-05T09:00:00.000Z',
  };
}

/** `count` Figma grants and one Notion grant, all Eli's; their ids in request order. */
async function seeded(count: number): Promise<{ figma: string[]; eli: string[] }> {
  h = await startHarness();
  const grants = [...Array.from({ length: count }, (_, i) => grant(i + 1, 'figma')), grant(100, 'notion')];
  for (const g of grants) await h.runtime.deps.store.createGrant(g);
  const inOrder = grants.sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
  return { figma: inOrder.filter((g) => g.app === 'figma').map((g) => g.id), eli: inOrder.map((g) => g.id) };
}

async function cli(...args: string[]) {
  return run(process.execPath, [CLI, 'grants', '--url', h!.runtime.url, '--token', h!.sandbox.env.GRANTLINE_AUDIT_TOKEN!, ...args], { timeout: 60_000 });
}

describe('grantline grants over several pages', () => {
  it('streams CSV: the rows over every page are the whole set, each once, in request order', async () => {
    const expected = (await seeded(11)).figma;

    const { stdout, stderr } = await cli('--app', 'figma', '--format', 'csv', '--page-size', '4');

    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'grant,jira,subject,requester,app_role,status,approved_by,group,requested_at,started_at,expires_at,revoked_at,revoke_reason,break_glass',
    );
    expect(lines.slice(1).map((l) => JSON.parse(l.split(',')[0]!) as string)).toEqual(expected);
    expect(lines[1]).toContain('"eli.engineer@example.com"');
    expect(stderr.trimEnd().split('\n')).toEqual([
      'grantline: page 1, 4 grants, more to come',
      'grantline: page 2, 8 grants, more to come',
      'grantline: page 3, 11 grants, done',
    ]);
  }, 90_000);

  it('writes one JSON document over every page, equal to the whole set', async () => {
    const expected = (await seeded(5)).eli;

    const { stdout } = await cli('--user', 'Eli.Engineer@example.com', '--page-size', '2');

    const body = JSON.parse(stdout) as { user: string; count: number; grants: Array<{ grant: Grant; answers: unknown; evidence: unknown[] }> };
    expect(body.user).toBe('eli.engineer@example.com');
    expect(body.count).toBe(6);
    expect(body.grants.map((r) => r.grant.id)).toEqual(expected);
    expect(body.grants[0]).toEqual(expect.objectContaining({ answers: expect.any(Object), evidence: [] }));
  }, 90_000);

  it('exits 1 with the 400 when the page size is out of range', async () => {
    await seeded(1);

    await expect(cli('--app', 'figma', '--page-size', '501')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('Grantline answered 400') });
  }, 90_000);
});
