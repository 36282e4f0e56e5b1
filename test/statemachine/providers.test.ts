/**
 * The same state machine branches for a role mapped to each identity provider: Okta, Microsoft
 * Entra ID (Graph over https) and Google Workspace, through their real SDKs and simulated APIs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { finished } from '../support/wait.js';

const ENGINEER = 'eli.engineer@example.com';
const MANAGER = 'maria.manager@example.com';

const providers = [
  {
    provider: 'okta',
    app: 'Figma',
    role: 'editor',
    duration: 'PT24H',
    group: '00gfigmaeditor',
    rateLimit: (h: Harness) =>
      h.sandbox.okta.fake.injectFault({
        method: 'PUT',
        path: '/api/v1/groups/',
        status: 429,
        headers: { 'X-Rate-Limit-Reset': String(Math.floor(Date.now() / 1000) + 120) },
        body: { errorCode: 'E0000047', errorSummary: 'API call exceeded rate limit due to too many requests.' },
      }),
  },
  {
    provider: 'entra',
    app: 'GitHub Enterprise',
    role: 'maintainer',
    duration: 'PT24H',
    group: '3f2a6c1e-8b4d-4e7a-9c1f-2d5e8a7b6c40',
    rateLimit: (h: Harness) =>
      h.sandbox.graph.fake.injectFault({
        method: 'POST',
        path: /\/members\/\$ref$/,
        status: 429,
        headers: { 'Retry-After': '120' },
        body: { error: { code: 'TooManyRequests', message: 'Too many requests' } },
      }),
  },
  {
    provider: 'google',
    app: 'Looker',
    role: 'editor',
    duration: 'PT6H',
    group: 'looker-editors@example.com',
    rateLimit: (h: Harness) =>
      h.sandbox.google.fake.injectFault({
        method: 'POST',
        path: /\/members$/,
        status: 429,
        headers: { 'Retry-After': '120' },
        body: {
          error: {
            code: 429,
            message: 'Rate Limit Exceeded',
            errors: [{ message: 'Rate Limit Exceeded', domain: 'usageLimits', reason: 'rateLimitExceeded' }],
          },
        },
      }),
  },
] as const;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe.each(providers)('a role mapped to $provider', ({ provider, app, role, duration, group, rateLimit }) => {
  async function requestAndWait(harness: Harness) {
    const res = await harness.client.fileRequest({ reporter: ENGINEER, subject: ENGINEER, app, role, duration, justification: 'project' });
    expect(res.status).toBe(202);
    const grantId = String(res.body.grantId);
    await harness.runtime.workflow.quiet(grantId);
    return { grantId, issueKey: res.issueKey };
  }

  it('approve: the manager from the provider is asked, the subject is added, revocation removes them', async () => {
    h = await startHarness();
    const { grantId, issueKey } = await requestAndWait(h);
    expect((await h.runtime.deps.store.getGrant(grantId))?.steps?.[0]?.reason).toBe(`manager of ${ENGINEER} (from ${provider})`);

    await h.click(MANAGER, grantId, 0, 'approve');
    const run = await finished(h, grantId);

    expect(run.states.slice(-4)).toEqual(['Provision', 'NeedsRevocation', 'ScheduleRevocation', 'Granted']);
    expect(h.sandbox.members(provider, group)).toContain(ENGINEER);
    expect(h.sandbox.jira.commentTexts(issueKey).join('\n')).toContain(`added ${ENGINEER} to ${provider} group ${group}`);

    h.clock.advance(25 * 3_600_000);
    expect(await h.runtime.scheduler.tick()).toBe(1);
    expect(h.sandbox.members(provider, group)).not.toContain(ENGINEER);
  });

  it('deny: nothing changes in the provider', async () => {
    h = await startHarness();
    const { grantId } = await requestAndWait(h);
    await h.click(MANAGER, grantId, 0, 'deny');
    const run = await finished(h, grantId);
    expect(run.states.at(-1)).toBe('Closed');
    expect(h.sandbox.members(provider, group)).not.toContain(ENGINEER);
  });

  it('a long rate limit (429, Retry-After 120 s) is retried by the state machine and granted once', async () => {
    h = await startHarness();
    const { grantId } = await requestAndWait(h);
    rateLimit(h);
    await h.click(MANAGER, grantId, 0, 'approve');
    const run = await finished(h, grantId);

    expect(run.status).toBe('SUCCEEDED');
    expect(run.retries).toEqual(['Provision']);
    expect(h.sandbox.members(provider, group).filter((m) => m === ENGINEER)).toHaveLength(1);
  });

  it('already a member before the grant: success, and the membership is kept at expiry', async () => {
    h = await startHarness();
    if (provider === 'okta') h.sandbox.okta.addMembership(group, ENGINEER);
    if (provider === 'entra') h.sandbox.graph.addMembership(group, ENGINEER);
    if (provider === 'google') h.sandbox.google.addMembership(group, ENGINEER);
    const { grantId } = await requestAndWait(h);
    await h.click(MANAGER, grantId, 0, 'approve');
    await finished(h, grantId);
    h.clock.advance(25 * 3_600_000);
    await h.runtime.scheduler.tick();

    expect(h.sandbox.members(provider, group)).toContain(ENGINEER);
    expect((await h.runtime.deps.store.evidence(grantId)).at(-1)?.type).toBe('revocation_kept_membership');
  });
});
