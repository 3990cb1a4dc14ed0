// Template assertions for the alarms, their topic and the dashboard (infra/observability.ts): for every alarm its
// metric (namespace, name, dimensions, statistic, period), threshold, comparison, evaluation, missing-data
// treatment and actions; the topic's encryption and subscription; the dashboard's widgets.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { ElasticEtcdClusterProps } from '../../infra/elastic-etcd-cluster.js';
import { ElasticEtcdStack } from '../../infra/stack.js';
import { DEFAULT_ALARM_THRESHOLDS, passPeriod } from '../../infra/observability.js';
import { CLUSTER_DIMENSION, GAUGES, METRICS_NAMESPACE, SERVICE_NAME } from '../../src/lambda/log.js';

function synth(cluster: ElasticEtcdClusterProps) {
  const stack = new ElasticEtcdStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Observed', {
    env: { account: '123456789012', region: 'eu-west-1' },
    cluster,
  });
  return { stack, template: Template.fromStack(stack) };
}

const { stack, template } = synth({ alarmEmail: 'oncall@example.com', reconcileInterval: Duration.minutes(2) });
const dimension = stack.cluster.parameterPath;
const topicRef = { Ref: stack.getLogicalId(stack.cluster.alarmTopic.node.defaultChild as never) };
const ourDimensions = [
  { Name: CLUSTER_DIMENSION, Value: dimension },
  { Name: 'service', Value: SERVICE_NAME },
];

/** The one alarm whose description starts with the cluster's prefix and contains `text`. */
function alarmWith(text: string): Record<string, unknown> {
  const found = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((r) =>
    String((r as { Properties: { AlarmDescription?: string } }).Properties.AlarmDescription).includes(text),
  );
  assert.equal(found.length, 1, `one alarm about "${text}"`);
  return (found[0] as { Properties: Record<string, unknown> }).Properties;
}

function assertActions(props: Record<string, unknown>): void {
  assert.deepEqual(props.AlarmActions, [topicRef]);
  assert.deepEqual(props.OKActions, [topicRef]);
}

describe('observability: alarms, topic and dashboard', () => {
  test('the cluster dimension is the parameter namespace, as the Lambda sets it', () => {
    assert.match(dimension, /^\/elastic-etcd\/Observed\/etcd$/);
  });

  test('quorum margin at zero for two passes (2-minute periods, missing data not breaching)', () => {
    const a = alarmWith('quorum margin');
    assert.deepEqual(
      {
        Namespace: a.Namespace,
        MetricName: a.MetricName,
        Statistic: a.Statistic,
        Period: a.Period,
        Threshold: a.Threshold,
        ComparisonOperator: a.ComparisonOperator,
        EvaluationPeriods: a.EvaluationPeriods,
        DatapointsToAlarm: a.DatapointsToAlarm,
        TreatMissingData: a.TreatMissingData,
      },
      {
        Namespace: METRICS_NAMESPACE,
        MetricName: 'QuorumMargin',
        Statistic: 'Minimum',
        Period: 120,
        Threshold: 0,
        ComparisonOperator: 'LessThanOrEqualToThreshold',
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
        TreatMissingData: 'notBreaching',
      },
    );
    assert.deepEqual(a.Dimensions, ourDimensions);
    assertActions(a);
  });

  test('membership drift: members without an instance plus instances without a member, above 0 for 3 passes', () => {
    const a = alarmWith('did not match');
    assert.equal(a.ComparisonOperator, 'GreaterThanThreshold');
    assert.equal(a.Threshold, 0);
    assert.equal(a.EvaluationPeriods, 3);
    assert.equal(a.DatapointsToAlarm, 3);
    assert.equal(a.TreatMissingData, 'notBreaching');
    const metrics = a.Metrics as {
      Id: string;
      Expression?: string;
      MetricStat?: { Metric: { MetricName: string; Namespace: string; Dimensions: unknown }; Stat: string; Period: number };
      ReturnData?: boolean;
    }[];
    const expression = metrics.find((m) => m.Expression !== undefined);
    assert.equal(expression?.Expression, 'members + instances');
    const stats = metrics.filter((m) => m.MetricStat !== undefined).map((m) => m.MetricStat!);
    assert.deepEqual(stats.map((s) => [s.Metric.MetricName, s.Stat, s.Period, s.Metric.Namespace]).sort(), [
      ['InstancesWithoutMember', 'Maximum', 120, METRICS_NAMESPACE],
      ['MembersWithoutInstance', 'Maximum', 120, METRICS_NAMESPACE],
    ]);
    for (const s of stats) assert.deepEqual(s.Metric.Dimensions, ourDimensions);
    assertActions(a);
  });

  test('database above 80 % of the quota', () => {
    const a = alarmWith('space quota');
    assert.deepEqual(
      [a.MetricName, a.Statistic, a.Period, a.Threshold, a.ComparisonOperator, a.EvaluationPeriods, a.TreatMissingData],
      ['DbSizeOfQuota', 'Maximum', 120, 0.8, 'GreaterThanThreshold', 1, 'notBreaching'],
    );
    assert.deepEqual(a.Dimensions, ourDimensions);
    assertActions(a);
  });

  test('no reconcile pass for 3 intervals, missing data breaching', () => {
    const a = alarmWith('no reconcile pass');
    assert.deepEqual(
      [
        a.MetricName,
        a.Statistic,
        a.Period,
        a.Threshold,
        a.ComparisonOperator,
        a.EvaluationPeriods,
        a.DatapointsToAlarm,
        a.TreatMissingData,
      ],
      ['ReconcilePasses', 'Sum', 120, 1, 'LessThanThreshold', 3, 3, 'breaching'],
    );
    assert.deepEqual(a.Dimensions, ourDimensions);
    assertActions(a);
  });

  test('a launch ABANDONed', () => {
    const a = alarmWith('ABANDONed');
    assert.deepEqual(
      [a.MetricName, a.Statistic, a.Period, a.Threshold, a.ComparisonOperator, a.EvaluationPeriods, a.TreatMissingData],
      ['LaunchesAbandoned', 'Sum', 300, 1, 'GreaterThanOrEqualToThreshold', 1, 'notBreaching'],
    );
    assert.deepEqual(a.Dimensions, ourDimensions);
    assertActions(a);
  });

  test('Lambda errors and throttles, on the lifecycle function', () => {
    const functionRef = { Ref: stack.getLogicalId(stack.cluster.lifecycleFunction.node.defaultChild as never) };
    for (const [text, metric] of [
      ['Lambda failed', 'Errors'],
      ['Lambda was throttled', 'Throttles'],
    ] as const) {
      const a = alarmWith(text);
      assert.deepEqual(
        [a.Namespace, a.MetricName, a.Statistic, a.Period, a.Threshold, a.ComparisonOperator, a.EvaluationPeriods, a.TreatMissingData],
        ['AWS/Lambda', metric, 'Sum', 300, 1, 'GreaterThanOrEqualToThreshold', 1, 'notBreaching'],
      );
      assert.deepEqual(a.Dimensions, [{ Name: 'FunctionName', Value: functionRef }]);
      assertActions(a);
    }
  });

  test('anything in either dead-letter queue', () => {
    for (const [name, queue] of [
      ['dead-letter queue Queue', stack.cluster.queueDeadLetterQueue],
      ['dead-letter queue Delivery', stack.cluster.deadLetterQueue],
    ] as const) {
      const a = alarmWith(name);
      assert.deepEqual(
        [a.Namespace, a.MetricName, a.Statistic, a.Period, a.Threshold, a.ComparisonOperator, a.EvaluationPeriods, a.TreatMissingData],
        ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'Maximum', 300, 1, 'GreaterThanOrEqualToThreshold', 1, 'notBreaching'],
      );
      const queueName = { 'Fn::GetAtt': [stack.getLogicalId(queue.node.defaultChild as never), 'QueueName'] };
      assert.deepEqual(a.Dimensions, [{ Name: 'QueueName', Value: queueName }]);
      assertActions(a);
    }
  });

  test('nine alarms in all, each with the topic as its action', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    assert.equal(alarms.length, 9);
    assert.equal(Object.keys(stack.cluster.observability.alarms).length, 9);
  });

  test('the topic: KMS-encrypted with a rotating key CloudWatch may use, TLS only, with the e-mail subscription', () => {
    const keyRef = stack.getLogicalId(stack.cluster.observability.alarmTopicKey.node.defaultChild as never);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [keyRef, 'Arn'] } });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Condition: { StringEquals: { 'aws:SourceAccount': '123456789012' } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com', TopicArn: topicRef });
  });

  test('the dashboard shows the alarms and every gauge, the Lambda and the dead-letter queues', () => {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    assert.equal(dashboards.length, 1);
    const body = JSON.stringify(stack.resolve((dashboards[0] as { Properties: { DashboardBody: unknown } }).Properties.DashboardBody));
    for (const name of [
      ...Object.keys(GAUGES),
      'ReconcilePasses',
      'LaunchesAbandoned',
      'Errors',
      'Throttles',
      'ApproximateNumberOfMessagesVisible',
    ]) {
      assert.ok(body.includes(name), `the dashboard shows ${name}`);
    }
    assert.ok(body.includes('\\"type\\":\\"alarm\\"'), 'an alarm status widget');
  });

  test('thresholds are props: each given one replaces its default, the rest keep theirs', () => {
    const custom = synth({ alarmThresholds: { dbSizeOfQuota: 0.6, missedReconcilePasses: 5 }, reconcileInterval: Duration.minutes(3) });
    assert.equal(custom.stack.cluster.observability.thresholds.quorumMarginPasses, DEFAULT_ALARM_THRESHOLDS.quorumMarginPasses);
    const alarms = Object.values(custom.template.findResources('AWS::CloudWatch::Alarm')).map(
      (r) => (r as { Properties: Record<string, unknown> }).Properties,
    );
    const db = alarms.find((a) => a.MetricName === 'DbSizeOfQuota');
    assert.equal(db?.Threshold, 0.6);
    const heartbeat = alarms.find((a) => a.MetricName === 'ReconcilePasses');
    assert.deepEqual([heartbeat?.EvaluationPeriods, heartbeat?.Period], [5, 180], 'a 3-minute interval rounds up to 2-minute periods');
    custom.template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  test('an interval is rounded up to whole minutes for the alarm period', () => {
    assert.equal(passPeriod(Duration.seconds(30)).toSeconds(), 60);
    assert.equal(passPeriod(Duration.minutes(5)).toSeconds(), 300);
    assert.equal(passPeriod(Duration.seconds(61)).toSeconds(), 120);
  });
});
