// Recovery after quorum loss, end to end: the simulated group running real etcd, the real handler, the simulated
// S3, and instances that restore their snapshot with etcd's own tool before starting (as the boot script does).
// Two worlds: one loses its cluster and comes back by itself (automatic), the other is restored on request and
// meets damaged, foreign and half-finished snapshots. Runs on both versions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { timelineFromEnv } from '../sim/timeline.js';
import { startWorld, type World } from '../sim/world.js';

const BUCKET = 'sim-etcd-restore';
const SHORT_RESTORE_AFTER_MS = 2_000;

interface Manifest {
  clusterId: string;
  revision: string;
  takenAt: string;
}

const record = async (world: World) =>
  JSON.parse((await world.parameters.get(world.parameters.bootstrapName()))!) as {
    token: string;
    clusterId?: string;
    lineage?: string[];
    formedAt?: string;
    restore?: { key: string; revision: string };
  };
const manifestKeys = (world: World) => world.cloud.s3.keys(BUCKET).filter((k) => k.endsWith('.manifest.json'));
const manifestOf = (world: World, key: string) =>
  JSON.parse(world.cloud.s3.object(BUCKET, `${key}.manifest.json`)!.body.toString('utf8')) as Manifest;
const snapshotKeys = (world: World) => manifestKeys(world).map((k) => k.slice(0, -'.manifest.json'.length));
/** The frequent tier's snapshots; the daily tier holds copies of some of them. */
const frequentKeys = (world: World) => snapshotKeys(world).filter((k) => k.includes('/snapshots/'));
/** Every stored snapshot looks an hour old: the next reconcile pass takes a new one. */
function ageAll(world: World): void {
  for (const key of manifestKeys(world)) {
    const m = JSON.parse(world.cloud.s3.object(BUCKET, key)!.body.toString('utf8')) as Record<string, unknown>;
    const takenAt = new Date(Date.parse(String(m.takenAt)) - 3_600_000).toISOString();
    world.cloud.s3.putRaw(BUCKET, key, Buffer.from(JSON.stringify({ ...m, takenAt })));
  }
}
async function backUp(world: World): Promise<string> {
  ageAll(world);
  const before = new Set(frequentKeys(world));
  const pass = await world.reconcile();
  assert.equal(pass.error, undefined, pass.error?.message);
  // Only the frequent tier: the pass also copies the snapshot into the daily tier when it is the day's first.
  const added = frequentKeys(world).filter((k) => !before.has(k));
  assert.equal(added.length, 1, `one new snapshot (${JSON.stringify(JSON.parse(pass.result!.outcome))})`);
  return added[0]!;
}
const restoreDecisions = (world: World) => world.telemetry!.decisions().filter((d) => d.decision === 'restore');
const restoreDecisionParameters = (world: World) =>
  world.cloud.parameters.names().filter((n) => n.startsWith(`${world.parameters.root}/restores/`));

describe('automatic recovery after every instance is lost', () => {
  let world: World;
  let snapshot: string;
  let lostClusterId: string;
  let lost: string[] = [];
  before(async () => {
    world = await startWorld({
      seed: 143,
      backupBucket: BUCKET,
      backupIntervalSeconds: 600,
      restoreAfterMs: SHORT_RESTORE_AFTER_MS,
      launchWaitMs: 6_000,
      unsafeRecheckMs: 1_000,
      ...timelineFromEnv(),
    });
    const settled = await world.bootstrap(3);
    assert.deepEqual(settled.problems, []);
    for (let i = 0; i < 5; i++) await world.put(`/restore/before/${i}`, `v${i}`);
    snapshot = await backUp(world);
    lostClusterId = manifestOf(world, snapshot).clusterId;
    for (let i = 0; i < 7; i++) await world.put(`/restore/after/${i}`, `lost${i}`);
    const pass = await world.reconcile(); // records the revision the lost writes reached
    assert.equal(pass.error, undefined, pass.error?.message);
  });
  after(async () => world?.close());

  test('etcd dead on live instances: no restore, the launch is refused cluster-down naming them', { timeout: 120_000 }, async () => {
    const members = world.inService();
    for (const id of members) await world.killEtcd(id);
    try {
      await world.scaleTo(4);
      const launch = await world.deliver();
      assert.equal(launch?.error, undefined, launch?.error?.message);
      assert.equal(launch?.result?.outcome, 'abandon');
      const decision = world.telemetry!.decisions().at(-1)!;
      assert.equal(decision.code, 'cluster-down');
      assert.match(String(decision.reason), new RegExp(`${members[0]!} \\(InService\\)`));
      assert.deepEqual(restoreDecisionParameters(world), [], 'no restore decided');
      assert.deepEqual(restoreDecisions(world), []);
      assert.ok(world.cloud.parameters.value(world.parameters.downSinceName()) !== undefined, 'the down time is being measured');
    } finally {
      for (const id of members) world.etcdOf(id)!.spawn();
    }
    await world.scaleTo(3);
    const settled = await world.settle({ timeoutMs: 60_000 });
    assert.deepEqual(settled.problems, []);
    await world.reconcile();
    assert.equal(world.cloud.parameters.value(world.parameters.downSinceName()), undefined, 'the cluster answered: the mark is gone');
  });

  test(
    'every instance lost, down for less than the restore time: the launches wait, nothing is restored',
    { timeout: 120_000 },
    async () => {
      world.setRestoreAfter(3_600_000);
      const tokenBefore = (await record(world)).token;
      const launchesBefore = world.completions().filter((c) => c.transition === 'launch').length;
      lost = await world.loseAll();
      // Terminations complete (no member answers: nothing to remove); the replacements' launches wait.
      for (let i = 0; i < 8 && world.queue.length > 0; i++) {
        const delivery = await world.deliver();
        if (delivery?.summary.startsWith('launch') === true) {
          assert.match(delivery.error?.message ?? '', /must wait: .*down \d+ s of 60 min/, world.describeTimeline(8));
          break;
        }
      }
      assert.deepEqual(restoreDecisionParameters(world), []);
      assert.equal((await record(world)).token, tokenBefore, 'the record is the lost cluster');
      assert.equal(world.completions().filter((c) => c.transition === 'launch').length, launchesBefore, 'no launch completed');
    },
  );

  test(
    'once down long enough the cluster comes back by itself from the snapshot, stating the revisions lost',
    { timeout: 180_000 },
    async () => {
      world.setRestoreAfter(SHORT_RESTORE_AFTER_MS);
      const settled = await world.settle({ timeoutMs: 120_000 });
      assert.deepEqual(settled.problems, []);
      for (let i = 0; i < 5; i++) assert.equal(await world.get(`/restore/before/${i}`), `v${i}`);
      assert.equal(await world.get('/restore/after/0'), undefined, 'a write after the snapshot is lost');
      const decisions = restoreDecisions(world);
      assert.equal(decisions.length, 1, 'one restore decided');
      const decision = decisions[0]!;
      assert.equal(decision.key, snapshot);
      assert.equal(decision.restoreTrigger, 'automatic');
      assert.ok(Number(decision.revisionsLost) >= 7, `at least the 7 later writes are counted lost (${String(decision.revisionsLost)})`);
      assert.match(String(decision.reason), /at least \d+ revisions written after the snapshot are lost/);
      assert.equal(world.restoredInstances.length, 3, 'every member of the restore wave restored the snapshot');
      assert.equal(world.bootFailures.length, 0);
      assert.equal(world.cloud.parameters.value(world.parameters.downSinceName()), undefined);
      const restored = await record(world);
      assert.equal(restored.restore?.key, snapshot);
      assert.deepEqual(restored.lineage, [lostClusterId]);
    },
  );

  test('the restored cluster is formed with its own ID and its next backup is taken at once', { timeout: 60_000 }, async () => {
    const pass = await world.reconcile();
    assert.equal(pass.error, undefined, pass.error?.message);
    const restored = await record(world);
    assert.ok(restored.clusterId !== undefined && restored.clusterId !== lostClusterId, 'a new cluster ID');
    // Taken by the first pass that saw the restored cluster answer (the snapshot it came from is of the lost cluster).
    assert.equal(
      snapshotKeys(world).filter((k) => manifestOf(world, k).clusterId === restored.clusterId).length,
      1,
      'one backup of the restored cluster, no more',
    );
    const newest = snapshotKeys(world).sort().at(-1)!;
    assert.equal(manifestOf(world, newest).clusterId, restored.clusterId);
  });

  test('a later launch joins the restored cluster normally', { timeout: 120_000 }, async () => {
    const [victim] = world.inService();
    await world.crash(victim!);
    const settled = await world.settle({ timeoutMs: 90_000 });
    assert.deepEqual(settled.problems, []);
    assert.equal(restoreDecisions(world).length, 1, 'no second restore');
    assert.equal(await world.get('/restore/before/4'), 'v4');
  });

  test(
    'an old member that comes back cannot join the restored cluster and is not taken for a member of it',
    { timeout: 60_000 },
    async () => {
      const before = await world.check();
      assert.deepEqual(before.problems, []);
      const old = world.startOldEtcd(lost[0]!);
      const removalsBefore = world.telemetry!.total('Removals');
      const additionsBefore = world.telemetry!.total('Additions');
      // Give it time to try its old peers.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const pass = await world.reconcile();
      assert.equal(pass.error, undefined, pass.error?.message);
      const now = await world.check();
      assert.deepEqual(now.problems, []);
      assert.deepEqual(
        now.members.map((m) => m.id),
        before.members.map((m) => m.id),
        'the member list is unchanged',
      );
      assert.equal(world.telemetry!.total('Removals'), removalsBefore);
      assert.equal(world.telemetry!.total('Additions'), additionsBefore);
      const status = await world.status(old.clientURL, 1000);
      assert.ok(status === undefined || status.clusterId.toString(16) === lostClusterId, 'it is still the lost cluster, without a quorum');
      assert.ok(status === undefined || status.leader === 0n, 'it has no leader');
      await old.kill();
    },
  );
});

describe('restore on request, and snapshots that must not be used', () => {
  let world: World;
  let oldest: string;
  let middle: string;
  let newest: string;
  before(async () => {
    world = await startWorld({
      seed: 144,
      backupBucket: BUCKET,
      backupIntervalSeconds: 600,
      autoRestore: false,
      launchWaitMs: 6_000,
      unsafeRecheckMs: 1_000,
      ...timelineFromEnv(),
    });
    const settled = await world.bootstrap(3);
    assert.deepEqual(settled.problems, []);
    await world.put('/req/1', 'one');
    oldest = await backUp(world);
    await world.put('/req/2', 'two');
    middle = await backUp(world);
    await world.put('/req/3', 'three');
    newest = await backUp(world);
  });
  after(async () => world?.close());

  async function request(from: string): Promise<void> {
    await world.parameters.put(
      world.parameters.restoreRequestName(),
      JSON.stringify({ format: 1, from, requestedAt: new Date().toISOString(), requestedBy: 'operator@example' }),
    );
  }
  /** The runbook: with the request recorded, scale the group to 0 and wait. */
  async function scaleToZero(): Promise<void> {
    await world.scaleTo(0);
    await world.runUntilQuiet({ reconcile: 'never' });
    assert.deepEqual(world.group.instances().filter((i) => i.lifecycleState !== 'Terminated').length, 0);
  }

  test('terminations while a restore is requested complete without removing members', { timeout: 120_000 }, async () => {
    world.flipByte(BUCKET, newest);
    await request(newest);
    const removals = world.telemetry!.total('Removals');
    await scaleToZero();
    assert.equal(world.telemetry!.total('Removals'), removals, 'no member removed');
    const kept = world.telemetry!.decisions().filter((d) => d.trigger === 'terminate' && /restore is requested/.test(String(d.reason)));
    assert.equal(kept.length, 3);
  });

  test('a request naming a corrupted snapshot: ABANDON with a clear error, nothing written', { timeout: 120_000 }, async () => {
    const tokenBefore = (await record(world)).token;
    await world.scaleTo(3);
    const launch = await world.deliver();
    assert.equal(launch?.error, undefined, launch?.error?.message);
    assert.equal(launch?.result?.outcome, 'abandon');
    const decision = world.telemetry!.decisions().at(-1)!;
    assert.equal(decision.code, 'no-backup');
    assert.match(
      String(decision.reason),
      new RegExp(`requested snapshot s3://${BUCKET}/${newest} cannot be restored: .*(does not match|damaged)`),
    );
    assert.deepEqual(restoreDecisionParameters(world), []);
    assert.equal((await record(world)).token, tokenBefore);
    assert.deepEqual(await world.parameters.listInstanceIds(), [], 'no instance was configured');
    assert.ok(world.cloud.parameters.value(world.parameters.restoreRequestName()) !== undefined, 'the request stays for the operator');
    await scaleToZero();
  });

  test(
    'latest: a foreign, a half-finished and a corrupted snapshot are passed over; the newest good one is restored',
    { timeout: 180_000 },
    async () => {
      const foreign = world.putForeignSnapshot(BUCKET, middle);
      const half = `elastic-etcd/snapshots/${new Date(Date.now() + 60_000).toISOString().replace(/[-:]/g, '')}-half.db`;
      world.cloud.s3.putRaw(BUCKET, half, world.cloud.s3.object(BUCKET, middle)!.body);
      const lostId = (await record(world)).clusterId;
      await request('latest');
      await world.scaleTo(3);
      const settled = await world.settle({ timeoutMs: 120_000 });
      assert.deepEqual(settled.problems, []);
      assert.equal(await world.get('/req/2'), 'two');
      assert.equal(await world.get('/req/3'), undefined, 'the corrupted newest snapshot was not used');
      const decision = restoreDecisions(world).at(-1)!;
      assert.equal(decision.key, middle);
      assert.equal(decision.restoreTrigger, 'request by operator@example');
      const refused = world.telemetry!.logs.filter((l) => l.message === 'snapshot refused for the restore').map((l) => l.attributes);
      assert.ok(
        refused.some((r) => r.key === foreign && /belongs to cluster f0f0f0f0f0f0f0f/.test(String(r.reason))),
        'the foreign one refused',
      );
      assert.ok(
        refused.some((r) => r.key === newest && /does not match|damaged/.test(String(r.reason))),
        'the corrupted one refused',
      );
      assert.ok(!refused.some((r) => r.key === half) && decision.key !== half, 'the half-finished one is never a candidate');
      assert.equal(world.cloud.parameters.value(world.parameters.restoreRequestName()), undefined, 'the request is consumed');
      assert.deepEqual((await record(world)).lineage, [lostId]);
    },
  );

  test('a request for an older key restores exactly that snapshot', { timeout: 180_000 }, async () => {
    await world.reconcile(); // the restored cluster formed: its ID is recorded, its lineage kept
    await request(oldest);
    await scaleToZero();
    await world.scaleTo(3);
    const settled = await world.settle({ timeoutMs: 120_000 });
    assert.deepEqual(settled.problems, []);
    assert.equal(await world.get('/req/1'), 'one');
    assert.equal(await world.get('/req/2'), undefined);
    assert.equal(restoreDecisions(world).at(-1)!.key, oldest);
    assert.equal((await record(world)).lineage?.length, 2, 'restored from a restored cluster: both earlier IDs');
  });

  test(
    'automatic restores off and no request: every instance lost gives cluster-down, never an empty cluster',
    { timeout: 120_000 },
    async () => {
      await world.reconcile();
      const tokenBefore = (await record(world)).token;
      const restores = restoreDecisions(world).length;
      const restoreParametersBefore = restoreDecisionParameters(world);
      await world.loseAll();
      let launch;
      for (let i = 0; i < 8 && world.queue.length > 0; i++) {
        launch = await world.deliver();
        if (launch?.summary.startsWith('launch') === true) break;
      }
      assert.equal(launch?.result?.outcome, 'abandon', world.describeTimeline(8));
      const decision = world.telemetry!.decisions().at(-1)!;
      assert.equal(decision.code, 'cluster-down');
      assert.match(String(decision.reason), /automatic restores are off: record a restore request/);
      assert.equal((await record(world)).token, tokenBefore, 'no new first wave');
      assert.equal(restoreDecisions(world).length, restores);

      // A malformed request: a clear error naming it, ABANDON, nothing else changed.
      await world.parameters.put(world.parameters.restoreRequestName(), JSON.stringify({ format: 1, from: '' }));
      let next;
      for (let i = 0; i < 8 && world.queue.length > 0; i++) {
        next = await world.deliver();
        if (next?.summary.startsWith('launch') === true && next.result?.outcome !== 'not-launching') break;
      }
      assert.equal(next?.result?.outcome, 'abandon', world.describeTimeline(8));
      const refused = world.telemetry!.decisions().at(-1)!;
      assert.equal(refused.code, 'bad-restore-request');
      assert.match(String(refused.reason), /restore-request is malformed at (from|requestedAt) .*; fix or delete it/);
      assert.equal((await record(world)).token, tokenBefore);
      assert.deepEqual(restoreDecisionParameters(world), restoreParametersBefore);
    },
  );
});
