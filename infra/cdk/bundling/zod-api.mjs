/** zod's classic API with `locales` and `core.locales` left out (see zod.mjs). */
import * as core from './zod-core.mjs';

export * from '../../../node_modules/zod/v4/classic/external.js';
export { core };
export const locales = undefined;
