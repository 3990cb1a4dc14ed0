// `elastic-etcd status` as a pure function: from what was observed (the member list, each member's own status
// answer or why there was none, the cluster's alarms and, optionally, the Auto Scaling group's instances) to one
// summary: a row per member, the quorum margin, the group side by side with the members, and a verdict with its
// reasons. No I/O here; src/services/status.ts observes, src/cli/status-command.ts prints.
import { memberIdToHex } from './ids.js';
import { isUnstarted } from './members.js';
import { quorumOf } from './quorum.js';
import type { Member, MemberId } from './types.js';
import { hostOf } from './urls.js';

/** One member's own status answer (what etcd's Maintenance Status says); the adapter's MaintenanceStatus fits. */
export interface MemberStatusSample {
  readonly clusterId: bigint;
  readonly memberId: MemberId;
  /** 0n when the member knows no leader. */
  readonly leader: bigint;
  readonly raftIndex: bigint;
  readonly isLearner: boolean;
  readonly version: string;
  readonly dbSize: bigint;
  /** Absent before etcd 3.4. */
  readonly dbSizeInUse?: bigint;
  /** etcd's own error strings, e.g. "memberID:… alarm:NOSPACE". */
  readonly errors: readonly string[];
}

/** What asking one member for its status gave: its answer, or why there was none. */
export type MemberProbe =
  { readonly kind: 'answered'; readonly status: MemberStatusSample } | { readonly kind: 'failed'; readonly error: string };

export interface ActiveAlarm {
  readonly memberId: MemberId;
  /** As etcd names it: NOSPACE, CORRUPT. */
  readonly alarm: string;
}

/** One instance of the Auto Scaling group as Auto Scaling and EC2 describe it. */
export interface GroupInstanceSample {
  readonly instanceId: string;
  /** Auto Scaling's lifecycle state, e.g. InService, Pending:Wait, Terminating:Wait, Terminated. */
  readonly lifecycleState: string;
  readonly privateIp?: string;
  /** EC2's state (running, terminated, …); undefined when EC2 does not know the instance (any more). */
  readonly ec2State?: string;
}

export interface StatusObservation {
  /** The cluster the member list came from. */
  readonly clusterId: bigint;
  readonly members: readonly Member[];
  /** Per member ID; a member without an entry was not asked (it has no client URL: not started). */
  readonly probes: ReadonlyMap<MemberId, MemberProbe>;
  /** The cluster's active alarms, or why they could not be read. */
  readonly alarms: readonly ActiveAlarm[] | { readonly error: string };
  readonly group?: { readonly name: string; readonly instances: readonly GroupInstanceSample[] };
}

export interface MemberRow {
  readonly id: MemberId;
  /** The empty string for a member that was added but never started. */
  readonly name: string;
  readonly role: 'voter' | 'learner';
  readonly started: boolean;
  /** Answered, as itself, for this cluster, and knows a leader. */
  readonly healthy: boolean;
  readonly leader: boolean;
  readonly raftIndex?: bigint;
  /** How many raft entries it is behind the leader; unknown when either did not answer. */
  readonly lag?: bigint;
  readonly dbSize?: bigint;
  readonly dbSizeInUse?: bigint;
  readonly version?: string;
  readonly alarms: readonly string[];
  /** Why it is not healthy, when it is not. */
  readonly problem?: string;
  /** The live instance it runs on, when the group was observed and one matches. */
  readonly instanceId?: string;
}

export interface InstanceRow extends GroupInstanceSample {
  /** In service or on its way (not leaving the group, its machine not going away). */
  readonly live: boolean;
  readonly memberId?: MemberId;
}

export interface QuorumSummary {
  readonly voters: number;
  readonly healthyVoters: number;
  /** Voters a quorum needs. */
  readonly needed: number;
  /** How many more voter failures the cluster survives; 0: none; negative: the quorum is already lost. */
  readonly margin: number;
}

export type StatusProblemCode =
  | 'quorum-lost'
  | 'no-leader'
  | 'member-unhealthy'
  | 'member-unstarted'
  | 'alarm'
  | 'alarms-unknown'
  | 'member-without-instance'
  | 'instance-without-member';

export interface StatusProblem {
  readonly code: StatusProblemCode;
  readonly message: string;
}

export type StatusVerdict = 'healthy' | 'degraded';

export interface StatusSummary {
  readonly clusterId: bigint;
  readonly leader?: MemberId;
  readonly members: readonly MemberRow[];
  readonly quorum: QuorumSummary;
  readonly alarms: readonly ActiveAlarm[];
  readonly alarmsError?: string;
  readonly group?: {
    readonly name: string;
    readonly instances: readonly InstanceRow[];
    readonly membersWithoutInstance: readonly MemberId[];
    /** Live instances no member runs on (launching ones included; only those in service count as a problem). */
    readonly instancesWithoutMember: readonly string[];
  };
  readonly verdict: StatusVerdict;
  /** Why the verdict is degraded; empty when healthy. */
  readonly problems: readonly StatusProblem[];
}

const LAUNCHING = new Set(['Pending', 'Pending:Wait', 'Pending:Proceed']);
const SERVING = new Set(['InService', 'EnteredStandby', 'Standby']);

/** An instance that serves, or will: in the group, not leaving it, and its machine not going away. */
export function isLiveInstance(instance: GroupInstanceSample): boolean {
  if (instance.ec2State === 'shutting-down' || instance.ec2State === 'terminated') return false;
  return LAUNCHING.has(instance.lifecycleState) || SERVING.has(instance.lifecycleState);
}

/** Whether `member` runs on `instance`: named after it (as the Lambda names members) or a peer URL on its IP. */
export function runsOn(member: Member, instance: GroupInstanceSample): boolean {
  if (member.name === instance.instanceId) return true;
  const ip = instance.privateIp;
  return ip !== undefined && member.peerURLs.some((url) => safeHost(url) === ip);
}

function safeHost(url: string): string | undefined {
  try {
    return hostOf(url);
  } catch {
    return undefined;
  }
}

/** Why a status answer does not make its member healthy; undefined when it does. */
function answerProblem(member: Member, clusterId: bigint, status: MemberStatusSample): string | undefined {
  if (status.clusterId !== clusterId) return `answered for another cluster (${status.clusterId.toString(16)})`;
  if (status.memberId !== member.id) return `another member (${memberIdToHex(status.memberId)}) answers at its address`;
  if (status.leader === 0n) return 'knows no leader';
  return undefined;
}

/** The leader most healthy answers name; undefined when none names one. */
function agreedLeader(answers: readonly MemberStatusSample[]): MemberId | undefined {
  const votes = new Map<bigint, number>();
  // Stryker disable next-line ConditionalExpression: equivalent, healthy answers all know a leader (the caller filters); kept so the helper is total
  for (const a of answers) if (a.leader !== 0n) votes.set(a.leader, (votes.get(a.leader) ?? 0) + 1);
  let best: [bigint, number] | undefined;
  for (const entry of votes) if (best === undefined || entry[1] > best[1]) best = entry;
  return best?.[0];
}

/** Alarm names in etcd's status errors ("memberID:… alarm:NOSPACE"), the fallback when the alarm list failed. */
function alarmsInErrors(errors: readonly string[]): string[] {
  return errors.flatMap((e) => {
    const match = /alarm:\s*([A-Z]+)/.exec(e);
    return match?.[1] === undefined ? [] : [match[1]];
  });
}

/**
 * summarizeStatus turns one observation into the status summary: per-member rows (sorted by name, unstarted
 * last), the quorum margin, the leader the answers agree on, each member's lag behind it, the group side by side
 * (when observed), and the verdict: healthy only when every member is started and healthy, a leader is known,
 * no alarm is active (and the alarms could be read), and, with a group, every member runs on a live instance
 * and every instance in service runs a member. Pure and total: any observation gives a summary.
 */
export function summarizeStatus(observation: StatusObservation): StatusSummary {
  const { clusterId, members, probes } = observation;
  const healthyAnswers = new Map<MemberId, MemberStatusSample>();
  for (const m of members) {
    const probe = probes.get(m.id);
    if (probe?.kind === 'answered' && answerProblem(m, clusterId, probe.status) === undefined) healthyAnswers.set(m.id, probe.status);
  }
  const leader = agreedLeader([...healthyAnswers.values()]);
  // Stryker disable next-line ConditionalExpression: equivalent, get(undefined) of a map keyed by IDs is undefined too; the guard only spares the lookup
  const leaderIndex = leader === undefined ? undefined : healthyAnswers.get(leader)?.raftIndex;
  const alarmList = 'error' in observation.alarms ? undefined : observation.alarms;

  // Stryker disable next-line ArrayDeclaration: equivalent, a placeholder string is never a live instance (no lifecycle state)
  const liveInstances = (observation.group?.instances ?? []).filter(isLiveInstance);
  const instanceOf = (m: Member): string | undefined => liveInstances.find((i) => runsOn(m, i))?.instanceId;

  const rows = members.map((m): MemberRow => {
    const probe = probes.get(m.id);
    const started = !isUnstarted(m);
    const answer = probe?.kind === 'answered' ? probe.status : undefined;
    const healthy = healthyAnswers.has(m.id);
    const ownAnswer = answer !== undefined && answer.memberId === m.id && answer.clusterId === clusterId ? answer : undefined;
    const alarms =
      alarmList !== undefined ? alarmList.filter((a) => a.memberId === m.id).map((a) => a.alarm) : alarmsInErrors(ownAnswer?.errors ?? []);
    let problem: string | undefined;
    if (!started) problem = 'added but not started';
    else if (probe === undefined) problem = 'not asked';
    else if (probe.kind === 'failed') problem = probe.error;
    else problem = answerProblem(m, clusterId, probe.status);
    const lag =
      ownAnswer !== undefined && leaderIndex !== undefined
        ? // Stryker disable next-line EqualityOperator: equivalent, at equal indexes both branches give 0n
          leaderIndex > ownAnswer.raftIndex
          ? leaderIndex - ownAnswer.raftIndex
          : 0n // asked a moment after the leader: it may be ahead
        : undefined;
    const instanceId = instanceOf(m);
    return {
      id: m.id,
      name: m.name,
      role: m.isLearner ? 'learner' : 'voter',
      started,
      healthy,
      leader: m.id === leader,
      ...(ownAnswer !== undefined && { raftIndex: ownAnswer.raftIndex, dbSize: ownAnswer.dbSize, version: ownAnswer.version }),
      ...(ownAnswer?.dbSizeInUse !== undefined && { dbSizeInUse: ownAnswer.dbSizeInUse }),
      ...(lag !== undefined && { lag }),
      alarms,
      // Only a member that is not healthy has a problem: a healthy one answered with none (healthyAnswers).
      ...(problem !== undefined && { problem }),
      ...(instanceId !== undefined && { instanceId }),
    };
  });
  rows.sort((a, b) => {
    if (a.started !== b.started) return a.started ? -1 : 1;
    // Stryker disable next-line EqualityOperator: equivalent, the names compared differ, so `<` and `<=` order them alike
    if (a.name !== b.name) return a.name < b.name ? -1 : 1;
    return Number(a.id - b.id); // member IDs are distinct; the sign survives the conversion
  });

  const voters = rows.filter((r) => r.role === 'voter');
  const healthyVoters = voters.filter((r) => r.healthy).length;
  const needed = quorumOf(voters.length);
  const quorum: QuorumSummary = { voters: voters.length, healthyVoters, needed, margin: healthyVoters - needed };

  const problems: StatusProblem[] = [];
  if (quorum.margin < 0) {
    problems.push({
      code: 'quorum-lost',
      message: `only ${healthyVoters} of ${voters.length} voters are healthy; a quorum needs ${needed}`,
    });
  }
  if (leader === undefined) problems.push({ code: 'no-leader', message: 'no healthy member knows a leader' });
  for (const r of rows) {
    const label = r.started ? `member ${r.name} (${memberIdToHex(r.id)})` : `member ${memberIdToHex(r.id)}`;
    if (!r.started) problems.push({ code: 'member-unstarted', message: `${label} was added but has not started` });
    else if (!r.healthy) problems.push({ code: 'member-unhealthy', message: `${label} is not healthy: ${r.problem ?? 'unknown'}` });
  }
  const alarms = alarmList ?? rows.flatMap((r) => r.alarms.map((alarm) => ({ memberId: r.id, alarm })));
  for (const a of alarms) {
    const who = rows.find((r) => r.id === a.memberId && r.name !== '')?.name ?? memberIdToHex(a.memberId);
    problems.push({ code: 'alarm', message: `alarm ${a.alarm} is active on member ${who}` });
  }
  const alarmsError = 'error' in observation.alarms ? observation.alarms.error : undefined;
  if (alarmsError !== undefined) problems.push({ code: 'alarms-unknown', message: `the alarms could not be read: ${alarmsError}` });

  let group: StatusSummary['group'];
  if (observation.group !== undefined) {
    const instances = observation.group.instances
      .map((i): InstanceRow => {
        const live = isLiveInstance(i);
        const member = live ? members.find((m) => runsOn(m, i)) : undefined;
        return { ...i, live, ...(member !== undefined && { memberId: member.id }) };
      })
      // Stryker disable next-line EqualityOperator: equivalent, instance IDs are distinct, so `<` and `<=` order them alike
      .sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
    const withoutInstance = rows.filter((r) => r.instanceId === undefined);
    const membersWithoutInstance = withoutInstance.map((r) => r.id);
    const withoutMember = instances.filter((i) => i.live && i.memberId === undefined);
    for (const row of withoutInstance) {
      const who = row.name === '' ? memberIdToHex(row.id) : `${row.name} (${memberIdToHex(row.id)})`;
      problems.push({ code: 'member-without-instance', message: `member ${who} runs on no live instance of ${observation.group.name}` });
    }
    for (const i of withoutMember.filter((x) => SERVING.has(x.lifecycleState))) {
      problems.push({ code: 'instance-without-member', message: `instance ${i.instanceId} (${i.lifecycleState}) runs no member` });
    }
    group = {
      name: observation.group.name,
      instances,
      membersWithoutInstance,
      instancesWithoutMember: withoutMember.map((i) => i.instanceId),
    };
  }

  return {
    clusterId,
    ...(leader !== undefined && { leader }),
    members: rows,
    quorum,
    alarms,
    ...(alarmsError !== undefined && { alarmsError }),
    ...(group !== undefined && { group }),
    verdict: problems.length === 0 ? 'healthy' : 'degraded',
    problems,
  };
}

/** Bytes as people read them: 1023 B, 1.5 KiB, 20.0 MiB. */
export function formatBytes(bytes: bigint): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit] ?? ''}`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The summary as the terminal table `elastic-etcd status` prints (and `npm run demo` shows). */
export function formatStatusTable(summary: StatusSummary): string {
  const { quorum } = summary;
  const margin =
    quorum.margin > 0
      ? `survives ${quorum.margin} more voter failure${quorum.margin === 1 ? '' : 's'}`
      : quorum.margin === 0
        ? 'survives no further voter failure'
        : 'quorum lost';
  const lines = [
    `cluster ${summary.clusterId.toString(16)}: ${summary.verdict.toUpperCase()}`,
    `voters ${quorum.healthyVoters}/${quorum.voters} healthy, quorum ${quorum.needed}, margin ${quorum.margin} (${margin})`,
    '',
  ];
  const dash = '-';
  const memberRows = summary.members.map((r) => [
    r.name === '' ? '(unstarted)' : r.name,
    memberIdToHex(r.id),
    r.role,
    r.started ? 'yes' : 'no',
    r.healthy ? 'yes' : 'NO',
    r.leader ? 'yes' : '',
    r.raftIndex?.toString() ?? dash,
    r.lag?.toString() ?? dash,
    r.dbSize === undefined ? dash : formatBytes(r.dbSize),
    r.dbSizeInUse === undefined ? dash : formatBytes(r.dbSizeInUse),
    r.version ?? dash,
    r.alarms.length === 0 ? dash : r.alarms.join(','),
    ...(summary.group === undefined ? [] : [r.instanceId ?? 'NONE']),
  ]);
  lines.push(
    ...table(
      [
        'NAME',
        'ID',
        'ROLE',
        'STARTED',
        'HEALTHY',
        'LEADER',
        'RAFT INDEX',
        'LAG',
        'DB SIZE',
        'IN USE',
        'VERSION',
        'ALARMS',
        ...(summary.group === undefined ? [] : ['INSTANCE']),
      ],
      memberRows,
    ),
  );
  if (summary.group !== undefined) {
    const { group } = summary;
    const name = (id: MemberId | undefined): string =>
      id === undefined ? 'NONE' : (summary.members.find((r) => r.id === id && r.name !== '')?.name ?? memberIdToHex(id));
    lines.push('', `group ${group.name}: ${group.instances.length} instance${group.instances.length === 1 ? '' : 's'}`);
    lines.push(
      ...table(
        ['INSTANCE', 'PRIVATE IP', 'LIFECYCLE', 'EC2', 'MEMBER'],
        group.instances.map((i) => [
          i.instanceId,
          i.privateIp ?? dash,
          i.lifecycleState,
          i.ec2State ?? 'gone',
          i.live ? name(i.memberId) : dash,
        ]),
      ),
    );
  }
  if (summary.problems.length > 0) {
    lines.push('', 'problems:', ...summary.problems.map((p) => `  ${p.code}: ${p.message}`));
  }
  return `${lines.join('\n')}\n`;
}
