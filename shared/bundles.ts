/**
 * Onboarding bundles: the catalog's `bundles:` name sets of app roles a new hire gets together
 * (engineering-new-hire: [notion/member, figma/viewer, …]). One Jira issue naming a bundle
 * (JIRA_FIELD_BUNDLE) becomes one grant per item, each under its own role's policy, approvals and
 * expiry, all on that issue. An approver asked about several items gets one Slack message with a
 * line per item and "Approve all" (shared/approval-messages.ts); once every item is settled
 * (granted, declined or failed) the issue gets one summary, which alone moves its status.
 */
import { decide, type DecideDeps, type DecisionResult } from './approval.js';
import { breakGlassFlag } from './break-glass.js';
import { resolveRole } from './catalog/catalog.js';
import type { BundleEntry, Catalog } from './catalog/schema.js';
import { deliverPending, recordEvidence, type EvidenceInput } from './evidence.js';
import { bundleItemId, grantIdFor, type Grant } from './grants/model.js';
import { newGrant, requestedEvidence, requestProblems, type AccessRequest, type IntakeDeps, type RequestField } from './intake.js';
import type { Services } from './services.js';

export interface Bundle {
  key: string;
  name: string;
  /** Each item's duration when the request gives none. */
  duration?: string;
  items: Array<{ app: string; role: string }>;
}

export function bundleOf(catalog: Catalog, key: string): Bundle | undefined {
  const entry: BundleEntry | undefined = catalog.bundles[key];
  if (!entry) return undefined;
  const spec = Array.isArray(entry) ? { items: entry } : entry;
  return {
    key,
    name: (!Array.isArray(entry) && entry.name) || key,
    ...(!Array.isArray(entry) && entry.duration ? { duration: entry.duration } : {}),
    items: spec.items.map((item) => {
      const [app, role] = item.split('/') as [string, string];
      return { app, role };
    }),
  };
}

/** A bundle by key or display name, case-insensitively (a Jira select list carries the display name). */
export function findBundle(catalog: Catalog, name: string): Bundle | undefined {
  const wanted = name.trim().toLowerCase();
  const key = Object.keys(catalog.bundles).find((k) => k === wanted || bundleOf(catalog, k)!.name.toLowerCase() === wanted);
  return key ? bundleOf(catalog, key) : undefined;
}

/** The request for one item: the bundle's request with the item's app and role, and its duration. */
function itemRequest(catalog: Catalog, input: AccessRequest, bundle: Bundle, item: Bundle['items'][number]): AccessRequest {
  const role = catalog.apps[item.app]?.roles[item.role];
  return { ...input, app: item.app, role: item.role, duration: input.duration || bundle.duration || role?.durations[0] || '' };
}

/** The request's fields an item's problem is about: those are reported per item; the others once. */
const ITEM_FIELDS: ReadonlySet<RequestField> = new Set(['app', 'role', 'duration']);

/**
 * Everything wrong with a request naming a bundle: the bundle itself, then each item as a request of
 * its own (its duration against its role), then the fields all items share, once.
 */
export function bundleRequestProblems(
  catalog: Catalog,
  input: AccessRequest & { bundle: string },
  labels: Record<string, string> = {},
): Array<{ field: RequestField; message: string }> {
  const problems: Array<{ field: RequestField; message: string }> = [];
  const label = (name: string) => (labels[name] ? `${name} (Jira field ${labels[name]})` : name);
  const bundle = findBundle(catalog, input.bundle);
  if (!bundle) {
    const names = Object.keys(catalog.bundles).map((k) => bundleOf(catalog, k)!.name);
    const shown = input.bundle.length > 60 ? `${input.bundle.slice(0, 60)}…` : input.bundle;
    problems.push({
      field: 'bundle',
      message: `unknown bundle "${shown}": ${names.length ? `choose one of ${names.join(', ')}` : 'the catalog has no bundles'}`,
    });
  }
  if (input.app || input.role) {
    problems.push({
      field: 'bundle',
      message: `a request naming a bundle leaves ${label('app')} and ${label('role')} empty: the bundle says which apps and roles`,
    });
  }
  if (breakGlassFlag(input.breakGlass))
    problems.push({ field: 'breakGlass', message: 'a bundle cannot be requested under break-glass: request the one role you need' });
  if (!bundle) return problems;
  bundle.items.forEach((item, i) => {
    for (const p of requestProblems(catalog, itemRequest(catalog, input, bundle, item), labels)) {
      if (ITEM_FIELDS.has(p.field)) problems.push({ field: p.field, message: `item ${i + 1} (${item.app}/${item.role}): ${p.message}` });
      else if (i === 0 && p.field !== 'breakGlass') problems.push(p);
    }
  });
  return problems;
}

/**
 * Records one grant per item (ids from the issue key and the item's number: a retried or replayed
 * webhook records none twice), then each item's request evidence and workflow. Call with a request
 * bundleRequestProblems accepted.
 */
export async function submitBundle(deps: IntakeDeps, input: AccessRequest & { bundle: string }): Promise<Grant[]> {
  const bundle = findBundle(deps.catalog, input.bundle)!;
  const bundleId = grantIdFor(input.issueKey);
  const grants = bundle.items.map((item, i) => {
    const resolved = resolveRole(deps.catalog, item.app, item.role)!;
    return newGrant(deps, itemRequest(deps.catalog, input, bundle, item), resolved, bundleItemId(bundleId, i + 1), {
      bundle: { id: bundleId, key: bundle.key, name: bundle.name, item: `${resolved.app.name} ${resolved.roleKey}`, index: i + 1, of: bundle.items.length },
    });
  });
  // Every item is recorded before any workflow starts: a crash between leaves recorded requests, which a retried webhook (or a restart's re-drive) starts.
  for (const grant of grants) await deps.store.createGrant(grant);
  for (const grant of grants) {
    await recordEvidence(deps, grant, requestedEvidence(grant), { deliverNow: false });
    await deps.workflow.start(grant.id);
  }
  for (const grant of grants) await deliverPending(deps, grant.id);
  return grants;
}

/** A bundle's item grants as recorded (a missing one is undefined). */
async function itemsOf(store: Services['store'], bundle: NonNullable<Grant['bundle']>): Promise<Array<Grant | undefined>> {
  return Promise.all(Array.from({ length: bundle.of }, (_, i) => store.getGrant(bundleItemId(bundle.id, i + 1))));
}

/** Starts the workflow of every item again (a replayed webhook): a no-op for those running. */
export async function restartBundle(deps: Pick<Services, 'store' | 'workflow'>, bundle: NonNullable<Grant['bundle']>): Promise<Grant[]> {
  const items = (await itemsOf(deps.store, bundle)).filter((g): g is Grant => g !== undefined);
  for (const grant of items) await deps.workflow.start(grant.id);
  return items;
}

// ---------------------------------------------------------------- the summary

const UNSETTLED: ReadonlySet<Grant['status']> = new Set(['requested', 'pending_approval', 'approved']);

/**
 * Called when an item's workflow ends (granted, declined, failed; again on a retried step): once every
 * item is settled, the bundle's one summary is recorded under the bundle's id (its key makes a second
 * writer a no-op) and posted to the issue, moving it to granted (any item granted) or declined.
 */
export async function settleBundle(deps: Pick<Services, 'store' | 'clock' | 'config' | 'ticketing' | 'logger'>, item: Grant): Promise<void> {
  if (!item.bundle) return;
  const items = await itemsOf(deps.store, item.bundle);
  if (items.some((g) => !g || UNSETTLED.has(g.status))) return;
  await recordEvidence(deps, { id: item.bundle.id, issueKey: item.issueKey }, summaryEvidence(deps, item.bundle, items as Grant[]));
}

function summaryEvidence(deps: Pick<Services, 'config'>, bundle: NonNullable<Grant['bundle']>, items: Grant[]): EvidenceInput {
  const granted = items.filter((g) => g.grantedAt);
  const declined = items.filter((g) => g.status === 'denied');
  const failed = items.filter((g) => g.status === 'failed');
  const names = (gs: Grant[]) => gs.map((g) => g.bundle?.item ?? `${g.appName} ${g.role}`).join(', ') || undefined;
  return {
    type: 'bundle_settled',
    actor: 'grantline',
    via: 'system',
    summary: `every item of bundle ${bundle.name} is settled: ${granted.length} of ${items.length} granted, ${declined.length} declined, ${failed.length} failed`,
    details: {
      Bundle: bundle.name,
      Granted: names(granted),
      Declined: names(declined),
      Failed: names(failed),
      ...Object.fromEntries(items.map((g) => [`Item ${g.bundle?.index}`, `${g.bundle?.item}: ${itemOutcome(g)} (${g.id})`])),
    },
    transitionTo: granted.length > 0 ? deps.config.JIRA_STATUS_GRANTED : deps.config.JIRA_STATUS_DENIED,
  };
}

function itemOutcome(g: Grant): string {
  if (g.status === 'denied') return `declined: ${g.denialReason ?? 'no reason recorded'}`;
  if (g.status === 'failed') return `failed: ${g.failure ?? 'unknown error'}`;
  const how = g.manual ? `manual task for ${g.appOwner}` : `${g.provider} group ${g.groupId}`;
  const until = g.expiresAt ? `until ${g.expiresAt}` : 'with no end date';
  return `granted at ${g.grantedAt} via ${how}, ${until}${g.status === 'revoked' ? `; already ended at ${g.revokedAt}` : ''}`;
}

// ---------------------------------------------------------------- "Approve all"

/**
 * "Approve all" on an approver's bundle message: each item of the message still waiting is approved
 * by the clicker as if they had clicked its own Approve (the same checks, one decision per item). An
 * item they may not decide is refused on its own, with its reason, and recorded as a refused click.
 */
export async function approveAll(
  deps: DecideDeps,
  input: { bundleId: string; clickerEmail: string | undefined; clickerRef: string },
): Promise<Array<{ item: string; result: DecisionResult }>> {
  const record = input.clickerEmail ? await deps.store.getBundleMessage(input.bundleId, input.clickerEmail) : undefined;
  const results: Array<{ item: string; result: DecisionResult }> = [];
  for (const key of record?.items ?? []) {
    const at = key.lastIndexOf(':');
    const grantId = key.slice(0, at);
    const step = Number(key.slice(at + 1));
    const approval = await deps.store.getApproval(grantId, step);
    if (approval?.status !== 'pending') continue;
    const grant = await deps.store.getGrant(grantId);
    const result = await decide(deps, { grantId, step, decision: 'approved', clickerEmail: input.clickerEmail, clickerRef: input.clickerRef, via: 'slack' });
    results.push({ item: grant?.bundle?.item ?? grantId, result });
  }
  return results;
}
