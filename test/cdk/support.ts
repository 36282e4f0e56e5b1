/**
 * Helpers for the CDK tests: synthesize in-process, and read a synthesized template with types
 * (IAM statements per function role, environment variables, references).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CfnElement, Stack, type App } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { buildApp, type BuildAppOptions } from '../../infra/cdk/build-app.js';
import type { FunctionName } from '../../infra/cdk/functions.js';
import type { GrantlineStack } from '../../infra/cdk/stack.js';

export const TEST_CONTEXT = {
  JIRA_BASE_URL: 'https://acme.atlassian.net',
  OKTA_ORG_URL: 'https://acme.okta.com',
  SLACK_TEAM_ID: 'T0ACME',
} as const;

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Metadata?: Record<string, unknown>;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Description?: string }>;
}

export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export interface Synthesized {
  app: App;
  stack: GrantlineStack;
  assembly: CloudAssembly;
  template: CfnTemplate;
  outdir: string;
}

/** Builds and synthesizes the app once; bundling is skipped unless asked (template assertions do not need the bundles). */
export async function synthesize(options: Omit<BuildAppOptions, 'outdir'> & { outdir?: string } = {}): Promise<Synthesized> {
  const outdir = options.outdir ?? (await mkdtemp(join(tmpdir(), 'grantline-cdk-')));
  const { app, stack } = await buildApp({ skipBundling: true, ...options, outdir, context: { ...TEST_CONTEXT, ...options.context } });
  const assembly = app.synth();
  const template = assembly.getStackByName(stack.stackName).template as CfnTemplate;
  return { app, stack, assembly, template, outdir };
}

export const ref = (logicalId: string) => ({ Ref: logicalId });
export const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });
export const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
export const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

export function resourcesOfType(template: CfnTemplate, type: string): Array<[string, CfnResource]> {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

export function resource(template: CfnTemplate, logicalId: string): CfnResource {
  const found = template.Resources[logicalId];
  if (!found) throw new Error(`no resource ${logicalId}`);
  return found;
}

/** Every statement of every policy attached to a role (AWS::IAM::Policy resources and inline policies). */
export function statementsOfRole(template: CfnTemplate, roleLogicalId: string): Statement[] {
  const out: Statement[] = [];
  for (const [, policy] of resourcesOfType(template, 'AWS::IAM::Policy')) {
    const roles = asArray(policy.Properties?.Roles as unknown[] | undefined);
    if (!roles.some((r) => same(r, ref(roleLogicalId)))) continue;
    out.push(...asArray((policy.Properties!.PolicyDocument as { Statement: Statement[] }).Statement));
  }
  const inline = asArray(resource(template, roleLogicalId).Properties?.Policies as Array<{ PolicyDocument: { Statement: Statement[] } }> | undefined);
  for (const p of inline) out.push(...asArray(p.PolicyDocument.Statement));
  return out;
}

export function allStatements(template: CfnTemplate): Array<{ role: string; statement: Statement }> {
  return resourcesOfType(template, 'AWS::IAM::Role').flatMap(([roleId]) =>
    statementsOfRole(template, roleId).map((statement) => ({ role: roleId, statement })),
  );
}

export const actionsOf = (s: Statement): string[] => asArray(s.Action);
export const resourcesOf = (s: Statement): unknown[] => asArray(s.Resource);

/** Logical ids of each function's Lambda resource and role, from the constructs. */
export function functionIds(synth: Pick<Synthesized, 'stack'>): Record<FunctionName, { fn: string; role: string }> {
  const { stack } = synth;
  return Object.fromEntries(Object.entries(stack.functions).map(([name, f]) => [name, { fn: logicalIdOf(f.fn), role: logicalIdOf(f.role) }])) as Record<
    FunctionName,
    { fn: string; role: string }
  >;
}

/** The logical id of a construct's CloudFormation resource. */
export function logicalIdOf(construct: IConstruct): string {
  const child = construct.node.defaultChild;
  if (!(child instanceof CfnElement)) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  const id: unknown = Stack.of(construct).resolve(child.logicalId);
  if (typeof id !== 'string') throw new Error(`${construct.node.path} has no literal logical id`);
  return id;
}

export function environmentOf(template: CfnTemplate, fnLogicalId: string): Record<string, unknown> {
  const env = resource(template, fnLogicalId).Properties?.Environment as { Variables?: Record<string, unknown> } | undefined;
  return env?.Variables ?? {};
}
