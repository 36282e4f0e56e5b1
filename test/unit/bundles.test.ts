/**
 * Onboarding bundles in the core, on dynalite (the conditional writes the races rest on are the real
 * ones): what the catalog accepts, the approver's one message when several items ask at the same
 * moment or after a crash, "Approve all", and the one summary when several items settle together.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUNDLE_POST_CLAIM_MS } from '../../shared/approval-messages.js';
import { advance, requestApproval } from '../../shared/approval.js';
import { approveAll, settleBundle, submitBundle } from '../../shared/bundles.js';
import { formatProblem, parseCatalog } from '../../shared/catalog/load.js';
import { catalogJsonSchema } from '../../shared/catalog/schema.js';
import type { ManualClock } from '../../shared/clock.js';
import { grantIdFor } from '../../shared/grants/model.js';
import { provision } from '../../shared/provisioning.js';
import type { LifecycleDeps } from '../../shared/services.js';
import type { TestDynamo } from '../support/dynamo.js';
import { ELI, type Recorder, startUnitWorld } from '../support/fakes.js';
import { testCatalog } from '../support/catalog.js';

const MARIA = 'maria.manager@example.com';
/** Three items Eli's manager approves. */
const catalog = () => testCatalog((t) => `${t}  team-lead:\n    name: Team lead\n    items: [figma/editor, salesforce/read-only, github/maintainer]\n`);

let dynamo: TestDynamo;
let ports: Recorder;
let deps: LifecycleDeps;
let clock: ManualClock;

beforeEach(async () => {
  ({ dynamo, ports, deps, clock } = await startUnitWorld());
  deps = { ...deps, catalog: catalog() };
});
afterEach(async () => dynamo.close());

/** Eli asks for the team-lead bundle for himself; every item planned and waiting for his manager. */
async function waitingBundle(issueKey = 'ACC-1'): Promise<string[]> {
  const items = await submitBundle(deps, {
    issueKey,
    requester: ELI,
    subject: ELI,
    app: '',
    role: '',
    duration: '',
    justification: 'new role',
    source: 'jira',
    bundle: 'team-lead',
  });
  for (const item of items) expect(await advance(deps, item.id)).toMatchObject({ next: 'approval', step: 0 });
  return items.map((g) => g.id);
}

/** A waiting bundle whose first item joined Maria's message and claimed its post, then its process died before posting. */
async function posterDiedAfterClaiming(): Promise<string[]> {
  const ids = await waitingBundle();
  await dynamo.store.joinBundleMessage(grantIdFor('ACC-1'), MARIA, `${ids[0]}:0`);
  expect(await dynamo.store.claimBundlePost(grantIdFor('ACC-1'), MARIA, `${ids[0]}:0`, clock.now().toISOString(), '1970-01-01T00:00:00.000Z')).toBe(true);
  return ids;
}

const ask = (grantId: string) => requestApproval(deps, { grantId, step: 0, taskToken: `token-${grantId}` });
const posts = () => ports.bundleMessages.filter((m) => !m.to.includes('/'));
/** The items the approver's message shows now (the last post or redraw), as `grantId:step outcome`. */
const shown = () => ports.bundleMessages.at(-1)!.view.items.map((i) => `${i.prompt.grantId}:${i.prompt.step}${i.outcome ? ` ${i.outcome.kind}` : ''}`);

describe('the catalog', () => {
  const problems = (text: string) => {
    const parsed = parseCatalog(text);
    return parsed.ok ? [] : parsed.problems.map(formatProblem);
  };

  it('takes a list of app/role items, or a name, a duration and the items; the JSON schema knows them', () => {
    const parsed = parseCatalog(
      `${readCatalog()}  plain: [notion/member, figma/viewer]\n  named:\n    name: Named one\n    duration: permanent\n    items: [figma/viewer]\n`,
    );
    expect(parsed.ok && parsed.catalog.bundles).toMatchObject({
      plain: ['notion/member', 'figma/viewer'],
      named: { name: 'Named one', items: ['figma/viewer'] },
    });
    expect(JSON.stringify(catalogJsonSchema())).toContain('"bundles"');
  });

  it('refuses an unknown app or role, an item listed twice, a duration an item does not offer, and more than 20 items, each with its line', () => {
    const base = readCatalog();
    const line = base.trimEnd().split('\n').length;
    const text = `${base}  broken:\n    duration: PT6H\n    items: [notion/member, notion/member, figma/owner, nope/viewer]\n  huge: [${Array.from({ length: 21 }, () => 'figma/viewer').join(', ')}]\n  odd: [figma]\n`;
    expect(problems(text)).toEqual([
      `line ${line + 5}, bundles.odd[0]: must be app/role as the catalog keys them, e.g. figma/viewer`,
      `line ${line + 2}, bundles.broken.duration: duration PT6H is not offered for notion/member (it offers permanent)`,
      `line ${line + 3}, bundles.broken.items[1]: notion/member is listed twice`,
      `line ${line + 3}, bundles.broken.items[2]: figma has no role "owner": it offers viewer, editor`,
      `line ${line + 3}, bundles.broken.items[3]: unknown app "nope" (define it under apps)`,
      `line ${line + 4}, bundles.huge: a bundle has 1 to 20 items, this one has 21`,
      ...Array.from({ length: 20 }, (_, i) => `line ${line + 4}, bundles.huge[${i + 1}]: figma/viewer is listed twice`),
    ]);
  });
});

describe("the approver's one message", () => {
  it('three items asking the same manager at the same moment: one message, showing all three', async () => {
    const ids = await waitingBundle();
    await Promise.all(ids.map(ask));
    expect(posts()).toHaveLength(1);
    expect(posts()[0]!.to).toBe(`U-${MARIA}`);
    expect(shown()).toEqual(ids.map((id) => `${id}:0`));
    for (const id of ids)
      expect((await dynamo.store.getApproval(id, 0))!.messages).toEqual([expect.objectContaining({ approver: MARIA, bundle: grantIdFor('ACC-1') })]);
    // A retried task asks nobody again.
    await ask(ids[1]!);
    expect(posts()).toHaveLength(1);
  });

  it('an item whose poster died after claiming the post: its retry posts; another item leaves the post to it until the claim is stale', async () => {
    const [first, second] = await posterDiedAfterClaiming();
    await ask(second!);
    expect(posts()).toHaveLength(0);
    // The first item's retry tells its own claim from another's and posts, drawing both items.
    await ask(first!);
    expect(posts()).toHaveLength(1);
    expect(shown()).toEqual([`${first}:0`, `${second}:0`]);
  });

  it('a claim whose poster never came back is taken over once it is stale', async () => {
    const [first, second] = await posterDiedAfterClaiming();
    clock.advance(BUNDLE_POST_CLAIM_MS + 1000);
    await ask(second!);
    expect(posts()).toHaveLength(1);
    // The first item, run again, finds the message posted and is drawn in it.
    await ask(first!);
    expect(posts()).toHaveLength(1);
    expect(shown()).toEqual([`${first}:0`, `${second}:0`]);
  });

  it('"Approve all" approves each waiting item as its own click would; a second press approves nothing', async () => {
    const ids = await waitingBundle();
    await Promise.all(ids.map(ask));
    const results = await approveAll(deps, { bundleId: grantIdFor('ACC-1'), clickerEmail: MARIA, clickerRef: `U-${MARIA}` });
    expect(results.map((r) => r.result)).toEqual(ids.map(() => ({ outcome: 'recorded', decision: 'approved' })));
    for (const id of ids) expect(await dynamo.store.getApproval(id, 0)).toMatchObject({ status: 'approved', decidedBy: MARIA });
    expect(await approveAll(deps, { bundleId: grantIdFor('ACC-1'), clickerEmail: MARIA, clickerRef: `U-${MARIA}` })).toEqual([]);
    // Someone with no item in the bundle has no message: nothing to approve.
    expect(await approveAll(deps, { bundleId: grantIdFor('ACC-1'), clickerEmail: ELI, clickerRef: `U-${ELI}` })).toEqual([]);
    // The workflow moves on: the message is redrawn with every outcome.
    for (const id of ids) await advance(deps, id);
    expect(shown()).toEqual(ids.map((id) => `${id}:0 approved`));
  });
});

describe('the summary', () => {
  it('is recorded once when the last items settle at the same moment, and not before', async () => {
    const ids = await waitingBundle();
    await Promise.all(ids.map(ask));
    await approveAll(deps, { bundleId: grantIdFor('ACC-1'), clickerEmail: MARIA, clickerRef: `U-${MARIA}` });
    await advance(deps, ids[0]!);
    const first = (await dynamo.store.getGrant(ids[0]!))!;
    await settleBundle(deps, first);
    expect(await dynamo.store.evidence(grantIdFor('ACC-1'))).toEqual([]);
    // The other two are granted; both settle at once (and a retry settles again).
    for (const id of ids) await advance(deps, id);
    await Promise.all(ids.map((id) => provision(deps, id)));
    await Promise.all(ids.map(async (id) => settleBundle(deps, (await dynamo.store.getGrant(id))!)));
    const summary = await dynamo.store.evidence(grantIdFor('ACC-1'));
    expect(summary.map((e) => e.summary)).toEqual(['every item of bundle Team lead is settled: 3 of 3 granted, 0 declined, 0 failed']);
    expect(ports.comments.filter((c) => c.includes('every item of bundle'))).toHaveLength(1);
  });
});

/** The repository's catalog, whose last section is `bundles:`: a test appends bundles to it. */
function readCatalog(): string {
  return readFileSync(new URL('../../catalog.yaml', import.meta.url), 'utf8');
}
