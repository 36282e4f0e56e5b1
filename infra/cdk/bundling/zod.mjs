/**
 * zod's entry point for the Lambda bundles (esbuild --alias:zod, infra/cdk/grantline-function.ts):
 * the same API without zod's 50 locale bundles (260 KB minified). jira.js imports `{ z }`, the whole
 * namespace as a value, which keeps every export reachable, `locales` and `core.locales` included;
 * here they are shadowed. English messages stay (classic/schemas.js registers them itself). The paths
 * are files, not package specifiers, so the alias does not apply to them.
 */
import * as z from './zod-api.mjs';

export * from './zod-api.mjs';
export { z, z as default };
