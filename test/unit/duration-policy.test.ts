import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatProblem, parseCatalog, resolveRole, type ResolvedRole } from '../../shared/catalog/load.js';
import type { Catalog } from '../../shared/catalog/schema.js';
import { describeDuration, durationMs, isDuration, normaliseDuration } from '../../shared/duration.js';
import { durationProblem, expiryFor, planApprovals } from '../../shared/policy.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function mustParse(text: string): Catalog {
  const result = parseCatalog(text);
  if (!result.ok) throw new Error(`expected a valid catalog, got:\n${result.problems.map(formatProblem).join('\n')}`);
  return result.catalog;
}

function mustResolve(catalog: Catalog, app: string, role: string): ResolvedRole {
  const resolved = resolveRole(catalog, app, role);
  if (!resolved) throw new Error(`no role ${app}/${role}`);
  return resolved;
}

const sample = mustParse(readFileSync(new URL('../../catalog.yaml', import.meta.url), 'utf8'));

/** A catalog with one role per approval chain the tests need; owner of every app is owner@example.com. */
const policyCatalog = mustParse(`version: 1
approverGroups:
  security-oncall: [Sam.Sec@Example.com, sasha.sec@example.com, SAM.SEC@example.com]
  solo: [solo@example.com]
managers:
  nina.newhire@example.com: maria.manager@example.com
apps:
  tool:
    name: Tool
    owner: owner@example.com
    roles:
      viewer:
        group: g-viewer
        risk: low
        approval: [auto]
        durations: [permanent]
        maxDuration: permanent
      editor:
        group: g-editor
        risk: medium
        approval: [manager]
        durations: [PT24H, P30D]
        maxDuration: P30D
      admin:
        group: g-admin
        risk: high
        approval: [manager, app_owner]
        durations: [PT1H, PT6H, PT24H]
        maxDuration: PT24H
      named:
        group: g-named
        risk: medium
        approval: [{ user: [Alice@Example.com, bob@example.com, alice@example.com] }]
        durations: [PT1H]
        maxDuration: PT1H
      single:
        group: g-single
        risk: medium
        approval: [{ user: alice@example.com }]
        durations: [PT1H]
        maxDuration: PT1H
      oncall:
        group: g-oncall
        risk: critical
        approval: [{ group: security-oncall }]
        durations: [PT1H]
        maxDuration: PT1H
      solo:
        group: g-solo
        risk: high
        approval: [{ group: solo }]
        durations: [PT1H]
        maxDuration: PT1H
      owned:
        group: g-owned
        risk: medium
        approval: [app_owner]
        durations: [PT1H]
        maxDuration: PT1H
`);
const role = (key: string) => mustResolve(policyCatalog, 'tool', key);

describe('durationMs', () => {
  it.each([
    ['PT1H', HOUR],
    ['PT6H', 6 * HOUR],
    ['PT24H', DAY],
    ['P30D', 30 * DAY],
    ['P1W', 7 * DAY],
    ['P1DT2H30M15S', DAY + 2 * HOUR + 30 * 60_000 + 15_000],
    ['PT90M', 90 * 60_000],
    ['pt1h', HOUR],
    ['  PT1H  ', HOUR],
  ])('%j is %d ms', (text, ms) => {
    expect(durationMs(text)).toBe(ms);
  });

  it('"permanent" (any case) is Infinity', () => {
    expect(durationMs('permanent')).toBe(Infinity);
    expect(durationMs('Permanent')).toBe(Infinity);
  });

  it.each([['garbage'], ['1 hour'], ['P'], ['PT'], ['P1DT'], ['PT0S'], ['P0D'], ['PT-1H'], ['1H'], ['']])('%j is not a duration', (text) => {
    expect(durationMs(text)).toBeUndefined();
    expect(isDuration(text)).toBe(false);
  });
});

describe('normaliseDuration and describeDuration', () => {
  it('normalises spelling', () => {
    expect(normaliseDuration(' pt24h ')).toBe('PT24H');
    expect(normaliseDuration('PERMANENT')).toBe('permanent');
  });
  it.each([
    ['PT1H', '1 hour'],
    ['PT6H', '6 hours'],
    ['PT24H', '1 day'],
    ['P30D', '30 days'],
    ['PT30M', '30 minutes'],
    ['PT1M', '1 minute'],
    ['PT90S', '90 seconds'],
    ['permanent', 'permanent'],
    ['soon', 'soon'],
  ])('%s reads as %j', (text, words) => {
    expect(describeDuration(text)).toBe(words);
  });
});

describe('durationProblem', () => {
  const admin = mustResolve(sample, 'salesforce', 'admin');

  it('allows an offered duration within the maximum (undefined)', () => {
    expect(durationProblem(admin, 'PT6H')).toBeUndefined();
    expect(durationProblem(admin, 'pt24h')).toBeUndefined();
    expect(durationProblem(mustResolve(sample, 'figma', 'editor'), 'permanent')).toBeUndefined();
  });

  it('refuses a duration over the maximum, naming both the requested duration and the maximum', () => {
    expect(durationProblem(admin, 'P30D')).toBe('duration P30D (30 days) is longer than the maximum PT24H for Salesforce admin');
    expect(durationProblem(admin, 'permanent')).toBe('duration permanent (permanent) is longer than the maximum PT24H for Salesforce admin');
  });

  it('refuses a duration within the maximum that is not offered, listing the offered ones', () => {
    expect(durationProblem(admin, 'PT2H')).toBe('duration PT2H is not offered for Salesforce admin; choose one of PT1H, PT6H, PT24H');
  });

  it('refuses text that is not a duration, listing the offered ones', () => {
    expect(durationProblem(admin, 'tomorrow')).toBe('duration "tomorrow" is not an ISO-8601 duration; choose one of PT1H, PT6H, PT24H');
    expect(durationProblem(admin, 'PT0S')).toBe('duration "PT0S" is not an ISO-8601 duration; choose one of PT1H, PT6H, PT24H');
  });
});

describe('expiryFor', () => {
  const grantedAt = new Date('2026-01-05T09:00:00.000Z');

  it('adds the duration to the grant time', () => {
    expect(expiryFor('PT1H', grantedAt)?.toISOString()).toBe('2026-01-05T10:00:00.000Z');
    expect(expiryFor('P30D', grantedAt)?.toISOString()).toBe('2026-02-04T09:00:00.000Z');
    expect(expiryFor('P1W', grantedAt)?.toISOString()).toBe('2026-01-12T09:00:00.000Z');
  });

  it('has no expiry for permanent access or an unreadable duration', () => {
    expect(expiryFor('permanent', grantedAt)).toBeUndefined();
    expect(expiryFor('garbage', grantedAt)).toBeUndefined();
  });

  it('does not change the grant time it was given', () => {
    expiryFor('PT1H', grantedAt);
    expect(grantedAt.toISOString()).toBe('2026-01-05T09:00:00.000Z');
  });
});

describe('planApprovals', () => {
  it('auto: a low-risk auto role needs no approver, and says why', () => {
    expect(planApprovals(policyCatalog, role('viewer'), { requester: 'rita@example.com', subject: 'rita@example.com' })).toEqual({
      kind: 'auto',
      reason: 'Tool viewer is a low-risk role the catalog approves automatically',
    });
  });

  it('manager from the identity provider, named in the reason', () => {
    const plan = planApprovals(policyCatalog, role('editor'), {
      requester: 'rita@example.com',
      subject: 'rita@example.com',
      managerFromIdp: 'Mark.Manager@Example.com',
      providerLabel: 'Okta',
    });
    expect(plan).toEqual({
      kind: 'steps',
      steps: [{ kind: 'manager', approvers: ['mark.manager@example.com'], reason: 'manager of rita@example.com (from Okta)' }],
    });
  });

  it('manager from the identity provider without a label says "the identity provider"', () => {
    const plan = planApprovals(policyCatalog, role('editor'), {
      requester: 'rita@example.com',
      subject: 'rita@example.com',
      managerFromIdp: 'mark@example.com',
    });
    expect(plan).toEqual({
      kind: 'steps',
      steps: [{ kind: 'manager', approvers: ['mark@example.com'], reason: 'manager of rita@example.com (from the identity provider)' }],
    });
  });

  it('the identity provider manager wins over the catalog managers: map', () => {
    const plan = planApprovals(policyCatalog, role('editor'), {
      requester: 'nina.newhire@example.com',
      subject: 'nina.newhire@example.com',
      managerFromIdp: 'idp.manager@example.com',
    });
    expect(plan.kind === 'steps' ? plan.steps[0]?.approvers : plan).toEqual(['idp.manager@example.com']);
  });

  it('manager from the catalog fallback (managers: map) when the identity provider has none', () => {
    const plan = planApprovals(policyCatalog, role('editor'), { requester: 'Nina.NewHire@Example.com', subject: 'Nina.NewHire@Example.com' });
    expect(plan).toEqual({
      kind: 'steps',
      steps: [{ kind: 'manager', approvers: ['maria.manager@example.com'], reason: 'manager of Nina.NewHire@Example.com (from the catalog)' }],
    });
  });

  it('manager missing everywhere: denied, with the reason', () => {
    expect(planApprovals(policyCatalog, role('editor'), { requester: 'rita@example.com', subject: 'rita@example.com' })).toEqual({
      kind: 'denied',
      reason: 'approval step 1 (manager) has no eligible approver: no manager is known for rita@example.com; the requester and the subject cannot approve',
    });
  });

  it('No self-approval: a manager requesting for their report is routed to the app owner, and the reason says so', () => {
    const plan = planApprovals(policyCatalog, role('editor'), {
      requester: 'Mark.Manager@example.com',
      subject: 'rita@example.com',
      managerFromIdp: 'mark.manager@example.com',
    });
    expect(plan).toEqual({
      kind: 'steps',
      steps: [
        {
          kind: 'manager',
          approvers: ['owner@example.com'],
          reason: 'the manager (mark.manager@example.com) is the requester or subject, so the app owner decides',
        },
      ],
    });
  });

  it('No self-approval: a manager requesting for themselves (catalog fallback) is routed to the app owner', () => {
    const plan = planApprovals(policyCatalog, role('editor'), { requester: 'maria.manager@example.com', subject: 'nina.newhire@example.com' });
    expect(plan.kind === 'steps' ? plan.steps : plan).toEqual([
      {
        kind: 'manager',
        approvers: ['owner@example.com'],
        reason: 'the manager (maria.manager@example.com) is the requester or subject, so the app owner decides',
      },
    ]);
  });

  it('No self-approval: the app owner cannot approve their own request (denied, no eligible approver)', () => {
    const plan = planApprovals(policyCatalog, role('owned'), { requester: 'Owner@Example.com', subject: 'owner@example.com' });
    expect(plan).toEqual({
      kind: 'denied',
      reason: 'approval step 1 (app_owner) has no eligible approver: owner of Tool; the requester and the subject cannot approve',
    });
  });

  it('No self-approval: the manager who is also the app owner cannot approve for their report (denied)', () => {
    const plan = planApprovals(policyCatalog, role('editor'), {
      requester: 'owner@example.com',
      subject: 'rita@example.com',
      managerFromIdp: 'owner@example.com',
    });
    expect(plan.kind).toBe('denied');
    expect(plan.kind === 'denied' ? plan.reason : '').toContain('no eligible approver');
  });

  it('No self-approval: the requester is removed from a named-approver list', () => {
    const plan = planApprovals(policyCatalog, role('named'), { requester: 'alice@example.com', subject: 'rita@example.com' });
    expect(plan).toEqual({ kind: 'steps', steps: [{ kind: 'user', approvers: ['bob@example.com'], reason: 'named approver in the catalog' }] });
  });

  it('No self-approval: the subject is removed from a named-approver list', () => {
    const plan = planApprovals(policyCatalog, role('named'), { requester: 'rita@example.com', subject: 'BOB@example.com' });
    expect(plan).toEqual({ kind: 'steps', steps: [{ kind: 'user', approvers: ['alice@example.com'], reason: 'named approver in the catalog' }] });
  });

  it('No self-approval: the requester and the subject are removed from an approver group', () => {
    const plan = planApprovals(policyCatalog, role('oncall'), { requester: 'sasha.sec@example.com', subject: 'rita@example.com' });
    expect(plan).toEqual({ kind: 'steps', steps: [{ kind: 'group', approvers: ['sam.sec@example.com'], reason: 'member of approver group security-oncall' }] });
    const bySubject = planApprovals(policyCatalog, role('oncall'), { requester: 'rita@example.com', subject: 'Sam.Sec@example.com' });
    expect(bySubject.kind === 'steps' ? bySubject.steps[0]?.approvers : bySubject).toEqual(['sasha.sec@example.com']);
  });

  it('No self-approval: a step left with no eligible approver is denied ("no eligible approver")', () => {
    expect(planApprovals(policyCatalog, role('solo'), { requester: 'solo@example.com', subject: 'rita@example.com' })).toEqual({
      kind: 'denied',
      reason: 'approval step 1 (group) has no eligible approver: member of approver group solo; the requester and the subject cannot approve',
    });
    expect(planApprovals(policyCatalog, role('single'), { requester: 'rita@example.com', subject: 'alice@example.com' })).toEqual({
      kind: 'denied',
      reason: 'approval step 1 (user) has no eligible approver: named approver in the catalog; the requester and the subject cannot approve',
    });
  });

  it('several steps in order: manager then app owner produce two steps in that order', () => {
    const plan = planApprovals(policyCatalog, role('admin'), {
      requester: 'rita@example.com',
      subject: 'rita@example.com',
      managerFromIdp: 'mark@example.com',
      providerLabel: 'Okta',
    });
    expect(plan).toEqual({
      kind: 'steps',
      steps: [
        { kind: 'manager', approvers: ['mark@example.com'], reason: 'manager of rita@example.com (from Okta)' },
        { kind: 'app_owner', approvers: ['owner@example.com'], reason: 'owner of Tool' },
      ],
    });
  });

  it('a later step with no eligible approver denies the whole request, naming that step', () => {
    const plan = planApprovals(policyCatalog, role('admin'), {
      requester: 'owner@example.com',
      subject: 'rita@example.com',
      managerFromIdp: 'mark@example.com',
    });
    expect(plan).toEqual({
      kind: 'denied',
      reason: 'approval step 2 (app_owner) has no eligible approver: owner of Tool; the requester and the subject cannot approve',
    });
  });

  it('approver emails are lower-cased and de-duplicated', () => {
    const named = planApprovals(policyCatalog, role('named'), { requester: 'rita@example.com', subject: 'rita@example.com' });
    expect(named.kind === 'steps' ? named.steps[0]?.approvers : named).toEqual(['alice@example.com', 'bob@example.com']);
    const group = planApprovals(policyCatalog, role('oncall'), { requester: 'rita@example.com', subject: 'rita@example.com' });
    expect(group.kind === 'steps' ? group.steps[0]?.approvers : group).toEqual(['sam.sec@example.com', 'sasha.sec@example.com']);
  });

  it('the sample catalog: break-glass goes to security on-call, legacy ERP clerk to its owner', () => {
    const breakGlass = planApprovals(sample, mustResolve(sample, 'admin-console', 'break-glass'), {
      requester: 'rita@example.com',
      subject: 'rita@example.com',
    });
    expect(breakGlass).toEqual({
      kind: 'steps',
      steps: [{ kind: 'group', approvers: ['sam.sec@example.com', 'sasha.sec@example.com'], reason: 'member of approver group security-oncall' }],
    });
    const clerk = planApprovals(sample, mustResolve(sample, 'legacy-erp', 'clerk'), { requester: 'rita@example.com', subject: 'rita@example.com' });
    expect(clerk).toEqual({ kind: 'steps', steps: [{ kind: 'app_owner', approvers: ['erin.erp@example.com'], reason: 'owner of Legacy ERP' }] });
  });
});
