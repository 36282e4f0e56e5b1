/**
 * The anchors' write-once copies: the local runtime's directory (DirectoryAnchorCopies) and the S3
 * adapter (S3AnchorCopies) driven by the real SDK against a small S3 on loopback that answers as a
 * bucket with Object Lock and a default retention does: a PutObject with neither Content-MD5 nor an
 * x-amz-checksum-* header is refused (400 InvalidRequest), a checksum that disagrees with the body too
 * (400 BadDigest), an If-None-Match: * put to an existing key fails (412), a missing key is 404 NoSuchKey.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirectoryAnchorCopies } from '../../infra/local/anchors.js';
import { S3AnchorCopies } from '../../shared/aws/anchors.js';
import { type Anchor, anchorRoot, canonicalJson } from '../../shared/chain.js';
import { ConflictError, PermanentError, RetryableError } from '../../shared/errors.js';

const heads = [
  { grantId: 'grant-ACC-2', seq: 3, hash: 'b'.repeat(64) },
  { grantId: 'grant-ACC-1', seq: 7, hash: 'a'.repeat(64) },
];
const anchor: Anchor = { day: '2026-11-30', anchoredAt: '2026-12-01T00:05:00.123Z', root: anchorRoot('2026-11-30', heads), heads };

describe('DirectoryAnchorCopies (local runtime)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'grantline-anchors-test-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the anchor's canonical JSON to <dir>/<day>/<anchoredAt>.json (':' as '-') and reads it back", async () => {
    const copies = new DirectoryAnchorCopies(join(dir, 'anchors'));

    const location = await copies.write({ ...anchor, copy: 'ignored' });

    expect(location).toBe(join(dir, 'anchors', '2026-11-30', '2026-12-01T00-05-00.123Z.json'));
    expect(await readFile(location, 'utf8')).toBe(canonicalJson(anchor));
    expect(await copies.read({ day: anchor.day, anchoredAt: anchor.anchoredAt })).toEqual(anchor);
  });

  it('refuses to write over a copy, which keeps what was written first', async () => {
    const copies = new DirectoryAnchorCopies(dir);
    const location = await copies.write(anchor);

    const second = copies.write({ ...anchor, root: 'f'.repeat(64) });

    await expect(second).rejects.toBeInstanceOf(ConflictError);
    await expect(second).rejects.toThrow(`an anchor copy is already at ${location}`);
    expect(await copies.read(anchor)).toEqual(anchor);
    expect(await readdir(join(dir, anchor.day))).toEqual(['2026-12-01T00-05-00.123Z.json']);
  });

  it('reads a copy that was never written as undefined, and names no path outside its directory', async () => {
    const copies = new DirectoryAnchorCopies(dir);

    expect(await copies.read({ day: '2026-11-29', anchoredAt: '2026-11-30T00:05:00.000Z' })).toBeUndefined();
    expect(() => copies.fileOf({ day: '../../etc', anchoredAt: anchor.anchoredAt })).toThrow(PermanentError);
    await expect(copies.write({ ...anchor, anchoredAt: '../x' })).rejects.toBeInstanceOf(PermanentError);
  });
});

// ---------------------------------------------------------------- a small S3 on loopback

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface FakeS3 {
  endpoint: string;
  objects: Map<string, { body: string; contentType: string | undefined; sha256: string | undefined }>;
  requests: Received[];
  /** Answers the next request with this error instead. */
  failNext?: { status: number; code: string };
  close(): Promise<void>;
}

const xmlError = (code: string, message: string) => `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;

async function startFakeS3(): Promise<FakeS3> {
  const fake: FakeS3 = { endpoint: '', objects: new Map(), requests: [], close: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://s3').pathname);
      fake.requests.push({ method: req.method ?? '', path, headers: req.headers, body: body.toString('utf8') });
      const fail = (status: number, code: string, message: string) => {
        res.writeHead(status, { 'content-type': 'application/xml' });
        res.end(xmlError(code, message));
      };
      if (fake.failNext) {
        const { status, code } = fake.failNext;
        fake.failNext = undefined;
        return fail(status, code, `${code} (as asked)`);
      }
      const stored = fake.objects.get(path);
      if (req.method === 'PUT') {
        const checksums = Object.keys(req.headers).filter((h) => h.startsWith('x-amz-checksum-') && h !== 'x-amz-checksum-algorithm');
        if (!req.headers['content-md5'] && checksums.length === 0) {
          return fail(400, 'InvalidRequest', 'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters');
        }
        const sha256 = req.headers['x-amz-checksum-sha256'] as string | undefined;
        if (sha256 !== undefined && sha256 !== createHash('sha256').update(body).digest('base64')) {
          return fail(400, 'BadDigest', 'The SHA256 you specified did not match the calculated checksum.');
        }
        if (req.headers['if-none-match'] === '*' && stored) {
          return fail(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
        }
        fake.objects.set(path, { body: body.toString('utf8'), contentType: req.headers['content-type'], sha256 });
        res.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"`, ...(sha256 ? { 'x-amz-checksum-sha256': sha256 } : {}) });
        return res.end();
      }
      if (req.method === 'GET') {
        if (!stored) return fail(404, 'NoSuchKey', 'The specified key does not exist.');
        const withChecksum = req.headers['x-amz-checksum-mode'] === 'ENABLED' && stored.sha256;
        res.writeHead(200, {
          'content-type': stored.contentType ?? 'binary/octet-stream',
          'content-length': Buffer.byteLength(stored.body),
          etag: `"${createHash('md5').update(stored.body).digest('hex')}"`,
          ...(withChecksum ? { 'x-amz-checksum-sha256': stored.sha256 } : {}),
        });
        return res.end(stored.body);
      }
      fail(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return fake;
}

describe('S3AnchorCopies against an S3 that answers as an Object Lock bucket', () => {
  const BUCKET = 'grantline-anchors';
  const KEY = `/${BUCKET}/anchors/2026-11-30/2026-12-01T00:05:00.123Z.json`;
  let s3: FakeS3;
  const clients: S3Client[] = [];
  /** The real SDK, path-style, at the fake; one attempt, so an error is seen as S3 gave it. */
  const client = (extra: Partial<ConstructorParameters<typeof S3Client>[0]> = {}) => {
    const made = new S3Client({
      endpoint: s3.endpoint,
      forcePathStyle: true,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
      maxAttempts: 1,
      ...extra,
    });
    clients.push(made);
    return made;
  };

  beforeEach(async () => {
    s3 = await startFakeS3();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await s3.close();
  });

  it('puts the canonical JSON at anchors/<day>/<anchoredAt>.json as application/json, with a SHA-256 checksum and If-None-Match, and reads it back', async () => {
    const copies = new S3AnchorCopies({ bucket: BUCKET, client: client() });

    const location = await copies.write({ ...anchor, copy: 'not part of the copy' });

    expect(location).toBe(`s3://${BUCKET}/anchors/2026-11-30/2026-12-01T00:05:00.123Z.json`);
    const put = s3.requests.find((r) => r.method === 'PUT')!;
    expect(put.path).toBe(KEY);
    expect(put.headers['content-type']).toBe('application/json');
    expect(put.headers['if-none-match']).toBe('*');
    expect(put.headers['x-amz-checksum-sha256']).toBe(createHash('sha256').update(canonicalJson(anchor)).digest('base64'));
    expect(s3.objects.get(KEY)?.body).toBe(canonicalJson(anchor));
    expect(await copies.read({ day: anchor.day, anchoredAt: anchor.anchoredAt })).toEqual(anchor);
  });

  it('still sends its checksum when the SDK is set to add none (requestChecksumCalculation WHEN_REQUIRED), which a plain PutObject then lacks and S3 refuses', async () => {
    const bare = client({ requestChecksumCalculation: 'WHEN_REQUIRED' });
    const copies = new S3AnchorCopies({ bucket: BUCKET, client: bare });

    await copies.write(anchor);
    const plain = bare.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'anchors/plain.json', Body: '{}' }));

    expect(s3.objects.has(KEY)).toBe(true);
    await expect(plain).rejects.toMatchObject({
      name: 'InvalidRequest',
      message: 'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters',
      $metadata: { httpStatusCode: 400 },
    });
    expect(s3.objects.has(`/${BUCKET}/anchors/plain.json`)).toBe(false);
  });

  it('never writes over a copy: a second put to the same key is refused (412) and the first stays', async () => {
    const copies = new S3AnchorCopies({ bucket: BUCKET, client: client() });
    await copies.write(anchor);

    const second = copies.write({ ...anchor, root: 'f'.repeat(64) });

    await expect(second).rejects.toBeInstanceOf(ConflictError);
    await expect(second).rejects.toThrow(`an anchor copy is already at s3://${BUCKET}/anchors/2026-11-30/2026-12-01T00:05:00.123Z.json`);
    expect(await copies.read(anchor)).toEqual(anchor);
  });

  it('reads a copy that is not there (404 NoSuchKey) as undefined', async () => {
    const copies = new S3AnchorCopies({ bucket: BUCKET, client: client() });

    expect(await copies.read({ day: '2026-11-29', anchoredAt: '2026-11-30T00:05:00.000Z' })).toBeUndefined();
    expect(s3.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /${BUCKET}/anchors/2026-11-29/2026-11-30T00:05:00.000Z.json`]);
  });

  it("turns S3's throttling and faults into RetryableError and its refusals into PermanentError, naming the copy", async () => {
    const copies = new S3AnchorCopies({ bucket: BUCKET, client: client() });

    s3.failNext = { status: 503, code: 'SlowDown' };
    const throttled = await copies.write(anchor).catch((e: unknown) => e);
    s3.failNext = { status: 403, code: 'AccessDenied' };
    const denied = await copies.read(anchor).catch((e: unknown) => e);

    expect(throttled).toBeInstanceOf(RetryableError);
    expect((throttled as Error).message).toMatch(
      /^Could not write the anchor copy s3:\/\/grantline-anchors\/anchors\/2026-11-30\/.*: S3 answered 503 SlowDown/,
    );
    expect(denied).toBeInstanceOf(PermanentError);
    expect((denied as Error).message).toMatch(
      /^Could not read the anchor copy s3:\/\/grantline-anchors\/anchors\/2026-11-30\/.*: S3 answered 403 AccessDenied/,
    );
    expect(s3.objects.size).toBe(0);
  });
});
