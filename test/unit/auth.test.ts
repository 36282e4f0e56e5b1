import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { safeEqual, signJiraBody, signSlackRequest, SLACK_MAX_AGE_SECONDS, verifyBearer, verifyJiraRequest, verifySlackRequest } from '../../shared/auth.js';
import { ManualClock } from '../../shared/clock.js';
import { UnauthorizedError } from '../../shared/errors.js';

const SLACK_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
const JIRA_SECRET = 'jira-shared-secret-0123456789';
const BODY = 'payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B%22id%22%3A%22U1%22%7D%7D';

type Headers = Record<string, string | undefined>;

/** Asserts that `fn` throws an UnauthorizedError (HTTP 401) with exactly `message`. */
function expectUnauthorized(fn: () => void, message: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(UnauthorizedError);
  const error = thrown as UnauthorizedError;
  expect(error.message).toBe(message);
  expect(error.status).toBe(401);
  expect(error.name).toBe('UnauthorizedError');
}

describe('Slack request signing (v0)', () => {
  const clock = new ManualClock(new Date('2026-01-05T09:00:00.000Z'));
  const nowSeconds = Math.floor(clock.now().getTime() / 1000);

  const signedHeaders = (timestamp: number = nowSeconds, body: string = BODY): Headers => ({
    'x-slack-signature': signSlackRequest(SLACK_SECRET, timestamp, body),
    'x-slack-request-timestamp': String(timestamp),
  });
  const verify = (headers: Headers, rawBody: string = BODY) => verifySlackRequest({ signingSecret: SLACK_SECRET, headers, rawBody, clock });

  it('signSlackRequest produces v0= and the hex HMAC-SHA256 of "v0:{timestamp}:{body}"', () => {
    const expected = createHmac('sha256', SLACK_SECRET).update(`v0:${nowSeconds}:${BODY}`).digest('hex');
    expect(signSlackRequest(SLACK_SECRET, nowSeconds, BODY)).toBe(`v0=${expected}`);
  });

  it('Slack: a correctly signed, current request passes', () => {
    expect(() => verify(signedHeaders())).not.toThrow();
  });

  it('Slack: a request exactly 5 minutes old still passes', () => {
    expect(() => verify(signedHeaders(nowSeconds - SLACK_MAX_AGE_SECONDS))).not.toThrow();
  });

  it('Slack: a timestamp up to a minute ahead (clock skew) passes', () => {
    expect(() => verify(signedHeaders(nowSeconds + 60))).not.toThrow();
  });

  it('Slack: a wrong signature of the same length is refused', () => {
    const headers = signedHeaders();
    const good = headers['x-slack-signature']!;
    const last = good.at(-1) === '0' ? '1' : '0';
    const forged = `${good.slice(0, -1)}${last}`;
    expect(forged).toHaveLength(good.length);
    expectUnauthorized(() => verify({ ...headers, 'x-slack-signature': forged }), 'Slack signature does not match');
  });

  it('Slack: a wrong signature of a different length is refused', () => {
    expectUnauthorized(() => verify({ ...signedHeaders(), 'x-slack-signature': 'v0=abc123' }), 'Slack signature does not match');
  });

  it('Slack: a request signed with another secret is refused', () => {
    const headers = { ...signedHeaders(), 'x-slack-signature': signSlackRequest('another-secret', nowSeconds, BODY) };
    expectUnauthorized(() => verify(headers), 'Slack signature does not match');
  });

  it('Slack: a request without the signature header is refused', () => {
    expectUnauthorized(() => verify({ ...signedHeaders(), 'x-slack-signature': undefined }), 'missing Slack signature headers');
  });

  it('Slack: a request without the timestamp header is refused', () => {
    expectUnauthorized(() => verify({ ...signedHeaders(), 'x-slack-request-timestamp': undefined }), 'missing Slack signature headers');
  });

  it('Slack: a request with no headers at all is refused', () => {
    expectUnauthorized(() => verify({}), 'missing Slack signature headers');
  });

  it.each([['soon'], ['1767603600.5'], ['-1767603600'], ['1767603600abc'], ['1234567890123']])('Slack: a non-numeric timestamp %j is refused', (timestamp) => {
    expectUnauthorized(() => verify({ ...signedHeaders(), 'x-slack-request-timestamp': timestamp }), 'Slack timestamp is not a number');
  });

  it('Slack: a request older than 5 minutes is refused (replay)', () => {
    const sixMinutesAgo = nowSeconds - 6 * 60;
    expectUnauthorized(() => verify(signedHeaders(sixMinutesAgo)), 'Slack request is older than 5 minutes (replay refused)');
  });

  it('Slack: a captured request replayed 6 minutes later is refused (replay)', () => {
    const later = new ManualClock(clock.now());
    const captured = signedHeaders();
    expect(() => verifySlackRequest({ signingSecret: SLACK_SECRET, headers: captured, rawBody: BODY, clock: later })).not.toThrow();
    later.advance(6 * 60_000);
    expectUnauthorized(
      () => verifySlackRequest({ signingSecret: SLACK_SECRET, headers: captured, rawBody: BODY, clock: later }),
      'Slack request is older than 5 minutes (replay refused)',
    );
  });

  it('Slack: a timestamp in the future is refused', () => {
    expectUnauthorized(() => verify(signedHeaders(nowSeconds + 5 * 60)), 'Slack request timestamp is in the future');
  });

  it('Slack: a v1= signature version is refused', () => {
    const v0 = signedHeaders()['x-slack-signature']!;
    expectUnauthorized(() => verify({ ...signedHeaders(), 'x-slack-signature': v0.replace(/^v0=/, 'v1=') }), 'unsupported Slack signature version');
  });

  it('Slack: a body tampered by one byte is refused', () => {
    const headers = signedHeaders();
    const tampered = `${BODY.slice(0, -1)}${BODY.at(-1) === 'D' ? 'E' : 'D'}`;
    expect(tampered).toHaveLength(BODY.length);
    expectUnauthorized(() => verify(headers, tampered), 'Slack signature does not match');
  });

  it('Slack: a signature over a different timestamp is refused', () => {
    const headers = { ...signedHeaders(nowSeconds - 10), 'x-slack-request-timestamp': String(nowSeconds) };
    expectUnauthorized(() => verify(headers), 'Slack signature does not match');
  });
});

describe('Jira webhook authentication', () => {
  const verify = (headers: Headers, rawBody: string = BODY) => verifyJiraRequest({ secret: JIRA_SECRET, headers, rawBody });

  it('signJiraBody produces sha256= and the hex HMAC-SHA256 of the raw body', () => {
    const expected = createHmac('sha256', JIRA_SECRET).update(BODY).digest('hex');
    expect(signJiraBody(JIRA_SECRET, BODY)).toBe(`sha256=${expected}`);
  });

  it('Jira: a valid X-Hub-Signature sha256 passes', () => {
    expect(() => verify({ 'x-hub-signature': signJiraBody(JIRA_SECRET, BODY) })).not.toThrow();
  });

  it('Jira: an X-Hub-Signature for another body is refused', () => {
    expectUnauthorized(() => verify({ 'x-hub-signature': signJiraBody(JIRA_SECRET, `${BODY} `) }), 'Jira webhook signature does not match');
  });

  it('Jira: an X-Hub-Signature made with another secret is refused', () => {
    expectUnauthorized(() => verify({ 'x-hub-signature': signJiraBody('wrong-secret', BODY) }), 'Jira webhook signature does not match');
  });

  it('Jira: a bare hex X-Hub-Signature without the sha256= prefix is refused', () => {
    const bare = signJiraBody(JIRA_SECRET, BODY).replace(/^sha256=/, '');
    expectUnauthorized(() => verify({ 'x-hub-signature': bare }), 'Jira webhook signature does not match');
  });

  it('Jira: the right Bearer shared secret passes (any case of "Bearer", surrounding spaces ignored)', () => {
    expect(() => verify({ authorization: `Bearer ${JIRA_SECRET}` })).not.toThrow();
    expect(() => verify({ authorization: `bearer   ${JIRA_SECRET}  ` })).not.toThrow();
  });

  it('Jira: a wrong Bearer shared secret is refused', () => {
    expectUnauthorized(() => verify({ authorization: 'Bearer not-the-secret' }), 'Jira shared secret does not match');
  });

  it('Jira: an Authorization header that is not Bearer is refused', () => {
    expectUnauthorized(() => verify({ authorization: `Basic ${Buffer.from(`x:${JIRA_SECRET}`).toString('base64')}` }), 'Jira shared secret does not match');
  });

  it('Jira: a request with neither signature nor secret is refused', () => {
    expectUnauthorized(() => verify({}), 'missing Jira authentication');
  });

  it('Jira: a wrong X-Hub-Signature is refused even when a correct Bearer secret is also sent (the signature, when present, decides)', () => {
    expectUnauthorized(
      () => verify({ 'x-hub-signature': signJiraBody('wrong-secret', BODY), authorization: `Bearer ${JIRA_SECRET}` }),
      'Jira webhook signature does not match',
    );
  });
});

describe('verifyBearer', () => {
  const TOKEN = 'internal-api-token';

  it('accepts the right token', () => {
    expect(() => verifyBearer(TOKEN, { authorization: `Bearer ${TOKEN}` })).not.toThrow();
    expect(() => verifyBearer(TOKEN, { authorization: `BEARER ${TOKEN} ` })).not.toThrow();
  });

  it('refuses a wrong token', () => {
    expectUnauthorized(() => verifyBearer(TOKEN, { authorization: 'Bearer internal-api-tokeN' }), 'missing or wrong bearer token');
    expectUnauthorized(() => verifyBearer(TOKEN, { authorization: `Bearer ${TOKEN}x` }), 'missing or wrong bearer token');
  });

  it('refuses a missing or non-Bearer Authorization header', () => {
    expectUnauthorized(() => verifyBearer(TOKEN, {}), 'missing or wrong bearer token');
    expectUnauthorized(() => verifyBearer(TOKEN, { authorization: TOKEN }), 'missing or wrong bearer token');
    expectUnauthorized(() => verifyBearer(TOKEN, { authorization: 'Bearer ' }), 'missing or wrong bearer token');
  });
});

describe('safeEqual', () => {
  it.each([
    ['abc', 'abc', true],
    ['', '', true],
    ['abc', 'abd', false],
    ['abc', 'ab', false],
    ['ab', 'abc', false],
    ['abc', '', false],
    ['abc', 'ABC', false],
    ['é', 'é', true],
  ])('safeEqual(%j, %j) is %s', (a, b, equal) => {
    expect(safeEqual(a, b)).toBe(equal);
  });
});
