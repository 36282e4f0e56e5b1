/**
 * Virtual time for code that waits through an injected `sleep`: a sleep returns at once and moves
 * the clock by exactly what was asked, so a test asserts how long the code waited, not how fast
 * the machine is.
 */
export interface VirtualTime {
  /** Milliseconds since the start, moved only by sleeps. */
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Every sleep, in order. */
  sleeps: number[];
}

export function virtualTime(): VirtualTime {
  let now = 0;
  const sleeps: number[] = [];
  return {
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    sleeps,
  };
}
