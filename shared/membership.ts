/**
 * Memberships: whether a person's place in a group is Grantline's to remove. One record per
 * (provider, group, IdP user) lists the grants that hold it and whether it pre-existed; every change
 * is a versioned conditional write, and the record is written BEFORE the identity provider is
 * called (write-ahead). So two grants provisioned at once, a retry after a crash between the add
 * and the database write, and a retry after a lost reply all find the same answer in the record
 * instead of guessing from "is a member now".
 *
 *   join:   holders += grant (deciding `preexisting` only when nobody holds it) → addMember
 *   leave:  holders -= grant; the last holder of a non-pre-existing membership writes `removing`
 *           → removeMember → clears `removing`. Nobody joins while a removal is in flight.
 */
import { RetryableError } from './errors.js';
import type { Grant, MembershipKey, MembershipRecord } from './grants/model.js';
import type { Services } from './services.js';

export type MembershipDeps = Pick<Services, 'store' | 'clock' | 'idp'>;

/**
 * A removal older than this was started by a process that is gone: every task that removes has a
 * shorter timeout (Lambda kills it), so after this its owner can no longer act on it.
 */
export const STALE_REMOVAL_MS = 15 * 60_000;
/** Conditional-write conflicts to absorb before handing the retry to the workflow's backoff. */
const MAX_CONFLICTS = 20;

export interface JoinResult {
  preexisting: boolean;
  /** Other grants holding the membership when this one joined. */
  otherHolders: string[];
  answer: 'added' | 'already_member';
}

export interface LeaveResult {
  outcome: 'removed' | 'already_absent' | 'kept';
  /** Why the membership stays, when it does. */
  keptBecause?: string;
}

/** Makes `grant` a holder of the membership, then makes sure the person is in the group. Safe to repeat. */
export async function joinMembership(deps: MembershipDeps, key: MembershipKey, email: string, grantId: string): Promise<JoinResult> {
  const record = await update(deps, key, email, async (current) => {
    if (current.holders.includes(grantId)) return undefined; // an earlier attempt of this grant joined: finish it
    const now = deps.clock.now();
    if (current.removing && !isStale(current.removing.at, now)) {
      throw new RetryableError(`${email}'s membership of ${key.groupId} is being removed by grant ${current.removing.grantId}; trying again shortly`, 2_000);
    }
    // Nobody holds it: whether the person is in the group now is decided here, once, before any add.
    // A stale removal was Grantline's own membership, never a pre-existing one.
    const preexisting =
      current.holders.length === 0 && !current.removing ? await deps.idp(key.provider).isMember(key.groupId, key.userId) : current.preexisting;
    const { removing: _dropped, ...rest } = current;
    return { ...rest, holders: [...current.holders, grantId], preexisting };
  });
  const answer = await deps.idp(key.provider).addMember(key.groupId, key.userId);
  return { preexisting: record.preexisting, otherHolders: record.holders.filter((id) => id !== grantId), answer };
}

/**
 * Takes `grant` off the membership's holders; the last holder of a membership Grantline created
 * removes the person from the group. Safe to repeat: a retry finishes its own removal.
 */
export async function leaveMembership(deps: MembershipDeps, key: MembershipKey, email: string, grantId: string): Promise<LeaveResult> {
  const now = () => deps.clock.now().toISOString();
  const record = await update(deps, key, email, async (current) => {
    if (!current.holders.includes(grantId)) return undefined; // left already (or never joined)
    const holders = current.holders.filter((id) => id !== grantId);
    const removes = holders.length === 0 && !current.preexisting;
    return removes ? { ...current, holders, removing: { grantId, at: now() } } : { ...current, holders, last: { grantId, outcome: 'kept', at: now() } };
  });
  if (record.removing?.grantId === grantId) {
    const outcome = await deps.idp(key.provider).removeMember(key.groupId, key.userId);
    await update(deps, key, email, async (current) => {
      if (current.removing?.grantId !== grantId) return undefined;
      const { removing: _done, ...rest } = current;
      return { ...rest, last: { grantId, outcome, at: now() } };
    });
    return { outcome };
  }
  if (record.last?.grantId === grantId && record.last.outcome !== 'kept') return { outcome: record.last.outcome };
  if (record.holders.length > 0) return { outcome: 'kept', keptBecause: `still needed by active grant ${record.holders.join(', ')}` };
  if (record.preexisting) return { outcome: 'kept', keptBecause: 'the membership existed before Grantline granted it, outside Grantline' };
  // Not a holder and no removal of ours on record: another grant's removal finished the job.
  return { outcome: 'already_absent' };
}

export function membershipKeyOf(grant: Pick<Grant, 'provider' | 'groupId'>, userId: string): MembershipKey {
  if (!grant.provider || !grant.groupId) throw new Error('a manual grant has no identity-provider membership');
  return { provider: grant.provider, groupId: grant.groupId, userId };
}

/**
 * Read, change, conditional write; on a conflict read again. `change` returns undefined when there
 * is nothing to write (the record already says what the caller wants). Returns the record as written or found.
 */
async function update(
  deps: MembershipDeps,
  key: MembershipKey,
  email: string,
  change: (current: MembershipRecord) => Promise<Omit<MembershipRecord, 'version'> | undefined>,
): Promise<MembershipRecord> {
  for (let conflict = 0; conflict < MAX_CONFLICTS; conflict++) {
    const stored = await deps.store.getMembership(key);
    const current = stored ?? (await fromLedger(deps, key, email));
    const next = await change(current);
    if (!next) return current;
    const written: MembershipRecord = { ...next, version: (stored?.version ?? 0) + 1 };
    if (await deps.store.putMembership(written, stored?.version)) return written;
  }
  throw new RetryableError(`too many concurrent changes to ${email}'s membership of ${key.groupId}`, 1_000);
}

/**
 * A membership with no record yet. Grants made before memberships were recorded are its holders
 * (their own `preexistingMembership` flag says whether it pre-existed); `preexisting` is otherwise
 * decided when the first holder joins.
 */
async function fromLedger(deps: MembershipDeps, key: MembershipKey, email: string): Promise<MembershipRecord> {
  const earlier = (await deps.store.activeGrantsIn(key.provider, key.groupId, email)).filter((g) => g.idpUserId === key.userId || !g.idpUserId);
  return {
    ...key,
    email,
    holders: earlier.map((g) => g.id),
    preexisting: earlier.some((g) => g.preexistingMembership),
    version: 0,
  };
}

function isStale(at: string, now: Date): boolean {
  return now.getTime() - new Date(at).getTime() > STALE_REMOVAL_MS;
}
