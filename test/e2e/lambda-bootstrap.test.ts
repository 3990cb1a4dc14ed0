// The lifecycle Lambda end to end: a simulated Auto Scaling group whose instances run real etcd, the real
// handler with the real SDK clients. First bootstrap (with a first-wave member dying before the cluster
// forms), duplicate events, and handler crashes between steps that the redelivery or the reconcile finishes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDropin } from '../harness/systemd.js';
import { SimulatedCrash, startWorld, type World } from '../sim/world.js';
import { timelineFromEnv } from '../sim/timeline.js';
import { assertSettled, TIMEOUT } from '../sim/scenario.js';

describe('first bootstrap of three instances', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ seed: 101, ...timelineFromEnv() });
  });
  after(async () => world.close());

  test('forms the cluster even though a first-wave member dies before it forms', TIMEOUT, async () => {
    await world.scaleTo(3);
    const firstWave = world.idsIn('Pending:Wait');
    assert.equal(firstWave.length, 3);
    assert.deepEqual(
      world.queue.map((q) => q.summary),
      firstWave.map((id) => `launch ${id}`),
    );

    // The first launch records the first wave (create-only) and configures its instance for a new cluster.
    const first = await world.deliver();
    assert.deepEqual(first?.result, { kind: 'launch', outcome: 'continue' });
    const doomed = firstWave[0]!;
    const record = JSON.parse((await world.parameters.get(world.parameters.bootstrapName()))!) as { members: { name: string }[] };
    assert.deepEqual(record.members.map((m) => m.name).sort(), [...firstWave].sort());
    const { settings } = parseDropin((await world.parameters.get(world.parameters.instanceName(doomed, 'dropin')))!);
    assert.equal(settings.ETCD_INITIAL_CLUSTER_STATE, 'new');
    assert.equal(settings.ETCD_INITIAL_CLUSTER?.split(',').length, 3);

    // Its etcd starts and waits for the others; the machine dies before any other member starts.
    const etcd = await world.waitForEtcd(doomed);
    assert.ok(etcd.running);
    await world.crash(doomed);
    assert.ok(!etcd.running);
    const replacement = world.idsIn('Pending:Wait').find((id) => !firstWave.includes(id));
    assert.ok(replacement !== undefined, 'the group launched a replacement');

    const result = await world.settle();
    assertSettled(result.problems);
    assert.deepEqual(result.inService.sort(), [...firstWave.slice(1), replacement].sort());

    // The replacement joined the existing cluster; the dead first-wave member was removed, not kept.
    const { settings: joined } = parseDropin((await world.parameters.get(world.parameters.instanceName(replacement, 'dropin')))!);
    assert.equal(joined.ETCD_INITIAL_CLUSTER_STATE, 'existing');
    assert.ok(!result.members.some((m) => m.name === doomed));

    const completions = world.completions();
    for (const id of [...firstWave, replacement]) {
      assert.deepEqual(
        completions.filter((c) => c.instanceId === id && c.transition === 'launch').map((c) => c.result),
        ['CONTINUE'],
        `launch of ${id}`,
      );
    }
    assert.deepEqual(
      completions.filter((c) => c.transition === 'terminate'),
      [{ instanceId: doomed, transition: 'terminate', result: 'CONTINUE' }],
    );
    assert.equal(world.bootFailures.length, 0);

    await world.put('/e2e/bootstrap', 'written after the bootstrap');
    assert.equal(await world.get('/e2e/bootstrap'), 'written after the bootstrap');
    const list = await world.memberList();
    assert.equal(list.members.length, 3);
  });

  test('the same events delivered twice do no harm: one removal, one addition', TIMEOUT, async () => {
    const before = world.inService();
    const victim = before[0]!;
    await world.crash(victim);
    const replacement = world.newInstance(before);
    world.duplicate('terminate');
    world.duplicate('launch');
    assert.deepEqual(
      world.queue.map((q) => q.summary),
      [`terminate ${victim}`, `terminate ${victim}`, `launch ${replacement}`, `launch ${replacement}`],
    );
    const telemetry = world.telemetry!;
    const [additions, removals] = [telemetry.total('Additions'), telemetry.total('Removals')];

    const outcomes = (await world.runUntilQuiet({ reconcile: 'never' })).map((d) => d.result?.outcome ?? d.error?.message);
    assert.deepEqual(outcomes, ['removed', 'absent', 'continue', 'not-launching']);
    assert.equal(telemetry.total('Additions') - additions, 1);
    assert.equal(telemetry.total('Removals') - removals, 1);

    const result = await world.settle();
    assertSettled(result.problems);
    assert.deepEqual(result.inService.sort(), [...before.slice(1), replacement].sort());
    assert.equal(world.completions().filter((c) => c.instanceId === replacement).length, 1);
    assert.equal(world.completions().filter((c) => c.instanceId === victim && c.transition === 'terminate').length, 1);
    assert.equal(await world.get('/e2e/bootstrap'), 'written after the bootstrap');
  });

  test('handler crashes between steps are finished by the redelivered events', TIMEOUT, async () => {
    const before = world.inService();
    const victim = before[1]!;
    await world.crash(victim);
    const replacement = world.newInstance(before);
    world.crashAt('remove-member'); // terminate: under the lock, before removing
    world.crashAt('delete-parameters'); // terminate: member handled, parameters not yet deleted
    world.crashAt('mark'); // launch: member added, join marker not written, nothing stored
    world.crashAt('complete'); // launch: parameters stored, action not completed

    const deliveries = await world.runUntilQuiet({ reconcile: 'never' });
    const crashes = deliveries
      .filter((d) => d.error !== undefined)
      .map((d) => (d.error instanceof SimulatedCrash ? d.error.step : d.error?.message));
    assert.deepEqual(crashes.sort(), ['complete', 'delete-parameters', 'mark', 'remove-member']);
    assert.equal(world.deadLetters.length, 0);
    assert.deepEqual(
      world.completions().filter((c) => c.instanceId === replacement),
      [{ instanceId: replacement, transition: 'launch', result: 'CONTINUE' }],
    );

    const result = await world.settle();
    assertSettled(result.problems);
    assert.deepEqual(result.inService.sort(), [...before.filter((id) => id !== victim), replacement].sort());
    assert.equal(result.members.length, 3, 'no second member for the replacement');
    assert.equal(await world.get('/e2e/bootstrap'), 'written after the bootstrap');
  });

  test('a launch that crashes on every attempt is finished by the reconcile pass', TIMEOUT, async () => {
    const before = world.inService();
    const victim = before[2]!;
    await world.crash(victim);
    const replacement = world.newInstance(before);
    world.crashAt('store-parameters', 3);

    await world.runUntilQuiet({ reconcile: 'never' });
    assert.deepEqual(
      world.deadLetters.map((q) => q.summary),
      [`launch ${replacement}`],
    );
    assert.equal(world.instance(replacement).lifecycleState, 'Pending:Wait');

    const pass = await world.reconcile();
    assert.equal(pass.error, undefined, pass.error?.message);
    assert.deepEqual((JSON.parse(pass.result!.outcome) as { launchesHandled: string[] }).launchesHandled, [replacement]);
    const result = await world.settle();
    assertSettled(result.problems);
    assert.ok(result.inService.includes(replacement));
    assert.equal(result.members.length, 3);
    assert.equal(await world.get('/e2e/bootstrap'), 'written after the bootstrap');
  });
});
