/**
 * Reads catalog YAML, validates it (schema, then the rules a schema cannot express) and reports
 * every problem with its location, so `grantline catalog validate` gives an operator one list to fix.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { durationMs, normaliseDuration, PERMANENT } from '../duration.js';
import { ValidationError } from '../errors.js';
import { catalogSchema, type AppEntry, type Catalog, type RoleEntry } from './schema.js';

export interface CatalogProblem {
  /** Dotted path in the catalog, e.g. apps.figma.roles.editor.approval[1] */
  path: string;
  line?: number;
  message: string;
}

export type CatalogResult = { ok: true; catalog: Catalog } | { ok: false; problems: CatalogProblem[] };

export function parseCatalog(text: string): CatalogResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const syntaxErrors = doc.errors.filter((e) => e.code !== 'DUPLICATE_KEY');
  if (syntaxErrors.length > 0) {
    return {
      ok: false,
      problems: syntaxErrors.map((e) => ({ path: '', line: e.linePos?.[0]?.line, message: e.message.split('\n')[0]! })),
    };
  }
  // A duplicate key leaves a readable document: report it with its path and keep checking the rest,
  // so one run still lists every mistake. The later copy is dropped, so checks and lines use the first.
  const duplicates: CatalogProblem[] = doc.errors.map((e) => {
    const found = dropDuplicateKey(doc.contents, e.pos[0]);
    return {
      path: found ? formatPath(found.path) : '',
      line: e.linePos?.[0]?.line,
      message: found ? `duplicate key "${String(found.path.at(-1))}": it is already defined above` : `duplicate key: ${e.message.split('\n')[0]}`,
    };
  });
  const locate = (path: PropertyKey[]): CatalogProblem => ({
    path: formatPath(path),
    line: lineOf(doc, lineCounter, path),
    message: '',
  });
  const raw: unknown = doc.toJS();
  const parsed = catalogSchema.safeParse(raw);
  // Rule checks run on every role that parses, even when other parts fail, so one run lists every mistake.
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((issue) => ({ path: issue.path, message: issue.message }))),
    ...semanticProblems(raw),
  ].map((p) => ({ ...locate(p.path), message: p.message }));
  problems.unshift(...duplicates);
  return parsed.success && problems.length === 0 ? { ok: true, catalog: parsed.data } : { ok: false, problems };
}

export async function loadCatalog(path: string): Promise<Catalog> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ValidationError(`cannot read catalog ${path}: ${(err as Error).message}`);
  }
  const result = parseCatalog(text);
  if (!result.ok) {
    const lines = result.problems.map(formatProblem);
    throw new ValidationError(`catalog ${path} is invalid:\n  ${lines.join('\n  ')}`, lines);
  }
  return result.catalog;
}

export function formatProblem(p: CatalogProblem): string {
  const where = [p.line ? `line ${p.line}` : '', p.path].filter(Boolean).join(', ');
  return where ? `${where}: ${p.message}` : p.message;
}

function semanticProblems(raw: unknown): Array<{ path: PropertyKey[]; message: string }> {
  const problems: Array<{ path: PropertyKey[]; message: string }> = [];
  const groups = recordAt(raw, 'approverGroups');
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
      });
      if (field('group') === 'manual' && field('provider') !== undefined) {
        problems.push({ path: at('provider'), message: 'a manual role has no provider' });
      }
    }
  }
  return problems;
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

function formatPath(path: PropertyKey[]): string {
  return path.reduce<string>((acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), '');
}

/** Finds the map key that starts at `offset`, removes that (later, duplicate) pair and returns its path. */
function dropDuplicateKey(node: unknown, offset: number, path: PropertyKey[] = []): { path: PropertyKey[] } | undefined {
  if (isMap(node)) {
    for (const [i, pair] of node.items.entries()) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (isScalar(pair.key) && pair.key.range?.[0] === offset) {
        node.items.splice(i, 1);
        return { path: [...path, key] };
      }
      const found = dropDuplicateKey(pair.value, offset, [...path, key]);
      if (found) return found;
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      const found = dropDuplicateKey(item, offset, [...path, i]);
      if (found) return found;
    }
  }
  return undefined;
}

function lineOf(doc: Document, counter: LineCounter, path: PropertyKey[]): number | undefined {
  // Walk down as far as the path exists, so a missing key is reported at its parent.
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth) as Array<string | number>, true);
    if (node && typeof node === 'object' && 'range' in node && Array.isArray(node.range)) {
      return counter.linePos(node.range[0] as number).line;
    }
  }
  return undefined;
}
