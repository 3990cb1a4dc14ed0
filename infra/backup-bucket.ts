// The backup bucket of one cluster: etcd snapshots the lifecycle Lambda takes (src/lambda/backup.ts), read by the
// instances only to restore. Versioned (an overwrite or delete keeps the old version), S3-managed encryption, TLS
// only, no public access, RETAINed when the stack goes (the backups outlive the cluster they protect), and
// lifecycle rules that expire old snapshots and stale multipart uploads.
//
// Why SSE-S3 and not KMS: the data is protected by who may read the bucket (the Lambda and the instances, on
// this prefix only), which IAM already decides; a customer-managed key would add a second policy to keep in step
// with both roles, per-request KMS quotas on every multipart part, and a key whose deletion destroys every backup.
// A deployment that needs KMS (key-level audit or separation of duties) can pass its own bucket: `bucket`.
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CLUSTER_DEFAULTS } from '../src/core/defaults.js';

export interface BackupProps {
  /**
   * How often the Lambda stores a snapshot (on its reconcile schedule, and before a membership change when the
   * newest is older than this). Whole seconds, 1 minute to 7 days.
   * @default 30 minutes
   */
  readonly interval?: Duration;
  /**
   * How long the frequent snapshots (`<prefix>/snapshots/`, one per interval) are kept; their noncurrent versions
   * go 1 day later. Whole days, at least 1.
   * @default 7 days
   */
  readonly frequentRetention?: Duration;
  /** @deprecated use `frequentRetention` (the same setting under its old name; setting both is an error). */
  readonly retention?: Duration;
  /**
   * How long the daily snapshots (`<prefix>/daily/`, the first snapshot of each UTC day, copied there by the
   * Lambda) are kept. Whole days, at least 1.
   * @default 180 days
   */
  readonly dailyRetention?: Duration;
  /**
   * Restore the cluster from its newest verified snapshot by itself once it is lost for good: no member answered
   * for `restoreAfter` and no instance that held its data can come back (env ELASTIC_ETCD_AUTO_RESTORE).
   * `false` leaves recovery to an operator (`elastic-etcd restore`, see infra/README.md).
   * @default true
   */
  readonly autoRestore?: boolean;
  /**
   * How long no member may have answered before an automatic restore (env ELASTIC_ETCD_RESTORE_AFTER_SECONDS).
   * Whole seconds, 1 minute to 24 hours; may be a CloudFormation parameter, given as `Duration.seconds(param)`.
   * @default 10 minutes
   */
  readonly restoreAfter?: Duration;
  /**
   * Use this bucket instead of creating one (e.g. KMS-encrypted, or shared); it is then not changed: its
   * lifecycle rules (retention) are yours to set, the grants are still added.
   */
  readonly bucket?: s3.IBucket;
}

export interface BackupBucketProps extends BackupProps {
  /** Key prefix of this cluster's backups, e.g. "etcd" (snapshots under "<prefix>/snapshots/"). */
  readonly prefix: string;
  readonly instanceRole: iam.IRole;
}

export class BackupBucket extends Construct {
  readonly bucket: s3.IBucket;
  readonly prefix: string;
  /** How often the Lambda stores a snapshot, in whole seconds (its ELASTIC_ETCD_BACKUP_INTERVAL_SECONDS). */
  readonly intervalSeconds: number;
  /** Whether the Lambda restores a lost cluster by itself (its ELASTIC_ETCD_AUTO_RESTORE). */
  readonly autoRestore: boolean;
  /** `restoreAfter` in whole seconds, or a token's text (its ELASTIC_ETCD_RESTORE_AFTER_SECONDS). */
  readonly restoreAfterSeconds: string;

  constructor(scope: Construct, id: string, props: BackupBucketProps) {
    super(scope, id);
    const interval = props.interval ?? Duration.minutes(30);
    const seconds = interval.toSeconds();
    if (!Number.isInteger(seconds) || seconds < 60 || seconds > 604_800)
      throw new Error(`backup interval must be whole seconds from 1 minute to 7 days, got ${interval.toHumanString()}`);
    if (props.retention !== undefined && props.frequentRetention !== undefined)
      throw new Error('backups: set frequentRetention only (retention is its deprecated old name)');
    const frequentDays = wholeDays('frequentRetention', props.frequentRetention ?? props.retention ?? Duration.days(7));
    const dailyDays = wholeDays('dailyRetention', props.dailyRetention ?? Duration.days(180));
    this.prefix = props.prefix;
    this.intervalSeconds = seconds;
    this.autoRestore = props.autoRestore ?? CLUSTER_DEFAULTS.autoRestore;
    this.restoreAfterSeconds = restoreAfterSeconds(props.restoreAfter);
    this.bucket =
      props.bucket ??
      new s3.Bucket(this, 'Bucket', {
        versioned: true,
        encryption: s3.BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removalPolicy: RemovalPolicy.RETAIN,
        // Two tiers, like kOps' etcd-manager: every snapshot for days (a recent restore point), the first of each
        // UTC day for months (a point before a mistake noticed late). An expired snapshot's version stays one
        // more day (an overwrite or a delete can be undone that long), then goes.
        lifecycleRules: [
          {
            id: 'expire-snapshots',
            prefix: `${this.prefix}/snapshots/`,
            expiration: Duration.days(frequentDays),
            noncurrentVersionExpiration: Duration.days(1),
          },
          {
            id: 'expire-daily-snapshots',
            prefix: `${this.prefix}/daily/`,
            expiration: Duration.days(dailyDays),
            noncurrentVersionExpiration: Duration.days(1),
          },
          // An expired object leaves a delete marker; once its last version is gone the marker is clutter.
          { id: 'remove-expired-delete-markers', prefix: `${this.prefix}/`, expiredObjectDeleteMarker: true },
          // A Lambda that timed out mid-upload leaves parts that cost money and are never an object.
          { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ],
      });

    // Instances read snapshots (to restore), nothing else, and never write.
    props.instanceRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadBackupSnapshots',
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${this.prefix}/snapshots/*`), this.bucket.arnForObjects(`${this.prefix}/daily/*`)],
      }),
    );
    this.bucket.encryptionKey?.grantDecrypt(props.instanceRole);
    if (this.bucket instanceof s3.Bucket) {
      Validations.of(this.bucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'Access logs would need a second bucket; every write to this one is made by the lifecycle Lambda, which logs each snapshot it stores.',
      });
    }
    for (const tier of ['snapshots', 'daily'])
      this.acknowledgeObjects(
        props.instanceRole,
        `${this.prefix}/${tier}/*`,
        "an instance restores whichever snapshot its parameters name; read only, this cluster's snapshots only",
      );
  }

  /** The lifecycle Lambda writes, reads and lists this cluster's backups (under its prefix only). */
  grantLambda(fn: lambda.Function): void {
    const objects = this.bucket.arnForObjects(`${this.prefix}/*`);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'WriteAndReadBackups',
        actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
        resources: [objects],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ListBackups',
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${this.prefix}/*`] } },
      }),
    );
    this.bucket.encryptionKey?.grantEncryptDecrypt(fn);
    if (fn.role !== undefined) {
      this.acknowledgeObjects(
        fn.role,
        `${this.prefix}/*`,
        "the Lambda writes new snapshot keys (time-stamped) and their manifests under this cluster's prefix only",
      );
    }
  }

  /** cdk-nag's wildcard finding for objects under one prefix of this bucket, acknowledged with its reason. */
  private acknowledgeObjects(role: iam.IRole, path: string, why: string): void {
    const ref = Stack.of(this).resolve(this.bucket.bucketArn) as unknown;
    const arnText =
      typeof ref === 'object' && ref !== null && 'Fn::GetAtt' in ref
        ? `<${(ref as { 'Fn::GetAtt': string[] })['Fn::GetAtt'].join('.')}>`
        : String(ref);
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${arnText}/${path}]`, reason: why });
  }
}

/** A retention in whole days of at least 1 (S3 lifecycle rules count days). */
function wholeDays(prop: string, value: Duration): number {
  if (value.isUnresolved())
    throw new Error(`backups: ${prop} must be known at synth time (S3 lifecycle rules take a fixed number of days)`);
  const days = value.toDays({ integral: false });
  if (!Number.isInteger(days) || days < 1) throw new Error(`backups: ${prop} must be whole days, at least 1, got ${value.toHumanString()}`);
  return days;
}

/** restoreAfter in whole seconds, 1 minute to 24 hours (validated at synth time unless it is a token). */
function restoreAfterSeconds(value: Duration | undefined): string {
  if (value?.isUnresolved() === true) return Token.asString(value.toSeconds());
  const seconds = (value ?? Duration.seconds(CLUSTER_DEFAULTS.restoreAfterSeconds)).toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < 60 || seconds > 86_400)
    throw new Error(`backups: restoreAfter must be whole seconds from 1 minute to 24 hours, got ${value?.toHumanString() ?? ''}`);
  return String(seconds);
}
