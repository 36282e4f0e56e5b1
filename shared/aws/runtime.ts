/**
 * Composition for Lambda: configuration (environment + Secrets Manager, read once per cold start),
 * the DynamoDB store, the SaaS adapters and the AWS adapters. The identity-provider SDKs load only
 * when a provider is first used, so the webhook functions never pay for them (Slack allows 3 s).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { loadCatalog } from '../catalog/load.js';
import { systemClock } from '../clock.js';
import { parseConfig, required, type Config } from '../config.js';
import { JiraTicketing } from '../connectors/jira.js';
import { SlackChat } from '../connectors/slack.js';
import { ValidationError } from '../errors.js';
import type { LifecycleDeps } from '../lifecycle.js';
import type { Logger } from '../logger.js';
import type { IdentityProvider, ProviderName } from '../ports.js';
import { providerRegistry } from '../providers.js';
import { Store } from '../store/store.js';
import { EventBridgeRevocationScheduler } from './scheduler.js';
import { StepFunctionsWorkflow } from './workflow.js';

export const logger: Logger = new PowertoolsLogger({ serviceName: 'grantline' });

/**
 * Secrets named in GRANTLINE_SECRET_IDS (comma-separated) each hold a JSON object of settings,
 * e.g. {"JIRA_EMAIL": "...", "JIRA_API_TOKEN": "..."}; they are merged over the environment.
 */
export async function loadConfig(env: Record<string, string | undefined> = process.env): Promise<Config> {
  const ids = (env.GRANTLINE_SECRET_IDS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const merged: Record<string, string | undefined> = { ...env };
  if (ids.length > 0) {
    const client = new SecretsManagerClient({});
    for (const id of ids) {
      const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: id }));
      let values: unknown;
      try {
        values = JSON.parse(SecretString ?? '{}');
      } catch {
        throw new ValidationError(`secret ${id} is not a JSON object of settings`);
      }
      for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
        if (typeof value === 'string' && value !== '') merged[key] = value;
      }
    }
  }
  return parseConfig(merged);
}

export type ProviderFactory = (config: Config) => Partial<Record<ProviderName, IdentityProvider>>;

let cached: Promise<LifecycleDeps> | undefined;

/**
 * Everything the handlers need, built once per cold start. Only functions that change access pass
 * `providers` (shared/aws/identity.ts): the others never import an identity-provider SDK.
 */
export function awsDeps(providers?: ProviderFactory): Promise<LifecycleDeps> {
  cached ??= build(providers).catch((err: unknown) => {
    cached = undefined; // a failed cold start (e.g. Secrets Manager throttled) is retried on the next call
    throw err;
  });
  return cached;
}

async function build(providerFactory: ProviderFactory | undefined): Promise<LifecycleDeps> {
  const config = await loadConfig();
  const catalog = await loadCatalog(config.GRANTLINE_CATALOG);
  const store = new Store(new DynamoDBClient({ ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}) }), config.GRANTLINE_TABLE);
  const providers = providerFactory?.(config) ?? {};
  return {
    config,
    clock: systemClock,
    logger,
    store,
    catalog,
    ticketing: lazy(() =>
      new JiraTicketing({
        baseUrl: required(config, 'JIRA_BASE_URL'),
        email: required(config, 'JIRA_EMAIL'),
        apiToken: required(config, 'JIRA_API_TOKEN'),
        projectKey: config.JIRA_PROJECT_KEY,
        issueTypeName: config.JIRA_ISSUE_TYPE,
      }),
    ),
    chat: lazy(() => new SlackChat({ token: required(config, 'SLACK_BOT_TOKEN'), ...(config.SLACK_API_URL ? { apiUrl: config.SLACK_API_URL } : {}) })),
    idp: providerRegistry(providers),
    scheduler: lazy(
      () =>
        new EventBridgeRevocationScheduler({
          groupName: config.GRANTLINE_SCHEDULE_GROUP,
          targetArn: required(config, 'GRANTLINE_REVOKE_FUNCTION_ARN'),
          roleArn: required(config, 'GRANTLINE_SCHEDULER_ROLE_ARN'),
          ...(config.GRANTLINE_SCHEDULE_DLQ_ARN ? { deadLetterArn: config.GRANTLINE_SCHEDULE_DLQ_ARN } : {}),
        }),
    ),
    workflow: lazy(() => new StepFunctionsWorkflow(required(config, 'GRANTLINE_STATE_MACHINE_ARN'))),
  };
}

/** Builds an adapter on first use, so a function that never calls it needs none of its settings. */
function lazy<T extends object>(make: () => T): T {
  let instance: T | undefined;
  return new Proxy({} as T, {
    get(_target, prop) {
      instance ??= make();
      const value = Reflect.get(instance, prop, instance) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(instance) : value;
    },
  });
}
