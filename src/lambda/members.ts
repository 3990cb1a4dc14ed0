// Membership changes outside a join, each under the quorum guard and the cluster lock: removing the member of
// a terminating or vanished instance, and promoting learners that caught up.
import { planRemoval } from '../core/membership.js';
import { isGoneOnPlatform, isUnstarted, memberLabel } from '../core/members.js';
import type { Member } from '../core/types.js';
import { checkMembersHealth, isEtcdError } from '../adapters/etcd/index.js';
import { clientFor } from '../services/connection.js';
import { withClusterLock } from '../services/lock.js';
import { observeForPlanning, type Observed } from '../services/observe.js';
import { promoteOnce } from '../services/promote.js';
import { retryTransient } from '../services/retry.js';
import type { LifecycleDeps } from './deps.js';
import { candidateEndpoints, platformKnowledge, type GroupView } from './group.js';
import { loggerFor } from './log.js';

/**
 * removed: this run removed the member; absent: it was not (or no longer) a member; kept: no member answers,
 * so nothing can be removed or protected; unsafe: removing it would leave the others without a quorum.
 */
export type RemovalOutcome = 'removed' | 'absent' | 'kept' | 'unsafe';

export interface RemovalRequest {
  /** Picks the member to remove. */
  readonly isTarget: (m: Member) => boolean;
  /** Why it is removed, for the decision's log line. */
  readonly why: string;
  /** An observation the caller just made, to decide on without asking the cluster again before the lock. */
  readonly justObserved?: Observed;
}

/** Removes the member `isTarget` picks, under the lock, if the quorum allows. Safe to run twice. */
export async function removeMember(group: GroupView, request: RemovalRequest, deps: LifecycleDeps): Promise<RemovalOutcome> {
  const { isTarget, why, justObserved } = request;
  const { telemetry } = deps;
  const log = loggerFor(telemetry);
  const endpoints = candidateEndpoints(group, deps.config);
  const client = clientFor(endpoints, deps.connection);
  try {
    const observed = justObserved ?? (await observeForPlanning(client, deps.connection, log));
    if (observed.kind === 'unreachable') {
      telemetry.decision({
        trigger: 'terminate',
        decision: 'keep',
        reason: `${why}, but no member answers; the reconcile pass removes it later`,
      });
      return 'kept';
    }
    const rules = { targetSize: deps.config.clusterSize };
    const first = planRemoval(observed, isTarget, rules);
    if (first.kind === 'absent') {
      telemetry.decision({
        trigger: 'terminate',
        decision: 'skip',
        reason: `${why}; it is not a member (already removed, or never joined)`,
      });
      return 'absent';
    }
    if (first.kind === 'refuse') {
      // Decided before taking the lock: without a quorum the lock could not be had anyway.
      telemetry.decision({ trigger: 'terminate', decision: 'keep', reason: `${why}, but ${first.reason}` });
      return 'unsafe';
    }
    return await withClusterLock(client, { holder: `lambda:remove`, timeoutMs: deps.lockTimeoutMs, log }, async () => {
      const now = await observeForPlanning(client, deps.connection, log, undefined, { forChange: true });
      if (now.kind === 'unreachable') return 'kept';
      const decision = planRemoval(now, isTarget, rules);
      if (decision.kind === 'absent') return 'absent';
      if (decision.kind === 'refuse') {
        telemetry.decision({ trigger: 'terminate', decision: 'keep', reason: `${why}, but ${decision.reason}` });
        return 'unsafe';
      }
      deps.faultPoint?.('remove-member');
      try {
        await retryTransient(`remove ${memberLabel(decision.member)}`, () => client.memberRemove(decision.member.id), { log });
      } catch (err) {
        if (!isEtcdError(err, 'member-not-found')) throw err;
        return 'absent';
      }
      telemetry.count('Removals');
      telemetry.decision({
        trigger: 'terminate',
        decision: 'remove',
        reason: `${why}: removed ${memberLabel(decision.member)}`,
        details: { member: memberLabel(decision.member) },
      });
      return 'removed';
    });
  } finally {
    client.close();
  }
}

/** Removes, one at a time and each under the quorum guard, the members whose instances are gone for good. */
export async function removeGoneMembers(group: GroupView, deps: LifecycleDeps): Promise<{ reachable: boolean; removed: string[] }> {
  const client = clientFor(candidateEndpoints(group, deps.config), deps.connection);
  const removed: string[] = [];
  try {
    const observed = await observeForPlanning(client, deps.connection, loggerFor(deps.telemetry));
    if (observed.kind === 'unreachable') return { reachable: false, removed };
    const known = platformKnowledge(group, observed.members);
    const gone = observed.members.filter((m) => isGoneOnPlatform(m, known));
    for (const [i, member] of gone.entries()) {
      // The first decision can use the observation above; after a removal the cluster must be looked at again.
      const outcome = await removeMember(
        group,
        {
          isTarget: (m) => m.id === member.id,
          why: `the instance behind ${memberLabel(member)} is gone`,
          ...(i === 0 && { justObserved: observed }),
        },
        deps,
      );
      if (outcome === 'removed') removed.push(memberLabel(member));
    }
    return { reachable: true, removed };
  } finally {
    client.close();
  }
}

/** Promotes every learner that caught up, if the quorum allows. Returns the promoted members' names. */
export async function promoteReadyLearners(group: GroupView, deps: LifecycleDeps): Promise<string[]> {
  const log = loggerFor(deps.telemetry);
  const client = clientFor(candidateEndpoints(group, deps.config), deps.connection);
  const promoted: string[] = [];
  try {
    let list;
    try {
      list = await client.memberList();
    } catch (err) {
      if (isEtcdError(err, 'unavailable') || isEtcdError(err, 'timeout')) return promoted;
      throw err;
    }
    const learners = list.members.filter((m) => m.isLearner && !isUnstarted(m));
    if (learners.length === 0) return promoted;
    const health = await checkMembersHealth(client, list.members, list.clusterId, { timeoutMs: deps.connection.healthTimeoutMs });
    for (const learner of learners) {
      if (health.get(learner.id) !== 'healthy') continue;
      const attempt = await promoteOnce(client, list.members, health, learner);
      if (attempt.kind === 'not-yet') log.info('learner not promoted yet', { member: memberLabel(learner), reason: attempt.reason });
      if (attempt.kind === 'promoted') {
        promoted.push(learner.name);
        deps.telemetry.count('Promotions');
        deps.telemetry.decision({
          trigger: 'reconcile',
          instanceId: learner.name,
          decision: 'promote',
          reason: 'the learner caught up',
          details: { member: memberLabel(learner) },
        });
      }
    }
  } finally {
    client.close();
  }
  return promoted;
}
