/**
 * What an approver sees in Slack: the prompt of a request's step, its outcome once closed, a quorum
 * step's progress; and the one message of an onboarding bundle (shared/bundles.ts) per approver,
 * which lists every item of the bundle they were asked about and is redrawn whole whenever one changes.
 *
 * A bundle message is posted once: each item asking the approver adds itself to the message's record
 * (pk BUNDLE#<bundle>, sk MESSAGE#<approver>) first, then the first to claim the post posts it and
 * records where; an item that joins later redraws it. The poster reads the record again after the
 * post, so an item that joined while it was posting is drawn too: no item is ever left out.
 */
import { errorMessage } from './errors.js';
import type { Approval, Grant } from './grants/model.js';
import type { ApprovalOutcome, ApprovalProgress, ApprovalPrompt, BundleApprovalView, ChatMessageRef } from './ports.js';
import type { Services } from './services.js';

type MessageDeps = Pick<Services, 'store' | 'chat' | 'logger' | 'clock'>;

export function promptFor(grant: Grant, step: number): ApprovalPrompt {
  return {
    grantId: grant.id,
    step,
    issueKey: grant.issueKey,
    requesterEmail: grant.requester,
    subjectEmail: grant.subject,
    app: grant.appName,
    role: grant.role,
    duration: grant.duration,
    justification: grant.justification,
    risk: grant.risk,
  };
}

export const isQuorum = (approval: Pick<Approval, 'quorum'>): boolean => (approval.quorum ?? 1) > 1;

/** How a closed step is shown; undefined while it waits. A quorum step approved shows all its approvers ("in Jira" only when every one decided there). */
export function outcomeOf(approval: Approval): ApprovalOutcome | undefined {
  if (approval.status === 'pending') return undefined;
  if (approval.status === 'expired') return { kind: 'expired', at: approval.decidedAt ?? '' };
  const quorum = approval.status === 'approved' && isQuorum(approval) ? (approval.approvals ?? []) : [];
  return {
    kind: approval.status === 'approved' ? 'approved' : 'denied',
    by: quorum.length > 0 ? quorum.map((a) => a.by).join(', ') : (approval.decidedBy ?? ''),
    at: approval.decidedAt ?? '',
    ...((quorum.length > 0 ? quorum.every((a) => a.via === 'jira') : approval.channel === 'jira') ? { via: 'jira' as const } : {}),
  };
}

/** A waiting quorum step's approvals so far; undefined when none (or not a quorum step). */
export function progressOf(approval: Approval): ApprovalProgress | undefined {
  const approvedBy = (approval.approvals ?? []).map((a) => a.by);
  return approval.status === 'pending' && isQuorum(approval) && approvedBy.length > 0 ? { approvedBy, needed: approval.quorum ?? 1 } : undefined;
}

// ---------------------------------------------------------------- the bundle's message per approver

/** A claim to post a bundle message older than this is taken over (its poster died before posting). */
export const BUNDLE_POST_CLAIM_MS = 60_000;

/**
 * Asks `approver` (Slack user `userId`) about this step of a bundle item, in the approver's one
 * message for the bundle. Returns the message entry to keep on the step: channel and ts are those of
 * the message when known (another item may still be posting it; the record has them once posted).
 */
export async function askInBundle(deps: MessageDeps, grant: Grant, step: number, approver: string, userId: string): Promise<Approval['messages'][number]> {
  const bundleId = grant.bundle!.id;
  const item = `${grant.id}:${step}`;
  const entry = (ref: Partial<ChatMessageRef>) => ({ approver, channel: ref.channel ?? '', ts: ref.ts ?? '', bundle: bundleId });
  const joined = await deps.store.joinBundleMessage(bundleId, approver, item);
  if (joined.ts) {
    await redrawBundleMessage(deps, bundleId, approver);
    return entry(joined);
  }
  const now = deps.clock.now();
  const staleBefore = new Date(now.getTime() - BUNDLE_POST_CLAIM_MS).toISOString();
  // Another item is posting it: that poster draws this item too (it reads the record again after posting).
  if (!(await deps.store.claimBundlePost(bundleId, approver, item, now.toISOString(), staleBefore))) return entry({});
  const view = await bundleView(deps, (await deps.store.getBundleMessage(bundleId, approver)) ?? joined);
  const ref = await deps.chat.showBundleApprovals(userId, view);
  await deps.store.setBundleMessagePosted(bundleId, approver, ref);
  // Items that joined while this one posted are drawn now.
  await redrawBundleMessage(deps, bundleId, approver, view);
  return entry(ref);
}

/**
 * Redraws the approver's bundle message from the record and the ledger (each item's step as it is
 * now), reading them again after each redraw until nothing changed: a slower redraw never leaves an
 * item's buttons over its outcome. Best effort: Slack faults are logged. `shown`: what the message shows now.
 */
export async function redrawBundleMessage(deps: MessageDeps, bundleId: string, approver: string, shown?: BundleApprovalView): Promise<void> {
  let last = shown ? JSON.stringify(shown) : undefined;
  for (let round = 0; round < 3; round++) {
    const record = await deps.store.getBundleMessage(bundleId, approver);
    if (!record?.channel || !record.ts) return;
    const view = await bundleView(deps, record);
    const drawn = JSON.stringify(view);
    if (drawn === last) return;
    try {
      await deps.chat.showBundleApprovals({ channel: record.channel, ts: record.ts }, view);
    } catch (err) {
      deps.logger.warn('could not redraw the bundle approval message', { bundleId, approver, error: errorMessage(err) });
      return;
    }
    last = drawn;
  }
}

/** Where an approval message is: a bundle's message is found on the bundle's record (undefined until posted). */
export async function messageRef(deps: Pick<Services, 'store'>, message: Approval['messages'][number]): Promise<ChatMessageRef | undefined> {
  if (!message.bundle) return { channel: message.channel, ts: message.ts };
  const record = await deps.store.getBundleMessage(message.bundle, message.approver);
  return record?.channel && record.ts ? { channel: record.channel, ts: record.ts } : undefined;
}

async function bundleView(deps: Pick<Services, 'store'>, record: { bundleId: string; items: string[] }): Promise<BundleApprovalView> {
  const items = await Promise.all(
    record.items.map(async (key) => {
      const [grantId, step] = splitItem(key);
      const [grant, approval] = await Promise.all([deps.store.getGrant(grantId), deps.store.getApproval(grantId, step)]);
      return grant && approval ? { grant, approval } : undefined;
    }),
  );
  const known = items.filter((i) => i !== undefined).sort((a, b) => order(a) - order(b));
  const first = known[0]?.grant;
  return {
    bundleId: record.bundleId,
    bundleName: first?.bundle?.name ?? record.bundleId,
    issueKey: first?.issueKey ?? '',
    requesterEmail: first?.requester ?? '',
    subjectEmail: first?.subject ?? '',
    items: known.map(({ grant, approval }) => {
      const outcome = outcomeOf(approval);
      const progress = progressOf(approval);
      return { prompt: promptFor(grant, approval.step), ...(outcome ? { outcome } : {}), ...(progress ? { progress } : {}) };
    }),
  };
}

/** Items in the bundle's order, each item's steps in order. */
const order = ({ grant, approval }: { grant: Grant; approval: Approval }) => (grant.bundle?.index ?? 0) * 100 + approval.step;

function splitItem(key: string): [string, number] {
  const at = key.lastIndexOf(':');
  return [key.slice(0, at), Number(key.slice(at + 1))];
}
