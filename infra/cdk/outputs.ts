/**
 * The stack's outputs as a typed contract: what operators paste into Jira, Slack and their scripts
 * (`npx cdk deploy --outputs-file outputs.json`). The stack can only emit keys listed here, and
 * test/cdk checks that it emits every required one.
 */
import { CfnOutput, type Stack } from 'aws-cdk-lib';

export const REQUIRED_OUTPUT_KEYS = [
  'ApiUrl',
  'JiraWebhookUrl',
  'SlackInteractionsUrl',
  'SlackCommandsUrl',
  'AuditGrantsUrl',
  'TableName',
  'AnchorBucketName',
  'StateMachineArn',
  'ScheduleGroupName',
  'RevokeFunctionArn',
  'JiraSecretName',
  'JiraWebhookSecretName',
  'SlackSecretName',
  'OktaSecretName',
  'EntraSecretName',
  'GoogleSecretName',
] as const;

/** Present only when alarms have a topic (context alarmEmail or alarmTopicArn). */
export const OPTIONAL_OUTPUT_KEYS = ['AlarmTopicArn'] as const;

export type RequiredOutputKey = (typeof REQUIRED_OUTPUT_KEYS)[number];
export type OptionalOutputKey = (typeof OPTIONAL_OUTPUT_KEYS)[number];
export type StackOutputKey = RequiredOutputKey | OptionalOutputKey;

export type GrantlineStackOutputs = Record<RequiredOutputKey, string> & Partial<Record<OptionalOutputKey, string>>;

/** Emits one output; the key is the CloudFormation output name. */
export function addOutput(stack: Stack, key: StackOutputKey, value: string, description: string): CfnOutput {
  return new CfnOutput(stack, key, { value, description });
}

/**
 * Reads the outputs of a deployed stack, e.g. one entry of the file written by
 * `cdk deploy --outputs-file`, and fails naming every missing key.
 */
export function parseStackOutputs(raw: Record<string, unknown>): GrantlineStackOutputs {
  const missing = REQUIRED_OUTPUT_KEYS.filter((key) => typeof raw[key] !== 'string' || raw[key] === '');
  if (missing.length > 0) throw new Error(`stack outputs are missing ${missing.join(', ')}`);
  const pick = (key: StackOutputKey): string | undefined => (typeof raw[key] === 'string' ? (raw[key] as string) : undefined);
  const outputs = Object.fromEntries(REQUIRED_OUTPUT_KEYS.map((key) => [key, pick(key)!])) as Record<RequiredOutputKey, string>;
  const optional: Partial<Record<OptionalOutputKey, string>> = {};
  for (const key of OPTIONAL_OUTPUT_KEYS) {
    const value = pick(key);
    if (value !== undefined) optional[key] = value;
  }
  return { ...outputs, ...optional };
}
