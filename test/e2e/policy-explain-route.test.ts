/**
 * GET /policy/explain on the local runtime: the same explanation `grantline policy explain` prints,
 * read from the simulated Okta (the manager, the account), behind the audit token, changing nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const ENGINEER = 'eli.engineer@example.com';
const MANAGER = 'maria.manager@example.com';

describe('GET /policy/explain', () => {
  it('names who would be asked at each step and why, and the expiry, without filing anything', async () => {
    h = await startHarness();
    const query = new URLSearchParams({ requester: ENGINEER, subject: ENGINEER, app: 'salesforce', role: 'admin', duration: 'PT6H' });
    const res = await h.client.audit(`/policy/explain?${query}`);

    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('approval');
    expect(res.body.steps).toEqual([
      { step: 1, kind: 'manager', approvers: [MANAGER], quorum: 1, why: `manager of ${ENGINEER} (from okta)` },
      { step: 2, kind: 'app_owner', approvers: ['omar.owner@example.com'], quorum: 1, why: 'owner of Salesforce' },
    ]);
    expect(res.body.text).toContain(`Step 1 (manager): ${MANAGER}; manager of ${ENGINEER} (from okta)`);
    // Nothing was filed or asked.
    expect(h.sandbox.slack.messages()).toEqual([]);
    expect((await h.client.audit(`/grants?user=${encodeURIComponent(ENGINEER)}`)).body.grants).toEqual([]);
  });

  it('an invalid request is explained as refused; a missing parameter is a 400; no token is a 401', async () => {
    h = await startHarness();
    const invalid = await h.client.audit(
      `/policy/explain?${new URLSearchParams({ requester: ENGINEER, subject: ENGINEER, app: 'salesforce', role: 'admin', duration: 'P30D' })}`,
    );
    expect(invalid.status).toBe(200);
    expect(invalid.body.outcome).toBe('invalid');
    expect(invalid.body.problems).toEqual([expect.stringContaining('longer than the maximum PT24H')]);

    const missing = await h.client.audit(`/policy/explain?requester=${ENGINEER}&app=salesforce`);
    expect(missing.status).toBe(400);
    expect(JSON.stringify(missing.body)).toContain('policy explain needs subject, role');

    const anonymous = await fetch(
      `${h.runtime.url}/policy/explain?${new URLSearchParams({ requester: ENGINEER, subject: ENGINEER, app: 'figma', role: 'editor' })}`,
    );
    expect(anonymous.status).toBe(401);
  });
});
