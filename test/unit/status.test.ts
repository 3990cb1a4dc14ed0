// The status summary (src/core/status.ts) as tables: member rows, leader and lag, quorum margin, alarms, the group
// side by side with the members, and the verdict with its reasons.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  formatBytes,
  formatStatusTable,
  isLiveInstance,
  summarizeStatus,
  type GroupInstanceSample,
  type MemberProbe,
  type MemberStatusSample,
  type StatusObservation,
  type StatusProblemCode,
} from '../../src/core/status.js';
import type { Member } from '../../src/core/types.js';
import { BASE_ID, member, unstarted } from './fixtures.js';

const CLUSTER = 0xc1a57e5n;
const id = (n: number): bigint => BASE_ID + BigInt(n);

function answer(n: number, over: Partial<MemberStatusSample> = {}): MemberProbe {
  return {
    kind: 'answered',
    status: {
      clusterId: CLUSTER,
      memberId: id(n),
      leader: id(1),
      raftIndex: 100n,
      isLearner: false,
      version: '3.5.30',
      dbSize: 40_960n,
      dbSizeInUse: 20_480n,
      errors: [],
      ...over,
    },
  };
}
const failed = (error = 'etcd at http://10.0.0.2:2379 did not answer /v3/maintenance/status within 2000 ms'): MemberProbe => ({
  kind: 'failed',
  error,
});

function observation(
  members: Member[],
  probes: Record<number, MemberProbe | undefined>,
  extra: Partial<Pick<StatusObservation, 'alarms' | 'group'>> = {},
): StatusObservation {
  const map = new Map<bigint, MemberProbe>();
  for (const [n, p] of Object.entries(probes)) if (p !== undefined) map.set(id(Number(n)), p);
  return { clusterId: CLUSTER, members, probes: map, alarms: extra.alarms ?? [], ...(extra.group && { group: extra.group }) };
}

const three = [member(1), member(2), member(3)];
const instance = (n: number, over: Partial<GroupInstanceSample> = {}): GroupInstanceSample => ({
  instanceId: `i-000000000000000${n}`,
  lifecycleState: 'InService',
  privateIp: `10.0.0.${n}`,
  ec2State: 'running',
  ...over,
});

interface Case {
  readonly name: string;
  readonly observation: StatusObservation;
  readonly verdict: 'healthy' | 'degraded';
  readonly problems: readonly StatusProblemCode[];
  readonly margin: number;
  readonly healthy: readonly number[];
}

const cases: Case[] = [
  {
    name: 'three healthy voters',
    observation: observation(three, { 1: answer(1), 2: answer(2), 3: answer(3) }),
    verdict: 'healthy',
    problems: [],
    margin: 1,
    healthy: [1, 2, 3],
  },
  {
    name: 'five healthy voters survive two failures',
    observation: observation(
      [1, 2, 3, 4, 5].map((n) => member(n)),
      { 1: answer(1), 2: answer(2), 3: answer(3), 4: answer(4), 5: answer(5) },
    ),
    verdict: 'healthy',
    problems: [],
    margin: 2,
    healthy: [1, 2, 3, 4, 5],
  },
  {
    name: 'one of three does not answer: margin 0',
    observation: observation(three, { 1: answer(1), 2: failed(), 3: answer(3) }),
    verdict: 'degraded',
    problems: ['member-unhealthy'],
    margin: 0,
    healthy: [1, 3],
  },
  {
    name: 'two of three down: the quorum is lost, and the last one knows no leader',
    observation: observation(three, { 1: answer(1, { leader: 0n }), 2: failed(), 3: failed() }),
    verdict: 'degraded',
    problems: ['quorum-lost', 'no-leader', 'member-unhealthy', 'member-unhealthy', 'member-unhealthy'],
    margin: -2,
    healthy: [],
  },
  {
    name: 'a healthy learner does not count as a voter',
    observation: observation([...three, member(4, { isLearner: true })], {
      1: answer(1),
      2: answer(2),
      3: answer(3),
      4: answer(4, { isLearner: true }),
    }),
    verdict: 'healthy',
    problems: [],
    margin: 1,
    healthy: [1, 2, 3, 4],
  },
  {
    name: 'a dead learner degrades the cluster but not its quorum margin',
    observation: observation([...three, member(4, { isLearner: true })], { 1: answer(1), 2: answer(2), 3: answer(3), 4: failed() }),
    verdict: 'degraded',
    problems: ['member-unhealthy'],
    margin: 1,
    healthy: [1, 2, 3],
  },
  {
    name: 'an added member that never started',
    observation: observation([...three, unstarted(4)], { 1: answer(1), 2: answer(2), 3: answer(3) }),
    verdict: 'degraded',
    problems: ['member-unstarted'],
    margin: 0, // 4 voters need 3; 3 are healthy
    healthy: [1, 2, 3],
  },
  {
    name: 'another member answers at its address (a replacement on a dead member’s IP)',
    observation: observation(three, { 1: answer(1), 2: answer(2, { memberId: id(9) }), 3: answer(3) }),
    verdict: 'degraded',
    problems: ['member-unhealthy'],
    margin: 0,
    healthy: [1, 3],
  },
  {
    name: 'a node of another cluster answers',
    observation: observation(three, { 1: answer(1), 2: answer(2), 3: answer(3, { clusterId: 0xbadn }) }),
    verdict: 'degraded',
    problems: ['member-unhealthy'],
    margin: 0,
    healthy: [1, 2],
  },
  {
    name: 'a NOSPACE alarm on a healthy cluster',
    observation: observation(three, { 1: answer(1), 2: answer(2), 3: answer(3) }, { alarms: [{ memberId: id(2), alarm: 'NOSPACE' }] }),
    verdict: 'degraded',
    problems: ['alarm'],
    margin: 1,
    healthy: [1, 2, 3],
  },
  {
    name: 'the alarms could not be read',
    observation: observation(three, { 1: answer(1), 2: answer(2), 3: answer(3) }, { alarms: { error: 'timeout' } }),
    verdict: 'degraded',
    problems: ['alarms-unknown'],
    margin: 1,
    healthy: [1, 2, 3],
  },
  {
    name: 'the group matches the members (by IP in the peer URLs)',
    observation: observation(
      three,
      { 1: answer(1), 2: answer(2), 3: answer(3) },
      { group: { name: 'etcd', instances: [instance(1), instance(2), instance(3)] } },
    ),
    verdict: 'healthy',
    problems: [],
    margin: 1,
    healthy: [1, 2, 3],
  },
  {
    name: 'a member whose instance was terminated, and its replacement launching without a member yet',
    observation: observation(
      three,
      { 1: answer(1), 2: answer(2), 3: failed() },
      {
        group: {
          name: 'etcd',
          instances: [
            instance(1),
            instance(2),
            instance(3, { lifecycleState: 'Terminated', ec2State: 'terminated' }),
            instance(4, { lifecycleState: 'Pending:Wait' }),
          ],
        },
      },
    ),
    verdict: 'degraded',
    problems: ['member-unhealthy', 'member-without-instance'],
    margin: 0,
    healthy: [1, 2],
  },
  {
    name: 'an instance in service without a member',
    observation: observation(
      three,
      { 1: answer(1), 2: answer(2), 3: answer(3) },
      { group: { name: 'etcd', instances: [instance(1), instance(2), instance(3), instance(4)] } },
    ),
    verdict: 'degraded',
    problems: ['instance-without-member'],
    margin: 1,
    healthy: [1, 2, 3],
  },
];

describe('summarizeStatus', () => {
  for (const c of cases) {
    test(c.name, () => {
      const summary = summarizeStatus(c.observation);
      assert.equal(summary.verdict, c.verdict);
      assert.deepEqual(
        summary.problems.map((p) => p.code),
        c.problems,
      );
      assert.equal(summary.quorum.margin, c.margin);
      assert.deepEqual(
        summary.members.filter((m) => m.healthy).map((m) => Number(m.id - BASE_ID)),
        [...c.healthy],
      );
      // Every unhealthy row says why; healthy rows do not.
      for (const m of summary.members) assert.equal(m.problem === undefined, m.healthy, `${m.name}: ${m.problem ?? '-'}`);
    });
  }

  test('leader and lag: the leader most answers name, each member behind it by raft index', () => {
    const s = summarizeStatus(
      observation(three, {
        1: answer(1, { raftIndex: 500n }),
        2: answer(2, { raftIndex: 480n }),
        3: answer(3, { raftIndex: 505n }), // asked a moment later than the leader: not "ahead"
      }),
    );
    assert.equal(s.leader, id(1));
    assert.deepEqual(
      s.members.map((m) => [m.name, m.leader, m.lag]),
      [
        ['n1', true, 0n],
        ['n2', false, 20n],
        ['n3', false, 0n],
      ],
    );
  });

  test('no lag without the leader’s answer; sizes, version and alarms per member', () => {
    const s = summarizeStatus(
      observation(three, { 1: failed(), 2: answer(2), 3: answer(3) }, { alarms: [{ memberId: id(3), alarm: 'CORRUPT' }] }),
    );
    const byName = new Map(s.members.map((m) => [m.name, m]));
    assert.equal(byName.get('n2')?.lag, undefined);
    // The others still follow n1 (not yet past their election timeout): it is shown as the leader, and unhealthy.
    assert.equal(s.leader, id(1));
    assert.equal(byName.get('n1')?.leader, true);
    assert.equal(byName.get('n1')?.healthy, false);
    assert.equal(byName.get('n2')?.dbSize, 40_960n);
    assert.equal(byName.get('n2')?.dbSizeInUse, 20_480n);
    assert.equal(byName.get('n2')?.version, '3.5.30');
    assert.deepEqual(byName.get('n3')?.alarms, ['CORRUPT']);
    assert.deepEqual(byName.get('n2')?.alarms, []);
    assert.match(byName.get('n1')?.problem ?? '', /did not answer/);
  });

  test('the alarms come from the status errors when the alarm list failed', () => {
    const s = summarizeStatus(
      observation(
        three,
        { 1: answer(1), 2: answer(2, { errors: [`memberID:${id(2)} alarm:NOSPACE `] }), 3: answer(3) },
        { alarms: { error: 'x' } },
      ),
    );
    assert.deepEqual(s.alarms, [{ memberId: id(2), alarm: 'NOSPACE' }]);
    assert.deepEqual(
      s.problems.map((p) => p.code),
      ['alarm', 'alarms-unknown'],
    );
  });

  test('rows: started members by name, unstarted ones last; the group by instance ID with the member each runs', () => {
    const s = summarizeStatus(
      observation(
        [unstarted(4), member(3), member(1, { name: 'i-0000000000000009' }), member(2)],
        { 1: answer(1), 2: answer(2), 3: answer(3) },
        { group: { name: 'etcd', instances: [instance(9, { privateIp: '10.9.9.9' }), instance(2), instance(3)] } },
      ),
    );
    assert.deepEqual(
      s.members.map((m) => m.name),
      ['i-0000000000000009', 'n2', 'n3', ''],
    );
    // Matched by name (n1 is named after its instance) and by the IP in the peer URLs (n2, n3).
    assert.deepEqual(
      s.members.map((m) => m.instanceId),
      ['i-0000000000000009', 'i-0000000000000002', 'i-0000000000000003', undefined],
    );
    assert.deepEqual(
      s.group?.instances.map((i) => [i.instanceId, i.memberId]),
      [
        ['i-0000000000000002', id(2)],
        ['i-0000000000000003', id(3)],
        ['i-0000000000000009', id(1)],
      ],
    );
    assert.deepEqual(s.group?.membersWithoutInstance, [id(4)]);
    assert.deepEqual(s.group?.instancesWithoutMember, []);
  });

  test('a live instance: in service or launching, its machine not going away', () => {
    const table: [Partial<GroupInstanceSample>, boolean][] = [
      [{ lifecycleState: 'InService' }, true],
      [{ lifecycleState: 'Pending:Wait' }, true],
      [{ lifecycleState: 'Standby' }, true],
      [{ lifecycleState: 'Terminating:Wait' }, false],
      [{ lifecycleState: 'Terminated' }, false],
      [{ lifecycleState: 'InService', ec2State: 'shutting-down' }, false],
      [{ lifecycleState: 'InService', ec2State: 'terminated' }, false],
    ];
    for (const [over, live] of table) assert.equal(isLiveInstance(instance(1, over)), live, JSON.stringify(over));
  });
});

describe('formatStatusTable', () => {
  test('shows the verdict, the margin, a row per member, the group and the problems', () => {
    const text = formatStatusTable(
      summarizeStatus(
        observation(
          three,
          { 1: answer(1), 2: answer(2), 3: failed() },
          { group: { name: 'etcd-asg', instances: [instance(1), instance(2), instance(4)] } },
        ),
      ),
    );
    const lines = text.split('\n');
    assert.match(lines[0] ?? '', /^cluster c1a57e5: DEGRADED$/);
    assert.match(lines[1] ?? '', /voters 2\/3 healthy, quorum 2, margin 0 \(survives no further voter failure\)/);
    assert.match(text, /^NAME +ID +ROLE +STARTED +HEALTHY +LEADER +RAFT INDEX +LAG +DB SIZE +IN USE +VERSION +ALARMS +INSTANCE$/m);
    assert.match(text, /^n1 +[0-9a-f]{16} +voter +yes +yes +yes +100 +0 +40\.0 KiB +20\.0 KiB +3\.5\.30 +- +i-0000000000000001$/m);
    assert.match(text, /^n3 +[0-9a-f]{16} +voter +yes +NO +- +- +- +- +- +- +NONE$/m);
    assert.match(text, /^group etcd-asg: 3 instances$/m);
    assert.match(text, /^i-0000000000000004 +10\.0\.0\.4 +InService +running +NONE$/m);
    assert.match(text, /^ {2}member-unhealthy: member n3 /m);
    assert.match(text, /^ {2}member-without-instance: member n3 /m);
    assert.match(text, /^ {2}instance-without-member: instance i-0000000000000004 /m);
  });

  test('bytes as people read them', () => {
    assert.deepEqual([0n, 1023n, 1024n, 1536n, 20n * 1024n * 1024n, 3n * 1024n ** 3n].map(formatBytes), [
      '0 B',
      '1023 B',
      '1.0 KiB',
      '1.5 KiB',
      '20.0 MiB',
      '3.0 GiB',
    ]);
  });
});
