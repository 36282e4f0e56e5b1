/** Static checks of statemachines/access-request.asl.json: the rules RELIABILITY.md sets for every task. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { grantIdFor, scheduleNameFor } from '../../shared/grants/model.js';
import { loadDefinition } from '../../infra/local/workflow.js';

type State = {
  Type: string;
  Resource?: string;
  Retry?: Array<{ ErrorEquals: string[] }>;
  Catch?: Array<{ ErrorEquals: string[]; Next: string }>;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Parameters?: Record<string, unknown>;
};
const raw = readFileSync(new URL('../../statemachines/access-request.asl.json', import.meta.url), 'utf8');
const states = (JSON.parse(raw) as { States: Record<string, State> }).States;
const tasks = Object.entries(states).filter(([, s]) => s.Type === 'Task');
const LAMBDA_TRANSIENT = ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException'];

describe('the access-request definition', () => {
  it('is JSONPath only: no JSONata and no Assign, so the local runner executes the deployed file', () => {
    expect(raw).not.toMatch(/"QueryLanguage"\s*:\s*"JSONata"|"Assign"|\{%/);
  });

  it('every placeholder is one the local runtime and CDK both substitute', () => {
    expect(() => loadDefinition()).not.toThrow();
    expect(JSON.stringify(loadDefinition())).not.toContain('${');
  });

  it.each(tasks)('Lambda tasks retry Lambda service errors with backoff: %s', (_name, state) => {
    const retried = new Set((state.Retry ?? []).flatMap((r) => r.ErrorEquals));
    const coversAll = retried.has('States.ALL') || retried.has('States.TaskFailed');
    expect(coversAll || LAMBDA_TRANSIENT.every((e) => retried.has(e))).toBe(true);
  });

  it.each(tasks)('every task has a timeout (the default is 99,999,999 s): %s', (_name, state) => {
    expect(state.TimeoutSeconds ?? state.TimeoutSecondsPath).toBeDefined();
  });

  it('the approval task waits for a callback with a timeout that leads to a recorded denial', () => {
    const approval = states.RequestApproval!;
    expect(approval.Resource).toBe('arn:${Partition}:states:::lambda:invoke.waitForTaskToken');
    expect(approval.TimeoutSecondsPath).toBe('$.Payload.waitSeconds');
    expect(approval.Catch?.find((c) => c.ErrorEquals.includes('States.Timeout'))?.Next).toBe('ApprovalTimer');
    expect(JSON.stringify(approval.Parameters)).toContain('$$.Task.Token');
  });

  it('provisioning retries RetryableError (429/5xx) and sends permanent failures to RecordFailure', () => {
    const provision = states.Provision!;
    expect(provision.Retry?.some((r) => r.ErrorEquals.includes('RetryableError'))).toBe(true);
    expect(provision.Retry?.some((r) => r.ErrorEquals.includes('States.ALL') || r.ErrorEquals.includes('PermanentError'))).toBe(false);
    expect(provision.Catch?.[0]).toMatchObject({ ErrorEquals: ['States.ALL'], Next: 'RecordFailure' });
  });

  it('a schedule that cannot be created is retried, then the access is revoked at once (never left without an end)', () => {
    expect(states.ScheduleRevocation!.Retry?.[0]?.ErrorEquals).toEqual(['States.ALL']);
    expect(states.ScheduleRevocation!.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RevokeNow' }]);
    expect(states.RevokeNow!.Retry?.[0]?.ErrorEquals).toEqual(['States.ALL']);
  });

  it('a break-glass grant schedules its revocation in OpenReview (a failure ends the access at once), waits for its review, and revokes only when ReviewDue says so', () => {
    const route = (states.NeedsRevocation as unknown as { Choices: Array<{ Variable: string; Next: string }> }).Choices;
    expect(route[0]).toMatchObject({ Variable: '$.provision.breakGlassReview', Next: 'OpenReview' });
    expect(states.OpenReview!.Retry?.[0]?.ErrorEquals).toEqual(['States.ALL']);
    expect(states.OpenReview!.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'RevokeNow' }]);
    expect(states.AwaitReview).toMatchObject({ Type: 'Wait', SecondsPath: '$.review.waitSeconds', Next: 'ReviewDue' });
    expect(states.RevokeUnreviewed!.Parameters).toMatchObject({ reason: 'unreviewed_break_glass' });
  });

  it('Lambda-level failures and DynamoDB throttling are retried by every task that calls a Lambda (issue 8 #3)', () => {
    const lambdaFaults = ['Lambda.Unknown', 'Lambda.ClientExecutionTimeoutException', 'Sandbox.Timedout', 'Lambda.TooManyRequestsException'];
    const throttles = ['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded'];
    for (const name of ['Advance', 'RequestApproval', 'Provision']) {
      const retried = new Set(states[name]!.Retry?.flatMap((r) => r.ErrorEquals));
      expect(
        [...lambdaFaults, ...throttles].filter((e) => !retried.has(e)),
        name,
      ).toEqual([]);
    }
  });
});

describe('names built from outside input are sanitised', () => {
  it('Step Functions execution names (grant ids) exclude whitespace and reserved characters and fit 80', () => {
    const id = grantIdFor('ACC-12<>{}[]?*"#%\\^|~`$&,;:/ x');
    expect(id).toMatch(/^[0-9A-Za-z_-]{1,80}$/);
    expect(grantIdFor('ACC-12')).toBe('grant-ACC-12');
  });

  it('EventBridge schedule names are 1–64 of [0-9a-zA-Z-_.]', () => {
    expect(scheduleNameFor(grantIdFor(`ACC-${'9'.repeat(70)}`))).toMatch(/^[0-9A-Za-z\-_.]{1,64}$/);
    expect(scheduleNameFor('grant-ACC-12')).toBe('revoke-grant-ACC-12');
  });
});
