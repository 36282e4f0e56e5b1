/**
 * Builds the CDK app: reads the settings, validates the catalog (synth stops with every problem
 * listed), creates the stack and registers cdk-nag's AwsSolutions checks, which fail the synth on
 * any finding that is not acknowledged with a written reason. Used by infra/app.ts (`cdk synth`,
 * `cdk deploy`) and by test/cdk.
 */
import { Annotations, App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { catalogProviders } from '../../shared/catalog/catalog.js';
import { loadCatalog } from '../../shared/catalog/load.js';
import type { Catalog } from '../../shared/catalog/schema.js';
import { GrantlineStack } from './stack.js';
import { readSettings } from './settings.js';

export interface BuildAppOptions {
  /** Cloud assembly directory; default: the CLI's (CDK_OUTDIR) or a temporary one. */
  readonly outdir?: string;
  /** Extra context, as `-c key=value` would give. */
  readonly context?: Record<string, unknown>;
  /** Skip esbuild bundling (assertion tests that only read the template). */
  readonly skipBundling?: boolean;
  /** Base for a relative catalog path; default: the working directory. */
  readonly cwd?: string;
}

export class CatalogInvalidError extends Error {
  constructor(
    readonly problems: string[],
    cause: unknown,
  ) {
    super(`Grantline synth stopped: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'CatalogInvalidError';
  }
}

export async function buildApp(options: BuildAppOptions = {}): Promise<{ app: App; stack: GrantlineStack; catalog: Catalog }> {
  const props: AppProps = {
    ...(options.outdir ? { outdir: options.outdir } : {}),
    context: { ...options.context, ...(options.skipBundling ? { 'aws:cdk:bundling-stacks': [] } : {}) },
  };
  const app = new App(props);
  const { infra, runtime } = readSettings((key) => app.node.tryGetContext(key), options.cwd);

  let catalog: Catalog;
  try {
    catalog = await loadCatalog(infra.catalogPath);
  } catch (err) {
    const problems = err instanceof Error && 'problems' in err && Array.isArray(err.problems) ? (err.problems as string[]) : [String(err)];
    throw new CatalogInvalidError(problems, err);
  }

  const providersInUse = catalogProviders(catalog);
  const stack = new GrantlineStack(app, infra.stackName, { infra, runtime, catalogFile: infra.catalogPath, providersInUse });
  if (!runtime.JIRA_BASE_URL) {
    Annotations.of(stack).addWarningV2(
      'grantline:jiraBaseUrlUnset',
      'JIRA_BASE_URL is not set: pass -c JIRA_BASE_URL=https://<site>.atlassian.net (docs/deploy.md)',
    );
  }
  if (providersInUse.includes('okta') && !runtime.OKTA_ORG_URL) {
    Annotations.of(stack).addWarningV2(
      'grantline:oktaOrgUrlUnset',
      'the catalog maps roles to Okta but OKTA_ORG_URL is not set: pass -c OKTA_ORG_URL=https://<org>.okta.com',
    );
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, catalog };
}

export { catalogProviders };
