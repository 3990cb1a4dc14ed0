// The status summary and its table, whole: every field of every row, every problem's wording and every line of the
// table, for observations built to tell apart what the table tests in status.test.ts leave open (the leader most
// answers name, foreign answers, alarms on unnamed or unknown members, the group's matching and order, the table's
// columns and plurals). Each expected value below was checked by hand against the rule in src/core/status.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  formatBytes,
  formatStatusTable,
  runsOn,
  summarizeStatus,
  type GroupInstanceSample,
  type MemberProbe,
  type MemberStatusSample,
  type StatusObservation,
  type StatusSummary,
} from '../../src/core/status.js';
import type { Member } from '../../src/core/types.js';

const CLUSTER = 0xc1n;

function m(id: bigint, name: string, ip: string, over: Partial<Member> = {}): Member {
  return { id, name, peerURLs: [`http://${ip}:2380`], clientURLs: name === '' ? [] : [`http://${ip}:2379`], isLearner: false, ...over };
}
function ok(id: bigint, over: Partial<MemberStatusSample> = {}): MemberProbe {
  const status: MemberStatusSample = {
    clusterId: CLUSTER,
    memberId: id,
    leader: 0xa1n,
    raftIndex: 100n,
    isLearner: false,
    version: '3.5.30',
    dbSize: 2048n,
    dbSizeInUse: 1024n,
    errors: [],
    ...over,
  };
  return { kind: 'answered', status };
}
const down = (error: string): MemberProbe => ({ kind: 'failed', error });
function obs(
  members: Member[],
  probes: [bigint, MemberProbe][],
  extra: Partial<Pick<StatusObservation, 'alarms' | 'group'>> = {},
): StatusObservation {
  return { clusterId: CLUSTER, members, probes: new Map(probes), alarms: extra.alarms ?? [], ...(extra.group && { group: extra.group }) };
}
const inst = (instanceId: string, over: Partial<GroupInstanceSample> = {}): GroupInstanceSample => ({
  instanceId,
  lifecycleState: 'InService',
  ec2State: 'running',
  ...over,
});

describe('summarizeStatus, whole', () => {
  test('the leader is the one most healthy answers name, whatever order they come in; a tie goes to the first named', () => {
    const three = [m(0xa1n, 'a', '10.0.0.1'), m(0xa2n, 'b', '10.0.0.2'), m(0xa3n, 'c', '10.0.0.3')];
    const leaderOf = (leaders: bigint[]): bigint | undefined =>
      summarizeStatus(
        obs(
          three,
          leaders.map((l, i) => [three[i]!.id, ok(three[i]!.id, { leader: l })]),
        ),
      ).leader;
    assert.equal(leaderOf([0xa1n, 0xa2n, 0xa2n]), 0xa2n);
    assert.equal(leaderOf([0xa2n, 0xa2n, 0xa1n]), 0xa2n);
    assert.equal(leaderOf([0xa1n, 0xa2n]), 0xa1n);
    assert.equal(leaderOf([0xa3n, 0xa1n]), 0xa3n);
  });

  test('rows for every kind of member: foreign answers show nothing of theirs, unstarted last, ties by ID', () => {
    const members = [
      m(0xb5n, '', '10.0.0.5'), // unstarted, listed before its twin with the lower ID
      m(0xa9n, 'z-leader', '10.0.0.9'),
      m(0xa4n, 'other-cluster', '10.0.0.4'),
      m(0xa3n, 'other-member', '10.0.0.3'),
      m(0xa2n, 'not-asked', '10.0.0.2'),
      m(0xa1n, 'down', '10.0.0.1'),
      m(0xb4n, '', '10.0.0.6'),
    ];
    const s = summarizeStatus(
      obs(
        members,
        [
          [0xa9n, ok(0xa9n, { leader: 0xa9n, raftIndex: 50n, errors: ['memberID:169 alarm:NOSPACE', 'etcdserver: something else'] })],
          [0xa4n, ok(0xa4n, { leader: 0xa9n, clusterId: 0xbadn })],
          [0xa3n, ok(0xeen, { leader: 0xa9n })],
          [0xa1n, down('refused')],
        ],
        { alarms: { error: 'timeout' } },
      ),
    );
    const expected: StatusSummary = {
      clusterId: CLUSTER,
      leader: 0xa9n,
      members: [
        { id: 0xa1n, name: 'down', role: 'voter', started: true, healthy: false, leader: false, alarms: [], problem: 'refused' },
        { id: 0xa2n, name: 'not-asked', role: 'voter', started: true, healthy: false, leader: false, alarms: [], problem: 'not asked' },
        {
          id: 0xa4n,
          name: 'other-cluster',
          role: 'voter',
          started: true,
          healthy: false,
          leader: false,
          alarms: [],
          problem: 'answered for another cluster (bad)',
        },
        {
          id: 0xa3n,
          name: 'other-member',
          role: 'voter',
          started: true,
          healthy: false,
          leader: false,
          alarms: [],
          problem: 'another member (ee) answers at its address',
        },
        {
          id: 0xa9n,
          name: 'z-leader',
          role: 'voter',
          started: true,
          healthy: true,
          leader: true,
          raftIndex: 50n,
          dbSize: 2048n,
          version: '3.5.30',
          dbSizeInUse: 1024n,
          lag: 0n,
          alarms: ['NOSPACE'],
        },
        { id: 0xb4n, name: '', role: 'voter', started: false, healthy: false, leader: false, alarms: [], problem: 'added but not started' },
        { id: 0xb5n, name: '', role: 'voter', started: false, healthy: false, leader: false, alarms: [], problem: 'added but not started' },
      ],
      quorum: { voters: 7, healthyVoters: 1, needed: 4, margin: -3 },
      alarms: [{ memberId: 0xa9n, alarm: 'NOSPACE' }],
      alarmsError: 'timeout',
      verdict: 'degraded',
      problems: [],
    };
    assert.deepStrictEqual({ ...s, problems: [] }, expected);
    assert.deepStrictEqual(
      s.problems.map((p) => `${p.code}: ${p.message}`),
      [
        'quorum-lost: only 1 of 7 voters are healthy; a quorum needs 4',
        'member-unhealthy: member down (a1) is not healthy: refused',
        'member-unhealthy: member not-asked (a2) is not healthy: not asked',
        'member-unhealthy: member other-cluster (a4) is not healthy: answered for another cluster (bad)',
        'member-unhealthy: member other-member (a3) is not healthy: another member (ee) answers at its address',
        'member-unstarted: member b4 was added but has not started',
        'member-unstarted: member b5 was added but has not started',
        'alarm: alarm NOSPACE is active on member z-leader',
        'alarms-unknown: the alarms could not be read: timeout',
      ],
    );
  });

  test('alarms on a member without a name, or on one no longer listed, name it by ID; a summary without a leader, an alarm error or a group has none of those keys', () => {
    const members = [m(0xa1n, 'a', '10.0.0.1'), m(0xa2n, '', '10.0.0.2')];
    const s = summarizeStatus(
      obs(members, [[0xa1n, ok(0xa1n, { raftIndex: 7n })]], {
        alarms: [
          { memberId: 0xa1n, alarm: 'CORRUPT' },
          { memberId: 0xa2n, alarm: 'NOSPACE' },
          { memberId: 0xffn, alarm: 'NOSPACE' },
        ],
      }),
    );
    assert.deepStrictEqual(
      s.problems.filter((p) => p.code === 'alarm').map((p) => p.message),
      ['alarm CORRUPT is active on member a', 'alarm NOSPACE is active on member a2', 'alarm NOSPACE is active on member ff'],
    );
    const healthy = summarizeStatus(obs([members[0]!], [[0xa1n, ok(0xa1n, { leader: 0n })]]));
    assert.deepStrictEqual(Object.keys(healthy).sort(), ['alarms', 'clusterId', 'members', 'problems', 'quorum', 'verdict']);
    const row = healthy.members[0]!;
    assert.deepStrictEqual(Object.keys(row).sort(), [
      'alarms',
      'dbSize',
      'dbSizeInUse',
      'healthy',
      'id',
      'leader',
      'name',
      'problem',
      'raftIndex',
      'role',
      'started',
      'version',
    ]);
  });

  test('the group: matched by name or by any peer URL on the IP, sorted by instance ID, and who has no partner', () => {
    const members = [
      m(0xa1n, 'i-0c', '10.0.0.1'), // by name
      m(0xa2n, 'b', '10.0.0.9', { peerURLs: ['http://10.0.0.9:2380', 'http://10.0.0.2:2380'] }), // by its second peer URL
      m(0xa3n, 'c', '10.0.0.3', { peerURLs: ['not a url'] }), // on no instance: its peer URL says nothing
      m(0xa4n, '', '10.0.0.4'), // unstarted, on i-0a's IP
      m(0xa5n, '', '10.0.0.5'), // unstarted, on no instance
    ];
    const s = summarizeStatus(
      obs(
        members,
        [0xa1n, 0xa2n, 0xa3n].map((id) => [id, ok(id)]),
        {
          group: {
            name: 'g',
            instances: [
              inst('i-0e'),
              inst('i-0d', { lifecycleState: 'Pending:Wait', privateIp: '10.0.0.8' }),
              inst('i-0c', { privateIp: '10.0.0.7' }),
              inst('i-0b', { privateIp: '10.0.0.2' }),
              inst('i-0a', { privateIp: '10.0.0.4' }),
              inst('i-00', { lifecycleState: 'Terminated', ec2State: 'terminated', privateIp: '10.0.0.3' }),
            ],
          },
        },
      ),
    );
    assert.deepStrictEqual(s.group, {
      name: 'g',
      instances: [
        { instanceId: 'i-00', lifecycleState: 'Terminated', ec2State: 'terminated', privateIp: '10.0.0.3', live: false },
        { instanceId: 'i-0a', lifecycleState: 'InService', ec2State: 'running', privateIp: '10.0.0.4', live: true, memberId: 0xa4n },
        { instanceId: 'i-0b', lifecycleState: 'InService', ec2State: 'running', privateIp: '10.0.0.2', live: true, memberId: 0xa2n },
        { instanceId: 'i-0c', lifecycleState: 'InService', ec2State: 'running', privateIp: '10.0.0.7', live: true, memberId: 0xa1n },
        { instanceId: 'i-0d', lifecycleState: 'Pending:Wait', ec2State: 'running', privateIp: '10.0.0.8', live: true },
        { instanceId: 'i-0e', lifecycleState: 'InService', ec2State: 'running', live: true },
      ],
      membersWithoutInstance: [0xa3n, 0xa5n],
      instancesWithoutMember: ['i-0d', 'i-0e'],
    });
    assert.deepStrictEqual(
      s.members.map((r) => r.instanceId),
      ['i-0b', undefined, 'i-0c', 'i-0a', undefined],
    );
    assert.deepStrictEqual(
      s.problems.filter((p) => p.code === 'member-without-instance' || p.code === 'instance-without-member').map((p) => p.message),
      [
        'member c (a3) runs on no live instance of g',
        'member a5 runs on no live instance of g',
        'instance i-0e (InService) runs no member',
      ],
    );
  });

  test('runsOn: an instance without an IP matches by name only, even a member whose peer URL has no host', () => {
    assert.equal(runsOn(m(1n, 'x', '10.0.0.1', { peerURLs: ['not a url'] }), inst('i-1')), false);
    assert.equal(runsOn(m(1n, 'x', '10.0.0.1', { peerURLs: ['not a url'] }), inst('i-1', { privateIp: '10.0.0.1' })), false);
    assert.equal(runsOn(m(1n, 'i-1', '10.0.0.1'), inst('i-1')), true);
  });
});

describe('formatStatusTable, whole', () => {
  const C = CLUSTER;
  test('healthy: five voters and a learner, sizes and lag per row, no problems section', () => {
    const five = [1n, 2n, 3n, 4n, 5n].map((i) => m(0xa0n + i, `n${i}`, `10.0.0.${i}`));
    const text = formatStatusTable(
      summarizeStatus({
        clusterId: C,
        members: [...five, m(0xb1n, 'learner', '10.0.0.9', { isLearner: true })],
        probes: new Map([
          ...five.map((x, i) => [x.id, ok(x.id, { raftIndex: 100n - BigInt(i) })] as const),
          [0xb1n, ok(0xb1n, { isLearner: true, raftIndex: 90n, dbSize: 3n * 1024n * 1024n, dbSizeInUse: 1536n })],
        ]),
        alarms: [],
      }),
    );
    assert.deepStrictEqual(text.split('\n'), [
      'cluster c1: HEALTHY',
      'voters 5/5 healthy, quorum 3, margin 2 (survives 2 more voter failures)',
      '',
      'NAME     ID  ROLE     STARTED  HEALTHY  LEADER  RAFT INDEX  LAG  DB SIZE  IN USE   VERSION  ALARMS',
      'learner  b1  learner  yes      yes              90          10   3.0 MiB  1.5 KiB  3.5.30   -',
      'n1       a1  voter    yes      yes      yes     100         0    2.0 KiB  1.0 KiB  3.5.30   -',
      'n2       a2  voter    yes      yes              99          1    2.0 KiB  1.0 KiB  3.5.30   -',
      'n3       a3  voter    yes      yes              98          2    2.0 KiB  1.0 KiB  3.5.30   -',
      'n4       a4  voter    yes      yes              97          3    2.0 KiB  1.0 KiB  3.5.30   -',
      'n5       a5  voter    yes      yes              96          4    2.0 KiB  1.0 KiB  3.5.30   -',
      '',
    ]);
  });

  test('one instance, two alarms on one member, members without an instance', () => {
    const three = [m(0xa1n, 'a', '10.0.0.1'), m(0xa2n, 'b', '10.0.0.2'), m(0xa3n, 'c', '10.0.0.3')];
    const summary = summarizeStatus({
      clusterId: C,
      members: three,
      probes: new Map(three.map((x) => [x.id, ok(x.id)] as const)),
      alarms: [
        { memberId: 0xa2n, alarm: 'NOSPACE' },
        { memberId: 0xa2n, alarm: 'CORRUPT' },
      ],
      group: { name: 'g', instances: [{ instanceId: 'i-1', lifecycleState: 'InService', privateIp: '10.0.0.1' }] },
    });
    assert.deepStrictEqual(formatStatusTable(summary).split('\n'), [
      'cluster c1: DEGRADED',
      'voters 3/3 healthy, quorum 2, margin 1 (survives 1 more voter failure)',
      '',
      'NAME  ID  ROLE   STARTED  HEALTHY  LEADER  RAFT INDEX  LAG  DB SIZE  IN USE   VERSION  ALARMS           INSTANCE',
      'a     a1  voter  yes      yes      yes     100         0    2.0 KiB  1.0 KiB  3.5.30   -                i-1',
      'b     a2  voter  yes      yes              100         0    2.0 KiB  1.0 KiB  3.5.30   NOSPACE,CORRUPT  NONE',
      'c     a3  voter  yes      yes              100         0    2.0 KiB  1.0 KiB  3.5.30   -                NONE',
      '',
      'group g: 1 instance',
      'INSTANCE  PRIVATE IP  LIFECYCLE  EC2   MEMBER',
      'i-1       10.0.0.1    InService  gone  a',
      '',
      'problems:',
      '  alarm: alarm NOSPACE is active on member b',
      '  alarm: alarm CORRUPT is active on member b',
      '  member-without-instance: member b (a2) runs on no live instance of g',
      '  member-without-instance: member c (a3) runs on no live instance of g',
      '',
    ]);
    // Any summary prints, even one whose instance names a member it does not list: by ID.
    const odd: StatusSummary = {
      ...summary,
      group: { ...summary.group!, instances: [{ ...summary.group!.instances[0]!, memberId: 0xffn }] },
    };
    assert.match(formatStatusTable(odd), /^i-1 +10\.0\.0\.1 +InService +gone +ff$/m);
  });

  test('quorum lost, an unstarted member on an instance (shown by ID), a terminated instance', () => {
    const text = formatStatusTable(
      summarizeStatus({
        clusterId: C,
        members: [m(0xa1n, 'a', '10.0.0.1'), m(0xa4n, '', '10.0.0.4')],
        probes: new Map([[0xa1n, ok(0xa1n)]]),
        alarms: [],
        group: {
          name: 'g',
          instances: [
            { instanceId: 'i-4', lifecycleState: 'InService', privateIp: '10.0.0.4', ec2State: 'running' },
            { instanceId: 'i-5', lifecycleState: 'Terminated' },
          ],
        },
      }),
    );
    assert.deepStrictEqual(text.split('\n'), [
      'cluster c1: DEGRADED',
      'voters 1/2 healthy, quorum 2, margin -1 (quorum lost)',
      '',
      'NAME         ID  ROLE   STARTED  HEALTHY  LEADER  RAFT INDEX  LAG  DB SIZE  IN USE   VERSION  ALARMS  INSTANCE',
      'a            a1  voter  yes      yes      yes     100         0    2.0 KiB  1.0 KiB  3.5.30   -       NONE',
      '(unstarted)  a4  voter  no       NO               -           -    -        -        -        -       i-4',
      '',
      'group g: 2 instances',
      'INSTANCE  PRIVATE IP  LIFECYCLE   EC2      MEMBER',
      'i-4       10.0.0.4    InService   running  a4',
      'i-5       -           Terminated  gone     -',
      '',
      'problems:',
      '  quorum-lost: only 1 of 2 voters are healthy; a quorum needs 2',
      '  member-unstarted: member a4 was added but has not started',
      '  member-without-instance: member a (a1) runs on no live instance of g',
      '',
    ]);
  });

  test('bytes: the largest unit stays the largest', () => {
    assert.equal(formatBytes(1024n ** 5n), '1024.0 TiB');
    assert.equal(formatBytes(1024n ** 4n), '1.0 TiB');
  });
});
