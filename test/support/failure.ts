/** Runs `fn`, expecting it to reject, and returns the error with how long the call took. */
export async function failure(fn: () => Promise<unknown>): Promise<{ err: Error; ms: number }> {
  const started = Date.now();
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof Error)) throw new Error(`expected an Error, got ${String(err)}`);
    return { err, ms: Date.now() - started };
  }
  throw new Error('expected the call to fail');
}
