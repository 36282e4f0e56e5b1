/**
 * What the deployed stack must guarantee, read from the synthesized template: least-privilege IAM,
 * the ASL with every placeholder bound to the right function, a retained ledger, the routes and their
 * authorizers, the runtime, the scheduler wiring, the alarms and the output contract.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_NAMES, type FunctionName } from '../../infra/cdk/functions.js';
import { REQUIRED_OUTPUT_KEYS, parseStackOutputs } from '../../infra/cdk/outputs.js';
import { catalogProviders } from '../../infra/cdk/build-app.js';
import { ASL_FILE, FUNCTIONS_DIR, REPO_ROOT } from '../../infra/cdk/paths.js';
import { SECRET_LAYOUT, type SecretKey } from '../../infra/cdk/secrets.js';
import { SECRET_SETTING_NAMES } from '../../infra/cdk/settings.js';
import { ROUTES } from '../../infra/local/server.js';
import { loadCatalog } from '../../shared/catalog/load.js';
import { configSchema } from '../../shared/config.js';
import type { ProviderName } from '../../shared/ports.js';
import { INDEXES } from '../../shared/store/table.js';
import {
  actionsOf,
  allStatements,
  arnOf,
  environmentOf,
  functionIds,
  logicalIdOf,
  ref,
  resource,
  resourcesOf,
  resourcesOfType,
  same,
  statementsOfRole,
  synthesize,
  type CfnTemplate,
  type Statement,
  type Synthesized,
} from './support.js';

let synth: Synthesized;
let template: CfnTemplate;
let ids: Record<FunctionName, { fn: string; role: string }>;
let providersInUse: ProviderName[];

beforeAll(async () => {
  // Prepare: one synthesis for the whole file (no bundling: these tests read the template only).
  synth = await synthesize({ context: { alarmEmail: 'oncall@example.com' } });
  template = synth.template;
  ids = functionIds(synth);
  providersInUse = catalogProviders(await loadCatalog(join(REPO_ROOT, 'catalog.yaml')));
}, 60_000);

afterAll(async () => {
  await rm(synth.outdir, { recursive: true, force: true });
});

const ALL = [...FUNCTION_NAMES];
const except = (...names: FunctionName[]) => ALL.filter((n) => !names.includes(n));
const statementsOf = (name: FunctionName): Statement[] => statementsOfRole(template, ids[name].role);
const grantsAction = (name: FunctionName, action: string) => statementsOf(name).some((s) => s.Effect === 'Allow' && actionsOf(s).includes(action));
const whoCan = (action: string) => ALL.filter((n) => grantsAction(n, action));
const secretLogicalId = (key: SecretKey) => logicalIdOf(synth.stack.secrets.secrets[key]);

describe('functions', () => {
  it('deploys exactly one function per handler folder', () => {
    const folders = readdirSync(FUNCTIONS_DIR, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    expect([...FUNCTION_NAMES].sort()).toEqual(folders);
    expect(
      resourcesOfType(template, 'AWS::Lambda::Function')
        .map(([id]) => id)
        .sort(),
    ).toEqual(ALL.map((n) => ids[n].fn).sort());
  });

  it('runs every function on nodejs22.x, arm64, traced, with its own log group (retained, except by a failed first deploy)', () => {
    for (const name of ALL) {
      const props = resource(template, ids[name].fn).Properties!;
      expect(props.Runtime, name).toBe('nodejs22.x');
      expect(props.Architectures, name).toEqual(['arm64']);
      expect(props.Handler, name).toBe('index.handler');
      expect(props.TracingConfig, name).toEqual({ Mode: 'Active' });
      const logGroupId = logicalIdOf(synth.stack.functions[name].logGroup);
      expect(props.LoggingConfig, name).toEqual({ LogGroup: ref(logGroupId) });
      expect(resource(template, logGroupId).Properties?.RetentionInDays, name).toBe(90);
      expect(resource(template, logGroupId).DeletionPolicy, name).toBe('RetainExceptOnCreate');
    }
  });

  it('ships the catalog in the package and points GRANTLINE_CATALOG at it', () => {
    for (const name of ALL) {
      expect(environmentOf(template, ids[name].fn).GRANTLINE_CATALOG, name).toBe('/var/task/catalog.json');
    }
  });

  it('passes the non-secret settings from context to the functions', () => {
    const env = environmentOf(template, ids['jira-webhook'].fn);
    expect(env.JIRA_BASE_URL).toBe('https://acme.atlassian.net');
    expect(env.SLACK_TEAM_ID).toBe('T0ACME');
    expect(env).not.toHaveProperty('SLACK_API_URL'); // unset: the Slack default applies
  });
});

describe('secrets', () => {
  // Who needs which credential, worked out from the code paths (evidence goes to Jira from every
  // function but the audit ones and the Slack click handler, which leaves delivery to the next
  // workflow step to answer Slack within 3 s; Slack for whoever messages people; the IdP for
  // whoever looks up or changes users, and only for the providers the catalog maps roles to;
  // record-failure gives back access a failed attempt gave, sweep-expiries revokes overdue grants).
  const idpReaders = (provider: ProviderName): FunctionName[] =>
    providersInUse.includes(provider)
      ? [
          'advance',
          'provision',
          'revoke',
          'schedule-revocation',
          'break-glass-review',
          'revoke-grant',
          'review-app',
          'policy-explain',
          'record-failure',
          'sweep-expiries',
          'offboard',
          'drift-report',
          'review-campaign',
        ]
      : [];
  const expectedReaders: Record<SecretKey, FunctionName[]> = {
    jira: except('audit-grants', 'audit-grant', 'audit-ledger', 'slack-interactions', 'slack-commands', 'review-app', 'policy-explain', 'evidence-pending'),
    jiraWebhook: ['jira-webhook'],
    slack: [
      'slack-interactions',
      'slack-commands',
      'file-request',
      'advance',
      'request-approval',
      'approval-timer',
      'provision',
      'break-glass-review',
      'record-failure',
      'sweep-expiries',
      'review-campaign',
    ],
    get okta() {
      return idpReaders('okta');
    },
    get entra() {
      return idpReaders('entra');
    },
    get google() {
      return idpReaders('google');
    },
  };

  it.each(Object.keys(expectedReaders) as SecretKey[])('only the functions that need the %s secret can read it', (key) => {
    const secret = ref(secretLogicalId(key));
    const readers = ALL.filter((name) =>
      statementsOf(name).some((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')) && resourcesOf(s).some((r) => same(r, secret))),
    );
    expect(readers.sort()).toEqual([...expectedReaders[key]].sort());
    // Nothing else in the stack (state machine, scheduler role) can read it either.
    const others = allStatements(template).filter(
      ({ role, statement }) => !ALL.some((n) => ids[n].role === role) && resourcesOf(statement).some((r) => same(r, secret)),
    );
    expect(others).toEqual([]);
  });

  it('grants only secretsmanager:GetSecretValue', () => {
    const actions = allStatements(template)
      .flatMap(({ statement }) => actionsOf(statement))
      .filter((a) => a.startsWith('secretsmanager:'));
    expect(new Set(actions)).toEqual(new Set(['secretsmanager:GetSecretValue']));
  });

  it('lists in GRANTLINE_SECRET_IDS exactly the secrets a function may read', () => {
    for (const name of ALL) {
      const readable = (Object.keys(expectedReaders) as SecretKey[]).filter((k) => expectedReaders[k].includes(name)).map((k) => ref(secretLogicalId(k)));
      const ids_ = environmentOf(template, ids[name].fn).GRANTLINE_SECRET_IDS;
      if (readable.length === 0) {
        expect(ids_, name).toBeUndefined();
        continue;
      }
      const listed = readable.length === 1 ? [ids_] : (ids_ as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1].filter((p) => p !== ',');
      expect(listed.map((l) => JSON.stringify(l)).sort(), name).toEqual(readable.map((r) => JSON.stringify(r)).sort());
    }
  });

  it('never puts a credential into the template or an environment variable', () => {
    for (const [, secret] of resourcesOfType(template, 'AWS::SecretsManager::Secret')) {
      expect(secret.Properties).not.toHaveProperty('SecretString');
      const generated = secret.Properties?.GenerateSecretString as { SecretStringTemplate: string; GenerateStringKey: string };
      // The template holds the key layout with empty values only.
      expect(Object.values(JSON.parse(generated.SecretStringTemplate) as Record<string, string>).every((v) => v === '')).toBe(true);
    }
    for (const name of ALL) {
      const env = environmentOf(template, ids[name].fn);
      for (const credential of SECRET_SETTING_NAMES) expect(env, `${name} ${credential}`).not.toHaveProperty(credential);
    }
  });

  it('keeps each secret in the JSON layout the functions read (shared/config.ts names)', () => {
    const known = new Set(Object.keys(configSchema.shape));
    for (const key of Object.keys(SECRET_LAYOUT) as SecretKey[]) {
      for (const setting of SECRET_LAYOUT[key].keys) expect(known.has(setting), `${key}.${setting}`).toBe(true);
    }
  });
});

describe('IAM least privilege', () => {
  it('grants no wildcard action anywhere (no dynamodb:*, no *)', () => {
    const wildcards = allStatements(template).flatMap(({ role, statement }) =>
      actionsOf(statement)
        .filter((a) => a.includes('*'))
        .map((a) => `${role}: ${a}`),
    );
    expect(wildcards).toEqual([]);
  });

  it('allows Resource "*" only for X-Ray and log delivery, which have no resource-level permissions', () => {
    const onStar = allStatements(template).filter(({ statement }) => resourcesOf(statement).includes('*'));
    const allowed =
      /^(xray:(PutTraceSegments|PutTelemetryRecords|GetSamplingRules|GetSamplingTargets)|logs:(CreateLogDelivery|GetLogDelivery|UpdateLogDelivery|DeleteLogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups))$/;
    for (const { role, statement } of onStar) {
      for (const action of actionsOf(statement)) expect(action, role).toMatch(allowed);
    }
  });

  it('lets the audit, review and explain functions and the /access command read the table but never write it (review-app, policy-explain: only the provider rate-limit buckets)', () => {
    for (const name of ['audit-grants', 'audit-grant', 'review-app', 'policy-explain', 'evidence-pending', 'slack-commands'] as const) {
      const reads = statementsOf(name).filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')) && !s.Condition);
      expect(new Set(reads.flatMap(actionsOf)), name).toEqual(new Set(['dynamodb:GetItem', 'dynamodb:Query']));
    }
    const writes = (name: FunctionName) => statementsOf(name).filter((s) => s.Condition);
    for (const name of ['review-app', 'policy-explain'] as const) {
      expect(
        writes(name).map((s) => [actionsOf(s), s.Condition]),
        name,
      ).toEqual([[['dynamodb:PutItem', 'dynamodb:UpdateItem'], { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['RATE#*'] } }]]);
    }
    for (const name of ['audit-grants', 'audit-grant', 'evidence-pending', 'slack-commands'] as const) expect(writes(name), name).toEqual([]);
  });

  it('gives the other functions item-level read-write on the table and its indexes only, without DeleteItem', () => {
    const table = logicalIdOf(synth.stack.data.table);
    const expectedResources = [arnOf(table), ...INDEXES.map((i) => ({ 'Fn::Join': ['', [arnOf(table), `/index/${i.name}`]] }))];
    for (const name of except('audit-grants', 'audit-grant', 'review-app', 'policy-explain', 'evidence-pending', 'slack-commands')) {
      const dynamo = statementsOf(name).filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      expect(dynamo, name).toHaveLength(1);
      expect(new Set(actionsOf(dynamo[0]!)), name).toEqual(new Set(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem']));
      expect(JSON.stringify(resourcesOf(dynamo[0]!)), name).toBe(JSON.stringify(expectedResources));
    }
  });

  it('lets no role delete ledger items (a decided approval leaves its index by UpdateItem REMOVE)', () => {
    const deleters = allStatements(template).filter(({ statement }) =>
      actionsOf(statement).some((a) => /^dynamodb:(DeleteItem|BatchWriteItem|DeleteTable)$/.test(a)),
    );
    expect(deleters.map(({ role }) => role)).toEqual([]);
  });

  it('lets only the request receivers start executions and only the approval completers send task success, on this state machine', () => {
    // extend-grant: an extension request runs the role's approval in an execution of its own.
    // slack-interactions: an "Extend" click starts the extension request's execution.
    expect(whoCan('states:StartExecution').sort()).toEqual(['extend-grant', 'file-request', 'jira-webhook', 'slack-interactions']);
    // jira-webhook: a decision made in Jira Service Management completes the waiting task, as a Slack click does.
    expect(whoCan('states:SendTaskSuccess').sort()).toEqual(['jira-webhook', 'request-approval', 'slack-interactions']);
    const stateMachineName = resource(template, logicalIdOf(synth.stack.stateMachine)).Properties?.StateMachineName as string;
    for (const name of ['extend-grant', 'jira-webhook', 'file-request', 'request-approval', 'slack-interactions'] as const) {
      const sfn = statementsOf(name).filter((s) => actionsOf(s).some((a) => a.startsWith('states:')));
      expect(sfn, name).toHaveLength(1);
      expect(JSON.stringify(sfn[0]!.Resource), name).toContain(`:stateMachine:${stateMachineName}`);
      // The ARN the function is told is the one it is allowed on.
      expect(same(environmentOf(template, ids[name].fn).GRANTLINE_STATE_MACHINE_ARN, sfn[0]!.Resource), name).toBe(true);
    }
    expect(ALL.filter((n) => statementsOf(n).some((s) => actionsOf(s).some((a) => a.startsWith('states:')))).sort()).toEqual([
      'extend-grant',
      'file-request',
      'jira-webhook',
      'request-approval',
      'slack-interactions',
    ]);
  });

  it('lets only the Slack interactions function hand a submitted form to file-request, which Lambda retries twice and then parks in its dead-letter queue', () => {
    const fileRequestName = resource(template, ids['file-request'].fn).Properties?.FunctionName as string;
    const invokers = ALL.filter((n) => statementsOf(n).some((s) => actionsOf(s).includes('lambda:InvokeFunction')));
    // jira-webhook hands an offboarding issue to the offboard function (the next test).
    expect(invokers).toEqual(['jira-webhook', 'slack-interactions']);
    const invokes = statementsOf('slack-interactions').filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    // One statement per function it hands work to: file-request (a form), revoke ("I'm done") and review-campaign (a review Revoke).
    expect(invokes.map((s) => resourcesOf(s).length)).toEqual([1, 1, 1]);
    const invoke = invokes.find((s) => JSON.stringify(resourcesOf(s)[0]).includes(`:function:${fileRequestName}"`));
    expect(invoke).toBeDefined();
    // The name the function is told is the one it may invoke.
    expect(environmentOf(template, ids['slack-interactions'].fn).GRANTLINE_FILE_REQUEST_FUNCTION).toBe(fileRequestName);
    const props = resource(template, ids['file-request'].fn).Properties!;
    expect(props.DeadLetterConfig).toEqual({ TargetArn: arnOf(logicalIdOf(synth.stack.deadLetterQueues.fileRequest)) });
    const invokeConfig = resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig').filter(([, c]) =>
      JSON.stringify(c.Properties?.FunctionName).includes(ids['file-request'].fn),
    );
    expect(invokeConfig.map(([, c]) => c.Properties?.MaximumRetryAttempts)).toEqual([2]);
  });

  it('lets the Slack interactions function hand an early release ("I\'m done") to the revoke function, which Lambda retries twice and then parks in its dead-letter queue', () => {
    const revokeName = resource(template, ids.revoke.fn).Properties?.FunctionName as string;
    const invoke = statementsOf('slack-interactions').find(
      (s) => actionsOf(s).includes('lambda:InvokeFunction') && JSON.stringify(resourcesOf(s)).includes(`:function:${revokeName}"`),
    )!;
    expect(resourcesOf(invoke)).toHaveLength(1);
    // The ARN the function is told is the one it may invoke.
    expect(same(environmentOf(template, ids['slack-interactions'].fn).GRANTLINE_REVOKE_FUNCTION_ARN, resourcesOf(invoke)[0])).toBe(true);
    expect(resource(template, ids.revoke.fn).Properties?.DeadLetterConfig).toEqual({ TargetArn: arnOf(logicalIdOf(synth.stack.deadLetterQueues.revoke)) });
    const invokeConfig = resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig').filter(([, c]) =>
      JSON.stringify(c.Properties?.FunctionName).includes(ids.revoke.fn),
    );
    expect(invokeConfig.map(([, c]) => c.Properties?.MaximumRetryAttempts)).toEqual([2]);
  });

  it('lets the Jira webhook hand an offboarding issue to the offboard function, and nothing else, which Lambda retries twice and then parks in its dead-letter queue', () => {
    const offboardName = resource(template, ids.offboard.fn).Properties?.FunctionName as string;
    const invokes = statementsOf('jira-webhook').filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    expect(invokes.map((s) => resourcesOf(s).length)).toEqual([1]);
    expect(JSON.stringify(resourcesOf(invokes[0]!)[0])).toContain(`:function:${offboardName}"`);
    expect(environmentOf(template, ids['jira-webhook'].fn).GRANTLINE_OFFBOARD_FUNCTION).toBe(offboardName);
    expect(resource(template, ids.offboard.fn).Properties?.DeadLetterConfig).toEqual({ TargetArn: arnOf(logicalIdOf(synth.stack.deadLetterQueues.offboard)) });
    const invokeConfig = resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig').filter(([, c]) =>
      JSON.stringify(c.Properties?.FunctionName).includes(ids.offboard.fn),
    );
    expect(invokeConfig.map(([, c]) => c.Properties?.MaximumRetryAttempts)).toEqual([2]);
  });

  it('lets the Slack interactions function hand a review Revoke to the review-campaign function, which Lambda retries twice and then parks in its dead-letter queue', () => {
    const campaignName = resource(template, ids['review-campaign'].fn).Properties?.FunctionName as string;
    const invoke = statementsOf('slack-interactions').find(
      (s) => actionsOf(s).includes('lambda:InvokeFunction') && JSON.stringify(resourcesOf(s)).includes(`:function:${campaignName}"`),
    )!;
    expect(resourcesOf(invoke)).toHaveLength(1);
    expect(environmentOf(template, ids['slack-interactions'].fn).GRANTLINE_REVIEW_CAMPAIGN_FUNCTION).toBe(campaignName);
    expect(resource(template, ids['review-campaign'].fn).Properties?.DeadLetterConfig).toEqual({
      TargetArn: arnOf(logicalIdOf(synth.stack.deadLetterQueues.reviewCampaign)),
    });
    const invokeConfig = resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig').filter(([, c]) =>
      JSON.stringify(c.Properties?.FunctionName).includes(ids['review-campaign'].fn),
    );
    expect(invokeConfig.map(([, c]) => c.Properties?.MaximumRetryAttempts)).toEqual([2]);
  });

  it('lets the scheduler role invoke the revoke function and nothing else', () => {
    const schedulerRole = logicalIdOf(synth.stack.schedulerRole);
    const trust = resource(template, schedulerRole).Properties?.AssumeRolePolicyDocument as { Statement: Statement[] };
    expect(trust.Statement).toHaveLength(1);
    expect(trust.Statement[0]).toMatchObject({
      Principal: { Service: 'scheduler.amazonaws.com' },
      Condition: { StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId') } },
    });
    const statements = statementsOfRole(template, schedulerRole);
    const invoke = statements.filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    expect(invoke).toHaveLength(1);
    expect(resourcesOf(invoke[0]!)).toHaveLength(1);
    const revokeArn = resourcesOf(invoke[0]!)[0];
    // The fixed-name ARN is the revoke function's: same name, and the one schedules target.
    const revokeName = resource(template, ids.revoke.fn).Properties?.FunctionName as string;
    expect(JSON.stringify(revokeArn)).toContain(`:function:${revokeName}"`);
    expect(same(environmentOf(template, ids['schedule-revocation'].fn).GRANTLINE_REVOKE_FUNCTION_ARN, revokeArn)).toBe(true);
    const dlq = logicalIdOf(synth.stack.deadLetterQueues.schedules);
    expect(statements.map((s) => [actionsOf(s), resourcesOf(s)])).toEqual([
      [['lambda:InvokeFunction'], [revokeArn]],
      [['sqs:SendMessage'], [arnOf(dlq)]],
    ]);
    // Nothing but the scheduler role, the state machine (RevokeNow: no schedule could be made) and the
    // Slack interactions function (an early release) may invoke revoke.
    const stateMachineRole = logicalIdOf(synth.stack.stateMachine.role);
    const otherInvokers = allStatements(template).filter(
      ({ role, statement }) =>
        role !== schedulerRole &&
        role !== stateMachineRole &&
        role !== ids['slack-interactions'].role &&
        actionsOf(statement).includes('lambda:InvokeFunction') &&
        resourcesOf(statement).some((r) => same(r, revokeArn) || same(r, arnOf(ids.revoke.fn))),
    );
    expect(otherInvokers).toEqual([]);
    const permissions = resourcesOfType(template, 'AWS::Lambda::Permission').filter(([, p]) => same(p.Properties?.FunctionName, arnOf(ids.revoke.fn)));
    expect(permissions).toEqual([]);
  });

  it('lets only schedule-revocation, the expiry sweeper and the extension create schedules and pass the scheduler role, only the extension move them, and only the revokers delete them', () => {
    // break-glass-review: the OpenReview state schedules a break-glass grant's revocation; provision: an
    // approved extension moves the grant's one schedule (UpdateSchedule, or CreateSchedule when it is gone).
    expect(whoCan('scheduler:CreateSchedule')).toEqual(['provision', 'schedule-revocation', 'break-glass-review', 'sweep-expiries']);
    expect(whoCan('scheduler:UpdateSchedule')).toEqual(['provision']);
    expect(whoCan('iam:PassRole')).toEqual(['provision', 'schedule-revocation', 'break-glass-review', 'sweep-expiries']);
    expect(whoCan('scheduler:DeleteSchedule')).toEqual(['revoke', 'revoke-grant', 'offboard', 'review-campaign']);
    const passRole = statementsOf('schedule-revocation').find((s) => actionsOf(s).includes('iam:PassRole'))!;
    expect(resourcesOf(passRole)).toEqual([arnOf(logicalIdOf(synth.stack.schedulerRole))]);
    expect(passRole.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
    const groupName = resource(template, logicalIdOf(synth.stack.data.scheduleGroup)).Properties?.Name as string;
    for (const [name, action] of [
      ['schedule-revocation', 'scheduler:CreateSchedule'],
      ['revoke', 'scheduler:DeleteSchedule'],
      ['revoke-grant', 'scheduler:DeleteSchedule'],
      ['offboard', 'scheduler:DeleteSchedule'],
    ] as const) {
      const s = statementsOf(name).find((st) => actionsOf(st).includes(action))!;
      expect(JSON.stringify(s.Resource), name).toContain(`:schedule/${groupName}/*`);
    }
  });

  it('gives schedule-revocation everything the EventBridge Scheduler adapter needs', () => {
    const env = environmentOf(template, ids['schedule-revocation'].fn);
    expect(env.GRANTLINE_SCHEDULE_GROUP).toBe(resource(template, logicalIdOf(synth.stack.data.scheduleGroup)).Properties?.Name);
    expect(env.GRANTLINE_SCHEDULER_ROLE_ARN).toEqual(arnOf(logicalIdOf(synth.stack.schedulerRole)));
    expect(env.GRANTLINE_SCHEDULE_DLQ_ARN).toEqual(arnOf(logicalIdOf(synth.stack.deadLetterQueues.schedules)));
  });

  it('lets the state machine invoke exactly its task functions (revoke too: RevokeNow when no schedule can be made)', () => {
    const role = logicalIdOf(synth.stack.stateMachine.role);
    const invoke = statementsOfRole(template, role).filter((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    expect(invoke).toHaveLength(1);
    const expected = (
      ['advance', 'request-approval', 'approval-timer', 'provision', 'schedule-revocation', 'break-glass-review', 'record-failure', 'revoke'] as const
    ).map((n) => arnOf(ids[n].fn));
    expect(JSON.stringify(resourcesOf(invoke[0]!))).toBe(JSON.stringify(expected));
  });
});

describe('state machine', () => {
  it('is the repository ASL file, Standard, with logging (no execution data: task tokens) and tracing', () => {
    const props = resource(template, logicalIdOf(synth.stack.stateMachine)).Properties!;
    expect(props.StateMachineType).toBe('STANDARD');
    expect(props.TracingConfiguration).toEqual({ Enabled: true });
    expect(props.LoggingConfiguration).toMatchObject({ Level: 'ALL', IncludeExecutionData: false });
    const key = (props.DefinitionS3Location as { Key: string }).Key;
    const deployed = readFileSync(join(synth.outdir, `asset.${key}`), 'utf8');
    expect(deployed).toBe(readFileSync(ASL_FILE, 'utf8'));
  });

  it('binds every ${Placeholder} to the right function, leaving none unresolved', () => {
    const props = resource(template, logicalIdOf(synth.stack.stateMachine)).Properties!;
    const substitutions = props.DefinitionSubstitutions as Record<string, unknown>;
    const asl = readFileSync(ASL_FILE, 'utf8');
    const placeholders = [...new Set([...asl.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1]!))];
    expect(placeholders.sort()).toEqual(Object.keys(substitutions).sort());
    const expected: Record<string, FunctionName> = {
      AdvanceFunctionArn: 'advance',
      RequestApprovalFunctionArn: 'request-approval',
      ApprovalTimerFunctionArn: 'approval-timer',
      ProvisionFunctionArn: 'provision',
      ScheduleRevocationFunctionArn: 'schedule-revocation',
      BreakGlassReviewFunctionArn: 'break-glass-review',
      RecordFailureFunctionArn: 'record-failure',
      RevokeFunctionArn: 'revoke',
    };
    for (const [placeholder, fn] of Object.entries(expected)) expect(substitutions[placeholder], placeholder).toEqual(arnOf(ids[fn].fn));
    expect(substitutions.Partition).toEqual(ref('AWS::Partition'));
    // Substitute as CloudFormation will (here in China): nothing of the form ${...} may remain.
    const fakeArn = (value: unknown) => `arn:aws-cn:lambda:cn-north-1:123456789012:function:${(value as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]}`;
    const resolved = asl.replace(/\$\{([^}]+)\}/g, (_m, name: string) => (name === 'Partition' ? 'aws-cn' : fakeArn(substitutions[name])));
    expect(resolved).not.toContain('${');
    const definition = JSON.parse(resolved) as { States: Record<string, { Resource?: string; Parameters?: { FunctionName?: string } }> };
    expect(definition.States.RequestApproval?.Resource).toBe('arn:aws-cn:states:::lambda:invoke.waitForTaskToken');
    expect(definition.States.RequestApproval?.Parameters?.FunctionName).toBe(fakeArn(arnOf(ids['request-approval'].fn)));
    expect(definition.States.Advance?.Resource).toBe(fakeArn(arnOf(ids.advance.fn)));
  });

  it("names no partition itself: every ARN in the definition takes the deployment's partition", () => {
    const asl = readFileSync(ASL_FILE, 'utf8');
    expect(asl).not.toMatch(/arn:aws[a-z-]*:/);
    expect(asl).toContain('"arn:${Partition}:states:::lambda:invoke.waitForTaskToken"');
  });

  it('logs to a group under /aws/vendedlogs/states/, named after the state machine and this stack instance, kept unless the first deploy fails', () => {
    const props = resource(template, logicalIdOf(synth.stack.stateMachine)).Properties!;
    const destination = (props.LoggingConfiguration as { Destinations: Array<{ CloudWatchLogsLogGroup: { LogGroupArn: unknown } }> }).Destinations[0]!;
    const logGroupId = (destination.CloudWatchLogsLogGroup.LogGroupArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const logGroup = resource(template, logGroupId);
    const name = logGroup.Properties?.LogGroupName as { 'Fn::Join': [string, unknown[]] };
    const stateMachineName = props.StateMachineName as string;
    expect(name['Fn::Join'][1][0]).toBe(`/aws/vendedlogs/states/${stateMachineName}-`);
    // The suffix is the stack id's first GUID segment: unique per stack instance.
    expect(JSON.stringify(name['Fn::Join'][1][1])).toContain('"Ref":"AWS::StackId"');
    expect(logGroup.DeletionPolicy).toBe('RetainExceptOnCreate');
    expect(logGroup.UpdateReplacePolicy).toBe('Retain');
    expect(logGroup.Properties?.RetentionInDays).toBe(90);
  });

  it('is named so that the ARN the functions are given is its ARN', () => {
    const name = resource(template, logicalIdOf(synth.stack.stateMachine)).Properties?.StateMachineName;
    const arn = environmentOf(template, ids['jira-webhook'].fn).GRANTLINE_STATE_MACHINE_ARN;
    expect(arn).toEqual({
      'Fn::Join': ['', ['arn:', ref('AWS::Partition'), ':states:', ref('AWS::Region'), ':', ref('AWS::AccountId'), `:stateMachine:${String(name)}`]],
    });
  });
});

describe('ledger table', () => {
  it('is on-demand, with point-in-time recovery and deletion protection, retained on delete and replace', () => {
    const table = resource(template, logicalIdOf(synth.stack.data.table));
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Properties?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.Properties?.DeletionProtectionEnabled).toBe(true);
    expect(table.Properties?.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });

  it('expires only Slack command receipts, by their own attribute', () => {
    const table = resource(template, logicalIdOf(synth.stack.data.table));
    expect(table.Properties?.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAtEpoch', Enabled: true });
  });

  it('has the keys and indexes of shared/store/table.ts', () => {
    const props = resource(template, logicalIdOf(synth.stack.data.table)).Properties!;
    expect(props.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    const gsis = props.GlobalSecondaryIndexes as Array<{ IndexName: string; KeySchema: unknown; Projection: unknown }>;
    expect(gsis.map((g) => g.IndexName)).toEqual(INDEXES.map((i) => i.name));
    for (const index of INDEXES) {
      const gsi = gsis.find((g) => g.IndexName === index.name)!;
      expect(gsi.KeySchema).toEqual([
        { AttributeName: index.pk, KeyType: 'HASH' },
        { AttributeName: index.sk, KeyType: 'RANGE' },
      ]);
      expect(gsi.Projection).toEqual({ ProjectionType: 'ALL' });
    }
    const attributes = props.AttributeDefinitions as Array<{ AttributeName: string; AttributeType: string }>;
    expect(attributes.every((a) => a.AttributeType === 'S')).toBe(true);
    expect(attributes.map((a) => a.AttributeName).sort()).toEqual(['pk', 'sk', ...INDEXES.flatMap((i) => [i.pk, i.sk])].sort());
  });
});

describe('HTTP API', () => {
  const routeTable = () => {
    const integrations = Object.fromEntries(resourcesOfType(template, 'AWS::ApiGatewayV2::Integration').map(([id, r]) => [id, r.Properties!]));
    return resourcesOfType(template, 'AWS::ApiGatewayV2::Route').map(([, r]) => {
      const target = (r.Properties!.Target as { 'Fn::Join': [string, [string, { Ref: string }]] })['Fn::Join'][1][1].Ref;
      const uri = integrations[target]?.IntegrationUri;
      const fn = ALL.find((n) => same(uri, arnOf(ids[n].fn)));
      return { routeKey: r.Properties?.RouteKey, auth: r.Properties?.AuthorizationType, fn };
    });
  };

  it('serves the routes of the local server (minus /healthz), each on its function', () => {
    const local = ROUTES.filter((r) => r.path !== '/healthz').map((r) => `${r.method} ${r.path}`);
    expect(
      routeTable()
        .map((r) => r.routeKey)
        .sort(),
    ).toEqual(local.sort());
    expect(routeTable().sort((a, b) => String(a.routeKey).localeCompare(String(b.routeKey)))).toEqual([
      { routeKey: 'GET /audit/anchors', auth: 'AWS_IAM', fn: 'audit-ledger' },
      { routeKey: 'GET /audit/chains', auth: 'AWS_IAM', fn: 'audit-ledger' },
      { routeKey: 'GET /campaigns', auth: 'AWS_IAM', fn: 'review-campaign' },
      { routeKey: 'GET /campaigns/{id}', auth: 'AWS_IAM', fn: 'review-campaign' },
      { routeKey: 'GET /evidence/pending', auth: 'AWS_IAM', fn: 'evidence-pending' },
      { routeKey: 'GET /grants', auth: 'AWS_IAM', fn: 'audit-grants' },
      { routeKey: 'GET /grants/{id}', auth: 'AWS_IAM', fn: 'audit-grant' },
      { routeKey: 'GET /policy/explain', auth: 'AWS_IAM', fn: 'policy-explain' },
      { routeKey: 'GET /reviews/{app}', auth: 'AWS_IAM', fn: 'review-app' },
      { routeKey: 'POST /audit/anchor', auth: 'AWS_IAM', fn: 'audit-ledger' },
      { routeKey: 'POST /audit/attachments', auth: 'AWS_IAM', fn: 'review-campaign' },
      { routeKey: 'POST /campaigns/{id}/close', auth: 'AWS_IAM', fn: 'review-campaign' },
      { routeKey: 'POST /campaigns/{id}/decisions', auth: 'AWS_IAM', fn: 'review-campaign' },
      { routeKey: 'POST /drift', auth: 'AWS_IAM', fn: 'drift-report' },
      { routeKey: 'POST /grants/{id}/extend', auth: 'AWS_IAM', fn: 'extend-grant' },
      { routeKey: 'POST /grants/{id}/revoke', auth: 'AWS_IAM', fn: 'revoke-grant' },
      { routeKey: 'POST /offboard', auth: 'AWS_IAM', fn: 'offboard' },
      { routeKey: 'POST /reviews', auth: 'AWS_IAM', fn: 'review-campaign' },
      { routeKey: 'POST /webhooks/jira', auth: 'NONE', fn: 'jira-webhook' },
      { routeKey: 'POST /webhooks/slack/commands', auth: 'NONE', fn: 'slack-commands' },
      { routeKey: 'POST /webhooks/slack/interactions', auth: 'NONE', fn: 'slack-interactions' },
    ]);
  });

  it('throttles the stage and writes access logs that name the IAM caller', () => {
    const stages = resourcesOfType(template, 'AWS::ApiGatewayV2::Stage');
    expect(stages).toHaveLength(1);
    const stage = stages[0]![1].Properties!;
    expect(stage.StageName).toBe('$default');
    expect(stage.DefaultRouteSettings).toMatchObject({ ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 });
    const logs = stage.AccessLogSettings as { DestinationArn: unknown; Format: string };
    expect(logs.DestinationArn).toEqual(arnOf(logicalIdOf(synth.stack.node.findChild('ApiAccessLogs'))));
    expect(resource(template, logicalIdOf(synth.stack.node.findChild('ApiAccessLogs'))).DeletionPolicy).toBe('RetainExceptOnCreate');
    expect(JSON.parse(logs.Format)).toMatchObject({ requestId: '$context.requestId', caller: '$context.identity.userArn', status: '$context.status' });
  });
});

describe('scheduling, dead letters and alarms', () => {
  it('invokes flush-evidence and the expiry sweeper every 5 minutes, the drift report and the ledger anchor daily and the campaign sweep every 15 minutes, each with a dead-letter queue', () => {
    const rules = resourcesOfType(template, 'AWS::Events::Rule').map(([, r]) => r.Properties!);
    expect(rules.map((r) => r.ScheduleExpression)).toEqual(['rate(5 minutes)', 'rate(5 minutes)', 'rate(1 day)', 'rate(1 day)', 'rate(15 minutes)']);
    expect(rules.map((r) => r.Targets)).toEqual([
      [
        expect.objectContaining({
          Arn: arnOf(ids['flush-evidence'].fn),
          DeadLetterConfig: { Arn: arnOf(logicalIdOf(synth.stack.deadLetterQueues.flushEvidence)) },
        }),
      ],
      [
        expect.objectContaining({
          Arn: arnOf(ids['sweep-expiries'].fn),
          DeadLetterConfig: { Arn: arnOf(logicalIdOf(synth.stack.deadLetterQueues.sweepExpiries)) },
        }),
      ],
      [
        expect.objectContaining({
          Arn: arnOf(ids['drift-report'].fn),
          DeadLetterConfig: { Arn: arnOf(logicalIdOf(synth.stack.deadLetterQueues.driftReport)) },
        }),
      ],
      [
        expect.objectContaining({
          Arn: arnOf(ids['audit-ledger'].fn),
          DeadLetterConfig: { Arn: arnOf(logicalIdOf(synth.stack.deadLetterQueues.auditLedger)) },
        }),
      ],
      [
        expect.objectContaining({
          Arn: arnOf(ids['review-campaign'].fn),
          DeadLetterConfig: { Arn: arnOf(logicalIdOf(synth.stack.deadLetterQueues.reviewCampaign)) },
        }),
      ],
    ]);
  });

  it('alarms when the expiry sweeper repairs anything (a schedule should never be missing), counted from its log', () => {
    const filters = resourcesOfType(template, 'AWS::Logs::MetricFilter').map(([, f]) => f.Properties!);
    expect(filters).toEqual([
      expect.objectContaining({
        LogGroupName: ref(logicalIdOf(synth.stack.functions['sweep-expiries'].logGroup)),
        FilterPattern: '{ $.message = "expiry sweeper repaired missing revocations" }',
        MetricTransformations: [expect.objectContaining({ MetricNamespace: 'Grantline', MetricName: 'SweeperRepairs', MetricValue: '1' })],
      }),
    ]);
    const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties!);
    expect(alarms.filter((a) => a.MetricName === 'SweeperRepairs' && a.Namespace === 'Grantline')).toHaveLength(1);
  });

  it('sends failed asynchronous revocations to a dead-letter queue', () => {
    expect(resource(template, ids.revoke.fn).Properties?.DeadLetterConfig).toEqual({ TargetArn: arnOf(logicalIdOf(synth.stack.deadLetterQueues.revoke)) });
  });

  it('alarms on failed and timed-out executions, revoke errors, every dead-letter queue and API 5xx, to the topic', () => {
    const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties!);
    const watching = (metric: string, dimension: unknown) =>
      alarms.filter((a) => a.MetricName === metric && JSON.stringify(a.Dimensions).includes(JSON.stringify(dimension)));
    const stateMachine = ref(logicalIdOf(synth.stack.stateMachine));
    expect(watching('ExecutionsFailed', stateMachine)).toHaveLength(1);
    expect(watching('ExecutionsTimedOut', stateMachine)).toHaveLength(1);
    expect(watching('Errors', ref(ids.revoke.fn))).toHaveLength(1);
    for (const queue of Object.values(synth.stack.deadLetterQueues)) {
      expect(watching('ApproximateNumberOfMessagesVisible', { 'Fn::GetAtt': [logicalIdOf(queue), 'QueueName'] })).toHaveLength(1);
    }
    expect(watching('5xx', ref(logicalIdOf(synth.stack.api)))).toHaveLength(1);
    const topic = ref(logicalIdOf(synth.stack.node.findChild('AlarmTopic')));
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([topic]);
      expect(alarm.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
      expect(alarm.Threshold).toBe(1);
    }
    const subscriptions = resourcesOfType(template, 'AWS::SNS::Subscription').map(([, s]) => s.Properties);
    expect(subscriptions).toEqual([expect.objectContaining({ Protocol: 'email', Endpoint: 'oncall@example.com', TopicArn: topic })]);
  });
});

describe('anchor bucket (the write-once copies of the ledger anchors)', () => {
  const bucket = () => logicalIdOf(synth.stack.anchors.bucket);
  const logBucket = () => logicalIdOf(synth.stack.anchors.accessLogs);
  type PolicyStatement = Statement & { Principal?: unknown; Sid?: string };
  const bucketPolicy = (bucketId: string): PolicyStatement[] => {
    const policies = resourcesOfType(template, 'AWS::S3::BucketPolicy').filter(([, p]) => same(p.Properties?.Bucket, ref(bucketId)));
    expect(policies, bucketId).toHaveLength(1);
    return (policies[0]![1].Properties!.PolicyDocument as { Statement: PolicyStatement[] }).Statement;
  };
  const objectsOf = (bucketId: string, suffix: string) => ({ 'Fn::Join': ['', [arnOf(bucketId), suffix]] });
  /** Actions that would let a copy go before its time, or change under it. */
  const UNDOING =
    /^s3:(\*|Delete.*|PutObjectRetention|PutObjectLegalHold|BypassGovernanceRetention|PutBucketObjectLockConfiguration|PutLifecycleConfiguration|PutBucketPolicy|DeleteBucketPolicy)$|^\*$/;

  it('has Object Lock in compliance mode with the configured retention (default 2555 days), versioning and S3-managed encryption', () => {
    const props = resource(template, bucket()).Properties!;
    expect(props.ObjectLockEnabled).toBe(true);
    expect(props.ObjectLockConfiguration).toEqual({ ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2555 } } });
    expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(props.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
  });

  it('blocks all public access, disables ACLs, refuses plain HTTP and is retained when the stack is deleted or the bucket replaced', () => {
    const anchors = resource(template, bucket());
    expect(anchors.Properties?.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(anchors.Properties?.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    expect(anchors.DeletionPolicy).toBe('Retain');
    expect(anchors.UpdateReplacePolicy).toBe('Retain');
    expect(bucketPolicy(bucket())).toContainEqual({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 's3:*',
      Resource: [arnOf(bucket()), objectsOf(bucket(), '/*')],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
  });

  it('refuses any PutObject without If-None-Match, so an existing copy is never written over by a newer version', () => {
    expect(bucketPolicy(bucket())).toContainEqual({
      Sid: 'WriteOnceCopies',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 's3:PutObject',
      Resource: objectsOf(bucket(), '/*'),
      Condition: { Null: { 's3:if-none-match': 'true' } },
    });
  });

  it('logs every request to an access-log bucket of its own (encrypted, TLS only, no public access, retained, expiring with the log retention)', () => {
    expect(resource(template, bucket()).Properties?.LoggingConfiguration).toEqual({ DestinationBucketName: ref(logBucket()), LogFilePrefix: 'anchor-bucket/' });
    const logs = resource(template, logBucket());
    expect(logs.DeletionPolicy).toBe('Retain');
    expect(logs.Properties?.PublicAccessBlockConfiguration).toMatchObject({ BlockPublicAcls: true, RestrictPublicBuckets: true });
    expect(logs.Properties?.BucketEncryption).toEqual({ ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] });
    expect(logs.Properties?.LifecycleConfiguration).toEqual({ Rules: [{ ExpirationInDays: 90, Status: 'Enabled' }] });
    const delivery = bucketPolicy(logBucket()).filter((s) => s.Effect === 'Allow');
    // Only S3's log delivery writes there, for this bucket's logs.
    expect(delivery.map((s) => [s.Principal, actionsOf(s), s.Resource])).toEqual([
      [{ Service: 'logging.s3.amazonaws.com' }, ['s3:PutObject'], objectsOf(logBucket(), '/anchor-bucket/*')],
    ]);
    expect(delivery[0]!.Condition).toMatchObject({ ArnLike: { 'aws:SourceArn': arnOf(bucket()) } });
  });

  it('lets only audit-ledger put and get copies, only under anchors/, and tells it the bucket', () => {
    const s3Users = allStatements(template).filter(({ statement }) => actionsOf(statement).some((a) => a.startsWith('s3:')));
    expect([...new Set(s3Users.map(({ role }) => role))]).toEqual([ids['audit-ledger'].role]);
    expect(s3Users.map(({ statement }) => [statement.Effect, actionsOf(statement), statement.Resource, statement.Condition])).toEqual([
      ['Allow', ['s3:PutObject', 's3:GetObject'], objectsOf(bucket(), '/anchors/*'), undefined],
    ]);
    expect(environmentOf(template, ids['audit-ledger'].fn).GRANTLINE_ANCHOR_BUCKET).toEqual(ref(bucket()));
    for (const name of except('audit-ledger')) expect(environmentOf(template, ids[name].fn), name).not.toHaveProperty('GRANTLINE_ANCHOR_BUCKET');
  });

  it('gives no principal in the template an action that deletes, shortens, holds or bypasses a copy (roles and bucket policies)', () => {
    const allows = [
      ...allStatements(template).map(({ role, statement }) => ({ where: role, statement })),
      ...resourcesOfType(template, 'AWS::S3::BucketPolicy').flatMap(([id, p]) =>
        (p.Properties!.PolicyDocument as { Statement: Statement[] }).Statement.map((statement) => ({ where: id, statement })),
      ),
    ].filter(({ statement }) => statement.Effect === 'Allow');
    expect(allows.length).toBeGreaterThan(ALL.length);
    const undoing = allows.flatMap(({ where, statement }) =>
      actionsOf(statement)
        .filter((a) => UNDOING.test(a))
        .map((a) => `${where}: ${a}`),
    );
    expect(undoing).toEqual([]);
    // No custom resource empties it either (autoDeleteObjects would bring one with s3:DeleteObject*).
    expect(Object.values(template.Resources).filter((r) => r.Type.startsWith('Custom::'))).toEqual([]);
  });

  it('runs audit-ledger daily with a dead-letter queue, alarms on the queue and on its failures, and serves its routes with IAM auth', () => {
    const daily = resourcesOfType(template, 'AWS::Events::Rule')
      .map(([, r]) => r.Properties!)
      .filter((r) => JSON.stringify(r.Targets).includes(JSON.stringify(arnOf(ids['audit-ledger'].fn))));
    expect(daily).toEqual([
      expect.objectContaining({
        ScheduleExpression: 'rate(1 day)',
        Targets: [
          expect.objectContaining({
            DeadLetterConfig: { Arn: arnOf(logicalIdOf(synth.stack.deadLetterQueues.auditLedger)) },
            RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 21_600 },
          }),
        ],
      }),
    ]);
    const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties!);
    const queueName = { 'Fn::GetAtt': [logicalIdOf(synth.stack.deadLetterQueues.auditLedger), 'QueueName'] };
    expect(
      alarms.filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible' && JSON.stringify(a.Dimensions).includes(JSON.stringify(queueName))),
    ).toHaveLength(1);
    expect(alarms.filter((a) => a.MetricName === 'Errors' && JSON.stringify(a.Dimensions).includes(JSON.stringify(ref(ids['audit-ledger'].fn))))).toHaveLength(
      1,
    );
    const integrations = resourcesOfType(template, 'AWS::ApiGatewayV2::Integration')
      .filter(([, i]) => same(i.Properties?.IntegrationUri, arnOf(ids['audit-ledger'].fn)))
      .map(([id]) => id);
    const routes = resourcesOfType(template, 'AWS::ApiGatewayV2::Route')
      .map(([, r]) => r.Properties!)
      .filter((r) => integrations.some((id) => JSON.stringify(r.Target).includes(`"${id}"`)));
    expect(routes.map((r) => [r.RouteKey, r.AuthorizationType]).sort()).toEqual([
      ['GET /audit/anchors', 'AWS_IAM'],
      ['GET /audit/chains', 'AWS_IAM'],
      ['POST /audit/anchor', 'AWS_IAM'],
    ]);
  });

  it('outputs its name', () => {
    expect(template.Outputs?.AnchorBucketName?.Value).toEqual(ref(bucket()));
  });
});

describe('outputs', () => {
  it('emits exactly the typed output contract (with the alarm topic, since one is configured)', () => {
    expect(Object.keys(template.Outputs ?? {}).sort()).toEqual([...REQUIRED_OUTPUT_KEYS, 'AlarmTopicArn'].sort());
  });

  it('points the webhook outputs at the routes', () => {
    const outputs = template.Outputs!;
    const endpoint = { 'Fn::GetAtt': [logicalIdOf(synth.stack.api), 'ApiEndpoint'] };
    expect(outputs.JiraWebhookUrl?.Value).toEqual({ 'Fn::Join': ['', [endpoint, '/webhooks/jira']] });
    expect(outputs.SlackInteractionsUrl?.Value).toEqual({ 'Fn::Join': ['', [endpoint, '/webhooks/slack/interactions']] });
    expect(outputs.SlackCommandsUrl?.Value).toEqual({ 'Fn::Join': ['', [endpoint, '/webhooks/slack/commands']] });
    expect(outputs.TableName?.Value).toEqual(ref(logicalIdOf(synth.stack.data.table)));
    expect(outputs.StateMachineArn?.Value).toEqual(ref(logicalIdOf(synth.stack.stateMachine)));
  });

  it('parses deployed outputs into the typed contract, naming what is missing', () => {
    const deployed = Object.fromEntries(REQUIRED_OUTPUT_KEYS.map((k) => [k, `value-of-${k}`]));
    expect(parseStackOutputs(deployed).JiraWebhookUrl).toBe('value-of-JiraWebhookUrl');
    const { TableName: _omitted, ...partial } = deployed;
    expect(() => parseStackOutputs(partial)).toThrow(/missing TableName/);
  });
});

describe('cdk-nag AwsSolutions', () => {
  /** Every acknowledgment in the app: where, which rule, why. */
  const acknowledgments = (): Array<{ path: string; id: string; reason: string }> => {
    const out: Array<{ path: string; id: string; reason: string }> = [];
    const visit = (c: IConstruct) => {
      for (const entry of c.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, unknown>)) {
          out.push({ path: c.node.path, id: id.replace(/^annotation::/i, ''), reason: String(reason) });
        }
      }
      c.node.children.forEach(visit);
    };
    visit(synth.app);
    return out;
  };

  it('reports no unacknowledged finding, error or warning', () => {
    const report = new AwsSolutionsChecks().validateScope(synth.app);
    expect(report.violations.map((v) => `${v.ruleName} (${v.severity ?? ''}): ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('gives every acknowledgment a written reason, and prints them', () => {
    const acks = acknowledgments();
    expect(acks.length).toBeGreaterThan(0);
    const distinct = new Map(acks.map((a) => [`${a.id}: ${a.reason}`, 0]));
    for (const a of acks) distinct.set(`${a.id}: ${a.reason}`, (distinct.get(`${a.id}: ${a.reason}`) ?? 0) + 1);
    console.log(`cdk-nag acknowledgments (rule: reason × constructs):\n${[...distinct].map(([k, n]) => `  ${k} × ${n}`).join('\n')}`);
    for (const a of acks) {
      expect(a.id, a.path).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(a.reason.trim().length, `${a.path} ${a.id}`).toBeGreaterThanOrEqual(40);
    }
  });

  it('acknowledges only findings that are really raised (no stale acknowledgment hides a future one)', () => {
    const probe = new AwsSolutionsChecks();
    Object.defineProperty(probe, 'isAcknowledged', { value: () => false }); // report every finding, acknowledged or not
    const raised = probe.validateScope(synth.app).violations.flatMap((v) => v.violatingResources.map((r) => ({ id: v.ruleName, path: r.constructPath ?? '' })));
    for (const ack of acknowledgments()) {
      const matched = raised.some((r) => r.id === ack.id && (r.path === ack.path || r.path.startsWith(`${ack.path}/`)));
      expect(matched, `${ack.path} ${ack.id}`).toBe(true);
    }
  });
});
