// etcd's upkeep in the reconcile pass: observe every member's database and the alarms, let core/upkeep.ts pick at
// most one action (compact, defragment one member, disarm NOSPACE), take it, and log it as a decision with its reason.
import { CLUSTER_DEFAULTS } from '../core/defaults.js';
import { memberLabel } from '../core/members.js';
import { decideUpkeep, type UpkeepDecision, type UpkeepStatus } from '../core/upkeep.js';
import type { MemberId } from '../core/types.js';
import type { EtcdClient } from '../adapters/etcd/index.js';
import { clientFor } from '../services/connection.js';
import type { StatusOutcome } from '../services/status.js';
import type { LifecycleDeps } from './deps.js';
import { candidateEndpoints, type GroupView } from './group.js';

/** What the upkeep step did this pass: the action taken (or none, or refused) and why. */
export interface UpkeepOutcome {
  readonly action: UpkeepDecision['action'] | 'unobserved';
  readonly reason: string;
  /** The member defragmented, as memberLabel shows it. */
  readonly member?: string;
  /** True when this pass compacted the cluster (`action` is what followed). */
  readonly compacted?: boolean;
}

/**
 * keepUp takes at most one upkeep action on the cluster: compaction (only under NOSPACE; auto-compaction does the
 * rest), one member's defragmentation (never a voter at quorum margin zero, followers before the leader), or the
 * NOSPACE disarm once every member has room. Each action and each refusal is logged as a decision. Bounded: one
 * health timeout to observe, CLUSTER_DEFAULTS.maintenanceTimeoutMs for the action. Safe to run twice: every action
 * is idempotent, and the next pass decides afresh from what it observes. Throws etcd errors of the action itself.
 */
export async function keepUp(group: GroupView, deps: LifecycleDeps, observed: StatusOutcome): Promise<UpkeepOutcome> {
  const { config, telemetry } = deps;
  const endpoints = candidateEndpoints(group, config);
  if (observed.kind === 'unreachable') return { action: 'unobserved', reason: 'no member answers' };
  const { members, probes, alarms } = observed.observation;
  if ('error' in alarms) {
    // Without the alarm list a NOSPACE cannot be ruled out, and defragmenting then would be the wrong first step.
    const reason = `the alarms could not be read: ${alarms.error}`;
    telemetry.info('no upkeep this pass', { reason });
    return { action: 'unobserved', reason };
  }
  const statuses = new Map<MemberId, UpkeepStatus>();
  for (const [id, probe] of probes) if (probe.kind === 'answered') statuses.set(id, probe.status);
  const settings = { ...CLUSTER_DEFAULTS, quotaBackendBytes: config.quotaBackendBytes };
  const timeout = CLUSTER_DEFAULTS.maintenanceTimeoutMs;
  const client = clientFor(endpoints, deps.connection);
  try {
    let decision = decideUpkeep({ members, statuses, alarms, compacted: false }, settings);
    let compacted = false;
    if (decision.action === 'compact') {
      const { revision } = await client.status();
      compacted = await client.compact(revision ?? 0n, { requestTimeoutMs: timeout, deadlineMs: timeout });
      if (compacted) logged(deps, decision, { revision: revision?.toString() });
      // Then what comes after it, in this same pass: a compaction blocks no member, and deletes (lease expiries, lock
      // releases) move the revision under NOSPACE, so "compact, next pass" could compact pass after pass for ever.
      decision = decideUpkeep({ members, statuses, alarms, compacted: true }, settings);
    }
    const outcome = await act(decision, client, deps);
    return compacted ? { ...outcome, compacted } : outcome;
  } finally {
    client.close();
  }
}

/** Takes the decided action (compaction aside, which keepUp takes first) and logs it. */
async function act(decision: UpkeepDecision, client: EtcdClient, deps: LifecycleDeps): Promise<UpkeepOutcome> {
  const timeout = CLUSTER_DEFAULTS.maintenanceTimeoutMs;
  switch (decision.action) {
    case 'defragment': {
      const endpoint = decision.member.clientURLs[0]!;
      const started = Date.now();
      await client.defragmentAt(endpoint, { timeoutMs: timeout });
      return logged(deps, decision, {
        member: memberLabel(decision.member),
        freeBytes: decision.freeBytes.toString(),
        milliseconds: Date.now() - started,
      });
    }
    case 'disarm':
      for (const alarm of decision.alarms) await client.alarmDisarm(alarm.memberId, 'NOSPACE');
      return logged(deps, decision, { alarms: decision.alarms.map((a) => a.memberId.toString(16)) });
    case 'none':
      deps.telemetry.debug('no upkeep needed', { reason: decision.reason });
      return { action: 'none', reason: decision.reason };
    default:
      return logged(deps, decision, decision.action === 'refuse' ? { code: decision.code } : {});
  }
}

function logged(deps: LifecycleDeps, decision: UpkeepDecision, details: Record<string, unknown>): UpkeepOutcome {
  deps.telemetry.decision({ trigger: 'reconcile', decision: `upkeep-${decision.action}`, reason: decision.reason, details });
  return {
    action: decision.action,
    reason: decision.reason,
    ...(decision.action === 'defragment' && { member: memberLabel(decision.member) }),
  };
}
