// The alarms that wake someone and the dashboard that shows why: over the metrics the reconcile pass emits
// (src/lambda/metrics.ts, EMF), the Lambda's own and the dead-letter queues'. Every alarm notifies one SNS topic,
// encrypted with a customer-managed KMS key, with an optional e-mail subscription.
import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CLUSTER_DIMENSION, METRICS_NAMESPACE, SERVICE_NAME, type Counter, type Gauge } from '../src/lambda/log.js';

/** When each alarm fires. Every threshold in one place; each is a prop of ElasticEtcdCluster (`alarmThresholds`). */
export interface AlarmThresholds {
  /** The quorum margin alarm fires at or below this margin (0: one more voter failure loses the quorum). */
  readonly quorumMargin: number;
  /**
   * ...for this many reconcile passes in a row. A planned replacement (a rolling update) holds the margin at 0 for
   * about one pass while the new member joins; two in a row mean it is not healing by itself.
   */
  readonly quorumMarginPasses: number;
  /** Members without an instance plus instances without a member, for more than this many passes in a row. */
  readonly driftPasses: number;
  /** The largest member database as a fraction of the space quota; etcd turns read-only (NOSPACE) at 1. */
  readonly dbSizeOfQuota: number;
  /** Reconcile passes in a row that did not happen (no data counts as missing: the Lambda may be gone). */
  readonly missedReconcilePasses: number;
  /** Launches ABANDONed within one period (five minutes). */
  readonly launchesAbandoned: number;
  /** Lambda errors within one period (five minutes). */
  readonly lambdaErrors: number;
  /** Lambda throttles within one period (five minutes). */
  readonly lambdaThrottles: number;
  /** Messages in a dead-letter queue. */
  readonly deadLetterMessages: number;
}

/** The defaults of every threshold (infra/README.md, "Alarms and dashboard"). */
export const DEFAULT_ALARM_THRESHOLDS: AlarmThresholds = {
  quorumMargin: 0,
  quorumMarginPasses: 2,
  driftPasses: 3,
  dbSizeOfQuota: 0.8,
  missedReconcilePasses: 3,
  launchesAbandoned: 1,
  lambdaErrors: 1,
  lambdaThrottles: 1,
  deadLetterMessages: 1,
};

/** The period of the alarms on events (errors, throttles, abandoned launches, dead letters). */
export const EVENT_PERIOD = Duration.minutes(5);

export interface ObservabilityProps {
  /** The value of the metrics' `cluster` dimension: the cluster's parameter namespace `<prefix>/<cluster>`. */
  readonly clusterDimension: string;
  /** A human name for titles (the cluster's name). */
  readonly clusterName: string;
  readonly lifecycleFunction: lambda.IFunction;
  /** Each dead-letter queue with the name its alarm and widget get. */
  readonly deadLetterQueues: Readonly<Record<string, sqs.IQueue>>;
  /** How often the reconcile pass runs: one pass, one datapoint per gauge. */
  readonly reconcileInterval: Duration;
  /** Subscribed to the alarm topic by e-mail (it must be confirmed from the mail AWS sends). */
  readonly alarmEmail?: string;
  readonly thresholds?: Partial<AlarmThresholds>;
}

/** The alarms by name; the same names are the construct IDs. */
export type AlarmName =
  | 'QuorumMargin'
  | 'MembershipDrift'
  | 'DbSizeOfQuota'
  | 'ReconcileMissing'
  | 'LaunchAbandoned'
  | 'LambdaErrors'
  | 'LambdaThrottles'
  | `DeadLetters${string}`;

/**
 * Alarms, their SNS topic and a dashboard for one cluster. Every alarm notifies `alarmTopic` when it fires and
 * when it is OK again. Missing data counts as not breaching everywhere but the reconcile heartbeat: a silent
 * Lambda is caught by that one alarm (and by its errors), not by every gauge at once.
 */
export class Observability extends Construct {
  /** The alarms' topic (KMS-encrypted, TLS only): subscribe pagers, chat or e-mail to it. */
  readonly alarmTopic: sns.Topic;
  /** The customer-managed key (rotation on) that encrypts the topic; CloudWatch may use it to publish. */
  readonly alarmTopicKey: kms.Key;
  readonly alarms: Readonly<Record<string, cloudwatch.Alarm>>;
  readonly dashboard: cloudwatch.Dashboard;
  /** The thresholds in force (defaults with the props applied). */
  readonly thresholds: AlarmThresholds;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const thresholds = { ...DEFAULT_ALARM_THRESHOLDS, ...props.thresholds };
    this.thresholds = thresholds;
    const pass = passPeriod(props.reconcileInterval);

    this.alarmTopicKey = new kms.Key(this, 'AlarmTopicKey', {
      description: `elastic-etcd ${props.clusterName}: the alarm topic's encryption`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch publishes to an encrypted topic only when the key lets it (SNS Developer Guide, "Encryption at
    // rest": AWS service event sources), and only alarms of this account.
    this.alarmTopicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: `elastic-etcd ${props.clusterName} alarms`,
      masterKey: this.alarmTopicKey,
      enforceSSL: true,
    });
    if (props.alarmEmail !== undefined) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    const metric = (name: Gauge | Counter, statistic: string, period: Duration, label?: string): cloudwatch.Metric =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { [CLUSTER_DIMENSION]: props.clusterDimension, service: SERVICE_NAME },
        statistic,
        period,
        ...(label !== undefined && { label }),
      });
    const fn = props.lifecycleFunction;
    const alarms: Record<string, cloudwatch.Alarm> = {};
    const alarm = (
      name: AlarmName,
      description: string,
      options: Omit<cloudwatch.CreateAlarmOptions, 'alarmDescription'>,
      m: cloudwatch.Metric | cloudwatch.MathExpression,
    ) => {
      const created = m.createAlarm(this, `${name}Alarm`, {
        alarmDescription: `elastic-etcd ${props.clusterName}: ${description}`,
        ...options,
      });
      created.addAlarmAction(new actions.SnsAction(this.alarmTopic));
      created.addOkAction(new actions.SnsAction(this.alarmTopic));
      alarms[name] = created;
      return created;
    };
    const notBreaching = cloudwatch.TreatMissingData.NOT_BREACHING;

    alarm(
      'QuorumMargin',
      `the quorum margin was at most ${thresholds.quorumMargin} for ${thresholds.quorumMarginPasses} reconcile passes: one more voter failure loses the quorum`,
      {
        threshold: thresholds.quorumMargin,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: thresholds.quorumMarginPasses,
        datapointsToAlarm: thresholds.quorumMarginPasses,
        treatMissingData: notBreaching,
      },
      metric('QuorumMargin', 'Minimum', pass),
    );
    alarm(
      'MembershipDrift',
      `members and group instances did not match for ${thresholds.driftPasses} reconcile passes (members without an instance plus instances without a member)`,
      {
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: thresholds.driftPasses,
        datapointsToAlarm: thresholds.driftPasses,
        treatMissingData: notBreaching,
      },
      new cloudwatch.MathExpression({
        expression: 'members + instances',
        usingMetrics: {
          members: metric('MembersWithoutInstance', 'Maximum', pass),
          instances: metric('InstancesWithoutMember', 'Maximum', pass),
        },
        period: pass,
        label: 'drift',
      }),
    );
    alarm(
      'DbSizeOfQuota',
      `a member's database is above ${thresholds.dbSizeOfQuota * 100} % of the space quota; at 100 % etcd raises NOSPACE and turns read-only`,
      {
        threshold: thresholds.dbSizeOfQuota,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: notBreaching,
      },
      metric('DbSizeOfQuota', 'Maximum', pass),
    );
    alarm(
      'ReconcileMissing',
      `no reconcile pass ran to its end for ${thresholds.missedReconcilePasses} intervals: nothing repairs the cluster`,
      {
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: thresholds.missedReconcilePasses,
        datapointsToAlarm: thresholds.missedReconcilePasses,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      },
      metric('ReconcilePasses', 'Sum', pass),
    );
    alarm(
      'LaunchAbandoned',
      'a launch was ABANDONed: an instance could not join safely and the group replaces it (see the decision in the logs)',
      {
        threshold: thresholds.launchesAbandoned,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: notBreaching,
      },
      metric('LaunchesAbandoned', 'Sum', EVENT_PERIOD),
    );
    alarm(
      'LambdaErrors',
      'the lifecycle Lambda failed',
      {
        threshold: thresholds.lambdaErrors,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: notBreaching,
      },
      fn.metricErrors({ statistic: 'Sum', period: EVENT_PERIOD }),
    );
    alarm(
      'LambdaThrottles',
      'the lifecycle Lambda was throttled',
      {
        threshold: thresholds.lambdaThrottles,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: notBreaching,
      },
      fn.metricThrottles({ statistic: 'Sum', period: EVENT_PERIOD }),
    );
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      alarm(
        `DeadLetters${name}`,
        `messages wait in the dead-letter queue ${name}: events that were never handled (the reconcile pass repairs what it can)`,
        {
          threshold: thresholds.deadLetterMessages,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: notBreaching,
        },
        queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: EVENT_PERIOD }),
      );
    }
    this.alarms = alarms;

    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: 8, height: 6, ...extra });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      widgets: [
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: Object.values(alarms), width: 24, height: 4 })],
        [
          graph('Voters and quorum margin', [
            metric('Voters', 'Maximum', pass),
            metric('HealthyVoters', 'Minimum', pass),
            metric('QuorumMargin', 'Minimum', pass),
          ]),
          graph('Members and group', [
            metric('MembersWithoutInstance', 'Maximum', pass),
            metric('InstancesWithoutMember', 'Maximum', pass),
            metric('Learners', 'Maximum', pass),
          ]),
          graph('Largest database, fraction of the quota', [metric('DbSizeOfQuota', 'Maximum', pass)], {
            leftAnnotations: [{ value: thresholds.dbSizeOfQuota, label: 'alarm' }],
            leftYAxis: { min: 0, max: 1 },
          }),
        ],
        [
          graph('Newest backup age (s)', [metric('NewestBackupAge', 'Maximum', pass)]),
          graph('Leader changes and reconcile passes', [metric('LeaderChanges', 'Sum', pass), metric('ReconcilePasses', 'Sum', pass)]),
          graph('Decisions', [
            metric('LaunchesAbandoned', 'Sum', EVENT_PERIOD),
            metric('Refusals', 'Sum', EVENT_PERIOD),
            metric('Additions', 'Sum', EVENT_PERIOD),
            metric('Removals', 'Sum', EVENT_PERIOD),
            metric('Promotions', 'Sum', EVENT_PERIOD),
          ]),
        ],
        [
          graph('Lambda errors and throttles', [
            fn.metricErrors({ statistic: 'Sum', period: EVENT_PERIOD }),
            fn.metricThrottles({ statistic: 'Sum', period: EVENT_PERIOD }),
          ]),
          graph(
            'Dead-letter queues',
            Object.entries(props.deadLetterQueues).map(([name, q]) =>
              q.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: EVENT_PERIOD, label: name }),
            ),
          ),
          graph('Lambda duration', [fn.metricDuration({ statistic: 'Maximum', period: EVENT_PERIOD })]),
        ],
      ],
    });
  }
}

/**
 * One reconcile interval as an alarm period: CloudWatch takes periods of whole minutes (beyond 10 s and 30 s
 * high-resolution ones), so an interval is rounded up to the next minute; an unresolved one is used as it is.
 */
export function passPeriod(interval: Duration): Duration {
  if (Token.isUnresolved(interval.toSeconds())) return interval;
  return Duration.minutes(Math.max(1, Math.ceil(interval.toSeconds() / 60)));
}
