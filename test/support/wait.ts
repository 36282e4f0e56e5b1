import type { Harness } from './harness.js';

/** Polls until the check passes (the workflow runs asynchronously after the webhook is acknowledged). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw lastError;
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function finished(h: Harness, grantId: string, timeoutMs = 10_000) {
  return eventually(() => {
    const run = h.runtime.workflow.execution(grantId);
    if (!run || run.status === 'RUNNING') throw new Error(`execution ${grantId} still running: ${run?.states.join(' > ')}`);
    return run;
  }, timeoutMs);
}
