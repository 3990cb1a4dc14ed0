// The backup bucket in the synthesized stack: versioned, SSE-S3, TLS only, no public access, RETAINed, with
// lifecycle rules; the Lambda may write, list and read this cluster's prefix, the instances only read its
// snapshots; the Lambda is told the bucket, prefix and interval; `backups: false` leaves all of it out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ElasticEtcdCluster } from '../../infra/elastic-etcd-cluster.js';

function synth(props: ConstructorParameters<typeof ElasticEtcdCluster>[2] = {}): Template {
  const stack = new Stack(new App(), 'Backups', { env: { account: '123456789012', region: 'eu-west-1' } });
  new ElasticEtcdCluster(stack, 'Cluster', props);
  return Template.fromStack(stack);
}

test('the bucket: versioned, SSE-S3, public access blocked, retained, snapshots expire', () => {
  const template = synth({ clusterName: 'main', backups: { retention: Duration.days(10), interval: Duration.minutes(15) } });
  template.hasResource('AWS::S3::Bucket', {
    DeletionPolicy: 'Retain',
    UpdateReplacePolicy: 'Retain',
    Properties: Match.objectLike({
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Prefix: 'main/snapshots/',
            ExpirationInDays: 10,
            NoncurrentVersionExpiration: { NoncurrentDays: 1 },
            Status: 'Enabled',
          }),
          Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
        ]),
      },
    }),
  });
  // TLS only: a Deny for aws:SecureTransport false.
  template.hasResourceProperties('AWS::S3::BucketPolicy', {
    PolicyDocument: {
      Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
    },
  });
  const fn = Object.values(template.findResources('AWS::Lambda::Function')).find(
    (r) => (r as { Properties: { Environment?: unknown } }).Properties.Environment !== undefined,
  ) as {
    Properties: { Environment: { Variables: Record<string, unknown> } };
  };
  const vars = fn.Properties.Environment.Variables;
  assert.equal(vars.ELASTIC_ETCD_BACKUP_PREFIX, 'main');
  assert.equal(vars.ELASTIC_ETCD_BACKUP_INTERVAL_SECONDS, '900');
  assert.ok(vars.ELASTIC_ETCD_BACKUP_BUCKET !== undefined);
});

test('grants: the Lambda writes, lists and reads its prefix; instances read snapshots only', () => {
  const template = synth({ clusterName: 'main' });
  const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) =>
      (
        p as {
          Properties: {
            PolicyDocument: { Statement: { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown }[] };
          };
        }
      ).Properties.PolicyDocument.Statement,
  );
  const bySid = (sid: string) => statements.find((s) => s.Sid === sid);
  assert.deepEqual(bySid('WriteAndReadBackups')?.Action, ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload']);
  assert.match(JSON.stringify(bySid('WriteAndReadBackups')?.Resource), /\/main\/\*"/);
  assert.deepEqual(bySid('ListBackups')?.Condition, { StringLike: { 's3:prefix': ['main/*'] } });
  assert.equal(bySid('ReadBackupSnapshots')?.Action, 's3:GetObject');
  assert.match(JSON.stringify(bySid('ReadBackupSnapshots')?.Resource), /\/main\/snapshots\/\*"/);
  // No s3 write for anyone but the Lambda's statement.
  const writers = statements.filter((s) => JSON.stringify(s.Action).includes('s3:Put'));
  assert.deepEqual(
    writers.map((s) => s.Sid),
    ['WriteAndReadBackups'],
  );
});

test('backups: false leaves out the bucket, the grants and the variables', () => {
  const template = synth({ backups: false });
  template.resourceCountIs('AWS::S3::Bucket', 0);
  assert.doesNotMatch(JSON.stringify(template.toJSON()), /ELASTIC_ETCD_BACKUP|ReadBackupSnapshots/);
});

test('an interval outside 1 minute to 7 days is refused', () => {
  assert.throws(() => synth({ backups: { interval: Duration.seconds(30) } }), /backup interval/);
});
