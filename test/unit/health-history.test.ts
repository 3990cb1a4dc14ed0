// Table tests of the health-over-time rules (src/core/health-history.ts): the history's updates, the threshold
// the planner sees through, and which long-unhealthy member (if any) is reported to the group.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyHistoryChanges,
  healthPastThreshold,
  historyChanges,
  planHeal,
  planMemberless,
  type HealInput,
} from '../../src/core/health-history.js';
import { planJoin } from '../../src/core/planner.js';
import type { Health, Member } from '../../src/core/types.js';
import { BASE_ID, member, observe, options, unstarted } from './fixtures.js';

const T = 60_000; // the threshold in these tables
const NOW = 1_000_000_000;
const id = (n: number): bigint => BASE_ID + BigInt(n);

function view(members: Member[], health: Record<number, Health> = {}) {
  return { members, health: new Map(members.map((m) => [m.id, health[Number(m.id - BASE_ID)] ?? 'healthy'])) };
}

/** History from "member n has been unhealthy for ms". */
function history(entries: Record<number, number>): Map<bigint, number> {
  return new Map(Object.entries(entries).map(([n, ms]) => [id(Number(n)), NOW - ms]));
}

function heal(members: Member[], health: Record<number, Health>, unhealthyFor: Record<number, number>, extra: Partial<HealInput> = {}) {
  return planHeal({
    ...view(members, health),
    history: history(unhealthyFor),
    now: NOW,
    unhealthyAfterMs: T,
    instanceOf: (m) => (m.name === '' ? `i-unstarted${Number(m.id - BASE_ID)}` : `i-${m.name}`),
    ...extra,
  });
}

describe('the health history', () => {
  test('an unreachable member is recorded once; an answer or leaving clears it; unknown changes nothing', () => {
    const members = [member(1), member(2), member(3), member(4)];
    const changes = historyChanges(
      view(members, { 2: 'unreachable', 3: 'unknown', 4: 'unreachable' }),
      history({ 1: 5000, 3: 5000, 4: 5000, 7: 5000 }),
    );
    assert.deepEqual(changes.record, [id(2)], 'only the newly unreachable member; 4 keeps its earlier start');
    assert.deepEqual([...changes.clear].sort(), [id(1), id(7)], '1 answered, 7 is no longer a member; 3 (unknown) keeps its record');
    const next = applyHistoryChanges(history({ 1: 5000, 3: 5000, 4: 5000, 7: 5000 }), changes, NOW);
    assert.deepEqual(
      [...next.entries()].sort(),
      [
        [id(2), NOW],
        [id(3), NOW - 5000],
        [id(4), NOW - 5000],
      ].sort(),
    );
  });

  const cases: { name: string; unhealthyFor?: number; expected: Health }[] = [
    { name: 'first missed check (no record yet)', expected: 'unknown' },
    { name: 'unhealthy for less than the threshold', unhealthyFor: T - 1, expected: 'unknown' },
    { name: 'unhealthy for exactly the threshold', unhealthyFor: T, expected: 'unreachable' },
    { name: 'unhealthy for longer', unhealthyFor: 10 * T, expected: 'unreachable' },
  ];
  for (const c of cases) {
    test(`the planner sees an unreachable member ${c.name} as ${c.expected}`, () => {
      const v = view([member(1), member(2), member(3)], { 3: 'unreachable' });
      const { health, suspects } = healthPastThreshold(v, history(c.unhealthyFor === undefined ? {} : { 3: c.unhealthyFor }), NOW, T);
      assert.equal(health.get(id(3)), c.expected);
      assert.equal(health.get(id(1)), 'healthy');
      assert.deepEqual(
        suspects.map((m) => m.id),
        c.expected === 'unknown' ? [id(3)] : [],
      );
    });
  }

  test('replace at the target size: a member below the threshold is not removed, past it it is (remove first, then add)', () => {
    const members = [member(1), member(2), member(3)];
    const raw = view(members, { 3: 'unreachable' });
    const below = healthPastThreshold(raw, history({ 3: T - 1 }), NOW, T);
    const early = planJoin(observe({ members, health: { 3: below.health.get(id(3))! } }), options('replace'));
    assert.equal(early.kind, 'refuse');
    assert.equal(early.kind === 'refuse' && early.code, 'cluster-full');
    const past = healthPastThreshold(raw, history({ 3: T }), NOW, T);
    const late = planJoin(observe({ members, health: { 3: past.health.get(id(3))! } }), options('replace'));
    assert.equal(late.kind, 'join');
    assert.deepEqual(late.kind === 'join' && late.removals.map((r) => r.member.id), [id(3)]);
  });
});

describe('which long-unhealthy member is reported to the group', () => {
  const three = [member(1), member(2), member(3)];
  const five = [member(1), member(2), member(3), member(4), member(5)];
  const reported = (decisions: ReturnType<typeof planHeal>) => decisions.filter((d) => d.action === 'report').map((d) => d.instanceId);

  const table: {
    name: string;
    members: Member[];
    health: Record<number, Health>;
    unhealthyFor: Record<number, number>;
    extra?: Partial<HealInput>;
    expected: string[];
  }[] = [
    { name: 'below the threshold: nothing', members: three, health: { 3: 'unreachable' }, unhealthyFor: { 3: T - 1 }, expected: [] },
    { name: 'past the threshold: its instance', members: three, health: { 3: 'unreachable' }, unhealthyFor: { 3: T }, expected: ['i-n3'] },
    { name: 'answering again (health record stale): nothing', members: three, health: {}, unhealthyFor: { 3: 10 * T }, expected: [] },
    {
      name: 'two of three unhealthy (no quorum): nothing',
      members: three,
      health: { 2: 'unreachable', 3: 'unreachable' },
      unhealthyFor: { 2: 10 * T, 3: 10 * T },
      expected: [],
    },
    {
      name: 'two of five: only one, the longest unhealthy',
      members: five,
      health: { 2: 'unreachable', 4: 'unreachable' },
      unhealthyFor: { 2: 2 * T, 4: 3 * T },
      expected: ['i-n4'],
    },
    {
      name: 'while a replacement is under way: nothing',
      members: three,
      health: { 3: 'unreachable' },
      unhealthyFor: { 3: 10 * T },
      extra: { busy: 'instance i-x is Pending:Wait' },
      expected: [],
    },
    {
      name: 'no instance of the group behind it: nothing (left to joins)',
      members: three,
      health: { 3: 'unreachable' },
      unhealthyFor: { 3: 10 * T },
      extra: { instanceOf: () => undefined },
      expected: [],
    },
    {
      name: 'a learner that never started, past the threshold: its instance',
      members: [...three, unstarted(4, { isLearner: true })],
      health: { 4: 'unreachable' },
      unhealthyFor: { 4: T },
      expected: ['i-unstarted4'],
    },
    {
      name: 'two voters, one unhealthy (one healthy is no quorum of two): nothing',
      members: [member(1), member(2)],
      health: { 2: 'unreachable' },
      unhealthyFor: { 2: 10 * T },
      expected: [],
    },
    { name: 'the last voter: never', members: [member(1)], health: { 1: 'unreachable' }, unhealthyFor: { 1: 10 * T }, expected: [] },
  ];
  for (const c of table) {
    test(c.name, () => {
      const decisions = heal(c.members, c.health, c.unhealthyFor, c.extra);
      assert.deepEqual(reported(decisions), c.expected);
      // Every unhealthy member gets a decision that says how long and why.
      for (const d of decisions) assert.ok(d.reason.length > 20 && d.unhealthyForMs >= 0, d.reason);
    });
  }

  test('every decision names the member and says why it waits', () => {
    const decisions = heal(five, { 2: 'unreachable', 4: 'unreachable' }, { 2: 2 * T, 4: 3 * T });
    const waiting = decisions.find((d) => d.member.id === id(2));
    assert.equal(waiting?.action, 'wait');
    assert.match(waiting?.reason ?? '', /n2 .*one at a time/);
  });

  test('an instance without a member is reported only when nothing else is and the group is at rest', () => {
    const base: HealInput = {
      ...view(three),
      history: new Map(),
      now: NOW,
      unhealthyAfterMs: T,
      instanceOf: () => undefined,
      memberless: ['i-a', 'i-b'],
    };
    assert.deepEqual(
      planMemberless(base, []).map((d) => d.action),
      ['report', 'wait'],
    );
    assert.deepEqual(
      planMemberless({ ...base, busy: 'instance i-x is Pending:Wait' }, []).map((d) => d.action),
      ['wait', 'wait'],
    );
    const memberReported = heal(three, { 3: 'unreachable' }, { 3: T });
    assert.deepEqual(
      planMemberless(base, memberReported).map((d) => d.action),
      ['wait', 'wait'],
    );
    const noQuorum = { ...base, ...view(three, { 2: 'unreachable', 3: 'unreachable' }) };
    assert.deepEqual(
      planMemberless(noQuorum, []).map((d) => d.action),
      ['wait', 'wait'],
    );
  });
});
