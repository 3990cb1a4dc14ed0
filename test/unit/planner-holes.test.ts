// Table tests for planner rules that only the random properties used to reach (test audit, sections 2.1 and
// 2.2): each case is a fixed scenario, so a defect fails CI on every run, not on some seeds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planJoin } from '../../src/core/planner.js';
import type { Plan, QuorumCheck } from '../../src/core/types.js';
import { member, observe, options, peer } from './fixtures.js';

const checksOf = (plan: Plan): readonly QuorumCheck[] => (plan.kind === 'join' || plan.kind === 'refuse' ? (plan.checks ?? []) : []);
const compact = (checks: readonly QuorumCheck[]): string[] =>
  checks.map((c) => `${c.step.replace(/ \[[0-9a-f]+\]/g, '')}: ${c.healthyVoters}/${c.voters} q${c.quorum} ${c.ok ? 'ok' : 'at risk'}`);

test('removing a dead learner does not lower the voter count: replace refuses when the promotion would lose the quorum', () => {
  // Voters n1-n3 with n3 down, a dead learner n4, size 4. Replace removes n4 (dead learners go first), which
  // leaves 3 voters; promoting this node makes 4 voters with 2 healthy, below the quorum of 3.
  const plan = planJoin(
    observe(
      { members: [member(1), member(2), member(3), member(4, { isLearner: true })], health: { 3: 'unreachable', 4: 'unreachable' } },
      { size: 4 },
    ),
    options('replace'),
  );
  assert.equal(plan.kind, 'refuse');
  assert.equal(plan.kind === 'refuse' && plan.code, 'quorum-at-risk');
  assert.deepEqual(compact(checksOf(plan)), ['remove n4: 2/3 q2 ok', 'add n9 as learner: 2/3 q2 ok', 'promote n9: 2/4 q3 at risk']);
});

test('removing a dead learner keeps the voter count in every check of a join that is allowed', () => {
  // The same shape with all voters healthy: the join goes ahead, and each check counts 3 voters until the promotion.
  const plan = planJoin(
    observe({ members: [member(1), member(2), member(3), member(4, { isLearner: true })], health: { 4: 'unreachable' } }, { size: 4 }),
    options('replace'),
  );
  assert.equal(plan.kind, 'join', plan.kind === 'refuse' ? plan.message : plan.kind);
  assert.deepEqual(compact(checksOf(plan)), ['remove n4: 3/3 q2 ok', 'add n9 as learner: 3/3 q2 ok', 'promote n9: 3/4 q3 ok']);
});

test('joining directly as a voter is checked on the larger voter set: 2 healthy of 4 is refused', () => {
  const plan = planJoin(
    observe({ members: [member(1), member(2), member(3)], health: { 3: 'unreachable' } }, { size: 'unlimited' }),
    options('add', { joinAs: 'voter' }),
  );
  assert.equal(plan.kind, 'refuse');
  assert.deepEqual(compact(checksOf(plan)), ['add n9 as voter: 2/4 q3 at risk']);
});

test('joining directly as a voter into a healthy cluster: one check on the larger voter set', () => {
  const plan = planJoin(
    observe({ members: [member(1), member(2), member(3)] }, { size: 'unlimited' }),
    options('add', { joinAs: 'voter' }),
  );
  assert.equal(plan.kind, 'join');
  assert.deepEqual(compact(checksOf(plan)), ['add n9 as voter: 3/4 q3 ok']);
});

test('a learner that stays is listed in the initial cluster', () => {
  const plan = planJoin(
    observe({ members: [member(1), member(2), member(3), member(4, { isLearner: true })] }, { size: 'unlimited' }),
    options('add', { joinAs: 'voter' }),
  );
  assert.equal(plan.kind, 'join', plan.kind === 'refuse' ? plan.message : plan.kind);
  assert.deepEqual(plan.kind === 'join' && plan.settings.initialCluster, [
    { name: 'n9', peerURL: peer(9) },
    { name: 'n1', peerURL: peer(1) },
    { name: 'n2', peerURL: peer(2) },
    { name: 'n3', peerURL: peer(3) },
    { name: 'n4', peerURL: peer(4) },
  ]);
});

test('every peer URL of every other member is in the initial cluster (etcd compares them member by member)', () => {
  const n1Second = 'http://10.0.1.1:2380';
  const n3Second = 'http://[fd00::3]:2380';
  const plan = planJoin(
    observe(
      {
        members: [member(1, { peerURLs: [peer(1), n1Second] }), member(2), member(3, { peerURLs: [peer(3), n3Second] }), member(4)],
        health: { 4: 'unreachable' },
      },
      { size: 4 },
    ),
    options('replace'),
  );
  assert.equal(plan.kind, 'join', plan.kind === 'refuse' ? plan.message : plan.kind);
  assert.deepEqual(plan.kind === 'join' && plan.settings.initialCluster, [
    { name: 'n9', peerURL: peer(9) },
    { name: 'n1', peerURL: peer(1) },
    { name: 'n1', peerURL: n1Second },
    { name: 'n2', peerURL: peer(2) },
    { name: 'n3', peerURL: peer(3) },
    { name: 'n3', peerURL: n3Second },
  ]);
});
