/**
 * Error names are the contract with the state machine: Lambda reports a thrown error's `name` as
 * its type and the ASL's Retry/Catch match on it. Names must be literals (bundles are minified, see
 * test/cdk/bundles.test.ts for the bundled check) and every name the ASL expects must exist.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as errors from '../../shared/errors.js';
import { isAwsErrorName } from '../support/error-names.js';

type ErrorClass = new (message: string) => Error;
const errorClasses = Object.entries(errors as Record<string, unknown>).filter(
  (entry): entry is [string, ErrorClass] => typeof entry[1] === 'function' && (entry[1] as { prototype?: unknown }).prototype instanceof Error,
);

const asl = JSON.parse(readFileSync(new URL('../../statemachines/access-request.asl.json', import.meta.url), 'utf8')) as {
  States: Record<string, { Retry?: Array<{ ErrorEquals: string[] }>; Catch?: Array<{ ErrorEquals: string[] }> }>;
};
const aslErrorNames = [...new Set(Object.values(asl.States).flatMap((s) => [...(s.Retry ?? []), ...(s.Catch ?? [])].flatMap((r) => r.ErrorEquals)))];

describe('error names', () => {
  it('every exported error class has its own literal name, the one it is exported as', () => {
    expect(errorClasses.length).toBeGreaterThan(5);
    for (const [exported, ErrorClass] of errorClasses) {
      if (exported === 'GrantlineError') continue; // abstract
      expect(new ErrorClass('x').name, exported).toBe(exported);
    }
  });

  it('every error name the state machine retries or catches (other than the names AWS reports) is an exported error class', () => {
    const ours = aslErrorNames.filter((name) => !isAwsErrorName(name));
    expect(ours).toContain('RetryableError');
    const classNames = errorClasses.map(([exported]) => exported);
    for (const name of ours) expect(classNames, `ASL expects ${name}`).toContain(name);
  });
});
