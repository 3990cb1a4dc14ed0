// The first deploy in CloudFormation's order: the group launches its first instances before the
// separate lifecycle hook resources exist, so they go straight to InService with no launch action and no
// event. The reconcile pass adopts such missed launches (InService, no parameters, no member) and plans for
// them exactly as for a launch, so the cluster forms; a terminated zombie's replacement does not deadlock it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBootstrapRecord } from '../../src/lambda/first-wave.js';
import { startWorld, type World } from '../sim/world.js';
import { timelineFromEnv } from '../sim/timeline.js';

const TIMEOUT = { timeout: 180_000 };

function assertSettled(problems: string[]): void {
  assert.deepEqual(problems, [], problems.join('\n'));
}

describe('a group created before its hooks', () => {
  const worlds: World[] = [];
  after(async () => {
    for (const w of worlds) await w.close();
  });

  test('the first instances go straight to InService; the reconcile pass adopts them and the cluster forms', TIMEOUT, async () => {
    const world = await startWorld({ seed: 701, hooks: 'late', ...timelineFromEnv() });
    worlds.push(world);
    await world.scaleTo(3);
    const first = world.inService();
    assert.equal(first.length, 3, 'no launch action: InService at once');
    assert.deepEqual(world.queue, [], 'no lifecycle event');
    assert.deepEqual(world.group.pendingActions(), []);
    world.group.attachHooks();

    const pass = await world.reconcile();
    assert.equal(pass.error, undefined, pass.error?.message);
    const report = JSON.parse(pass.result!.outcome) as { adopted: string[] };
    assert.deepEqual([...report.adopted].sort(), [...first].sort());
    const record = parseBootstrapRecord((await world.parameters.get(world.parameters.bootstrapName()))!, 'bootstrap');
    assert.deepEqual(record.members.map((m) => m.name).sort(), [...first].sort());

    const result = await world.settle();
    assertSettled(result.problems);
    assert.deepEqual(result.inService.sort(), [...first].sort());
    await world.put('/e2e/late', 'formed');
    assert.equal(await world.get('/e2e/late'), 'formed');
    // A second pass finds nothing to adopt: every instance is configured and a member.
    const again = JSON.parse((await world.reconcile()).result!.outcome) as { adopted: string[] };
    assert.deepEqual(again.adopted, []);
  });

  test(
    'terminating a zombie first (the obvious manual fix) no longer deadlocks: its replacement and the zombies form the cluster',
    TIMEOUT,
    async () => {
      const world = await startWorld({ seed: 702, hooks: 'late', ...timelineFromEnv() });
      worlds.push(world);
      await world.scaleTo(3);
      const zombies = world.inService();
      world.group.attachHooks();
      // Before any reconcile pass: one zombie is replaced; the replacement's launch decides the first wave,
      // which includes the two other zombies.
      await world.crash(zombies[0]!);
      const result = await world.settle();
      assertSettled(result.problems);
      assert.equal(result.inService.length, 3);
      assert.ok(
        zombies.slice(1).every((z) => result.inService.includes(z)),
        'the other zombies were adopted into the cluster',
      );
      assert.ok(
        !world.telemetry?.logs.some(
          (l) =>
            /bootstrap-in-progress/.test(JSON.stringify(l.attributes)) && l.message === 'decision' && l.attributes.decision === 'refuse',
        ),
      );
    },
  );

  test(
    'a first-wave record left behind by a torn-down deployment (none of its instances live) is replaced, not waited on',
    TIMEOUT,
    async () => {
      const world = await startWorld({ seed: 703, ...timelineFromEnv() });
      worlds.push(world);
      const stale = {
        version: 1,
        token: 'sim-left-behind',
        members: [{ name: 'i-0000000000000dead', peerURLs: ['http://127.0.0.250:2380'] }],
        createdAt: '2024-01-01T00:00:00Z',
      };
      await world.parameters.put(world.parameters.bootstrapName(), JSON.stringify(stale));
      const result = await world.bootstrap();
      assertSettled(result.problems);
      const record = parseBootstrapRecord((await world.parameters.get(world.parameters.bootstrapName()))!, 'bootstrap');
      assert.deepEqual(record.members.map((m) => m.name).sort(), [...result.inService].sort());
      assert.notEqual(record.token, stale.token);
    },
  );
});
