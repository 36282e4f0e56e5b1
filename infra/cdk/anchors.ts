/**
 * The stateful home of the ledger's anchors (shared/chain.ts): an S3 bucket with Object Lock in
 * compliance mode and a default retention, so each daily anchor's copy (written once by audit-ledger,
 * shared/aws/anchors.ts) cannot be deleted or overwritten by anyone, the account's root included,
 * until its retention ends. Someone able to rewrite the DynamoDB ledger consistently is still caught:
 * the anchors written before that disagree with the rewritten chains.
 *
 * - versioned (Object Lock needs it), S3-managed encryption, TLS only, all public access blocked;
 * - retained when the stack is deleted (CloudFormation could not empty it anyway);
 * - a PutObject must be conditional (If-None-Match: *): with versioning, an unconditional put to an
 *   existing key would make a forged copy the version GetObject returns, the locked one an old version;
 * - server access logs to a bucket of their own: who read or wrote which copy.
 *
 * No role in the stack gets s3:DeleteObject, DeleteObjectVersion, PutObjectRetention,
 * PutObjectLegalHold or BypassGovernanceRetention on it (test/cdk/stack.test.ts checks the template).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AnyPrincipal, Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectLockRetention, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY } from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';

/** The key prefix of the anchor copies (shared/aws/anchors.ts anchorKey): the only objects any role may touch. */
export const ANCHOR_PREFIX = 'anchors/';

export interface GrantlineAnchorsProps {
  /** Default retention of each copy, in days (compliance mode): the deployment setting anchorRetentionDays. */
  readonly retentionDays: number;
  /** How long the bucket's access logs are kept: the stack's log retention. */
  readonly logRetention: RetentionDays;
}

export class GrantlineAnchors extends Construct {
  readonly bucket: Bucket;
  readonly accessLogs: Bucket;

  constructor(scope: Construct, id: string, props: GrantlineAnchorsProps) {
    super(scope, id);
    // Log delivery by a bucket policy (to the logging service, for this bucket and account), not the legacy
    // LogDeliveryWrite ACL, so both buckets keep ACLs disabled (BucketOwnerEnforced): this construct's own feature flag.
    this.node.setContext(S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
    // S3 server access logs need S3-managed encryption on the target bucket, and no Object Lock default retention.
    this.accessLogs = new Bucket(this, 'AccessLogs', {
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      ...(props.logRetention === RetentionDays.INFINITE ? {} : { lifecycleRules: [{ expiration: Duration.days(props.logRetention) }] }),
    });

    this.bucket = new Bucket(this, 'Bucket', {
      objectLockEnabled: true,
      objectLockDefaultRetention: ObjectLockRetention.compliance(Duration.days(props.retentionDays)),
      versioned: true,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'anchor-bucket/',
    });
    this.bucket.addToResourcePolicy(
      new PolicyStatement({
        sid: 'WriteOnceCopies',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects('*')],
        conditions: { Null: { 's3:if-none-match': 'true' } },
      }),
    );
  }

  /** The ARN of the anchor copies' objects (anchors/*). */
  get copiesArn(): string {
    return this.bucket.arnForObjects(`${ANCHOR_PREFIX}*`);
  }
}
