// Slow boots: while an instance's launch is pending (and it stays pending until its member votes),
// the platform says its member is booting, so a `replace` join never takes it for dead, however long its boot or
// snapshot takes and whether or not its join marker (the join grace) has expired.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planJoin } from '../../src/core/planner.js';
import type { Member } from '../../src/core/types.js';
import { platformKnowledge, type GroupView } from '../../src/lambda/group.js';
import { BASE_ID, observe, options } from './fixtures.js';

const ip = (n: number) => `10.0.1.${n}`;
function memberOf(n: number, opts: Partial<Member> = {}): Member {
  return {
    id: BASE_ID + BigInt(n),
    name: `i-00000000000000${String(n).padStart(3, '0')}`,
    peerURLs: [`http://${ip(n)}:2380`],
    clientURLs: [`http://${ip(n)}:2379`],
    isLearner: false,
    ...opts,
  };
}
function group(states: Record<number, string>): GroupView {
  const instances = new Map(
    Object.entries(states).map(([n, state]) => {
      const id = memberOf(Number(n)).name;
      return [id, { instanceId: id, lifecycleState: state, privateIp: ip(Number(n)), ec2State: 'running' }] as const;
    }),
  );
  return { desiredCapacity: instances.size, instances };
}

describe('platform knowledge for slow boots', () => {
  // Three voters and a learner (4) whose instance is still booting or receiving a snapshot: it does not answer.
  const members = [memberOf(1), memberOf(2), memberOf(3), memberOf(4, { isLearner: true })];
  const self = { name: 'i-00000000000000009', peerURLs: [`http://${ip(9)}:2380`] };

  for (const started of [true, false]) {
    it(`a ${started ? 'started' : 'never started'} learner whose launch is pending is booting, never dead: replace refuses rather than remove it`, () => {
      const learner = started ? members[3]! : { ...members[3]!, name: '' };
      const all = [...members.slice(0, 3), learner];
      const known = platformKnowledge(group({ 1: 'InService', 2: 'InService', 3: 'InService', 4: 'Pending:Wait', 9: 'Pending:Wait' }), all);
      assert.deepEqual(known.bootingPeerURLs?.includes(`http://${ip(4)}:2380`), true);
      assert.deepEqual(known.goneNames, []);
      const plan = planJoin(
        observe({ members: all, health: { [4]: 'unreachable' } }, { self, size: 4, platform: known }),
        options('replace'),
      );
      assert.equal(plan.kind, 'refuse');
      assert.ok(
        plan.kind === 'refuse' && ['learner-pending', 'cluster-full', 'join-in-progress'].includes(plan.code),
        plan.kind === 'refuse' ? plan.message : '',
      );
    });
  }

  it('the same learner once its instance is in service and still unreachable is dead to replace (the join grace is what protects it then)', () => {
    const known = platformKnowledge(group({ 1: 'InService', 2: 'InService', 3: 'InService', 4: 'InService', 9: 'Pending:Wait' }), members);
    const plan = planJoin(observe({ members, health: { [4]: 'unreachable' } }, { self, size: 4, platform: known }), options('replace'));
    assert.equal(plan.kind, 'join', plan.kind === 'refuse' ? plan.message : '');
    assert.deepEqual(plan.kind === 'join' && plan.removals.map((r) => r.member.id), [members[3]!.id]);
  });
});
