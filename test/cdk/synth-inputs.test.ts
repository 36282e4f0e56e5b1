/**
 * What goes into a synth: the catalog (validated, or the synth stops listing every problem), the
 * deployment settings (validated; credentials refused), the identity providers the catalog uses
 * (only their secrets are read), and the cdk-nag checks registered on the app itself.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, CatalogInvalidError, catalogProviders } from '../../infra/cdk/build-app.js';
import { FUNCTION_NAMES } from '../../infra/cdk/functions.js';
import { loadCatalog } from '../../shared/catalog/load.js';
import { REPO_ROOT } from '../../infra/cdk/paths.js';
import { readSettings, SettingsError } from '../../infra/cdk/settings.js';
import { OKTA_AND_ENTRA_CATALOG, OKTA_CATALOG } from './fixtures.js';
import { actionsOf, functionIds, logicalIdOf, ref, resourcesOf, same, statementsOfRole, synthesize, TEST_CONTEXT, type Synthesized } from './support.js';

let dir: string;
let withEntra: Synthesized;

/** 1-based line of the only line containing `text`. */
function lineOf(yaml: string, text: string): number {
  const hits = yaml.split('\n').flatMap((line, i) => (line.includes(text) ? [i + 1] : []));
  if (hits.length !== 1) throw new Error(`"${text}" is on ${hits.length} lines`);
  return hits[0]!;
}

const write = async (name: string, text: string) => {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'grantline-synth-inputs-'));
  // Prepare: a catalog that uses Okta and Microsoft Entra ID (and has a manual role).
  await write('okta.yaml', OKTA_CATALOG);
  const entraCatalog = await write('entra.yaml', OKTA_AND_ENTRA_CATALOG);
  withEntra = await synthesize({
    context: { catalog: entraCatalog, alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:oncall', anchorRetentionDays: '3650' },
    outdir: join(dir, 'out'),
  });
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('catalog at synth', () => {
  it('stops the synth and lists every problem with its line when the catalog is invalid', async () => {
    const broken = OKTA_CATALOG.replace('approval: [{ group: security-oncall }]', 'approval: [{ group: night-shift }]').replace(
      'durations: [PT1H, PT6H]',
      'durations: [PT1H, P2D]',
    );
    const path = await write('broken.yaml', broken);
    const attempt = buildApp({ skipBundling: true, outdir: join(dir, 'broken-out'), context: { ...TEST_CONTEXT, catalog: path } });
    await expect(attempt).rejects.toBeInstanceOf(CatalogInvalidError);
    const error = (await attempt.catch((e: unknown) => e)) as CatalogInvalidError;
    expect(error.message).toMatch(/^Grantline synth stopped: catalog .*broken\.yaml is invalid/);
    expect(error.problems).toHaveLength(2);
    expect(error.problems).toContain(
      `line ${lineOf(broken, 'night-shift')}, apps.console.roles.break-glass.approval[0].group: unknown approver group "night-shift" (define it under approverGroups)`,
    );
    expect(error.problems).toContain(
      `line ${lineOf(broken, 'P2D')}, apps.console.roles.break-glass.durations[1]: duration P2D is longer than maxDuration PT6H`,
    );
  });

  it('stops the synth when the catalog file is missing, naming the path', async () => {
    const missing = join(dir, 'nowhere.yaml');
    await expect(buildApp({ skipBundling: true, outdir: join(dir, 'missing-out'), context: { ...TEST_CONTEXT, catalog: missing } })).rejects.toThrow(
      `cannot read catalog ${missing}`,
    );
  });

  it('finds the identity providers the catalog roles use (manual roles use none)', async () => {
    expect(catalogProviders(await loadCatalog(join(dir, 'okta.yaml')))).toEqual(['okta']);
    expect(catalogProviders(await loadCatalog(join(dir, 'entra.yaml')))).toEqual(['okta', 'entra']);
  });
});

describe('deployment settings', () => {
  const context = (values: Record<string, unknown>) => (key: string) => values[key];

  it('defaults to the documented values', () => {
    const { infra, runtime } = readSettings(context({}), '/srv/elsewhere', {});
    expect(infra).toEqual({
      stackName: 'Grantline',
      catalogPath: join(REPO_ROOT, 'catalog.yaml'),
      logRetention: 90,
      apiRateLimit: 50,
      apiBurstLimit: 100,
      anchorRetentionDays: 2555,
    });
    expect(runtime).toEqual({});
  });

  it('takes the catalog path from context, then GRANTLINE_CATALOG, relative to where cdk runs', () => {
    expect(readSettings(context({ catalog: 'ops/catalog.yaml' }), '/srv/grantline', { GRANTLINE_CATALOG: '/etc/other.yaml' }).infra.catalogPath).toBe(
      '/srv/grantline/ops/catalog.yaml',
    );
    expect(readSettings(context({}), '/srv/grantline', { GRANTLINE_CATALOG: '/etc/grantline/catalog.yaml' }).infra.catalogPath).toBe(
      '/etc/grantline/catalog.yaml',
    );
  });

  it('passes a JSON setting written as an object in cdk.json as JSON text', () => {
    expect(readSettings(context({ GRANTLINE_RATE_LIMITS: { 'okta.membership': 5 } }), '/', {}).runtime).toEqual({
      GRANTLINE_RATE_LIMITS: '{"okta.membership":5}',
    });
  });

  it('passes the resolution settings (one per moment) to the functions like the statuses', () => {
    const resolutions = { JIRA_RESOLUTION_GRANTED: 'Fulfilled', JIRA_RESOLUTION_DENIED: 'Declined', JIRA_RESOLUTION_REVOKED: 'Done' };
    expect(readSettings(context({ ...resolutions, JIRA_STATUS_DENIED: 'Rejected' }), '/', {}).runtime).toEqual({
      ...resolutions,
      JIRA_STATUS_DENIED: 'Rejected',
    });
  });

  it("passes the request's end-date field to the functions like the other request fields", () => {
    expect(readSettings(context({ JIRA_FIELD_END_DATE: 'customfield_10074' }), '/', {}).runtime).toEqual({ JIRA_FIELD_END_DATE: 'customfield_10074' });
  });

  it('refuses credentials in context: they belong in Secrets Manager', () => {
    expect(() => readSettings(context({ OKTA_API_TOKEN: 'ssws-123', JIRA_API_TOKEN: 'x' }))).toThrow(SettingsError);
    try {
      readSettings(context({ OKTA_API_TOKEN: 'ssws-123' }));
    } catch (err) {
      expect((err as SettingsError).problems).toEqual([
        'OKTA_API_TOKEN is a credential: put it into its Secrets Manager secret (docs/deploy.md), never into CDK context',
      ]);
      expect((err as SettingsError).message).not.toContain('ssws-123');
    }
    expect.assertions(3);
  });

  it("takes the anchor copies' Object Lock retention from context, in whole days from 1 to 36500", () => {
    expect(readSettings(context({ anchorRetentionDays: '3650' }), '/', {}).infra.anchorRetentionDays).toBe(3650);
    for (const wrong of ['0', '36501', '7y', '365.5']) {
      expect(() => readSettings(context({ anchorRetentionDays: wrong }), '/', {}), wrong).toThrow(
        `context anchorRetentionDays must be a whole number from 1 to 36500, got "${wrong}"`,
      );
    }
  });

  it('locks each anchor copy in the bucket for the retention the settings give (compliance mode)', () => {
    const bucket = withEntra.template.Resources[logicalIdOf(withEntra.stack.anchors.bucket)];
    expect(bucket?.Properties?.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 3650 } },
    });
  });

  it('lists every malformed setting at once, with the schema the functions use', () => {
    let problems: string[] = [];
    try {
      readSettings(context({ JIRA_BASE_URL: 'acme.atlassian.net', logRetentionDays: '45', apiRateLimit: 'fast', alarmEmail: 'oncall', LOG_LEVEL: 'LOUD' }));
    } catch (err) {
      problems = (err as SettingsError).problems;
    }
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).toMatch(/JIRA_BASE_URL/);
    expect(problems.join('\n')).toMatch(/LOG_LEVEL/);
    expect(problems.join('\n')).toMatch(/logRetentionDays must be one of/);
    expect(problems.join('\n')).toMatch(/apiRateLimit must be a whole number/);
    expect(problems.join('\n')).toMatch(/alarmEmail is not an email address/);
  });
});

describe('identity-provider secrets follow the catalog', () => {
  it('lets only the functions that read or change group membership read the Entra secret once the catalog uses Entra', () => {
    const ids = functionIds(withEntra);
    const entra = ref(logicalIdOf(withEntra.stack.secrets.secrets.entra));
    const google = ref(logicalIdOf(withEntra.stack.secrets.secrets.google));
    const readers = (secret: unknown) =>
      FUNCTION_NAMES.filter((n) =>
        statementsOfRole(withEntra.template, ids[n].role).some(
          (s) => actionsOf(s).includes('secretsmanager:GetSecretValue') && resourcesOf(s).some((r) => same(r, secret)),
        ),
      );
    expect(readers(entra)).toEqual([
      'advance',
      'provision',
      'schedule-revocation',
      'break-glass-review',
      'record-failure',
      'revoke',
      'sweep-expiries',
      'revoke-grant',
      'review-app',
      'policy-explain',
      'offboard',
      'drift-report',
      'review-campaign',
    ]);
    expect(readers(google)).toEqual([]);
  });

  it('sends alarms to an existing topic when alarmTopicArn is given', () => {
    expect(withEntra.template.Outputs?.AlarmTopicArn?.Value).toBe('arn:aws:sns:eu-west-1:123456789012:oncall');
    expect(Object.values(withEntra.template.Resources).filter((r) => r.Type === 'AWS::SNS::Topic')).toEqual([]);
  });
});

describe('cdk-nag on the app', () => {
  it('fails the synth on a finding nobody acknowledged', async () => {
    // Prepare: the real app plus one queue that breaks two AwsSolutions rules.
    const { app, stack } = await buildApp({ skipBundling: true, outdir: join(dir, 'nag-out'), context: TEST_CONTEXT });
    new Queue(stack, 'UnacknowledgedQueue');
    // Act + Assess: the plugin registered by buildApp stops the synth.
    const failure = (() => {
      try {
        app.synth();
        return undefined;
      } catch (err) {
        return err;
      }
    })();
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toContain('AwsSolutions-SQS4');
    expect((failure as Error).message).toContain('Grantline/UnacknowledgedQueue/Resource');
  });
});
