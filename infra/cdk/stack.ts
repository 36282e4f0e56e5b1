/**
 * Grantline in one account: the same handlers and the same ASL file the local runtime runs.
 *
 *   HTTP API ──► jira-webhook / slack-* / audit-*            (audit routes: IAM auth)
 *   Step Functions (statemachines/access-request.asl.json) ──► advance, request-approval (callback),
 *       approval-timer, provision, schedule-revocation, record-failure
 *   EventBridge Scheduler (one-time schedule per grant) ──► revoke      (retries, then a DLQ)
 *   slack-interactions ──► file-request (a submitted form), revoke ("I'm done": an early release)   (async invokes)
 *   jira-webhook ──► offboard (an offboarding issue; also POST /offboard)                          (async invoke)
 *   slack-interactions ──► review-campaign (a review item's Revoke decided in Slack)              (async invoke)
 *   EventBridge rule, every 5 minutes ──► flush-evidence
 *   EventBridge rule, every 5 minutes ──► sweep-expiries (revokes overdue grants, recreates missing schedules)
 *   EventBridge rule, daily ──► drift-report (groups against the ledger; also POST /drift)
 *   EventBridge rule, every 15 minutes ──► review-campaign (campaign reminders, due dates, anything cut short)
 *   EventBridge rule, daily ──► audit-ledger (anchors the day before; its copy written once to the anchor bucket; also GET /audit/*)
 *   DynamoDB ledger (retained), anchor bucket (S3 Object Lock, compliance mode; retained), Secrets Manager credentials, alarms.
 *
 * Cycles are avoided by naming: the state machine and the revoke function have fixed names derived
 * from the stack name, so the functions that need their ARNs (in environment variables and policies)
 * do not depend on the resources that depend on them.
 */
import { readFileSync } from 'node:fs';
import { ArnFormat, type CfnElement, Duration, Fn, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Alarm, ComparisonOperator, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { FilterPattern, LogGroup, MetricFilter } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { DefinitionBody, LogLevel, StateMachine, StateMachineType } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import type { ProviderName } from '../../shared/ports.js';
import { ANCHOR_PREFIX, GrantlineAnchors } from './anchors.js';
import { GrantlineData } from './data.js';
import { API_ROUTES, ASL_SUBSTITUTIONS, FUNCTION_NAMES, FUNCTION_SPECS, type FunctionName, type InvokedFunction, type SecretUse } from './functions.js';
import { GrantlineFunction } from './grantline-function.js';
import { addOutput } from './outputs.js';
import { ASL_FILE } from './paths.js';
import { GrantlineSecrets, PROVIDER_SECRET } from './secrets.js';
import type { InfraSettings, RuntimeSettings } from './settings.js';

export interface GrantlineStackProps extends StackProps {
  readonly infra: InfraSettings;
  /** Non-secret runtime settings (shared/config.ts names) given to every function. */
  readonly runtime: RuntimeSettings;
  /** Absolute path of the catalog, already validated by loadCatalog. */
  readonly catalogFile: string;
  /** Identity providers the catalog maps roles to: only their secrets are read. */
  readonly providersInUse: readonly ProviderName[];
  /** Alarm target; overrides infra.alarmEmail / infra.alarmTopicArn. */
  readonly alarmTopic?: ITopic;
}

/** Where the state machine's execution logs go (the group name goes on with the state machine's name). */
export const STATE_MACHINE_LOG_PREFIX = '/aws/vendedlogs/states/';

/** The ASL placeholder CDK fills with the partition (aws, aws-cn, aws-us-gov); the local runtime with "aws". */
export const ASL_PARTITION_PLACEHOLDER = 'Partition';

/** Physical names fixed up front, derived from the stack name (all well within AWS limits for a 40-character stack name). */
export function resourceNames(stackName: string) {
  return {
    stateMachine: `${stackName}-access-request`,
    revokeFunction: `${stackName}-revoke`,
    fileRequestFunction: `${stackName}-file-request`,
    offboardFunction: `${stackName}-offboard`,
    reviewCampaignFunction: `${stackName}-review-campaign`,
    scheduleGroup: `${stackName}-revocations`,
  };
}

export class GrantlineStack extends Stack {
  readonly data: GrantlineData;
  readonly anchors: GrantlineAnchors;
  readonly secrets: GrantlineSecrets;
  readonly functions: Record<FunctionName, GrantlineFunction>;
  readonly stateMachine: StateMachine;
  readonly api: HttpApi;
  readonly apiStage: HttpStage;
  readonly schedulerRole: Role;
  readonly deadLetterQueues: {
    schedules: Queue;
    revoke: Queue;
    fileRequest: Queue;
    offboard: Queue;
    reviewCampaign: Queue;
    flushEvidence: Queue;
    sweepExpiries: Queue;
    driftReport: Queue;
    auditLedger: Queue;
  };
  readonly alarms: Alarm[] = [];
  readonly alarmTopic: ITopic | undefined;

  constructor(scope: Construct, id: string, props: GrantlineStackProps) {
    super(scope, id, {
      ...props,
      stackName: props.infra.stackName,
      description: 'Grantline: governed access requests (Jira, Slack, identity provider, evidence, timed revocation)',
    });
    const names = resourceNames(this.stackName);
    const stateMachineArn = this.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: names.stateMachine,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const functionArn = (functionName: string) =>
      this.formatArn({ service: 'lambda', resource: 'function', resourceName: functionName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const revokeFunctionArn = functionArn(names.revokeFunction);
    const fileRequestFunctionArn = functionArn(names.fileRequestFunction);
    const schedulesArn = this.formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${names.scheduleGroup}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });

    // ---------------------------------------------------------------- stateful
    this.data = new GrantlineData(this, 'Data', { scheduleGroupName: names.scheduleGroup });
    this.anchors = new GrantlineAnchors(this, 'Anchors', { retentionDays: props.infra.anchorRetentionDays, logRetention: props.infra.logRetention });
    this.secrets = new GrantlineSecrets(this, 'Secrets');
    const table = this.data.table;

    const deadLetterQueue = (id: string, of?: string) => {
      const queue = new Queue(this, id, { retentionPeriod: Duration.days(14), enforceSSL: true });
      // cdk-nag recognises a Lambda function's dead-letter queue, not EventBridge's: those say so here.
      if (of) {
        Validations.of(queue).acknowledge({
          id: 'AwsSolutions-SQS3',
          reason: `This queue is itself the dead-letter queue of ${of}; a message in it raises an alarm.`,
        });
      }
      return queue;
    };
    this.deadLetterQueues = {
      schedules: deadLetterQueue('ScheduleDeadLetterQueue', 'the EventBridge Scheduler revocation schedules (set on each schedule by schedule-revocation)'),
      revoke: deadLetterQueue('RevokeDeadLetterQueue'),
      fileRequest: deadLetterQueue('FileRequestDeadLetterQueue'),
      offboard: deadLetterQueue('OffboardDeadLetterQueue'),
      reviewCampaign: deadLetterQueue('ReviewCampaignDeadLetterQueue'),
      flushEvidence: deadLetterQueue('FlushEvidenceDeadLetterQueue', 'the EventBridge rule that invokes flush-evidence'),
      sweepExpiries: deadLetterQueue('SweepExpiriesDeadLetterQueue', 'the EventBridge rule that invokes sweep-expiries'),
      driftReport: deadLetterQueue('DriftReportDeadLetterQueue', 'the EventBridge rule that invokes drift-report'),
      auditLedger: deadLetterQueue('AuditLedgerDeadLetterQueue', 'the EventBridge rule that invokes audit-ledger (the daily anchor)'),
    };

    // The role EventBridge Scheduler assumes: it may invoke the revoke function and nothing else
    // (plus writing undeliverable events to its dead-letter queue).
    this.schedulerRole = new Role(this, 'SchedulerRole', {
      description: 'Assumed by EventBridge Scheduler to invoke the Grantline revoke function',
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    });
    this.schedulerRole.addToPolicy(new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [revokeFunctionArn] }));
    this.schedulerRole.addToPolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.deadLetterQueues.schedules.queueArn] }));

    // ---------------------------------------------------------------- functions
    const environmentBase: Record<string, string> = {};
    for (const [key, value] of Object.entries(props.runtime)) if (value !== undefined) environmentBase[key] = value;

    const secretsFor = (uses: readonly SecretUse[]): ISecret[] =>
      uses.flatMap((use) =>
        use === 'identityProviders' ? props.providersInUse.map((p) => this.secrets.secrets[PROVIDER_SECRET[p]]) : [this.secrets.secrets[use]],
      );

    // Functions invoked asynchronously (by a schedule or another function): fixed names, so their callers know them before they exist; a dead-letter queue each.
    const invoked: Record<InvokedFunction, { functionName: string; arn: string; setting: string; reference: string; deadLetterQueue: Queue }> = {
      revoke: {
        functionName: names.revokeFunction,
        arn: revokeFunctionArn,
        setting: 'GRANTLINE_REVOKE_FUNCTION_ARN',
        reference: revokeFunctionArn,
        deadLetterQueue: this.deadLetterQueues.revoke,
      },
      'file-request': {
        functionName: names.fileRequestFunction,
        arn: fileRequestFunctionArn,
        setting: 'GRANTLINE_FILE_REQUEST_FUNCTION',
        reference: names.fileRequestFunction,
        deadLetterQueue: this.deadLetterQueues.fileRequest,
      },
      offboard: {
        functionName: names.offboardFunction,
        arn: functionArn(names.offboardFunction),
        setting: 'GRANTLINE_OFFBOARD_FUNCTION',
        reference: names.offboardFunction,
        deadLetterQueue: this.deadLetterQueues.offboard,
      },
      'review-campaign': {
        functionName: names.reviewCampaignFunction,
        arn: functionArn(names.reviewCampaignFunction),
        setting: 'GRANTLINE_REVIEW_CAMPAIGN_FUNCTION',
        reference: names.reviewCampaignFunction,
        deadLetterQueue: this.deadLetterQueues.reviewCampaign,
      },
    };
    const isInvoked = (name: FunctionName): name is InvokedFunction => name in invoked;
    const functions: Partial<Record<FunctionName, GrantlineFunction>> = {};
    for (const name of FUNCTION_NAMES) {
      const spec = FUNCTION_SPECS[name];
      const environment: Record<string, string> = { ...environmentBase };
      if (spec.workflow) environment.GRANTLINE_STATE_MACHINE_ARN = stateMachineArn;
      for (const target of spec.invokes ?? []) environment[invoked[target].setting] = invoked[target].reference;
      if (spec.schedules) {
        environment.GRANTLINE_SCHEDULE_GROUP = names.scheduleGroup;
        environment.GRANTLINE_REVOKE_FUNCTION_ARN = revokeFunctionArn;
        environment.GRANTLINE_SCHEDULER_ROLE_ARN = this.schedulerRole.roleArn;
        environment.GRANTLINE_SCHEDULE_DLQ_ARN = this.deadLetterQueues.schedules.queueArn;
      }
      if (spec.anchors) environment.GRANTLINE_ANCHOR_BUCKET = this.anchors.bucket.bucketName;
      const fn = new GrantlineFunction(this, pascal(name), {
        name,
        description: spec.description,
        timeout: Duration.seconds(spec.timeoutSeconds),
        memorySize: spec.memoryMb,
        catalogFile: props.catalogFile,
        logRetention: props.infra.logRetention,
        table,
        tableAccess: spec.table,
        secrets: secretsFor(spec.secrets),
        environment,
        ...(isInvoked(name) ? { functionName: invoked[name].functionName, deadLetterQueue: invoked[name].deadLetterQueue } : {}),
      });
      if (spec.table === 'read' && spec.secrets.includes('identityProviders')) {
        // The provider rate limits' buckets (shared/store/rate-buckets.ts) are written by every function that calls a provider.
        fn.allow(
          new PolicyStatement({
            actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
            resources: [table.tableArn],
            conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['RATE#*'] } },
          }),
        );
      }
      for (const target of spec.invokes ?? []) fn.allow(new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [invoked[target].arn] }));
      if (spec.workflow) {
        const actions = {
          start: ['states:StartExecution'],
          complete: ['states:SendTaskSuccess'],
          'start+complete': ['states:StartExecution', 'states:SendTaskSuccess'],
        };
        fn.allow(new PolicyStatement({ actions: actions[spec.workflow], resources: [stateMachineArn] }));
      }
      if (spec.schedules === 'create' || spec.schedules === 'move') {
        const actions = spec.schedules === 'move' ? ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule'] : ['scheduler:CreateSchedule'];
        fn.allow(new PolicyStatement({ actions, resources: [schedulesArn] }));
        fn.allow(
          new PolicyStatement({
            actions: ['iam:PassRole'],
            resources: [this.schedulerRole.roleArn],
            conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
          }),
        );
      }
      if (spec.schedules === 'delete') fn.allow(new PolicyStatement({ actions: ['scheduler:DeleteSchedule'], resources: [schedulesArn] }));
      if (spec.anchors) {
        // Write a copy (conditional, with its checksum) and read it back: nothing that deletes, shortens or holds one.
        fn.allow(new PolicyStatement({ actions: ['s3:PutObject', 's3:GetObject'], resources: [this.anchors.copiesArn] }));
        Validations.of(fn.role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::<${this.resolve((this.anchors.bucket.node.defaultChild as CfnElement).logicalId) as string}.Arn>/${ANCHOR_PREFIX}*]`,
          reason:
            "One object per anchor, named at run time after its day and time (anchors/<day>/<anchoredAt>.json); limited to the anchor bucket's anchors/ prefix.",
        });
      }
      if (spec.schedules) {
        Validations.of(fn.role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${names.scheduleGroup}/*]`,
          reason: 'Schedules are created at run time, one per grant (named after the grant id); the permission is limited to the Grantline schedule group.',
        });
      }
      functions[name] = fn;
    }
    this.functions = functions as Record<FunctionName, GrantlineFunction>;

    // ---------------------------------------------------------------- state machine
    const definitionSubstitutions: Record<string, string> = {
      ...Object.fromEntries(Object.entries(ASL_SUBSTITUTIONS).map(([placeholder, fnName]) => [placeholder, this.functions[fnName].fn.functionArn])),
      // Service-integration ARNs (arn:${Partition}:states:::lambda:invoke...) in aws, aws-cn and aws-us-gov alike.
      [ASL_PARTITION_PLACEHOLDER]: this.partition,
    };
    const missing = aslPlaceholders(readFileSync(ASL_FILE, 'utf8')).filter((p) => !(p in definitionSubstitutions));
    if (missing.length > 0) throw new Error(`${ASL_FILE} has placeholders with no function: ${missing.join(', ')}`);

    // Under /aws/vendedlogs/ as AWS advises for Step Functions logs (keeps the CloudWatch Logs resource policy
    // within its size limit); suffixed with this stack instance's id, so a group kept from a deleted stack
    // never blocks the next one of the same name.
    const stackInstance = Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', this.stackId))));
    const stateMachineLogs = new LogGroup(this, 'StateMachineLogs', {
      logGroupName: `${STATE_MACHINE_LOG_PREFIX}${names.stateMachine}-${stackInstance}`,
      retention: props.infra.logRetention,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    this.stateMachine = new StateMachine(this, 'AccessRequest', {
      stateMachineName: names.stateMachine,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromFile(ASL_FILE),
      definitionSubstitutions,
      tracingEnabled: true,
      // Execution data holds task tokens ($$.Task.Token): kept out of the logs, which record the states entered.
      logs: { destination: stateMachineLogs, level: LogLevel.ALL, includeExecutionData: false },
    });
    this.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: Object.values(ASL_SUBSTITUTIONS).map((fnName) => this.functions[fnName].fn.functionArn),
      }),
    );
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Granted by the StateMachine construct for X-Ray tracing (xray:PutTraceSegments and friends) and CloudWatch Logs delivery (logs:CreateLogDelivery and friends): neither API supports resource-level permissions.',
    });

    // ---------------------------------------------------------------- HTTP API
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', { retention: props.infra.logRetention, removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE });
    this.api = new HttpApi(this, 'Api', { description: 'Grantline webhooks (Jira, Slack) and audit API', createDefaultStage: false });
    this.apiStage = new HttpStage(this, 'ApiStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.infra.apiRateLimit, burstLimit: props.infra.apiBurstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            time: '$context.requestTime',
            route: '$context.routeKey',
            status: '$context.status',
            latencyMs: '$context.responseLatency',
            sourceIp: '$context.identity.sourceIp',
            userAgent: '$context.identity.userAgent',
            // The IAM principal behind an audit query: who looked at whose access.
            caller: '$context.identity.userArn',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    const iamAuthorizer = new HttpIamAuthorizer();
    for (const route of API_ROUTES) {
      const fn = this.functions[route.function];
      const routes = this.api.addRoutes({
        path: route.path,
        methods: [route.method === 'GET' ? HttpMethod.GET : HttpMethod.POST],
        integration: new HttpLambdaIntegration(`${pascal(route.function)}Integration`, fn.fn),
        ...(route.auth === 'iam' ? { authorizer: iamAuthorizer } : {}),
      });
      if (route.auth === 'none') {
        for (const r of routes) {
          Validations.of(r).acknowledge({
            id: 'AwsSolutions-APIG4',
            reason:
              'Webhook called by Jira and Slack, which cannot sign AWS requests: the handler authenticates every call before anything is parsed or stored (Slack v0 signature with a 5-minute window, Jira HMAC or bearer secret, constant-time compare; 401 otherwise).',
          });
        }
      }
    }

    // ---------------------------------------------------------------- periodic: evidence delivery and the expiry safety net
    const every5Minutes = (id: string, description: string, fn: GrantlineFunction, deadLetterQueue: Queue) =>
      new Rule(this, id, {
        description,
        schedule: Schedule.rate(Duration.minutes(5)),
        targets: [new LambdaFunction(fn.fn, { deadLetterQueue, retryAttempts: 2, maxEventAge: Duration.hours(1) })],
      });
    every5Minutes(
      'FlushEvidenceEvery5Minutes',
      'Delivers evidence that Jira could not take when it happened',
      this.functions['flush-evidence'],
      this.deadLetterQueues.flushEvidence,
    );
    every5Minutes(
      'SweepExpiriesEvery5Minutes',
      'Revokes active grants past their expiry and recreates missing revocation schedules',
      this.functions['sweep-expiries'],
      this.deadLetterQueues.sweepExpiries,
    );
    new Rule(this, 'DriftReportDaily', {
      description: "Reconciles each app's mapped groups with the ledger and files the findings in Jira",
      schedule: Schedule.rate(Duration.days(1)),
      targets: [
        new LambdaFunction(this.functions['drift-report'].fn, {
          deadLetterQueue: this.deadLetterQueues.driftReport,
          retryAttempts: 2,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });
    new Rule(this, 'AuditLedgerDaily', {
      description: "Anchors the ledger's hash chains of the day before: their heads hashed into one root, its copy written once to the anchor bucket",
      schedule: Schedule.rate(Duration.days(1)),
      targets: [
        new LambdaFunction(this.functions['audit-ledger'].fn, {
          deadLetterQueue: this.deadLetterQueues.auditLedger,
          retryAttempts: 2,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });
    new Rule(this, 'CampaignSweepEvery15Minutes', {
      description: 'Access review campaigns: reminders before the due date, the due date by the campaign rule, anything a crash cut short',
      schedule: Schedule.rate(Duration.minutes(15)),
      targets: [
        new LambdaFunction(this.functions['review-campaign'].fn, {
          deadLetterQueue: this.deadLetterQueues.reviewCampaign,
          retryAttempts: 2,
          maxEventAge: Duration.hours(1),
        }),
      ],
    });
    // shared/sweep.ts logs this message whenever it repairs anything: a schedule should never be missing.
    const sweeperRepairs = new MetricFilter(this, 'SweeperRepairsMetric', {
      logGroup: this.functions['sweep-expiries'].logGroup,
      metricNamespace: 'Grantline',
      metricName: 'SweeperRepairs',
      filterPattern: FilterPattern.stringValue('$.message', '=', 'expiry sweeper repaired missing revocations'),
      metricValue: '1',
    });

    // ---------------------------------------------------------------- alarms
    this.alarmTopic = props.alarmTopic ?? this.createAlarmTopic(props.infra);
    const alarm = (id: string, metric: IMetric, description: string) => {
      const created = new Alarm(this, id, {
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      if (this.alarmTopic) {
        created.addAlarmAction(new SnsAction(this.alarmTopic));
        created.addOkAction(new SnsAction(this.alarmTopic));
      }
      this.alarms.push(created);
      return created;
    };
    const fiveMinutes = { period: Duration.minutes(5), statistic: 'Sum' };
    alarm(
      'ExecutionsFailedAlarm',
      this.stateMachine.metricFailed(fiveMinutes),
      'A grant workflow failed: the grant is marked failed; read its evidence (GET /grants/{id}) and the execution history.',
    );
    alarm('ExecutionsTimedOutAlarm', this.stateMachine.metricTimedOut(fiveMinutes), 'A grant workflow timed out.');
    alarm(
      'RevokeErrorsAlarm',
      this.functions.revoke.fn.metricErrors(fiveMinutes),
      'The revoke function failed: access may still be in place past its expiry. Lambda retries twice, then the event goes to the revoke dead-letter queue.',
    );
    alarm(
      'FlushEvidenceErrorsAlarm',
      this.functions['flush-evidence'].fn.metricErrors({ period: Duration.minutes(15), statistic: 'Sum' }),
      'Evidence delivery to Jira is failing (the ledger keeps it; delivery resumes when Jira answers).',
    );
    alarm(
      'SweeperRepairsAlarm',
      sweeperRepairs.metric(fiveMinutes),
      'The expiry sweeper revoked a grant past its expiry or recreated a missing revocation schedule: a schedule went missing. Read the sweep-expiries log for the grant ids.',
    );
    const depth = (queue: Queue) => queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' });
    alarm(
      'ScheduleDeadLetterAlarm',
      depth(this.deadLetterQueues.schedules),
      'EventBridge Scheduler could not deliver a revocation to the revoke function: the message holds the grant id; invoke revoke with it.',
    );
    alarm(
      'RevokeDeadLetterAlarm',
      depth(this.deadLetterQueues.revoke),
      'A revocation failed after Lambda retries: the message holds the grant id; fix the cause and invoke revoke with it.',
    );
    alarm(
      'FileRequestDeadLetterAlarm',
      depth(this.deadLetterQueues.fileRequest),
      'A request submitted in the Slack form could not be filed after Lambda retries: the message holds the submission (receiptKey, requester, app, role); check Jira for an issue, or ask the person to submit again.',
    );
    alarm(
      'OffboardDeadLetterAlarm',
      depth(this.deadLetterQueues.offboard),
      "An offboarding asked by a Jira issue failed after Lambda retries: the message holds the person's email and the issue; fix the cause and POST /offboard with them (it is idempotent).",
    );
    alarm(
      'ReviewCampaignDeadLetterAlarm',
      depth(this.deadLetterQueues.reviewCampaign),
      'A review Revoke decided in Slack, or the campaign sweep, failed after retries: the message holds the campaign and item (the next sweep carries a recorded Revoke out), or the sweep event.',
    );
    alarm('DriftReportDeadLetterAlarm', depth(this.deadLetterQueues.driftReport), 'The daily drift report could not be invoked: drift is not being found.');
    alarm(
      'AuditLedgerDeadLetterAlarm',
      depth(this.deadLetterQueues.auditLedger),
      'The daily anchor could not be invoked: the ledger is not being anchored (POST /audit/anchor {"day"} anchors a missed day).',
    );
    alarm(
      'AuditLedgerErrorsAlarm',
      this.functions['audit-ledger'].fn.metricErrors({ period: Duration.hours(1), statistic: 'Sum' }),
      'The daily anchor failed after Lambda retries (its routes answer errors rather than fail): read the audit-ledger log; POST /audit/anchor {"day"} anchors a missed day.',
    );
    alarm('FlushEvidenceDeadLetterAlarm', depth(this.deadLetterQueues.flushEvidence), 'The periodic evidence delivery could not be invoked.');
    alarm(
      'SweepExpiriesDeadLetterAlarm',
      depth(this.deadLetterQueues.sweepExpiries),
      'The expiry sweeper could not be invoked: overdue access is not being caught.',
    );
    alarm(
      'Api5xxAlarm',
      this.api.metricServerError(fiveMinutes),
      'The HTTP API answered 5xx: Jira and Slack retry some of them, but a webhook may have been lost.',
    );

    // ---------------------------------------------------------------- outputs
    // The $default stage is served at the API endpoint itself, without a stage path.
    const url = (path: string) => `${this.api.apiEndpoint}${path}`;
    addOutput(this, 'ApiUrl', this.api.apiEndpoint, 'Base URL of the HTTP API');
    addOutput(this, 'JiraWebhookUrl', url('/webhooks/jira'), 'URL of the Jira automation rule "Send web request" action');
    addOutput(this, 'SlackInteractionsUrl', url('/webhooks/slack/interactions'), 'Slack app Interactivity request URL');
    addOutput(this, 'SlackCommandsUrl', url('/webhooks/slack/commands'), 'Slack app /access slash command request URL');
    addOutput(this, 'AuditGrantsUrl', url('/grants'), 'Audit API (SigV4, execute-api:Invoke): GET /grants?user=<email> | ?app=<key>, GET /grants/{id}');
    addOutput(this, 'TableName', table.tableName, 'DynamoDB ledger table');
    addOutput(
      this,
      'AnchorBucketName',
      this.anchors.bucket.bucketName,
      `S3 bucket of the ledger anchors' write-once copies (${ANCHOR_PREFIX}<day>/<anchoredAt>.json; Object Lock, compliance mode, ${props.infra.anchorRetentionDays} days)`,
    );
    addOutput(this, 'StateMachineArn', this.stateMachine.stateMachineArn, 'Access request state machine');
    addOutput(
      this,
      'ScheduleGroupName',
      this.data.scheduleGroup.scheduleGroupName,
      'EventBridge Scheduler group holding one revocation schedule per time-bound grant',
    );
    addOutput(
      this,
      'RevokeFunctionArn',
      this.functions.revoke.fn.functionArn,
      'Revoke function (early release: invoke with {"grantId","reason":"early_release"})',
    );
    addOutput(this, 'JiraSecretName', this.secrets.secrets.jira.secretName, 'Secret {"JIRA_EMAIL","JIRA_API_TOKEN"}');
    addOutput(
      this,
      'JiraWebhookSecretName',
      this.secrets.secrets.jiraWebhook.secretName,
      'Secret {"GRANTLINE_JIRA_WEBHOOK_SECRET"} (generated; the Jira automation rule sends it)',
    );
    addOutput(this, 'SlackSecretName', this.secrets.secrets.slack.secretName, 'Secret {"SLACK_BOT_TOKEN","SLACK_SIGNING_SECRET"}');
    addOutput(this, 'OktaSecretName', this.secrets.secrets.okta.secretName, 'Secret {"OKTA_API_TOKEN"}');
    addOutput(this, 'EntraSecretName', this.secrets.secrets.entra.secretName, 'Secret {"AZURE_TENANT_ID","AZURE_CLIENT_ID","AZURE_CLIENT_SECRET"}');
    addOutput(this, 'GoogleSecretName', this.secrets.secrets.google.secretName, 'Secret {"GOOGLE_SERVICE_ACCOUNT_KEY","GOOGLE_ADMIN_SUBJECT"}');
    if (this.alarmTopic) addOutput(this, 'AlarmTopicArn', this.alarmTopic.topicArn, 'SNS topic the alarms notify');
  }

  private createAlarmTopic(infra: InfraSettings): ITopic | undefined {
    if (infra.alarmTopicArn) return Topic.fromTopicArn(this, 'AlarmTopic', infra.alarmTopicArn);
    if (!infra.alarmEmail) return undefined;
    const topic = new Topic(this, 'AlarmTopic', { displayName: 'Grantline alarms', enforceSSL: true });
    // Not KMS-encrypted: CloudWatch alarms cannot publish to a topic under the AWS managed SNS key, and the
    // topic carries alarm state changes only (no grant data).
    topic.addSubscription(new EmailSubscription(infra.alarmEmail));
    return topic;
  }
}

/** `${Name}` placeholders in an ASL document (the ones definitionSubstitutions fill). */
export function aslPlaceholders(asl: string): string[] {
  return [...new Set([...asl.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((m) => m[1]!))];
}

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, _dash: string, c: string) => c.toUpperCase());
}
