// The lifecycle Lambda end to end, replacing instances of a running three-member cluster: a crashed
// instance, a lost terminate event healed by the reconcile pass, and a join that would lose quorum, which is
// abandoned with the member list unchanged (and heals once the cluster is healthy again).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, type World } from '../sim/world.js';
import { timelineFromEnv } from '../sim/timeline.js';
import { assertSettled, TIMEOUT } from '../sim/scenario.js';

describe('replacing instances of a running cluster', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ seed: 202, ...timelineFromEnv() });
    assertSettled((await world.bootstrap()).problems);
    await world.put('/e2e/replace', 'before any replacement');
  });
  after(async () => world.close());

  test('a crashed instance is removed and its replacement joins', TIMEOUT, async () => {
    const before = world.inService();
    const victim = before[1]!;
    await world.crash(victim);
    const replacement = world.newInstance(before);
    assert.deepEqual(
      world.queue.map((q) => q.summary),
      [`terminate ${victim}`, `launch ${replacement}`],
    );

    const result = await world.settle();
    assertSettled(result.problems);
    assert.deepEqual(result.inService.sort(), [...before.filter((id) => id !== victim), replacement].sort());
    assert.equal(await world.get('/e2e/replace'), 'before any replacement');
    assert.deepEqual(
      world.completions().filter((c) => (c.instanceId === victim && c.transition === 'terminate') || c.instanceId === replacement),
      [
        { instanceId: victim, transition: 'terminate', result: 'CONTINUE' },
        { instanceId: replacement, transition: 'launch', result: 'CONTINUE' },
      ],
    );
    assert.equal(world.cloud.parameters.value(world.parameters.instanceName(victim, 'env')), undefined);
  });

  test('a lost terminate event: the reconcile pass completes the action and deletes the parameters', TIMEOUT, async () => {
    const before = world.inService();
    const victim = before[0]!;
    await world.crash(victim);
    const replacement = world.newInstance(before);
    assert.equal(world.drop('terminate').length, 1);

    await world.runUntilQuiet({ reconcile: 'never' });
    // The replacement joined (replacing the dead member), but the terminate action is still pending and the
    // gone instance's parameters are still there: only the lost event would have cleaned them up.
    assert.equal(world.instance(victim).lifecycleState, 'Terminating:Wait');
    assert.notEqual(world.cloud.parameters.value(world.parameters.instanceName(victim, 'dropin')), undefined);
    assert.ok((await world.check()).problems.length > 0);

    const pass = await world.reconcile();
    assert.equal(pass.error, undefined, pass.error?.message);
    const report = JSON.parse(pass.result!.outcome) as { terminationsHandled: string[] };
    assert.deepEqual(report.terminationsHandled, [victim]);
    assert.equal(world.cloud.parameters.value(world.parameters.instanceName(victim, 'dropin')), undefined, 'this pass deleted them');

    const result = await world.settle();
    assertSettled(result.problems);
    assert.ok(result.inService.includes(replacement));
    assert.deepEqual(
      world.completions().filter((c) => c.instanceId === victim && c.transition === 'terminate'),
      [{ instanceId: victim, transition: 'terminate', result: 'CONTINUE' }],
    );
    assert.equal(await world.get('/e2e/replace'), 'before any replacement');
  });

  test('a join that would lose quorum is abandoned with the member list unchanged, and heals later', TIMEOUT, async () => {
    const before = world.inService();
    const [survivor, frozen, victim] = before as [string, string, string];
    const membersBefore = (await world.memberList()).members.map((m) => `${m.id}:${m.name}:${m.isLearner}`).sort();

    // One machine dies, another stops answering: one healthy voter of three, no quorum.
    world.etcdOf(frozen)!.stop();
    await world.crash(victim);
    const replacement = world.newInstance(before);
    // The terminate event is held back so that the launch is the next event delivered.
    world.hold('terminate');

    // The launch refuses to join: ABANDON, nothing written, no member added or removed.
    const launch = await world.deliver();
    assert.deepEqual(launch?.result, { kind: 'launch', outcome: 'abandon' });
    assert.deepEqual(world.completions().at(-1), { instanceId: replacement, transition: 'launch', result: 'ABANDON' });
    assert.equal(world.cloud.parameters.value(world.parameters.instanceName(replacement, 'dropin')), undefined);
    // The survivor's own view: without a leader, 3.5's etcdctl (always linearizable) cannot list at all.
    const membersAfter = (await world.localMemberList(survivor)).members.map((m) => `${m.id}:${m.name}:${m.isLearner}`).sort();
    assert.deepEqual(membersAfter, membersBefore);
    assert.equal(world.instance(replacement).lifecycleState, 'Terminated');
    assert.equal(world.telemetry?.total('Refusals'), 1);

    // The group launched another instance for the abandoned one; once the frozen member answers again,
    // it joins and the dead member goes.
    world.etcdOf(frozen)!.resume();
    world.release();
    const result = await world.settle();
    assertSettled(result.problems);
    assert.ok(!result.inService.includes(victim));
    assert.ok(result.inService.includes(survivor) && result.inService.includes(frozen));
    assert.equal(await world.get('/e2e/replace'), 'before any replacement');
  });
});
