// Quorum-guarded single changes: removing a terminating member and promoting a learner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planPromotion, planRemoval } from '../../src/core/membership.js';
import type { Health, Member } from '../../src/core/types.js';
import { BASE_ID, member } from './fixtures.js';

function view(members: Member[], unhealthy: number[] = []) {
  return { members, health: new Map(members.map((m) => [m.id, (unhealthy.includes(Number(m.id - BASE_ID)) ? 'unreachable' : 'healthy') as Health])) };
}
const byNumber = (n: number) => (m: Member) => m.id === BASE_ID + BigInt(n);

test('removing a healthy member of 3 healthy voters is safe', () => {
  assert.equal(planRemoval(view([member(1), member(2), member(3)]), byNumber(3)).kind, 'remove');
});
test('removing a healthy member while another is down would lose quorum: refused', () => {
  const d = planRemoval(view([member(1), member(2), member(3)], [2]), byNumber(3));
  assert.equal(d.kind, 'refuse');
  assert.deepEqual(d.kind === 'refuse' && [d.check.voters, d.check.healthyVoters, d.check.quorum], [2, 1, 2]);
});
test('removing the dead member itself is safe', () => {
  assert.equal(planRemoval(view([member(1), member(2), member(3)], [2]), byNumber(2)).kind, 'remove');
});
test('a member that is already gone is nothing to do (duplicate terminate events)', () => {
  assert.equal(planRemoval(view([member(1), member(2)]), byNumber(3)).kind, 'absent');
});
test('the last voter is never removed', () => {
  assert.equal(planRemoval(view([member(1)]), byNumber(1)).kind, 'refuse');
});
test('a learner costs no quorum: removable where removing a healthy voter is not', () => {
  const members = [member(1), member(2), member(3), member(4, { isLearner: true })];
  assert.equal(planRemoval(view(members, [2]), byNumber(3)).kind, 'refuse');
  assert.equal(planRemoval(view(members, [2]), byNumber(4)).kind, 'remove');
});
test('promotion needs the existing healthy voters to be a quorum of the larger set', () => {
  const learner = member(4, { isLearner: true });
  assert.equal(planPromotion(view([member(1), member(2), member(3), learner]), learner.id).kind, 'promote');
  assert.equal(planPromotion(view([member(1), member(2), member(3), learner], [3]), learner.id).kind, 'refuse');
  assert.equal(planPromotion(view([member(1), member(2)]), member(2).id).kind, 'not-learner');
});
