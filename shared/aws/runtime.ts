/**
 * Composition for Lambda: configuration (environment + Secrets Manager, read once per cold start),
 * the DynamoDB store, the SaaS adapters and the AWS adapters. Each handler passes the connectors its
 * function calls (shared/aws/jira.ts, shared/aws/slack.ts, shared/connectors/identity.ts), so a function bundles and
 * loads only those client libraries: the webhooks never carry an identity-provider SDK (Slack allows 3 s).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { AnchorCopies } from '../chain.js';
import { loadCatalogJson } from '../catalog/catalog.js';
import type { EndDateSources } from '../catalog/schema.js';
import { systemClock } from '../clock.js';
import { parseConfig, required, type Config } from '../config.js';
import { ConfigurationError } from '../errors.js';
import type { LifecycleDeps } from '../services.js';
import type { Logger } from '../logger.js';
import type { Chat, IdentityProvider, ProviderName, Ticketing } from '../ports.js';
import { providerRegistry } from '../providers.js';
import { RateLimits } from '../rate-limit.js';
import { Store } from '../store/store.js';
import { LambdaJobs } from './jobs.js';
import { EventBridgeRevocationScheduler } from './scheduler.js';
import { StepFunctionsWorkflow } from './workflow.js';

export const logger: Logger = new PowertoolsLogger({ serviceName: 'grantline' });

/**
 * Secrets named in GRANTLINE_SECRET_IDS (comma-separated) each hold a JSON object of settings,
 * e.g. {"JIRA_EMAIL": "...", "JIRA_API_TOKEN": "..."}; they are merged over the environment.
 */
export async function loadConfig(env: Record<string, string | undefined> = process.env): Promise<Config> {
  const ids = (env.GRANTLINE_SECRET_IDS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const merged: Record<string, string | undefined> = { ...env };
  if (ids.length > 0) {
    const client = new SecretsManagerClient({});
    for (const id of ids) {
      const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: id }));
      let values: unknown;
      try {
        values = JSON.parse(SecretString ?? '{}');
      } catch {
        values = undefined;
      }
      if (!values || typeof values !== 'object' || Array.isArray(values)) throw new ConfigurationError(`secret ${id} is not a JSON object of settings`, id);
      for (const [key, value] of Object.entries(values as Record<string, unknown>)) {
        if (typeof value === 'string' && value !== '') merged[key] = value;
      }
    }
  }
  return parseConfig(merged);
}

/**
 * Builds the identity providers behind `limits`: the rate limits held in the table, across all
 * concurrent Lambdas. `endDates`: the catalog's, where each provider keeps a person's end date.
 */
export type ProviderFactory = (config: Config, limits: RateLimits, endDates?: EndDateSources) => Partial<Record<ProviderName, IdentityProvider>>;

/**
 * The SaaS connectors a function is built with: each handler passes those its code calls, so the
 * others' libraries are neither bundled nor loaded. Using one that was not passed is a ConfigurationError.
 */
export interface Connectors {
  /** Identity providers (shared/connectors/identity.ts): only functions that read or change group membership. */
  providers?: ProviderFactory;
  /** Jira (jiraTicketing, shared/aws/jira.ts). */
  ticketing?: (config: Config) => Ticketing;
  /** Slack (slackChat, shared/aws/slack.ts). */
  chat?: (config: Config) => Chat;
  /** The write-once anchor copies in S3 (s3AnchorCopies, shared/aws/anchors.ts): audit-ledger only, used when GRANTLINE_ANCHOR_BUCKET is set. */
  anchorCopies?: (bucket: string) => AnchorCopies;
}

let cached: Promise<LifecycleDeps> | undefined;

/**
 * Everything the handlers need, built once per cold start. Only functions that change access pass
 * `providers` (shared/connectors/identity.ts): the others never import an identity-provider SDK.
 */
export function awsDeps(connectors: Connectors = {}): Promise<LifecycleDeps> {
  cached ??= build(connectors).catch((err: unknown) => {
    cached = undefined; // a failed cold start (e.g. Secrets Manager throttled) is retried on the next call
    throw err;
  });
  return cached;
}

async function build(connectors: Connectors): Promise<LifecycleDeps> {
  const config = await loadConfig();
  // The catalog.json `cdk synth` wrote into the package, validated again here: no YAML parser in a Lambda.
  const catalog = await loadCatalogJson(config.GRANTLINE_CATALOG);
  const store = new Store(new DynamoDBClient({ ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}) }), config.GRANTLINE_TABLE);
  const providers = connectors.providers?.(config, RateLimits.fromEnv(config.GRANTLINE_RATE_LIMITS, { states: store.rateBuckets }), catalog.endDates) ?? {};
  return {
    config,
    clock: systemClock,
    logger,
    store,
    catalog,
    ticketing: connected(connectors.ticketing, config, 'Jira (ticketing)'),
    chat: connected(connectors.chat, config, 'Slack (chat)'),
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
    jobs: lazy(
      () =>
        new LambdaJobs({
          ...(config.GRANTLINE_FILE_REQUEST_FUNCTION ? { fileRequest: config.GRANTLINE_FILE_REQUEST_FUNCTION } : {}),
          ...(config.GRANTLINE_REVOKE_FUNCTION_ARN ? { revoke: config.GRANTLINE_REVOKE_FUNCTION_ARN } : {}),
          ...(config.GRANTLINE_OFFBOARD_FUNCTION ? { offboard: config.GRANTLINE_OFFBOARD_FUNCTION } : {}),
          ...(config.GRANTLINE_REVIEW_CAMPAIGN_FUNCTION ? { reviewCampaign: config.GRANTLINE_REVIEW_CAMPAIGN_FUNCTION } : {}),
        }),
    ),
    // The write-once anchor copies: the stack gives the bucket to audit-ledger only, whose handler passes the S3 adapter.
    ...(config.GRANTLINE_ANCHOR_BUCKET && connectors.anchorCopies ? { anchorCopies: connectors.anchorCopies(config.GRANTLINE_ANCHOR_BUCKET) } : {}),
  };
}

/** The connector built on first use (so a function that never calls it needs none of its settings), or one that says it was not passed. */
function connected<T extends object>(make: ((config: Config) => T) | undefined, config: Config, what: string): T {
  if (make) return lazy(() => make(config));
  return new Proxy({} as T, {
    get(_target, prop) {
      if (typeof prop !== 'string' || prop === 'then') return undefined;
      throw new ConfigurationError(`this function is built without ${what}: its handler must pass it to use ${prop}`);
    },
  });
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
