// Observe, plan, execute: one join attempt of this node, shared by the CLI (the Lambda has its own flow
// around the same pieces). Membership changes happen under the cluster lock, and the observation is taken
// again once the lock is held, because the cluster may have changed while we waited.
import { planJoin } from '../core/planner.js';
import type {
  BootstrapSource,
  ClusterSize,
  JoinStrategy,
  Member,
  Observation,
  Plan,
  PlatformKnowledge,
  SelfIdentity,
} from '../core/types.js';
import type { EtcdClient } from '../adapters/etcd/index.js';
import { clientFor, type EtcdConnection } from './connection.js';
import { executePlan, type JoinFaultPoint } from './execute.js';
import { withClusterLock } from './lock.js';
import type { Logger } from './log.js';
import { healthPastThreshold } from '../core/health-history.js';
import { memberLabel } from '../core/members.js';
import { formatQuorumCheck } from '../core/quorum.js';
import { updateHealthHistory } from './health-history.js';
import { DEFAULT_JOIN_GRACE_SECONDS, observeForPlanning, type Observed } from './observe.js';

export interface JoinInput {
  readonly self: SelfIdentity;
  readonly dataDir: string;
  readonly dataDirFresh: boolean;
  readonly strategy: JoinStrategy;
  readonly joinAs: 'learner' | 'voter';
  readonly targetSize: ClusterSize;
  readonly bootstrap: BootstrapSource;
  /** Candidate client URLs to find the cluster through. */
  readonly endpoints: readonly string[];
  /** What the platform knows, fixed or derived from the members found (e.g. which instances are gone). */
  readonly platform?: PlatformKnowledge | ((members: readonly Member[]) => PlatformKnowledge);
  readonly dryRun: boolean;
  readonly connection: EtcdConnection;
  readonly lockTimeoutMs: number;
  readonly holder: string;
  readonly joinGraceSeconds?: number;
  /**
   * A member counts as dead only once it has been unreachable this long, in this run's looks and in the
   * health history earlier runs kept in etcd (which this run updates). Unset: one failed check (the default).
   */
  readonly unhealthyAfterMs?: number;
  /** The clock for the health history (tests). */
  readonly now?: () => number;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  /** Test-only: see ExecuteOptions.faultPoint. */
  readonly faultPoint?: (step: JoinFaultPoint) => void;
}

export interface JoinResult {
  readonly plan: Plan;
  readonly executed: boolean;
  readonly removed: readonly Member[];
  readonly admitted?: Member;
}

/**
 * runJoin makes one join attempt of this node: observe the cluster, plan, and (unless a dry run) carry out the
 * plan's membership changes under the cluster lock, re-observing and re-planning once the lock is held.
 *
 * Safe to run again after a crash or for the same event: every step is idempotent (see executePlan), and a
 * plan that no longer holds under the lock changes nothing. A refusal is returned as the plan, not thrown;
 * `executed` is true only when membership was changed under the lock.
 *
 * @throws EtcdError when the cluster answers but the view a change needs cannot be had (no leader), or a
 *   membership call fails for good; LockTimeoutError when the lock is not had within `lockTimeoutMs`.
 */
export async function runJoin(input: JoinInput): Promise<JoinResult> {
  const { log } = input;
  const first = clientFor(input.endpoints, input.connection);
  let observed: Observed & { suspects?: readonly Member[] };
  try {
    observed = await observeForPlanning(first, input.connection, log, input.signal);
    // A dry run changes nothing, the health history included.
    if (!input.dryRun) observed = await withHealthHistory(first, input, observed);
  } finally {
    first.close();
  }
  const plan = suspectRefusal(planFor(input, observed), observed, input);
  logPlan(log, plan, input.dryRun);
  if (input.dryRun || !changesMembership(plan) || observed.kind === 'unreachable') {
    return { plan, executed: false, removed: [] };
  }

  // Talk to every member we now know of, not only the candidates we found the cluster through.
  const client = clientFor([...input.endpoints, ...observed.members.flatMap((m) => m.clientURLs)], input.connection);
  try {
    return await withClusterLock(
      client,
      { holder: input.holder, timeoutMs: input.lockTimeoutMs, log, ...(input.signal !== undefined && { signal: input.signal }) },
      () => replanAndExecute(client, input),
    );
  } finally {
    client.close();
  }
}

async function replanAndExecute(client: EtcdClient, input: JoinInput): Promise<JoinResult> {
  // Under the lock, the view the change is decided on comes through the leader (linearizable on 3.5+).
  const observed = await withHealthHistory(
    client,
    input,
    await observeForPlanning(client, input.connection, input.log, input.signal, { forChange: true }),
  );
  const plan = suspectRefusal(planFor(input, observed), observed, input);
  if (!changesMembership(plan)) {
    input.log.info('the cluster changed while waiting for the lock', {
      plan: plan.kind,
      reason: plan.kind === 'refuse' ? plan.message : plan.reason,
    });
    return { plan, executed: false, removed: [] };
  }
  const done = await executePlan(client, plan, {
    log: input.log,
    joinGraceSeconds: input.joinGraceSeconds ?? DEFAULT_JOIN_GRACE_SECONDS,
    ...(input.signal !== undefined && { signal: input.signal }),
    ...(input.faultPoint !== undefined && { faultPoint: input.faultPoint }),
  });
  return { plan, executed: true, removed: done.removed, ...(done.admitted !== undefined && { admitted: done.admitted }) };
}

function planFor(input: JoinInput, cluster: Observed): Plan {
  const platform =
    typeof input.platform === 'function' ? input.platform(cluster.kind === 'reachable' ? cluster.members : []) : input.platform;
  const observation: Observation = {
    self: input.self,
    dataDirFresh: input.dataDirFresh,
    targetSize: input.targetSize,
    cluster,
    bootstrap: input.bootstrap,
    ...(platform !== undefined && { platform }),
  };
  return planJoin(observation, { strategy: input.strategy, joinAs: input.joinAs, dataDir: input.dataDir });
}

function changesMembership(plan: Plan): boolean {
  return plan.kind === 'join' || (plan.kind === 'resume' && plan.updatePeerURLs !== undefined);
}

function logPlan(log: Logger, plan: Plan, dryRun: boolean): void {
  if (plan.kind === 'refuse') {
    log.info(dryRun ? 'dry run: join refused' : 'join refused', { code: plan.code, reason: plan.message });
    for (const c of plan.checks ?? []) log.debug(4, 'quorum check', { check: formatQuorumCheck(c) });
    return;
  }
  log.info(dryRun ? 'dry run: planned' : 'planned', { plan: plan.kind, reason: plan.reason });
  if (plan.kind === 'join') {
    for (const c of plan.checks) log.debug(4, 'quorum check', { check: formatQuorumCheck(c) });
  }
}

/**
 * With `unhealthyAfterMs`: records the observation in the health history and hides, from the planner, the
 * unreachable members that have not been unhealthy that long (they count as unknown: not removed). The
 * members held back that way are returned too, so a refusal for lack of room can say to wait for them.
 */
async function withHealthHistory(
  client: EtcdClient,
  input: JoinInput,
  observed: Observed,
): Promise<Observed & { suspects?: readonly Member[] }> {
  if (input.unhealthyAfterMs === undefined || observed.kind === 'unreachable') return observed;
  const now = (input.now ?? Date.now)();
  const history = await updateHealthHistory(client, observed, now, input.log, input.signal);
  const { health, suspects } = healthPastThreshold(observed, history, now, input.unhealthyAfterMs);
  return { ...observed, health, suspects };
}

/**
 * A refusal for lack of room, or for a quorum at risk, while a member that does not answer is still within the
 * threshold: wait for it (it answers again, or counts as dead and is removed first).
 */
function suspectRefusal(plan: Plan, observed: Observed & { suspects?: readonly Member[] }, input: JoinInput): Plan {
  const suspect = observed.suspects?.[0];
  if (plan.kind !== 'refuse' || (plan.code !== 'cluster-full' && plan.code !== 'quorum-at-risk') || suspect === undefined) return plan;
  return {
    kind: 'refuse',
    code: 'member-suspect',
    message: `${plan.message}; member ${memberLabel(suspect)} does not answer, but not yet for ${Math.round((input.unhealthyAfterMs ?? 0) / 1000)} s: retry until it answers or counts as dead`,
  };
}
