// etcd's upkeep decision (src/core/upkeep.ts) as tables: which one action a reconcile pass takes, or why none.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decideUpkeep, quorumMargin, type UpkeepDecision, type UpkeepSettings, type UpkeepStatus } from '../../src/core/upkeep.js';
import type { ActiveAlarm } from '../../src/core/status.js';
import type { Member } from '../../src/core/types.js';
import { BASE_ID, member, unstarted } from './fixtures.js';

const MiB = 1024n * 1024n;
const id = (n: number): bigint => BASE_ID + BigInt(n);
const SETTINGS: UpkeepSettings = {
  quotaBackendBytes: 1000 * 1024 * 1024,
  defragFreeFraction: 0.5,
  defragMinFreeBytes: 100 * 1024 * 1024,
  nospaceDisarmBelowFraction: 0.8,
};
/** The disarm bound of SETTINGS: 800 MiB. */
const BOUND = 800n * MiB;

/** A status answer: `size` and `inUse` in MiB unless given as bytes; the leader is n1 unless said. */
function st(size: bigint, inUse: bigint | undefined, over: Partial<UpkeepStatus> = {}): UpkeepStatus {
  return { dbSize: size, ...(inUse !== undefined && { dbSizeInUse: inUse }), leader: id(1), ...over };
}

interface Case {
  readonly name: string;
  readonly members?: readonly Member[];
  readonly statuses: Record<number, UpkeepStatus>;
  readonly alarms?: readonly ActiveAlarm[];
  readonly compacted?: boolean;
  readonly settings?: Partial<UpkeepSettings>;
  readonly want: { readonly action: UpkeepDecision['action']; readonly member?: string; readonly [key: string]: unknown };
  readonly reason?: RegExp;
}

const three = [member(1), member(2), member(3)];
const nospace: ActiveAlarm = { memberId: id(2), alarm: 'NOSPACE' };

const CASES: Case[] = [
  {
    name: 'nothing to free',
    statuses: { 1: st(200n * MiB, 190n * MiB), 2: st(200n * MiB, 190n * MiB), 3: st(200n * MiB, 190n * MiB) },
    want: { action: 'none' },
    reason: /enough free space/,
  },
  {
    name: 'a follower with half its database free is defragmented',
    statuses: { 1: st(200n * MiB, 190n * MiB), 2: st(400n * MiB, 200n * MiB), 3: st(200n * MiB, 190n * MiB) },
    want: { action: 'defragment', member: 'n2', freeBytes: 200n * MiB },
    reason: /defragment n2 \(a follower\): its free space passed the threshold/,
  },
  {
    name: 'just under the fraction: nothing',
    statuses: { 1: st(400n * MiB, 400n * MiB), 2: st(400n * MiB, 200n * MiB + 1n), 3: st(400n * MiB, 400n * MiB) },
    want: { action: 'none' },
  },
  {
    name: 'enough of a fraction but under the minimum bytes: nothing',
    statuses: { 1: st(10n * MiB, 10n * MiB), 2: st(198n * MiB, 99n * MiB), 3: st(10n * MiB, 10n * MiB) },
    want: { action: 'none' },
  },
  {
    name: 'exactly the minimum and exactly the fraction: defragmented',
    statuses: { 1: st(10n * MiB, 10n * MiB), 2: st(200n * MiB, 100n * MiB), 3: st(10n * MiB, 10n * MiB) },
    want: { action: 'defragment', member: 'n2' },
  },
  {
    name: 'the leader and a follower need it: the follower first',
    statuses: { 1: st(900n * MiB, 100n * MiB), 2: st(400n * MiB, 200n * MiB), 3: st(200n * MiB, 190n * MiB) },
    want: { action: 'defragment', member: 'n2' },
  },
  {
    name: 'the leader needs it alone: the leader',
    statuses: { 1: st(900n * MiB, 100n * MiB), 2: st(200n * MiB, 190n * MiB), 3: st(200n * MiB, 190n * MiB) },
    want: { action: 'defragment', member: 'n1' },
    reason: /the leader, the only one left/,
  },
  {
    name: 'the follower with the most free space first',
    statuses: { 1: st(200n * MiB, 190n * MiB), 2: st(400n * MiB, 200n * MiB), 3: st(600n * MiB, 200n * MiB) },
    want: { action: 'defragment', member: 'n3', freeBytes: 400n * MiB },
  },
  {
    name: 'equal free space: the lower member ID first',
    statuses: { 1: st(200n * MiB, 190n * MiB), 2: st(400n * MiB, 200n * MiB), 3: st(400n * MiB, 200n * MiB) },
    want: { action: 'defragment', member: 'n2' },
  },
  {
    name: 'equal free space, listed the other way round: still the lower member ID',
    members: [member(3), member(2), member(1)],
    statuses: { 1: st(200n * MiB, 190n * MiB), 2: st(400n * MiB, 200n * MiB), 3: st(400n * MiB, 200n * MiB) },
    want: { action: 'defragment', member: 'n2' },
  },
  {
    name: 'the follower with the most free space first, listed the other way round',
    members: [member(3), member(2), member(1)],
    statuses: { 1: st(200n * MiB, 190n * MiB), 2: st(600n * MiB, 200n * MiB), 3: st(400n * MiB, 200n * MiB) },
    want: { action: 'defragment', member: 'n2', freeBytes: 400n * MiB },
  },
  {
    name: 'the follower with the most free space first, the higher ID listed first',
    members: [member(3), member(2), member(1)],
    statuses: { 1: st(200n * MiB, 190n * MiB), 2: st(400n * MiB, 200n * MiB), 3: st(600n * MiB, 200n * MiB) },
    want: { action: 'defragment', member: 'n3', freeBytes: 400n * MiB },
  },
  {
    name: 'the leader ranks after a follower with less free space',
    statuses: { 1: st(900n * MiB, 100n * MiB), 2: st(200n * MiB, 190n * MiB), 3: st(300n * MiB, 100n * MiB) },
    want: { action: 'defragment', member: 'n3' },
  },
  {
    name: 'a member without dbSizeInUse (older etcd) has no known free space',
    statuses: { 1: st(200n * MiB, 190n * MiB), 2: st(900n * MiB, undefined), 3: st(200n * MiB, 190n * MiB) },
    want: { action: 'none' },
  },
  {
    name: 'an in-use size above the database size counts as no free space',
    statuses: { 1: st(200n * MiB, 190n * MiB), 2: st(200n * MiB, 900n * MiB), 3: st(200n * MiB, 190n * MiB) },
    want: { action: 'none' },
  },
  {
    name: 'quorum margin zero (one of three voters down): no voter is defragmented',
    statuses: { 1: st(200n * MiB, 190n * MiB), 2: st(400n * MiB, 100n * MiB) },
    want: { action: 'refuse', code: 'quorum-margin-zero' },
    reason: /n2 should be defragmented, but the quorum margin is zero/,
  },
  {
    name: 'quorum margin zero because a voter knows no leader',
    statuses: { 1: st(200n * MiB, 190n * MiB), 2: st(400n * MiB, 100n * MiB), 3: st(200n * MiB, 190n * MiB, { leader: 0n }) },
    want: { action: 'refuse', code: 'quorum-margin-zero' },
  },
  {
    name: 'quorum margin zero: a started learner may still be defragmented',
    members: [...three, member(4, { isLearner: true })],
    statuses: { 1: st(200n * MiB, 190n * MiB), 2: st(400n * MiB, 100n * MiB), 4: st(400n * MiB, 200n * MiB) },
    want: { action: 'defragment', member: 'n4' },
    reason: /a learner/,
  },
  {
    name: 'a learner that has not started is never picked',
    members: [...three, unstarted(4, { isLearner: true })],
    statuses: {
      1: st(200n * MiB, 190n * MiB),
      2: st(200n * MiB, 190n * MiB),
      3: st(200n * MiB, 190n * MiB),
      4: st(900n * MiB, 100n * MiB),
    },
    want: { action: 'none' },
  },
  {
    name: 'a CORRUPT alarm stops all upkeep',
    statuses: { 1: st(200n * MiB, 190n * MiB), 2: st(400n * MiB, 100n * MiB), 3: st(200n * MiB, 190n * MiB) },
    alarms: [{ memberId: id(3), alarm: 'CORRUPT' }, nospace],
    want: { action: 'refuse', code: 'corrupt' },
  },
  {
    name: 'NOSPACE, not compacted: compact first, even with free space to return',
    statuses: { 1: st(1000n * MiB, 10n * MiB), 2: st(1000n * MiB, 990n * MiB), 3: st(1000n * MiB, 990n * MiB) },
    alarms: [nospace],
    want: { action: 'compact' },
    reason: /NOSPACE is active: compact to the current revision first/,
  },
  {
    name: 'NOSPACE, compacted: defragment a follower whose data in use fit under the bound',
    statuses: { 1: st(1000n * MiB, 100n * MiB), 2: st(1000n * MiB, 100n * MiB), 3: st(1000n * MiB, 100n * MiB) },
    alarms: [nospace],
    compacted: true,
    want: { action: 'defragment', member: 'n2' },
    reason: /NOSPACE is active and its database is over the disarm bound with free space to return/,
  },
  {
    name: 'NOSPACE: a member at exactly the bound with exactly 1 % of the quota free is defragmented',
    statuses: { 1: st(10n * MiB, 10n * MiB), 2: st(BOUND, BOUND - 10n * MiB), 3: st(10n * MiB, 10n * MiB) },
    alarms: [nospace],
    compacted: true,
    want: { action: 'defragment', member: 'n2', freeBytes: 10n * MiB },
  },
  {
    name: 'NOSPACE: a byte less than 1 % of the quota free is not worth it',
    statuses: { 1: st(10n * MiB, 10n * MiB), 2: st(BOUND, BOUND - 10n * MiB + 1n), 3: st(10n * MiB, 10n * MiB) },
    alarms: [nospace],
    compacted: true,
    want: { action: 'refuse', code: 'no-room' },
  },
  {
    name: "NOSPACE: etcd 3.4's stale in-use figure after compaction (still over the bound) does not stop the defragmentation",
    statuses: { 1: st(10n * MiB, 10n * MiB), 2: st(1000n * MiB, 900n * MiB), 3: st(10n * MiB, 10n * MiB) },
    alarms: [nospace],
    compacted: true,
    want: { action: 'defragment', member: 'n2', freeBytes: 100n * MiB },
  },
  {
    name: 'NOSPACE: every member just under the bound: disarm',
    statuses: { 1: st(BOUND - 1n, 10n), 2: st(BOUND - 1n, 10n), 3: st(BOUND - 1n, 10n) },
    alarms: [nospace, { memberId: id(3), alarm: 'NOSPACE' }],
    compacted: true,
    want: { action: 'disarm', alarms: [nospace, { memberId: id(3), alarm: 'NOSPACE' }] },
    reason: /every member's database is below 838860800 bytes \(0.8 of the quota\)/,
  },
  {
    name: 'NOSPACE: a started member did not answer: stays armed',
    statuses: { 1: st(10n * MiB, 10n * MiB), 2: st(10n * MiB, 10n * MiB) },
    alarms: [nospace],
    compacted: true,
    want: { action: 'refuse', code: 'member-unknown' },
    reason: /n3 did not answer/,
  },
  {
    name: 'NOSPACE: a member never started does not hold up the disarm',
    members: [...three, unstarted(4, { isLearner: true })],
    statuses: { 1: st(10n * MiB, 10n * MiB), 2: st(10n * MiB, 10n * MiB), 3: st(10n * MiB, 10n * MiB) },
    alarms: [nospace],
    compacted: true,
    want: { action: 'disarm' },
  },
  {
    name: 'NOSPACE: a database over the bound with no free space left: stays armed, says why',
    statuses: { 1: st(10n * MiB, 10n * MiB), 2: st(BOUND + 5n, BOUND), 3: st(10n * MiB, 10n * MiB) },
    alarms: [nospace],
    compacted: true,
    want: { action: 'refuse', code: 'no-room' },
    reason: /the databases of n2 are 838860800 bytes or more with no free space left after compaction; raise the quota/,
  },
  {
    name: 'NOSPACE: a defragmentation is refused at quorum margin zero, also then',
    statuses: { 1: st(10n * MiB, 10n * MiB), 2: st(1000n * MiB, 10n * MiB) },
    alarms: [nospace],
    compacted: true,
    want: { action: 'refuse', code: 'quorum-margin-zero' },
  },
  {
    name: 'NOSPACE: the leader last',
    statuses: { 1: st(1000n * MiB, 10n * MiB), 2: st(900n * MiB, 10n * MiB), 3: st(10n * MiB, 10n * MiB) },
    alarms: [nospace],
    compacted: true,
    want: { action: 'defragment', member: 'n2' },
  },
  {
    name: 'a NONE-like alarm of another kind does not count as NOSPACE',
    statuses: { 1: st(10n * MiB, 10n * MiB), 2: st(10n * MiB, 10n * MiB), 3: st(10n * MiB, 10n * MiB) },
    alarms: [{ memberId: id(2), alarm: 'NOSPACEX' }],
    want: { action: 'none' },
  },
];

describe('decideUpkeep', () => {
  for (const c of CASES) {
    test(c.name, () => {
      const got = decideUpkeep(
        {
          members: c.members ?? three,
          statuses: new Map(Object.entries(c.statuses).map(([n, s]) => [id(Number(n)), s])),
          alarms: c.alarms ?? [],
          compacted: c.compacted ?? false,
        },
        { ...SETTINGS, ...c.settings },
      );
      const { member: wantMember, ...want } = c.want;
      const shown = { ...got, ...('member' in got && { member: got.member.name }) };
      assert.deepEqual(pick(shown, Object.keys(c.want)), { ...want, ...(wantMember !== undefined && { member: wantMember }) });
      if (c.reason !== undefined) assert.match(got.reason, c.reason);
    });
  }
});

describe('quorumMargin', () => {
  const s = st(1n, 1n);
  test('three voters answering: one to spare', () => {
    assert.equal(quorumMargin({ members: three, statuses: new Map([id(1), id(2), id(3)].map((i) => [i, s])) }), 1);
  });
  test('learners neither count nor vote', () => {
    const members = [...three, member(4, { isLearner: true })];
    assert.equal(quorumMargin({ members, statuses: new Map([id(1), id(2), id(4)].map((i) => [i, s])) }), 0);
  });
  test('a silent learner does not count among the voters', () => {
    const members = [...three, member(4, { isLearner: true })];
    assert.equal(quorumMargin({ members, statuses: new Map([id(1), id(2), id(3)].map((i) => [i, s])) }), 1);
  });
  test('nobody answering: the quorum lost', () => {
    assert.equal(quorumMargin({ members: three, statuses: new Map() }), -2);
  });
});

function pick(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}
