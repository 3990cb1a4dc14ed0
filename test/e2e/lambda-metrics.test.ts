// The reconcile pass's metrics as CloudWatch receives them: the handler runs with the production telemetry
// (Powertools Metrics), its EMF lines are captured and parsed, and each pass's values must match the cluster
// the world made: healthy, degraded (the leader's etcd killed), drifted (a member removed by hand, so an
// instance in service runs none). Real etcd, TLS on, the simulated group.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, type World } from '../sim/world.js';
import { timelineFromEnv } from '../sim/timeline.js';
import { pollUntil } from '../harness/index.js';
import { CLUSTER_DIMENSION, createTelemetry, METRICS_NAMESPACE, SERVICE_NAME } from '../../src/lambda/log.js';
import { CLUSTER_DEFAULTS } from '../../src/core/defaults.js';

const NAMESPACE = `${CLUSTER_DEFAULTS.parameterPrefix}/metrics`;

interface EmfDocument {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

describe('reconcile pass metrics (EMF)', () => {
  let world: World;
  const lines: string[] = [];

  /** One reconcile pass; answers its EMF document, checked for shape: namespace, dimensions, declared units. */
  async function pass(): Promise<EmfDocument> {
    lines.length = 0;
    const delivery = await world.reconcile();
    assert.equal(delivery.error, undefined, delivery.error?.message);
    const docs = lines.map((l) => JSON.parse(l) as EmfDocument).filter((d) => d._aws !== undefined && 'ReconcilePasses' in d);
    assert.equal(docs.length, 1, `one EMF document with the pass's metrics:\n${lines.join('\n')}`);
    const doc = docs[0]!;
    const [directive] = doc._aws.CloudWatchMetrics;
    assert.equal(directive?.Namespace, METRICS_NAMESPACE);
    assert.deepEqual(
      directive.Dimensions.map((d) => [...d].sort()),
      [[CLUSTER_DIMENSION, 'service']],
    );
    assert.equal(doc[CLUSTER_DIMENSION], NAMESPACE);
    assert.equal(doc.service, SERVICE_NAME);
    const units = Object.fromEntries(directive.Metrics.map((m) => [m.Name, m.Unit]));
    assert.equal(units.ReconcilePasses, 'Count');
    if ('DbSizeOfQuota' in doc) assert.equal(units.DbSizeOfQuota, 'None');
    if ('NewestBackupAge' in doc) assert.equal(units.NewestBackupAge, 'Seconds');
    return doc;
  }

  /** The gauges every pass over a reachable cluster reports. */
  const gauges = (doc: EmfDocument) => ({
    Voters: doc.Voters,
    HealthyVoters: doc.HealthyVoters,
    QuorumMargin: doc.QuorumMargin,
    MembersWithoutInstance: doc.MembersWithoutInstance,
    InstancesWithoutMember: doc.InstancesWithoutMember,
    Learners: doc.Learners,
  });

  before(async () => {
    const telemetry = createTelemetry({
      clusterName: 'metrics',
      clusterDimension: NAMESPACE,
      logLevel: 'SILENT',
      emf: (line) => lines.push(line),
    });
    world = await startWorld({ seed: 1717, clusterName: 'metrics', telemetry, backupBucket: 'metrics-backups', ...timelineFromEnv() });
    const formed = await world.bootstrap(3);
    assert.deepEqual(formed.problems, []);
    await world.put('/e2e/metrics', 'a value');
  });
  after(async () => world.close());

  test('a healthy cluster: three healthy voters, margin 1, no drift, a small database, a fresh backup', { timeout: 120_000 }, async () => {
    await pass(); // the first pass records the raft term: leader changes are counted from here on
    const doc = await pass();
    assert.deepEqual(gauges(doc), {
      Voters: 3,
      HealthyVoters: 3,
      QuorumMargin: 1,
      MembersWithoutInstance: 0,
      InstancesWithoutMember: 0,
      Learners: 0,
    });
    assert.equal(doc.ReconcilePasses, 1);
    assert.equal(doc.LeaderChanges, 0, 'no election since the last pass');
    const fraction = doc.DbSizeOfQuota as number;
    assert.ok(fraction > 0 && fraction < 0.01, `a fresh database is a sliver of the 2 GiB quota: ${fraction}`);
    const age = doc.NewestBackupAge as number;
    assert.ok(age >= 0 && age < 60, `the pass took (or found) a fresh snapshot: ${age} s`);
  });

  test('a degraded cluster: the leader killed, two healthy voters, margin 0, an election seen', { timeout: 120_000 }, async () => {
    const ids = world.inService();
    const statuses = await Promise.all(ids.map(async (id) => ({ id, status: await world.status(id) })));
    const leader = statuses.find((s) => s.status !== undefined && s.status.leader === s.status.memberId)?.id;
    assert.ok(leader !== undefined, 'one member leads');
    await world.killEtcd(leader);
    // The survivors elect a new leader before the pass looks (otherwise none would count as healthy).
    await pollUntil(
      async () => {
        const answers = await Promise.all(ids.filter((id) => id !== leader).map((id) => world.status(id)));
        return answers.every((s) => s !== undefined && s.leader !== 0n) ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'a new leader' },
    );
    const doc = await pass();
    assert.deepEqual(gauges(doc), {
      Voters: 3,
      HealthyVoters: 2,
      QuorumMargin: 0,
      MembersWithoutInstance: 0,
      InstancesWithoutMember: 0,
      Learners: 0,
    });
    assert.ok((doc.LeaderChanges as number) >= 1, `the election raised the raft term: ${String(doc.LeaderChanges)}`);

    world.etcdOf(leader)?.spawn(); // its etcd comes back on its data
    await world.waitForHealthyMembers();
  });

  test('a drifted cluster: a member removed by hand leaves an instance in service without one', { timeout: 120_000 }, async () => {
    const ids = world.inService();
    const { members } = await world.memberList();
    const victim = members.find((m) => m.name === ids[0]);
    assert.ok(victim !== undefined);
    // etcd refuses a removal while a member that came back lately is not yet counted as active ("unhealthy cluster").
    await pollUntil(async () => ((await world.etcdctl(['member', 'remove', victim.id.toString(16)])).exitCode === 0 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 500,
      what: 'the removal by hand',
    });
    const doc = await pass();
    assert.deepEqual(gauges(doc), {
      Voters: 2,
      HealthyVoters: 2,
      QuorumMargin: 0,
      MembersWithoutInstance: 0,
      InstancesWithoutMember: 1,
      Learners: 0,
    });
    assert.equal(await world.get('/e2e/metrics'), 'a value');
  });
});
