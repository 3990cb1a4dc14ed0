// The rescue step of the Lambda (rescueSurvivors), fast: the simulated cloud (real SDK clients for S3 and Auto
// Scaling) and the etcd gateway double on the instances' own addresses, two of three members down. The order
// is the safety rule: no survivor is reported Unhealthy before the rescue snapshot is stored with its manifest,
// and none at all when the snapshot fails (damaged stream, S3 failing), a survivor does not answer, or the
// cluster has quorum. The same against real etcd: test/integration/rescue.test.ts.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { MANIFEST_SUFFIX } from '../../src/adapters/aws/backups.js';
import type { AutoScalingAdapter } from '../../src/adapters/aws/index.js';
import { loadGroup, type GroupView } from '../../src/lambda/group.js';
import { rescueSurvivors, type RescueDeps } from '../../src/lambda/rescue.js';
import { startWorld, type World } from '../sim/world.js';
import { doubleMemberId, doubleVoters, EtcdGatewayDouble } from './etcd-gateway-double.js';

const BUCKET = 'rescue-backups';

describe('rescuing the survivors of a lost majority', () => {
  let world: World;
  let double: EtcdGatewayDouble;
  let ids: string[];
  let group: GroupView;
  let deps: RescueDeps;
  /** Each Unhealthy report, with the manifests in the bucket at that moment. */
  let reports: { instanceId: string; manifests: string[] }[];

  const manifests = (): string[] => world.cloud.s3.keys(BUCKET).filter((k) => k.endsWith(MANIFEST_SUFFIX));
  const unhealthyCalls = () => world.cloud.callsOf('SetInstanceHealth');
  let decisionsFrom: number;
  /** The decisions logged since the group was set up. */
  const decisions = () => (world.telemetry?.decisions() ?? []).slice(decisionsFrom).map((d) => d.decision);

  beforeEach(async () => {
    world = await startWorld({ seed: 21, boot: 'none', clusterSize: 3, backupBucket: BUCKET, tls: false });
    await world.scaleTo(3);
    await world.runUntilQuiet({ reconcile: 'never' });
    ids = world.inService().sort();
    assert.equal(ids.length, 3);
    double = new EtcdGatewayDouble(doubleVoters(ids, (id) => world.instance(id).privateIp, world.config.clientPort));
    double.put('/app/written-after-the-last-backup', 'yes');
    group = await loadGroup(world.config.autoScalingGroup, world.deps.autoScaling, world.deps.ec2);
    reports = [];
    const adapter = world.deps.autoScaling;
    const spied = Object.create(adapter) as AutoScalingAdapter;
    spied.setInstanceUnhealthy = async (instanceId: string) => {
      reports.push({ instanceId, manifests: manifests() });
      return adapter.setInstanceUnhealthy(instanceId);
    };
    deps = { ...world.deps, autoScaling: spied };
    decisionsFrom = world.telemetry?.decisions().length ?? 0;
  });
  afterEach(async () => {
    await double.close();
    await world.close();
  });

  test('the survivor is reported Unhealthy only after its snapshot and manifest are stored', async () => {
    const [survivor, ...dead] = ids as [string, string, string];
    await double.start(dead.map((id) => doubleMemberId(ids, id)));
    assert.equal(await rescueSurvivors(group, [survivor], deps), 'rescued');

    const stored = manifests();
    assert.equal(stored.length, 1);
    assert.match(stored[0]!, /-rescue-[0-9a-f]{8}\.db\.manifest\.json$/);
    assert.deepEqual(reports, [{ instanceId: survivor, manifests: stored }], 'reported once, with the manifest already there');
    assert.deepEqual(
      unhealthyCalls().map((c) => [c.params.InstanceId, c.params.HealthStatus, c.error]),
      [[survivor, 'Unhealthy', undefined]],
    );
    assert.ok(double.operations.includes('maintenance/snapshot'));
    assert.deepEqual(decisions(), ['rescue-snapshot', 'report-unhealthy']);
    const manifest = JSON.parse(world.cloud.s3.object(BUCKET, stored[0]!)!.body.toString('utf8')) as Record<string, unknown>;
    assert.equal(manifest.memberId, doubleMemberId(ids, survivor).toString(16));
    assert.equal(manifest.revision, '2');
  });

  test('a snapshot that fails its checksum: nothing stored, nobody reported, the rule waits', async () => {
    const [survivor, ...dead] = ids as [string, string, string];
    await double.start(dead.map((id) => doubleMemberId(ids, id)));
    double.snapshotDamaged = true;
    const result = await rescueSurvivors(group, [survivor], deps);
    assert.ok(typeof result === 'object' && /could not be taken or stored/.test(result.waiting), JSON.stringify(result));
    assert.deepEqual(manifests(), []);
    assert.deepEqual(world.cloud.s3.keys(BUCKET), [], 'no object that could be taken for a snapshot');
    assert.deepEqual(reports, []);
    assert.deepEqual(unhealthyCalls(), []);
    assert.deepEqual(decisions(), ['rescue-wait']);
  });

  test('S3 failing the upload: nobody reported', async () => {
    const [survivor, ...dead] = ids as [string, string, string];
    await double.start(dead.map((id) => doubleMemberId(ids, id)));
    world.cloud.s3.failNext('PutObject', 20);
    const result = await rescueSurvivors(group, [survivor], deps);
    assert.notEqual(result, 'rescued');
    assert.deepEqual(manifests(), []);
    assert.deepEqual(unhealthyCalls(), []);
  });

  test('a survivor that does not answer: no snapshot is taken, nobody reported', async () => {
    const [first, second, dead] = ids as [string, string, string];
    await double.start([doubleMemberId(ids, second), doubleMemberId(ids, dead)]);
    const result = await rescueSurvivors(group, [first, second], deps);
    assert.ok(typeof result === 'object' && /did not answer/.test(result.waiting), JSON.stringify(result));
    assert.ok(!double.operations.includes('maintenance/snapshot'));
    assert.deepEqual(world.cloud.s3.keys(BUCKET), []);
    assert.deepEqual(unhealthyCalls(), []);
  });

  test('a cluster with quorum is not rescued', async () => {
    await double.start();
    const result = await rescueSurvivors(group, ids, deps);
    assert.ok(typeof result === 'object' && /quorum/.test(result.waiting), JSON.stringify(result));
    assert.deepEqual(world.cloud.s3.keys(BUCKET), []);
    assert.deepEqual(unhealthyCalls(), []);
  });

  /** A stored snapshot (object and manifest) of `clusterId` at `revision`, as an earlier rescue or backup left it. */
  const storeEarlier = (clusterId: bigint, revision: string): string => {
    const key = world.deps.backups!.newKey(new Date(), 'earlier');
    const body = Buffer.from('an earlier snapshot');
    world.cloud.s3.putRaw(BUCKET, key, body);
    const manifest = {
      format: 1,
      sha256: 'ab'.repeat(32),
      size: body.length,
      revision,
      clusterId: clusterId.toString(16),
      memberId: doubleMemberId(ids, ids[0]!).toString(16),
      memberCount: 3,
      etcdVersion: '3.4.23',
      takenAt: new Date().toISOString(),
    };
    world.cloud.s3.putRaw(BUCKET, `${key}${MANIFEST_SUFFIX}`, Buffer.from(JSON.stringify(manifest)));
    return `${key}${MANIFEST_SUFFIX}`;
  };

  test('a stored snapshot of this cluster at a later revision covers the survivors: reported, nothing older stored', async () => {
    // What a second run finds after the most advanced survivor was rescued and replaced: the rest are behind it.
    const [survivor, ...dead] = ids as [string, string, string];
    await double.start(dead.map((id) => doubleMemberId(ids, id)));
    const earlier = storeEarlier(double.clusterId, '5');
    assert.equal(await rescueSurvivors(group, [survivor], deps), 'rescued');
    assert.deepEqual(manifests(), [earlier], 'no new snapshot');
    assert.ok(!double.operations.includes('maintenance/snapshot'));
    assert.deepEqual(reports, [{ instanceId: survivor, manifests: [earlier] }]);
    assert.deepEqual(decisions(), ['rescue-snapshot', 'report-unhealthy']);
  });

  test('a stored snapshot of another cluster, or of an equal revision, covers nothing: a new one is taken first', async () => {
    const [survivor, ...dead] = ids as [string, string, string];
    await double.start(dead.map((id) => doubleMemberId(ids, id)));
    storeEarlier(double.clusterId + 1n, '5');
    assert.equal(await rescueSurvivors(group, [survivor], deps), 'rescued');
    assert.equal(manifests().length, 2);
    storeEarlier(double.clusterId, '2');
    assert.equal(await rescueSurvivors(group, [survivor], deps), 'rescued', 'run again at the same revision');
    assert.equal(manifests().length, 4);
    assert.equal(double.operations.filter((op) => op === 'maintenance/snapshot').length, 2);
    assert.deepEqual(
      reports.map((r) => [r.instanceId, r.manifests.length]),
      [
        [survivor, 2],
        [survivor, 4],
      ],
    );
  });
});
