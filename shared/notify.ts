import { errorMessage } from './errors.js';
import type { Grant } from './grants/model.js';
import type { Services } from './services.js';

/** A Slack DM to the requester; never fails the step that sends it. */
export async function tellRequester(deps: Pick<Services, 'chat' | 'logger'>, grant: Grant, text: string): Promise<void> {
  try {
    const userId = await deps.chat.userIdByEmail(grant.requester);
    if (userId) await deps.chat.notify(userId, text);
  } catch (err) {
    deps.logger.warn('could not notify the requester in Slack', { grantId: grant.id, error: errorMessage(err) });
  }
}
