/**
 * Issue 7, defect 1 (and issue 8 #3): access that must always be removed when the last grant
 * holding it ends — under concurrent twin grants, a crash between the identity-provider call and
 * the database write, and a reply lost after the provider applied the change. The ledger is
 * dynalite; the identity provider is an in-memory directory whose calls can be interleaved.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { advance, decide, requestApproval } from '../../shared/approval.js';
import type { ManualClock } from '../../shared/clock.js';
import { PermanentError, RetryableError } from '../../shared/errors.js';
import { submitRequest } from '../../shared/intake.js';
import type { MembershipKey, MembershipRecord } from '../../shared/grants/model.js';
import { joinMembership, leaveMembership, membershipKeyOf, STALE_REMOVAL_MS } from '../../shared/membership.js';
import { provision, recordFailure } from '../../shared/provisioning.js';
import { revoke } from '../../shared/revocation.js';
import type { LifecycleDeps } from '../../shared/services.js';
import type { TestDynamo } from '../support/dynamo.js';
import { Directory, ELI, MARIA, type Recorder, startUnitWorld } from '../support/fakes.js';

const GROUP = '00gfigmaeditor';

/** A directory whose next add or remove can run something in between, or fail after applying. */
class InterleavedDirectory extends Directory {
  duringAdd: (() => Promise<void>) | undefined;
  duringRemove: (() => Promise<void>) | undefined;
  failAfterAdd: Error | undefined;
  failAfterRemove: Error | undefined;
  override async addMember(groupId: string, userId: string) {
    const answer = await super.addMember(groupId, userId);
    const between = this.duringAdd;
    this.duringAdd = undefined;
    await between?.();
    const fault = this.failAfterAdd;
    this.failAfterAdd = undefined;
    if (fault) throw fault;
    return answer;
  }
  override async removeMember(groupId: string, userId: string) {
    const between = this.duringRemove;
    this.duringRemove = undefined;
    await between?.();
    const answer = await super.removeMember(groupId, userId);
    const fault = this.failAfterRemove;
    this.failAfterRemove = undefined;
    if (fault) throw fault;
    return answer;
  }
  members(): string[] {
    return [...(this.groups.get(GROUP) ?? [])];
  }
}

let dynamo: TestDynamo;
let clock: ManualClock;
let directory: InterleavedDirectory;
let ports: Recorder;
let deps: LifecycleDeps;

beforeEach(async () => {
  ({ dynamo, clock, directory, ports, deps } = await startUnitWorld({ directory: new InterleavedDirectory() }));
});
afterEach(async () => dynamo.close());

/** A Figma editor grant for Eli, approved by his manager and ready to provision. */
async function approved(issueKey: string, subject = ELI): Promise<string> {
  const grant = await submitRequest(deps, {
    issueKey,
    requester: ELI,
    subject,
    app: 'figma',
    role: 'editor',
    duration: 'PT24H',
    justification: 'design',
    source: 'jira',
  });
  await advance(deps, grant.id);
  await requestApproval(deps, { grantId: grant.id, step: 0, taskToken: `token-${issueKey}` });
  await decide(deps, { grantId: grant.id, step: 0, decision: 'approved', clickerEmail: MARIA, clickerRef: 'U-maria', via: 'slack' });
  await advance(deps, grant.id);
  return grant.id;
}

async function summaries(grantId: string, type: string): Promise<string[]> {
  return (await dynamo.store.evidence(grantId)).filter((e) => e.type === type).map((e) => `${e.summary} | ${e.details['Membership before this grant'] ?? ''}`);
}

describe('two grants for one person and group', () => {
  it('a second grant provisioned while the first one is adding does not take the first add for pre-existing access', async () => {
    const first = await approved('ACC-1');
    const second = await approved('ACC-2');
    // The second grant is provisioned after the first one's add reached Okta, before its database write.
    directory.duringAdd = async () => void (await provision(deps, second));

    await provision(deps, first);
    clock.advance(25 * 3_600_000);
    await revoke(deps, { grantId: first, reason: 'expired' });
    await revoke(deps, { grantId: second, reason: 'expired' });

    expect(directory.members()).toEqual([]);
    expect((await summaries(second, 'provisioned')).join()).not.toContain('outside Grantline');
    expect((await summaries(first, 'revocation_kept_membership'))[0]).toContain(`still needed by active grant ${second}`);
    expect((await summaries(second, 'revoked'))[0]).toContain(`removed ${ELI} from okta group ${GROUP}`);
  });

  it('twins provisioned at the same moment, one with the email in another case: the membership lasts until the later one ends', async () => {
    const lower = await approved('ACC-1');
    const upper = await approved('ACC-2', 'Eli.Engineer@Example.COM');

    await Promise.all([provision(deps, lower), provision(deps, upper)]);
    await revoke(deps, { grantId: lower, reason: 'early_release' });
    const afterFirst = directory.members();
    await revoke(deps, { grantId: upper, reason: 'early_release' });

    expect(afterFirst).toEqual(['u-eli']);
    expect(directory.members()).toEqual([]);
    expect((await summaries(lower, 'revocation_kept_membership'))[0]).toContain(`still needed by active grant ${upper}`);
  });

  it('a membership that existed before Grantline is kept after every grant ends', async () => {
    directory.groups.set(GROUP, new Set(['u-eli']));
    const first = await approved('ACC-1');
    const second = await approved('ACC-2');
    await provision(deps, first);
    await provision(deps, second);

    await revoke(deps, { grantId: first, reason: 'expired' });
    await revoke(deps, { grantId: second, reason: 'expired' });

    expect(directory.members()).toEqual(['u-eli']);
    expect((await summaries(second, 'revocation_kept_membership'))[0]).toContain('existed before Grantline granted it');
  });
});

describe('crashes and lost replies', () => {
  it('a crash between the Okta add and the database write: the retry knows the membership is its own and expiry removes it', async () => {
    const id = await approved('ACC-1');
    directory.failAfterAdd = new Error('process killed');

    await expect(provision(deps, id)).rejects.toThrow('process killed');
    await provision(deps, id); // the workflow's retry after the restart
    await revoke(deps, { grantId: id, reason: 'expired' });

    expect(directory.members()).toEqual([]);
    expect((await summaries(id, 'provisioned'))[0]).toContain('| no');
  });

  it('Okta applied the add but the reply was lost (502): the retry finds the person a member and still removes them at expiry', async () => {
    const id = await approved('ACC-1');
    directory.failAfterAdd = new RetryableError('Okta answered 502');

    await expect(provision(deps, id)).rejects.toThrow('502');
    await provision(deps, id);
    await revoke(deps, { grantId: id, reason: 'expired' });

    expect(directory.members()).toEqual([]);
  });

  it('a removal that crashes half-way leaves the grant active, and the retry finishes it', async () => {
    const id = await approved('ACC-1');
    await provision(deps, id);
    directory.failAfterRemove = new Error('process killed');

    await expect(revoke(deps, { grantId: id, reason: 'expired' })).rejects.toThrow('process killed');
    expect((await dynamo.store.getGrant(id))?.status).toBe('active');
    expect(await revoke(deps, { grantId: id, reason: 'expired' })).toEqual({ grantId: id, outcome: 'already_absent' });

    expect(directory.members()).toEqual([]);
    expect((await dynamo.store.getGrant(id))?.status).toBe('revoked');
  });

  it('nobody joins while a removal is in flight: the new grant waits (retryable), then gets the access back', async () => {
    const ending = await approved('ACC-1');
    const starting = await approved('ACC-2');
    await provision(deps, ending);
    let duringRemoval: unknown;
    directory.duringRemove = async () => {
      duringRemoval = await provision(deps, starting).catch((err: unknown) => err);
    };

    await revoke(deps, { grantId: ending, reason: 'expired' });
    await provision(deps, starting); // the workflow's retry

    expect(duringRemoval).toBeInstanceOf(RetryableError);
    expect(directory.members()).toEqual(['u-eli']);
    expect((await dynamo.store.getGrant(starting))?.status).toBe('active');
  });

  it('a removal whose process died long ago does not block a new grant, which never mistakes that membership for pre-existing', async () => {
    const ending = await approved('ACC-1');
    await provision(deps, ending);
    directory.duringRemove = async () => {
      throw new Error('process killed before the remove call');
    };
    await expect(revoke(deps, { grantId: ending, reason: 'expired' })).rejects.toThrow('process killed');
    clock.advance(STALE_REMOVAL_MS + 1);

    const starting = await approved('ACC-2');
    await provision(deps, starting);
    await revoke(deps, { grantId: ending, reason: 'expired' }); // the dead removal's retry arrives late
    const whileStartingHolds = directory.members();
    await revoke(deps, { grantId: starting, reason: 'expired' });

    expect(whileStartingHolds).toEqual(['u-eli']);
    expect(directory.members()).toEqual([]);
  });

  it('a grant that fails after the add gives the access back before it is marked failed (issue 8 #3)', async () => {
    const id = await approved('ACC-1');
    directory.failAfterAdd = new RetryableError('Okta answered 502');
    await expect(provision(deps, id)).rejects.toThrow('502');

    await recordFailure(deps, { grantId: id, error: { Error: 'RetryableError', Cause: 'Okta answered 502' } });

    expect(directory.members()).toEqual([]);
    expect(ports.comments.at(-1)).toBe('Grantline: could not complete the request: Okta answered 502. The access given during the attempt was removed');
    expect((await dynamo.store.getGrant(id))?.status).toBe('failed');
  });
});

describe('accounts read by id (issue 7 defect 9)', () => {
  it('a subject suspended a moment ago is not granted, even while the search still says active', async () => {
    const id = await approved('ACC-1');
    directory.stale[ELI] = { ...directory.users[ELI]!, active: true };
    directory.users[ELI] = { ...directory.users[ELI]!, active: false };

    await expect(provision(deps, id)).rejects.toThrow(PermanentError);
    expect(directory.members()).toEqual([]);
  });

  it('an approval by an approver suspended before the workflow moved on does not count: the request is denied', async () => {
    const grant = await submitRequest(deps, {
      issueKey: 'ACC-1',
      requester: ELI,
      subject: ELI,
      app: 'figma',
      role: 'editor',
      duration: 'PT24H',
      justification: 'design',
      source: 'jira',
    });
    await advance(deps, grant.id);
    await requestApproval(deps, { grantId: grant.id, step: 0, taskToken: 't' });
    await decide(deps, { grantId: grant.id, step: 0, decision: 'approved', clickerEmail: MARIA, clickerRef: 'U-maria', via: 'slack' });
    directory.stale[MARIA] = { ...directory.users[MARIA]!, active: true };
    directory.users[MARIA] = { ...directory.users[MARIA]!, active: false };

    expect((await advance(deps, grant.id)).next).toBe('end');
    const closed = (await dynamo.store.getGrant(grant.id))!;
    expect(closed.status).toBe('denied');
    expect(closed.denialReason).toContain(`the approval by ${MARIA} (step 1) does not count`);
  });
});

/** The ledger as it was before memberships were recorded: grants only, no membership records. */
function storeWithoutMemberships(): TestDynamo['store'] {
  const records = new Map<string, MembershipRecord>();
  const keyOf = (k: MembershipKey) => `${k.provider}/${k.groupId}/${k.userId}`;
  return Object.assign(Object.create(dynamo.store) as TestDynamo['store'], {
    getMembership: async (key: MembershipKey) => records.get(keyOf(key)),
    putMembership: async (record: MembershipRecord, expected: number | undefined) => {
      if (records.get(keyOf(record))?.version !== expected) return false;
      records.set(keyOf(record), record);
      return true;
    },
  });
}

const KEY: MembershipKey = { provider: 'okta', groupId: GROUP, userId: 'u-eli' };

describe('membership records, held and left', () => {
  it('a removal in flight for exactly the takeover time still blocks a new grant', async () => {
    const ending = await approved('ACC-1');
    await provision(deps, ending);
    directory.duringRemove = async () => {
      throw new Error('process killed before the remove call');
    };
    await expect(revoke(deps, { grantId: ending, reason: 'expired' })).rejects.toThrow('process killed');
    clock.advance(STALE_REMOVAL_MS);
    const starting = await approved('ACC-2');

    const refused: unknown = await provision(deps, starting).catch((err: unknown) => err);

    expect(refused).toBeInstanceOf(RetryableError);
    expect((refused as Error).message).toBe(`${ELI}'s membership of ${GROUP} is being removed by grant ${ending}; trying again shortly`);
    expect((await dynamo.store.getGrant(starting))?.status).toBe('approved');
  });

  it('a retried leave after the removal finished reports the removal again', async () => {
    await joinMembership(deps, KEY, ELI, 'grant-a');

    expect(await leaveMembership(deps, KEY, ELI, 'grant-a')).toEqual({ outcome: 'removed' });
    expect(await leaveMembership(deps, KEY, ELI, 'grant-a')).toEqual({ outcome: 'removed' });
    expect(directory.members()).toEqual([]);
  });

  it('a retried leave of a grant whose membership was kept says why it is kept', async () => {
    await joinMembership(deps, KEY, ELI, 'grant-a');
    await joinMembership(deps, KEY, ELI, 'grant-b');

    const first = await leaveMembership(deps, KEY, ELI, 'grant-a');
    const again = await leaveMembership(deps, KEY, ELI, 'grant-a');

    expect(first).toEqual({ outcome: 'kept', keptBecause: 'still needed by active grant grant-b' });
    expect(again).toEqual(first);
    expect(directory.members()).toEqual(['u-eli']);
  });

  it('a grant that never joined leaves nothing behind: absent, or kept for the holders or because it pre-existed', async () => {
    expect(await leaveMembership(deps, KEY, ELI, 'never-joined')).toEqual({ outcome: 'already_absent' });

    await joinMembership(deps, KEY, ELI, 'grant-a');
    await joinMembership(deps, KEY, ELI, 'grant-b');
    expect(await leaveMembership(deps, KEY, ELI, 'never-joined')).toEqual({ outcome: 'kept', keptBecause: 'still needed by active grant grant-a, grant-b' });

    const other: MembershipKey = { ...KEY, groupId: 'group-with-eli' };
    directory.groups.set('group-with-eli', new Set(['u-eli']));
    await joinMembership(deps, other, ELI, 'grant-c');
    await leaveMembership(deps, other, ELI, 'grant-c');
    expect(await leaveMembership(deps, other, ELI, 'never-joined')).toEqual({
      outcome: 'kept',
      keptBecause: 'the membership existed before Grantline granted it, outside Grantline',
    });
    expect(directory.groups.get('group-with-eli')).toEqual(new Set(['u-eli']));
  });

  it('joining twice (a retried task) adds once and reports the same holders', async () => {
    await joinMembership(deps, KEY, ELI, 'grant-a');
    const first = await joinMembership(deps, KEY, ELI, 'grant-b');
    const again = await joinMembership(deps, KEY, ELI, 'grant-b');

    expect(first).toEqual({ preexisting: false, otherHolders: ['grant-a'], answer: 'already_member' });
    expect(again).toEqual(first);
    await leaveMembership(deps, KEY, ELI, 'grant-a');
    await leaveMembership(deps, KEY, ELI, 'grant-b');
    expect(directory.members()).toEqual([]);
  });

  it('a membership nobody can write for 20 tries in a row is handed to the workflow to retry later, and the person is not added', async () => {
    let writes = 0;
    const contended = Object.assign(Object.create(dynamo.store) as TestDynamo['store'], {
      putMembership: async () => {
        writes += 1;
        return false;
      },
    });

    const refused: unknown = await joinMembership({ ...deps, store: contended }, KEY, ELI, 'grant-a').catch((err: unknown) => err);

    expect(refused).toBeInstanceOf(RetryableError);
    expect((refused as Error).message).toBe(`too many concurrent changes to ${ELI}'s membership of ${GROUP}`);
    expect(writes).toBe(20);
    expect(directory.members()).toEqual([]);
  });

  it('a grant of a manual app has no membership', () => {
    expect(() => membershipKeyOf({ provider: undefined, groupId: undefined }, 'u-eli')).toThrow('a manual grant has no identity-provider membership');
    expect(() => membershipKeyOf({ provider: 'okta', groupId: undefined }, 'u-eli')).toThrow('a manual grant has no identity-provider membership');
    expect(membershipKeyOf({ provider: 'okta', groupId: GROUP }, 'u-eli')).toEqual(KEY);
  });
});

describe('grants made before memberships were recorded', () => {
  it('an active grant with no record still holds the membership: its expiry removes the person', async () => {
    const id = await approved('ACC-1');
    await provision(deps, id);
    const before = { ...deps, store: storeWithoutMemberships() };

    expect(await revoke(before, { grantId: id, reason: 'expired' })).toEqual({ grantId: id, outcome: 'removed' });
    expect(directory.members()).toEqual([]);
  });

  it('one that pre-existed keeps the person in the group', async () => {
    directory.groups.set(GROUP, new Set(['u-eli']));
    const id = await approved('ACC-1');
    await provision(deps, id);
    const before = { ...deps, store: storeWithoutMemberships() };

    expect(await revoke(before, { grantId: id, reason: 'expired' })).toEqual({ grantId: id, outcome: 'kept' });
    expect(directory.members()).toEqual(['u-eli']);
  });

  it('a new grant joins the older one: the evidence names it, and the membership lasts until both end', async () => {
    const older = await approved('ACC-1');
    await provision(deps, older);
    const before = { ...deps, store: storeWithoutMemberships() };
    const newer = await approved('ACC-2');

    await provision(before, newer);
    await revoke(before, { grantId: older, reason: 'expired' });
    const afterOlder = directory.members();
    await revoke(before, { grantId: newer, reason: 'expired' });

    expect((await summaries(newer, 'provisioned'))[0]).toContain(`| yes, from grant ${older}`);
    expect(afterOlder).toEqual(['u-eli']);
    expect(directory.members()).toEqual([]);
  });
});
