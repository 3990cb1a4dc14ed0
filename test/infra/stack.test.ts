// Template assertions for the elastic-etcd stack: every promise of issue 6, checked on the synthesised template.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { ElasticEtcdCluster, INSTANCE_ARN_TAG, InvalidClusterPropsError } from '../../infra/elastic-etcd-cluster.js';
import { ElasticEtcdStack } from '../../infra/stack.js';

type Json = Record<string, unknown>;

const ENV = { account: '123456789012', region: 'eu-west-1' };
const GROUP = 'EtcdTest-etcd';
const PARAMETER_ARN = 'arn:aws:ssm:eu-west-1:123456789012:parameter/elastic-etcd/etcd';

function synth(): { stack: ElasticEtcdStack; template: Template } {
  const app = new App();
  const stack = new ElasticEtcdStack(app, 'EtcdTest', {
    env: ENV,
    cluster: { clients: [ec2.Peer.ipv4('10.99.0.0/16')] },
  });
  return { stack, template: Template.fromStack(stack) };
}

const { stack, template } = synth();
const resolve = (value: unknown): unknown => stack.resolve(value);

function resourcesOf(type: string): Json[] {
  return Object.values(template.findResources(type)).map((r) => (r as { Properties: Json }).Properties);
}

/** All statements of all IAM policies attached to the role with this logical ID prefix. */
function statementsOfRole(rolePrefix: string): Json[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as { Properties: Json }[];
  return policies
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(rolePrefix))
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Json[] }).Statement);
}

/** Resolves an IAM resource (string or Fn::Join with partition) to plain text for comparison. */
function arnText(resource: unknown): string {
  if (typeof resource === 'string') return resource;
  const join = (resource as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) return JSON.stringify(resource);
  return join[1].map((part) => (typeof part === 'string' ? part : part && (part as Json).Ref === 'AWS::Partition' ? 'aws' : JSON.stringify(part))).join('');
}

function asArray<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

describe('resources', () => {
  test('one group from a launch template, no LaunchConfiguration', () => {
    template.resourceCountIs('AWS::AutoScaling::AutoScalingGroup', 1);
    template.resourceCountIs('AWS::AutoScaling::LaunchConfiguration', 0);
    template.resourceCountIs('AWS::EC2::LaunchTemplate', 1);
    template.resourceCountIs('AWS::AutoScaling::LifecycleHook', 2);
    template.resourceCountIs('AWS::Events::Rule', 3);
    template.resourceCountIs('AWS::SQS::Queue', 1);
    template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      AutoScalingGroupName: GROUP,
      MinSize: '3',
      MaxSize: '3',
      LaunchTemplate: Match.objectLike({ LaunchTemplateId: Match.anyValue() }),
    });
    // A template change replaces one member at a time, so the cluster keeps its quorum.
    template.hasResource('AWS::AutoScaling::AutoScalingGroup', {
      UpdatePolicy: { AutoScalingRollingUpdate: Match.objectLike({ MaxBatchSize: 1, MinInstancesInService: 2 }) },
    });
  });

  test('a new VPC with flow logs when none is given, none when one is given', () => {
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::FlowLog', 1);
    const app = new App();
    const own = new Stack(app, 'Own', { env: ENV });
    const vpc = new ec2.Vpc(own, 'Given', { maxAzs: 2, natGateways: 1 });
    const cluster = new ElasticEtcdCluster(own, 'Cluster', { vpc });
    assert.equal(cluster.vpc, vpc);
    Template.fromStack(own).resourceCountIs('AWS::EC2::VPC', 1);
  });

  test('launch template: IMDSv2 required, every volume encrypted, the rendered boot script as user data', () => {
    const [launchTemplate] = resourcesOf('AWS::EC2::LaunchTemplate');
    const data = (launchTemplate as { LaunchTemplateData: Json }).LaunchTemplateData;
    assert.deepEqual(data.MetadataOptions, { HttpTokens: 'required', HttpPutResponseHopLimit: 1 });
    const devices = data.BlockDeviceMappings as { Ebs: Json }[];
    assert.ok(devices.length > 0);
    for (const device of devices) assert.equal(device.Ebs.Encrypted, true);
    const userData = (data.UserData as { 'Fn::Base64': string })['Fn::Base64'];
    assert.equal(typeof userData, 'string');
    assert.match(userData, /^#!\/usr\/bin\/env bash\n/);
    assert.match(userData, /readonly PARAMETER_PATH='\/elastic-etcd\/etcd'/);
    assert.match(userData, /readonly ETCD_VERSION='3\.5\.17'/);
    assert.doesNotMatch(userData, /'@[A-Z_]+@'/, 'no placeholder left unfilled');
  });

  test('lifecycle hooks: heartbeat timeouts and fail-safe default results', () => {
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      LifecycleHookName: 'elastic-etcd-launch',
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      HeartbeatTimeout: 600,
      DefaultResult: 'ABANDON',
    });
    template.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      LifecycleHookName: 'elastic-etcd-terminate',
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      HeartbeatTimeout: 300,
      DefaultResult: 'CONTINUE',
    });
    // Hooks publish to EventBridge by default: no notification target, hence no role for one.
    for (const hook of resourcesOf('AWS::AutoScaling::LifecycleHook')) {
      assert.equal(hook.NotificationTargetARN, undefined);
      assert.equal(hook.RoleARN, undefined);
    }
  });

  test('rules for both lifecycle actions and the schedule, each with retries and the dead-letter queue', () => {
    const rules = resourcesOf('AWS::Events::Rule');
    const patterns = rules.map((r) => r.EventPattern).filter(Boolean);
    assert.deepEqual(patterns, [
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
    const queueRef = Object.keys(template.findResources('AWS::SQS::Queue'))[0];
    const functionRef = Object.keys(template.findResources('AWS::Lambda::Function', { Properties: { Runtime: 'nodejs22.x' } }))[0];
    for (const rule of rules) {
      const targets = rule.Targets as Json[];
      assert.equal(targets.length, 1);
      const [target] = targets as [Json];
      assert.deepEqual(target.Arn, { 'Fn::GetAtt': [functionRef, 'Arn'] });
      assert.deepEqual(target.DeadLetterConfig, { Arn: { 'Fn::GetAtt': [queueRef, 'Arn'] } });
      const retry = target.RetryPolicy as { MaximumRetryAttempts: number; MaximumEventAgeInSeconds: number };
      assert.ok(retry.MaximumRetryAttempts >= 3);
      assert.ok(retry.MaximumEventAgeInSeconds <= 600, 'no older than the launch hook timeout');
    }
  });

  test('the dead-letter queue is encrypted and refuses plain HTTP', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });
});

describe('the Lambda', () => {
  const functions = template.findResources('AWS::Lambda::Function', { Properties: { Runtime: 'nodejs22.x' } });

  test('nodejs22.x, bundled, one invocation at a time, in the VPC with its own security group', () => {
    assert.equal(Object.keys(functions).length, 1);
    const [fn] = Object.values(functions) as [{ Properties: Json }];
    const props = fn.Properties;
    assert.equal(props.ReservedConcurrentExecutions, 1);
    assert.equal(props.Timeout, 300);
    assert.equal(props.Handler, 'index.handler');
    const vpcConfig = props.VpcConfig as { SecurityGroupIds: unknown[]; SubnetIds: unknown[] };
    assert.deepEqual(vpcConfig.SecurityGroupIds, [resolve(stack.cluster.lambdaSecurityGroup.securityGroupId)]);
    const privateSubnets = stack.cluster.vpc.privateSubnets.map((s) => resolve(s.subnetId));
    assert.deepEqual(vpcConfig.SubnetIds, privateSubnets);
    // Failed asynchronous invocations end in the same dead-letter queue.
    assert.ok(props.DeadLetterConfig);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 2 });
  });

  test('environment: the contract variables, all strings', () => {
    const [fn] = Object.values(functions) as [{ Properties: { Environment: { Variables: Json } } }];
    const env = fn.Properties.Environment.Variables;
    assert.deepEqual(
      Object.fromEntries(Object.entries(env).filter(([key]) => key.startsWith('ELASTIC_ETCD_'))),
      {
        ELASTIC_ETCD_CLUSTER_NAME: 'etcd',
        ELASTIC_ETCD_PARAMETER_PREFIX: '/elastic-etcd',
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
        ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS: '300',
      },
    );
  });
});

describe('least-privilege IAM', () => {
  const lambdaStatements = statementsOfRole('ClusterLifecycleFunctionServiceRole');
  const instanceStatements = statementsOfRole('ClusterInstanceRole');

  test('the Lambda: parameters under <prefix>/<cluster> only', () => {
    const ssm = lambdaStatements.filter((s) => asArray(s.Action as string | string[]).some((a) => a.startsWith('ssm:')));
    assert.equal(ssm.length, 1);
    const [statement] = ssm as [Json];
    assert.deepEqual(
      [...asArray(statement.Action as string[])].sort(),
      [
        'ssm:AddTagsToResource',
        'ssm:DeleteParameter',
        'ssm:DeleteParameters',
        'ssm:GetParameter',
        'ssm:GetParameters',
        'ssm:GetParametersByPath',
        'ssm:PutParameter',
      ],
    );
    assert.deepEqual(asArray(statement.Resource).map(arnText), [PARAMETER_ARN, `${PARAMETER_ARN}/*`]);
  });

  test('the Lambda: lifecycle actions of this group only; Describe* on * (no resource-level support)', () => {
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
    assert.deepEqual(statement.Condition, {
      StringEquals: { [`ssm:resourceTag/${INSTANCE_ARN_TAG}`]: '${ec2:SourceInstanceARN}' },
    });
    // No managed policies on the instance role (AmazonSSMManagedInstanceCore would grant ssm:GetParameter on *).
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })] } },
    });
    assert.equal(Object.keys(roles).length, 1);
    for (const role of Object.values(roles) as { Properties: Json }[]) assert.equal(role.Properties.ManagedPolicyArns, undefined);
  });
});

describe('security groups', () => {
  const memberGroup = resolve(stack.cluster.memberSecurityGroup.securityGroupId);
  const lambdaGroup = resolve(stack.cluster.lambdaSecurityGroup.securityGroupId);
  const clientGroup = resolve(stack.cluster.clientSecurityGroup.securityGroupId);

  function ingressOf(group: unknown): Json[] {
    const standalone = resourcesOf('AWS::EC2::SecurityGroupIngress').filter((r) => JSON.stringify(r.GroupId) === JSON.stringify(group));
    const inline = Object.entries(template.findResources('AWS::EC2::SecurityGroup'))
      .filter(([logicalId]) => JSON.stringify({ 'Fn::GetAtt': [logicalId, 'GroupId'] }) === JSON.stringify(group))
      .flatMap(([, r]) => ((r as { Properties: Json }).Properties.SecurityGroupIngress as Json[] | undefined) ?? []);
    return [...standalone, ...inline];
  }

  test('members: peer port only from members; client port only from the Lambda, the client group and declared clients', () => {
    const rules = ingressOf(memberGroup).map((r) => ({
      port: r.FromPort,
      toPort: r.ToPort,
      from: r.SourceSecurityGroupId ?? r.CidrIp,
    }));
    assert.deepEqual(
      rules.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      [
        { port: 2379, toPort: 2379, from: '10.99.0.0/16' },
        { port: 2379, toPort: 2379, from: clientGroup },
        { port: 2379, toPort: 2379, from: lambdaGroup },
        { port: 2380, toPort: 2380, from: memberGroup },
      ].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    );
  });

  test('nothing else is reachable: the Lambda and client groups accept no traffic', () => {
    assert.deepEqual(ingressOf(lambdaGroup), []);
    assert.deepEqual(ingressOf(clientGroup), []);
    for (const ingress of [...resourcesOf('AWS::EC2::SecurityGroupIngress')]) {
      assert.notEqual(ingress.CidrIp, '0.0.0.0/0');
    }
  });
});

describe('outputs and props', () => {
  test('outputs name the group, the parameter path and the client security group', () => {
    template.hasOutput('AutoScalingGroupName', { Value: GROUP });
    template.hasOutput('ParameterPath', { Value: '/elastic-etcd/etcd' });
    template.hasOutput('ClientSecurityGroupId', { Value: resolve(stack.cluster.clientSecurityGroup.securityGroupId) });
    template.hasOutput('LogGroupName', { Value: resolve(stack.cluster.logGroup.logGroupName) });
  });

  test('props change the cluster: size, name, prefix, version, install commands, schedule', () => {
    const app = new App();
    const custom = new ElasticEtcdStack(app, 'Custom', {
      env: ENV,
      cluster: {
        clusterSize: 5,
        clusterName: 'prod',
        parameterPrefix: '/teams/storage',
        etcdVersion: '3.5.9',
        etcdInstall: { method: 'commands', commands: ['dnf install -y etcd', 'ln -sf /usr/bin/etcd /usr/local/bin/etcd'] },
        reconcileInterval: Duration.minutes(1),
        healthTimeout: Duration.millis(1500),
        unhealthyAfter: Duration.minutes(2),
      },
    });
    const t = Template.fromStack(custom);
    t.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', { AutoScalingGroupName: 'Custom-prod', MinSize: '5', MaxSize: '5' });
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          ELASTIC_ETCD_CLUSTER_SIZE: '5',
          ELASTIC_ETCD_PARAMETER_PREFIX: '/teams/storage',
          ELASTIC_ETCD_CLUSTER_NAME: 'prod',
          ELASTIC_ETCD_HEALTH_TIMEOUT_MS: '1500',
          ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS: '120',
        }),
      },
    });
    const lt = Object.values(t.findResources('AWS::EC2::LaunchTemplate'))[0] as { Properties: { LaunchTemplateData: Json } };
    const userData = (lt.Properties.LaunchTemplateData.UserData as { 'Fn::Base64': string })['Fn::Base64'];
    assert.match(userData, /readonly PARAMETER_PATH='\/teams\/storage\/prod'/);
    assert.match(userData, /readonly INSTALL_METHOD='commands'/);
    assert.match(userData, /\n {2}dnf install -y etcd\n {2}ln -sf \/usr\/bin\/etcd \/usr\/local\/bin\/etcd\n/);
  });

  test('bad props are refused with a typed error', () => {
    const cases = [
      { clusterName: 'has space' },
      { clusterName: '' },
      { parameterPrefix: 'no-leading-slash' },
      { parameterPrefix: '/trailing/' },
      { parameterPrefix: '/aws/reserved' },
      { clusterSize: 0 },
      { clusterSize: 2.5 },
      { volumeSizeGiB: 4 },
      // The reconcile passes keep held lifecycle actions alive, so they must come before either hook times out.
      { reconcileInterval: Duration.minutes(5) },
      { reconcileInterval: Duration.minutes(3), terminateHeartbeatTimeout: Duration.minutes(3) },
      // A member is healed only after it stayed unhealthy this long: not less than 30 s, whole seconds, at most a day.
      { unhealthyAfter: Duration.seconds(10) },
      { unhealthyAfter: Duration.millis(90_500) },
      { unhealthyAfter: Duration.hours(25) },
    ];
    for (const props of cases) {
      const scope = new Stack(new App(), 'Bad', { env: ENV });
      assert.throws(() => new ElasticEtcdCluster(scope, 'Cluster', props), InvalidClusterPropsError, JSON.stringify(props));
    }
  });
});
