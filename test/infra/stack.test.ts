// Template assertions for the elastic-etcd stack: every structural promise, checked on the synthesised template.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { App, CfnParameter, Duration, Lazy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { SSMClient } from '@aws-sdk/client-ssm';
import { ParameterStore } from '../../src/adapters/aws/parameters.js';
import {
  maxLaunchWaitSeconds,
  ElasticEtcdCluster,
  INSTANCE_ARN_TAG,
  InvalidClusterPropsError,
  MESSAGE_GROUP_ID,
  QUEUE_MAX_RECEIVE_COUNT,
  TLS_PARAMETERS,
  type ElasticEtcdClusterProps,
} from '../../infra/elastic-etcd-cluster.js';
import { retryDelaySeconds } from '../../src/lambda/sqs.js';
import { ETCD_RELEASE_SHA256, InvalidEtcdReleaseError } from '../../infra/etcd-releases.js';
import { InvalidEtcdSettingError } from '../../infra/etcd-settings.js';
import { ElasticEtcdStack } from '../../infra/stack.js';

type Json = Record<string, unknown>;

const ENV = { account: '123456789012', region: 'eu-west-1' };
const GROUP = 'EtcdTest-etcd';
const PARAMETER_PATH = '/elastic-etcd/EtcdTest/etcd';
const PARAMETER_ARN = `arn:aws:ssm:eu-west-1:123456789012:parameter${PARAMETER_PATH}`;

/** An app that skips bundling the Lambda (test/infra/bundle.test.ts covers the bundle): synths take no esbuild run. */
function newApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] } });
}

function synth(
  props: ElasticEtcdClusterProps = { clients: [ec2.Peer.ipv4('10.99.0.0/16')] },
  env: typeof ENV | 'agnostic' = ENV,
  name = 'EtcdTest',
) {
  const app = newApp();
  const stack = new ElasticEtcdStack(app, name, { ...(env === 'agnostic' ? {} : { env }), cluster: props });
  return { stack, template: Template.fromStack(stack) };
}

const { stack, template } = synth();
const resolve = (value: unknown): unknown => stack.resolve(value);

function resourcesOf(t: Template, type: string): Json[] {
  return Object.values(t.findResources(type)).map((r) => (r as { Properties: Json }).Properties);
}

function logicalIdsOf(t: Template, type: string, props?: Json): string[] {
  return Object.keys(t.findResources(type, props ? { Properties: props } : undefined));
}

/** All statements of all IAM policies attached to the role with this logical ID prefix. */
function statementsOfRole(t: Template, rolePrefix: string): Json[] {
  const policies = Object.values(t.findResources('AWS::IAM::Policy')) as { Properties: Json }[];
  return policies
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(rolePrefix))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Json[] }).Statement);
}

/** Resolves an IAM resource (string or Fn::Join with partition) to plain text for comparison. */
function arnText(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const join = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) return JSON.stringify(resource);
  return join[1]
    .map((part) => (typeof part === 'string' ? part : part && (part as Json).Ref === 'AWS::Partition' ? 'aws' : JSON.stringify(part)))
    .join('');
}

function asArray<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

function userDataOf(t: Template): string {
  const [lt] = resourcesOf(t, 'AWS::EC2::LaunchTemplate') as [{ LaunchTemplateData: Json }];
  const userData = (lt.LaunchTemplateData.UserData as { 'Fn::Base64': unknown })['Fn::Base64'];
  return typeof userData === 'string' ? userData : JSON.stringify(userData);
}

function groupOf(t: Template): { Properties: Json; DependsOn?: string[]; UpdatePolicy?: Json } {
  const groups = Object.values(t.findResources('AWS::AutoScaling::AutoScalingGroup'));
  assert.equal(groups.length, 1);
  return groups[0] as { Properties: Json; DependsOn?: string[]; UpdatePolicy?: Json };
}

function lambdaEnv(t: Template): Json {
  const [fn] = Object.values(t.findResources('AWS::Lambda::Function', { Properties: { Runtime: 'nodejs22.x' } })) as [
    { Properties: { Environment: { Variables: Json } } },
  ];
  return fn.Properties.Environment.Variables;
}

describe('the group and its hooks', () => {
  test('one group from a launch template; the hooks are declared on the group, no separate hook resources', () => {
    template.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 1);
    template.resourceCountIs('AWS::AutoScaling::LaunchConfiguration', 0);
    template.resourceCountIs('AWS::EC2::LaunchTemplate', 1);
    template.resourceCountIs('AWS::AutoScaling::LifecycleHook', 0);
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      AutoScalingGroupName: GROUP,
      MinSize: '3',
      MaxSize: '3',
      LaunchTemplate: Match.objectLike({ LaunchTemplateId: Match.anyValue() }),
      LifecycleHookSpecificationList: [
        {
          LifecycleHookName: 'elastic-etcd-launch',
          LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
          HeartbeatTimeout: 600,
          DefaultResult: 'ABANDON',
        },
        {
          LifecycleHookName: 'elastic-etcd-terminate',
          LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
          HeartbeatTimeout: 300,
          DefaultResult: 'CONTINUE',
        },
      ],
    });
    // Hooks publish to EventBridge by default: no notification target, hence no role for one.
    const hooks = groupOf(template).Properties.LifecycleHookSpecificationList as Json[];
    for (const hook of hooks) {
      assert.equal(hook.NotificationTargetARN, undefined);
      assert.equal(hook.RoleARN, undefined);
    }
  });

  test('the group is created after everything that handles its first lifecycle actions', () => {
    const dependsOn = groupOf(template).DependsOn ?? [];
    const required = [
      ...logicalIdsOf(template, 'AWS::Lambda::Function', { Runtime: 'nodejs22.x' }),
      ...logicalIdsOf(template, 'AWS::Lambda::EventSourceMapping'),
      ...logicalIdsOf(template, 'AWS::SQS::Queue'),
      ...logicalIdsOf(template, 'AWS::SQS::QueuePolicy'),
      ...logicalIdsOf(template, 'AWS::Events::Rule'),
      // The Lambda's execution role and its policy (the permissions to complete lifecycle actions).
      ...logicalIdsOf(template, 'AWS::IAM::Role').filter((id) => id.startsWith('ClusterLifecycleFunctionServiceRole')),
      ...logicalIdsOf(template, 'AWS::IAM::Policy').filter((id) => id.startsWith('ClusterLifecycleFunctionServiceRole')),
    ];
    assert.equal(required.length, 1 + 1 + 3 + 3 + 3 + 1 + 1, required.join(', '));
    for (const id of required) assert.ok(dependsOn.includes(id), `the group must depend on ${id}; DependsOn: ${dependsOn.join(', ')}`);
  });

  test('rollouts: one member at a time, never below size - 1 in service, disruptive processes suspended', () => {
    assert.deepEqual(groupOf(template).UpdatePolicy?.AutoScalingRollingUpdate, {
      MaxBatchSize: 1,
      MinInstancesInService: 2,
      SuspendProcesses: ['HealthCheck', 'ReplaceUnhealthy', 'AZRebalance', 'AlarmNotification', 'ScheduledActions'],
    });
    const five = synth({ clusterSize: 5 }).template;
    assert.equal((groupOf(five).UpdatePolicy?.AutoScalingRollingUpdate as Json).MinInstancesInService, 4);
  });

  test('a new etcd version, AMI or instance type changes the launch template, which the rolling update replaces', () => {
    // The group always runs the template's latest version, so any change of the template data is a group change.
    const [ltId] = logicalIdsOf(template, 'AWS::EC2::LaunchTemplate');
    assert.deepEqual((groupOf(template).Properties.LaunchTemplate as Json).Version, { 'Fn::GetAtt': [ltId, 'LatestVersionNumber'] });
    const data = (t: Template): Json => (resourcesOf(t, 'AWS::EC2::LaunchTemplate')[0] as { LaunchTemplateData: Json }).LaunchTemplateData;
    const base = data(template);

    const upgraded = synth({ clients: [ec2.Peer.ipv4('10.99.0.0/16')], etcdVersion: '3.5.31' }).template;
    assert.notDeepEqual(data(upgraded), base);
    assert.match(userDataOf(upgraded), /readonly ETCD_VERSION='3\.5\.31'/);
    assert.match(userDataOf(upgraded), new RegExp(`readonly ETCD_SHA256='${ETCD_RELEASE_SHA256['3.5.31']?.amd64 ?? 'missing'}'`));
    assert.equal(lambdaEnv(upgraded).ELASTIC_ETCD_VERSION, '3.5.31');
    assert.deepEqual(groupOf(upgraded).UpdatePolicy?.AutoScalingRollingUpdate, groupOf(template).UpdatePolicy?.AutoScalingRollingUpdate);

    const ami = synth({ machineImage: ec2.MachineImage.genericLinux({ 'eu-west-1': 'ami-0123456789abcdef0' }) }).template;
    assert.equal(data(ami).ImageId, 'ami-0123456789abcdef0');
    assert.notDeepEqual(data(ami).ImageId, base.ImageId);

    const bigger = synth({ instanceType: new ec2.InstanceType('m7i.large') }).template;
    assert.equal(data(bigger).InstanceType, 'm7i.large');
    assert.equal(base.InstanceType, 't3.small');
  });

  test('three Availability Zones: the default VPC spans three, the members are spread over all of them', () => {
    const subnets = groupOf(template).Properties.VPCZoneIdentifier as unknown[];
    assert.equal(subnets.length, 3);
    assert.deepEqual(
      subnets,
      stack.cluster.vpc.privateSubnets.map((s) => resolve(s.subnetId)),
    );
    const zones = resourcesOf(template, 'AWS::EC2::Subnet').map((s) => JSON.stringify(s.AvailabilityZone));
    assert.equal(new Set(zones).size, 3, zones.join(' '));
    // One NAT gateway per AZ: the Lambda keeps its way to the AWS APIs when one AZ fails.
    template.resourceCountIs('AWS::EC2::NatGateway', 3);

    // Environment-agnostic: three AZs chosen at deploy time with Fn::GetAZs, not CDK's two placeholders.
    const agnostic = synth({}, 'agnostic', 'Agnostic').template;
    const agnosticZones = resourcesOf(agnostic, 'AWS::EC2::Subnet').map((s) => JSON.stringify(s.AvailabilityZone));
    assert.deepEqual(
      [...new Set(agnosticZones)].sort(),
      [0, 1, 2].map((i) => JSON.stringify({ 'Fn::Select': [i, { 'Fn::GetAZs': '' }] })).sort(),
    );
    assert.equal((groupOf(agnostic).Properties.VPCZoneIdentifier as unknown[]).length, 3);
  });
});

describe('the serialising queue', () => {
  const queues = template.findResources('AWS::SQS::Queue');
  const fifoId =
    Object.keys(template.findResources('AWS::SQS::Queue', { Properties: { FifoQueue: true, ContentBasedDeduplication: true } }))[0] ?? '';
  const fifoDlqId =
    Object.keys(queues).find((id) => id !== fifoId && (queues[id] as { Properties: Json }).Properties.FifoQueue === true) ?? '';
  const standardDlqId = Object.keys(queues).find((id) => (queues[id] as { Properties: Json }).Properties.FifoQueue === undefined) ?? '';

  test('one FIFO queue with content-based deduplication, a FIFO dead-letter queue, and a standard one for EventBridge', () => {
    assert.equal(Object.keys(queues).length, 3);
    assert.ok(fifoId && fifoDlqId && standardDlqId, JSON.stringify(Object.keys(queues)));
    const fifo = (queues[fifoId] as { Properties: Json }).Properties;
    // At least six times the function timeout (300 s), as AWS recommends for an SQS event source.
    assert.equal(fifo.VisibilityTimeout, 1800);
    assert.deepEqual(fifo.RedrivePolicy, {
      deadLetterTargetArn: { 'Fn::GetAtt': [fifoDlqId, 'Arn'] },
      maxReceiveCount: QUEUE_MAX_RECEIVE_COUNT,
    });
  });

  test('the redrive count covers a launch retried through its heartbeat window, and still bounds a poison message', () => {
    const launchHeartbeatS = 600; // the construct's default launch heartbeat timeout (asserted above)
    const delays = Array.from({ length: QUEUE_MAX_RECEIVE_COUNT - 1 }, (_, i) => retryDelaySeconds(i + 1));
    const retrySpanS = delays.reduce((a, b) => a + b, 0);
    // Fast-failing attempts keep coming back for about the whole heartbeat window...
    assert.ok(retrySpanS >= 0.9 * launchHeartbeatS, `retries span ${retrySpanS} s`);
    // ...every single delay stays far below it, and AWS's recommended minimum of 5 receives is met...
    assert.ok(Math.max(...delays) * 5 <= launchHeartbeatS);
    assert.ok(QUEUE_MAX_RECEIVE_COUNT >= 5);
    // ...and a message failing at the function timeout every time reaches the dead-letter queue within 2 hours.
    assert.ok(QUEUE_MAX_RECEIVE_COUNT * 300 + retrySpanS <= 2 * 3600);
  });

  test('every queue is encrypted and refuses plain HTTP', () => {
    for (const queue of Object.values(queues) as { Properties: Json }[]) assert.equal(queue.Properties.SqsManagedSseEnabled, true);
    const policies = resourcesOf(template, 'AWS::SQS::QueuePolicy');
    const tlsOnly = new Set(
      policies
        .filter((p) => JSON.stringify(p.PolicyDocument).includes('"aws:SecureTransport":"false"'))
        .flatMap((p) => (p.Queues as unknown[]).map((q) => JSON.stringify(q))),
    );
    for (const id of Object.keys(queues)) assert.ok(tlsOnly.has(JSON.stringify({ Ref: id })), `${id} is TLS-only`);
  });

  test('the Lambda consumes it one message at a time and reports failed records', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [fifoId, 'Arn'] },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  test('both lifecycle rules and the reconcile schedule target the FIFO queue with one message group', () => {
    const rules = resourcesOf(template, 'AWS::Events::Rule');
    assert.deepEqual(rules.map((r) => r.EventPattern).filter(Boolean), [
      {
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-launch Lifecycle Action'],
        detail: { AutoScalingGroupName: [GROUP], LifecycleHookName: ['elastic-etcd-launch'] },
      },
      {
        source: ['aws.autoscaling'],
        'detail-type': ['EC2 Instance-terminate Lifecycle Action'],
        detail: { AutoScalingGroupName: [GROUP], LifecycleHookName: ['elastic-etcd-terminate'] },
      },
    ]);
    assert.deepEqual(rules.map((r) => r.ScheduleExpression).filter(Boolean), ['rate(2 minutes)']);
    for (const rule of rules) {
      const [target, ...others] = rule.Targets as Json[];
      assert.equal(others.length, 0);
      assert.ok(target);
      assert.deepEqual(target.Arn, { 'Fn::GetAtt': [fifoId, 'Arn'] });
      assert.deepEqual(target.SqsParameters, { MessageGroupId: MESSAGE_GROUP_ID });
      assert.equal(target.Input, undefined, 'the message body is the EventBridge event, unchanged');
      assert.deepEqual(target.DeadLetterConfig, { Arn: { 'Fn::GetAtt': [standardDlqId, 'Arn'] } });
      const retry = target.RetryPolicy as { MaximumRetryAttempts: number; MaximumEventAgeInSeconds: number };
      assert.ok(retry.MaximumRetryAttempts >= 3);
      assert.ok(retry.MaximumEventAgeInSeconds <= 600, 'no older than the launch hook timeout');
    }
  });
});

describe('the Lambda', () => {
  const functions = template.findResources('AWS::Lambda::Function', { Properties: { Runtime: 'nodejs22.x' } });

  test('nodejs22.x, bundled, no reserved concurrency, in the VPC with its own security group', () => {
    assert.equal(Object.keys(functions).length, 1);
    const [fn] = Object.values(functions) as [{ Properties: Json }];
    const props = fn.Properties;
    assert.equal(props.ReservedConcurrentExecutions, undefined, 'fresh accounts refuse any reservation');
    assert.equal(props.Timeout, 300);
    assert.equal(props.Handler, 'index.handler');
    const vpcConfig = props.VpcConfig as { SecurityGroupIds: unknown[]; SubnetIds: unknown[] };
    assert.deepEqual(vpcConfig.SecurityGroupIds, [resolve(stack.cluster.lambdaSecurityGroup.securityGroupId)]);
    assert.deepEqual(
      vpcConfig.SubnetIds,
      stack.cluster.vpc.privateSubnets.map((s) => resolve(s.subnetId)),
    );
    // Invoked by the event source mapping only: no asynchronous invocation settings.
    assert.equal(props.DeadLetterConfig, undefined);
    template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 0);
    template.resourceCountIs('AWS::Lambda::Permission', 0);
  });

  test('environment: the contract variables, all strings', () => {
    const env = lambdaEnv(template);
    assert.deepEqual(Object.fromEntries(Object.entries(env).filter(([key]) => key.startsWith('ELASTIC_ETCD_'))), {
      ELASTIC_ETCD_CLUSTER_NAME: 'etcd',
      ELASTIC_ETCD_PARAMETER_PREFIX: '/elastic-etcd/EtcdTest',
      ELASTIC_ETCD_AUTO_SCALING_GROUP: GROUP,
      ELASTIC_ETCD_CLIENT_PORT: '2379',
      ELASTIC_ETCD_PEER_PORT: '2380',
      ELASTIC_ETCD_CLUSTER_SIZE: '3',
      ELASTIC_ETCD_JOIN_STRATEGY: 'replace',
      ELASTIC_ETCD_JOIN_AS: 'learner',
      ELASTIC_ETCD_DATA_DIR: '/var/lib/etcd',
      ELASTIC_ETCD_LAUNCH_HOOK: 'elastic-etcd-launch',
      ELASTIC_ETCD_TERMINATE_HOOK: 'elastic-etcd-terminate',
      ELASTIC_ETCD_HEALTH_TIMEOUT_MS: '2000',
      ELASTIC_ETCD_VERSION: '3.5.30',
      ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS: '300',
      // Backups (infra/backup-bucket.ts; test/infra/backup-bucket.test.ts checks the bucket itself).
      ELASTIC_ETCD_BACKUP_BUCKET: env.ELASTIC_ETCD_BACKUP_BUCKET,
      ELASTIC_ETCD_BACKUP_PREFIX: 'etcd',
      ELASTIC_ETCD_BACKUP_INTERVAL_SECONDS: '1800',
      ELASTIC_ETCD_AUTO_RESTORE: 'true',
      ELASTIC_ETCD_RESTORE_AFTER_SECONDS: '600',
      // TLS on by default, the SecureStrings under the stack's own key (the TLS tests below check the key).
      ELASTIC_ETCD_TLS: 'on',
      ELASTIC_ETCD_TLS_KMS_KEY_ID: env.ELASTIC_ETCD_TLS_KMS_KEY_ID,
    });
    assert.match(JSON.stringify(env.ELASTIC_ETCD_BACKUP_BUCKET), /^\{"Ref":"ClusterBackupsBucket[0-9A-F]+"\}$/);
    assert.match(JSON.stringify(env.ELASTIC_ETCD_TLS_KMS_KEY_ID), /^\{"Fn::GetAtt":\["ClusterTlsKey[0-9A-F]+","Arn"\]\}$/);
  });
});

describe('least-privilege IAM', () => {
  const lambdaStatements = statementsOfRole(template, 'ClusterLifecycleFunctionServiceRole');
  // The backup read (ReadBackupSnapshots) is checked in test/infra/backup-bucket.test.ts.
  // The backup read (ReadBackupSnapshots) is checked in test/infra/backup-bucket.test.ts, the TLS grants below.
  const instanceStatements = statementsOfRole(template, 'ClusterInstanceRole').filter(
    (s) => !['ReadBackupSnapshots', 'DecryptOwnInstanceParameters', 'ReadCaCertificate'].includes(String(s.Sid)),
  );

  test("the Lambda: this deployment's parameters only", () => {
    const ssm = lambdaStatements.filter((s) => asArray(s.Action as string | string[]).some((a) => a.startsWith('ssm:')));
    assert.equal(ssm.length, 1);
    const [statement] = ssm as [Json];
    assert.deepEqual([...asArray(statement.Action as string[])].sort(), [
      'ssm:AddTagsToResource',
      'ssm:DeleteParameter',
      'ssm:DeleteParameters',
      'ssm:GetParameter',
      'ssm:GetParameters',
      'ssm:GetParametersByPath',
      'ssm:ListTagsForResource',
      'ssm:PutParameter',
    ]);
    assert.deepEqual(asArray(statement.Resource).map(arnText), [PARAMETER_ARN, `${PARAMETER_ARN}/*`]);
  });

  test('the Lambda: lifecycle actions of this group only; Describe* on * (no resource-level support); no queue rights it does not need', () => {
    const lifecycle = lambdaStatements.filter((s) => JSON.stringify(s.Action).includes('LifecycleAction'));
    assert.equal(lifecycle.length, 1);
    const [statement] = lifecycle as [Json];
    assert.deepEqual([...asArray(statement.Action as string[])].sort(), [
      'autoscaling:CompleteLifecycleAction',
      'autoscaling:RecordLifecycleActionHeartbeat',
    ]);
    assert.deepEqual(asArray(statement.Resource).map(arnText), [
      `arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/${GROUP}`,
    ]);

    const health = lambdaStatements.filter((s) => JSON.stringify(s.Action).includes('SetInstanceHealth'));
    assert.equal(health.length, 1);
    assert.equal((health[0] as Json).Action, 'autoscaling:SetInstanceHealth');
    assert.deepEqual(asArray((health[0] as Json).Resource).map(arnText), [
      `arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/${GROUP}`,
    ]);

    const wildcard = lambdaStatements.filter((s) => asArray(s.Resource).includes('*'));
    assert.equal(wildcard.length, 1, 'one statement on "*"');
    assert.deepEqual([...asArray((wildcard[0] as Json).Action as string[])].sort(), [
      'autoscaling:DescribeAutoScalingGroups',
      'autoscaling:DescribeAutoScalingInstances',
      'autoscaling:DescribeLifecycleHooks',
      'ec2:DescribeInstances',
    ]);
    // The event source mapping needs receive/delete/attributes on the FIFO queue; CDK grants exactly those.
    const sqsActions = lambdaStatements.flatMap((s) => asArray(s.Action as string | string[])).filter((a) => a.startsWith('sqs:'));
    assert.deepEqual([...new Set(sqsActions)].sort(), [
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ReceiveMessage',
    ]);
    // The handler shortens a failed message's visibility and looks up the queue URL: both on the FIFO queue only.
    const fifoId = Object.keys(
      template.findResources('AWS::SQS::Queue', { Properties: { FifoQueue: true, ContentBasedDeduplication: true } }),
    )[0];
    for (const action of ['sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl']) {
      const granting = lambdaStatements.filter((s) => asArray(s.Action as string | string[]).includes(action));
      assert.equal(granting.length, 1, action);
      assert.deepEqual(asArray((granting[0] as Json).Resource), [{ 'Fn::GetAtt': [fifoId, 'Arn'] }], action);
    }
    for (const s of lambdaStatements) {
      for (const action of asArray(s.Action as string | string[])) assert.doesNotMatch(action, /\*/, `no wildcard action (${action})`);
    }
  });

  test('the instance: GetParameter on its own parameters only (instance-ARN tag must equal ec2:SourceInstanceARN)', () => {
    assert.equal(instanceStatements.length, 1);
    const [statement] = instanceStatements as [Json];
    assert.equal(statement.Effect, 'Allow');
    assert.equal(statement.Action, 'ssm:GetParameter');
    assert.equal(arnText(statement.Resource), `${PARAMETER_ARN}/instances/*`);
    assert.deepEqual(statement.Condition, { StringEquals: { [`ssm:resourceTag/${INSTANCE_ARN_TAG}`]: '${ec2:SourceInstanceARN}' } });
    // No managed policies on the instance role (AmazonSSMManagedInstanceCore would grant ssm:GetParameter on *).
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })] } },
    });
    assert.equal(Object.keys(roles).length, 1);
    for (const role of Object.values(roles) as { Properties: Json }[]) assert.equal(role.Properties.ManagedPolicyArns, undefined);
  });

  test('no instance-side "env" parameter: the drop-in, the restore file and the TLS material are the only things an instance reads', () => {
    const userData = userDataOf(template);
    assert.deepEqual([...new Set(userData.match(/\/instances\/[^/\s]+\/[a-z]+/g))], ['/instances/$1/dropin', '/instances/$1/tls']);
    // The other reads go through read_instance_parameter <id> <file>.
    assert.deepEqual([...userData.matchAll(/read_instance_parameter "\$1" ([a-z]+)/g)].map((m) => m[1]).sort(), ['restore', 'tls']);
    assert.doesNotMatch(userData, /\/instances\/[^/\s]+\/env\b/);
  });

  test('the boot waits for its drop-in as long as the launch action can stay pending (100 heartbeat timeouts, at most 48 h)', () => {
    // The default 10 min launch heartbeat timeout: the action may live 1000 min; a boot that gave up after 10
    // would leave an instance configured later (a restore waits for its time) without etcd.
    assert.match(userDataOf(template), /readonly DROPIN_WAIT_SECONDS='60000'/);
    assert.equal(maxLaunchWaitSeconds(3600), 172_800);
  });
});

describe('a namespace per deployment', () => {
  test('two stacks in one app, same cluster name: distinct parameter paths, IAM scopes and groups', () => {
    const app = newApp();
    const a = new ElasticEtcdStack(app, 'EtcdBlue', { env: ENV });
    const b = new ElasticEtcdStack(app, 'EtcdGreen', { env: ENV });
    assert.equal(a.cluster.parameterPath, '/elastic-etcd/EtcdBlue/etcd');
    assert.equal(b.cluster.parameterPath, '/elastic-etcd/EtcdGreen/etcd');
    const ta = Template.fromStack(a);
    const tb = Template.fromStack(b);
    const scope = (t: Template, role: string): string[] =>
      statementsOfRole(t, role)
        .filter((s) => JSON.stringify(s.Action).includes('ssm:'))
        .flatMap((s) => asArray(s.Resource).map(arnText));
    const lambdaA = scope(ta, 'ClusterLifecycleFunctionServiceRole');
    const lambdaB = scope(tb, 'ClusterLifecycleFunctionServiceRole');
    assert.ok(lambdaA.length > 0 && lambdaB.length > 0);
    for (const arn of lambdaA) {
      assert.ok(arn.includes('/elastic-etcd/EtcdBlue/etcd'), arn);
      // No grant of one deployment covers the other's parameters.
      assert.ok(
        !lambdaB.some((other) => arn.startsWith(other.replace(/\*$/, '')) || other.startsWith(arn.replace(/\*$/, ''))),
        `${arn} vs ${lambdaB.join(' ')}`,
      );
    }
    for (const arn of scope(tb, 'ClusterInstanceRole'))
      assert.match(arn, /\/elastic-etcd\/EtcdGreen\/etcd\/(instances\/\*|tls\/ca-certificate)$/, arn);
    assert.notEqual(lambdaEnv(ta).ELASTIC_ETCD_PARAMETER_PREFIX, lambdaEnv(tb).ELASTIC_ETCD_PARAMETER_PREFIX);
    assert.notEqual(a.cluster.autoScalingGroupName, b.cluster.autoScalingGroupName);
    assert.match(userDataOf(ta), /readonly PARAMETER_PATH='\/elastic-etcd\/EtcdBlue\/etcd'/);
    assert.match(userDataOf(tb), /readonly PARAMETER_PATH='\/elastic-etcd\/EtcdGreen\/etcd'/);
  });
});

describe('supply chain', () => {
  test('the default release is 3.5.30 with its pinned SHA-256 for the instance architecture', () => {
    const userData = userDataOf(template);
    assert.match(userData, /readonly ETCD_VERSION='3\.5\.30'/);
    assert.match(userData, /readonly ETCD_ARCH='amd64'/);
    assert.match(userData, new RegExp(`readonly ETCD_SHA256='${ETCD_RELEASE_SHA256['3.5.30']?.amd64 ?? 'missing'}'`));
    assert.match(userData, /readonly INSTALL_METHOD='release'/);
    assert.match(userData, /readonly RELEASE_BASE_URL='https:\/\/github\.com\/etcd-io\/etcd\/releases\/download'/);
    assert.doesNotMatch(userData, /'@[A-Z_0-9]+@'/, 'no placeholder left unfilled');
    const arm = userDataOf(synth({ instanceType: new ec2.InstanceType('m7g.large') }).template);
    assert.match(arm, /readonly ETCD_ARCH='arm64'/);
    assert.match(arm, new RegExp(`readonly ETCD_SHA256='${ETCD_RELEASE_SHA256['3.5.30']?.arm64 ?? 'missing'}'`));
  });

  test('versions below 3.5.20, malformed, or without a known checksum are refused; a user-supplied checksum is accepted', () => {
    for (const etcdVersion of ['3.5.17', '3.4.23', '3.5.19', 'latest', '3.5', 'v3.5.30', '3.5.30-rc.0']) {
      assert.throws(() => synth({ etcdVersion }), InvalidEtcdReleaseError, etcdVersion);
    }
    assert.throws(() => synth({ etcdVersion: '3.6.99' }), /no SHA-256 is pinned for etcd-v3\.6\.99-linux-amd64\.tar\.gz; pass etcdSha256/);
    assert.throws(() => synth({ etcdVersion: '3.6.99', etcdSha256: { amd64: 'not-a-sum' } }), InvalidEtcdReleaseError);
    const sum = 'ab'.repeat(32);
    const custom = userDataOf(synth({ etcdVersion: '3.6.99', etcdSha256: { amd64: sum } }).template);
    assert.match(custom, /readonly ETCD_VERSION='3\.6\.99'/);
    assert.match(custom, new RegExp(`readonly ETCD_SHA256='${sum}'`));
  });
});

describe('private subnets (no internet)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'elastic-etcd-asset-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function privateStack(): { stack: Stack; template: Template; asset: Asset } {
    const app = newApp();
    const s = new Stack(app, 'Private', { env: ENV });
    const tarball = join(dir, 'etcd-v3.5.30-linux-amd64.tar.gz');
    writeFileSync(tarball, 'stand-in');
    const asset = new Asset(s, 'EtcdTarball', { path: tarball });
    new ElasticEtcdCluster(s, 'Cluster', {
      internetAccess: false,
      etcdInstall: { method: 's3', bucket: asset.bucket, key: asset.s3ObjectKey },
    });
    return { stack: s, template: Template.fromStack(s), asset };
  }

  test('isolated subnets in three AZs, no NAT or internet gateway, and the VPC endpoints the instances and the Lambda need', () => {
    const { template: t } = privateStack();
    t.resourceCountIs('AWS::EC2::NatGateway', 0);
    t.resourceCountIs('AWS::EC2::InternetGateway', 0);
    assert.equal(resourcesOf(t, 'AWS::EC2::Subnet').length, 3);
    assert.equal((groupOf(t).Properties.VPCZoneIdentifier as unknown[]).length, 3);
    const endpoints = resourcesOf(t, 'AWS::EC2::VPCEndpoint');
    // Service names end in the service: com.amazonaws.<region>.ssm (or a Fn::Join ending in ".s3").
    const service = (name: unknown): string => /\.([a-z0-9]+)"?\]*\}?\]*\}?$/.exec(JSON.stringify(name))?.[1] ?? JSON.stringify(name);
    assert.deepEqual(endpoints.map((e) => [service(e.ServiceName), e.VpcEndpointType]).sort(), [
      ['autoscaling', 'Interface'],
      ['ec2', 'Interface'],
      ['s3', 'Gateway'],
      ['sqs', 'Interface'],
      ['ssm', 'Interface'],
    ]);
    const interfaces = endpoints.filter((e) => e.VpcEndpointType === 'Interface');
    assert.equal(interfaces.length, 4);
    for (const e of interfaces) assert.equal(e.PrivateDnsEnabled, true);
    assert.equal(endpoints.filter((e) => e.VpcEndpointType === 'Gateway').length, 1);
  });

  test('the endpoints accept HTTPS from the members and the Lambda only; the Lambda runs in the isolated subnets', () => {
    const { stack: s, template: t } = privateStack();
    const cluster = s.node.findChild('Cluster') as ElasticEtcdCluster;
    const ingress = resourcesOf(t, 'AWS::EC2::SecurityGroupIngress').filter((r) => JSON.stringify(r.GroupId).includes('Endpoint'));
    const inline = Object.entries(t.findResources('AWS::EC2::SecurityGroup'))
      .filter(([id]) => id.includes('Endpoint'))
      .flatMap(([, r]) => ((r as { Properties: Json }).Properties.SecurityGroupIngress as Json[] | undefined) ?? []);
    assert.deepEqual(inline, [], 'no CIDR-wide ingress on the endpoints');
    const sources = new Set(ingress.map((r) => JSON.stringify(r.SourceSecurityGroupId)));
    assert.deepEqual(
      [...sources].sort(),
      [s.resolve(cluster.memberSecurityGroup.securityGroupId), s.resolve(cluster.lambdaSecurityGroup.securityGroupId)]
        .map((x) => JSON.stringify(x))
        .sort(),
    );
    for (const rule of ingress) assert.deepEqual([rule.FromPort, rule.ToPort], [443, 443]);
    assert.equal(ingress.length, 8, 'four interface endpoints, two sources each');
    const [fn] = resourcesOf(t, 'AWS::Lambda::Function').filter((f) => f.Runtime === 'nodejs22.x') as [Json];
    assert.deepEqual(
      (fn.VpcConfig as Json).SubnetIds,
      cluster.vpc.isolatedSubnets.map((x): unknown => s.resolve(x.subnetId)),
    );
  });

  test('in a VPC of your own, vpcEndpoints adds the endpoints; without internet they are the default', () => {
    const app = newApp();
    const s = new Stack(app, 'Own', { env: ENV });
    const vpc = new ec2.Vpc(s, 'Given', {
      maxAzs: 3,
      natGateways: 0,
      subnetConfiguration: [{ name: 'iso', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    new ElasticEtcdCluster(s, 'Cluster', { vpc, internetAccess: false, etcdInstall: { method: 'preinstalled' } });
    Template.fromStack(s).resourceCountIs('AWS::EC2::VPCEndpoint', 5);
    const s2 = new Stack(newApp(), 'OwnWithEndpoints', { env: ENV });
    const vpc2 = new ec2.Vpc(s2, 'Given', {
      maxAzs: 3,
      natGateways: 0,
      subnetConfiguration: [{ name: 'iso', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    new ElasticEtcdCluster(s2, 'Cluster', {
      vpc: vpc2,
      internetAccess: false,
      vpcEndpoints: false,
      etcdInstall: { method: 'preinstalled' },
    });
    Template.fromStack(s2).resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });

  test('etcd comes from the S3 object, readable by the instance role alone, still checksum-verified', () => {
    const { stack: s, template: t, asset } = privateStack();
    const userData = userDataOf(t);
    assert.match(userData, /readonly INSTALL_METHOD='s3'/);
    assert.match(userData, /readonly ETCD_SHA256='[0-9a-f]{64}'/);
    assert.ok(userData.includes(String(s.resolve(asset.s3ObjectKey))), 'the asset key is in the user data');
    const statements = statementsOfRole(t, 'ClusterInstanceRole');
    const read = statements.find((st) => st.Sid === 'ReadEtcdTarball');
    assert.ok(read, JSON.stringify(statements));
    assert.equal(read.Action, 's3:GetObject');
    assert.ok(JSON.stringify(read.Resource).includes(asset.s3ObjectKey), JSON.stringify(read.Resource));
  });

  test('a download from GitHub without internet is refused at synth time', () => {
    assert.throws(() => synth({ internetAccess: false }), /internetAccess is false but etcd would be downloaded from GitHub/);
    // A mirror inside the network, or a baked image, is fine.
    synth({ internetAccess: false, etcdInstall: { method: 'release', baseUrl: 'https://mirror.internal.example/etcd' } });
    synth({ internetAccess: false, etcdInstall: { method: 'preinstalled' } });
  });
});

describe('region and partition', () => {
  test('an environment-agnostic stack names no region: ARNs use the pseudo parameters', () => {
    const { template: agnostic } = synth({}, 'agnostic', 'Agnostic');
    const text = JSON.stringify(agnostic.toJSON());
    assert.doesNotMatch(text, /us-east-1|eu-west-1|123456789012/);
    assert.ok(text.includes('"Ref":"AWS::Region"'));
    assert.ok(text.includes('"Ref":"AWS::Partition"'));
    assert.doesNotMatch(userDataOf(agnostic), /amazonaws\.com/);
  });
});

// --- TLS (issue 16) --------------------------------------------------------------------------------------------

/** Every statement of every IAM policy, with the logical IDs of the roles the policy is attached to. */
function allStatements(t: Template): { roles: string; statement: Json }[] {
  return (Object.values(t.findResources('AWS::IAM::Policy')) as { Properties: Json }[]).flatMap((p) =>
    (p.Properties.PolicyDocument as { Statement: Json[] }).Statement.map((statement) => ({
      roles: JSON.stringify(p.Properties.Roles),
      statement,
    })),
  );
}

/** Whether an IAM pattern (`*` and `?` wildcards, as in ARNs and StringLike) matches `text`. */
function globMatches(pattern: string, text: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(text);
}

/** The PARAMETER_ARN encryption-context patterns a kms:Decrypt statement is limited to (none: any parameter). */
function contextPatterns(statement: Json): string[] {
  const condition = (statement.Condition ?? {}) as Record<string, Record<string, unknown>>;
  return Object.values(condition).flatMap((c) => asArray((c['kms:EncryptionContext:PARAMETER_ARN'] ?? []) as unknown[]).map(arnText));
}

/** Which roles (logical-ID JSON) may read `parameterArn`: ssm:GetParameter* on it and kms:Decrypt for it. */
function rolesReading(t: Template, parameterArn: string): { ssm: string[]; kms: string[] } {
  const actions = (s: Json): string[] => asArray(s.Action as string | string[]);
  const allowed = allStatements(t).filter(({ statement }) => statement.Effect === 'Allow');
  return {
    ssm: allowed
      .filter(({ statement }) => actions(statement).some((a) => /^ssm:(GetParameter|\*)/.test(a)))
      .filter(({ statement }) => asArray(statement.Resource).some((r) => globMatches(arnText(r), parameterArn)))
      .map(({ roles }) => roles),
    kms: allowed
      .filter(({ statement }) => actions(statement).some((a) => a === 'kms:Decrypt' || a === 'kms:*'))
      .filter(({ statement }) => {
        const patterns = contextPatterns(statement);
        return patterns.length === 0 || patterns.some((p) => globMatches(p, parameterArn));
      })
      .map(({ roles }) => roles),
  };
}

describe('TLS on by default', () => {
  // The TLS key; the alarm topic has its own (infra/observability.ts, test/infra/observability.test.ts).
  const keyIds = logicalIdsOf(template, 'AWS::KMS::Key').filter((id) => id.includes('TlsKey'));
  const keyArn = { 'Fn::GetAtt': [keyIds[0], 'Arn'] };
  const ssmVia = { 'Fn::Join': ['', ['ssm.eu-west-1.', { Ref: 'AWS::URLSuffix' }]] };

  test('one customer-managed key for the SecureStrings: rotation on, RETAINed, administered through IAM of this account only', () => {
    assert.equal(keyIds.length, 1);
    const key = template.findResources('AWS::KMS::Key')[keyIds[0] ?? ''] as {
      Properties: Json;
      DeletionPolicy: string;
      UpdateReplacePolicy: string;
    };
    assert.equal(key.Properties.EnableKeyRotation, true);
    assert.equal(key.DeletionPolicy, 'Retain');
    assert.equal(key.UpdateReplacePolicy, 'Retain');
    // The key policy names no principal but the account: who may use the key is decided by the IAM grants below.
    const statements = (key.Properties.KeyPolicy as { Statement: Json[] }).Statement;
    assert.equal(statements.length, 1);
    assert.equal(arnText((statements[0]?.Principal as Json).AWS), 'arn:aws:iam::123456789012:root');
    assert.equal(stack.cluster.tlsKey !== undefined, true);
  });

  test('no plain-HTTP URL in the Lambda environment or the user data (only the instance metadata service, which is link-local HTTP)', () => {
    const env = JSON.stringify(lambdaEnv(template));
    assert.doesNotMatch(env, /http:\/\//);
    assert.equal(lambdaEnv(template).ELASTIC_ETCD_TLS, 'on');
    const userData = userDataOf(template);
    assert.deepEqual([...new Set(userData.match(/http:\/\/[^\s"'}]+/g))], ['http://169.254.169.254']);
    // The boot script writes the member's TLS files whenever the drop-in asks for them, where the Lambda points etcd.
    assert.match(userData, /readonly PKI_DIR="\$\{ELASTIC_ETCD_PKI_DIR:-\/etc\/etcd\/pki\}"/);
  });

  test('TLS is in the protocol, not the port: members open 2380 among themselves and 2379 to clients and the Lambda, nothing else', () => {
    const ports = new Set<string>();
    for (const rule of resourcesOf(template, 'AWS::EC2::SecurityGroupIngress'))
      ports.add(`${String(rule.FromPort)}-${String(rule.ToPort)}`);
    for (const group of resourcesOf(template, 'AWS::EC2::SecurityGroup'))
      for (const rule of (group.SecurityGroupIngress as Json[] | undefined) ?? [])
        ports.add(`${String(rule.FromPort)}-${String(rule.ToPort)}`);
    assert.deepEqual([...ports].sort(), ['2379-2379', '2380-2380']);
  });

  test("the Lambda: encrypts and decrypts with the key through SSM, for this deployment's parameters only", () => {
    const statements = statementsOfRole(template, 'ClusterLifecycleFunctionServiceRole').filter((s) =>
      JSON.stringify(s.Action).includes('kms:'),
    );
    assert.equal(statements.length, 1);
    const [statement] = statements as [Json];
    assert.deepEqual([...asArray(statement.Action as string[])].sort(), ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']);
    assert.deepEqual(statement.Resource, keyArn);
    assert.deepEqual(contextPatterns(statement), [`${PARAMETER_ARN}/*`]);
    assert.deepEqual((statement.Condition as Json).StringEquals, { 'kms:ViaService': ssmVia });
  });

  test('the instance: decrypts only instance parameters (and reads only its own, by the instance-ARN tag), and the CA certificate', () => {
    const statements = statementsOfRole(template, 'ClusterInstanceRole').filter((s) => s.Sid !== 'ReadBackupSnapshots');
    const bySid = new Map(statements.map((s) => [String(s.Sid), s]));
    assert.deepEqual([...bySid.keys()].sort(), ['DecryptOwnInstanceParameters', 'ReadCaCertificate', 'ReadOwnInstanceParameters']);
    const decrypt = bySid.get('DecryptOwnInstanceParameters') ?? {};
    assert.equal(decrypt.Action, 'kms:Decrypt');
    assert.deepEqual(decrypt.Resource, keyArn);
    assert.deepEqual(contextPatterns(decrypt), [`${PARAMETER_ARN}/instances/*`]);
    assert.deepEqual((decrypt.Condition as Json).StringEquals, { 'kms:ViaService': ssmVia });
    const ca = bySid.get('ReadCaCertificate') ?? {};
    assert.equal(ca.Action, 'ssm:GetParameter');
    assert.equal(arnText(ca.Resource), `${PARAMETER_ARN}/tls/ca-certificate`);
    // The tls parameter itself is read through the tag-scoped statement, as the drop-in is.
    assert.deepEqual((bySid.get('ReadOwnInstanceParameters') ?? {}).Condition, {
      StringEquals: { [`ssm:resourceTag/${INSTANCE_ARN_TAG}`]: '${ec2:SourceInstanceARN}' },
    });
  });

  test("the CA's key: only the Lambda's role may read <root>/tls/ca or decrypt it, also after clients are granted", () => {
    const app = newApp();
    const tlsStack = new ElasticEtcdStack(app, 'EtcdTest', { env: ENV });
    const application = new iam.Role(tlsStack, 'Application', { assumedBy: new iam.AccountRootPrincipal() });
    tlsStack.cluster.grantClient(application, 'app');
    const t = Template.fromStack(tlsStack);
    const lambdaRole = /ClusterLifecycleFunctionServiceRole/;
    const ca = rolesReading(t, `${PARAMETER_ARN}/tls/ca`);
    assert.ok(ca.ssm.length > 0 && ca.kms.length > 0);
    for (const roles of [...ca.ssm, ...ca.kms]) assert.match(roles, lambdaRole);
    // The checker is not vacuous: the instance's own tls parameter is readable by the instance role, and a
    // client's by its grantee.
    const instance = rolesReading(t, `${PARAMETER_ARN}/instances/i-0123456789abcdef0/tls`);
    assert.ok(instance.ssm.some((r) => r.includes('ClusterInstanceRole')) && instance.kms.some((r) => r.includes('ClusterInstanceRole')));
    const client = rolesReading(t, `${PARAMETER_ARN}/tls/clients/app`);
    assert.ok(client.ssm.some((r) => r.includes('Application')) && client.kms.some((r) => r.includes('Application')));
    assert.ok(!client.kms.some((r) => r.includes('ClusterInstanceRole')), 'instances cannot decrypt client material');
    assert.ok(!rolesReading(t, `${PARAMETER_ARN}/tls/clients/other`).kms.some((r) => r.includes('Application')));
  });

  test('grantClient: the name joins ELASTIC_ETCD_TLS_CLIENTS; the grantee reads that parameter and the CA certificate, and decrypts only that one', () => {
    const app = newApp();
    const tlsStack = new ElasticEtcdStack(app, 'EtcdTest', { env: ENV });
    const web = new iam.Role(tlsStack, 'Web', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    const worker = new iam.Role(tlsStack, 'Worker', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    const grant = tlsStack.cluster.grantClient(web, 'web');
    assert.equal(grant.success, true);
    tlsStack.cluster.grantClient(worker, 'worker-1');
    tlsStack.cluster.grantClient(worker, 'web'); // a shared name is added once
    const t = Template.fromStack(tlsStack);
    assert.equal(lambdaEnv(t).ELASTIC_ETCD_TLS_CLIENTS, 'web,worker-1');
    const webStatements = statementsOfRole(t, 'Web');
    assert.equal(webStatements.length, 2);
    const read = webStatements.find((s) => s.Action === 'ssm:GetParameter') ?? {};
    assert.deepEqual(asArray(read.Resource).map(arnText), [`${PARAMETER_ARN}/tls/clients/web`, `${PARAMETER_ARN}/tls/ca-certificate`]);
    const decrypt = webStatements.find((s) => s.Action === 'kms:Decrypt') ?? {};
    assert.deepEqual(decrypt.Resource, { 'Fn::GetAtt': [logicalIdsOf(t, 'AWS::KMS::Key')[0], 'Arn'] });
    assert.deepEqual(decrypt.Condition, {
      StringEquals: { 'kms:EncryptionContext:PARAMETER_ARN': (read.Resource as unknown[])[0], 'kms:ViaService': ssmVia },
    });
    assert.equal(statementsOfRole(t, 'Worker').length, 4, 'two names, two statements each');
    // Where to find it: the stack's outputs.
    t.hasOutput('CaCertificateParameter', { Value: `${PARAMETER_PATH}/tls/ca-certificate` });
    t.hasOutput('ClientParametersPath', { Value: `${PARAMETER_PATH}/tls/clients` });
    assert.equal(tlsStack.cluster.clientParametersPath, `${PARAMETER_PATH}/tls/clients`);

    for (const bad of ['', 'Web', 'web_1', '-web', 'a'.repeat(64), 'web,worker']) {
      assert.throws(() => tlsStack.cluster.grantClient(web, bad), InvalidClusterPropsError, bad);
    }
  });

  test('the construct grants exactly the names the Lambda writes (ParameterStore)', () => {
    const store = new ParameterStore(new SSMClient({ region: 'eu-west-1' }), { prefix: '/elastic-etcd/EtcdTest', cluster: 'etcd' });
    assert.equal(store.tlsCaName(), `${PARAMETER_PATH}/${TLS_PARAMETERS.ca}`);
    assert.equal(store.tlsCaCertificateName(), stack.cluster.caCertificateParameterName);
    assert.equal(store.tlsClientName('app'), `${stack.cluster.clientParametersPath ?? ''}/app`);
    assert.ok(globMatches(`${PARAMETER_PATH}/instances/*`, store.instanceName('i-0123456789abcdef0', 'tls')));
  });

  test('plainHttp (development only): no key, no TLS grants or outputs, ELASTIC_ETCD_TLS=off, grantClient refused', () => {
    const { stack: plain, template: t } = synth({ plainHttp: true });
    // Only the alarm topic's key (infra/observability.ts) is left: nothing of TLS.
    assert.deepEqual(
      logicalIdsOf(t, 'AWS::KMS::Key').filter((id) => !id.includes('AlarmTopicKey')),
      [],
    );
    const env = lambdaEnv(t);
    assert.equal(env.ELASTIC_ETCD_TLS, 'off');
    assert.equal(env.ELASTIC_ETCD_TLS_KMS_KEY_ID, undefined);
    const resources = Object.entries((t.toJSON() as { Resources: Record<string, unknown> }).Resources);
    const outsideAlarms = resources.filter(([id]) => !id.includes('Observability'));
    assert.doesNotMatch(JSON.stringify({ ...t.toJSON(), Resources: Object.fromEntries(outsideAlarms) }), /kms:|tls\/ca|TlsKey/);
    assert.deepEqual(
      statementsOfRole(t, 'ClusterInstanceRole')
        .map((s) => s.Sid)
        .filter((sid) => sid !== 'ReadBackupSnapshots'),
      ['ReadOwnInstanceParameters'],
    );
    assert.deepEqual(Object.keys(t.findOutputs('CaCertificateParameter')), []);
    assert.equal(plain.cluster.tlsKey, undefined);
    const application = new iam.Role(plain, 'Application', { assumedBy: new iam.AccountRootPrincipal() });
    assert.throws(() => plain.cluster.grantClient(application, 'app'), InvalidClusterPropsError);
  });
});

describe('outputs and props', () => {
  test('outputs name the group, the parameter path, the queues and the client security group', () => {
    template.hasOutput('AutoScalingGroupName', { Value: GROUP });
    template.hasOutput('ParameterPath', { Value: PARAMETER_PATH });
    template.hasOutput('ClientSecurityGroupId', { Value: resolve(stack.cluster.clientSecurityGroup.securityGroupId) });
    template.hasOutput('LogGroupName', { Value: resolve(stack.cluster.logGroup.logGroupName) });
    template.hasOutput('QueueDeadLetterQueueUrl', { Value: resolve(stack.cluster.queueDeadLetterQueue.queueUrl) });
    template.hasOutput('DeadLetterQueueUrl', { Value: resolve(stack.cluster.deadLetterQueue.queueUrl) });
    template.hasOutput('EtcdVersion', { Value: '3.5.30' });
    template.hasOutput('CaCertificateParameter', { Value: `${PARAMETER_PATH}/tls/ca-certificate` });
    template.hasOutput('ClientParametersPath', { Value: `${PARAMETER_PATH}/tls/clients` });
  });

  test('props change the cluster: size, name, prefix, install commands, schedule, extra settings', () => {
    const { template: t } = synth(
      {
        clusterSize: 5,
        clusterName: 'prod',
        parameterPrefix: '/teams/storage',
        etcdInstall: { method: 'commands', commands: ['dnf install -y etcd', 'ln -sf /usr/bin/etcd /usr/local/bin/etcd'] },
        reconcileInterval: Duration.minutes(1),
        healthTimeout: Duration.millis(1500),
        etcdSettings: { 'snapshot-count': '50000', 'log-level': 'warn' },
        quotaBackendBytes: 8589934592,
        autoCompaction: { mode: 'revision', retention: '10000' },
        unhealthyAfter: Duration.minutes(2),
      },
      ENV,
      'Custom',
    );
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { AutoScalingGroupName: 'Custom-prod', MinSize: '5', MaxSize: '5' });
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    assert.deepEqual(
      {
        size: lambdaEnv(t).ELASTIC_ETCD_CLUSTER_SIZE,
        prefix: lambdaEnv(t).ELASTIC_ETCD_PARAMETER_PREFIX,
        name: lambdaEnv(t).ELASTIC_ETCD_CLUSTER_NAME,
        health: lambdaEnv(t).ELASTIC_ETCD_HEALTH_TIMEOUT_MS,
        unhealthyAfter: lambdaEnv(t).ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS,
        quota: lambdaEnv(t).ELASTIC_ETCD_QUOTA_BACKEND_BYTES,
        compaction: [lambdaEnv(t).ELASTIC_ETCD_AUTO_COMPACTION_MODE, lambdaEnv(t).ELASTIC_ETCD_AUTO_COMPACTION_RETENTION],
      },
      {
        size: '5',
        prefix: '/teams/storage',
        name: 'prod',
        health: '1500',
        unhealthyAfter: '120',
        quota: '8589934592',
        compaction: ['revision', '10000'],
      },
    );
    const userData = userDataOf(t);
    assert.match(userData, /readonly PARAMETER_PATH='\/teams\/storage\/prod'/);
    assert.match(userData, /readonly INSTALL_METHOD='commands'/);
    assert.match(userData, /\n {2}dnf install -y etcd\n {2}ln -sf \/usr\/bin\/etcd \/usr\/local\/bin\/etcd\n/);
    assert.match(userData, /readonly EXTRA_SETTINGS='ETCD_LOG_LEVEL=warn\nETCD_SNAPSHOT_COUNT=50000'/);
  });

  test('cluster sizes 1, 2 and even sizes are refused unless allowUnsafeClusterSize says the user means it', () => {
    for (const clusterSize of [1, 2, 4, 6, 8]) {
      assert.throws(() => synth({ clusterSize }), InvalidClusterPropsError, String(clusterSize));
      const { template: t } = synth({ clusterSize, allowUnsafeClusterSize: true });
      t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { MinSize: String(clusterSize), MaxSize: String(clusterSize) });
    }
    assert.throws(() => synth({ clusterSize: 2 }), /fewer than 3 members/);
    assert.throws(() => synth({ clusterSize: 4 }), /use 3 or 5, or set allowUnsafeClusterSize/);
    for (const clusterSize of [3, 5, 7, 9]) synth({ clusterSize });
  });

  test('deploy-time tokens where synth-time values are needed are refused clearly', () => {
    const size = Lazy.number({ produce: () => 3 });
    assert.throws(() => synth({ clusterSize: size }), /clusterSize must be known at synth time/);
    const name = Lazy.string({ produce: () => 'etcd' });
    assert.throws(() => synth({ clusterName: name }), /clusterName must be known at synth time/);
  });

  test('values that are not baked in may be deploy-time tokens: their checks wait for deployment', () => {
    const app = newApp();
    const scope = new Stack(app, 'Tokens', { env: ENV });
    const volume = new CfnParameter(scope, 'VolumeSize', { type: 'Number', default: 30 });
    const unhealthy = new CfnParameter(scope, 'UnhealthyAfter', { type: 'Number', default: 300 });
    const heartbeat = new CfnParameter(scope, 'TerminateHeartbeat', { type: 'Number', default: 300 });
    new ElasticEtcdCluster(scope, 'Cluster', {
      volumeSizeGiB: volume.valueAsNumber,
      unhealthyAfter: Duration.seconds(unhealthy.valueAsNumber),
      terminateHeartbeatTimeout: Duration.seconds(heartbeat.valueAsNumber),
    });
    const t = Template.fromStack(scope);
    const [launchTemplate] = resourcesOf(t, 'AWS::EC2::LaunchTemplate') as [Json];
    const data = launchTemplate.LaunchTemplateData as { BlockDeviceMappings: { Ebs: Json }[] };
    assert.deepEqual(data.BlockDeviceMappings[0]?.Ebs.VolumeSize, { Ref: 'VolumeSize' });
    const [fn] = resourcesOf(t, 'AWS::Lambda::Function').filter((f) => f.Runtime === 'nodejs22.x') as [Json];
    const variables = (fn.Environment as { Variables: Json }).Variables;
    assert.deepEqual(variables.ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS, { Ref: 'UnhealthyAfter' });
    const [group] = resourcesOf(t, 'AWS::AutoScaling::AutoScalingGroup') as [Json];
    const hooks = group.LifecycleHookSpecificationList as Json[];
    assert.deepEqual(hooks.find((h) => h.LifecycleTransition === 'autoscaling:EC2_INSTANCE_TERMINATING')?.HeartbeatTimeout, {
      Ref: 'TerminateHeartbeat',
    });
    assert.throws(() => synth({ etcdVersion: Lazy.string({ produce: () => '3.5.30' }) }), /etcdVersion must be known at synth time/);
    assert.throws(
      () => synth({ launchHeartbeatTimeout: Duration.seconds(Lazy.number({ produce: () => 600 })) }),
      /launchHeartbeatTimeout must be known/,
    );
  });

  test('the cluster is connectable: connections.allowDefaultPortFrom opens the client port on the members', () => {
    const scope = new Stack(newApp(), 'Connectable', { env: ENV });
    const cluster = new ElasticEtcdCluster(scope, 'Cluster');
    cluster.connections.allowDefaultPortFrom(ec2.Peer.ipv4('10.42.0.0/16'), 'an application');
    const ingress = (resourcesOf(Template.fromStack(scope), 'AWS::EC2::SecurityGroup').find(
      (g) => g.GroupDescription === 'etcd members of etcd',
    )?.SecurityGroupIngress ?? []) as Json[];
    assert.deepEqual(
      ingress.filter((r) => r.CidrIp === '10.42.0.0/16'),
      [{ CidrIp: '10.42.0.0/16', Description: 'an application', FromPort: 2379, IpProtocol: 'tcp', ToPort: 2379 }],
    );
    assert.equal(cluster.function, cluster.lifecycleFunction, 'the old name still works');
  });

  test('extra etcd settings: owned or malformed ones are refused', () => {
    const bad: Record<string, string>[] = [
      { name: 'x' },
      { 'data-dir': '/tmp' },
      { 'initial-cluster': 'a=http://x' },
      { 'initial-cluster-state': 'new' },
      { 'listen-client-urls': 'http://0.0.0.0:2379' },
      { 'advertise-client-urls': 'http://x' },
      { 'discovery-srv': 'example.com' },
      { 'force-new-cluster': 'true' },
      { '--quota-backend-bytes': '1' },
      { QUOTA_BACKEND_BYTES: '1' },
      { 'quota-backend-bytes': '' },
      { 'quota-backend-bytes': '1"\nExecStartPre=/bin/evil' },
      { 'quota-backend-bytes': '8589934592' },
      { 'auto-compaction-mode': 'periodic' },
      { 'auto-compaction-retention': '1h' },
      { 'log-level': '%n' },
      { 'log-level': '$HOME' },
      { 'log-level': "it's" },
    ];
    for (const etcdSettings of bad) assert.throws(() => synth({ etcdSettings }), InvalidEtcdSettingError, JSON.stringify(etcdSettings));
  });

  test('bad props are refused with a typed error', () => {
    const cases: ElasticEtcdClusterProps[] = [
      { clusterName: 'has space' },
      { clusterName: '' },
      { parameterPrefix: 'no-leading-slash' },
      { parameterPrefix: '/trailing/' },
      { parameterPrefix: '/aws/reserved' },
      { clusterSize: 0 },
      { clusterSize: 2.5 },
      { clusterSize: 11 },
      { volumeSizeGiB: 4 },
      // The reconcile passes keep held lifecycle actions alive, so they must come before either hook times out.
      { reconcileInterval: Duration.minutes(5) },
      { reconcileInterval: Duration.minutes(3), terminateHeartbeatTimeout: Duration.minutes(3) },
      // A member is healed only after it stayed unhealthy this long: not less than 30 s, whole seconds, at most a day.
      { unhealthyAfter: Duration.seconds(10) },
      { unhealthyAfter: Duration.millis(90_500) },
      { unhealthyAfter: Duration.hours(25) },
      // etcd's upkeep: the quota 1 MiB to 8 GiB, a retention that fits its mode.
      { quotaBackendBytes: 1024 },
      { quotaBackendBytes: 16 * 1024 ** 3 },
      { quotaBackendBytes: 2.5e6 + 0.5 },
      { autoCompaction: { mode: 'revision' } },
      { autoCompaction: { mode: 'periodic', retention: '0' } },
      { autoCompaction: { mode: 'hourly' as 'periodic' } },
    ];
    for (const props of cases) {
      const scope = new Stack(newApp(), 'Bad', { env: ENV });
      assert.throws(() => new ElasticEtcdCluster(scope, 'Cluster', props), InvalidClusterPropsError, JSON.stringify(props));
    }
  });
});
