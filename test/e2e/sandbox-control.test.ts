/** The newcomer's path through `npm start`: the sandbox control API files a request, clicks Approve, shows the result. */
import { afterEach, expect, it } from 'vitest';
import { startSandboxControl } from '../../infra/local/sandbox/control.js';
import { startHarness, type Harness } from '../support/harness.js';
import { eventually } from '../support/wait.js';

let h: Harness | undefined;
let closeControl: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closeControl?.();
  await h?.close();
  h = undefined;
});

async function call(url: string, method = 'GET', body?: unknown) {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

it('files a request, shows the Slack prompt, approves it and shows the group and the Jira evidence', async () => {
  h = await startHarness();
  const control = await startSandboxControl(h.sandbox, h.runtime, 0);
  closeControl = control.close;

  const filed = await call(`${control.url}/sandbox/requests`, 'POST', {
    reporter: 'maria.manager@example.com',
    subject: 'nina.newhire@example.com',
    app: 'Looker',
    role: 'editor',
    duration: 'P30D',
    justification: 'dashboards',
  });
  expect(filed).toMatchObject({ status: 202, body: { issueKey: 'ACC-1', grantId: 'grant-ACC-1' } });
  await h.runtime.workflow.quiet('grant-ACC-1');
  const slack = await fetch(`${control.url}/sandbox/slack`).then((r) => r.json() as Promise<Array<{ to: string; text: string }>>);
  expect(slack).toEqual([
    expect.objectContaining({ to: 'lena.looker@example.com', text: expect.stringContaining('requests Looker editor for nina.newhire@example.com') }),
  ]);

  const click = await call(`${control.url}/sandbox/clicks`, 'POST', {
    approver: 'lena.looker@example.com',
    grantId: 'grant-ACC-1',
    step: 0,
    decision: 'approve',
  });
  expect(click.body.outcome).toBe('recorded');

  await eventually(async () => {
    const group = await call(`${control.url}/sandbox/groups/google/looker-editors@example.com`);
    expect(group.body.members).toEqual(['nina.newhire@example.com']);
  });
  await eventually(async () => expect((await call(`${control.url}/sandbox/jira/ACC-1`)).body.status).toBe('Access granted'));
});

it('a malformed control request gets 400 naming the field', async () => {
  h = await startHarness();
  const control = await startSandboxControl(h.sandbox, h.runtime, 0);
  closeControl = control.close;
  const res = await call(`${control.url}/sandbox/clicks`, 'POST', { approver: 'not-an-email', grantId: 'x', decision: 'maybe' });
  expect(res.status).toBe(400);
  expect(String(res.body.error)).toMatch(/approver: .*decision: /s);
});

it('plays the /access form: the request is filed in Jira and the Slack answer is returned; a role the form does not offer is a 400', async () => {
  h = await startHarness();
  const control = await startSandboxControl(h.sandbox, h.runtime, 0);
  closeControl = control.close;

  const filed = await call(`${control.url}/sandbox/slack-form`, 'POST', {
    requester: 'eli.engineer@example.com',
    app: 'github',
    role: 'maintainer',
    duration: 'PT24H',
    justification: 'On-call week',
  });
  const unknown = await call(`${control.url}/sandbox/slack-form`, 'POST', {
    requester: 'eli.engineer@example.com',
    app: 'github',
    role: 'owner',
    duration: 'PT24H',
    justification: 'x',
  });

  expect(filed).toEqual({
    status: 200,
    body: { form: 'submitted', slack: 'Filed ACC-1: GitHub Enterprise maintainer for you (PT24H). You will hear back here.' },
  });
  expect(h.sandbox.jira.issue('ACC-1')?.fields).toMatchObject({ customfield_10071: { value: 'GitHub Enterprise' } });
  expect(unknown).toMatchObject({ status: 400, body: { error: expect.stringContaining('offers no option owner') } });
});
