/** Paths the CDK app reads, resolved from this file so synth works from any working directory. */
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FUNCTIONS_DIR = fileURLToPath(new URL('../../functions/', import.meta.url));
export const ASL_FILE = fileURLToPath(new URL('../../statemachines/access-request.asl.json', import.meta.url));
export const LOCK_FILE = fileURLToPath(new URL('../../package-lock.json', import.meta.url));
export const BUNDLE_BUDGET_FILE = fileURLToPath(new URL('../bundle-budget.json', import.meta.url));

/** Where each function finds the catalog (validated at synth, written as JSON) inside its deployment package (Lambda unpacks the zip to /var/task). */
export const CATALOG_IN_PACKAGE = 'catalog.json';
export const LAMBDA_TASK_ROOT = '/var/task';
