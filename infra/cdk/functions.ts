/**
 * The Lambda functions: one per folder under functions/, and what each one may touch. This table is
 * the single place that decides a function's access; the stack turns it into IAM policies and
 * environment variables, and test/cdk checks the result against the reasons written here.
 *
 * Why each function needs what it has (read from shared/lifecycle.ts, shared/intake.ts,
 * shared/slack-routes.ts, shared/evidence.ts):
 * - every function except the audit ones and the Slack click handler delivers evidence to the Jira issue: Jira;
 * - functions that message people (approval prompts, outcomes, "your request was ...") : Slack;
 * - functions that look up or change identity-provider users: the identity-provider secrets;
 * - the webhook receivers start executions (name = grant id); the Slack click handler and the
 *   approval task (re-driven execution whose step was already decided) complete the waiting task.
 */
export const FUNCTION_NAMES = [
  'jira-webhook',
  'slack-interactions',
  'slack-commands',
  'file-request',
  'audit-grants',
  'audit-grant',
  'advance',
  'request-approval',
  'approval-timer',
  'provision',
  'schedule-revocation',
  'break-glass-review',
  'record-failure',
  'revoke',
  'flush-evidence',
  'sweep-expiries',
  'revoke-grant',
  'extend-grant',
  'review-app',
  'policy-explain',
  'evidence-pending',
  'offboard',
  'drift-report',
  'review-campaign',
  'audit-ledger',
] as const;

export type FunctionName = (typeof FUNCTION_NAMES)[number];

/** The functions invoked asynchronously (by another function or a schedule): each has a fixed name and a dead-letter queue. */
export type InvokedFunction = Extract<FunctionName, 'revoke' | 'file-request' | 'offboard' | 'review-campaign'>;

/** Secrets a function may read; `identityProviders` means the secrets of the providers the catalog uses. */
export type SecretUse = 'jira' | 'jiraWebhook' | 'slack' | 'identityProviders';

export interface FunctionSpec {
  readonly description: string;
  readonly trigger: 'http' | 'state machine' | 'scheduler' | 'periodic' | 'async';
  readonly table: 'read' | 'readWrite';
  readonly secrets: readonly SecretUse[];
  /** start: states:StartExecution. complete: states:SendTaskSuccess. start+complete: both. */
  readonly workflow?: 'start' | 'complete' | 'start+complete';
  /** Functions it invokes asynchronously (lambda:InvokeFunction on exactly those; their names in the environment). */
  readonly invokes?: readonly InvokedFunction[];
  /** create: scheduler:CreateSchedule + iam:PassRole of the scheduler role. delete: scheduler:DeleteSchedule. */
  /** create: CreateSchedule; move: CreateSchedule and UpdateSchedule (an extension moves the one schedule); delete: DeleteSchedule. */
  readonly schedules?: 'create' | 'move' | 'delete';
  /**
   * The anchor bucket (write-once copies of the ledger's anchors, infra/cdk/anchors.ts): s3:PutObject and
   * s3:GetObject on its anchors/* objects, and its name in GRANTLINE_ANCHOR_BUCKET. Never a delete, a
   * retention or a legal-hold action: Object Lock keeps each copy for the retention whoever asks.
   */
  readonly anchors?: 'write+read';
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
}

/** An IAM-authenticated route that ends access through the revoke path: identity providers and Jira, deleting schedules, within API Gateway's 29 s. */
const REVOKING_ROUTE = {
  trigger: 'http',
  table: 'readWrite',
  secrets: ['jira', 'identityProviders'],
  schedules: 'delete',
  timeoutSeconds: 29,
  memoryMb: 1024,
} as const satisfies Omit<FunctionSpec, 'description'>;

export const FUNCTION_SPECS: Record<FunctionName, FunctionSpec> = {
  'jira-webhook': {
    description:
      'POST /webhooks/jira: a Jira issue becomes a grant request and starts its workflow; a decision made in Jira Service Management completes the waiting task, as a Slack click does',
    trigger: 'http',
    table: 'readWrite',
    secrets: ['jira', 'jiraWebhook'],
    workflow: 'start+complete',
    invokes: ['offboard'],
    timeoutSeconds: 29,
    memoryMb: 512,
  },
  'slack-interactions': {
    description:
      'POST /webhooks/slack/interactions: Approve/Deny (ledger, then the waiting task), the /access form (to file-request), "I\'m done" (to revoke), "Extend" (its own execution), review Keep/Revoke (a Revoke to review-campaign)',
    trigger: 'http',
    table: 'readWrite',
    secrets: ['slack'],
    workflow: 'start+complete',
    invokes: ['file-request', 'revoke', 'review-campaign'],
    timeoutSeconds: 29,
    memoryMb: 512,
  },
  'slack-commands': {
    description: 'POST /webhooks/slack/commands: /access opens the request form (nothing is filed before it is submitted)',
    trigger: 'http',
    table: 'read',
    secrets: ['slack'],
    timeoutSeconds: 29,
    memoryMb: 512,
  },
  'file-request': {
    description:
      'Asynchronous invoke by slack-interactions: files a request submitted in the Slack form (the Jira issue, then the grant and its workflow) and tells the person',
    trigger: 'async',
    table: 'readWrite',
    secrets: ['slack', 'jira'],
    workflow: 'start',
    // Jira is given three attempts with waits of 1, 3 and 9 s (shared/filing.ts), each up to its 10 s timeout.
    timeoutSeconds: 90,
    memoryMb: 512,
  },
  'audit-grants': {
    description: 'GET /grants (IAM auth): grants of a user or an app, with their evidence',
    trigger: 'http',
    table: 'read',
    secrets: [],
    timeoutSeconds: 29,
    memoryMb: 512,
  },
  'audit-grant': {
    description: 'GET /grants/{id} (IAM auth): one grant, the auditor answers and its evidence',
    trigger: 'http',
    table: 'read',
    secrets: [],
    timeoutSeconds: 29,
    memoryMb: 512,
  },
  advance: {
    description: 'State machine Advance: plans approvals (looks the subject up in the identity provider), reads decisions',
    trigger: 'state machine',
    table: 'readWrite',
    secrets: ['jira', 'slack', 'identityProviders'],
    timeoutSeconds: 55,
    memoryMb: 1024,
  },
  'request-approval': {
    description: 'State machine RequestApproval (callback): Slack prompts to the approvers, task token kept in the ledger',
    trigger: 'state machine',
    table: 'readWrite',
    secrets: ['slack', 'jira'],
    workflow: 'complete',
    timeoutSeconds: 55,
    memoryMb: 512,
  },
  'approval-timer': {
    description: "State machine ApprovalTimer: a step's reminder, escalation or deadline (the step expires and the request is denied)",
    trigger: 'state machine',
    table: 'readWrite',
    secrets: ['slack', 'jira'],
    timeoutSeconds: 55,
    memoryMb: 512,
  },
  provision: {
    description:
      'State machine Provision: adds the subject to the identity-provider group (or the owner manual task); an approved extension moves the grant expiry and schedule',
    trigger: 'state machine',
    table: 'readWrite',
    secrets: ['jira', 'slack', 'identityProviders'],
    schedules: 'move',
    timeoutSeconds: 110,
    memoryMb: 1024,
  },
  'schedule-revocation': {
    description: 'State machine ScheduleRevocation: one-time EventBridge Scheduler schedule at expiry (an expiry already past is revoked at once)',
    trigger: 'state machine',
    table: 'readWrite',
    secrets: ['jira', 'identityProviders'],
    schedules: 'create',
    timeoutSeconds: 55,
    memoryMb: 512,
  },
  'break-glass-review': {
    description:
      "State machine OpenReview and ReviewDue: a break-glass grant's revocation scheduled (a past expiry is revoked at once) and its review after the fact opened in Slack; at the deadline, flagged if nobody confirmed it",
    trigger: 'state machine',
    table: 'readWrite',
    secrets: ['jira', 'slack', 'identityProviders'],
    schedules: 'create',
    timeoutSeconds: 55,
    memoryMb: 1024,
  },
  'record-failure': {
    description: 'State machine RecordFailure: gives back any access the attempt gave, marks the grant failed and says why',
    trigger: 'state machine',
    table: 'readWrite',
    secrets: ['jira', 'slack', 'identityProviders'],
    timeoutSeconds: 55,
    memoryMb: 512,
  },
  revoke: {
    description: 'EventBridge Scheduler target, and asynchronous invoke by slack-interactions for an early release ("I\'m done"): removes the membership',
    trigger: 'scheduler',
    table: 'readWrite',
    secrets: ['jira', 'identityProviders'],
    schedules: 'delete',
    timeoutSeconds: 120,
    memoryMb: 1024,
  },
  'revoke-grant': {
    description: 'POST /grants/{id}/revoke (IAM auth): an access review or early release revokes through the same path as expiry',
    ...REVOKING_ROUTE,
  },
  offboard: {
    description:
      'POST /offboard (IAM auth), and asynchronous invoke by jira-webhook for an offboarding issue: ends every active grant of the person through the revoke path and their sessions at each identity provider',
    ...REVOKING_ROUTE,
  },
  'review-campaign': {
    description:
      'POST /reviews, GET /campaigns, /campaigns/{id}/... (IAM auth): review campaigns (snapshot, Slack message per reviewer, Revoke via the revoke path); Revokes decided in Slack (async); the 15-minute sweep; POST /audit/attachments (audit files to Jira)',
    ...REVOKING_ROUTE,
    secrets: [...REVOKING_ROUTE.secrets, 'slack'],
    // A start snapshots every member (a review profile each): it may outlast API Gateway's 29 s, and goes on (a repeat with its Idempotency-Key answers 202).
    timeoutSeconds: 300,
  },
  'drift-report': {
    description:
      "Daily, and POST /drift (IAM auth): each app's mapped groups against the ledger (memberships outside Grantline, grants whose membership vanished); findings on one Jira issue per app and day; driftFix apps have outside memberships removed",
    trigger: 'periodic',
    table: 'readWrite',
    secrets: ['jira', 'identityProviders'],
    timeoutSeconds: 300,
    memoryMb: 1024,
  },
  'audit-ledger': {
    description:
      "GET /audit/chains, GET /audit/anchors, POST /audit/anchor (IAM auth), and daily: the ledger's hash chains and their anchors; the daily anchor of the day before, its copy written once to the Object Lock bucket",
    trigger: 'periodic',
    table: 'readWrite',
    secrets: [],
    anchors: 'write+read',
    // The routes answer within API Gateway's 29 s; the daily anchor (a query of the day's heads, one S3 write) has more room.
    timeoutSeconds: 60,
    memoryMb: 512,
  },
  'extend-grant': {
    description: 'POST /grants/{id}/extend (IAM auth): an extension request, recorded and sent through the role approval again',
    trigger: 'http',
    table: 'readWrite',
    secrets: ['jira'],
    workflow: 'start',
    timeoutSeconds: 29,
    memoryMb: 512,
  },
  'review-app': {
    description: 'GET /reviews/{app} (IAM auth): grants per role against the identity-provider group members',
    trigger: 'http',
    table: 'read',
    secrets: ['identityProviders'],
    timeoutSeconds: 29,
    memoryMb: 1024,
  },
  'policy-explain': {
    description: 'GET /policy/explain (IAM auth): who would be asked to approve a request and why, read-only',
    trigger: 'http',
    table: 'read',
    secrets: ['identityProviders'],
    timeoutSeconds: 29,
    memoryMb: 1024,
  },
  'evidence-pending': {
    description: 'GET /evidence/pending (IAM auth): evidence Jira has not taken yet, and evidence it refused for good',
    trigger: 'http',
    table: 'read',
    secrets: [],
    timeoutSeconds: 29,
    memoryMb: 512,
  },
  'flush-evidence': {
    description: 'Every 5 minutes: delivers evidence that Jira could not take when it happened',
    trigger: 'periodic',
    table: 'readWrite',
    secrets: ['jira'],
    timeoutSeconds: 240,
    memoryMb: 512,
  },
  'sweep-expiries': {
    description:
      'Every 5 minutes: revokes active grants past their expiry (a schedule went missing), recreates missing schedules of grants due soon, and sends the notice before access ends',
    trigger: 'periodic',
    table: 'readWrite',
    secrets: ['jira', 'slack', 'identityProviders'],
    schedules: 'create',
    timeoutSeconds: 240,
    memoryMb: 1024,
  },
};

/** The state machine's ${Placeholders} and the function each one names. */
export const ASL_SUBSTITUTIONS = {
  AdvanceFunctionArn: 'advance',
  RequestApprovalFunctionArn: 'request-approval',
  ApprovalTimerFunctionArn: 'approval-timer',
  ProvisionFunctionArn: 'provision',
  ScheduleRevocationFunctionArn: 'schedule-revocation',
  BreakGlassReviewFunctionArn: 'break-glass-review',
  RecordFailureFunctionArn: 'record-failure',
  RevokeFunctionArn: 'revoke',
} as const satisfies Record<string, FunctionName>;

/** The HTTP API's routes: the twin of infra/local/server.ts ROUTES (minus the local /healthz). */
export const API_ROUTES = [
  { method: 'POST', path: '/webhooks/jira', function: 'jira-webhook', auth: 'none' },
  { method: 'POST', path: '/webhooks/slack/interactions', function: 'slack-interactions', auth: 'none' },
  { method: 'POST', path: '/webhooks/slack/commands', function: 'slack-commands', auth: 'none' },
  { method: 'GET', path: '/grants', function: 'audit-grants', auth: 'iam' },
  { method: 'GET', path: '/grants/{id}', function: 'audit-grant', auth: 'iam' },
  { method: 'POST', path: '/grants/{id}/revoke', function: 'revoke-grant', auth: 'iam' },
  { method: 'POST', path: '/grants/{id}/extend', function: 'extend-grant', auth: 'iam' },
  { method: 'POST', path: '/offboard', function: 'offboard', auth: 'iam' },
  { method: 'POST', path: '/drift', function: 'drift-report', auth: 'iam' },
  { method: 'POST', path: '/reviews', function: 'review-campaign', auth: 'iam' },
  { method: 'GET', path: '/campaigns', function: 'review-campaign', auth: 'iam' },
  { method: 'GET', path: '/campaigns/{id}', function: 'review-campaign', auth: 'iam' },
  { method: 'POST', path: '/campaigns/{id}/decisions', function: 'review-campaign', auth: 'iam' },
  { method: 'POST', path: '/campaigns/{id}/close', function: 'review-campaign', auth: 'iam' },
  { method: 'GET', path: '/reviews/{app}', function: 'review-app', auth: 'iam' },
  { method: 'GET', path: '/evidence/pending', function: 'evidence-pending', auth: 'iam' },
  // The audit pack's attachments: the audit functions have no Jira secret and bundle no Jira client; review-campaign already attaches its CSV to Jira.
  { method: 'POST', path: '/audit/attachments', function: 'review-campaign', auth: 'iam' },
  { method: 'GET', path: '/policy/explain', function: 'policy-explain', auth: 'iam' },
  { method: 'GET', path: '/audit/chains', function: 'audit-ledger', auth: 'iam' },
  { method: 'GET', path: '/audit/anchors', function: 'audit-ledger', auth: 'iam' },
  { method: 'POST', path: '/audit/anchor', function: 'audit-ledger', auth: 'iam' },
] as const satisfies ReadonlyArray<{ method: 'GET' | 'POST'; path: string; function: FunctionName; auth: 'none' | 'iam' }>;
