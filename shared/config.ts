/**
 * Every setting in one schema, parsed once per process (cold start) from the environment. A missing
 * or malformed setting names itself in the error (a ConfigurationError: logged, never shown to the
 * caller). In AWS the credentials come from Secrets Manager and are merged in by the secrets loader
 * before parsing.
 */
import * as z from 'zod';
import { ConfigurationError } from './errors.js';

const optionalUrl = z.url().optional();
const nonEmpty = z.string().trim().min(1).optional();

export const configSchema = z.object({
  GRANTLINE_TABLE: z.string().min(3).default('grantline'),
  GRANTLINE_CATALOG: z.string().default('catalog.yaml'),
  AWS_REGION: z.string().default('us-east-1'),
  DYNAMODB_ENDPOINT: optionalUrl,

  GRANTLINE_JIRA_WEBHOOK_SECRET: nonEmpty,
  GRANTLINE_AUDIT_TOKEN: nonEmpty,
  /**
   * Access review campaigns: who reviews an item when its reviewer would be the person themselves and
   * the owner's manager is unknown (or is the person too), and who takes an escalated item when the
   * reviewer's manager is unknown.
   */
  GRANTLINE_REVIEW_FALLBACK: z.email().optional(),
  GRANTLINE_STATE_MACHINE_ARN: nonEmpty,
  /** The revoke function: the schedules' target, and invoked asynchronously by the Slack interactions function for an early release ("I'm done"). */
  GRANTLINE_REVOKE_FUNCTION_ARN: nonEmpty,
  GRANTLINE_SCHEDULER_ROLE_ARN: nonEmpty,
  GRANTLINE_SCHEDULE_GROUP: z.string().default('grantline'),
  GRANTLINE_SCHEDULE_DLQ_ARN: nonEmpty,
  /** The function that files requests submitted in Slack (invoked asynchronously by the Slack interactions function). */
  GRANTLINE_FILE_REQUEST_FUNCTION: nonEmpty,
  /** The offboard function, invoked asynchronously by the Jira webhook for an offboarding issue. */
  GRANTLINE_OFFBOARD_FUNCTION: nonEmpty,
  /** The review-campaign function, invoked asynchronously by the Slack interactions function to carry out a review Revoke. */
  GRANTLINE_REVIEW_CAMPAIGN_FUNCTION: nonEmpty,
  /**
   * The S3 bucket (Object Lock, compliance mode) that keeps the write-once copies of the ledger's daily
   * anchors under anchors/ (shared/aws/anchors.ts). Set by the stack on the audit-ledger function only;
   * unset: anchors are recorded in the table without a write-once copy. Locally the copies go to a directory.
   */
  GRANTLINE_ANCHOR_BUCKET: nonEmpty,
  /** Comma-separated Secrets Manager ids whose JSON values are merged over the environment (AWS). */
  GRANTLINE_SECRET_IDS: z.string().optional(),

  JIRA_BASE_URL: optionalUrl,
  JIRA_EMAIL: nonEmpty,
  JIRA_API_TOKEN: nonEmpty,
  JIRA_PROJECT_KEY: z.string().default('ACCESS'),
  JIRA_ISSUE_TYPE: z.string().default('Access request'),
  /** Which Jira fields carry the request; a name like customfield_10070, or summary/description. */
  JIRA_FIELD_SUBJECT: z.string().default('customfield_10070'),
  JIRA_FIELD_APP: z.string().default('customfield_10071'),
  JIRA_FIELD_ROLE: z.string().default('customfield_10072'),
  JIRA_FIELD_DURATION: z.string().default('customfield_10073'),
  JIRA_FIELD_JUSTIFICATION: z.string().default('description'),
  /**
   * Optional: a Jira date field (YYYY-MM-DD) with the last day the person may have the access, e.g.
   * a contractor's end date. It caps the expiry like the subject's end date in the identity provider
   * (the earlier wins) and can only shorten the access. Unset: requests carry no end date of their own.
   */
  JIRA_FIELD_END_DATE: nonEmpty,
  /**
   * Optional: break-glass requests (docs/jira-setup.md). A field saying the request is break-glass
   * (a checkbox or select: any value but empty, "no" or "false" means yes), and a text field with the
   * incident reference. Unset: requests made in Jira are never break-glass.
   */
  JIRA_FIELD_BREAK_GLASS: nonEmpty,
  JIRA_FIELD_INCIDENT: nonEmpty,
  /**
   * Optional: onboarding bundles (shared/bundles.ts). A select field naming one of the catalog's
   * bundles; a request naming one leaves the app and role empty and becomes a grant per item.
   */
  JIRA_FIELD_BUNDLE: nonEmpty,
  /**
   * Jira Service Management's "Approvers" field (a multi-user picker, e.g. customfield_10003). When
   * set, each approval step is also asked in JSM: Grantline puts the step's approvers (and its own
   * account) in this field, and a decision made in JSM reaches it through the "Approval completed"
   * automation rule (docs/jira-setup.md §6). Unset: approvals are asked in Slack only.
   */
  JIRA_FIELD_APPROVERS: nonEmpty,
  /** Statuses (or transition names) the issue is moved to; one the workflow does not offer is logged and skipped (the comment is still posted). */
  JIRA_STATUS_AWAITING_APPROVAL: z.string().default('Waiting for approval'),
  JIRA_STATUS_GRANTED: z.string().default('Access granted'),
  JIRA_STATUS_DENIED: z.string().default('Declined'),
  JIRA_STATUS_REVOKED: z.string().default('Done'),
  /**
   * Resolution set when the transition's screen has the Resolution field (stock JSM: every
   * transition into a resolved status requires it), matched case-insensitively against what the
   * screen offers; one it does not offer fails naming the setting. "Done" and "Won't Do" are among
   * Jira Cloud's default resolutions; JSM sites often also have "Declined".
   */
  JIRA_RESOLUTION_GRANTED: z.string().trim().default('Done'),
  JIRA_RESOLUTION_DENIED: z.string().trim().default("Won't Do"),
  JIRA_RESOLUTION_REVOKED: z.string().trim().default('Done'),

  SLACK_API_URL: optionalUrl,
  SLACK_BOT_TOKEN: nonEmpty,
  SLACK_SIGNING_SECRET: nonEmpty,
  /** When set, Slack payloads from any other workspace or app are refused. */
  SLACK_TEAM_ID: nonEmpty,
  SLACK_APP_ID: nonEmpty,

  OKTA_ORG_URL: optionalUrl,
  OKTA_API_TOKEN: nonEmpty,

  /** Requests per second per provider family, e.g. {"okta.membership": 5}; defaults in shared/rate-limit.ts. */
  GRANTLINE_RATE_LIMITS: z.string().optional(),

  GRAPH_BASE_URL: optionalUrl,
  AZURE_TENANT_ID: nonEmpty,
  AZURE_CLIENT_ID: nonEmpty,
  AZURE_CLIENT_SECRET: nonEmpty,
  /** Microsoft identity platform host (sovereign clouds, or the local sandbox). */
  AZURE_AUTHORITY_HOST: optionalUrl,
  /** PEM file of an extra CA to trust for Graph (the sandbox's self-signed certificate); never needed in AWS. */
  GRAPH_EXTRA_CA_FILE: nonEmpty,

  GOOGLE_ADMIN_ROOT_URL: optionalUrl,
  /** The service account's JSON key (domain-wide delegation). */
  GOOGLE_SERVICE_ACCOUNT_KEY: nonEmpty,
  /** The Workspace admin the service account acts as. */
  GOOGLE_ADMIN_SUBJECT: nonEmpty,
  /** A ready access token instead of the service account (local testing only: Google's token endpoint is fixed). */
  GOOGLE_ACCESS_TOKEN: nonEmpty,

  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']).default('INFO'),
});

export type Config = z.output<typeof configSchema>;

export function parseConfig(env: Record<string, string | undefined>): Config {
  // Empty strings mean "unset" so that `FOO=` in a shell does not become an invalid URL.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigurationError(`invalid configuration: ${problems.join('; ')}`, parsed.error.issues.map((i) => i.path.join('.')).join(', '));
  }
  return parsed.data;
}

export function required<K extends keyof Config>(config: Config, key: K): NonNullable<Config[K]> {
  const value = config[key];
  if (value === undefined || value === null || value === '') {
    throw new ConfigurationError(`configuration ${String(key)} is required here but not set`, String(key));
  }
  return value as NonNullable<Config[K]>;
}
