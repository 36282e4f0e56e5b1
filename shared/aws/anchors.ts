/**
 * The write-once copies of the ledger's anchors in AWS (shared/chain.ts AnchorCopies): one object per
 * anchor, `anchors/<day>/<anchoredAt>.json`, holding the anchor's canonical JSON, in a bucket with
 * S3 Object Lock in compliance mode and a default retention (infra/cdk/anchors.ts), so nobody, the
 * account's root included, can delete or change a copy before its retention ends.
 *
 * Every PutObject carries an explicit SHA-256 checksum (x-amz-checksum-sha256): S3 refuses an upload
 * to a bucket with a default retention unless it has Content-MD5 or an x-amz-checksum-* header. The
 * SDK of this repository (3.1169) would add a CRC32 by itself (requestChecksumCalculation
 * WHEN_SUPPORTED, the default since 3.729), but not when AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED
 * is set, nor in an older SDK: the Lambda runtime provides its own (@aws-sdk/* is left out of the
 * bundles). Naming the algorithm makes every one of them send it.
 *
 * Every PutObject is also conditional (If-None-Match: *): a key that exists is never written again, and
 * the bucket policy refuses a PutObject without that header. With versioning, an unconditional put would
 * leave the locked copy as an older version and make a forged one the version GetObject returns.
 *
 * Only audit-ledger's handler passes it (Connectors.anchorCopies): the other functions neither bundle
 * this nor load @aws-sdk/client-s3, which costs a cold start about 0.1 s more (measured here).
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod';
import { type Anchor, type AnchorCopies, canonicalJson } from '../chain.js';
import { ConflictError, errorMessage, PermanentError, RetryableError } from '../errors.js';

export interface S3AnchorCopiesOptions {
  bucket: string;
  /** A client of your own (tests: a local endpoint); default: one for the function's region. */
  client?: S3Client;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** What a copy must hold to be read back as an anchor. */
const anchorSchema = z.object({
  day: z.string().regex(DAY),
  anchoredAt: z.string().regex(INSTANT),
  root: z.string().regex(/^[0-9a-f]{64}$/),
  heads: z.array(z.object({ grantId: z.string().min(1), seq: z.number().int().nonnegative(), hash: z.string().regex(/^[0-9a-f]{64}$/) })),
});

/** The key of an anchor's copy: `anchors/<day>/<anchoredAt>.json`. */
export function anchorKey(anchor: Pick<Anchor, 'day' | 'anchoredAt'>): string {
  if (!DAY.test(anchor.day) || !INSTANT.test(anchor.anchoredAt)) {
    throw new PermanentError(`not an anchor's day and time: ${JSON.stringify(anchor.day)}, ${JSON.stringify(anchor.anchoredAt)}`);
  }
  return `anchors/${anchor.day}/${anchor.anchoredAt}.json`;
}

/** The anchor copies in `bucket`, with a client for the function's region (the Connectors factory). */
export const s3AnchorCopies = (bucket: string): AnchorCopies => new S3AnchorCopies({ bucket });

export class S3AnchorCopies implements AnchorCopies {
  private readonly client: S3Client;

  constructor(private readonly options: S3AnchorCopiesOptions) {
    this.client = options.client ?? new S3Client({});
  }

  async write(anchor: Anchor): Promise<string> {
    const key = anchorKey(anchor);
    const location = `s3://${this.options.bucket}/${key}`;
    const { copy: _copy, ...content } = anchor;
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.options.bucket,
          Key: key,
          Body: canonicalJson(content),
          ContentType: 'application/json',
          ChecksumAlgorithm: 'SHA256',
          IfNoneMatch: '*',
        }),
      );
    } catch (err) {
      if (codeOf(err) === 'PreconditionFailed') {
        throw new ConflictError(`an anchor copy is already at ${location}: the write-once store is never written over`);
      }
      throw toS3Error(err, `write the anchor copy ${location}`);
    }
    return location;
  }

  async read(anchor: Pick<Anchor, 'day' | 'anchoredAt'>): Promise<Anchor | undefined> {
    const key = anchorKey(anchor);
    const location = `s3://${this.options.bucket}/${key}`;
    let text: string;
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      text = (await object.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      if (codeOf(err) === 'NoSuchKey') return undefined;
      throw toS3Error(err, `read the anchor copy ${location}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const copy = anchorSchema.safeParse(parsed);
    if (!copy.success) throw new PermanentError(`the anchor copy ${location} is not an anchor (${copy.error.issues[0]?.message ?? 'not JSON'})`);
    return copy.data;
  }
}

/** S3's error code (the exception's name), when S3 answered: a service exception has a `$fault` (client or server); the SDK gives every error a `$metadata`. */
function codeOf(err: unknown): string | undefined {
  return err instanceof Error && '$fault' in err ? err.name : undefined;
}

/**
 * S3's answer as Grantline's errors: throttling (429, SlowDown), S3's own faults (5xx) and no answer
 * at all (the SDK's retries spent) are retryable; any other refusal (AccessDenied, InvalidRequest,
 * NoSuchBucket) will not change by itself.
 */
export function toS3Error(err: unknown, action: string): RetryableError | PermanentError {
  if (err instanceof RetryableError || err instanceof PermanentError) return err;
  const status = (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  const code = codeOf(err);
  if (code !== undefined) {
    const said = `S3 answered ${status ?? 'an error'} ${code}: ${errorMessage(err)}`;
    if (status === undefined || status >= 500 || status === 429 || code === 'SlowDown' || code === 'RequestTimeout') {
      return new RetryableError(`Could not ${action}: ${said}`, undefined, { cause: err });
    }
    return new PermanentError(`Could not ${action}: ${said}`, { cause: err });
  }
  const network = (err as { code?: unknown } | undefined)?.code;
  if ((typeof network === 'string' && /^E[A-Z]+$/.test(network)) || (err instanceof Error && /Timeout|Abort/.test(err.name))) {
    return new RetryableError(`Could not ${action}: S3 did not answer (${typeof network === 'string' ? network : (err as Error).name})`, undefined, {
      cause: err,
    });
  }
  return new PermanentError(`Could not ${action}: ${errorMessage(err)}`, { cause: err });
}
