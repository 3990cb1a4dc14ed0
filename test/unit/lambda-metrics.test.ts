// The reconcile pass's metrics (src/lambda/metrics.ts) from a status summary, and the telemetry's EMF output
// (src/lambda/log.ts): gauge units, the cluster dimension, the sink tests read.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { summarizeStatus, type GroupInstanceSample, type MemberProbe, type StatusObservation } from '../../src/core/status.js';
import { createTelemetry, METRICS_NAMESPACE, SERVICE_NAME } from '../../src/lambda/log.js';
import { highestRaftTerm, summaryGauges } from '../../src/lambda/metrics.js';
import { BASE_ID, member } from './fixtures.js';

const CLUSTER = 0xc1a57e5n;
const id = (n: number): bigint => BASE_ID + BigInt(n);
const GiB = 1024 ** 3;

function answer(
  n: number,
  over: { dbSize?: bigint; raftTerm?: bigint; leader?: bigint; clusterId?: bigint; isLearner?: boolean } = {},
): MemberProbe {
  return {
    kind: 'answered',
    status: {
      clusterId: over.clusterId ?? CLUSTER,
      memberId: id(n),
      leader: over.leader ?? id(1),
      raftIndex: 100n,
      isLearner: over.isLearner ?? false,
      version: '3.5.30',
      dbSize: over.dbSize ?? 1024n,
      errors: [],
      // What the adapter's status answer carries besides the summary's fields.
      ...(over.raftTerm !== undefined && { raftTerm: over.raftTerm }),
    },
  };
}

function instance(n: number, over: Partial<GroupInstanceSample> = {}): GroupInstanceSample {
  return { instanceId: `i-${n}`, lifecycleState: 'InService', privateIp: `10.0.0.${n}`, ec2State: 'running', ...over };
}

function observation(probes: [number, MemberProbe][], extra: Partial<StatusObservation> = {}): StatusObservation {
  return {
    clusterId: CLUSTER,
    members: probes.map(([n]) => member(n)),
    probes: new Map(probes.map(([n, p]) => [id(n), p])),
    alarms: [],
    ...extra,
  };
}

describe('summaryGauges', () => {
  test('a healthy cluster matching its group: all voters healthy, margin 1, no drift, the largest DB over the quota', () => {
    const obs = observation(
      [
        [1, answer(1, { dbSize: BigInt(GiB / 4) })],
        [2, answer(2, { dbSize: BigInt(GiB / 2) })],
        [3, answer(3)],
      ],
      { group: { name: 'g', instances: [instance(1), instance(2), instance(3)] } },
    );
    assert.deepEqual(summaryGauges(summarizeStatus(obs), GiB), {
      Voters: 3,
      HealthyVoters: 3,
      QuorumMargin: 1,
      MembersWithoutInstance: 0,
      InstancesWithoutMember: 0,
      Learners: 0,
      DbSizeOfQuota: 0.5,
    });
  });

  test('drift both ways; a launching instance without a member is not drift; learners counted', () => {
    const obs = observation(
      [
        [1, answer(1)],
        [2, answer(2)],
        [3, answer(3)],
      ],
      {
        members: [member(1), member(2), member(3, { isLearner: true })],
        group: {
          name: 'g',
          instances: [instance(1), instance(2), instance(4), instance(5, { lifecycleState: 'Pending:Wait' })],
        },
      },
    );
    const gauges = summaryGauges(summarizeStatus(obs), GiB);
    assert.deepEqual(
      [
        gauges.Voters,
        gauges.HealthyVoters,
        gauges.QuorumMargin,
        gauges.MembersWithoutInstance,
        gauges.InstancesWithoutMember,
        gauges.Learners,
      ],
      [2, 2, 0, 1, 1, 1],
    );
  });

  test('a member down: margin 0; without any DB size reported, no DbSizeOfQuota', () => {
    const down: MemberProbe = { kind: 'failed', error: 'timeout' };
    const gauges = summaryGauges(
      summarizeStatus(
        observation([
          [1, answer(1)],
          [2, answer(2)],
          [3, down],
        ]),
      ),
      GiB,
    );
    assert.deepEqual([gauges.HealthyVoters, gauges.QuorumMargin, gauges.MembersWithoutInstance], [2, 0, 0]);
    const none = summaryGauges(summarizeStatus(observation([[1, down]])), GiB);
    assert.equal('DbSizeOfQuota' in none, false);
    assert.equal(none.QuorumMargin, -1);
  });
});

describe('highestRaftTerm', () => {
  test('the highest term among answers for this cluster; answers of another cluster and failures ignored', () => {
    const obs = observation([
      [1, answer(1, { raftTerm: 7n })],
      [2, answer(2, { raftTerm: 9n })],
      [3, answer(3, { raftTerm: 50n, clusterId: 0xdeadn })],
      [4, { kind: 'failed', error: 'refused' }],
    ]);
    assert.equal(highestRaftTerm(obs), 9n);
  });

  test('no term in any answer: undefined', () => {
    assert.equal(highestRaftTerm(observation([[1, answer(1)]])), undefined);
  });
});

test('EMF: gauges in their units, the cluster dimension as given, one line per flush to the sink', () => {
  const lines: string[] = [];
  const telemetry = createTelemetry({
    clusterName: 'etcd',
    clusterDimension: '/elastic-etcd/prod/etcd',
    logLevel: 'SILENT',
    emf: (l) => lines.push(l),
  });
  telemetry.gauge('DbSizeOfQuota', 0.25);
  telemetry.gauge('NewestBackupAge', 42);
  telemetry.gauge('QuorumMargin', -1);
  telemetry.count('ReconcilePasses');
  telemetry.flush();
  telemetry.flush(); // nothing stored: nothing written
  assert.equal(lines.length, 1);
  const doc = JSON.parse(lines[0]!) as Record<string, unknown> & {
    _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  };
  const [directive] = doc._aws.CloudWatchMetrics;
  assert.equal(directive?.Namespace, METRICS_NAMESPACE);
  assert.deepEqual(
    directive.Dimensions.map((d) => [...d].sort()),
    [['cluster', 'service']],
  );
  assert.equal(doc.cluster, '/elastic-etcd/prod/etcd');
  assert.equal(doc.service, SERVICE_NAME);
  assert.deepEqual(Object.fromEntries(directive.Metrics.map((m) => [m.Name, m.Unit])), {
    DbSizeOfQuota: 'None',
    NewestBackupAge: 'Seconds',
    QuorumMargin: 'Count',
    ReconcilePasses: 'Count',
  });
  assert.deepEqual([doc.DbSizeOfQuota, doc.NewestBackupAge, doc.QuorumMargin, doc.ReconcilePasses], [0.25, 42, -1, 1]);
});
