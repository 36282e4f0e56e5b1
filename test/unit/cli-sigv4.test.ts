/**
 * `--aws`: the CLI signs its calls with SigV4 for API Gateway's IAM authorization (service
 * execute-api). A loopback server stands in for API Gateway and checks what it would: the
 * authorization header's credential scope and signed headers, the session token, the payload hash, and
 * the signature itself, recomputed here with node:crypto from the request as received (canonical
 * request → string to sign → HMAC chain), so a helper that signs the wrong thing fails.
 * Credentials come from the environment; IMDS is off; nothing leaves 127.0.0.1.
 */
import { execFile } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { awsSigning, fetchSigned, signingRegion } from '../../bin/sigv4.js';

const CLI = fileURLToPath(new URL('../../bin/grantline.mjs', import.meta.url));
const run = promisify(execFile);

const ACCESS_KEY = 'AKIDEXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLE//session+token=';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const path = new URL(req.url!, 'http://x').pathname;
      const answer = path.startsWith('/forbidden/')
        ? { status: 403, body: { message: 'Forbidden' } }
        : path === '/grants'
          ? { status: 200, body: { grants: [] } }
          : path.endsWith('/revoke')
            ? { status: 200, body: { outcome: 'revoked' } }
            : { status: 200, body: {} };
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
afterEach(() => {
  seen.length = 0;
  vi.unstubAllEnvs();
});

/** The environment of a CLI run: fixed credentials first in the chain, no IMDS, no region or token from the caller's shell. */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (/^(AWS_|GRANTLINE_)/.test(name)) delete env[name];
  return {
    ...env,
    AWS_ACCESS_KEY_ID: ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_SESSION_TOKEN: SESSION_TOKEN,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    ...extra,
  };
}

const cli = (args: string[], extra?: Record<string, string>) => run(process.execPath, [CLI, ...args], { env: cliEnv(extra), timeout: 60_000 });

// ------------------------------------------------------------ SigV4, recomputed from the spec

const sha256 = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
/** RFC 3986 encoding: every byte but the unreserved characters A-Z a-z 0-9 - _ . ~ */
const uriEncode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/execute-api\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

function parseAuthorization(header: string | undefined) {
  const m = AUTH.exec(header ?? '');
  expect(m, `authorization header: ${header}`).not.toBeNull();
  const [, accessKey, date, region, signedHeaders, signature] = m!;
  return { accessKey: accessKey!, date: date!, region: region!, signedHeaders: signedHeaders!, signature: signature! };
}

/** The signature API Gateway computes for the request as it arrived (SigV4, execute-api: path segments encoded twice). */
function expectedSignature(req: Seen, secret: string): string {
  const auth = parseAuthorization(req.headers.authorization);
  const [rawPath, rawQuery = ''] = req.url.split('?', 2) as [string, string?];
  const canonicalUri = rawPath.split('/').map(uriEncode).join('/');
  const canonicalQuery = rawQuery
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const i = pair.indexOf('=');
      const [k, v] = i < 0 ? [pair, ''] : [pair.slice(0, i), pair.slice(i + 1)];
      return [uriEncode(decodeURIComponent(k)), uriEncode(decodeURIComponent(v))] as const;
    })
    .sort(([ak, av], [bk, bv]) => (ak === bk ? (av < bv ? -1 : av > bv ? 1 : 0) : ak < bk ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const names = auth.signedHeaders.split(';');
  const canonicalHeaders = names
    .map(
      (n) =>
        `${n}:${String(req.headers[n] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const canonicalRequest = [req.method, canonicalUri, canonicalQuery, canonicalHeaders, auth.signedHeaders, sha256(req.body)].join('\n');
  const amzDate = String(req.headers['x-amz-date']);
  const scope = `${amzDate.slice(0, 8)}/${auth.region}/execute-api/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const kDate = hmac(`AWS4${secret}`, amzDate.slice(0, 8));
  const kRegion = hmac(kDate, auth.region);
  const kService = hmac(kRegion, 'execute-api');
  const kSigning = hmac(kService, 'aws4_request');
  return createHmac('sha256', kSigning).update(stringToSign, 'utf8').digest('hex');
}

/** What API Gateway checks of a signed request, the signature recomputed independently. */
function expectSignedFor(req: Seen, region: string): ReturnType<typeof parseAuthorization> {
  const auth = parseAuthorization(req.headers.authorization);
  expect(auth.accessKey).toBe(ACCESS_KEY);
  expect(auth.region).toBe(region);
  const amzDate = String(req.headers['x-amz-date']);
  expect(amzDate).toMatch(/^\d{8}T\d{6}Z$/);
  expect(auth.date).toBe(amzDate.slice(0, 8));
  const at = Date.parse(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  expect(Math.abs(Date.now() - at)).toBeLessThan(5 * 60_000);
  const signed = auth.signedHeaders.split(';');
  expect(signed).toEqual([...signed].sort());
  expect(signed).toEqual(expect.arrayContaining(['host', 'x-amz-date', 'x-amz-security-token']));
  expect(req.headers['x-amz-security-token']).toBe(SESSION_TOKEN);
  expect(req.headers['x-amz-content-sha256']).toBe(sha256(req.body));
  expect(auth.signature).toBe(expectedSignature(req, SECRET));
  // A request changed after signing (another body, path or query) would not verify.
  expect(auth.signature).not.toBe(expectedSignature({ ...req, body: `${req.body} ` }, SECRET));
  expect(auth.signature).not.toBe(expectedSignature({ ...req, url: `${req.url}${req.url.includes('?') ? '&' : '?'}x=1` }, SECRET));
  return auth;
}

// ------------------------------------------------------------ the CLI

describe('grantline --aws signs its calls with SigV4 for API Gateway', () => {
  it('signs a GET with a query string (grants --user), and sends no bearer token', async () => {
    await cli(['grants', '--user', 'alice+ops@example.com', '--page-size', '50', '--url', base, '--token', 'local-token', '--aws', 'eu-west-1']);

    expect(seen).toHaveLength(1);
    const req = seen[0]!;
    expect(req.method).toBe('GET');
    expect(req.url).toBe('/grants?user=alice%2Bops%40example.com&limit=50');
    expect(req.body).toBe('');
    expect(req.headers.authorization).not.toContain('local-token');
    expectSignedFor(req, 'eu-west-1');
  }, 90_000);

  it('signs a POST with a JSON body (revoke), the payload hash and content-type signed', async () => {
    const { stdout } = await cli(['revoke', 'grant:EXP-1@x', '--reason', 'early_release', '--by', 'lead@example.com', '--url', base, '--aws=us-east-2']);

    expect(stdout.trim()).toBe('grant:EXP-1@x: revoked');
    expect(seen).toHaveLength(1);
    const req = seen[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/grants/grant%3AEXP-1%40x/revoke');
    expect(JSON.parse(req.body)).toEqual({ reason: 'early_release', by: 'lead@example.com' });
    const auth = expectSignedFor(req, 'us-east-2');
    expect(auth.signedHeaders.split(';')).toContain('content-type');
    expect(req.headers['content-type']).toBe('application/json');
  }, 90_000);

  it('signs when GRANTLINE_AWS_REGION is set, without --aws', async () => {
    await cli(['grants', '--app', 'figma', '--url', base], { GRANTLINE_AWS_REGION: 'ap-southeast-2', GRANTLINE_AUDIT_TOKEN: 'local-token' });

    expect(seen).toHaveLength(1);
    expectSignedFor(seen[0]!, 'ap-southeast-2');
  }, 90_000);

  it('sends the bearer token and no signature without --aws (the local runtime)', async () => {
    await cli(['grants', '--app', 'figma', '--url', base, '--token', 'local-token']);

    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers.authorization).toBe('Bearer local-token');
    expect(seen[0]!.headers['x-amz-date']).toBeUndefined();
  }, 90_000);

  it('stops before any call when no region can be found, saying what to give', async () => {
    const failed = await cli(['grants', '--app', 'figma', '--aws', '--url', base]).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );

    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('no AWS region to sign the request for: give --aws <region>');
    expect(seen).toHaveLength(0);
  }, 90_000);

  it('reports a 403 with what the identity needs (audit verify, a base URL with a path)', async () => {
    const failed = await cli(['audit', 'verify', '--grant', 'g-1', '--url', `${base}/forbidden`, '--aws', 'eu-west-1']).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );

    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain('Grantline answered 403');
    expect(failed?.stderr).toContain('execute-api:Invoke');
    expect(seen.map((s) => s.url)).toEqual(['/forbidden/audit/chains?grant=g-1']);
    expectSignedFor(seen[0]!, 'eu-west-1');
  }, 90_000);
});

// ------------------------------------------------------------ the helper

describe('fetchSigned', () => {
  it('signs repeated and unsorted query keys, a path to encode twice and a JSON body as API Gateway recomputes them', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', ACCESS_KEY);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', SECRET);
    vi.stubEnv('AWS_SESSION_TOKEN', SESSION_TOKEN);
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');

    const get = await fetchSigned(`${base}/audit/chains/g%3A1%40x?grant=g%201&b=2&a=z&a=y&empty=`, { method: 'GET', headers: {} }, 'eu-central-1');
    const body = JSON.stringify({ issueKey: 'SEC-1', filename: 'audit pack.csv', content: 'a,"b"\nç' });
    const post = await fetchSigned(
      `${base}/audit/attachments`,
      { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer dropped' }, body },
      'eu-central-1',
    );

    expect([get.status, post.status]).toEqual([200, 200]);
    expect(seen.map((s) => s.url)).toEqual(['/audit/chains/g%3A1%40x?grant=g%201&b=2&a=z&a=y&empty=', '/audit/attachments']);
    expectSignedFor(seen[0]!, 'eu-central-1');
    expectSignedFor(seen[1]!, 'eu-central-1');
    expect(seen[1]!.body).toBe(body);
  });
});

describe('signing region and switch', () => {
  const url = 'https://a1b2c3d4e5.execute-api.eu-north-1.amazonaws.com';

  it('signs with --aws or GRANTLINE_AWS_REGION, not otherwise', () => {
    expect(awsSigning(undefined, {})).toBe(false);
    expect(awsSigning(true, {})).toBe(true);
    expect(awsSigning('eu-west-1', {})).toBe(true);
    expect(awsSigning(undefined, { GRANTLINE_AWS_REGION: 'eu-west-1' })).toBe(true);
    expect(awsSigning(undefined, { AWS_REGION: 'eu-west-1' })).toBe(false);
  });

  it('takes --aws <region>, else GRANTLINE_AWS_REGION, else AWS_REGION, else the execute-api URL', () => {
    const env = { GRANTLINE_AWS_REGION: 'us-west-2', AWS_REGION: 'ca-central-1' };
    expect(signingRegion('eu-west-3', url, env)).toBe('eu-west-3');
    expect(signingRegion(true, url, env)).toBe('us-west-2');
    expect(signingRegion(true, url, { AWS_REGION: 'ca-central-1' })).toBe('ca-central-1');
    expect(signingRegion(true, `${url}/grants?app=x`, {})).toBe('eu-north-1');
    expect(signingRegion(true, 'https://abc-vpce-0123.execute-api.us-gov-west-1.vpce.amazonaws.com', {})).toBe('us-gov-west-1');
  });

  it('refuses what is not a region, and no region at all, saying what to give', () => {
    expect(() => signingRegion('g-123', url, {})).toThrow(/--aws takes an AWS region such as eu-west-1, not "g-123"/);
    expect(() => signingRegion(true, url, { AWS_REGION: 'Ireland' })).toThrow(/AWS_REGION is "Ireland"/);
    expect(() => signingRegion(true, 'https://grantline.example.com', {})).toThrow(/give --aws <region> \(or set GRANTLINE_AWS_REGION or AWS_REGION\)/);
  });
});
