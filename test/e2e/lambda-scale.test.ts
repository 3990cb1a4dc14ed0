// The lifecycle Lambda end to end, changing the group's size: scale out from three to five members (one
// join at a time), two instances replaced at once, scale in to three, and a scale-in while another member is
// unreachable, where the terminating member is kept, and its termination held, rather than removed below the quorum.
// This group runs plain HTTP (ELASTIC_ETCD_TLS=off), the development mode: every other Lambda scenario runs TLS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, type World } from '../sim/world.js';
import { timelineFromEnv } from '../sim/timeline.js';
import { assertSettled } from '../sim/scenario.js';

/** Scaling by two members takes longer than one replacement. */
const TIMEOUT = { timeout: 150_000 };

describe('scaling the group', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ seed: 303, clusterSize: 5, tls: false, ...timelineFromEnv() });
    assert.equal(world.config.tls, undefined, 'plain HTTP: no TLS configured');
    assert.ok(world.endpoints().every((url) => url.startsWith('http://')));
    assertSettled((await world.bootstrap(3)).problems);
    await world.put('/e2e/scale', 'written by three');
  });
  after(async () => world.close());

  test('scale out from three to five: both join and become voters', TIMEOUT, async () => {
    const before = world.inService();
    await world.scaleTo(5);
    const added = world.idsIn('Pending:Wait');
    assert.equal(added.length, 2);

    const result = await world.settle();
    assertSettled(result.problems);
    assert.equal(result.members.length, 5);
    assert.deepEqual(result.inService.sort(), [...before, ...added].sort());
    for (const id of added) {
      assert.deepEqual(
        world
          .completions()
          .filter((c) => c.instanceId === id)
          .map((c) => c.result),
        ['CONTINUE'],
      );
    }
    assert.equal(await world.get('/e2e/scale'), 'written by three');
  });

  test('two of five crash at once: both replaced, their terminations completed, the keys kept', TIMEOUT, async () => {
    const before = world.inService();
    const victims = [before[0]!, before[3]!];
    await Promise.all(victims.map((id) => world.crash(id)));
    const replacements = world.idsIn('Pending:Wait');
    assert.equal(replacements.length, 2);

    const result = await world.settle();
    assertSettled(result.problems);
    assert.deepEqual(result.inService.sort(), [...before.filter((id) => !victims.includes(id)), ...replacements].sort());
    for (const id of victims) {
      assert.deepEqual(
        world
          .completions()
          .filter((c) => c.instanceId === id && c.transition === 'terminate')
          .map((c) => c.result),
        ['CONTINUE'],
      );
    }
    assert.equal(await world.get('/e2e/scale'), 'written by three');
  });

  test('scale in from five to three: the leaving instances go, and their members, parameters and etcd with them', TIMEOUT, async () => {
    const before = world.inService();
    await world.scaleTo(3);
    const leaving = world.idsIn('Terminating:Wait');
    assert.equal(leaving.length, 2);
    // Their etcd still runs while the terminate actions wait for the handler.
    for (const id of leaving) assert.ok(world.etcdOf(id)?.running);

    const result = await world.settle();
    assertSettled(result.problems);
    assert.deepEqual(result.inService.sort(), before.filter((id) => !leaving.includes(id)).sort());
    assert.equal(result.members.length, 3);
    for (const id of leaving) {
      assert.equal(world.cloud.parameters.value(world.parameters.instanceName(id, 'env')), undefined);
      assert.ok(!(world.etcdOf(id)?.running ?? false));
    }
    assert.equal(await world.get('/e2e/scale'), 'written by three');
  });

  test('scale-in while another member is unreachable: the termination waits until removing the member is safe', TIMEOUT, async () => {
    const before = world.inService();
    const [frozen, leaving] = [before[0]!, before[2]!];
    const membersBefore = (await world.memberList()).members.map((m) => m.id).sort();
    world.etcdOf(frozen)!.stop();
    await world.terminate(leaving);

    // Removing a healthy member now would leave one healthy voter of two: below the quorum. The handler keeps the
    // member AND holds the termination (no completion), so the group cannot take a voter the quorum needs.
    const delivery = await world.deliver();
    assert.match(delivery?.error?.message ?? '', /would cost the quorum/);
    assert.equal(world.telemetry?.decisions().at(-1)?.decision, 'keep');
    assert.ok(world.group.pendingAction(leaving) !== undefined, 'the terminate action is still pending');
    assert.ok(world.etcdOf(leaving)?.running, 'its etcd still runs');
    assert.deepEqual(
      world.completions().filter((c) => c.instanceId === leaving && c.transition === 'terminate'),
      [],
    );
    const survivors = before.filter((id) => id !== frozen).map((id) => world.clientURL(id));
    assert.deepEqual((await world.memberList(survivors)).members.map((m) => m.id).sort(), membersBefore);

    // Once the unreachable member answers again, the redelivered event (or the reconcile pass) removes it.
    world.etcdOf(frozen)!.resume();
    const result = await world.settle();
    assertSettled(result.problems);
    assert.deepEqual(result.inService.sort(), before.filter((id) => id !== leaving).sort());
    assert.deepEqual(
      world
        .completions()
        .filter((c) => c.instanceId === leaving && c.transition === 'terminate')
        .map((c) => c.result),
      ['CONTINUE'],
    );
    assert.equal(await world.get('/e2e/scale'), 'written by three');
  });
});
