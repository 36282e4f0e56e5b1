/** `grantline catalog sync` against the simulated Okta: missing, unmanageable and unmapped groups are reported. */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { OktaIdentityProvider } from '../../shared/connectors/okta.js';
import { syncReport } from '../../shared/catalog/sync.js';
import { startFakeOkta, type FakeOkta } from '../../infra/local/sandbox/okta.js';
import { testCatalog } from '../support/harness.js';

let okta: FakeOkta;
beforeEach(async () => {
  okta = await startFakeOkta();
});
afterEach(async () => okta.close());

it('reports mapped groups that do not exist or cannot be changed, and groups no role maps', async () => {
  const catalog = testCatalog();
  for (const id of ['00gfigmaviewer', '00gfigmaeditor', '00gsfreadonly', '00gnotionmember', '00gconsolebreakglass']) okta.addGroup({ id, name: id });
  okta.addGroup({ id: '00gsfadmin', name: 'Salesforce admins (imported)', type: 'APP_GROUP' });
  okta.addGroup({ id: '00gshadowadmins', name: 'Shadow admins' });

  const report = await syncReport(catalog, { okta: new OktaIdentityProvider({ orgUrl: okta.url, token: okta.token }) });

  expect(report.ok).toBe(false);
  expect(report.missing).toEqual([]);
  expect(report.unmanageable).toEqual([{ provider: 'okta', groupId: '00gsfadmin', roles: ['salesforce/admin'], name: 'Salesforce admins (imported)' }]);
  expect(report.unmapped.map((g) => g.name)).toEqual(['Shadow admins']);
});

it('a catalog group the provider does not have is reported as missing, with the roles that map it', async () => {
  const catalog = testCatalog();
  const report = await syncReport(catalog, { okta: new OktaIdentityProvider({ orgUrl: okta.url, token: okta.token }) });
  expect(report.missing.find((m) => m.groupId === '00gfigmaeditor')).toEqual({ provider: 'okta', groupId: '00gfigmaeditor', roles: ['figma/editor'] });
  expect(report.missing).toHaveLength(6);
});

it('a provider the catalog uses but the deployment has not configured is reported', async () => {
  const report = await syncReport(testCatalog(), {});
  expect(report.unconfigured).toEqual(['okta', 'entra', 'google']);
  expect(report.ok).toBe(false);
});

it('the Jira request fields offer the catalog apps by name, every role key and every duration, shortest first', async () => {
  const { jiraFieldValues } = await import('../../shared/catalog/sync.js');
  expect(jiraFieldValues(testCatalog())).toEqual({
    apps: ['Figma', 'Salesforce', 'Notion', 'Internal admin console', 'GitHub Enterprise', 'Looker', 'Legacy ERP'],
    roles: ['viewer', 'editor', 'read-only', 'admin', 'member', 'break-glass', 'maintainer', 'clerk'],
    durations: ['PT1H', 'PT6H', 'PT24H', 'P30D', 'P90D', 'permanent'],
  });
});
