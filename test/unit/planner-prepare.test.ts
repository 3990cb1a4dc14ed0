// Strategy prepare never removes a member, not even a dead earlier incarnation of this node: it refuses with
// peer-url-in-use, whether or not the admin pre-added the unstarted member it would reuse. (Without these,
// `options.strategy === 'prepare'` in the planner's incarnation check could be dropped and prepare would plan the
// incarnation's removal; the add strategy's own test did not notice.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planJoin } from '../../src/core/planner.js';
import type { Plan } from '../../src/core/types.js';
import { member, observe, options, unstarted } from './fixtures.js';

const refusalCode = (plan: Plan): string => {
  assert.equal(plan.kind, 'refuse', `planned ${plan.kind}`);
  return plan.kind === 'refuse' ? plan.code : '';
};

// n8 is a dead member named like this node (n9) on another peer URL: an earlier incarnation.
const incarnation = member(8, { name: 'n9' });

test('prepare with a dead earlier incarnation and the pre-added member: refused (peer-url-in-use), nothing removed', () => {
  const members = [member(1), member(2), member(3), incarnation, unstarted(9)];
  const plan = planJoin(observe({ members, health: { 8: 'unreachable' } }, { size: 5 }), options('prepare'));
  assert.equal(refusalCode(plan), 'peer-url-in-use');
  assert.match(plan.kind === 'refuse' ? plan.message : '', /earlier incarnation of this node .* strategy prepare never removes members/);
});

test('prepare with a dead earlier incarnation and nothing pre-added: the incarnation is named first (peer-url-in-use)', () => {
  const members = [member(1), member(2), member(3), incarnation];
  const plan = planJoin(observe({ members, health: { 8: 'unreachable' } }, { size: 5 }), options('prepare'));
  assert.equal(refusalCode(plan), 'peer-url-in-use');
});
