// Quorum-guarded single changes: removing a terminating member and promoting a learner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planPromotion, planRemoval } from '../../src/core/membership.js';
import type { Health, Member } from '../../src/core/types.js';
import { BASE_ID, member } from './fixtures.js';

function view(members: Member[], unhealthy: number[] = []) {
  return {
    members,
    health: new Map(members.map((m) => [m.id, (unhealthy.includes(Number(m.id - BASE_ID)) ? 'unreachable' : 'healthy') as Health])),
  };
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

// A rolling update terminates voters one after another while each replacement is still a learner.
// Before the hold rule, step 1 removed B (2 voters keep a quorum, learners not counted) and left one voter and
// a learner that could never be promoted. Each step below is what the planner decides at that moment.
test('D2: terminating B while replacement D is still a learner is held; the rolling update continues once D is a voter', () => {
  const [a, b, c] = [member(1), member(2), member(3)];
  const dLearner = member(4, { isLearner: true });
  const learnerUnstarted = { ...dLearner, name: '' };
  // 0) A was removed already (3 voters -> 2 is fine: no learner, two voters can still grow).
  assert.equal(planRemoval(view([a, b, c]), byNumber(1), { targetSize: 3 }).kind, 'remove');
  // 1) D was added as a learner (not started yet, then started but not in sync): B's termination is held.
  for (const d of [learnerUnstarted, dLearner]) {
    const held = planRemoval(view([b, c, d], d.name === '' ? [4] : []), byNumber(2), { targetSize: 3 });
    assert.equal(held.kind, 'refuse', `learner ${d.name || 'unstarted'}`);
    assert.match(held.kind === 'refuse' ? held.reason : '', /learner .* is not promoted yet/);
  }
  // The learner stays promotable throughout: with B and C both voters, promoting D is allowed.
  assert.equal(planPromotion(view([b, c, dLearner]), dLearner.id).kind, 'promote');
  // 2) D is a voter: removing B is allowed now, and leaves C and D, two voters that can grow again.
  const dVoter = member(4);
  assert.equal(planRemoval(view([b, c, dVoter]), byNumber(2), { targetSize: 3 }).kind, 'remove');
  // Had B been removed at step 1, promotion would be refused for ever (the stranded state the hold prevents).
  assert.equal(planPromotion(view([c, dLearner]), dLearner.id).kind, 'refuse');
});

test('a healthy voter is held when it would leave a single voter of a larger cluster, but not in a cluster meant to have one', () => {
  const [b, c] = [member(2), member(3)];
  const held = planRemoval(view([b, c]), byNumber(2), { targetSize: 3 });
  assert.equal(held.kind, 'refuse');
  assert.match(held.kind === 'refuse' ? held.reason : '', /single voter/);
  assert.equal(planRemoval(view([b, c]), byNumber(2)).kind, 'refuse', 'no target size given: held');
  assert.equal(planRemoval(view([b, c]), byNumber(2), { targetSize: 1 }).kind, 'remove');
  // A dead voter is never held by the rule: removing it costs nothing.
  assert.equal(planRemoval(view([b, c], [2]), byNumber(2), { targetSize: 3 }).kind, 'remove');
});

test('a pending learner holds healthy voters only: a dead voter or the learner itself may still go', () => {
  const members = [member(1), member(2), member(3), member(4, { isLearner: true })];
  assert.equal(planRemoval(view(members), byNumber(1), { targetSize: 3 }).kind, 'refuse');
  assert.equal(planRemoval(view(members, [1]), byNumber(1), { targetSize: 3 }).kind, 'remove');
  assert.equal(planRemoval(view(members), byNumber(4), { targetSize: 3 }).kind, 'remove');
});
