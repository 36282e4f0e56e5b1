/**
 * whatwg-url for the Lambda bundles (esbuild --alias:whatwg-url, infra/cdk/grantline-function.ts).
 * Its only importer, node-fetch 2 (the Okta SDK's HTTP client), uses it as a fallback:
 * `Url.URL || whatwgUrl.URL`, and Node's url.URL always exists, so the fallback is Node's URL too.
 * Leaves out whatwg-url and tr46's Unicode tables (280 KB minified).
 */
import { URL } from 'node:url';

export { URL };
export default { URL };
