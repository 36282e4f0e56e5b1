/**
 * Deployment settings: everything an operator chooses at `cdk deploy` time. Read from CDK context
 * (`-c KEY=value`, or the "context" block of cdk.json / cdk.context.json) or passed as stack props.
 *
 * Two kinds:
 * - runtime settings: non-secret environment variables of the functions, named exactly as in
 *   shared/config.ts (JIRA_BASE_URL, OKTA_ORG_URL, ...). Unset means "the default in shared/config.ts".
 *   They are validated at synth with the same schema the functions use at start-up.
 * - infrastructure settings: stack name, catalog path, log retention, API throttling, anchor retention, alarm target.
 *
 * Credentials are never settings: they live in Secrets Manager (infra/cdk/secrets.ts).
 */
import { isAbsolute, join, resolve } from 'node:path';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { configSchema, type Config } from '../../shared/config.js';
import { REPO_ROOT } from './paths.js';

/** Non-secret runtime settings an operator may set (shared/config.ts names, validated with its schema). */
export const RUNTIME_SETTING_NAMES = [
  'JIRA_BASE_URL',
  'JIRA_PROJECT_KEY',
  'JIRA_ISSUE_TYPE',
  'JIRA_FIELD_SUBJECT',
  'JIRA_FIELD_APP',
  'JIRA_FIELD_ROLE',
  'JIRA_FIELD_DURATION',
  'JIRA_FIELD_JUSTIFICATION',
  'JIRA_FIELD_END_DATE',
  'JIRA_FIELD_BREAK_GLASS',
  'JIRA_FIELD_INCIDENT',
  'JIRA_FIELD_BUNDLE',
  'JIRA_FIELD_APPROVERS',
  'JIRA_STATUS_AWAITING_APPROVAL',
  'JIRA_STATUS_GRANTED',
  'JIRA_STATUS_DENIED',
  'JIRA_STATUS_REVOKED',
  'JIRA_RESOLUTION_GRANTED',
  'JIRA_RESOLUTION_DENIED',
  'JIRA_RESOLUTION_REVOKED',
  'SLACK_API_URL',
  'SLACK_TEAM_ID',
  'SLACK_APP_ID',
  'OKTA_ORG_URL',
  'GRAPH_BASE_URL',
  'AZURE_AUTHORITY_HOST',
  'GOOGLE_ADMIN_ROOT_URL',
  'GRANTLINE_RATE_LIMITS',
  'LOG_LEVEL',
] as const satisfies ReadonlyArray<keyof Config>;

export type RuntimeSettingName = (typeof RUNTIME_SETTING_NAMES)[number];
export type RuntimeSettings = Partial<Record<RuntimeSettingName, string>>;

/** Settings that shared/config.ts must never receive from context: they are credentials. */
export const SECRET_SETTING_NAMES = [
  'JIRA_EMAIL',
  'JIRA_API_TOKEN',
  'GRANTLINE_JIRA_WEBHOOK_SECRET',
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'OKTA_API_TOKEN',
  'AZURE_CLIENT_SECRET',
  'GOOGLE_SERVICE_ACCOUNT_KEY',
  'GOOGLE_ACCESS_TOKEN',
  'GRANTLINE_AUDIT_TOKEN',
] as const satisfies ReadonlyArray<keyof Config>;

export interface InfraSettings {
  /** CloudFormation stack name. Context `stackName`, default "Grantline". */
  stackName: string;
  /**
   * Absolute path of the catalog file: context `catalog` (or `GRANTLINE_CATALOG`), else the environment's
   * GRANTLINE_CATALOG, relative to the working directory; default catalog.yaml at the repository root.
   */
  catalogPath: string;
  /** Retention of every log group. Context `logRetentionDays`, default 90. */
  logRetention: RetentionDays;
  /** HTTP API steady-state requests per second. Context `apiRateLimit`, default 50. */
  apiRateLimit: number;
  /** HTTP API burst. Context `apiBurstLimit`, default 100. */
  apiBurstLimit: number;
  /**
   * How long each write-once copy of a ledger anchor is kept in the anchor bucket (S3 Object Lock, compliance
   * mode: nobody, the account's root included, can delete or shorten it before then). Context
   * `anchorRetentionDays`, default 2555 (7 years); from 1 to 36500. Choose it with care: a copy cannot be
   * removed early, and changing it later applies to new copies only.
   */
  anchorRetentionDays: number;
  /** Alarms go to a new SNS topic with this email subscribed. Context `alarmEmail`. */
  alarmEmail?: string;
  /** Alarms go to this existing SNS topic. Context `alarmTopicArn`. */
  alarmTopicArn?: string;
}

export const DEFAULT_INFRA: Omit<InfraSettings, 'catalogPath'> & { catalog: string } = {
  stackName: 'Grantline',
  catalog: 'catalog.yaml',
  logRetention: RetentionDays.THREE_MONTHS,
  apiRateLimit: 50,
  apiBurstLimit: 100,
  anchorRetentionDays: 2555,
};

/** Reads one context value the CDK way (`node.tryGetContext`); CLI `-c` values are strings. */
export type ContextReader = (key: string) => unknown;

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Grantline deployment settings are invalid:\n  ${problems.join('\n  ')}`);
    this.name = 'SettingsError';
  }
}

/**
 * @param cwd base of a relative catalog path (where `cdk` runs)
 * @param env the process environment: GRANTLINE_CATALOG there is used when context gives no catalog
 */
export function readSettings(
  context: ContextReader,
  cwd: string = process.cwd(),
  env: Record<string, string | undefined> = process.env,
): { infra: InfraSettings; runtime: RuntimeSettings } {
  const problems: string[] = [];
  const text = (key: string): string | undefined => {
    const value = context(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value).trim();
    problems.push(`context ${key} must be a string, got ${JSON.stringify(value)}`);
    return undefined;
  };
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const raw = text(key);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`context ${key} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return n;
  };

  for (const name of SECRET_SETTING_NAMES) {
    if (context(name) !== undefined) {
      problems.push(`${name} is a credential: put it into its Secrets Manager secret (docs/deploy.md), never into CDK context`);
    }
  }

  const runtime: RuntimeSettings = {};
  for (const name of RUNTIME_SETTING_NAMES) {
    // A JSON setting (GRANTLINE_RATE_LIMITS) may be written as an object in cdk.json.
    const raw = context(name);
    const value = raw !== null && typeof raw === 'object' ? JSON.stringify(raw) : text(name);
    if (value !== undefined) runtime[name] = value;
  }
  problems.push(...runtimeSettingProblems(runtime));

  const retentionDays = int('logRetentionDays', DEFAULT_INFRA.logRetention, 1, 9999);
  const allowedRetention = Object.values(RetentionDays).filter((v): v is RetentionDays => typeof v === 'number');
  if (!allowedRetention.includes(retentionDays)) {
    problems.push(`context logRetentionDays must be one of ${allowedRetention.join(', ')}, got ${retentionDays}`);
  }
  const stackName = text('stackName') ?? DEFAULT_INFRA.stackName;
  if (!/^[A-Za-z][A-Za-z0-9-]{0,39}$/.test(stackName)) {
    problems.push(`context stackName must start with a letter and hold at most 40 letters, digits and hyphens, got "${stackName}"`);
  }
  const alarmEmail = text('alarmEmail');
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) problems.push(`context alarmEmail is not an email address: "${alarmEmail}"`);
  const alarmTopicArn = text('alarmTopicArn');
  if (alarmTopicArn !== undefined && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$/.test(alarmTopicArn)) {
    problems.push(`context alarmTopicArn is not an SNS topic ARN: "${alarmTopicArn}"`);
  }
  if (alarmEmail !== undefined && alarmTopicArn !== undefined) problems.push('give either alarmEmail or alarmTopicArn, not both');
  const catalog = text('catalog') ?? text('GRANTLINE_CATALOG') ?? (env.GRANTLINE_CATALOG || undefined);

  const infra: InfraSettings = {
    stackName,
    catalogPath: catalog === undefined ? join(REPO_ROOT, DEFAULT_INFRA.catalog) : isAbsolute(catalog) ? catalog : resolve(cwd, catalog),
    logRetention: retentionDays as RetentionDays,
    apiRateLimit: int('apiRateLimit', DEFAULT_INFRA.apiRateLimit, 1, 10_000),
    apiBurstLimit: int('apiBurstLimit', DEFAULT_INFRA.apiBurstLimit, 1, 5_000),
    anchorRetentionDays: int('anchorRetentionDays', DEFAULT_INFRA.anchorRetentionDays, 1, 36_500),
    ...(alarmEmail !== undefined ? { alarmEmail } : {}),
    ...(alarmTopicArn !== undefined ? { alarmTopicArn } : {}),
  };
  if (problems.length > 0) throw new SettingsError(problems);
  return { infra, runtime };
}

/** Checks runtime settings with the schema the functions parse at start-up, so a typo fails the synth, not a cold start. */
export function runtimeSettingProblems(runtime: RuntimeSettings): string[] {
  const parsed = configSchema.safeParse(runtime);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}
