/**
 * The catalog once parsed: its validation (the schema, then the rules a schema cannot express), the
 * look-ups the core makes, and reading the catalog.json that `cdk synth` writes into every Lambda
 * package. No YAML here (shared/catalog/load.ts parses catalog.yaml), so a Lambda bundles no YAML parser.
 */
import { readFile } from 'node:fs/promises';
import { durationMs, normaliseDuration, PERMANENT } from '../duration.js';
import { ValidationError } from '../errors.js';
import type { ProviderName } from '../ports.js';
import { catalogSchema, MAX_BUNDLE_ITEMS, providers, type AppEntry, type Catalog, type RoleEntry } from './schema.js';

export interface CatalogProblem {
  /** Dotted path in the catalog, e.g. apps.figma.roles.editor.approval[1] */
  path: string;
  line?: number;
  message: string;
}

export type CatalogResult = { ok: true; catalog: Catalog } | { ok: false; problems: CatalogProblem[] };

/** A problem found in a parsed catalog, at its path (the YAML loader turns the path into a line). */
export interface RawProblem {
  path: PropertyKey[];
  message: string;
}

/**
 * Checks a parsed catalog (from YAML or JSON): the schema, and the rule checks on every role that
 * parses even when other parts fail, so one run lists every mistake. `catalog` only when there are none.
 */
export function checkCatalog(raw: unknown): { catalog?: Catalog; problems: RawProblem[] } {
  const parsed = catalogSchema.safeParse(raw);
  const problems = [...(parsed.success ? [] : parsed.error.issues.map((issue) => ({ path: issue.path, message: issue.message }))), ...semanticProblems(raw)];
  return parsed.success && problems.length === 0 ? { catalog: parsed.data, problems } : { problems };
}

/** The validated catalog as written into each Lambda package at synth (read back by loadCatalogJson). */
export function catalogJson(catalog: Catalog): string {
  return `${JSON.stringify(catalog, null, 2)}\n`;
}

/** Reads and checks a catalog written as JSON (catalogJson's output, or any JSON the schema accepts). */
export async function loadCatalogJson(path: string): Promise<Catalog> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ValidationError(`cannot read catalog ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`catalog ${path} is not valid JSON: ${(err as Error).message}`);
  }
  const { catalog, problems } = checkCatalog(raw);
  if (!catalog) {
    const lines = problems.map((p) => formatProblem({ path: formatPath(p.path), message: p.message }));
    throw new ValidationError(`catalog ${path} is invalid:\n  ${lines.join('\n  ')}`, lines);
  }
  return catalog;
}

export function formatProblem(p: CatalogProblem): string {
  const where = [p.line ? `line ${p.line}` : '', p.path].filter(Boolean).join(', ');
  return where ? `${where}: ${p.message}` : p.message;
}

export function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), '');
}

function semanticProblems(raw: unknown): RawProblem[] {
  const problems: RawProblem[] = [];
  const groups = recordAt(raw, 'approverGroups');
  const defaults = recordAt(raw, 'defaults');
  const defaultTarget = defaults.escalateTo;
  if (isGroupTarget(defaultTarget) && !(defaultTarget.group in groups)) {
    problems.push({ path: ['defaults', 'escalateTo', 'group'], message: `unknown approver group "${defaultTarget.group}" (define it under approverGroups)` });
  }
  const reviewWithin = recordAt(raw, 'breakGlass').reviewWithin;
  const reviewMs = typeof reviewWithin === 'string' ? durationMs(reviewWithin) : undefined;
  if (reviewMs !== undefined && reviewMs > MAX_REVIEW_WITHIN_MS) {
    problems.push({
      path: ['breakGlass', 'reviewWithin'],
      message: `reviewWithin ${reviewWithin} is too long: a break-glass use must be reviewed within ${MAX_REVIEW_WITHIN} at most`,
    });
  }
  for (const [appKey, app] of Object.entries(recordAt(raw, 'apps'))) {
    for (const [roleKey, role] of Object.entries(recordAt(app, 'roles'))) {
      const at = (...rest: PropertyKey[]) => ['apps', appKey, 'roles', roleKey, ...rest];
      const field = (key: string): unknown => (role && typeof role === 'object' ? (role as Record<string, unknown>)[key] : undefined);
      const durations = Array.isArray(field('durations')) ? (field('durations') as unknown[]) : [];
      const maxText = field('maxDuration');
      const max = typeof maxText === 'string' ? durationMs(maxText) : undefined;
      const seen = new Set<string>();
      durations.forEach((d, i) => {
        if (typeof d !== 'string' || durationMs(d) === undefined) return;
        const n = normaliseDuration(d);
        if (seen.has(n)) problems.push({ path: at('durations', i), message: `duplicate duration ${d}` });
        seen.add(n);
        if (max !== undefined && durationMs(d)! > max) {
          problems.push({ path: at('durations', i), message: `duration ${d} is longer than maxDuration ${String(maxText)}` });
        }
      });
      const approval = Array.isArray(field('approval')) ? (field('approval') as unknown[]) : [];
      const hasAuto = approval.includes('auto');
      if (hasAuto && approval.length > 1) {
        problems.push({ path: at('approval'), message: 'auto cannot be combined with other approval steps' });
      }
      const risk = field('risk');
      if (hasAuto && (risk === 'high' || risk === 'critical')) {
        problems.push({ path: at('approval'), message: `a ${risk}-risk role cannot be auto-approved` });
      }
      approval.forEach((step, i) => {
        if (step && typeof step === 'object' && 'group' in step && typeof step.group === 'string' && !(step.group in groups)) {
          problems.push({ path: at('approval', i, 'group'), message: `unknown approver group "${step.group}" (define it under approverGroups)` });
        }
        const quorumProblem = quorumTooLarge(step, groups);
        if (quorumProblem) problems.push({ path: at('approval', i, 'quorum'), message: quorumProblem });
      });
      problems.push(...timerProblems(role, defaults, groups, at));
      if (field('breakGlass') === true) problems.push(...breakGlassRoleProblems(field, approval, at));
      if (field('group') === 'manual' && field('provider') !== undefined) {
        problems.push({ path: at('provider'), message: 'a manual role has no provider' });
      }
    }
  }
  problems.push(...bundleProblems(raw));
  return problems;
}

/** Each bundle item must be a role of the catalog, once; a bundle's duration must be one its items' roles offer. */
function bundleProblems(raw: unknown): RawProblem[] {
  const problems: RawProblem[] = [];
  const apps = recordAt(raw, 'apps');
  const bundles = recordAt(raw, 'bundles');
  for (const [key, bundle] of Object.entries(bundles)) {
    const listed = Array.isArray(bundle);
    const spec = recordAt(bundles, key);
    const items: unknown[] = listed ? bundle : Array.isArray(spec.items) ? spec.items : [];
    const duration = spec.duration;
    const at = (i: number) => (listed ? ['bundles', key, i] : ['bundles', key, 'items', i]);
    if (items.length === 0 || items.length > MAX_BUNDLE_ITEMS) {
      problems.push({
        path: listed ? ['bundles', key] : ['bundles', key, 'items'],
        message: `a bundle has 1 to ${MAX_BUNDLE_ITEMS} items, this one has ${items.length}`,
      });
    }
    const seen = new Set<string>();
    items.forEach((item, i) => {
      if (typeof item !== 'string' || !item.includes('/')) return;
      if (seen.has(item)) {
        problems.push({ path: at(i), message: `${item} is listed twice` });
        return;
      }
      seen.add(item);
      const [app, role] = item.split('/') as [string, string];
      const roles = recordAt(apps[app], 'roles');
      if (!(app in apps)) problems.push({ path: at(i), message: `unknown app "${app}" (define it under apps)` });
      else if (!(role in roles)) problems.push({ path: at(i), message: `${app} has no role "${role}": it offers ${Object.keys(roles).join(', ')}` });
      else if (typeof duration === 'string' && durationMs(duration) !== undefined) {
        const offered = recordAt(roles, role).durations;
        const normalised = Array.isArray(offered) ? offered.filter((d): d is string => typeof d === 'string').map(normaliseDuration) : [];
        if (!normalised.includes(normaliseDuration(duration))) {
          problems.push({
            path: ['bundles', key, 'duration'],
            message: `duration ${duration} is not offered for ${item} (it offers ${normalised.join(', ')})`,
          });
        }
      }
    });
  }
  return problems;
}

/** The longest review after the fact: past it a break-glass use is stale news (and the local runtime's waits stay under Node's timer limit). */
export const MAX_REVIEW_WITHIN = 'P14D';
const MAX_REVIEW_WITHIN_MS = durationMs(MAX_REVIEW_WITHIN)!;

/**
 * A break-glass role starts at once and ends by itself, and someone reviews each use: it needs an
 * identity-provider group (a manual app starts when its owner acts), a time-bound maximum (the
 * short one every break-glass grant gets at most) and an approver group step (the reviewers).
 */
function breakGlassRoleProblems(field: (key: string) => unknown, approval: unknown[], at: (...rest: PropertyKey[]) => PropertyKey[]): RawProblem[] {
  const problems: RawProblem[] = [];
  if (field('group') === 'manual') {
    problems.push({
      path: at('breakGlass'),
      message: 'a break-glass role needs an identity-provider group: its access starts at once, which a manual app cannot do',
    });
  }
  const max = field('maxDuration');
  if (typeof max === 'string' && durationMs(max) === Infinity) {
    problems.push({ path: at('maxDuration'), message: 'a break-glass role needs a time-bound maxDuration (its short maximum), not permanent' });
  }
  if (!approval.some((step) => isGroupTarget(step))) {
    problems.push({
      path: at('breakGlass'),
      message: 'a break-glass role needs an approver group step ({group: name}): its members review each break-glass use after the fact',
    });
  }
  return problems;
}

const isGroupTarget = (target: unknown): target is { group: string } =>
  !!target && typeof target === 'object' && typeof (target as { group?: unknown }).group === 'string';

/**
 * A role's reminder and escalation: one set on the role must come before its approvalTimeout that
 * denies the step, or it would never happen (a default that does not fit a role with a shorter
 * timeout is simply not used for it: shared/policy.ts approvalTimersFor), and an escalation needs
 * both when and to whom, from the role or the defaults.
 */
function timerProblems(
  role: unknown,
  defaults: Record<string, unknown>,
  groups: Record<string, unknown>,
  at: (...rest: PropertyKey[]) => PropertyKey[],
): RawProblem[] {
  const own = role && typeof role === 'object' ? (role as Record<string, unknown>) : {};
  const value = (key: string): unknown => own[key] ?? defaults[key];
  const where = (key: string) => (key in own ? at(key) : at());
  const from = (key: string) => (key in own ? '' : ' (from defaults)');
  const problems: RawProblem[] = [];
  const timeoutText = value('approvalTimeout') ?? 'PT24H';
  const timeout = typeof timeoutText === 'string' ? durationMs(timeoutText) : undefined;
  for (const key of ['remindAfter', 'escalateAfter']) {
    const text = value(key);
    const ms = typeof text === 'string' ? durationMs(text) : undefined;
    if (!(key in own) || ms === undefined || timeout === undefined) continue;
    if (ms === Infinity || ms >= timeout) {
      problems.push({
        path: where(key),
        message: `${key} ${String(text)} must be shorter than approvalTimeout ${String(timeoutText)}: the step is denied at the timeout, so it would never happen`,
      });
    }
  }
  const hasWhen = value('escalateAfter') !== undefined;
  const target = value('escalateTo');
  if (hasWhen && target === undefined)
    problems.push({ path: where('escalateAfter'), message: `escalateAfter${from('escalateAfter')} needs escalateTo: an email or {group: name}` });
  if (!hasWhen && target !== undefined)
    problems.push({ path: where('escalateTo'), message: `escalateTo${from('escalateTo')} needs escalateAfter: how long a step waits before it is escalated` });
  if ('escalateTo' in own && isGroupTarget(target) && !(target.group in groups)) {
    problems.push({ path: at('escalateTo', 'group'), message: `unknown approver group "${target.group}" (define it under approverGroups)` });
  }
  return problems;
}

/**
 * A `{group, quorum}` step asking for more distinct approvers than the group has members could never
 * be approved. (Fewer may be eligible for one request, once its requester and subject are removed:
 * the policy denies that request at planning.)
 */
function quorumTooLarge(step: unknown, groups: Record<string, unknown>): string | undefined {
  if (!step || typeof step !== 'object' || !('group' in step) || !('quorum' in step)) return undefined;
  const { group, quorum } = step;
  const members = typeof group === 'string' ? groups[group] : undefined;
  if (typeof quorum !== 'number' || !Number.isInteger(quorum) || !Array.isArray(members)) return undefined;
  // Counted as the schema reads the members: trimmed, lower-case, each person once.
  const size = new Set(members.filter((m): m is string => typeof m === 'string').map((m) => m.trim().toLowerCase())).size;
  if (quorum <= size) return undefined;
  return `quorum ${quorum} is more than the ${size} member${size === 1 ? '' : 's'} of approver group "${group}": the step could never be approved`;
}

export interface ResolvedRole {
  appKey: string;
  roleKey: string;
  app: AppEntry;
  role: RoleEntry;
  /** undefined for a manual role. */
  provider: Catalog['defaults']['provider'] | undefined;
  groupId: string | undefined;
}

export function resolveRole(catalog: Catalog, appKey: string, roleKey: string): ResolvedRole | undefined {
  const app = catalog.apps[appKey];
  const role = app?.roles[roleKey];
  if (!app || !role) return undefined;
  const manual = role.group === 'manual';
  return {
    appKey,
    roleKey,
    app,
    role,
    provider: manual ? undefined : (role.provider ?? app.provider ?? catalog.defaults.provider),
    groupId: manual ? undefined : role.group,
  };
}

/** The identity providers the catalog's automatically provisioned roles use, in a stable order. */
export function catalogProviders(catalog: Catalog): ProviderName[] {
  const used = new Set<ProviderName>();
  for (const [appKey, app] of Object.entries(catalog.apps)) {
    for (const roleKey of Object.keys(app.roles)) {
      const provider = resolveRole(catalog, appKey, roleKey)?.provider;
      if (provider) used.add(provider);
    }
  }
  return providers.filter((p) => used.has(p));
}

/** Finds an app by key or display name, case-insensitively (Jira select lists carry display names). */
export function findAppKey(catalog: Catalog, name: string): string | undefined {
  const wanted = name.trim().toLowerCase();
  return Object.entries(catalog.apps).find(([key, app]) => key === wanted || app.name.toLowerCase() === wanted)?.[0];
}

export function allowedDurations(role: RoleEntry): string[] {
  return role.durations.map(normaliseDuration);
}

export { PERMANENT };

function recordAt(value: unknown, key: string): Record<string, unknown> {
  const inner = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return inner && typeof inner === 'object' && !Array.isArray(inner) ? (inner as Record<string, unknown>) : {};
}
