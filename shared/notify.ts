/**
 * Telling people the outcome of a request in Slack: the requester (in the thread of the message
 * that said their request was filed, when it was made in Slack), the person the access is for when
 * that is someone else, and, for outcomes after the decision (granted, failed), every approver
 * asked, in the thread of the approval message they got. A notice never fails the step that sends it.
 * With `release`, the message to the person who holds the access (the subject, who is the requester
 * when they asked for themselves) carries the "I'm done" button (shared/release.ts); the others get
 * the plain text.
 */
import { messageRef } from './approval-messages.js';
import { errorMessage } from './errors.js';
import type { Grant } from './grants/model.js';
import type { ChatMessageRef } from './ports.js';
import type { Services } from './services.js';

type NotifyDeps = Pick<Services, 'chat' | 'logger' | 'store'>;

export async function tellOutcome(deps: NotifyDeps, grant: Grant, text: string, opts: { approvers?: boolean; release?: boolean } = {}): Promise<void> {
  const thread = await quietly(deps, grant, 'the requester', () => deps.store.requestThread(grant.id));
  const release = opts.release ? { release: grant.id } : {};
  const self = grant.subject === grant.requester;
  await tellPerson(deps, grant, grant.requester, text, thread ?? undefined, self ? release : {});
  if (!self) await tellPerson(deps, grant, grant.subject, text, undefined, release);
  if (!opts.approvers) return;
  for (let step = 0; step < (grant.steps?.length ?? 0); step++) {
    const approval = await quietly(deps, grant, 'the approvers', () => deps.store.getApproval(grant.id, step));
    for (const message of approval?.messages ?? []) {
      await quietly(deps, grant, message.approver, async () => {
        const ref = await messageRef(deps, message);
        return ref ? deps.chat.notify(ref, text) : undefined;
      });
    }
  }
}

async function tellPerson(
  deps: NotifyDeps,
  grant: Grant,
  email: string,
  text: string,
  thread: ChatMessageRef | undefined,
  options: { release?: string },
): Promise<void> {
  await quietly(deps, grant, email, async () => {
    if (thread) return deps.chat.notify(thread, text, options);
    const userId = await deps.chat.userIdByEmail(email);
    return userId ? deps.chat.notify(userId, text, options) : undefined;
  });
}

/** The "Access granted" notice: also the text the message keeps once its "I'm done" button is gone. */
export function grantedText(grant: Pick<Grant, 'subject' | 'appName' | 'role' | 'expiresAt' | 'issueKey'>): string {
  const until = grant.expiresAt ? ` until ${grant.expiresAt}` : '';
  return `Access granted: ${grant.subject} now has ${grant.appName} ${grant.role}${until} (${grant.issueKey}).`;
}

async function quietly<T>(deps: NotifyDeps, grant: Grant, who: string, send: () => Promise<T>): Promise<T | undefined> {
  try {
    return await send();
  } catch (err) {
    deps.logger.warn('could not tell the outcome in Slack', { grantId: grant.id, who, error: errorMessage(err) });
    return undefined;
  }
}
