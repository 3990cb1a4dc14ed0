// Healing what Auto Scaling cannot see: a member that is dead, hung or never started on an instance EC2 calls
// healthy. Each reconcile pass updates the health history kept in etcd; a member unhealthy past the
// threshold whose instance is InService is reported Unhealthy to the group, which terminates it through the
// terminate hook (the member is removed there, or the termination held while that would cost the quorum)
// and launches a replacement through the launch hook. One at a time, only with a quorum.
import { planHeal, planMemberless, type HealDecision } from '../core/health-history.js';
import { isUnstarted, memberLabel } from '../core/members.js';
import type { Member } from '../core/types.js';
import { isInstanceId } from '../adapters/aws/index.js';
import { clientFor } from '../services/connection.js';
import { updateHealthHistory } from '../services/health-history.js';
import { observeForPlanning } from '../services/observe.js';
import type { LifecycleDeps } from './deps.js';
import { candidateEndpoints, safeHost, type GroupInstanceView, type GroupView } from './group.js';
import { loggerFor } from './log.js';
import { removeMember } from './members.js';

export interface HealReport {
  /** Instances reported Unhealthy to the group by this pass. */
  readonly reported: string[];
  /** Members unhealthy now, with how long (seconds) and what was decided. */
  readonly unhealthy: { member: string; seconds: number; action: HealDecision['action'] }[];
}

/**
 * Records the members' health over time and reports at most one long-unhealthy member's instance to the
 * group. Safe to run twice: a reported instance is Unhealthy or terminating by the next pass, which counts as a
 * replacement under way, so nothing else is reported meanwhile.
 */
export async function healUnhealthyMembers(group: GroupView, deps: LifecycleDeps, now: () => number = Date.now): Promise<HealReport> {
  const { config, telemetry } = deps;
  const log = loggerFor(telemetry);
  const report: HealReport = { reported: [], unhealthy: [] };
  const client = clientFor(candidateEndpoints(group, config), deps.connection);
  try {
    const observed = await observeForPlanning(client, deps.connection, log);
    if (observed.kind === 'unreachable') return report;
    const history = await updateHealthHistory(client, observed, now(), log);
    // Health status as the group sees it: an instance reported Unhealthy earlier is on its way out.
    const described = await deps.autoScaling.describeGroup(config.autoScalingGroup);
    const unhealthyInstances = new Set(described.instances.filter((i) => i.healthStatus === 'Unhealthy').map((i) => i.instanceId));
    const inService = [...group.instances.values()].filter(
      (i) => i.lifecycleState === 'InService' && !unhealthyInstances.has(i.instanceId),
    );
    const instanceOf = (m: Member): string | undefined => {
      if (isInstanceId(m.name)) return inService.find((i) => i.instanceId === m.name)?.instanceId;
      if (!isUnstarted(m)) return undefined; // added by hand: not the group's to replace
      const hosts = m.peerURLs.map(safeHost);
      return inService.find((i) => i.privateIp !== undefined && hosts.includes(i.privateIp))?.instanceId;
    };
    const pastThreshold = (m: Member): boolean => history.has(m.id) && now() - history.get(m.id)! >= config.unhealthyAfterMs;
    const busy = busyReason(
      group,
      unhealthyInstances,
      observed.members.filter((m) => !pastThreshold(m)),
    );
    const input = {
      members: observed.members,
      health: observed.health,
      history,
      now: now(),
      unhealthyAfterMs: config.unhealthyAfterMs,
      instanceOf,
      memberless: await memberlessInstances(inService, observed.members, deps),
      ...(busy !== undefined && { busy }),
    };
    const decisions = planHeal(input);
    for (const d of decisions) {
      const seconds = Math.round(d.unhealthyForMs / 1000);
      report.unhealthy.push({ member: d.member.name || `unstarted ${d.member.peerURLs.join(',')}`, seconds, action: d.action });
      const details = {
        member: d.member.name,
        memberId: d.member.id.toString(16),
        unhealthyForSeconds: seconds,
        thresholdSeconds: config.unhealthyAfterMs / 1000,
      };
      if (d.action !== 'report' || d.instanceId === undefined) {
        telemetry.decision({ trigger: 'reconcile', decision: `unhealthy-${d.action}`, reason: d.reason, details });
        continue;
      }
      await deps.autoScaling.setInstanceUnhealthy(d.instanceId);
      report.reported.push(d.instanceId);
      telemetry.count('UnhealthyReported');
      telemetry.decision({ trigger: 'reconcile', instanceId: d.instanceId, decision: 'report-unhealthy', reason: d.reason, details });
    }
    for (const d of planMemberless(input, decisions)) {
      if (d.action !== 'report') {
        telemetry.decision({ trigger: 'reconcile', instanceId: d.instanceId, decision: 'memberless-wait', reason: d.reason });
        continue;
      }
      await deps.autoScaling.setInstanceUnhealthy(d.instanceId);
      report.reported.push(d.instanceId);
      telemetry.count('UnhealthyReported');
      telemetry.decision({ trigger: 'reconcile', instanceId: d.instanceId, decision: 'report-unhealthy', reason: d.reason });
    }
    return report;
  } finally {
    client.close();
  }
}

/**
 * InService instances with no member by name or address that were admitted (their drop-in exists: it is
 * written only after their member was added). Such a member was removed while the instance kept running.
 */
async function memberlessInstances(
  inService: readonly GroupInstanceView[],
  members: readonly Member[],
  deps: LifecycleDeps,
): Promise<string[]> {
  const out: string[] = [];
  for (const i of inService) {
    const hasMember = members.some(
      (m) => m.name === i.instanceId || (i.privateIp !== undefined && m.peerURLs.some((u) => safeHost(u) === i.privateIp)),
    );
    if (hasMember) continue;
    if ((await deps.parameters.get(deps.parameters.instanceName(i.instanceId, 'dropin'))) !== undefined) out.push(i.instanceId);
  }
  return out;
}

/** Why a replacement is under way (so none may start now), or undefined when the group is at rest. */
function busyReason(group: GroupView, unhealthyInstances: ReadonlySet<string>, members: readonly Member[]): string | undefined {
  for (const i of group.instances.values()) {
    if (unhealthyInstances.has(i.instanceId)) return `instance ${i.instanceId} is already reported unhealthy`;
    if (i.lifecycleState !== 'InService' && i.lifecycleState !== 'Standby') return `instance ${i.instanceId} is ${i.lifecycleState}`;
  }
  const joining = members.find((m) => m.isLearner || isUnstarted(m));
  if (joining !== undefined) return `member ${joining.name || joining.peerURLs.join(',')} is still joining`;
  return undefined;
}

/**
 * Before a join: members unreachable past the threshold go first, whether or not their instances still run
 * (etcd refuses every member add while a voter is unreachable, so no join gets past them otherwise). Each
 * removal is under the quorum guard and the lock (removeMember). An instance whose member was removed this
 * way is reported Unhealthy by a later reconcile pass once the group is at rest (one replacement at a time).
 * Only for the strategies that remove dead members (replace, prune).
 */
export async function removeLongUnhealthyMembers(group: GroupView, deps: LifecycleDeps, now: () => number = Date.now): Promise<string[]> {
  const { config, telemetry } = deps;
  if (config.joinStrategy !== 'replace' && config.joinStrategy !== 'prune') return [];
  const log = loggerFor(telemetry);
  const client = clientFor(candidateEndpoints(group, config), deps.connection);
  const removed: string[] = [];
  try {
    const observed = await observeForPlanning(client, deps.connection, log);
    if (observed.kind === 'unreachable') return removed;
    const history = await updateHealthHistory(client, observed, now(), log);
    const dead = observed.members.filter(
      (m) => observed.health.get(m.id) === 'unreachable' && history.has(m.id) && now() - history.get(m.id)! >= config.unhealthyAfterMs,
    );
    for (const member of dead) {
      const seconds = Math.round((now() - history.get(member.id)!) / 1000);
      const why = `member ${memberLabel(member)} has been unhealthy for ${seconds} s, past the threshold of ${config.unhealthyAfterMs / 1000} s, and a join must get past it`;
      const outcome = await removeMember(group, { isTarget: (m) => m.id === member.id, why }, deps);
      if (outcome !== 'removed') continue;
      removed.push(memberLabel(member));
    }
    return removed;
  } finally {
    client.close();
  }
}
