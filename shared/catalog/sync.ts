/**
 * `grantline catalog sync`: keeps the catalog honest against the identity providers. Every group a
 * role maps must exist and be changeable by the API; groups no role maps are listed so an owner
 * can decide whether they belong in the catalog (or are access granted outside Grantline).
 */
import type { IdpGroup, IdentityProvider, ProviderName } from '../ports.js';
import type { Catalog } from './schema.js';
import { durationMs } from '../duration.js';
import { allowedDurations, resolveRole } from './load.js';

export interface MappedGroup {
  provider: ProviderName;
  groupId: string;
  roles: string[];
}

export interface SyncReport {
  /** Mapped groups the provider does not have. */
  missing: MappedGroup[];
  /** Mapped groups whose members the API cannot change. */
  unmanageable: Array<MappedGroup & { name: string }>;
  /** Provider groups no catalog role maps. */
  unmapped: Array<IdpGroup & { provider: ProviderName }>;
  /** Providers the catalog uses but this deployment has not configured. */
  unconfigured: ProviderName[];
  ok: boolean;
}

export function mappedGroups(catalog: Catalog): MappedGroup[] {
  const byKey = new Map<string, MappedGroup>();
  for (const [appKey, app] of Object.entries(catalog.apps)) {
    for (const roleKey of Object.keys(app.roles)) {
      const resolved = resolveRole(catalog, appKey, roleKey)!;
      if (!resolved.provider || !resolved.groupId) continue;
      const key = `${resolved.provider}/${resolved.groupId}`;
      const entry = byKey.get(key) ?? { provider: resolved.provider, groupId: resolved.groupId, roles: [] };
      entry.roles.push(`${appKey}/${roleKey}`);
      byKey.set(key, entry);
    }
  }
  return [...byKey.values()];
}

export async function syncReport(catalog: Catalog, providers: Partial<Record<ProviderName, IdentityProvider>>): Promise<SyncReport> {
  const mapped = mappedGroups(catalog);
  const report: SyncReport = { missing: [], unmanageable: [], unmapped: [], unconfigured: [], ok: true };
  for (const provider of [...new Set(mapped.map((m) => m.provider))]) {
    const idp = providers[provider];
    if (!idp) {
      report.unconfigured.push(provider);
      continue;
    }
    const groups = new Map((await idp.listGroups()).map((g) => [g.id, g]));
    const wanted = mapped.filter((m) => m.provider === provider);
    for (const m of wanted) {
      const group = groups.get(m.groupId);
      if (!group) report.missing.push(m);
      else if (!group.manageable) report.unmanageable.push({ ...m, name: group.name });
    }
    const mappedIds = new Set(wanted.map((m) => m.groupId));
    for (const group of groups.values()) {
      if (!mappedIds.has(group.id) && group.manageable) report.unmapped.push({ ...group, provider });
    }
  }
  report.ok = report.missing.length === 0 && report.unmanageable.length === 0 && report.unconfigured.length === 0;
  return report;
}

/**
 * What the Jira request fields should offer: app display names, every role key of any app, and
 * every duration any role allows as the catalog writes it (normalised), shortest first.
 */
export function jiraFieldValues(catalog: Catalog): { apps: string[]; roles: string[]; durations: string[] } {
  const apps = Object.values(catalog.apps).map((a) => a.name);
  const roles = [...new Set(Object.values(catalog.apps).flatMap((a) => Object.keys(a.roles)))];
  const durations = [...new Set(Object.values(catalog.apps).flatMap((a) => Object.values(a.roles).flatMap(allowedDurations)))].sort(
    (a, b) => durationMs(a)! - durationMs(b)!,
  );
  return { apps, roles, durations };
}
