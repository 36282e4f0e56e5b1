/**
 * Reads catalog YAML, validates it (schema, then the rules a schema cannot express: shared/catalog/catalog.ts)
 * and reports every problem with its location, so `grantline catalog validate` gives an operator one
 * list to fix. A path ending in .json is read as JSON (what `cdk synth` ships in each Lambda package).
 */
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { ValidationError } from '../errors.js';
import { checkCatalog, formatPath, formatProblem, loadCatalogJson, type CatalogProblem, type CatalogResult } from './catalog.js';
import type { Catalog } from './schema.js';

export { allowedDurations, findAppKey, formatProblem, PERMANENT, resolveRole, type CatalogProblem, type CatalogResult, type ResolvedRole } from './catalog.js';

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
  const { catalog, problems: found } = checkCatalog(doc.toJS());
  const problems = found.map((p) => ({ ...locate(p.path), message: p.message }));
  problems.unshift(...duplicates);
  return catalog && problems.length === 0 ? { ok: true, catalog } : { ok: false, problems };
}

export async function loadCatalog(path: string): Promise<Catalog> {
  if (path.endsWith('.json')) return loadCatalogJson(path);
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
