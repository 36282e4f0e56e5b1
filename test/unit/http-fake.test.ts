/** The simulated services' request log: bounded, so a long soak or a sandbox left running does not keep every body. */
import { afterEach, expect, it } from 'vitest';
import { HttpFake } from '../../infra/local/sandbox/http-fake.js';

let fake: HttpFake | undefined;
afterEach(async () => fake?.close());

it('keeps the latest requests (at least the number asked, at most twice) and counts every one', async () => {
  fake = new HttpFake('test', 5);
  fake.route('GET', '/n/:i', () => ({ status: 200, body: {} }));
  const url = await fake.listen(0);

  for (let i = 1; i <= 12; i++) await fetch(`${url}/n/${i}`);

  expect(fake.received).toBe(12);
  const kept = fake.requests.map((r) => Number(r.path.split('/').pop()));
  expect(kept.length).toBeGreaterThanOrEqual(5);
  expect(kept.length).toBeLessThanOrEqual(10);
  expect(kept.at(-1)).toBe(12);
  expect(kept).toEqual([...kept].sort((a, b) => a - b));
});
