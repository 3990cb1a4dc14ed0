// A majority lost with a live survivor, end to end: the simulated group running real etcd, the real handler and
// the simulated S3. The survivor runs on without quorum and holds writes newer than the last regular backup; the
// Lambda must save them in a rescue snapshot before the survivor is replaced, then restore the cluster from it.
// Runs on both versions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { timelineFromEnv } from '../sim/timeline.js';
import { startWorld, type World } from '../sim/world.js';

const BUCKET = 'sim-etcd-rescue';
const SHORT_RESTORE_AFTER_MS = 2_000;

const decisionsOf = (world: World, name: string) => world.telemetry!.decisions().filter((d) => d.decision === name);
const snapshotKeys = (world: World) =>
  world.cloud.s3
    .keys(BUCKET)
    .filter((k) => k.endsWith('.manifest.json'))
    .map((k) => k.slice(0, -'.manifest.json'.length));

describe('a majority lost while one member survives: its data is rescued, then restored', () => {
  let world: World;
  let regular: string;
  let lost: string[];
  let survivor: string;
  before(async () => {
    world = await startWorld({
      seed: 145,
      backupBucket: BUCKET,
      backupIntervalSeconds: 600,
      restoreAfterMs: SHORT_RESTORE_AFTER_MS,
      launchWaitMs: 6_000,
      unsafeRecheckMs: 1_000,
      ...timelineFromEnv(),
    });
    const settled = await world.bootstrap(3);
    assert.deepEqual(settled.problems, []);
    for (let i = 0; i < 5; i++) await world.put(`/rescue/before/${i}`, `v${i}`);
    regular = (await world.backUpNow()).key;
    for (let i = 0; i < 7; i++) await world.put(`/rescue/after/${i}`, `late${i}`);
    // As when the majority is lost before any reconcile pass saw the cluster answer: the record does not know
    // that the cluster formed, nor its ID. The survivor answering is the proof that it formed.
    const name = world.parameters.bootstrapName();
    const {
      formedAt: _formedAt,
      clusterId: _clusterId,
      ...unmarked
    } = JSON.parse((await world.parameters.get(name))!) as Record<string, unknown>;
    await world.parameters.put(name, JSON.stringify(unmarked));
  });
  after(async () => world?.close());

  test('two of three lost at once: the survivor runs on without quorum', { timeout: 60_000 }, async () => {
    const members = world.inService();
    lost = await world.loseMajority();
    assert.equal(lost.length, 2);
    survivor = members.find((id) => !lost.includes(id))!;
    assert.ok(world.etcdOf(survivor) !== undefined, 'the survivor still runs etcd');
  });

  test(
    'the survivor is snapshotted, reported unhealthy and replaced; the cluster comes back with every key',
    { timeout: 240_000 },
    async () => {
      const settled = await world.settle({ timeoutMs: 180_000 });
      assert.deepEqual(settled.problems, []);

      const rescues = snapshotKeys(world).filter((k) => k.includes('-rescue-'));
      assert.equal(rescues.length >= 1, true, `a rescue snapshot stored (${snapshotKeys(world).join(', ')})`);
      const rescueDecisions = decisionsOf(world, 'rescue-snapshot');
      assert.ok(rescueDecisions.length >= 1, 'the rescue snapshot is a logged decision');
      const rescued = rescueDecisions.find((d) => String(d.key).includes('-rescue-'));
      assert.ok(rescued !== undefined, 'a decision names the rescue snapshot');
      assert.equal(rescued.member, survivor, 'the survivor is the member snapshotted');
      assert.ok(rescues.includes(String(rescued.key)));

      const reported = decisionsOf(world, 'report-unhealthy').map((d) => d.instanceId);
      assert.ok(reported.includes(survivor), `the survivor reported unhealthy (${JSON.stringify(reported)})`);
      assert.ok(!world.inService().includes(survivor), 'the survivor was replaced');
      assert.ok(lost.every((id) => !world.inService().includes(id)));

      const restores = decisionsOf(world, 'restore');
      assert.equal(restores.length, 1, 'one restore decided');
      assert.equal(restores[0]!.key, rescued.key, 'restored from the rescue snapshot, not the regular backup');
      assert.notEqual(restores[0]!.key, regular);
      assert.equal(world.restoredInstances.length, 3, 'every member of the restore wave restored the snapshot');
      assert.equal(world.bootFailures.length, 0);

      // In that order: the data saved, then the survivor given up, then the restore.
      const all = world.telemetry!.decisions();
      const at = (match: (d: (typeof all)[number]) => boolean) => all.findIndex(match);
      const saved = at((d) => d.decision === 'rescue-snapshot' && d.key === rescued.key);
      const given = at((d) => d.decision === 'report-unhealthy' && d.instanceId === survivor);
      const restored = at((d) => d.decision === 'restore');
      assert.ok(saved < given && given < restored, `rescue ${saved}, report ${given}, restore ${restored}`);

      for (let i = 0; i < 5; i++) assert.equal(await world.get(`/rescue/before/${i}`), `v${i}`);
      for (let i = 0; i < 7; i++) {
        assert.equal(await world.get(`/rescue/after/${i}`), `late${i}`, 'a write after the regular backup is kept');
      }
    },
  );
});
