// cdk-nag's AwsSolutions pack over the example stack: no finding left, and every acknowledgement explains itself.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { ElasticEtcdCluster } from '../../infra/elastic-etcd-cluster.js';
import { ElasticEtcdStack } from '../../infra/stack.js';

interface Acknowledgement {
  readonly id: string;
  readonly reason: string;
}

function acknowledgementsIn(root: IConstruct): { path: string; ack: Acknowledgement }[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      // Stored as { '<source>::<rule id>': reason }.
      .flatMap((m) => Object.entries(m.data as Record<string, string>))
      .map(([key, reason]) => ({ path: c.node.path, ack: { id: key.slice(key.indexOf('::') + 2), reason } })),
  );
}

describe('cdk-nag AwsSolutions', () => {
  for (const env of [undefined, { account: '123456789012', region: 'eu-west-1' }]) {
    test(`no unacknowledged finding (${env ? 'concrete' : 'agnostic'} environment)`, () => {
      const stack = new ElasticEtcdStack(new App(), 'Nagged', { env });
      const report = new AwsSolutionsChecks().validateScope(stack);
      const findings = report.violations.map(
        (v) => `${v.ruleName} (${v.severity ?? '?'}): ${v.violatingResources.map((r) => r.locations.join(',')).join(' ')}`,
      );
      assert.deepEqual(findings, []);
      assert.equal(report.success, true);
    });
  }

  test('no unacknowledged finding (private subnets: VPC endpoints, etcd from S3)', () => {
    const stack = new Stack(new App(), 'Private', { env: { account: '123456789012', region: 'eu-west-1' } });
    const bucket = s3.Bucket.fromBucketName(stack, 'Artifacts', 'my-artifacts');
    new ElasticEtcdCluster(stack, 'Cluster', {
      internetAccess: false,
      etcdInstall: { method: 's3', bucket, key: 'etcd/etcd-v3.5.30-linux-amd64.tar.gz' },
    });
    const report = new AwsSolutionsChecks().validateScope(stack);
    assert.deepEqual(
      report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.locations.join(',')).join(' ')}`),
      [],
    );
  });

  test('no unacknowledged finding with a TLS client granted (grantClient adds no wildcard)', () => {
    const stack = new ElasticEtcdStack(new App(), 'Clients', { env: { account: '123456789012', region: 'eu-west-1' } });
    const application = new iam.Role(stack, 'Application', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    stack.cluster.grantClient(application, 'app');
    const report = new AwsSolutionsChecks().validateScope(stack);
    assert.deepEqual(
      report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.locations.join(',')).join(' ')}`),
      [],
    );
  });

  test('the check is not vacuous: a world-open ingress in the same stack is reported', () => {
    const stack = new ElasticEtcdStack(new App(), 'Broken');
    stack.cluster.memberSecurityGroup.addIngressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(22), 'ssh from anywhere');
    const report = new AwsSolutionsChecks().validateScope(stack);
    assert.ok(
      report.violations.some((v) => v.ruleName.startsWith('AwsSolutions-EC23')),
      JSON.stringify(report.violations.map((v) => v.ruleName)),
    );
  });

  test('every acknowledgement names one rule and gives a reason', () => {
    const stack = new ElasticEtcdStack(new App(), 'Reasons');
    const acks = acknowledgementsIn(stack);
    assert.ok(acks.length >= 5, `expected the construct's acknowledgements, found ${acks.length}`);
    for (const { path, ack } of acks) {
      if (!ack.id.startsWith('AwsSolutions-')) continue; // CDK's own acknowledgements, if any
      assert.ok(ack.reason.length >= 40, `${path} ${ack.id}: reason too thin: ${JSON.stringify(ack.reason)}`);
      // Wildcard IAM findings are acknowledged one finding at a time, never the whole rule.
      if (ack.id.startsWith('AwsSolutions-IAM')) assert.match(ack.id, /^AwsSolutions-IAM[45]\[.+\]$/, `${path}: ${ack.id}`);
    }
  });
});
