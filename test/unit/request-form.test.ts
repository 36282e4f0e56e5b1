/** The /access form: what it offers from the catalog, and its Slack rendering within Slack's limits. */
import { describe, expect, it } from 'vitest';
import { requestFormView } from '../../shared/connectors/slack.js';
import { requestForm } from '../../shared/filing.js';
import { validateBlocks, VIEW_MAX_BLOCKS } from '../../infra/local/sandbox/slack.js';
import { testCatalog } from '../support/catalog.js';

const catalog = testCatalog();
const optionsOf = (view: ReturnType<typeof requestFormView>, blockPrefix: string) => {
  const block = view.blocks.find((b) => 'block_id' in b && String(b.block_id).startsWith(blockPrefix)) as { element: { options: Array<{ value: string }> } };
  return block.element.options.map((o) => o.value);
};

describe('requestForm', () => {
  it('offers the apps by name; the roles of the chosen app; the durations of the chosen role', () => {
    expect(requestForm(catalog)).toMatchObject({ roles: [], durations: [] });
    expect(requestForm(catalog).apps.map((a) => a.label)).toEqual(
      Object.values(catalog.apps)
        .map((a) => a.name)
        .sort(),
    );
    const salesforce = requestForm(catalog, { app: 'Salesforce' });
    expect(salesforce).toMatchObject({ app: 'salesforce', durations: [] });
    expect(salesforce.roles.map((r) => r.value)).toEqual(Object.keys(catalog.apps.salesforce!.roles));
    expect(requestForm(catalog, { app: 'salesforce', role: 'ADMIN' }).durations).toEqual([
      { value: 'PT1H', label: '1 hour' },
      { value: 'PT6H', label: '6 hours' },
      { value: 'PT24H', label: '1 day' },
    ]);
  });

  it('drops choices the catalog does not have (the form then asks for them)', () => {
    expect(requestForm(catalog, { app: 'nope', role: 'admin' })).toMatchObject({ roles: [], durations: [] });
    expect(requestForm(catalog, { app: 'salesforce', role: 'nope' })).toMatchObject({ app: 'salesforce', durations: [] });
  });
});

describe('requestFormView', () => {
  it('is a modal Slack accepts, whose role and duration blocks name the app and role they list', () => {
    const view = requestFormView(requestForm(catalog, { app: 'salesforce', role: 'admin' }));
    expect(validateBlocks(view.blocks, { maxBlocks: VIEW_MAX_BLOCKS })).toBeUndefined();
    expect(view.blocks.map((b) => ('block_id' in b ? b.block_id : b.type))).toEqual([
      'grantline_app',
      'grantline_role/salesforce',
      'grantline_duration/salesforce/admin',
      'grantline_justification',
      'grantline_subject',
    ]);
  });

  it('with more than 100 apps lists 100, always the chosen one, and says how to reach the others', () => {
    const apps = Array.from({ length: 120 }, (_, i) => ({ value: `app${String(i).padStart(3, '0')}`, label: `App ${i}` }));
    const view = requestFormView({ apps, roles: [], durations: [], app: 'app110' });

    expect(validateBlocks(view.blocks, { maxBlocks: VIEW_MAX_BLOCKS })).toBeUndefined();
    const offered = optionsOf(view, 'grantline_app');
    expect(offered).toHaveLength(100);
    expect(offered).toContain('app110');
    expect(JSON.stringify(view.blocks)).toContain('The first 100 of 120 apps are listed');
  });
});
