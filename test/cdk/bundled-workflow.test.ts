import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBundledStack, type BundledStack, type ExecutionRecord } from '../support/bundled-stack.js';
import { LocalLambda } from '../support/lambda-harness.js';
import { sharedCliSynth } from './cli-synth.js';

const NEW_HIRE = 'nina.newhire@example.com';
const MANAGER = 'maria.manager@example.com';
const ENGINEER = 'eli.engineer@example.com';

let stack: BundledStack;

beforeAll(async () => {
  const synth = await sharedCliSynth();
  stack = await startBundledStack(synth, { retryIntervalMs: 10, ...(process.env.GRANTLINE_TEST_LAMBDA_LOGS ? { onLog: (l) => console.log(l) } : {}) });
}, 300_000);

afterAll(async () => {
  await stack?.close();
}, 60_000);

afterEach((context) => {
  // A failed test shows what the functions logged (the last lines of each).
  if (context.task.result?.state !== 'fail' || !stack) return;
  for (const [name, fn] of Object.entries(stack.functions)) if (fn.logs.length) console.log(`--- ${name}\n${fn.logs.slice(-15).join('\n')}`);
});

/** A run's path and, when it failed, what RecordFailure was given: the message of a failed path assertion. */
const story = (run: ExecutionRecord) =>
  [
    run.states.join(' > '),
    run.inputs.RecordFailure && `caught ${JSON.stringify((run.inputs.RecordFailure as { error?: unknown }).error)}`,
    run.error && `failed ${JSON.stringify(run.error)}`,
  ]
    .filter(Boolean)
    .join(' — ');

async function file(form: { reporter: string; subject: string; app: string; role: string; duration: string }) {
  const res = await stack.client.fileRequest({ justification: 'needed for the project', ...form });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return { grantId: String(res.body.grantId), issueKey: res.issueKey };
}

// Cold starts of several bundles on a shared machine: generous per-test time.
describe('the access-request state machine through the bundled functions', { timeout: 120_000 }, () => {
  it('approve: the approval waits on its task token, the Slack click completes it, the group is given and its revocation scheduled', async () => {
    const { grantId, issueKey } = await file({ reporter: ENGINEER, subject: ENGINEER, app: 'Figma', role: 'editor', duration: 'PT24H' });
    const waiting = await stack.settled(grantId);
    expect(waiting.waitingTokens.size, story(waiting)).toBe(1);
    expect(stack.sandbox.okta.members('00gfigmaeditor')).not.toContain(ENGINEER);

    const click = await stack.client.click(MANAGER, grantId, 0, 'approve');
    const run = await stack.finished(grantId);

    expect(click.status).toBe(200);
    expect(run.status, story(run)).toBe('SUCCEEDED');
    expect(run.states, story(run)).toEqual([
      'Advance',
      'Route',
      'RequestApproval',
      'Advance',
      'Route',
      'Provision',
      'NeedsRevocation',
      'ScheduleRevocation',
      'Granted',
    ]);
    expect(stack.sandbox.okta.members('00gfigmaeditor')).toContain(ENGINEER);
    expect(stack.sandbox.jira.issue(issueKey)?.status).toBe('Access granted');
    expect(stack.sandbox.jira.commentTexts(issueKey).join('\n')).toContain(MANAGER);
    // The schedule targets the revoke function, with the payload the revoke bundle takes.
    // The firing names the expiry it was made for: once an extension moves the expiry, a stale firing ends nothing.
    const expiresAt = (await stack.dynamo.store.getGrant(grantId))?.expiresAt;
    expect([...stack.schedules.values()], JSON.stringify([...stack.schedules.values()])).toContainEqual(
      expect.objectContaining({ targetArn: stack.functionArn('revoke'), input: { grantId, reason: 'expired', expiry: expiresAt } }),
    );
  });

  it('deny: the request closes without touching the group', async () => {
    const { grantId, issueKey } = await file({ reporter: ENGINEER, subject: ENGINEER, app: 'Salesforce', role: 'read-only', duration: 'P90D' });
    await stack.settled(grantId);

    await stack.client.click(MANAGER, grantId, 0, 'deny');
    const run = await stack.finished(grantId);

    expect(run.states, story(run)).toEqual(['Advance', 'Route', 'RequestApproval', 'Advance', 'Route', 'Closed']);
    expect(stack.sandbox.okta.members('00gsfreadonly')).not.toContain(ENGINEER);
    expect(stack.sandbox.jira.issue(issueKey)?.status).toBe('Declined');
  });

  it('a 429 from Okta: the bundled error is named RetryableError, the ASL retries it and the grant completes once', async () => {
    const reset = String(Math.floor(Date.now() / 1000) + 120); // too far to wait inside the function: the state machine retries
    stack.sandbox.okta.fake.injectFault({
      method: 'PUT',
      path: '/api/v1/groups/00gnotionmember/',
      status: 429,
      headers: { 'X-Rate-Limit-Reset': reset },
      body: { errorCode: 'E0000047', errorSummary: 'API call exceeded rate limit due to too many requests.' },
      times: 2,
    });
    const { grantId, issueKey } = await file({ reporter: MANAGER, subject: NEW_HIRE, app: 'Notion', role: 'member', duration: 'permanent' });

    const run = await stack.finished(grantId);

    expect(run.status, story(run)).toBe('SUCCEEDED');
    expect(run.retries).toEqual(['Provision', 'Provision']);
    expect(run.states, story(run)).toEqual(['Advance', 'Route', 'Provision', 'NeedsRevocation', 'Granted']);
    expect(stack.sandbox.okta.members('00gnotionmember')).toContain(NEW_HIRE);
    expect(stack.sandbox.jira.commentTexts(issueKey).filter((c) => c.includes(`added ${NEW_HIRE}`))).toHaveLength(1);
  });

  it("a permanent failure (an app-managed Okta group): caught as PermanentError with Lambda's Cause, the grant fails and Jira says why", async () => {
    stack.sandbox.okta.addGroup({ id: '00gfigmaviewer', name: 'Figma viewer (app-managed)', type: 'APP_GROUP' });
    const { grantId, issueKey } = await file({ reporter: MANAGER, subject: NEW_HIRE, app: 'Figma', role: 'viewer', duration: 'permanent' });

    const run = await stack.finished(grantId);

    expect(run.status, story(run)).toBe('FAILED');
    expect(run.states, story(run)).toEqual(['Advance', 'Route', 'Provision', 'RecordFailure', 'Failed']);
    expect(run.retries).toEqual([]);
    const caught = (run.inputs.RecordFailure as { error: { Error: string; Cause: string } }).error;
    expect(caught.Error).toBe('PermanentError');
    expect(JSON.parse(caught.Cause)).toMatchObject({ errorType: 'PermanentError', errorMessage: expect.stringContaining('APP_GROUP') });
    expect(stack.sandbox.okta.members('00gfigmaviewer')).not.toContain(NEW_HIRE);
    expect(stack.sandbox.jira.commentTexts(issueKey).join('\n')).toMatch(/could not complete the request: .*APP_GROUP.*Nothing was granted/s);
  });
});

describe('the Lambda contract the harness keeps', { timeout: 60_000 }, () => {
  it('a thrown error comes out as {errorType: its name, errorMessage, trace}, the event having crossed as JSON', async () => {
    const outcome = await stack.functions.provision.invoke({ grantId: 'not a grant id!' });

    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error).toMatchObject({ errorType: 'MalformedRequestError', errorMessage: expect.stringContaining('grantId') });
  });

  it('a handler that outlives its timeout is reported as Sandbox.Timedout, and the next invocation is a cold start', async () => {
    const slow = new LocalLambda({ ...stack.functions.advance.options, timeoutSeconds: 0.05 }); // the cold start alone takes longer
    try {
      const first = await slow.invoke({ grantId: 'grant-ACC-0' });
      const second = await slow.invoke({ grantId: 'grant-ACC-0' });

      expect(!first.ok && first.error.errorType).toBe('Sandbox.Timedout');
      expect(!second.ok && second.error.errorType).toBe('Sandbox.Timedout');
      expect(slow.coldStarts).toBe(2);
    } finally {
      await slow.stop();
    }
  });
});
