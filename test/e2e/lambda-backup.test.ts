// Scheduled backups end to end: the simulated group running real etcd, the real handler, the simulated S3.
// A reconcile pass stores a snapshot when none is fresh (from a follower), the next pass within the interval
// does not, a launch (a membership change) takes one first when the newest is stale; a failing S3 costs the
// lifecycle nothing. Runs on both versions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { timelineFromEnv } from '../sim/timeline.js';
import { startWorld, type World } from '../sim/world.js';

const BUCKET = 'sim-etcd-backups';

describe('backups taken by the Lambda', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ seed: 142, backupBucket: BUCKET, backupIntervalSeconds: 600, ...timelineFromEnv() });
    const settled = await world.bootstrap(3);
    assert.deepEqual(settled.problems, []);
    await world.put('/backup/before', 'kept');
  });
  after(async () => world?.close());

  // The frequent tier only: the first snapshot of a day is also copied to daily/ (tested in s3-backup.test.ts).
  const snapshots = () => world.cloud.s3.keys(BUCKET).filter((k) => k.includes('/snapshots/') && k.endsWith('.db'));
  const manifests = () => world.cloud.s3.keys(BUCKET).filter((k) => k.includes('/snapshots/') && k.endsWith('.manifest.json'));
  const outcome = (d: Awaited<ReturnType<World['reconcile']>>) => (JSON.parse(d.result!.outcome) as { backup?: string }).backup;
  /** Every stored snapshot (both tiers: latest() reads both) looks an hour old: the next chance takes a new one. */
  const ageAll = () => {
    for (const key of world.cloud.s3.keys(BUCKET).filter((k) => k.endsWith('.manifest.json'))) {
      const m = JSON.parse(world.cloud.s3.object(BUCKET, key)!.body.toString('utf8')) as Record<string, unknown>;
      world.cloud.s3.putRaw(BUCKET, key, Buffer.from(JSON.stringify({ ...m, takenAt: new Date(Date.now() - 3_600_000).toISOString() })));
    }
  };

  test(
    'a reconcile pass stores a snapshot when the newest is stale, with its manifest; not again within the interval',
    { timeout: 60_000 },
    async () => {
      ageAll();
      const before = manifests().length;
      const first = await world.reconcile();
      assert.equal(first.error, undefined, first.error?.message);
      assert.equal(outcome(first), 'stored');
      assert.equal(manifests().length, before + 1);
      assert.deepEqual(
        manifests(),
        snapshots().map((k) => `${k}.manifest.json`),
        'every snapshot has its manifest',
      );
      const manifest = JSON.parse(world.cloud.s3.object(BUCKET, manifests().at(-1)!)!.body.toString('utf8')) as {
        memberCount: number;
        revision: string;
      };
      assert.equal(manifest.memberCount, 3);
      assert.ok(Number(manifest.revision) > 0);

      const second = await world.reconcile();
      assert.equal(outcome(second), 'fresh');
      assert.equal(manifests().length, before + 1);
    },
  );

  test('S3 failing: the pass completes, the failure is counted, no manifest appears', { timeout: 60_000 }, async () => {
    ageAll();
    const [before, failures] = [manifests().length, world.telemetry!.total('BackupFailures')];
    world.cloud.s3.failNext('PutObject', 3); // every attempt the world's SDK clients make (maxAttempts 3)
    const pass = await world.reconcile();
    assert.equal(pass.error, undefined, pass.error?.message);
    assert.equal(outcome(pass), 'failed');
    assert.equal(world.telemetry!.total('BackupFailures'), failures + 1);
    assert.equal(manifests().length, before);
  });

  test('a launch into the cluster stores a snapshot when the newest is stale', { timeout: 90_000 }, async () => {
    ageAll();
    const before = manifests().length;
    const victim = world.inService()[0]!;
    await world.crash(victim);
    await world.runUntilQuiet({ reconcile: 'never' });
    assert.equal(manifests().length, before + 1, 'one more verified snapshot');
    const settled = await world.settle();
    assert.deepEqual(settled.problems, []);
    assert.equal(await world.get('/backup/before'), 'kept');
  });
});
