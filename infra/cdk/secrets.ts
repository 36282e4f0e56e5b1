/**
 * The credentials, one Secrets Manager secret per vendor. Each secret's value is a JSON object whose
 * keys are the setting names of shared/config.ts; shared/aws/runtime.ts merges every secret listed in
 * a function's GRANTLINE_SECRET_IDS over its environment at cold start. No value ever appears in the
 * template or in an environment variable: the stack creates each secret with a skeleton of empty
 * values (or, for the Jira webhook secret, a generated random value), and the operator puts the real
 * values with `aws secretsmanager put-secret-value` (docs/deploy.md).
 */
import { Validations } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { Config } from '../../shared/config.js';
import type { ProviderName } from '../../shared/ports.js';

export type SecretKey = 'jira' | 'jiraWebhook' | 'slack' | 'okta' | 'entra' | 'google';

export interface SecretLayout {
  /** The JSON keys the secret's value holds: setting names of shared/config.ts. */
  readonly keys: ReadonlyArray<keyof Config>;
  readonly description: string;
  /** A key whose value the stack generates at creation (a shared secret nobody else issued). */
  readonly generatedKey?: keyof Config;
}

/** The JSON layout of every secret; docs/deploy.md shows the same layout to operators. */
export const SECRET_LAYOUT = {
  jira: {
    keys: ['JIRA_EMAIL', 'JIRA_API_TOKEN'],
    description: 'Grantline: the Jira Cloud account that files requests and writes evidence. {"JIRA_EMAIL","JIRA_API_TOKEN"}',
  },
  jiraWebhook: {
    keys: ['GRANTLINE_JIRA_WEBHOOK_SECRET'],
    generatedKey: 'GRANTLINE_JIRA_WEBHOOK_SECRET',
    description:
      'Grantline: the shared secret the Jira automation rule sends as "Authorization: Bearer <secret>" (or the Jira webhook HMAC secret). Generated at creation. {"GRANTLINE_JIRA_WEBHOOK_SECRET"}',
  },
  slack: {
    keys: ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET'],
    description: 'Grantline: the Slack app bot token and request signing secret. {"SLACK_BOT_TOKEN","SLACK_SIGNING_SECRET"}',
  },
  okta: {
    keys: ['OKTA_API_TOKEN'],
    description: 'Grantline: the Okta API token (SSWS) of a least-privileged admin. {"OKTA_API_TOKEN"}',
  },
  entra: {
    keys: ['AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET'],
    description:
      'Grantline: the Microsoft Entra ID app registration (GroupMember.ReadWrite.All, User.Read.All, User.RevokeSessions.All; AuditLog.Read.All for last sign-in in reviews). {"AZURE_TENANT_ID","AZURE_CLIENT_ID","AZURE_CLIENT_SECRET"}',
  },
  google: {
    keys: ['GOOGLE_SERVICE_ACCOUNT_KEY', 'GOOGLE_ADMIN_SUBJECT'],
    description:
      'Grantline: the Google Workspace service account key (JSON, as a string) and the admin it impersonates. {"GOOGLE_SERVICE_ACCOUNT_KEY","GOOGLE_ADMIN_SUBJECT"}',
  },
} as const satisfies Record<SecretKey, SecretLayout>;

/** The identity-provider secret of each provider. */
export const PROVIDER_SECRET: Record<ProviderName, SecretKey> = { okta: 'okta', entra: 'entra', google: 'google' };

/**
 * Key that holds the random filler CloudFormation must generate alongside a skeleton template. It is
 * not a setting: shared/config.ts ignores unknown keys, and put-secret-value replaces it.
 */
export const SKELETON_FILLER_KEY = 'GRANTLINE_SKELETON_FILLER';

export class GrantlineSecrets extends Construct {
  readonly secrets: Record<SecretKey, Secret>;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const make = (key: SecretKey, logicalId: string): Secret => {
      const layout: SecretLayout = SECRET_LAYOUT[key];
      const generatedKey = layout.generatedKey;
      const skeleton = Object.fromEntries(layout.keys.filter((k) => k !== generatedKey).map((k) => [k, '']));
      const secret = new Secret(this, logicalId, {
        description: layout.description,
        generateSecretString: generatedKey
          ? { secretStringTemplate: JSON.stringify(skeleton), generateStringKey: generatedKey, passwordLength: 48, excludePunctuation: true }
          : { secretStringTemplate: JSON.stringify(skeleton), generateStringKey: SKELETON_FILLER_KEY, passwordLength: 16, excludePunctuation: true },
      });
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'These are credentials issued by third parties (Jira, Slack, Okta, Entra ID, Google): they are rotated in the vendor console and then stored with put-secret-value (docs/deploy.md); Secrets Manager has no rotation function that can mint them.',
      });
      return secret;
    };
    this.secrets = {
      jira: make('jira', 'Jira'),
      jiraWebhook: make('jiraWebhook', 'JiraWebhook'),
      slack: make('slack', 'Slack'),
      okta: make('okta', 'Okta'),
      entra: make('entra', 'Entra'),
      google: make('google', 'Google'),
    };
  }
}
