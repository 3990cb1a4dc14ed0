// A rolling upgrade from etcd 3.4 to 3.5 through the real handler in the simulated group, under continuous
// writes: no acknowledged write lost, the quorum never lost, the cluster on 3.5 at the end. Around it, the
// version-skew gate: the Lambda abandons a launch whose etcd is two minors ahead of the cluster, or older than
// it, and the cluster is left as it was. Runs both versions at once, so it runs in the 3.5 pass of `npm test`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { selectedEtcdVersion } from '../harness/index.js';
import { rollingUpgrade } from '../chaos/upgrade.js';
import { startWorld, type World } from '../sim/world.js';
import { timelineFromEnv } from '../sim/timeline.js';

const skip = selectedEtcdVersion() === '3.5' ? false : 'uses etcd 3.4 and 3.5 together: runs in the ETCD_VERSION=3.5 pass';

function assertSettled(problems: string[]): void {
  assert.deepEqual(problems, [], problems.join('\n'));
}

describe('rolling upgrade 3.4 -> 3.5', { skip }, () => {
  let world: World;
  before(async () => {
    // The cluster size is the group's, as the stack configures it: each step replaces one member, terminate first.
    world = await startWorld({ seed: 35, clusterSize: 3, etcdVersion: '3.4', ...timelineFromEnv() });
    assertSettled((await world.bootstrap(3)).problems);
    await world.put('/e2e/upgrade', 'written on 3.4');
  });
  after(async () => world?.close());

  /** Launches one instance with the Lambda told `lambdaVersion`; expects the launch abandoned for the skew. */
  async function expectSkewRefused(lambdaVersion: string, reason: RegExp): Promise<void> {
    const before = (await world.memberList()).members.map((m) => m.id).sort();
    world.setLaunchVersion('3.4', lambdaVersion);
    await world.scaleTo(4);
    const launch = await world.deliver();
    assert.deepEqual(launch?.result, { kind: 'launch', outcome: 'abandon' });
    const decision = world.telemetry!.decisions().at(-1);
    assert.equal(decision?.decision, 'refuse');
    assert.match(String(decision?.reason), reason);
    assert.equal(decision?.code, 'version-skew');
    assert.deepEqual((await world.memberList()).members.map((m) => m.id).sort(), before, 'no member added or removed');
    await world.scaleTo(3);
    assertSettled((await world.settle()).problems);
  }

  test('a member two minors ahead of the cluster (3.6 into 3.4) is abandoned, nothing changed', { timeout: 120_000 }, async () => {
    await expectSkewRefused('3.6.0', /etcd 3\.6 cannot join a cluster on 3\.4: .*one minor version at a time/);
  });

  test(
    'every member replaced by a 3.5 one under writes: no acknowledged write lost, quorum kept, cluster 3.5',
    { timeout: 300_000 },
    async () => {
      const before = world.inService();
      const result = await rollingUpgrade(world, '3.5');
      assert.deepEqual(result.violations, []);
      assert.ok(result.writes.acknowledged > 0, 'the writer got writes acknowledged during the upgrade');
      assert.deepEqual(result.writes.lost, []);
      assert.ok(result.samples > 0, 'the quorum monitor sampled');
      assert.match(result.clusterVersion ?? '', /^3\.5\./);
      const after = world.inService();
      assert.equal(after.length, 3);
      assert.deepEqual(
        after.filter((id) => before.includes(id)),
        [],
        'every old instance retired',
      );
      assert.deepEqual(Object.values(result.versions), ['3.5', '3.5', '3.5']);
      assert.equal(await world.get('/e2e/upgrade'), 'written on 3.4');
    },
  );

  test('a 3.4 member is refused by a cluster on 3.5 (etcd lets no older member join), nothing changed', { timeout: 120_000 }, async () => {
    await expectSkewRefused('3.4.23', /etcd 3\.4 cannot join a cluster already on 3\.5/);
    world.setLaunchVersion('3.5');
  });
});
