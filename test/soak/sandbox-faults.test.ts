/**
 * The sandbox's fault knobs (POST /sandbox/faults and the soak): each kind does to a client what
 * the outage it names does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { clearFaults, injectFault, servedFaults } from '../../infra/local/sandbox/faults.js';
import { startSandbox, type Sandbox } from '../../infra/local/sandbox/index.js';
import { testCatalog } from '../support/harness.js';

const GROUP = '00gfigmaeditor';
const PERSON = 'eli.engineer@example.com';

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function oktaAdd(s: Sandbox): Promise<{ status: number; headers: Headers } | 'connection dropped'> {
  const user = await fetch(`${s.okta.url}/api/v1/users/${encodeURIComponent(PERSON)}`, { headers: { authorization: `SSWS ${s.okta.token}` } });
  const { id } = (await user.json()) as { id: string };
  try {
    const res = await fetch(`${s.okta.url}/api/v1/groups/${GROUP}/users/${id}`, { method: 'PUT', headers: { authorization: `SSWS ${s.okta.token}` } });
    return { status: res.status, headers: res.headers };
  } catch {
    return 'connection dropped';
  }
}

describe('sandbox faults', () => {
  it('rate_limit: Okta answers 429 with its reset header, and nothing is added', async () => {
    sandbox = await startSandbox(testCatalog());
    injectFault(sandbox, { service: 'okta', kind: 'rate_limit', path: '/api/v1/groups/', retryAfterSeconds: 5 });

    const res = await oktaAdd(sandbox);

    expect(res).not.toBe('connection dropped');
    if (res === 'connection dropped') return;
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('x-rate-limit-reset'))).toBeGreaterThan(Date.now() / 1000);
    expect(sandbox.okta.members(GROUP)).not.toContain(PERSON);
  });

  it('reply_lost: the add is applied, the client sees 502 or a dropped connection', async () => {
    sandbox = await startSandbox(testCatalog());
    injectFault(sandbox, { service: 'okta', kind: 'reply_lost', method: 'PUT' });
    const first = await oktaAdd(sandbox);
    expect(first !== 'connection dropped' && first.status).toBe(502);
    expect(sandbox.okta.members(GROUP)).toContain(PERSON);

    clearFaults(sandbox);
    injectFault(sandbox, { service: 'okta', kind: 'reply_lost', method: 'PUT', dropConnection: true });
    expect(await oktaAdd(sandbox)).toBe('connection dropped');
  });

  it('timeout: no answer for the delay, then a dropped connection, and nothing is applied', async () => {
    sandbox = await startSandbox(testCatalog());
    injectFault(sandbox, { service: 'okta', kind: 'timeout', method: 'PUT', delayMs: 200 });

    expect(await oktaAdd(sandbox)).toBe('connection dropped');
    expect(sandbox.okta.members(GROUP)).not.toContain(PERSON);
  });

  it('down: every call fails until the period ends; rate: only a share fails; counts by kind', async () => {
    sandbox = await startSandbox(testCatalog());
    injectFault(sandbox, { service: 'jira', kind: 'down', forSeconds: 60 });
    const auth = { authorization: `Basic ${Buffer.from(`${sandbox.env.JIRA_EMAIL}:${sandbox.env.JIRA_API_TOKEN}`).toString('base64')}` };
    const statuses = await Promise.all([1, 2, 3].map(async () => (await fetch(`${sandbox!.jira.url}/rest/api/3/myself`, { headers: auth })).status));
    expect(statuses).toEqual([503, 503, 503]);

    clearFaults(sandbox, 'jira');
    let dice = 0;
    sandbox.jira.fake.setRandom(() => [0.1, 0.9][dice++ % 2]!);
    injectFault(sandbox, { service: 'jira', kind: 'server_error', rate: 0.5, status: 500 });
    const shared = await Promise.all([1, 2, 3, 4].map(async () => (await fetch(`${sandbox!.jira.url}/rest/api/3/myself`, { headers: auth })).status));
    expect(shared.filter((s) => s === 500)).toHaveLength(2);
    expect(servedFaults(sandbox).jira).toEqual({ down: 3, server_error: 2 });
  });

  it('dm_refused: Slack refuses DMs to that user only', async () => {
    sandbox = await startSandbox(testCatalog());
    injectFault(sandbox, { service: 'slack', kind: 'dm_refused', user: 'sam.sec@example.com' });
    const idOf = (email: string) => sandbox!.slack.users().find((u) => u.email === email)!.id;
    const post = async (channel: string) =>
      (await (
        await fetch(`${sandbox!.slack.apiUrl}chat.postMessage`, {
          method: 'POST',
          headers: { authorization: `Bearer ${sandbox!.slack.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ channel, text: 'hi' }),
        })
      ).json()) as { ok: boolean; error?: string };

    expect(await post(idOf('sam.sec@example.com'))).toEqual({ ok: false, error: 'channel_not_found' });
    expect((await post(idOf('sasha.sec@example.com'))).ok).toBe(true);
  });
});
