// Two deployments side by side in one simulated account: the same cluster name under
// different parameter prefixes never touch each other's parameters, and a third deployment configured with a
// namespace another live group owns refuses to act and changes nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GROUP_TAG } from '../../src/adapters/aws/index.js';
import { SimulatedAccount } from '../sim/server.js';
import { startWorld, type World } from '../sim/world.js';
import { timelineFromEnv } from '../sim/timeline.js';

const TIMEOUT = { timeout: 180_000 };

function assertSettled(problems: string[]): void {
  assert.deepEqual(problems, [], problems.join('\n'));
}

describe('two deployments in one account', () => {
  const account = new SimulatedAccount();
  let a: World;
  let b: World;
  /** Every parameter under a prefix with its value and tags, for before/after comparisons. */
  const snapshot = (prefix: string) =>
    account.parameters
      .names()
      .filter((n) => n.startsWith(`${prefix}/`))
      .map((n) => ({ n, v: account.parameters.value(n), t: account.parameters.tags(n) }));

  before(async () => {
    a = await startWorld({
      seed: 501,
      account,
      groupName: 'stack-a-asg',
      clusterName: 'etcd',
      parameterPrefix: '/elastic-etcd/stack-a',
      ...timelineFromEnv(),
    });
    b = await startWorld({
      seed: 502,
      account,
      groupName: 'stack-b-asg',
      clusterName: 'etcd',
      parameterPrefix: '/elastic-etcd/stack-b',
      ...timelineFromEnv(),
    });
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  test('the same cluster name under two prefixes: each forms its cluster, and neither touches the other', TIMEOUT, async () => {
    assertSettled((await a.bootstrap()).problems);
    assertSettled((await b.bootstrap()).problems);
    await a.put('/e2e/who', 'a');
    await b.put('/e2e/who', 'b');
    // Each namespace is owned by its group.
    assert.match(account.parameters.value('/elastic-etcd/stack-a/etcd/owner') ?? '', /"group":"stack-a-asg"/);
    assert.match(account.parameters.value('/elastic-etcd/stack-b/etcd/owner') ?? '', /"group":"stack-b-asg"/);

    const bBefore = snapshot('/elastic-etcd/stack-b');
    // A replaces a member and reconciles repeatedly (each pass deletes A's parameters of gone instances).
    await a.crash(a.inService()[0]!);
    assertSettled((await a.settle()).problems);
    for (let i = 0; i < 3; i++) assert.equal((await a.reconcile()).error, undefined);
    assert.deepEqual(snapshot('/elastic-etcd/stack-b'), bBefore, "B's parameters are untouched by A");
    assert.equal(await b.get('/e2e/who'), 'b');
    assert.equal(await a.get('/e2e/who'), 'a');
    assertSettled((await b.check()).problems);
  });

  test(
    "reconcile deletes only parameters its own group wrote: another group's (or an untagged one) under its path stays",
    TIMEOUT,
    async () => {
      const foreign = a.parameters.instanceName('i-0aaaaaaaaaaaaaaa1', 'dropin');
      const untagged = a.parameters.instanceName('i-0aaaaaaaaaaaaaaa2', 'dropin');
      const own = a.parameters.instanceName('i-0aaaaaaaaaaaaaaa3', 'dropin');
      account.parameters.put(foreign, '[Service]\n', false, { [GROUP_TAG]: 'stack-b-asg' });
      account.parameters.put(untagged, '[Service]\n', false);
      account.parameters.put(own, '[Service]\n', false, { [GROUP_TAG]: 'stack-a-asg' });
      const pass = await a.reconcile();
      const report = JSON.parse(pass.result!.outcome) as { deletedParameters: string[] };
      assert.deepEqual(report.deletedParameters, ['i-0aaaaaaaaaaaaaaa3']);
      assert.equal(account.parameters.value(own), undefined);
      assert.equal(account.parameters.value(foreign), '[Service]\n');
      assert.equal(account.parameters.value(untagged), '[Service]\n');
      account.parameters.delete(foreign);
      account.parameters.delete(untagged);
    },
  );

  test('a third deployment on a namespace a live group owns refuses every event and changes nothing', TIMEOUT, async () => {
    const c = await startWorld({
      seed: 503,
      account,
      groupName: 'stack-c-asg',
      clusterName: 'etcd',
      parameterPrefix: '/elastic-etcd/stack-a',
      boot: 'none',
    });
    try {
      const before = snapshot('/elastic-etcd');
      await c.scaleTo(1);
      const launch = await c.deliver();
      assert.equal(launch?.result?.kind, 'namespace-refused', launch?.error?.message);
      assert.match(launch?.result?.outcome ?? '', /belongs to Auto Scaling group stack-a-asg, not to stack-c-asg/);
      const pass = await c.reconcile();
      assert.equal(pass.result?.kind, 'namespace-refused');
      assert.deepEqual(snapshot('/elastic-etcd'), before, 'no parameter written or deleted');
      const writes = c.cloud.calls.filter((call) =>
        ['PutParameter', 'DeleteParameter', 'AddTagsToResource', 'CompleteLifecycleAction'].includes(call.operation),
      );
      assert.deepEqual(writes, []);
      assert.ok(c.telemetry?.logs.some((l) => l.level === 'ERROR' && /another Auto Scaling group/.test(l.message)));
      assert.equal(c.group.pendingActions().length, 1, 'the launch action is left to its timeout');
      assertSettled((await a.check()).problems);
    } finally {
      await c.close();
    }
  });

  test('a namespace whose owner group no longer exists (a deleted stack left its record) is taken over', TIMEOUT, async () => {
    const owner = '/elastic-etcd/stack-d/etcd/owner';
    account.parameters.put(owner, JSON.stringify({ version: 1, group: 'deleted-asg', createdAt: '2024-01-01T00:00:00Z' }), false);
    const d = await startWorld({
      seed: 504,
      account,
      groupName: 'stack-d-asg',
      clusterName: 'etcd',
      parameterPrefix: '/elastic-etcd/stack-d',
      boot: 'none',
    });
    try {
      const pass = await d.reconcile();
      assert.equal(pass.result?.kind, 'reconcile', pass.error?.message);
      assert.match(account.parameters.value(owner) ?? '', /"group":"stack-d-asg"/);
      assert.ok(d.telemetry?.logs.some((l) => l.level === 'WARN' && /took over/.test(l.message)));
    } finally {
      await d.close();
      account.parameters.delete(owner);
    }
  });
});
