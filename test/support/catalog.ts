/** The repository's catalog, optionally edited, for tests (no runtime imported: unit tests and mutation runs stay light). */
import { readFileSync } from 'node:fs';
import { parseCatalog } from '../../shared/catalog/load.js';
import type { Catalog } from '../../shared/catalog/schema.js';

export function testCatalog(overrides: (text: string) => string = (t) => t): Catalog {
  const text = overrides(readFileSync(new URL('../../catalog.yaml', import.meta.url), 'utf8'));
  const parsed = parseCatalog(text);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.catalog;
}
