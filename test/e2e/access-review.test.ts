/**
 * Access reviews reconcile the identity provider's group members against the ledger, and a
 * reviewer's revocation goes through the same path as expiry (evidence, Jira, schedule deleted).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { toHttpRequest } from '../../shared/aws/lambda.js';
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
    expect(h.sandbox.jira.commentTexts(issueKey).at(-1)).toMatch(
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
    expect(h.sandbox.jira.commentTexts(issueKey).at(-1)).toContain(`By: ${arn} (on behalf of mallory@example.com)`);
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
