// Table tests for the core rules whose mutants survived the last full mutation run (mutation/README.md lists
// them): certificate renewal at its edges, the version-skew rule beyond 3.x, the heal rule's order and its
// memberless follow-up, the check a membership refusal reports, and planner cases no other test reached
// (a static bootstrap with other peer URLs, an earlier incarnation under add, replace after an incarnation,
// reusing an unstarted learner beside another learner, a learner limit of 0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRenewalDue, validityWindow } from '../../src/core/certificates.js';
import { historyChanges, planHeal, planMemberless, type HealInput } from '../../src/core/health-history.js';
import { planRemoval } from '../../src/core/membership.js';
import { InvalidPlanInputError, planJoin } from '../../src/core/planner.js';
import { formatQuorumCheck, quorumCheck } from '../../src/core/quorum.js';
import type { Health, Member, MemberId, Plan } from '../../src/core/types.js';
import { checkVersionSkew, parseEtcdVersion } from '../../src/core/version.js';
import { BASE_ID, member, observe, options, peer, unstarted } from './fixtures.js';

const id = (n: number): MemberId => BASE_ID + BigInt(n);
const healthOf = (members: readonly Member[], bad: Record<number, Health> = {}): Map<MemberId, Health> =>
  new Map(members.map((m) => [m.id, bad[Number(m.id - BASE_ID)] ?? 'healthy']));
const refusal = (plan: Plan): { code: string; message: string } => {
  assert.equal(plan.kind, 'refuse', `planned ${plan.kind}`);
  return plan.kind === 'refuse' ? { code: plan.code, message: plan.message } : { code: '', message: '' };
};

// ---- certificates ----

test('certificate renewal: due exactly at the fraction, not before it, not at notBefore; fraction 1 means at notAfter', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const w = validityWindow(now, 30);
  const start = w.notBefore.getTime();
  const end = w.notAfter.getTime();
  const half = start + (end - start) / 2;
  assert.ok(Number.isInteger(half), 'the half-way point is a whole millisecond');
  assert.equal(isRenewalDue(w, new Date(start), 0.5), false, 'valid from notBefore on');
  assert.equal(isRenewalDue(w, new Date(start - 1), 0.5), true, 'not yet valid');
  assert.equal(isRenewalDue(w, new Date(half - 1), 0.5), false);
  assert.equal(isRenewalDue(w, new Date(half), 0.5), true, 'due at the fraction itself');
  assert.equal(isRenewalDue(w, new Date(end - 1), 1), false, 'fraction 1: valid until notAfter');
  assert.equal(isRenewalDue(w, new Date(end), 1), true, 'fraction 1: due at notAfter');
  assert.equal(isRenewalDue(w, new Date(end + 1), 0.5), true, 'expired');
  assert.throws(() => isRenewalDue(w, now, 1.5), /renewal fraction must be in \(0, 1\], got 1.5/);
  assert.throws(() => isRenewalDue(w, now, Number.NaN), RangeError);
});

// ---- quorum ----

test('a quorum check reads as "<step>: H healthy of V voters, quorum Q: ok|at risk" in logs', () => {
  assert.equal(formatQuorumCheck(quorumCheck('remove n3', 2, 2)), 'remove n3: 2 healthy of 2 voters, quorum 2: ok');
  assert.equal(formatQuorumCheck(quorumCheck('promote n9', 4, 2)), 'promote n9: 2 healthy of 4 voters, quorum 3: at risk');
});

// ---- version skew ----

test('etcd versions with several digits per part parse; version rules hold beyond major 3', () => {
  assert.deepEqual(parseEtcdVersion('10.12.3'), { major: 10, minor: 12, patch: 3 });
  assert.deepEqual(parseEtcdVersion(' 3.10.0 '), { major: 3, minor: 10, patch: 0 });
  assert.deepEqual(checkVersionSkew({ major: 4, minor: 0, patch: 0 }, '4.0.0'), { kind: 'ok' }, 'a 4.x cluster is a decided version');
  assert.equal(checkVersionSkew({ major: 3, minor: 4, patch: 0 }, '3.0.0').kind, 'unknown', "3.0.0 is etcd's placeholder");
  assert.equal(checkVersionSkew({ major: 3, minor: 4, patch: 0 }, '2.3.0').kind, 'unknown', 'below 3.4 is not a decided version');
  const major = checkVersionSkew({ major: 4, minor: 4, patch: 0 }, '3.4.0');
  assert.equal(major.kind, 'refuse', 'another major version');
  assert.match(major.kind === 'refuse' ? major.reason : '', /at most one minor version apart/);
  const twoMinors = checkVersionSkew({ major: 3, minor: 6, patch: 0 }, '3.4.0');
  assert.equal(twoMinors.kind, 'refuse', 'two minor versions ahead');
  assert.match(twoMinors.kind === 'refuse' ? twoMinors.reason : '', /at most one minor version apart/);
});

// ---- health history and the heal rule ----

test('only an unreachable member gets a record; a healthy or unknown one does not', () => {
  const members = [member(1), member(2), member(3)];
  const changes = historyChanges({ members, health: healthOf(members, { 2: 'unknown', 3: 'unreachable' }) }, new Map());
  assert.deepEqual(changes, { record: [id(3)], clear: [] });
});

const healInput = (members: Member[], bad: Record<number, Health>, since: Record<number, number>): HealInput => ({
  members,
  health: healthOf(members, bad),
  history: new Map(Object.entries(since).map(([n, t]) => [id(Number(n)), t])),
  now: 100_000,
  unhealthyAfterMs: 60_000,
  instanceOf: (m) => `i-${m.name}`,
});

test('the heal rule orders equally long unhealthy members: learners first, then by ID, whatever the input order', () => {
  const voters = [member(1), member(2), member(3), member(4), member(5)];
  for (const order of [
    [3, 4],
    [4, 3],
  ]) {
    const [a, b] = order.map((n) => member(n, { isLearner: n === 4 }));
    const decisions = planHeal(
      healInput([member(1), member(2), member(5), a!, b!], { 3: 'unreachable', 4: 'unreachable' }, { 3: 10_000, 4: 10_000 }),
    );
    assert.deepEqual(
      decisions.map((d) => [d.member.name, d.action]),
      [
        ['n4', 'report'],
        ['n3', 'wait'],
      ],
      `input order ${order.join(',')}`,
    );
  }
  for (const order of [
    [4, 5],
    [5, 4],
  ]) {
    const members = [...voters.slice(0, 3), ...order.map((n) => member(n))];
    const decisions = planHeal(healInput(members, { 4: 'unreachable', 5: 'unreachable' }, { 4: 10_000, 5: 10_000 }));
    assert.deepEqual(
      decisions.map((d) => [d.member.name, d.action]),
      [
        ['n4', 'report'],
        ['n5', 'wait'],
      ],
      `input order ${order.join(',')}`,
    );
  }
});

test('the heal rule says how long in seconds, and reports the longest unhealthy member first', () => {
  const members = [member(1), member(2), member(3), member(4), member(5)];
  const decisions = planHeal(healInput(members, { 4: 'unreachable', 5: 'unreachable' }, { 4: 20_000, 5: 10_000 }));
  assert.deepEqual(
    decisions.map((d) => [d.member.name, d.action, d.unhealthyForMs]),
    [
      ['n5', 'report', 90_000],
      ['n4', 'wait', 80_000],
    ],
  );
  assert.match(decisions[0]!.reason, /unhealthy for 90 s, past the threshold of 60 s: its instance i-n5 is reported/);
});

test('an instance without a member is reported when no member decision is a report, and not without such instances', () => {
  const members = [member(1), member(2), member(3)];
  const input = { ...healInput(members, { 3: 'unreachable' }, { 3: 90_000 }), memberless: ['i-7'] };
  const memberDecisions = planHeal(input);
  assert.deepEqual(
    memberDecisions.map((d) => d.action),
    ['wait'],
    'n3 is not past the threshold yet',
  );
  assert.deepEqual(
    planMemberless(input, memberDecisions).map((d) => [d.instanceId, d.action]),
    [['i-7', 'report']],
  );
  assert.deepEqual(planMemberless({ ...input, memberless: undefined }, memberDecisions), []);
});

// ---- membership ----

test('a hold on removing a healthy voter reports its quorum check as not ok, with the counts after the removal', () => {
  const withLearner = [member(1), member(2), member(3), member(4, { isLearner: true })];
  const held = planRemoval({ members: withLearner, health: healthOf(withLearner) }, (m) => m.id === id(3));
  assert.equal(held.kind, 'refuse');
  assert.deepEqual(held.kind === 'refuse' && held.check, {
    step: `remove n3 [${id(3).toString(16)}]`,
    voters: 2,
    healthyVoters: 2,
    quorum: 2,
    ok: false,
  });
  const two = [member(1), member(2)];
  const last = planRemoval({ members: two, health: healthOf(two) }, (m) => m.id === id(2), { targetSize: 3 });
  assert.equal(last.kind, 'refuse');
  assert.deepEqual(last.kind === 'refuse' && last.check, {
    step: `remove n2 [${id(2).toString(16)}]`,
    voters: 1,
    healthyVoters: 1,
    quorum: 1,
    ok: false,
  });
});

// ---- planner ----

test('static bootstrap: a recorded entry for this name with other peer URLs is refused, not bootstrapped', () => {
  const members = [
    { name: 'n9', peerURLs: [peer(19)] },
    { name: 'n1', peerURLs: [peer(1)] },
  ];
  const { code, message } = refusal(
    planJoin(observe('unreachable', { bootstrap: { kind: 'static', members, token: 't' } }), options('add')),
  );
  assert.equal(code, 'peer-url-in-use');
  assert.match(message, /lists n9 with peer URLs http:\/\/10\.0\.0\.19:2380, but this node advertises http:\/\/10\.0\.0\.9:2380/);
});

test('strategy add never removes an earlier incarnation of this node, even a dead one', () => {
  const members = [member(1), member(2), member(3), member(9, { peerURLs: [peer(29)] })];
  const { code, message } = refusal(planJoin(observe({ members, health: { 9: 'unreachable' } }, { size: 5 }), options('add')));
  assert.equal(code, 'peer-url-in-use');
  assert.match(message, /earlier incarnation of this node and must be removed first; strategy add never removes members/);
});

test('replace: removing an earlier incarnation is the one removal; it is not swapped for another dead member', () => {
  // n9's earlier incarnation is dead; the cluster is over its target, so even without it this node does not fit.
  const members = [member(1), member(2), member(9, { peerURLs: [peer(29)] })];
  const { code, message } = refusal(planJoin(observe({ members, health: { 9: 'unreachable' } }, { size: 2 }), options('replace')));
  assert.equal(code, 'cluster-full');
  assert.match(message, /the cluster would have 3 members, more than the target size 2 \(replace removes at most one dead member\)/);
});

test('reusing an unstarted learner beside another learner: the reused one already holds its slot', () => {
  const members = [member(1), member(2), member(3), member(4, { isLearner: true }), unstarted(9, { isLearner: true })];
  const plan = planJoin(observe({ members }, { size: 5 }), options('add', { maxLearners: 2 }));
  assert.equal(plan.kind, 'join', plan.kind === 'refuse' ? plan.message : '');
  assert.equal(plan.kind === 'join' && plan.admission.kind, 'reuse');
});

test('a learner limit of 0: a learner join is refused as invalid input (no TypeError), a voter join is planned', () => {
  const obs = observe({ members: [member(1), member(2), member(3)] }, { size: 5 });
  assert.throws(
    () => planJoin(obs, options('add', { maxLearners: 0 })),
    (err: unknown) =>
      err instanceof InvalidPlanInputError && /a learner limit of 0 admits no learner, but this node joins as a learner/.test(err.message),
  );
  const plan = planJoin(obs, options('add', { maxLearners: 0, joinAs: 'voter' }));
  assert.equal(plan.kind, 'join', plan.kind === 'refuse' ? plan.message : '');
  assert.deepEqual(plan.kind === 'join' && plan.admission, { kind: 'add', peerURLs: [peer(9)], asLearner: false });
});
