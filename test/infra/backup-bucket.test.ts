// The backup bucket in the synthesized stack: versioned, SSE-S3, TLS only, no public access, RETAINed, with
// lifecycle rules; the Lambda may write, list and read this cluster's prefix, the instances only read its
// snapshots; the Lambda is told the bucket, prefix and interval; `backups: false` leaves all of it out.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
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

const lambdaVars = (template: Template): Record<string, unknown> =>
  (
    Object.values(template.findResources('AWS::Lambda::Function')).find(
      (r) => (r as { Properties: { Environment?: unknown } }).Properties.Environment !== undefined,
    ) as { Properties: { Environment: { Variables: Record<string, unknown> } } }
  ).Properties.Environment.Variables;

const lifecycleRules = (template: Template): Record<string, unknown>[] =>
  (
    Object.values(template.findResources('AWS::S3::Bucket'))[0] as {
      Properties: { LifecycleConfiguration: { Rules: Record<string, unknown>[] } };
    }
  ).Properties.LifecycleConfiguration.Rules;

test('retention tiers by default: snapshots/ 7 days, daily/ 180 days, old versions 1 day, markers and stale uploads cleaned', () => {
  assert.deepEqual(lifecycleRules(synth({ clusterName: 'main' })), [
    {
      Id: 'expire-snapshots',
      Prefix: 'main/snapshots/',
      ExpirationInDays: 7,
      NoncurrentVersionExpiration: { NoncurrentDays: 1 },
      Status: 'Enabled',
    },
    {
      Id: 'expire-daily-snapshots',
      Prefix: 'main/daily/',
      ExpirationInDays: 180,
      NoncurrentVersionExpiration: { NoncurrentDays: 1 },
      Status: 'Enabled',
    },
    { Id: 'remove-expired-delete-markers', Prefix: 'main/', ExpiredObjectDeleteMarker: true, Status: 'Enabled' },
    { Id: 'abort-incomplete-uploads', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' },
  ]);
});

test('frequentRetention and dailyRetention set the tiers; retention is the old name of frequentRetention', () => {
  const days = (template: Template): unknown[] => lifecycleRules(template).map((r) => r.ExpirationInDays);
  assert.deepEqual(days(synth({ backups: { frequentRetention: Duration.days(3), dailyRetention: Duration.days(730) } })), [
    3,
    730,
    undefined,
    undefined,
  ]);
  assert.deepEqual(days(synth({ backups: { retention: Duration.days(10) } })), [10, 180, undefined, undefined]);
  assert.throws(
    () => synth({ backups: { retention: Duration.days(3), frequentRetention: Duration.days(3) } }),
    /set frequentRetention only/,
  );
  assert.throws(() => synth({ backups: { frequentRetention: Duration.hours(36) } }), /frequentRetention must be whole days, at least 1/);
  assert.throws(() => synth({ backups: { dailyRetention: Duration.hours(1) } }), /dailyRetention must be whole days, at least 1/);
});

test('autoRestore and restoreAfter reach the Lambda as ELASTIC_ETCD_AUTO_RESTORE and ELASTIC_ETCD_RESTORE_AFTER_SECONDS', () => {
  const defaults = lambdaVars(synth());
  assert.equal(defaults.ELASTIC_ETCD_AUTO_RESTORE, 'true');
  assert.equal(defaults.ELASTIC_ETCD_RESTORE_AFTER_SECONDS, '600');
  const set = lambdaVars(synth({ backups: { autoRestore: false, restoreAfter: Duration.minutes(15) } }));
  assert.equal(set.ELASTIC_ETCD_AUTO_RESTORE, 'false');
  assert.equal(set.ELASTIC_ETCD_RESTORE_AFTER_SECONDS, '900');
  for (const bad of [Duration.seconds(59), Duration.hours(25), Duration.millis(60_500)])
    assert.throws(() => synth({ backups: { restoreAfter: bad } }), /restoreAfter must be whole seconds from 1 minute to 24 hours/);
  // A CloudFormation parameter goes through as its Ref, unvalidated at synth time.
  const stack = new Stack(new App(), 'Param', { env: { account: '123456789012', region: 'eu-west-1' } });
  const seconds = new CfnParameter(stack, 'RestoreAfterSeconds', { type: 'Number', default: 600 });
  new ElasticEtcdCluster(stack, 'Cluster', { backups: { restoreAfter: Duration.seconds(seconds.valueAsNumber) } });
  assert.match(JSON.stringify(lambdaVars(Template.fromStack(stack)).ELASTIC_ETCD_RESTORE_AFTER_SECONDS), /RestoreAfterSeconds/);
});

test('instances may only GET objects of both tiers: no list, no write, no other prefix', () => {
  const template = synth({ clusterName: 'main' });
  const roles = template.findResources('AWS::IAM::Role');
  const instanceRoleId = Object.keys(roles).find((id) => JSON.stringify(roles[id]).includes('ec2.amazonaws.com'));
  assert.ok(instanceRoleId);
  const instanceStatements = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p).includes(`"${instanceRoleId}"`))
    .flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: { Sid?: string; Action: unknown; Resource: unknown }[] } } }).Properties
          .PolicyDocument.Statement,
    )
    .filter((s) => JSON.stringify(s.Action).includes('s3:'));
  assert.deepEqual(
    instanceStatements.map((s) => [s.Sid, s.Action]),
    [['ReadBackupSnapshots', 's3:GetObject']],
  );
  const resources = JSON.stringify(instanceStatements[0]?.Resource);
  assert.match(resources, /\/main\/snapshots\/\*"/);
  assert.match(resources, /\/main\/daily\/\*"/);
  assert.equal((instanceStatements[0]?.Resource as unknown[]).length, 2);
});

test('an S3 gateway endpoint on the route tables of the subnets the Lambda and the instances use', () => {
  const stack = new Stack(new App(), 'Endpoint', { env: { account: '123456789012', region: 'eu-west-1' } });
  const cluster = new ElasticEtcdCluster(stack, 'Cluster', {});
  const template = Template.fromStack(stack);
  const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map(
    (r) => (r as { Properties: { VpcEndpointType: string; ServiceName: unknown; RouteTableIds: unknown[] } }).Properties,
  );
  assert.equal(endpoints.length, 1);
  assert.equal(endpoints[0]?.VpcEndpointType, 'Gateway');
  assert.match(JSON.stringify(endpoints[0]?.ServiceName), /\.s3"/);
  assert.deepEqual(
    endpoints[0]?.RouteTableIds,
    cluster.vpc.privateSubnets.map((s): unknown => stack.resolve(s.routeTable.routeTableId)),
  );
  // Without backups, a VPC with internet access needs no endpoint; a VPC of your own is yours to equip.
  synth({ backups: false }).resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  const own = new Stack(new App(), 'Own', { env: { account: '123456789012', region: 'eu-west-1' } });
  new ElasticEtcdCluster(own, 'Cluster', { vpc: new ec2.Vpc(own, 'Given', { maxAzs: 3 }) });
  Template.fromStack(own).resourceCountIs('AWS::EC2::VPCEndpoint', 0);
});
