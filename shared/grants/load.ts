import { NotFoundError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { Grant } from './model.js';

export async function loadGrant(store: Store, grantId: string): Promise<Grant> {
  const grant = await store.getGrant(grantId);
  if (!grant) throw new NotFoundError(`no grant ${grantId}`);
  return grant;
}
