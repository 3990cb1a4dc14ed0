// The reconcile pass as the safety net when events are lost: two of five instances crash, their terminate
// actions time out and every event about them and their replacements is lost. Reconcile alone must remove the
// gone members first (etcd refuses to add while a voter is down), then admit the replacements, within a
// bounded number of passes, without ever leaving the cluster without a quorum.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, type World } from '../sim/world.js';
import { timelineFromEnv } from '../sim/timeline.js';

describe('reconcile heals lost events', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ seed: 404, clusterSize: 5, ...timelineFromEnv() });
    const formed = await world.bootstrap(5);
    assert.deepEqual(formed.problems, []);
    await world.put('/e2e/reconcile', 'before the crashes');
  });
  after(async () => world.close());

  test('two crashed instances, every event lost: converges within a few reconcile passes', { timeout: 180_000 }, async () => {
    const before = world.inService();
    const victims = [before[1]!, before[4]!];
    for (const id of victims) await world.crash(id);
    // The terminate hooks time out and every queued event is lost.
    for (const id of victims) {
      if (world.group.pendingAction(id) !== undefined) await world.group.expireLifecycleAction(id);
    }
    world.drop(() => true);
    const replacements = world.idsIn('Pending:Wait');
    assert.equal(replacements.length, 2);

    const passes: string[] = [];
    for (let pass = 1; pass <= 4; pass++) {
      const delivery = await world.reconcile();
      passes.push(delivery.result?.outcome ?? delivery.error?.message ?? 'no result');
      const check = await world.check();
      if (check.problems.length === 0) break;
    }
    const final = await world.check();
    assert.deepEqual(final.problems, [], `after ${passes.length} passes:\n${passes.join('\n')}\n${world.describeTimeline(40)}`);
    assert.deepEqual(final.inService.sort(), [...before.filter((id) => !victims.includes(id)), ...replacements].sort());
    assert.equal(final.members.length, 5);
    assert.equal(await world.get('/e2e/reconcile'), 'before the crashes');
  });
});
