import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findAppKey, formatProblem, loadCatalog, parseCatalog, resolveRole, type CatalogProblem } from '../../shared/catalog/load.js';
import { catalogJsonSchema, type Catalog } from '../../shared/catalog/schema.js';
import { ValidationError } from '../../shared/errors.js';

const SAMPLE_PATH = new URL('../../catalog.yaml', import.meta.url);
const SAMPLE = readFileSync(SAMPLE_PATH, 'utf8');

function mustParse(text: string): Catalog {
  const result = parseCatalog(text);
  if (!result.ok) throw new Error(`expected a valid catalog, got:\n${result.problems.map(formatProblem).join('\n')}`);
  return result.catalog;
}

function problemsOf(text: string): CatalogProblem[] {
  const result = parseCatalog(text);
  if (result.ok) throw new Error('expected the catalog to be rejected');
  return result.problems;
}

/** 1-based line of the only line containing `marker` (markers are YAML comments in the fixtures). */
function lineOf(text: string, marker: string): number {
  const lines = text.split('\n');
  const hits = lines.flatMap((line, i) => (line.includes(marker) ? [i + 1] : []));
  if (hits.length !== 1) throw new Error(`marker "${marker}" found ${hits.length} times`);
  return hits[0]!;
}

describe('sample catalog.yaml', () => {
  it('is valid', () => {
    const result = parseCatalog(SAMPLE);
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('lists every app with its defaults, approver groups and fallback managers filled in', () => {
    const catalog = mustParse(SAMPLE);
    expect(Object.keys(catalog.apps)).toEqual(['figma', 'salesforce', 'notion', 'admin-console', 'github', 'looker', 'legacy-erp']);
    expect(catalog.defaults).toEqual({ provider: 'okta', approvalTimeout: 'PT24H' });
    expect(catalog.approverGroups['security-oncall']).toEqual(['sam.sec@example.com', 'sasha.sec@example.com']);
    expect(catalog.managers['nina.newhire@example.com']).toBe('maria.manager@example.com');
    expect(catalog.apps.salesforce?.roles.admin?.approval).toEqual(['manager', 'app_owner']);
    expect(catalog.apps['admin-console']?.roles['break-glass']?.approval).toEqual([{ group: 'security-oncall' }]);
  });

  it('loads from disk with loadCatalog', async () => {
    const catalog = await loadCatalog(SAMPLE_PATH.pathname);
    expect(catalog.apps.figma?.name).toBe('Figma');
  });
});

describe('catalog defaults and normalisation', () => {
  it('fills in provider okta and approval timeout PT24H when defaults are omitted', () => {
    const catalog = mustParse(`version: 1
apps: {}
`);
    expect(catalog.defaults).toEqual({ provider: 'okta', approvalTimeout: 'PT24H' });
    expect(catalog.approverGroups).toEqual({});
    expect(catalog.managers).toEqual({});
  });

  it('lower-cases emails (owner, approver groups, named approvers, managers map keys and values)', () => {
    const catalog = mustParse(`version: 1
approverGroups:
  ops: [Olga.Ops@Example.com]
managers:
  Nina.NewHire@Example.com: Maria.Manager@Example.com
apps:
  figma:
    name: Figma
    owner: Dana.Design@Example.com
    roles:
      editor:
        group: 00gfigmaeditor
        risk: medium
        approval: [{ user: [Uma.User@Example.com] }, { group: ops }]
        durations: [PT1H]
        maxDuration: PT1H
`);
    expect(catalog.apps.figma?.owner).toBe('dana.design@example.com');
    expect(catalog.approverGroups.ops).toEqual(['olga.ops@example.com']);
    expect(catalog.managers).toEqual({ 'nina.newhire@example.com': 'maria.manager@example.com' });
    expect(catalog.apps.figma?.roles.editor?.approval[0]).toEqual({ user: ['uma.user@example.com'] });
  });
});

describe('catalog validate: every mistake is reported with its line and dotted path', () => {
  const BAD = `version: 1
approverGroups:
  security-oncall: [sam.sec@example.com]
apps:
  figma:
    name: Figma
    owner: dana.design-at-example.com # bad-owner
    roles:
      viewer:
        group: 00gfigmaviewer
        risk: low
        approval: [robot] # unknown-kind
        durations: [PT1H]
        maxDuration: PT1H
      editor:
        group: 00gfigmaeditor
        risk: medium
        approval: [manager]
        durations: [PT24H, P30D] # too-long
        maxDuration: PT24H
      viewer: # duplicate-role
        group: 00gdup
        risk: low
        approval: [auto]
        durations: [PT1H]
        maxDuration: PT1H
      commenter:
        risk: low # missing-group
        approval: [manager]
        durations: [PT1H]
        maxDuration: PT1H
      reviewer:
        group: 00greviewer
        risk: medium
        approval: [{ group: no-such-group }] # unknown-group
        durations: [PT1H]
        maxDuration: PT1H
      contributor:
        group: 00gcontrib
        risk: low
        approval: [auto, manager] # auto-combined
        durations: [PT1H]
        maxDuration: PT1H
      admin:
        group: 00gadmin
        risk: high
        approval: [auto] # high-auto
        durations: [PT1H]
        maxDuration: PT1H
      root:
        group: 00groot
        risk: critical
        approval: [auto] # critical-auto
        durations: [PT1H]
        maxDuration: PT1H
      guest:
        group: 00gguest
        risk: low
        approval: [manager]
        durations: [1 hour] # bad-duration
        maxDuration: PT1H
      auditor:
        group: 00gauditor
        risk: medium
        approval: [{ user: not-an-email }] # bad-user
        durations: [PT1H]
        maxDuration: PT1H
  legacy-erp:
    name: Legacy ERP
    owner: erin.erp@example.com
    roles:
      clerk:
        group: manual
        provider: okta # manual-provider
        risk: medium
        approval: [app_owner]
        durations: [P30D]
        maxDuration: P30D
`;
  const at = (marker: string) => lineOf(BAD, `# ${marker}`);

  const expected = [
    `line ${at('duplicate-role')}, apps.figma.roles.viewer: duplicate key "viewer": it is already defined above`,
    `line ${at('bad-owner')}, apps.figma.owner: must be an email address`,
    `line ${at('unknown-kind')}, apps.figma.roles.viewer.approval[0]: unknown approver kind: use auto, manager, app_owner, {user: email or [emails]} or {group: name}`,
    `line ${at('too-long')}, apps.figma.roles.editor.durations[1]: duration P30D is longer than maxDuration PT24H`,
    `line ${at('missing-group')}, apps.figma.roles.commenter.group: missing group: give the identity-provider group id, or "manual"`,
    `line ${at('unknown-group')}, apps.figma.roles.reviewer.approval[0].group: unknown approver group "no-such-group" (define it under approverGroups)`,
    `line ${at('auto-combined')}, apps.figma.roles.contributor.approval: auto cannot be combined with other approval steps`,
    `line ${at('high-auto')}, apps.figma.roles.admin.approval: a high-risk role cannot be auto-approved`,
    `line ${at('critical-auto')}, apps.figma.roles.root.approval: a critical-risk role cannot be auto-approved`,
    `line ${at('bad-duration')}, apps.figma.roles.guest.durations[0]: must be an ISO-8601 duration such as PT1H, PT24H or P30D, or "permanent"`,
    `line ${at('bad-user')}, apps.figma.roles.auditor.approval[0].user: must be an email address`,
    `line ${at('manual-provider')}, apps.legacy-erp.roles.clerk.provider: a manual role has no provider`,
  ];

  it('reports all twelve mistakes in one run, and nothing else', () => {
    const lines = problemsOf(BAD).map(formatProblem);
    expect([...lines].sort()).toEqual([...expected].sort());
  });

  it('gives every problem a line number and a dotted path', () => {
    for (const problem of problemsOf(BAD)) {
      expect(problem.line, formatProblem(problem)).toBeGreaterThan(0);
      expect(problem.path, formatProblem(problem)).toMatch(/^apps\.[a-z-]+(\.[a-zA-Z-]+|\[\d+\])*$/);
    }
  });

  it.each([
    ['unknown approver kind', 'unknown-kind', 'apps.figma.roles.viewer.approval[0]', 'unknown approver kind'],
    ['duration longer than maxDuration', 'too-long', 'apps.figma.roles.editor.durations[1]', 'duration P30D is longer than maxDuration PT24H'],
    ['duplicate role key (YAML duplicate key)', 'duplicate-role', 'apps.figma.roles.viewer', 'duplicate key "viewer"'],
    ['missing group', 'missing-group', 'apps.figma.roles.commenter.group', 'missing group'],
    ['unknown approver group', 'unknown-group', 'apps.figma.roles.reviewer.approval[0].group', 'unknown approver group "no-such-group"'],
    ['auto combined with other steps', 'auto-combined', 'apps.figma.roles.contributor.approval', 'auto cannot be combined'],
    ['high-risk role auto-approved', 'high-auto', 'apps.figma.roles.admin.approval', 'a high-risk role cannot be auto-approved'],
    ['critical-risk role auto-approved', 'critical-auto', 'apps.figma.roles.root.approval', 'a critical-risk role cannot be auto-approved'],
    ['bad ISO duration', 'bad-duration', 'apps.figma.roles.guest.durations[0]', 'must be an ISO-8601 duration'],
    ['bad owner email', 'bad-owner', 'apps.figma.owner', 'must be an email address'],
    ['bad user approver email', 'bad-user', 'apps.figma.roles.auditor.approval[0].user', 'must be an email address'],
    ['manual role with a provider', 'manual-provider', 'apps.legacy-erp.roles.clerk.provider', 'a manual role has no provider'],
  ])('%s: reported at its line and path', (_name, marker, path, message) => {
    const problem = problemsOf(BAD).find((p) => p.path === path);
    expect(problem, `no problem at ${path}`).toBeDefined();
    expect(problem?.line).toBe(at(marker));
    expect(problem?.message).toContain(message);
  });

  it('refuses an app or role key longer than 64 characters (it must fit a Slack option value and form block id)', () => {
    const long = 'a'.repeat(65);
    const text = `version: 1
apps:
  ${long}:
    name: Long
    owner: o@example.com
    roles:
      viewer: { group: 00g1, risk: low, approval: [auto], durations: [permanent], maxDuration: permanent }
  figma:
    name: Figma
    owner: o@example.com
    roles:
      ${long}: { group: 00g2, risk: low, approval: [auto], durations: [permanent], maxDuration: permanent }
`;
    const messages = problemsOf(text).map((p) => p.message);
    expect(messages.filter((m) => m.includes('keys are 1 to 64 lower-case letters'))).toHaveLength(2);
  });

  it('a YAML syntax error is reported with its line', () => {
    const text = `version: 1
apps:
  figma: [unclosed
`;
    const problems = problemsOf(text);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]?.line).toBeGreaterThan(0);
    expect(problems[0]?.message).not.toBe('');
  });

  it('a duplicate approver group is reported with its path, alongside other mistakes', () => {
    const text = `version: 1
approverGroups:
  ops: [a@example.com]
  ops: [b@example.com] # dup-group
apps:
  figma:
    name: Figma
    owner: nope # bad-owner
    roles: {}
`;
    expect(problemsOf(text).map(formatProblem)).toEqual([
      `line ${lineOf(text, '# dup-group')}, approverGroups.ops: duplicate key "ops": it is already defined above`,
      `line ${lineOf(text, '# bad-owner')}, apps.figma.owner: must be an email address`,
    ]);
  });

  it('loadCatalog throws a ValidationError listing every problem with its location', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'grantline-catalog-'));
    try {
      const file = join(dir, 'catalog.yaml');
      await writeFile(file, BAD, 'utf8');
      const error = await loadCatalog(file).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(ValidationError);
      const validation = error as ValidationError;
      expect(validation.message).toContain(`catalog ${file} is invalid:`);
      expect([...validation.problems].sort()).toEqual([...expected].sort());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('loadCatalog on a missing file says it cannot read it', async () => {
    await expect(loadCatalog('/nonexistent/grantline/catalog.yaml')).rejects.toThrow(ValidationError);
    await expect(loadCatalog('/nonexistent/grantline/catalog.yaml')).rejects.toThrow(/^cannot read catalog \/nonexistent\/grantline\/catalog\.yaml: /);
  });
});

describe('formatProblem', () => {
  it('puts line and path in front of the message', () => {
    expect(formatProblem({ line: 12, path: 'apps.figma.owner', message: 'must be an email address' })).toBe(
      'line 12, apps.figma.owner: must be an email address',
    );
  });
  it('omits what it does not know', () => {
    expect(formatProblem({ path: 'apps', message: 'required' })).toBe('apps: required');
    expect(formatProblem({ line: 3, path: '', message: 'bad indentation' })).toBe('line 3: bad indentation');
    expect(formatProblem({ path: '', message: 'bad' })).toBe('bad');
  });
});

describe('resolveRole', () => {
  const sample = mustParse(SAMPLE);

  it('uses the default provider when neither app nor role names one', () => {
    const resolved = resolveRole(sample, 'figma', 'editor');
    expect(resolved).toMatchObject({ appKey: 'figma', roleKey: 'editor', provider: 'okta', groupId: '00gfigmaeditor' });
    expect(resolved?.app.name).toBe('Figma');
    expect(resolved?.role.risk).toBe('medium');
  });

  it('has no provider and no group for a manual role', () => {
    const resolved = resolveRole(sample, 'legacy-erp', 'clerk');
    expect(resolved).toBeDefined();
    expect(resolved?.provider).toBeUndefined();
    expect(resolved?.groupId).toBeUndefined();
  });

  it('returns undefined for an unknown app or role', () => {
    expect(resolveRole(sample, 'nope', 'editor')).toBeUndefined();
    expect(resolveRole(sample, 'figma', 'owner')).toBeUndefined();
  });

  it('prefers the role provider, then the app provider, then the catalog default', () => {
    const catalog = mustParse(`version: 1
defaults:
  provider: google
apps:
  intranet:
    name: Intranet
    owner: owner@example.com
    roles:
      reader:
        group: g-reader
        risk: low
        approval: [auto]
        durations: [PT1H]
        maxDuration: PT1H
  azure-portal:
    name: Azure portal
    owner: owner@example.com
    provider: entra
    roles:
      reader:
        group: g-azure-reader
        risk: low
        approval: [auto]
        durations: [PT1H]
        maxDuration: PT1H
      special:
        group: g-special
        provider: okta
        risk: medium
        approval: [manager]
        durations: [PT1H]
        maxDuration: PT1H
`);
    expect(resolveRole(catalog, 'intranet', 'reader')).toMatchObject({ provider: 'google', groupId: 'g-reader' });
    expect(resolveRole(catalog, 'azure-portal', 'reader')).toMatchObject({ provider: 'entra', groupId: 'g-azure-reader' });
    expect(resolveRole(catalog, 'azure-portal', 'special')).toMatchObject({ provider: 'okta', groupId: 'g-special' });
  });
});

describe('findAppKey', () => {
  const sample = mustParse(SAMPLE);

  it.each([
    ['figma', 'figma'],
    ['FIGMA', 'figma'],
    ['Figma', 'figma'],
    ['admin-console', 'admin-console'],
    ['Admin-Console', 'admin-console'],
    ['Internal admin console', 'admin-console'],
    ['  internal ADMIN console  ', 'admin-console'],
    ['legacy erp', 'legacy-erp'],
  ])('finds %j as %s', (name, key) => {
    expect(findAppKey(sample, name)).toBe(key);
  });

  it('returns undefined for an app that is not in the catalog', () => {
    expect(findAppKey(sample, 'Photoshop')).toBeUndefined();
    expect(findAppKey(sample, '')).toBeUndefined();
  });
});

describe('catalogJsonSchema', () => {
  it('is a JSON Schema object that requires and describes apps', () => {
    const schema = catalogJsonSchema();
    expect(typeof schema).toBe('object');
    expect(schema).toMatchObject({
      type: 'object',
      required: expect.arrayContaining(['version', 'apps']),
      properties: {
        apps: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            properties: { name: { type: 'string' }, owner: { type: 'string' }, roles: { type: 'object' } },
          },
        },
      },
    });
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });
});

describe("endDates: where each identity provider keeps a person's end date", () => {
  it('is optional: without it, no end dates are read', () => {
    expect(mustParse('version: 1\napps: {}\n').endDates).toEqual({});
  });

  it('names an Okta profile attribute, Entra employeeLeaveDateTime and a Google <custom schema>.<field>', () => {
    const catalog = mustParse('version: 1\nendDates:\n  okta: contractEnd\n  entra: employeeLeaveDateTime\n  google: HR.endDate\napps: {}\n');
    expect(catalog.endDates).toEqual({ okta: 'contractEnd', entra: 'employeeLeaveDateTime', google: 'HR.endDate' });
    expect(mustParse(SAMPLE).endDates).toEqual({ okta: 'endDate' });
  });

  it('reports each malformed entry with its line', () => {
    const text = `version: 1
endDates:
  okta: end date # okta
  entra: leaveDate # entra
  google: endDate # google
  workday: x # unknown
apps: {}
`;
    const problems = problemsOf(text);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          path: 'endDates.okta',
          line: lineOf(text, '# okta'),
          message: expect.stringMatching(/variable name of an Okta profile attribute/),
        }),
        expect.objectContaining({ path: 'endDates.entra', line: lineOf(text, '# entra'), message: expect.stringMatching(/employeeLeaveDateTime/) }),
        expect.objectContaining({ path: 'endDates.google', line: lineOf(text, '# google'), message: 'must be <custom schema>.<field>, e.g. HR.endDate' }),
      ]),
    );
    expect(problems.some((p) => p.path.startsWith('endDates') && /workday/.test(`${p.path} ${p.message}`))).toBe(true);
  });
});
