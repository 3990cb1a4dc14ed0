// Which member a terminate removes, fast (the simulated cloud and the etcd gateway double, no etcd processes):
// the member named after the leaving instance, or an unstarted one (no name yet) on its address; never a started
// member of another name that happens to use the address (an earlier instance the address belonged to).
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { World } from '../sim/world.js';
import { startBareGroupOfThree } from './double-world.js';
import { doubleMemberId, doubleVoters, EtcdGatewayDouble, type DoubleMember } from './etcd-gateway-double.js';

describe('the member a terminate removes', () => {
  let world: World;
  let double: EtcdGatewayDouble;
  let ids: string[];
  const memberId = (instanceId: string): bigint => doubleMemberId(ids, instanceId);
  const removals = (): string[] => double.operations.filter((op) => op.startsWith('cluster/member/remove'));

  beforeEach(async () => {
    ({ world, ids } = await startBareGroupOfThree(300));
  });
  afterEach(async () => {
    await double.close();
    await world.close();
  });

  /** The group's three voters, the leaving instance's one changed by `change`. */
  const members = (leaving: string, change: (m: DoubleMember) => DoubleMember): DoubleMember[] =>
    doubleVoters(ids, (id) => world.instance(id).privateIp, world.config.clientPort).map((m) => (m.name === leaving ? change(m) : m));

  test('an unstarted member on the leaving instance address (added, never started) is removed', async () => {
    const leaving = ids[2]!;
    double = new EtcdGatewayDouble(members(leaving, (m) => ({ ...m, name: '', clientURLs: [] })));
    await double.start();
    await world.terminate(leaving);
    assert.deepEqual((await world.deliver())?.result, { kind: 'terminate', outcome: 'removed' });
    assert.deepEqual(removals(), [`cluster/member/remove ${memberId(leaving).toString()}`]);
    assert.deepEqual(double.members.map((m) => m.name).sort(), ids.slice(0, 2));
  });

  test('a started member of another name on the leaving instance address is kept: nothing of this instance to remove', async () => {
    const leaving = ids[2]!;
    double = new EtcdGatewayDouble(members(leaving, (m) => ({ ...m, name: 'i-0earlier' })));
    await double.start();
    await world.terminate(leaving);
    assert.deepEqual((await world.deliver())?.result, { kind: 'terminate', outcome: 'absent' });
    assert.deepEqual(removals(), []);
    assert.equal(double.members.length, 3);
    assert.deepEqual(
      world.completions().filter((c) => c.transition === 'terminate'),
      [{ instanceId: leaving, transition: 'terminate', result: 'CONTINUE' }],
    );
  });

  test('the member named after the leaving instance is removed even when it advertises another address', async () => {
    const leaving = ids[1]!;
    double = new EtcdGatewayDouble(members(leaving, (m) => ({ ...m, peerURLs: ['http://127.0.99.99:2380'] })));
    await double.start();
    await world.terminate(leaving);
    assert.deepEqual((await world.deliver())?.result, { kind: 'terminate', outcome: 'removed' });
    assert.deepEqual(removals(), [`cluster/member/remove ${memberId(leaving).toString()}`]);
  });
});
