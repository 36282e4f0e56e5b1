/**
 * Access reviews reconcile the identity provider's group members against the ledger, and a
 * reviewer's revocation goes through the same path as expiry (evidence, Jira, schedule deleted).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { toHttpRequest } from '../../shared/aws/lambda.js';
import type { Grant } from '../../shared/grants/model.js';
import { postRevoke, type RoleReview } from '../../shared/review.js';
import { startHarness, type Harness } from '../support/harness.js';
import { finished } from '../support/wait.js';

const ENGINEER = 'eli.engineer@example.com';
const MANAGER = 'maria.manager@example.com';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function grantedFigmaEditor(harness: Harness) {
  const filed = await harness.client.fileRequest({
    reporter: ENGINEER,
    subject: ENGINEER,
    app: 'Figma',
    role: 'editor',
    duration: 'P30D',
    justification: 'design',
  });
  const grantId = String(filed.body.grantId);
  await harness.runtime.workflow.quiet(grantId);
  await harness.click(MANAGER, grantId, 0, 'approve');
  await finished(harness, grantId);
  return { grantId, issueKey: filed.issueKey };
}

function auth(harness: Harness) {
  return { authorization: `Bearer ${harness.sandbox.env.GRANTLINE_AUDIT_TOKEN}`, 'content-type': 'application/json' };
}

describe('access reviews', () => {
  it('Access reviews reconcile IdP membership against the ledger: members outside Grantline and lost memberships are listed', async () => {
    h = await startHarness();
    const { grantId } = await grantedFigmaEditor(h);
    h.sandbox.okta.addMembership('00gfigmaeditor', 'mallory.intruder@example.com'); // added by hand in Okta
    h.sandbox.okta.addMembership('00gfigmaviewer', 'dave.departed@example.com');

    const res = await h.client.audit('/reviews/figma');

    expect(res.status).toBe(200);
    const roles = res.body.roles as RoleReview[];
    const editor = roles.find((r) => r.role === 'editor')!;
    expect(editor.grants).toEqual([expect.objectContaining({ grantId, subject: ENGINEER, approvedBy: MANAGER, preexistingMembership: false })]);
    expect(editor.outsideGrantline).toEqual(['mallory.intruder@example.com']);
    expect(editor.missingFromGroup).toEqual([]);
    expect(roles.find((r) => r.role === 'viewer')?.outsideGrantline).toEqual(['dave.departed@example.com']);
  });

  it('a membership removed outside Grantline shows up as a grant missing from its group', async () => {
    h = await startHarness();
    const { grantId } = await grantedFigmaEditor(h);
    const eli = (await h.runtime.deps.idp('okta').findUserByEmail(ENGINEER))!;
    await h.runtime.deps.idp('okta').removeMember('00gfigmaeditor', eli.id);

    const roles = (await h.client.audit('/reviews/figma')).body.roles as RoleReview[];

    expect(roles.find((r) => r.role === 'editor')?.missingFromGroup).toEqual([grantId]);
  });

  it('a reviewer revokes through the same path as expiry: membership removed, evidence and Jira, schedule deleted', async () => {
    h = await startHarness();
    const { grantId, issueKey } = await grantedFigmaEditor(h);

    const res = await h.client.post(`/grants/${grantId}/revoke`, JSON.stringify({ reason: 'access_review', by: 'Rita.Reviewer@example.com' }), auth(h));

    expect(res).toEqual({ status: 200, body: { grantId, outcome: 'removed' } });
    expect(h.sandbox.okta.members('00gfigmaeditor')).not.toContain(ENGINEER);
    expect(await h.runtime.deps.store.getSchedule(`revoke-${grantId}`)).toBeUndefined();
    // Locally the audit token's holder is the caller; the body's `by` is only whom they act for.
    expect(h.sandbox.jira.commentTexts(issueKey, 'internal').at(-1)).toMatch(
      /^Grantline: removed eli\.engineer@example\.com from okta group 00gfigmaeditor \(access review\)\n(.|\n)*By: local audit token \(on behalf of rita\.reviewer@example\.com\)/,
    );
    const again = await h.client.post(`/grants/${grantId}/revoke`, JSON.stringify({ reason: 'access_review', by: 'rita.reviewer@example.com' }), auth(h));
    expect(again.body.outcome).toBe('not_active');
  });

  it('in AWS the revocation names the IAM caller API Gateway authenticated, and the body\'s `by` only as "on behalf of"', async () => {
    h = await startHarness();
    const { grantId, issueKey } = await grantedFigmaEditor(h);
    // As deployed: no audit token (IAM at API Gateway), the route reached through the Lambda adapter.
    const deps = { ...h.runtime.deps, config: { ...h.runtime.deps.config, GRANTLINE_AUDIT_TOKEN: undefined } };
    const arn = 'arn:aws:iam::123456789012:user/rita';
    const event = (body: unknown, userArn?: string) =>
      ({
        version: '2.0',
        routeKey: 'POST /grants/{id}/revoke',
        rawPath: `/grants/${grantId}/revoke`,
        rawQueryString: '',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9' },
        pathParameters: { id: grantId },
        requestContext: {
          http: { method: 'POST', path: `/grants/${grantId}/revoke`, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'awscurl' },
          ...(userArn
            ? { authorizer: { iam: { accessKey: 'AKIA', accountId: '123456789012', callerId: 'AIDA', principalOrgId: null, userArn, userId: 'AIDA' } } }
            : {}),
        },
        body: JSON.stringify(body),
        isBase64Encoded: false,
      }) as unknown as APIGatewayProxyEventV2;

    expect(toHttpRequest(event({ reason: 'access_review' })).caller).toBeUndefined();
    const res = await postRevoke(deps, toHttpRequest(event({ reason: 'access_review', by: 'Mallory@Example.com' }, arn)));

    expect(res).toMatchObject({ status: 200, body: { grantId, outcome: 'removed' } });
    const revoked = (await h.runtime.deps.store.evidence(grantId)).find((e) => e.type === 'revoked');
    expect(revoked?.actor).toBe(`${arn} (on behalf of mallory@example.com)`);
    expect(h.sandbox.jira.commentTexts(issueKey, 'internal').at(-1)).toContain(`By: ${arn} (on behalf of mallory@example.com)`);
  });

  it('without `by`, the caller alone is the actor', async () => {
    h = await startHarness();
    const { grantId } = await grantedFigmaEditor(h);

    const res = await h.client.post(`/grants/${grantId}/revoke`, JSON.stringify({ reason: 'early_release' }), auth(h));

    expect(res.status).toBe(200);
    expect((await h.runtime.deps.store.evidence(grantId)).find((e) => e.type === 'revoked')?.actor).toBe('local audit token');
  });

  it('the review routes refuse callers without the token and bad bodies change nothing', async () => {
    h = await startHarness();
    const { grantId } = await grantedFigmaEditor(h);

    const unauthenticated = await h.client.post(`/grants/${grantId}/revoke`, JSON.stringify({ reason: 'access_review', by: 'rita@example.com' }), {
      'content-type': 'application/json',
    });
    const badReason = await h.client.post(`/grants/${grantId}/revoke`, JSON.stringify({ reason: 'because', by: 'rita@example.com' }), auth(h));
    const unknownApp = await h.client.audit('/reviews/photoshop');

    expect(unauthenticated.status).toBe(401);
    expect(badReason.status).toBe(400);
    expect(unknownApp.status).toBe(404);
    expect(h.sandbox.okta.members('00gfigmaeditor')).toContain(ENGINEER);
  });
});

const CLI = fileURLToPath(new URL('../../bin/grantline.mjs', import.meta.url));
const run = promisify(execFile);

/** An active Figma grant written straight to the ledger (the review reads the ledger and the group, not the workflow). */
function activeGrant(n: number, role: 'editor' | 'viewer', subject: string): Grant {
  const id = `grant-REV-${n}`;
  return {
    id,
    issueKey: `REV-${n}`,
    requester: subject,
    subject,
    app: 'figma',
    appName: 'Figma',
    role,
    appOwner: 'dana.design@example.com',
    risk: 'medium',
    provider: 'okta',
    groupId: role === 'editor' ? '00gfigmaeditor' : '00gfigmaviewer',
    manual: false,
    duration: 'P30D',
    justification: 'design',
    approvalTimeoutSeconds: 3600,
    status: 'active',
    currentStep: 0,
    decidedBy: MANAGER,
    grantedAt: '2026-01-05T10:00:00.000Z',
    requestedAt: new Date(Date.UTC(2026, 0, 5, 9, 0, (n * 7) % 60, n)).toISOString(),
    executionName: id,
    source: 'jira',
    updatedAt: '2026-01-05T10:00:00.000Z',
  };
}

/**
 * Figma: 7 editor grants (5 of them members, 2 removed from the group by hand), 4 editors and 2 viewers
 * added to the groups outside Grantline: 13 entries, more than one page of 3.
 */
async function largeFigmaReview(harness: Harness) {
  const member = (group: string, email: string) => {
    harness.sandbox.okta.addUser({ email });
    harness.sandbox.okta.addMembership(group, email);
  };
  const grants = Array.from({ length: 7 }, (_, i) => activeGrant(i + 1, 'editor', `holder${i}@example.com`));
  for (const g of grants) await harness.runtime.deps.store.createGrant(g);
  for (const g of grants.slice(0, 5)) member('00gfigmaeditor', g.subject);
  const outsideEditors = ['zed0@example.com', 'zed1@example.com', 'zed2@example.com', 'zed3@example.com'];
  const outsideViewers = ['vic0@example.com', 'vic1@example.com'];
  for (const email of outsideEditors) member('00gfigmaeditor', email);
  for (const email of outsideViewers) member('00gfigmaviewer', email);
  return { grants: grants.map((g) => g.id), missing: grants.slice(5).map((g) => g.id), outside: [...outsideViewers, ...outsideEditors] }; // in catalog order: viewer, then editor
}

describe('access reviews over several pages', () => {
  it('grantline review follows the cursors: every grant and every member outside Grantline once, a progress line per page on stderr', async () => {
    h = await startHarness();
    const expected = await largeFigmaReview(h);

    const { stdout, stderr } = await run(
      process.execPath,
      [CLI, 'review', 'figma', '--page-size', '3', '--url', h.runtime.url, '--token', h.sandbox.env.GRANTLINE_AUDIT_TOKEN!],
      { timeout: 60_000 },
    );

    const lines = stdout.trimEnd().split('\n');
    const granted = lines.filter((l) => l.startsWith('  granted ')).map((l) => l.trim().split(/\s+/)[2]);
    const outside = lines.filter((l) => l.startsWith('  OUTSIDE ')).map((l) => l.trim().split(/\s+/)[1]!.replace(/:$/, ''));
    const missing = lines.filter((l) => l.startsWith('  MISSING ')).map((l) => l.trim().split(/\s+/)[1]!.replace(/:$/, ''));
    expect([...granted].sort()).toEqual([...expected.grants].sort());
    expect(outside).toEqual(expected.outside);
    expect([...missing].sort()).toEqual(expected.missing);
    // One heading per role, however many pages the role spans.
    expect(lines.filter((l) => !l.startsWith('  '))).toEqual(['figma/viewer  okta group 00gfigmaviewer', 'figma/editor  okta group 00gfigmaeditor']);
    expect(lines.indexOf('figma/editor  okta group 00gfigmaeditor')).toBeLessThan(lines.findIndex((l) => l.includes('zed0@')));

    const progress = stderr.trimEnd().split('\n');
    expect(progress.length).toBeGreaterThan(4);
    for (const [i, line] of progress.entries()) {
      expect(line).toMatch(
        new RegExp(`^grantline: page ${i + 1}, \\d+ grants and members outside Grantline, ${i === progress.length - 1 ? 'done' : 'more to come'}$`),
      );
    }
    expect(progress.at(-1)).toMatch(/, 13 grants and members outside Grantline, done$/);
  }, 90_000);

  it('each page of GET /reviews/{app} holds at most the limit; a forged cursor and a limit over 500 are 400s', async () => {
    h = await startHarness();
    await largeFigmaReview(h);

    const first = await h.client.audit('/reviews/figma?limit=3');
    const second = await h.client.audit(`/reviews/figma?limit=3&cursor=${encodeURIComponent(String(first.body.nextCursor))}`);
    const forged = Buffer.from(JSON.stringify({ a: 'figma', r: 'admin', p: 'grants' }), 'utf8').toString('base64url');

    expect(first.status).toBe(200);
    expect(first.body).toEqual(expect.objectContaining({ app: 'figma', reviewedAt: expect.any(String), nextCursor: expect.any(String) }));
    const size = (body: Record<string, unknown>) => (body.roles as RoleReview[]).reduce((n, r) => n + r.grants.length + r.outsideGrantline.length, 0);
    expect(size(first.body)).toBe(3);
    expect(second.status).toBe(200);
    expect(size(second.body)).toBeLessThanOrEqual(3);
    expect((await h.client.audit(`/reviews/figma?cursor=${forged}`)).status).toBe(400);
    expect((await h.client.audit('/reviews/figma?cursor=bm90IGEgY3Vyc29y')).status).toBe(400);
    expect((await h.client.audit(`/reviews/salesforce?cursor=${encodeURIComponent(String(first.body.nextCursor))}`)).status).toBe(400);
    expect((await h.client.audit('/reviews/figma?limit=501')).status).toBe(400);
    expect((await h.client.audit('/reviews/figma?limit=500')).body.nextCursor).toBeUndefined();
  }, 90_000);
});
